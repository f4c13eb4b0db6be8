"""Inspector: everything about the selected timestep of the probe example.

* the input at t (its label, and the vector when it is small),
* the selected layer's state vector at t as bars (red positive, blue negative)
  on the state's fixed scale,
* the output at t: for classifiers and language models the top-5 classes/tokens
  with their probabilities as horizontal bars (the target in green); for a
  single output (regression, a sum bit) the value as a bar with the target
  marked.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from core.probe import LayerTrace, Probe
from visualizer.panels.hidden import (FONT_PT, NEGATIVE, POSITIVE, RIGHT, STATE_NAMES, ContentPanel, clamp_t,
                                      colormap_for, font, label_stride, style_axis)

TOP_K = 5
NEUTRAL = "#90a4ae"


def show_token(s: str) -> str:
    """A token/class name as a student reads it: characters quoted, whitespace visible."""
    special = {" ": "␣ (space)", "\n": "↵ (newline)", "\t": "⇥ (tab)"}
    if s in special:
        return special[s]
    return f"'{s}'" if len(s) == 1 else s


class InspectorPanel(ContentPanel):
    title = "Inspector"

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self._layer_idx = 0
        self._key = "h"
        self._out_range: tuple[float, float] = (0.0, 1.0)

        self.layer_combo = QtWidgets.QComboBox()
        self.state_combo = QtWidgets.QComboBox()
        for c in (self.layer_combo, self.state_combo):
            c.setFont(font())
            c.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.layer_combo.currentIndexChanged.connect(self._on_layer_selected)
        self.state_combo.currentIndexChanged.connect(self._on_state_selected)
        top = QtWidgets.QHBoxLayout()
        for text, w in (("Layer:", self.layer_combo), ("State:", self.state_combo)):
            lab = QtWidgets.QLabel(text)
            lab.setFont(font())
            top.addWidget(lab)
            top.addWidget(w)
        top.addStretch(1)

        self.input_label = QtWidgets.QLabel("")
        self.input_label.setFont(font(FONT_PT + 2))
        self.input_label.setWordWrap(True)
        self.input_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.output_label = QtWidgets.QLabel("")
        self.output_label.setFont(font(FONT_PT + 2))
        self.output_label.setWordWrap(True)

        self.view = pg.GraphicsLayoutWidget()
        # the state vector at t
        self.state_plot = pg.PlotItem()
        self.state_plot.setMenuEnabled(False)
        self.state_plot.setMouseEnabled(x=False, y=False)
        self.state_plot.hideButtons()
        style_axis(self.state_plot.getAxis("left"), 60)
        style_axis(self.state_plot.getAxis("bottom"))
        self.state_plot.setLabel("bottom", "unit")
        self.state_bars = pg.BarGraphItem(x=[], height=[], width=0.8)
        self.state_plot.addItem(self.state_bars)
        self.state_plot.addLine(y=0, pen=pg.mkPen(NEUTRAL, width=1))
        # the output at t
        self.out_plot = pg.PlotItem()
        self.out_plot.setMenuEnabled(False)
        self.out_plot.setMouseEnabled(x=False, y=False)
        self.out_plot.hideButtons()
        self.out_plot.invertY(True)  # rank 1 on top
        style_axis(self.out_plot.getAxis("left"), 110)
        style_axis(self.out_plot.getAxis("bottom"))
        self.out_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.7)
        self.out_plot.addItem(self.out_bars)
        self.target_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(RIGHT, width=3, style=QtCore.Qt.PenStyle.DashLine))
        self.out_plot.addItem(self.target_line, ignoreBounds=True)
        self.target_line.setVisible(False)
        self.value_texts = []  # the numbers printed at the end of the output bars
        for _ in range(TOP_K):
            item = pg.TextItem("", anchor=(0, 0.5), color=pg.getConfigOption("foreground"))
            item.setFont(font())
            self.out_plot.addItem(item, ignoreBounds=True)
            self.value_texts.append(item)
        self.view.addItem(self.state_plot, row=0, col=0)
        self.view.addItem(self.out_plot, row=1, col=0)
        self.state_plot.setMinimumHeight(130)
        self.out_plot.setMinimumHeight(170)  # five readable bars

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.input_label)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.output_label)
        self.setMinimumSize(320, 360)

    # -- hub -------------------------------------------------------------------
    def _on_experiment(self, info: Any) -> None:
        self.probe = None
        self._layer_idx, self._key = 0, "h"
        for combo in (self.layer_combo, self.state_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        self.state_bars.setOpts(x=[], height=[])
        self.out_bars.setOpts(x0=[], y=[], width=[])
        self.target_line.setVisible(False)
        self.input_label.setText("")
        self.output_label.setText("")

    def _on_probe(self, probe: Probe) -> None:
        self.probe = probe
        self.redraws += 1
        self._fill_selectors()
        self._prepare_output_axis()
        self._on_timestep(self.current_t())

    def _on_timestep(self, t: int) -> None:
        p = self.probe
        if p is None or p.num_steps == 0:
            return
        t = clamp_t(t, p.num_steps)
        self._draw_input(t)
        self._draw_state(t)
        self._draw_output(t)

    # -- selectors (same choices as the heatmap) ------------------------------------
    def _layer(self) -> LayerTrace | None:
        if self.probe is None or not self.probe.layers:
            return None
        return self.probe.layers[min(self._layer_idx, len(self.probe.layers) - 1)]

    def _fill_selectors(self) -> None:
        names = [layer.name for layer in self.probe.layers]
        if [self.layer_combo.itemText(i) for i in range(self.layer_combo.count())] != names:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(names)
            self._layer_idx = min(self._layer_idx, max(len(names) - 1, 0))
            self.layer_combo.setCurrentIndex(self._layer_idx)
            self.layer_combo.blockSignals(False)
        layer = self._layer()
        keys = list(layer.states) if layer is not None else []
        if [self.state_combo.itemData(i) for i in range(self.state_combo.count())] != keys:
            self.state_combo.blockSignals(True)
            self.state_combo.clear()
            for k in keys:
                self.state_combo.addItem(f"{k} — {STATE_NAMES.get(k, k)}", k)
            if self._key not in keys:
                self._key = "h" if "h" in keys else (keys[0] if keys else "h")
            if keys:
                self.state_combo.setCurrentIndex(keys.index(self._key))
            self.state_combo.blockSignals(False)

    def _on_layer_selected(self, index: int) -> None:
        if index >= 0:
            self._layer_idx = index
            if self.probe is not None:
                self._fill_selectors()
                self._draw_state(self.current_t())

    def _on_state_selected(self, index: int) -> None:
        if index >= 0:
            self._key = self.state_combo.itemData(index)
            if self.probe is not None:
                self._draw_state(self.current_t())

    # -- drawing ----------------------------------------------------------------
    def _draw_input(self, t: int) -> None:
        p = self.probe
        label = p.input_labels[t] if t < len(p.input_labels) else ""
        text = f"<b>t = {t}</b> of {p.num_steps - 1} · input: <b>{_html(show_token(label))}</b>"
        x = np.asarray(p.inputs)
        if x.ndim == 2 and t < len(x) and 0 < x.shape[1] <= 12 and not _one_hot(x[t]):
            text += " · x = [" + ", ".join(f"{v:.3g}" for v in x[t]) + "]"
        self.input_label.setText(text)

    def state_values(self) -> np.ndarray:
        """Bar heights currently shown (the state vector at t), for tests."""
        h = self.state_bars.opts.get("height")
        return np.asarray([] if h is None else h, dtype=float)

    def _draw_state(self, t: int) -> None:
        layer = self._layer()
        if layer is None or self._key not in layer.states:
            self.state_bars.setOpts(x=[], height=[])
            return
        a = np.asarray(layer.states[self._key])  # (T, H)
        t = clamp_t(t, a.shape[0])
        v = a[t].astype(float)  # (H,)
        H = v.shape[0]
        lo, hi = layer.value_range(self._key)
        # bars coloured like the heatmap cells (same map, same fixed scale)
        colours = colormap_for(lo, hi).map(np.clip((v - lo) / (hi - lo), 0, 1), mode="qcolor")
        brushes = [pg.mkBrush(c) for c in colours]
        self.state_bars.setOpts(x=np.arange(H), height=v, width=0.8, brushes=brushes,
                                pens=[pg.mkPen(NEUTRAL, width=1)] * H)
        self.state_plot.setYRange(lo, hi, padding=0.05)
        self.state_plot.setXRange(-0.6, H - 0.4, padding=0)
        k = label_stride(H, max(self.state_plot.getViewBox().width(), 200.0), 11.0 * len(str(H)) + 14)
        self.state_plot.getAxis("bottom").setTicks([[(u, str(u)) for u in range(0, H, k)]])
        self.state_plot.setTitle(f"{layer.name}: {STATE_NAMES.get(self._key, self._key)} at t = {t}",
                                 size=f"{FONT_PT}pt")

    def _is_classifier(self) -> bool:
        p = self.probe
        return len(p.output_labels) > 1 and np.asarray(p.outputs).ndim == 2 and p.outputs.shape[1] > 1

    def _prepare_output_axis(self) -> None:
        """Fix the output axis for the whole probe so scrubbing does not make it jump."""
        p = self.probe
        out = np.asarray(p.outputs, dtype=float)
        if self._is_classifier():
            self._out_range = (0.0, 1.0)
            self.out_plot.setLabel("bottom", "probability")
            return
        vals = [out.min(), out.max(), 0.0] if out.size else [0.0, 1.0]
        vals += [v for v in (_as_float(s) for s in p.target_labels) if v is not None]
        lo, hi = float(min(vals)), float(max(vals))
        if 0.0 <= lo and hi <= 1.0:  # probabilities (a sum bit): the whole 0..1
            lo, hi = 0.0, 1.0
        pad = 0.08 * max(hi - lo, 1e-6)
        self._out_range = (lo - pad, hi + pad)
        self.out_plot.setLabel("bottom", "value")

    def output_bars(self) -> tuple[list[str], np.ndarray]:
        """(labels, widths) of the output bars currently shown, top first, for tests."""
        ticks = self.out_plot.getAxis("left")._tickLevels
        labels = [s for _, s in ticks[0]] if ticks else []
        w = self.out_bars.opts.get("width")
        return labels, np.asarray([] if w is None or np.isscalar(w) else w, dtype=float)

    def _set_value_texts(self, values: np.ndarray, ys: np.ndarray, right: float) -> None:
        """Print each bar's number just right of it (left of the axis end when the bar is long)."""
        for i, item in enumerate(self.value_texts):
            if i < len(values):
                v = float(values[i])
                item.setText(f"{v:.3f}")
                inside = v > 0.8 * right
                item.setAnchor((1, 0.5) if inside else (0, 0.5))
                item.setPos(v if not inside else v - 0.01 * abs(right), ys[i])
                item.setVisible(True)
            else:
                item.setVisible(False)

    def _draw_output(self, t: int) -> None:
        p = self.probe
        out = np.asarray(p.outputs, dtype=float)
        if out.ndim != 2 or out.shape[0] == 0:
            return
        row = out[clamp_t(t, out.shape[0])]  # (K,)
        target = p.target_labels[t] if t < len(p.target_labels) else ""
        pred = p.prediction_labels[t] if t < len(p.prediction_labels) else ""
        ok = None if p.correct is None or t >= len(p.correct) else bool(p.correct[t])
        if self._is_classifier():
            order = np.argsort(-row)[:TOP_K]
            names = [p.output_labels[i] if i < len(p.output_labels) else str(i) for i in order]
            brushes = [pg.mkBrush(RIGHT if target and n == target else NEUTRAL) for n in names]
            self.out_bars.setOpts(x0=np.zeros(len(order)), y=np.arange(len(order)), width=row[order],
                                  height=0.7, brushes=brushes, pens=[None] * len(order))
            self.out_plot.getAxis("left").setTicks([[(i, show_token(n)) for i, n in enumerate(names)]])
            self._set_value_texts(row[order], np.arange(len(order)), 1.0)
            self.out_plot.setXRange(0, 1, padding=0.02)
            self.out_plot.setYRange(-0.5, max(len(order), TOP_K) - 0.5, padding=0)
            self.out_plot.setTitle(f"output at t = {t}: top {len(order)} (target in green)", size=f"{FONT_PT}pt")
            self.target_line.setVisible(False)
        else:
            K = row.shape[0]
            names = list(p.output_labels) if len(p.output_labels) == K else [f"y{k}" for k in range(K)]
            brushes = [pg.mkBrush(POSITIVE if v >= 0 else NEGATIVE) for v in row]
            self.out_bars.setOpts(x0=np.zeros(K), y=np.arange(K), width=row, height=0.6,
                                  brushes=brushes, pens=[None] * K)
            self.out_plot.getAxis("left").setTicks([[(k, n) for k, n in enumerate(names)]])
            self.out_plot.setXRange(*self._out_range, padding=0)
            self._set_value_texts(row[:TOP_K], np.arange(min(K, TOP_K)), self._out_range[1])
            self.out_plot.setYRange(-0.6, K - 0.4, padding=0)
            tv = _as_float(target)
            self.target_line.setVisible(tv is not None and K == 1)
            if tv is not None:
                self.target_line.setPos(tv)
            self.out_plot.setTitle(f"output at t = {t}" + (" (target: green line)" if tv is not None else ""),
                                   size=f"{FONT_PT}pt")
        parts = []
        if pred:
            colour = "" if ok is None else (f" style='color:{RIGHT}'" if ok else " style='color:#e53935'")
            parts.append(f"predicted <b{colour}>{_html(show_token(pred))}</b>")
        if target:
            parts.append(f"target <b>{_html(show_token(target))}</b>")
            if self._is_classifier() and target in p.output_labels:  # how likely the model found the truth
                parts.append(f"p(target) = {row[p.output_labels.index(target)]:.3f}")
        if ok is not None and pred:
            parts.append("✔ right" if ok else "✘ wrong")
        self.output_label.setText(" · ".join(parts))


def _as_float(s: str) -> float | None:
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def _one_hot(v: np.ndarray) -> bool:
    return v.size > 2 and np.count_nonzero(v) == 1 and float(np.max(v)) == 1.0


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
