"""Digits: the image being read, row by row, and the class probabilities after each row.

From the probe's ``core.views.DigitRead`` (``image`` (R, C), ``label``,
``prediction``) and its ``outputs`` (T, K): the readout's
class probabilities after each timestep (T = R rows for the RNN, T = 1 for the
MLP). The selected timestep's row is outlined on the image; the bars show the
probabilities after that row (the true class in green, the prediction
outlined); the small heatmap under them shows every row's probabilities at
once, so one sees the guess firm up as the image is read.

The image has its own plot widget (left) so that it is drawn large with square
pixels: in a shared grid an aspect-locked plot collapses to a sliver.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from core.probe import Probe
from core.views import DigitRead
from visualizer.panels.hidden import (FONT_PT, HIGHLIGHT, RIGHT, WRONG, ColumnMarker, ContentPanel, clamp_t,
                                      colormap_for, font, label_stride, style_axis)
from visualizer.widgets.fastitems import eager_view_transform

NEUTRAL = "#90a4ae"


class _RowMarker(ColumnMarker):
    """The same double outline, around a row (y in [t, t+1])."""

    def set_row(self, t: float, x0: float, width: float) -> None:
        for r in self.items:
            r.setRect(QtCore.QRectF(x0, t, width, 1))
        self.set_visible(True)


class DigitsPanel(ContentPanel):
    key = "digits"
    title = "Digit"
    draws = (DigitRead,)

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self._classes: tuple[str, ...] = tuple(str(i) for i in range(10))

        self.img_view = pg.GraphicsLayoutWidget()
        self.view = pg.GraphicsLayoutWidget()
        # the image, row 0 on top
        self.img_plot = pg.PlotItem()
        self.img_plot.setMenuEnabled(False)
        self.img_plot.setMouseEnabled(x=False, y=False)
        self.img_plot.hideButtons()
        self.img_plot.invertY(True)
        self.img_plot.setAspectLocked(True)
        self.img_plot.hideAxis("bottom")
        style_axis(self.img_plot.getAxis("left"))
        self.img_plot.setLabel("left", "row = timestep t")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("CET-L1"))  # greyscale: ink bright on black
        self.img_plot.addItem(self.image)
        self.frame = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)  # the image's edge (its background is black too)
        pen = pg.mkPen("#9e9e9e", width=1)
        pen.setCosmetic(True)
        self.frame.setPen(pen)
        self.img_plot.addItem(self.frame)
        self.row_marker = _RowMarker(self.img_plot)
        # the probabilities after the selected row
        self.bar_plot = pg.PlotItem()
        self.bar_plot.setMenuEnabled(False)
        self.bar_plot.setMouseEnabled(x=False, y=False)
        self.bar_plot.hideButtons()
        style_axis(self.bar_plot.getAxis("left"))
        style_axis(self.bar_plot.getAxis("bottom"))
        self.bar_plot.setYRange(0, 1, padding=0.02)
        self.bar_plot.getAxis("left").setTicks([[(0.0, "0"), (0.5, ".5"), (1.0, "1")]])  # few: never overlapping
        self.bar_plot.setMinimumHeight(120)
        self.bar_plot.setLabel("left", "probability")
        self.bar_plot.setLabel("bottom", "class (green = true)")
        self._bar_title = ""
        self._layout: tuple | None = None  # (R, C, T, K, classes) the axes were set up for
        self._row_ticks_key: tuple | None = None
        self._pens = {True: pg.mkPen(HIGHLIGHT, width=3), False: pg.mkPen(None)}
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.75)
        self.bar_plot.addItem(self.bars)
        # every row's probabilities: rows = timesteps, columns = classes
        self.heat_plot = pg.PlotItem()
        eager_view_transform(self.img_plot, self.bar_plot, self.heat_plot)
        self.heat_plot.setMenuEnabled(False)
        self.heat_plot.setMouseEnabled(x=False, y=False)
        self.heat_plot.hideButtons()
        self.heat_plot.invertY(True)
        style_axis(self.heat_plot.getAxis("left"))
        style_axis(self.heat_plot.getAxis("bottom"))
        self.heat_plot.setLabel("left", "after row")
        self.heat_plot.setTitle("p(class) after each row", size=f"{FONT_PT}pt")
        self.heat_plot.setMinimumHeight(110)

        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setColorMap(colormap_for(0, 1))
        self.heat_plot.addItem(self.heat)
        self.heat_marker = _RowMarker(self.heat_plot)

        self.img_view.addItem(self.img_plot, row=0, col=0)
        self.view.addItem(self.bar_plot, row=0, col=0)
        self.view.addItem(self.heat_plot, row=1, col=0)
        for v in (self.img_view, self.view):
            v.scene().sigMouseClicked.connect(self._on_click)
        plots = QtWidgets.QHBoxLayout()
        plots.setSpacing(4)
        plots.addWidget(self.img_view, 2)
        plots.addWidget(self.view, 3)

        self.verdict = QtWidgets.QLabel("")
        self.verdict.setFont(font(FONT_PT + 4, bold=True))
        self.random_button = QtWidgets.QPushButton("Random")

        self.random_button.setToolTip("Probe the network with another image from the validation set")
        self.random_button.setFont(font())
        self.random_button.clicked.connect(self.random_image)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.verdict, 1)
        top.addWidget(self.random_button)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addLayout(plots, 1)
        self.setMinimumSize(340, 300)

    def random_image(self) -> None:
        self.session.set_probe_example(random=True)
        self.session.refresh()

    # -- hub ---------------------------------------------------------------------
    def _on_experiment(self, info: Any) -> None:
        self.probe = None
        self.image.clear()
        self.heat.clear()
        self.bars.setOpts(x=[], height=[])
        self.row_marker.set_visible(False)
        self.heat_marker.set_visible(False)
        self.verdict.setText("")
        self._layout = None
        self._bar_title = ""

    def _on_probe(self, probe: Probe) -> None:
        self.probe = probe
        self.redraws += 1
        v = probe.view(DigitRead)
        img = np.asarray(v.image if v is not None else np.zeros((1, 1)), dtype=np.float32)
        if img.ndim == 1:  # a flat image: square it if we can
            side = int(round(np.sqrt(img.size)))
            img = img.reshape(side, -1) if side * side == img.size else img[None, :]
        R, C = img.shape
        lo, hi = float(img.min()), float(img.max())
        self.image.setImage(img, autoLevels=False, levels=(lo, hi if hi > lo else lo + 1))
        out = np.asarray(probe.outputs, dtype=np.float32)  # (T, K)
        T, K = out.shape
        self._classes = tuple(probe.output_labels) if len(probe.output_labels) == K else tuple(map(str, range(K)))
        self.heat.setImage(out, autoLevels=False, levels=(0.0, 1.0))
        layout = (R, C, T, K, self._classes)
        if layout != self._layout:  # geometry, ticks and titles: only when the shapes change (relayout is costly)
            self._layout = layout
            self.image.setRect(QtCore.QRectF(0, 0, C, R))
            self.frame.setRect(QtCore.QRectF(0, 0, C, R))
            self.img_plot.setRange(xRange=(0, C), yRange=(0, R), padding=0.02)
            rstep = max(1, R // 8)
            self.img_plot.getAxis("left").setTicks([[(r + 0.5, str(r)) for r in range(0, R, rstep)]])
            # (titles stay short: a plot title's width is a minimum width for the whole panel)
            rows = T == R > 1
            # (no title: the image column is narrow; the axis says how it is read)
            self.img_plot.setLabel("left", "row = timestep t" if rows else "image row")
            self.heat.setRect(QtCore.QRectF(0, 0, K, T))
            self.heat_plot.setRange(xRange=(0, K), yRange=(0, T), padding=0)
            ticks = [(k + 0.5, c) for k, c in enumerate(self._classes)]
            self.heat_plot.getAxis("bottom").setTicks([ticks])
            self._row_ticks_key = None
            self._update_row_ticks()
            self.heat_plot.setVisible(T > 1)
            self.bar_plot.getAxis("bottom").setTicks([[(k, c) for k, c in enumerate(self._classes)]])
            self.bar_plot.setXRange(-0.6, K - 0.4, padding=0)
        if v is not None:
            label, pred = v.label, v.prediction
            ok = int(label) == int(pred)
            text = f"true {label} · predicted {pred}  {'✔' if ok else '✘'}"
            if text != self.verdict.text():
                self.verdict.setText(text)
                self.verdict.setStyleSheet(f"color: {RIGHT if ok else WRONG};")
        self._on_timestep(self.current_t())

    def _on_timestep(self, t: int) -> None:
        p = self.probe
        if p is None or p.num_steps == 0:
            return
        out = np.asarray(p.outputs, dtype=float)  # (T, K)
        T, K = out.shape
        t = clamp_t(t, T)
        img = self.image.image
        R, C = img.shape if img is not None else (0, 0)
        if T == R and T > 1:  # one row per timestep
            self.row_marker.set_row(t, 0, C)
        else:
            self.row_marker.set_visible(False)
        self.heat_marker.set_row(t, 0, K)
        row = out[t]  # (K,)
        v = p.view(DigitRead)
        label = None if v is None else v.label
        pred = int(np.argmax(row))
        brushes = [pg.mkBrush(RIGHT if label is not None and k == int(label) else NEUTRAL) for k in range(K)]
        pens = [self._pens[k == pred] for k in range(K)]
        self.bars.setOpts(x=np.arange(K), height=row, width=0.75, brushes=brushes, pens=pens)
        what = f"row {t}" if T > 1 else "output"
        title = f"{what}: guess {self._classes[pred]} ({row[pred]:.0%})"
        if title != self._bar_title:
            self._bar_title = title
            self.bar_plot.setTitle(title, size=f"{FONT_PT}pt")

    def _update_row_ticks(self) -> None:
        """Row numbers on the small heatmap, every k-th when it is short (redone on resize)."""
        T = self._layout[2] if self._layout else 0
        k = label_stride(T, max(self.heat_plot.getViewBox().height(), 1.0), 16.0)
        if (T, k) != self._row_ticks_key:
            self._row_ticks_key = (T, k)
            self.heat_plot.getAxis("left").setTicks([[(t + 0.5, str(t)) for t in range(0, T, k)]])

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        QtCore.QTimer.singleShot(0, self, self._update_row_ticks)

    def bar_heights(self) -> np.ndarray:
        h = self.bars.opts.get("height")
        return np.asarray([] if h is None else h, dtype=float)

    def marked_row(self) -> int | None:
        """The image row outlined (the selected timestep), for tests."""
        if not self.row_marker.items[0].isVisible():
            return None
        return int(round(self.row_marker.rect().y()))

    # -- clicking a row of the image or the heatmap selects that timestep --------------
    def _on_click(self, ev: Any) -> None:
        if self.probe is None:
            return
        for plot in (self.img_plot, self.heat_plot):
            vb = plot.getViewBox()
            if plot.isVisible() and vb.sceneBoundingRect().contains(ev.scenePos()):
                y = vb.mapSceneToView(ev.scenePos()).y()
                t = int(np.floor(y))
                if 0 <= t < self.probe.num_steps:
                    ev.accept()
                    self.session.set_timestep(t)
                return
