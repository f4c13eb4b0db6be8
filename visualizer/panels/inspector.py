"""Inspector: everything about the selected timestep of the probe example.

* the input at t (its label, and the vector when it is small),
* the selected layer's state vector at t as bars (red positive, blue negative)
  on the state's fixed scale,
* the output at t: for classifiers and language models the top-5 classes/tokens
  with their probabilities as horizontal bars (the target in green); for a
  single output (regression, a sum bit) the value as a bar with the target
  marked, on a fixed symmetric range that only grows during a run (so scrubbing
  and training do not make the axis jump).

State values stay on the state's fixed scale (tanh -1..1, gates 0..1); so that
small values are still visible, each bar's tip is marked and the title gives
max |value|. Models without a hidden layer (iris' softmax regression) show only
the output.

Every handler only touches what changed (titles, ticks, ranges are cached):
scrubbing a 128-unit LSTM costs a few ms.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from core.probe import Probe
from core.views import Outputs
from visualizer.panels.hidden import (FONT_PT, HIGHLIGHT, NEGATIVE, POSITIVE, RIGHT, WRONG, ContentPanel,
                                      LayerStateSelection, clamp_t, colormap_for, font, label_stride, style_axis,
                                      verdicts)
from visualizer.panels import hidden as _hidden
from visualizer.widgets.caption import Caption
from visualizer.widgets.fastitems import Bars, Marks, eager_view_transform

TOP_K = 5
STATE_MIN_VIEW_H = 220  # below this plot-area height (with the selectors shown) the state bars give way to the output
OUT_LABEL_MIN_VIEW_H = 160  # below this plot-area height the output axis' label goes (it would be cut off)
COMPACT_VIEW_H = 170  # below this, the top 3 classes instead of 5
NEUTRAL = "#90a4ae"


def show_token(s: str) -> str:
    """A token/class name as a student reads it: characters quoted, whitespace visible."""
    special = {" ": "␣ (space)", "\n": "↵ (newline)", "\t": "⇥ (tab)"}
    if s in special:
        return special[s]
    return f"'{s}'" if len(s) == 1 else s


class InspectorPanel(LayerStateSelection, ContentPanel):
    key = "inspector"
    title = "Inspector"
    draws = (Outputs,)

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self._layer_idx = 0
        self._key = "h"
        self._out_range: tuple[float, float] = (0.0, 1.0)
        self._reg_m = 0.0  # half-width of a regression output's axis
        self._has_layers = True
        self._cache: dict[str, Any] = {}  # last title/ticks/range set on each plot, to skip no-op updates

        top = self._build_selectors()
        top.setContentsMargins(0, 0, 0, 0)
        top.addStretch(1)
        self.selectors = QtWidgets.QWidget()  # hidden for models without a hidden layer
        self.selectors.setLayout(top)

        self.input_label = Caption("")
        self.input_label.setFont(font(FONT_PT))
        self.input_label.setWordWrap(True)
        self.input_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.output_label = Caption("")
        self.output_label.setFont(font(FONT_PT))
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
        self.state_bars = Bars(x=[], height=[], width=0.85, pen=pg.mkPen(None))  # (BarGraphItem's options)
        self.state_plot.addItem(self.state_bars)
        self.state_plot.addLine(y=0, pen=pg.mkPen(NEUTRAL, width=1))
        # each bar's tip: a short bright dash, so that values near 0 are still seen on the fixed scale
        self.state_tips = Marks(size=9, symbol="_", pen=pg.mkPen(HIGHLIGHT, width=2), brush=None)
        self.state_tips.setZValue(5)
        self.state_plot.addItem(self.state_tips)
        # the output at t
        self.out_plot = pg.PlotItem()
        self.out_plot.setMenuEnabled(False)
        self.out_plot.setMouseEnabled(x=False, y=False)
        self.out_plot.hideButtons()
        self.out_plot.invertY(True)  # rank 1 on top
        style_axis(self.out_plot.getAxis("left"), 110)
        # (no pixel cache for this axis: its ticks change with every probe and timestep anyway, and in a
        # short dock the cached image went stale: the default 0 ... 1 ticks stayed instead of the output's name)
        self.out_plot.getAxis("left").setCacheMode(QtWidgets.QGraphicsItem.CacheMode.NoCache)
        style_axis(self.out_plot.getAxis("bottom"))
        self.out_bars = Bars(x0=[], y=[], width=[], height=0.7, pen=pg.mkPen(None))
        self._brush = {c: QtGui.QBrush(pg.mkColor(c)) for c in (RIGHT, WRONG, NEUTRAL, POSITIVE, NEGATIVE)}
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
        self.no_layer = QtWidgets.QLabel("")  # e.g. "no hidden layer" for iris' softmax regression
        self.no_layer.setFont(font(FONT_PT - 1))
        self.no_layer.setWordWrap(True)
        self.no_layer.setVisible(False)
        self.out_plot.getViewBox().sigResized.connect(self._on_out_resized)
        eager_view_transform(self.state_plot, self.out_plot)
        self.view.addItem(self.state_plot, row=0, col=0)
        self.view.addItem(self.out_plot, row=1, col=0)
        self.state_plot.setMinimumHeight(90)
        self.out_plot.setMinimumHeight(120)  # five readable bars

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.selectors)
        lay.addWidget(self.input_label)
        lay.addWidget(self.no_layer)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.output_label)
        self.setMinimumSize(280, 190)  # (short docks at 1280x720: the plot shrinks, the text lines stay whole)

    # -- hub -------------------------------------------------------------------
    def _on_experiment(self, info: Any) -> None:
        self.probe = None
        self._layer_idx, self._key = 0, "h"
        for combo in (self.layer_combo, self.state_combo):
            combo.blockSignals(True)
            combo.clear()
            combo.blockSignals(False)
        self.state_bars.setOpts(x=[], height=[])
        self.state_tips.setData([], [])
        self.out_bars.setOpts(x0=[], y=[], width=[])
        self._cache.clear()
        self._out_range = (0.0, 1.0)
        self._reg_m = 0.0
        self._signal_range = ()
        self.target_line.setVisible(False)
        self.input_label.setText("")
        self.output_label.setText("")

    def _on_probe(self, probe: Probe) -> None:
        self.probe = probe
        self.redraws += 1
        self._fill_selectors()
        self._has_layers = bool(probe.layers)
        if self.no_layer.isVisibleTo(self) != (not self._has_layers):
            self.no_layer.setVisible(not self._has_layers)
        if not self.no_layer.text():
            self.no_layer.setText("This model has no hidden layer: the input goes straight to the output.")
        self._update_state_visibility()
        self._prepare_output_axis()
        self._on_timestep(self.current_t())

    def top_k(self) -> int:
        """How many classes to list: up to 5, as many as the output plot has room for without their
        labels overlapping (a label row needs ~1.3 lines of the tick font)."""
        line = QtGui.QFontMetrics(font()).lineSpacing() * 1.15
        vb = self.out_plot.getViewBox().height()
        if vb <= 1:  # not laid out yet: judge from the widget
            vb = self.view.height() - 60
        return int(min(TOP_K, max(1, vb // line)))

    def state_fits(self) -> bool:
        """True when the plot area is tall enough for the state bars above a readable output plot
        (in a short dock the output comes first: the heatmap shows the states already). Judged at the
        height the view has with the layer/state selectors shown (they come and go with the bars): else
        a view just tall enough without them would show the bars, shrink under them, hide them, and so
        on at every probe (a relayout of the whole panel each time)."""
        h = self.view.height()
        if self._has_layers and not self.selectors.isVisibleTo(self):
            h -= self.selectors.sizeHint().height() + max(self.layout().spacing(), 0)
        return h >= STATE_MIN_VIEW_H

    def _update_state_visibility(self) -> None:
        show = self._has_layers and self.state_fits()
        if show != self.state_plot.isVisible():
            self.state_plot.setVisible(show)
        # beside the state bars the output keeps room for five bars; alone in a short dock it takes what
        # there is (fewer bars, see top_k) rather than being cut off at the bottom
        out_min = 120 if show or not self._has_layers else 90
        if self.out_plot.minimumHeight() != out_min:
            self.out_plot.setMinimumHeight(out_min)
        # the layer/state selectors only make sense next to the state bars they choose
        if (self._has_layers and show) != self.selectors.isVisibleTo(self):
            self.selectors.setVisible(self._has_layers and show)
        self.setToolTip("" if show or not self._has_layers else
                        "Make this dock taller to see the hidden state's bars (the heatmap shows them too)")

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        QtCore.QTimer.singleShot(0, self, self._after_resize)

    def _on_out_resized(self, *_: Any) -> None:
        """The output plot got another height: as many bars as now fit (only when that number changed)."""
        if self.probe is not None and self._is_classifier() and self._cache.get("top_k") != self.top_k():
            self._draw_output(self.current_t())

    def _after_resize(self) -> None:
        self._update_state_visibility()
        self._fit_out_label()
        if self.probe is not None and self._is_classifier():
            self._draw_output(self.current_t())  # the number of bars may change with the height

    def _on_timestep(self, t: int) -> None:
        p = self.probe
        if p is None or p.num_steps == 0:
            return
        t = clamp_t(t, p.num_steps)
        self._draw_input(t)
        self._draw_state(t)
        self._draw_output(t)

    # -- selectors (LayerStateSelection: the same choices as the heatmap) -------------------
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
        when = f"<b>t = {t}</b> of {p.num_steps - 1} · " if p.num_steps > 1 else ""  # one-step models: no t
        text = f"{when}input: <b>{_html(show_token(label))}</b>"
        x = np.asarray(p.inputs)
        if x.ndim == 2 and t < len(x) and 0 < x.shape[1] <= 12 and not _one_hot(x[t]):
            text += " · x = [" + ", ".join(f"{v:.3g}" for v in x[t]) + "]"
        if self._changed("input_label", text):
            self.input_label.setText(text)

    def state_values(self) -> np.ndarray:
        """Bar heights currently shown (the state vector at t), for tests."""
        h = self.state_bars.opts.get("height")
        return np.asarray([] if h is None else h, dtype=float)

    def _draw_state(self, t: int) -> None:
        layer = self._layer()
        if layer is None or self._key not in layer.states:
            self.state_bars.setOpts(x=[], height=[])
            self.state_tips.setData([], [])
            return
        a = np.asarray(layer.states[self._key])  # (T, H)
        t = clamp_t(t, a.shape[0])
        v = a[t].astype(float)  # (H,)
        H = v.shape[0]
        lo, hi = layer.value_range(self._key)
        # bars coloured like the heatmap cells (same map, same fixed scale), from a cached palette of brushes
        palette = self._palette(lo, hi)
        idx = np.rint(np.clip((v - lo) / (hi - lo), 0, 1) * (len(palette) - 1)).astype(int)  # (H,)
        self.state_bars.setOpts(x=np.arange(H), height=v, width=0.85, brushes=[palette[i] for i in idx])
        px = max(self.state_plot.getViewBox().width(), 100.0) / max(H, 1)  # pixels per unit
        self.state_tips.setData(np.arange(H), v, size=float(min(10.0, max(2.0, 0.8 * px))))
        if self._changed("state_range", (lo, hi, H)):
            self.state_plot.setYRange(lo, hi, padding=0.05)
            self.state_plot.getAxis("left").setTicks([[(v, f"{v:g}") for v in sorted({lo, 0.0, hi})]])
            self.state_plot.setXRange(-0.6, H - 0.4, padding=0)
        k = label_stride(H, max(self.state_plot.getViewBox().width(), 200.0), 11.0 * len(str(H)) + 14)
        if self._changed("state_ticks", (H, k)):
            self.state_plot.getAxis("bottom").setTicks([[(u, str(u)) for u in range(0, H, k)]])
        m = float(np.max(np.abs(v))) if H else 0.0
        # short: a plot title's width is a minimum width for the whole panel (the layer is in the combo)
        at = f" at t = {t}" if a.shape[0] > 1 else ""
        title = f"{self._key}{at} · max |{self._key}| = {m:.2g}"
        if self._changed("state_title", title):
            self.state_plot.setTitle(title, size=f"{FONT_PT}pt")

    def _text_px(self, text: str) -> float:
        """The width of ``text`` in the title font (px), the metrics made once per font scale."""
        fm = self._cache.get("title_metrics")
        if fm is None or fm[0] != _hidden.FONT_SCALE:  # (the app may rescale the fonts)
            fm = self._cache["title_metrics"] = (_hidden.FONT_SCALE, QtGui.QFontMetrics(font(FONT_PT)))
        return fm[1].horizontalAdvance(text)

    def _changed(self, key: str, value: Any) -> bool:
        """True (and remember ``value``) when ``value`` differs from the last one stored under ``key``."""
        if self._cache.get(key, _UNSET) == value:
            return False
        self._cache[key] = value
        return True

    def _palette(self, lo: float, hi: float, n: int = 65) -> list[QtGui.QBrush]:
        """``n`` brushes along the colour map of (lo, hi) (QBrush objects are used as they are: no per-bar
        mkBrush/mkColor)."""
        key = ("palette", lo < 0 < hi)
        if key not in self._cache:
            colours = colormap_for(lo, hi).map(np.linspace(0, 1, n), mode="qcolor")
            self._cache[key] = [QtGui.QBrush(c) for c in colours]
        return self._cache[key]

    def _is_classifier(self) -> bool:
        p = self.probe
        return len(p.output_labels) > 1 and np.asarray(p.outputs).ndim == 2 and p.outputs.shape[1] > 1

    def _prepare_output_axis(self) -> None:
        """Fix the output axis for the whole probe so scrubbing does not make it jump."""
        p = self.probe
        out = np.asarray(p.outputs, dtype=float)
        if self._is_classifier():
            # 0..1, or 0..a round number above the probe's largest probability when all are small (a
            # 2000-word vocabulary early in training), so that the top-5 bars are seen
            top = float(out.max()) if out.size else 1.0
            need = 1.0 if top >= 0.4 else max(0.05, nice_ceil(1.05 * top))
            now = self._out_range[1]
            if need > now or need < 0.5 * now or self._cache.get("out_kind") != "cls":
                self._out_range = (0.0, need)
            self._cache["out_kind"] = "cls"
            self._set_out_label("probability (green: target)")
            return
        vals = [float(out.min()), float(out.max()), 0.0] if out.size else [0.0, 1.0]
        targets = [v for v in (_as_float(s) for s in p.target_labels) if v is not None]
        vals += targets
        x = np.asarray(p.inputs, dtype=float)
        if len(targets) < p.num_steps and x.ndim == 2 and x.shape[1] == out.shape[-1] == 1 and x.size:
            vals += [float(x.min()), float(x.max())]  # one target at the end (sine): the signal's range
        if p.output_range is not None:
            vals += list(p.output_range)  # the experiment's declared range (sine: the whole test signal)
        vals = [v for v in vals if np.isfinite(v)] or [0.0, 1.0]
        lo, hi = float(min(vals)), float(max(vals))
        self._cache["out_kind"] = "value"
        if 0.0 <= lo and hi <= 1.0:  # probabilities (a sum bit): the whole 0..1
            self._out_range = (-0.02, 1.02)
            self._set_out_label("p(1)")
            return
        # a regression value: a symmetric, rounded range; it grows at once but shrinks only when the values
        # need less than half of it (so scrubbing and training do not make the axis jump)
        need, now = nice_ceil(1.1 * max(abs(lo), abs(hi))), self._reg_m
        if need > now or need < 0.5 * now:
            self._reg_m = need
        self._out_range = (-self._reg_m, self._reg_m)
        self._set_out_label("value")

    def _set_out_label(self, text: str) -> None:
        if self._changed("out_label", text):  # (an axis label change relayouts the plot)
            self.out_plot.setLabel("bottom", text)  # (pyqtgraph shows the label again)
            self._fit_out_label()

    def _fit_out_label(self) -> None:
        """The output axis' label only where the plot area has room for it (in a short dock it would be
        cut off; the verdict line below says what the bars are)."""
        room = self.view.height() >= OUT_LABEL_MIN_VIEW_H
        axis = self.out_plot.getAxis("bottom")
        if axis.label.isVisible() != room:
            axis.showLabel(room)

    def output_bars(self) -> tuple[list[str], np.ndarray]:
        """(labels, widths) of the output bars currently shown, top first, for tests."""
        ticks = self.out_plot.getAxis("left")._tickLevels
        labels = [s for _, s in ticks[0]] if ticks else []
        w = self.out_bars.opts.get("width")
        return labels, np.asarray([] if w is None or np.isscalar(w) else w, dtype=float)

    def _set_value_texts(self, values: np.ndarray, ys: np.ndarray, right: float) -> None:
        """Print each bar's number at its end, outside the bar (inside when the bar reaches the axis end;
        values beyond the axis are printed at the end they overflow)."""
        for i, item in enumerate(self.value_texts):
            if i < len(values):
                v = float(values[i])
                x = min(max(v, -abs(right)), abs(right))
                inside = abs(x) > 0.75 * abs(right)
                outward_right = (v >= 0) != inside  # text to the right of the bar end
                text = f"{v:.3f}"
                if self._changed(f"value_text{i}", (text, inside)):
                    # dark on the bar, bright beside it: readable on grey, green and red bars alike
                    item.setColor(pg.mkColor("#000000" if inside else "#ffffff"))
                    item.setText(text)
                anchor, pos = ((0, 0.5) if outward_right else (1, 0.5)), (x, float(ys[i]))
                if self._changed(f"value_anchor{i}", anchor):
                    item.setAnchor(anchor)
                if self._changed(f"value_pos{i}", pos):
                    item.setPos(*pos)
                if not item.isVisible():
                    item.setVisible(True)
            elif item.isVisible():
                item.setVisible(False)

    def _draw_output(self, t: int) -> None:
        p = self.probe
        out = np.asarray(p.outputs, dtype=float)
        if out.ndim != 2 or out.shape[0] == 0:
            return
        row = out[clamp_t(t, out.shape[0])]  # (K,)
        target = p.target_labels[t] if t < len(p.target_labels) else ""
        pred = p.prediction_labels[t] if t < len(p.prediction_labels) else ""
        ok = verdicts(p)[t] if t < p.num_steps else None
        if self._is_classifier():
            self._cache["top_k"] = self.top_k()
            order = np.argsort(-row)[:self._cache["top_k"]]

            names = [p.output_labels[i] if i < len(p.output_labels) else str(i) for i in order]
            brushes = [self._brush[RIGHT if target and n == target else NEUTRAL] for n in names]
            self.out_bars.setOpts(x0=np.zeros(len(order)), y=np.arange(len(order)), width=row[order],
                                  height=0.7, brushes=brushes)
            ticks = [(i, show_token(n)) for i, n in enumerate(names)]
            if self._changed("out_ticks", ticks):
                self.out_plot.getAxis("left").setTicks([ticks])
            self._set_value_texts(row[order], np.arange(len(order)), self._out_range[1])
            if self._changed("out_range", ("cls", len(order), self._out_range)):
                self.out_plot.setXRange(*self._out_range, padding=0.02)
                self.out_plot.setYRange(-0.5, len(order) - 0.5, padding=0)
            at = f" at t = {t}" if p.num_steps > 1 else ""
            which = f"top {len(order)} of {row.shape[0]:,}" if len(order) < row.shape[0] else f"all {len(order)}"
            # the longest form that fits the plot (at 1280x720 "output at t = 0: top 3 of 103" ran off the edge)
            room = self.out_plot.getViewBox().width() - 8  # (the title is centred over the bars' area)
            forms = [f"output{at}: {which}" + ("" if "top" in which else " classes"), f"t = {t}: {which}" if at else which, which]
            # (the title's rich text renders ~18% wider than these metrics, plus its margins)
            title = next((f for f in forms if 1.25 * self._text_px(f) + 8 <= room), forms[-1])
            if self._changed("out_title", title):
                self.out_plot.setTitle(title, size=f"{FONT_PT}pt")
                self.out_plot.setToolTip(f"The model chooses among {row.shape[0]:,} classes: its output size "
                                         f"(a language model's vocabulary is the distinct tokens of its corpus, "
                                         f"at most vocab_size)")

            self.target_line.setVisible(False)
        else:
            K = row.shape[0]
            names = list(p.output_labels) if len(p.output_labels) == K else [f"y{k}" for k in range(K)]
            # judged outputs (a sum bit): green right, red wrong; unjudged values (regression): by sign
            brushes = [self._brush[(RIGHT if ok else WRONG) if ok is not None else (POSITIVE if v >= 0 else NEGATIVE)]
                       for v in row]
            self.out_bars.setOpts(x0=np.zeros(K), y=np.arange(K), width=row, height=0.6, brushes=brushes)
            ticks = [(k, n) for k, n in enumerate(names)]
            if self._changed("out_ticks", ticks):
                self.out_plot.getAxis("left").setTicks([ticks])
            if self._changed("out_range", (self._out_range, K)):
                self.out_plot.setXRange(*self._out_range, padding=0)
                self.out_plot.setYRange(-0.6, K - 0.4, padding=0)
            self._set_value_texts(row[:TOP_K], np.arange(min(K, TOP_K)), self._out_range[1])
            tv = _as_float(target)
            self.target_line.setVisible(tv is not None and K == 1)
            if tv is not None:
                self.target_line.setPos(tv)
            # the note only where it fits (a narrow dock clipped "(green: targe"); else it is the tooltip
            note = " (green: target)" if tv is not None else " (no target here)"
            full = f"output at t = {t}{note}"
            room = min(self.out_plot.width(), self.width()) - 2 * self.out_plot.getAxis("left").width()
            fits = self._text_px(full) + 20 <= room
            title = full if fits else f"output at t = {t}"
            if self._changed("out_tip", full):
                self.out_plot.setToolTip(full)
            if self._changed("out_title", title):
                self.out_plot.setTitle(title, size=f"{FONT_PT}pt")
        parts = []
        if pred:
            colour = "" if ok is None else (f" style='color:{RIGHT}'" if ok else f" style='color:{WRONG}'")
            parts.append(f"predicted <b{colour}>{_html(show_token(pred))}</b>")
        if not target and any(p.target_labels):  # e.g. sine: only the last step is trained
            last = max(i for i, s in enumerate(p.target_labels) if s)
            parts.append(f"no target at this step (the loss uses t = {last})")
        if target:
            parts.append(f"target <b>{_html(show_token(target))}</b>")
            if self._is_classifier() and target in p.output_labels:  # how likely the model found the truth
                parts.append(f"p(target) = {row[p.output_labels.index(target)]:.3f}")
        if ok is not None and pred:
            parts.append("✔ right" if ok else "✘ wrong")
        text = " · ".join(parts)
        if self._changed("output_label", text):
            self.output_label.setText(text)


_UNSET = object()


def nice_ceil(x: float) -> float:
    """A round number >= ``x`` (mantissa steps 0.2 below 2, 0.5 below 5, then 1):
    0.55 -> 0.6, 1.1 -> 1.2, 4.3 -> 4.5, 430 -> 450."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    e = 10.0 ** np.floor(np.log10(x))
    m = x / e  # in [1, 10)
    step = 0.2 if m < 2 else (0.5 if m < 5 else 1.0)
    return float(np.ceil(round(m / step, 9)) * step * e)


def _as_float(s: str) -> float | None:
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def _one_hot(v: np.ndarray) -> bool:
    return v.size > 2 and np.count_nonzero(v) == 1 and float(np.max(v)) == 1.0


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
