"""Hidden-state heatmap: units x timesteps of the probe example, on a fixed colour scale.

Rows are hidden units, columns are timesteps. A combo picks the layer and the
state (``h``; LSTM ``c`` and gates ``i f g o``; GRU ``r z n``). Under the
heatmap two compact rows of labels show the input and the model's prediction
for every column (wrong predictions in red; the target is in the inspector), and
a thin optional strip shows the gradient norm ``||dL/dh_t||`` per timestep on a
log scale when the probe carries it (collapsed automatically when the dock is
too short, so the heatmap keeps most of the height). The selected timestep (one
value on the hub) is outlined; clicking a column selects it.

This module also holds :class:`ContentPanel` and a few drawing helpers shared by
the other content panels (inspector, binary, sine, text, digits, worked).
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from core.probe import LayerTrace, Probe
from core.views import LayerStates, MarkedUnit, View
from visualizer.panels.base import Panel
from visualizer.widgets.caption import Caption
from visualizer.widgets.fastitems import FastImageItem, Marks, eager_view_transform

# -- shared look ---------------------------------------------------------------
WRONG = "#e53935"          # wrong predictions, everywhere
RIGHT = "#43a047"          # correct predictions where we colour them
POSITIVE = "#e57373"       # bars of positive values (same side as the diverging map's red)
NEGATIVE = "#64b5f6"       # bars of negative values (blue)
HIGHLIGHT = "#ffd54f"      # selected timestep accents
FONT_PT = 12               # tick and label font size (used in front of a class)
AXIS_W = 86                # left axis width of stacked plots, so their columns line up
LABEL_PT = FONT_PT - 2     # the compact label rows under the heatmap
LABEL_ROWS_H = 64          # height of the two label rows plus the timestep axis (px)
GRAD_H = 56                # height of the gradient-flow strip (px)
GRAD_MIN_VIEW_H = 300      # below this plot-area height the strip collapses (the heatmap comes first)



FONT_SCALE = 1.0  # set by the app for the screen (visualizer.app.ui_scale): 0.9 on 720p, 1.25 on 1440p


def set_font_scale(scale: float) -> None:
    global FONT_SCALE
    FONT_SCALE = float(scale)


def font(pt: int = FONT_PT, bold: bool = False, mono: bool = False) -> QtGui.QFont:
    f = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont) if mono else QtGui.QFont()
    f.setPointSizeF(pt * FONT_SCALE)
    f.setBold(bold)
    return f


def pt(size: float) -> str:
    """A point size for pyqtgraph titles/labels ("12pt"), scaled like ``font``."""
    return f"{size * FONT_SCALE:.1f}pt"



def foreground() -> QtGui.QColor:
    return pg.mkColor(pg.getConfigOption("foreground"))


def colormap_for(lo: float, hi: float) -> pg.ColorMap:
    """A diverging map (blue-white-red) for ranges around 0, a sequential one for 0..1."""
    return pg.colormap.get("CET-D1") if lo < 0 < hi else pg.colormap.get("viridis")


def label_stride(n: int, pixels: float, min_px: float = 26.0) -> int:
    """Show every k-th of ``n`` labels so that neighbours are at least ``min_px`` apart."""
    if n <= 0 or pixels <= 0:
        return 1
    return max(1, math.ceil(n * min_px / pixels))


def style_axis(axis: pg.AxisItem, width: int | None = None, pt: int = FONT_PT) -> None:
    """Readable fonts and no automatic SI prefix (no "value (x0.001)": values are shown as they are)."""
    axis.enableAutoSIPrefix(False)
    axis.setStyle(tickFont=font(pt))
    axis.label.setFont(font(pt))
    if width is not None:
        axis.setWidth(width)
    # the plot repaints under the axis at every probe: Qt keeps the axis's pixels and blits them instead
    # of calling its (Python) paint again, until the axis itself changes
    axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


def fill_state_combo(combo: QtWidgets.QComboBox, layer: Any, key: str) -> str:
    """Offer ``layer``'s states (h, c, gates) in ``combo`` when they changed; returns the
    selected key (``key`` if the layer has it, else "h" or the first)."""
    keys = list(layer.states) if layer is not None else []
    if [combo.itemData(i) for i in range(combo.count())] != keys:
        combo.blockSignals(True)
        combo.clear()
        for k in keys:
            combo.addItem(layer.title(k), k)
        if key not in keys:
            key = "h" if "h" in keys else (keys[0] if keys else "h")
        if keys:
            combo.setCurrentIndex(keys.index(key))
        combo.blockSignals(False)
    return key


def verdicts(probe: Probe) -> list[bool | None]:
    """Per timestep: True (right), False (wrong), or None where there is nothing to judge — no
    correctness information, or no target at that step (a last-step classifier's early rows)."""
    T = probe.num_steps
    if probe.correct is None:
        return [None] * T
    correct, targets = list(probe.correct), probe.target_labels
    has_targets = any(targets)
    return [None if t >= len(correct) or (has_targets and not (t < len(targets) and targets[t]))
            else bool(correct[t]) for t in range(T)]


def clamp_t(t: int, n: int) -> int:
    return int(min(max(int(t), 0), max(n - 1, 0)))


class ColumnMarker:
    """An outline around column ``t`` (x in [t, t+1]) of a view: a dark wide and a bright thin rectangle,
    visible on both ends of any colour map."""

    def __init__(self, plot: pg.PlotItem):
        self.items = []
        for color, width in (("#000000", 6), (HIGHLIGHT, 3)):
            r = QtWidgets.QGraphicsRectItem(0, 0, 1, 1)
            pen = pg.mkPen(color, width=width)
            pen.setCosmetic(True)
            r.setPen(pen)
            r.setBrush(QtGui.QBrush(QtCore.Qt.BrushStyle.NoBrush))
            r.setZValue(10)
            plot.addItem(r, ignoreBounds=True)
            self.items.append(r)
        self.set_visible(False)

    def set_column(self, t: float, y0: float, height: float, width: float = 1.0) -> None:
        for r in self.items:
            r.setRect(QtCore.QRectF(t, y0, width, height))
        self.set_visible(True)

    def set_visible(self, visible: bool) -> None:
        for r in self.items:
            r.setVisible(visible)

    def rect(self) -> QtCore.QRectF:
        return self.items[0].rect()


class ContentPanel(Panel):
    """A Panel that remembers the probe it drew and re-syncs the timestep cursor when shown again
    (the base class drops timestep changes while hidden)."""

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.probe: Probe | None = None
        self.redraws = 0  # number of full redraws (probe or extras), for tests and debugging

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self.probe is not None:
            self._on_timestep(self.current_t())

    def current_t(self) -> int:
        n = self.probe.num_steps if self.probe is not None else 1
        return clamp_t(getattr(self.session, "timestep", 0) or 0, n)


# -- the panel -------------------------------------------------------------------
class LayerStateSelection:
    """The layer and state selectors shared by the heatmap and the inspector: two combos, the
    chosen layer index and state key. Needs ``self.probe`` and the handlers
    ``_on_layer_selected`` / ``_on_state_selected``."""

    probe: Probe | None
    _layer_idx: int = 0
    _key: str = "h"

    def _build_selectors(self) -> QtWidgets.QHBoxLayout:
        """Create ``layer_combo`` and ``state_combo``; returns the labelled row holding them."""
        self.layer_combo = QtWidgets.QComboBox()
        self.state_combo = QtWidgets.QComboBox()
        row = QtWidgets.QHBoxLayout()
        for text, combo in (("Layer:", self.layer_combo), ("State:", self.state_combo)):
            combo.setFont(font())
            combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
            lab = QtWidgets.QLabel(text)
            lab.setFont(font())
            row.addWidget(lab)
            row.addWidget(combo)
        self.layer_combo.currentIndexChanged.connect(self._on_layer_selected)
        self.state_combo.currentIndexChanged.connect(self._on_state_selected)
        return row

    def _layer(self) -> LayerTrace | None:
        if self.probe is None or not self.probe.layers:
            return None
        return self.probe.layers[min(self._layer_idx, len(self.probe.layers) - 1)]

    def _fill_selectors(self) -> None:
        """Offer the probe's layers and the chosen layer's states (only when they changed)."""
        names = [layer.name for layer in self.probe.layers]
        if [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())] != names:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(names)
            self._layer_idx = min(self._layer_idx, max(len(names) - 1, 0))
            self.layer_combo.setCurrentIndex(self._layer_idx)
            self.layer_combo.blockSignals(False)
        self._key = fill_state_combo(self.state_combo, self._layer(), self._key)


class HiddenStatePanel(LayerStateSelection, ContentPanel):
    """Units x timesteps heatmap of one layer's state on the probe example."""

    key = "hidden"
    title = "Hidden state"
    draws = (LayerStates, MarkedUnit)
    LABEL_ROWS = ("input", "predicted")

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self._layer_idx = 0
        self._key = "h"
        self._levels: tuple[float, float] | None = None
        self._texts: list[list[_Label]] = []  # [row][t]
        self._shown: list[list[tuple[str, str]]] = [[], []]
        self._wanted: list[list[tuple[str, str]]] = [[], []]
        self._stride_key: tuple | None = None
        self._stride = 1
        self._n_units = 0
        self._marked_unit: int | None = None  # e.g. binary addition's most carry-like unit
        self._marked_layer = 0
        self._marked_text = ""
        self._info = ""
        self._input_title = "input"
        self._grad_available = False
        self._grad_ticks: list | None = None
        self._grad_view: tuple[float, float] | None = None

        # selectors
        top = self._build_selectors()
        self.grad_check = QtWidgets.QCheckBox("gradient flow")
        self.grad_check.setFont(font(FONT_PT - 1))
        self.grad_check.setChecked(True)
        self.grad_check.setToolTip("Show ‖dL/dh_t‖ per timestep (log scale) under the heatmap, when the "
                                   "experiment computes it and the dock is tall enough: vanishing/exploding "
                                   "gradients at a glance")
        self.grad_check.toggled.connect(lambda _: self._draw_grad() if self.probe is not None else None)
        top.addStretch(1)
        # one line: size, what the marked unit means (the full text is in the tooltip when clipped)
        self.info_label = Caption("")
        self.info_label.setFont(font(FONT_PT - 1))
        self.info_label.setWordWrap(True)  # a narrow dock wraps it onto a second line instead of cutting it
        self.info_label.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored,
                                      QtWidgets.QSizePolicy.Policy.Minimum)

        # plots: heatmap + colour bar, label rows, gradient strip (all x-linked)
        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.layout.setVerticalSpacing(0)
        self.heat = pg.PlotItem()
        self.heat.setMenuEnabled(False)
        self.heat.setMouseEnabled(x=False, y=False)
        self.heat.hideButtons()
        self.heat.invertY(True)  # unit 0 on top
        self.heat.hideAxis("bottom")
        style_axis(self.heat.getAxis("left"), AXIS_W)
        self.heat.setLabel("left", "hidden unit")
        self.image = FastImageItem(axisOrder="row-major")
        self.heat.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(-1.0, 1.0), colorMap=colormap_for(-1, 1),
                                        interactive=False, width=18, colorMapMenu=False)
        self.colorbar.setImageItem(self.image)
        style_axis(self.colorbar.axis)
        self.marker = ColumnMarker(self.heat)

        self.labels = pg.PlotItem()
        self.labels.setMenuEnabled(False)
        self.labels.setMouseEnabled(x=False, y=False)
        self.labels.hideButtons()
        self.labels.setYRange(0, 2, padding=0)
        self.labels.setXLink(self.heat)
        left = self.labels.getAxis("left")
        style_axis(left, AXIS_W, LABEL_PT)
        self._set_row_titles()
        style_axis(self.labels.getAxis("bottom"), pt=LABEL_PT)
        self.labels.getAxis("bottom").setHeight(22)
        self.labels.getViewBox().setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self.labels.setMinimumHeight(LABEL_ROWS_H)  # two rows of small text and the timestep axis
        self.labels.setMaximumHeight(LABEL_ROWS_H)
        self.label_marker = ColumnMarker(self.labels)
        self.label_layer = _LabelLayer()  # the label rows' texts, painted by one item (not 2 x T TextItems)
        self.labels.addItem(self.label_layer, ignoreBounds=True)

        self.grad = pg.PlotItem()
        self.grad.setMenuEnabled(False)
        self.grad.setMouseEnabled(x=False, y=False)
        self.grad.hideButtons()
        self.grad.setXLink(self.heat)
        style_axis(self.grad.getAxis("left"), AXIS_W, LABEL_PT)
        self.grad.hideAxis("bottom")
        self.grad.setMinimumHeight(GRAD_H)
        self.grad.setMaximumHeight(GRAD_H)
        eager_view_transform(self.heat, self.labels, self.grad)
        self.grad_curve = pg.PlotCurveItem([], [], pen=pg.mkPen(HIGHLIGHT, width=2))
        self.grad.addItem(self.grad_curve)
        # the per-timestep dots: one light item (a ScatterPlotItem rebuilt its spots at ~1.5 ms a probe)
        self.grad_dots = Marks(size=5, symbol="o", brush=HIGHLIGHT, pen=(200, 200, 200))
        self.grad.addItem(self.grad_dots)
        self._grad_tip = ""
        self.grad_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(HIGHLIGHT, width=1, style=QtCore.Qt.PenStyle.DashLine))
        self.grad.addItem(self.grad_line, ignoreBounds=True)
        # the strip's name, pinned to its top-left corner (a title row would cost 20 px), on a dark box above
        # the line and the timestep marker, which pass under it
        self.grad_title = pg.TextItem("‖dL/dh_t‖ (log scale)", anchor=(0, 0), color=foreground(), fill=(0, 0, 0, 190))
        self.grad_title.setFont(font(LABEL_PT))
        self.grad_title.setParentItem(self.grad.getViewBox())
        self.grad_title.setZValue(100)
        self.grad_title.setPos(2, -2)

        self.view.addItem(self.heat, row=0, col=0)
        self.view.addItem(self.colorbar, row=0, col=1)
        self.view.addItem(self.labels, row=1, col=0)
        self.view.addItem(self.grad, row=2, col=0)
        self.grad.setVisible(False)
        self.view.scene().sigMouseClicked.connect(self._on_click)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        info_row = QtWidgets.QHBoxLayout()  # the info line and the strip's switch share a row
        info_row.addWidget(self.info_label, 1)
        info_row.addWidget(self.grad_check)
        lay.addLayout(top)
        lay.addLayout(info_row)
        lay.addWidget(self.view, 1)
        self.setMinimumSize(320, 260)

    def _set_row_titles(self) -> None:
        self.labels.getAxis("left").setTicks([[(1.5, self._input_title), (0.5, "predicted")]])

    # -- hub -------------------------------------------------------------------
    def _on_experiment(self, info: Any) -> None:
        self.probe = None
        self._layer_idx, self._key = 0, "h"
        for combo in (self.layer_combo, self.state_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        self._marked_unit, self._marked_text = None, ""
        self.image.clear()
        self._set_column_texts(0)
        self.marker.set_visible(False)
        self.label_marker.set_visible(False)
        self.grad_curve.setData([], [])
        self.grad_dots.setData([], [])
        self._grad_available = False
        self._grad_ticks = None
        self._grad_view = None
        self.grad.setVisible(False)
        self._info = ""
        self._update_info()

    def _on_probe(self, probe: Probe) -> None:
        self.probe = probe
        self.redraws += 1
        self._fill_selectors()
        self._draw_labels()
        self._draw_state()
        self._on_timestep(self.current_t())

    def _on_view(self, view: View) -> None:
        if isinstance(view, MarkedUnit):  # e.g. binary addition: the hidden unit that tracks the carry
            self._marked_unit, self._marked_layer = int(view.unit), int(view.layer)
            self._marked_text = f"▶ unit {view.unit} {view.label} (|r| = {float(view.score):.2f})"
            self._update_strides()
            self._update_info()

    def _on_timestep(self, t: int) -> None:
        p = self.probe
        if p is None or p.num_steps == 0:
            return
        t = clamp_t(t, p.num_steps)
        self.marker.set_column(t, 0, max(self._n_units, 1))
        self.label_marker.set_column(t, 0, 2)
        self.grad_line.setPos(t + 0.5)

    # -- selectors -------------------------------------------------------------
    def _on_layer_selected(self, index: int) -> None:
        if index < 0:
            return
        self._layer_idx = index
        if self.probe is not None:
            self._key = fill_state_combo(self.state_combo, self._layer(), self._key)
            self._draw_state()
            self._on_timestep(self.current_t())

    def _on_state_selected(self, index: int) -> None:
        if index < 0:
            return
        self._key = self.state_combo.itemData(index)
        if self.probe is not None:
            self._draw_state()

    def select(self, layer: int, key: str) -> None:
        """Programmatic selection (same as using the combos)."""
        self.layer_combo.setCurrentIndex(layer)
        keys = [self.state_combo.itemData(i) for i in range(self.state_combo.count())]
        self.state_combo.setCurrentIndex(keys.index(key))

    # -- drawing ---------------------------------------------------------------
    @property
    def levels(self) -> tuple[float, float] | None:
        """The fixed colour scale currently used."""
        return self._levels

    def displayed(self) -> np.ndarray | None:
        """The (H, T) array currently shown."""
        return self.image.image

    def _draw_state(self) -> None:
        layer = self._layer()
        if layer is None or self._key not in layer.states:
            self.image.clear()
            return
        a = np.asarray(layer.states[self._key], dtype=np.float32)  # (T, H)
        T, H = a.shape
        lo, hi = layer.value_range(self._key)
        img = np.ascontiguousarray(a.T)  # (H, T): rows = units, columns = timesteps
        if self._levels != (lo, hi):
            self._levels = (lo, hi)
            self.colorbar.setColorMap(colormap_for(lo, hi))
            self.colorbar.setLevels((lo, hi))
        self.image.setImage(img, autoLevels=False, levels=(lo, hi))
        if H != self._n_units or self.heat.getViewBox().state["targetRange"][0] != [0, T]:
            self.image.setRect(QtCore.QRectF(0, 0, T, H))
            self._n_units = H
            self.heat.setXRange(0, T, padding=0)
            self.heat.setYRange(0, H, padding=0)
            self._update_strides()
        scale = f"{lo:g} … {hi:g}" if (lo, hi) in ((-1.0, 1.0), (0.0, 1.0)) else f"±{hi:.3g}"
        # (no-break spaces inside each phrase: a narrow dock wraps between phrases, never leaving "1" alone on a line)
        self._info = f"{layer.title(self._key)}: {_nobreak(f'{H} units × {T} steps')}, {_nobreak(f'scale {scale}')}"

        self._update_info()
        self._draw_grad()

    def _draw_grad(self) -> None:
        """The gradient-flow strip: shown when asked for, available, and the dock is tall enough."""
        layer = self._layer()
        T = self.probe.num_steps if self.probe is not None else 0
        self._grad_available = (layer is not None and layer.grad_norm is not None and len(layer.grad_norm) == T > 0)
        if self._grad_available and self.grad_check.isChecked():
            g = np.log10(np.maximum(np.asarray(layer.grad_norm, dtype=float), 1e-12))  # (T,)
            x = np.arange(T) + 0.5
            self.grad_curve.setData(x, g)
            self.grad_dots.setData(x, g)
            lo_g, hi_g = float(g.min()), float(g.max())
            self._fit_grad_view(lo_g, hi_g)
        self._update_grad_visibility()

    def _fit_grad_view(self, lo_g: float, hi_g: float) -> None:
        """The gradient strip's view (log10 units): half decades, with half a decade of room each way, kept
        while the data stay inside it and fill more than half of it; its ticks follow the view, not the data.
        Gradient norms move with every probe: a view and ticks that followed them would repaint the axis
        (~0.5 ms of Python) at every probe."""
        need_lo, need_hi = math.floor(2 * lo_g - 0.3) / 2, math.ceil(2 * hi_g + 0.6) / 2  # room for the name on top
        view = self._grad_view
        if view is not None and view[0] <= need_lo and view[1] >= need_hi and view[1] - view[0] <= 2 * (need_hi - need_lo) + 1:
            return
        lo_v, hi_v = need_lo - 0.5, need_hi + 0.5
        self._grad_view = (lo_v, hi_v)
        self.grad.setYRange(lo_v, hi_v, padding=0)
        ticks = log_ticks(lo_v + 0.25, hi_v - 0.85)  # (inside the view, under the name)
        if len(ticks) > 2:  # the strip is a few text lines tall: its lowest and highest decade
            ticks = [ticks[0], ticks[-1]]
        if ticks != self._grad_ticks:
            self._grad_ticks = ticks
            self.grad.getAxis("left").setTicks([ticks])

    def grad_fits(self) -> bool:
        """True when the plot area is tall enough for the gradient strip next to a readable heatmap."""
        return self.view.height() >= GRAD_MIN_VIEW_H

    def _update_grad_visibility(self) -> None:
        show = self._grad_available and self.grad_check.isChecked() and self.grad_fits()
        if show != self.grad.isVisible():
            self.grad.setVisible(show)
        tip = "" if self.grad_fits() else " (hidden: the dock is too short; make it taller to see it)"
        if tip != self._grad_tip or not self.grad_check.toolTip():
            self._grad_tip = tip
            self.grad_check.setToolTip("Show ‖dL/dh_t‖ per timestep (log scale) under the heatmap" + tip)

    def _update_info(self) -> None:
        extra = self._marked_text if self._layer_idx == self._marked_layer and self._marked_unit is not None else ""
        text = " · ".join(s for s in (extra, self._info) if s)  # the marked unit first: it is the news
        if text != self.info_label.text():
            self.info_label.setText(text)
            self.info_label.setToolTip(text)

    def _set_column_texts(self, T: int) -> None:
        """Create (or drop) the label slots of the two label rows for ``T`` columns."""
        if self._texts and len(self._texts[0]) == T:
            return
        n = len(self.LABEL_ROWS)
        self._texts = []
        self._shown = [[("", "")] * T for _ in range(n)]  # (text, colour) last set on each item
        self._wanted = [[("", "")] * T for _ in range(n)]  # (text, colour) each item should show
        self._stride_key = None
        self._stride = 1
        self.label_layer.set_columns(T)
        if T == 0:
            return
        fg = foreground()
        for r in range(n):
            self._texts.append([_Label(self.label_layer, fg, r == 0, (t + 0.5, n - 0.5 - r)) for t in range(T)])
        self.label_layer.labels = [item for row in self._texts for item in row]

    def _draw_labels(self) -> None:
        """Set the label rows (what each item should show; see ``_apply_labels``)."""
        p = self.probe
        T = p.num_steps
        self._set_column_texts(T)
        prefix, inputs = common_prefix(p.input_labels)
        title = f"input {prefix.strip()}" if prefix else "input"
        if title != self._input_title:
            self._input_title = title
            self._set_row_titles()
        judged = verdicts(p)
        fg = foreground().name()
        for r, labels in enumerate((inputs, p.prediction_labels)):
            wanted = self._wanted[r]
            for t in range(T):
                text = _short(labels[t] if t < len(labels) else "")
                colour = WRONG if (r == 1 and text and judged[t] is False) else fg
                wanted[t] = (text, colour)
        self._update_strides()
        self._apply_labels()

    def _apply_labels(self) -> None:
        """Push wanted texts/colours into the visible items only, and only where they changed
        (a 100-character probe has 200 items: touching them all costs several ms a frame)."""
        k = self._stride
        for r, row in enumerate(self._texts):
            wanted, shown = self._wanted[r], self._shown[r]
            for t in range(0, len(row), k):
                if shown[t] != wanted[t]:
                    text, colour = wanted[t]
                    if shown[t][0] != text:
                        row[t].setText(text)
                    if shown[t][1] != colour:
                        row[t].setColor(pg.mkColor(colour))
                    shown[t] = wanted[t]
        self.label_layer.update()

    def label_texts(self, row: str) -> list[str]:
        """The texts of one label row ("input", "predicted"), for tests."""
        r = self.LABEL_ROWS.index(row)
        return [text for text, _ in self._wanted[r]] if self._texts else []

    def label_colours(self, row: str) -> list[str]:
        """The colours (#rrggbb) of one label row, for tests."""
        r = self.LABEL_ROWS.index(row)
        return [colour for _, colour in self._wanted[r]] if self._texts else []

    def _update_strides(self) -> None:
        """Show every k-th label when columns are narrow; redone only when the geometry or label width changes."""
        T = len(self._texts[0]) if self._texts else 0
        width = max(self.labels.getViewBox().width(), 1.0)
        longest = max((len(text) for row in self._wanted for text, _ in row), default=1)
        char_px = _char_px(FONT_SCALE)  # measured, not guessed
        text_px = char_px * longest + 8
        k = label_stride(T, width, min_px=max(14.0, text_px))
        col_px = width / max(T, 1)
        over = text_px / col_px  # a label's width in columns
        H = self._n_units
        height = max(self.heat.getViewBox().height(), 1.0)
        m = self._marked_unit if self._layer_idx == self._marked_layer else None
        key = (T, round(width), k, longest, H, round(height), m)
        if key == self._stride_key:
            return
        self._stride_key = key
        if k != self._stride:
            self._stride = k
            self._apply_labels()  # items that just became visible
        n = len(self._texts)
        for r, row in enumerate(self._texts):
            for t, item in enumerate(row):
                item.setVisible(t % k == 0)
                y = n - 0.5 - r
                if k == 1:  # centred on its column
                    item.setAnchor((0.5, 0.5))
                    item.setPos(t + 0.5, y)
                elif t + 0.05 + over > T:  # crowded, and it would run off the right edge: ends at it
                    item.setAnchor((1.0, 0.5))
                    item.setPos(T - 0.02, y)
                    if t >= k and (t - k) + 0.05 + over > T - 0.02 - over:  # ... unless it then covers the one
                        item.setVisible(False)  # before it (at 720p "-0.54-0.51"): that one is read instead
                else:  # crowded: starts at its column and runs over the unlabelled ones
                    item.setAnchor((0.0, 0.5))
                    item.setPos(t + 0.05, y)

        self.label_layer.update()
        kt = label_stride(T, width, min_px=9.0 * len(str(max(T - 1, 0))) + 10)  # timestep numbers
        kt = max(kt, k) if k > 1 else kt
        self.labels.getAxis("bottom").setTicks([[(t + 0.5, str(t)) for t in range(0, T, kt)]])
        ku = label_stride(H, height, min_px=18.0)
        units = set(range(0, H, ku))
        if m is not None and m < H:
            units = {u for u in units if abs(u - m) >= ku} | {m}
        self.heat.getAxis("left").setTicks([[(u + 0.5, f"▶ {u}" if u == m else str(u)) for u in sorted(units)]])

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        QtCore.QTimer.singleShot(0, self, self._after_resize)

    def _after_resize(self) -> None:
        self._update_grad_visibility()
        self._update_strides()

    # -- clicking a column selects the timestep --------------------------------
    def column_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """The timestep under a scene position (heatmap or label rows), or None."""
        if self.probe is None:
            return None
        for plot in (self.heat, self.labels, self.grad):
            vb = plot.getViewBox()
            if plot.isVisible() and vb.sceneBoundingRect().contains(scene_pos):
                x = vb.mapSceneToView(scene_pos).x()
                t = int(math.floor(x))
                if 0 <= t < self.probe.num_steps:
                    return t
        return None

    def _on_click(self, ev: Any) -> None:
        t = self.column_at(ev.scenePos())
        if t is not None:
            ev.accept()
            self.session.set_timestep(t)


def _nobreak(phrase: str) -> str:
    """``phrase`` with no-break spaces: a word-wrapped label keeps it on one line."""
    return phrase.replace(" ", "\u00a0")


@functools.lru_cache(maxsize=4)
def _char_px(scale: float) -> int:
    """The width of "0" in the bold label font at this font scale (px)."""
    return QtGui.QFontMetrics(font(LABEL_PT, bold=True)).horizontalAdvance("0")


_TEXT_MARGIN = 4.0  # px around a QGraphicsTextItem's text (pyqtgraph TextItem anchors its box, margins included)


class _Label:
    """One label of the rows under the heatmap: what a pg.TextItem there held (text, colour, anchor,
    position in view coordinates, visibility), painted by its :class:`_LabelLayer`."""

    __slots__ = ("layer", "text", "color", "bold", "anchor", "pos", "visible")

    def __init__(self, layer: "_LabelLayer", color: QtGui.QColor, bold: bool, pos: tuple[float, float]):
        self.layer, self.text, self.color, self.bold = layer, "", QtGui.QColor(color), bold
        self.anchor, self.pos, self.visible = (0.5, 0.5), pos, True

    def setText(self, text: str) -> None:  # noqa: N802 (the TextItem names)
        self.text = text

    def setColor(self, color: Any) -> None:  # noqa: N802
        self.color = pg.mkColor(color)

    def setAnchor(self, anchor: tuple[float, float]) -> None:  # noqa: N802
        self.anchor = (float(anchor[0]), float(anchor[1]))

    def setPos(self, x: float, y: float) -> None:  # noqa: N802
        self.pos = (float(x), float(y))

    def setVisible(self, visible: bool) -> None:  # noqa: N802
        self.visible = bool(visible)

    def isVisible(self) -> bool:  # noqa: N802
        return self.visible


class _LabelLayer(pg.GraphicsObject):
    """Paints every visible :class:`_Label` in one pass with cached QStaticTexts, unscaled (as
    pg.TextItem draws them: fixed pixel size, anchored at a point of the view). Hundreds of TextItems
    (a QTextDocument each) cost ~1 ms a frame to paint; this costs a fraction of it."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: list[_Label] = []
        self._columns = 0
        self._fonts = (font(LABEL_PT), font(LABEL_PT, bold=True))
        self._metrics = tuple(QtGui.QFontMetricsF(f) for f in self._fonts)
        self._static: dict[tuple[str, bool], tuple[QtGui.QStaticText, float]] = {}
        self.setZValue(20)  # over the selected column's outline, not under it

    def set_columns(self, T: int) -> None:
        self.prepareGeometryChange()
        self._columns = T
        self._fonts = (font(LABEL_PT), font(LABEL_PT, bold=True))  # (the app may have scaled the fonts)
        self._metrics = tuple(QtGui.QFontMetricsF(f) for f in self._fonts)
        self._static.clear()
        self.labels = []
        self.update()

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 (Qt name)
        return QtCore.QRectF(-1.0, -1.0, self._columns + 2.0, 4.0)  # (the rows are y 0..2 of the view)

    def _text(self, text: str, bold: bool) -> tuple[QtGui.QStaticText, float]:
        got = self._static.get((text, bold))
        if got is None:
            if len(self._static) > 4096:
                self._static.clear()
            st = QtGui.QStaticText(text)
            st.setTextFormat(QtCore.Qt.TextFormat.PlainText)
            st.prepare(QtGui.QTransform(), self._fonts[bold])
            got = self._static[(text, bold)] = (st, self._metrics[bold].horizontalAdvance(text))
        return got

    def paint(self, p: QtGui.QPainter, *args: Any) -> None:
        tr = p.transform()
        p.resetTransform()
        pen_color = None
        bold = None
        for lab in self.labels:
            if not lab.visible or not lab.text:
                continue
            if lab.bold is not bold:
                bold = lab.bold
                p.setFont(self._fonts[bold])
                h = self._metrics[bold].height()
            st, w = self._text(lab.text, bold)
            if pen_color is None or lab.color != pen_color:
                pen_color = lab.color
                p.setPen(pen_color)
            at = tr.map(QtCore.QPointF(*lab.pos))
            x = at.x() - (w + 2 * _TEXT_MARGIN) * lab.anchor[0] + _TEXT_MARGIN
            y = at.y() - (h + 2 * _TEXT_MARGIN) * lab.anchor[1] + _TEXT_MARGIN
            p.drawStaticText(QtCore.QPointF(round(x), round(y)), st)
        p.setTransform(tr)


def common_prefix(labels: Any) -> tuple[str, list[str]]:
    """("row ", ["0", "1", ...]) for labels "row 0", "row 1", ...: a shared leading word moves to the
    row title so that narrow columns show only what differs. ("", labels) when there is none."""
    labels = list(labels)
    if len(labels) < 2 or not all(isinstance(s, str) and " " in s for s in labels):
        return "", labels
    head = labels[0].split(" ", 1)[0] + " "
    if all(s.startswith(head) and len(s) > len(head) for s in labels):
        return head, [s[len(head):] for s in labels]
    return "", labels


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """Ticks for an axis showing log10 values: the decades in [lo, hi]; under 2 decades the lowest and
    highest round values (1, 2, 5 x 10^k) in it when half a decade apart, else the one nearest its middle.
    Round values change only when the data moves a lot: a tick list that changes with every probe makes
    the axis regenerate its texts."""
    decades = list(range(math.ceil(lo), math.floor(hi) + 1))
    if len(decades) >= 2:
        step = max(1, math.ceil(len(decades) / 4))
        return [(d, f"1e{d}") for d in decades[::step]]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    rounds = [(math.log10(m) + e, m * 10.0 ** e) for e in range(math.floor(lo) - 1, math.ceil(hi) + 1)
              for m in (1, 2, 5)]
    inside = [(v, x) for v, x in rounds if lo - 1e-9 <= v <= hi + 1e-9]
    mid = 0.5 * (lo + hi)
    if len(inside) >= 2 and inside[-1][0] - inside[0][0] >= 0.5:  # the lowest and highest, half a decade apart
        inside = [inside[0], inside[-1]]
    else:  # (nearly) flat: one label, the round value nearest to the middle (labels closer overlap in the strip)
        inside = [min(inside or rounds, key=lambda r: abs(r[0] - mid))]
    return [(v, f"{x:.2g}") for v, x in inside]


def _short(text: str, n: int = 7) -> str:
    """Labels must fit a column: visible whitespace, numbers to 2 decimals ("-0.734" -> "-0.73"),
    at most ``n`` characters."""
    text = {" ": "␣", "\n": "↵", "\t": "⇥"}.get(text, text)
    if len(text) > 4 and any(c.isdigit() for c in text):
        try:
            v = float(text)
        except ValueError:
            pass
        else:
            text = f"{v:.2f}" if abs(v) < 100 else f"{v:.3g}"
    return text if len(text) <= n else text[: n - 1] + "…"

