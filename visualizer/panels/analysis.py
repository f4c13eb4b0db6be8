"""Why it works: the analysis panels (unit finder, gradient flow, spectrum, gate saturation, memory,
fixed points). Each draws one view type of ``core.analysis.views``, computed off the training thread by
``core.analysis.live.Analyst``.

They are not declared by the experiments: the window adds them, hidden, for every experiment with a
recurrent layer (one that shows ``LayerStates``) and lists them in the View menu
(:func:`install_analysis_docks`). A panel asks for its analysis only while it is shown
(``session.watch_analysis``): a hidden analysis costs nothing.
"""
from __future__ import annotations

import html
import math
from typing import Any, ClassVar

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from core.analysis.views import (FixedPointsView, GradientsView, MemoryView, SaturationView, SpectrumView,
                                 UnitsView)
from core.run import Analyze, Watch
from core.views import LayerStates, MarkedUnit, View
from visualizer.panels.base import Panel
from visualizer.panels.hidden import FONT_PT, font, style_axis

COLORS = ("#42a5f5", "#ef5350", "#66bb6a", "#ffa726", "#ab47bc", "#26c6da", "#d4e157", "#8d6e63")
GATE_COLORS = {"i": "#42a5f5", "f": "#66bb6a", "o": "#ffa726", "g": "#ab47bc", "r": "#ef5350", "z": "#26c6da",
               "n": "#ab47bc", "hh": "#42a5f5"}
GATE_NAMES = {"i": "input gate i", "f": "forget gate f", "o": "output gate o", "g": "candidate g",
              "r": "reset gate r", "z": "update gate z", "n": "candidate n", "hh": "W_hh"}
POLL_MS = 300  # while a background result is awaited: ask the run for views this often (it may be paused)


def plot_item(title: str = "", left: str = "", bottom: str = "") -> pg.PlotWidget:
    w = pg.PlotWidget()
    p = w.getPlotItem()
    p.setMenuEnabled(False)
    p.hideButtons()
    for side, text in (("left", left), ("bottom", bottom)):
        style_axis(p.getAxis(side), pt=FONT_PT - 2)
        if text:
            p.setLabel(side, text)
    if title:
        p.setTitle(title, size=f"{FONT_PT - 1}pt")
    p.showGrid(x=True, y=True, alpha=0.15)
    return w


def log_axis_ticks(p: pg.PlotItem, lo: float, hi: float) -> None:
    """Decade ticks "1e-3" for an axis that shows log10 values."""
    decades = list(range(math.floor(lo), math.ceil(hi) + 1))
    step = max(1, math.ceil(len(decades) / 6))
    p.getAxis("left").setTicks([[(d, f"1e{d}" if d not in (0, 1) else ("1" if d == 0 else "10"))
                                 for d in decades[::step]]])


class AnalysisPanel(Panel):
    """An analysis panel: a caption (what to look for), a status line, the drawing. Watches its kind while shown."""

    kind: ClassVar[str] = ""
    caption: ClassVar[str] = ""  # what it shows and what to look for (the caption's tooltip)
    short: ClassVar[str] = ""  # one line under the title

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.view_: View | None = None
        self.redraws = 0
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        self.caption_label = QtWidgets.QLabel(self.short or self.caption)
        self.caption_label.setToolTip(self.caption)
        self.caption_label.setWordWrap(True)
        self.caption_label.setFont(font(FONT_PT - 1))
        self.caption_label.setObjectName("caption")
        self.status_label = QtWidgets.QLabel("waiting for the first result…")
        self.status_label.setFont(font(FONT_PT - 1, bold=True))
        self.status_label.setWordWrap(True)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.status_label, 1)
        self.top_row = top
        lay.addWidget(self.caption_label)
        lay.addLayout(top)
        self.body = QtWidgets.QVBoxLayout()
        lay.addLayout(self.body, 1)
        self._poll = QtCore.QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._ask)
        self.setMinimumSize(360, 240)

    # -- watching ---------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        self.session.watch_analysis(self.kind, True)

    def hideEvent(self, event: Any) -> None:  # noqa: N802
        super().hideEvent(event)
        self.session.watch_analysis(self.kind, False)
        self._poll.stop()

    def _ask(self) -> None:
        """Ask for views now (a result computed in the background while the run is paused)."""
        self.session.send(Watch(tuple(getattr(self.session, "watched_analyses", ()))))

    def request(self) -> None:
        """Start this panel's on-demand analysis (fixed points, memory)."""
        self.status_label.setText("computing…")
        self.session.send(Analyze(self.kind))
        self._poll.start()

    # -- views --------------------------------------------------------------------------
    def _on_experiment(self, spec: Any) -> None:
        self.view_ = None
        self._poll.stop()
        self.status_label.setText("waiting for the first result…")
        self.clear()
        if self.isVisible():  # a new run starts with nothing watched: tell it what is shown
            self._ask()

    def _on_view(self, view: View) -> None:
        status = getattr(view, "status", "ok")
        if status == "computing":
            self.status_label.setText(view.note)
            self._poll.start()
            return
        self._poll.stop()
        if status != "ok":
            self.status_label.setText(("⚠ " if status == "error" else "") + view.note)
            self.clear()
            return
        self.view_ = view
        self.redraws += 1
        self.status_label.setText(self.status_text(view))
        self.draw(view)

    def status_text(self, view: Any) -> str:
        return f"step {view.step:,}" + (f" · {view.note}" if view.note else "")

    def clear(self) -> None:
        """Forget the drawing (a new model, or nothing to show)."""

    def draw(self, view: Any) -> None:
        """Draw an "ok" view."""


# -- unit finder ---------------------------------------------------------------------------------------
def _rgb_for(v: float, lo: float, hi: float) -> str:
    """Karpathy's colours: blue for low, white for the middle, red for high values."""
    mid = 0.5 * (lo + hi)
    x = 0.0 if hi <= lo else max(-1.0, min(1.0, (v - mid) / (0.5 * (hi - lo))))
    if x >= 0:
        r, g, b = 255, int(255 - 170 * x), int(255 - 170 * x)
    else:
        r, g, b = int(255 + 170 * x), int(255 + 110 * x), 255
    return f"#{r:02x}{g:02x}{b:02x}"


def _surprise_rgb(s: float) -> str:
    if not np.isfinite(s):
        return "#ffffff"
    x = max(0.0, min(1.0, s / 6.0))  # 0 nats white .. 6 nats (p = 0.25%) deep red
    return f"#ff{int(255 - 200 * x):02x}{int(255 - 200 * x):02x}"


def coloured_html(chars: tuple[str, ...], colours: list[str], tips: list[str], breaks: tuple[int, ...]) -> str:
    parts = []
    bset = set(breaks)
    for t, (ch, col, tip) in enumerate(zip(chars, colours, tips)):
        if t in bset:
            parts.append("<br><span style='color:#888'>──── next passage ────</span><br>")
        if ch == "\n":
            parts.append(f"<span style='background:{col}' title='{tip}'>↵</span><br>")
            continue
        text = "&nbsp;" if ch == " " else html.escape(ch if len(ch) == 1 else ch + " ")
        parts.append(f"<span style='background:{col}' title='{tip}'>{text}</span>")
    return ("<div style='font-family:monospace; color:#000; background:#fff; line-height:140%'>"
            + "".join(parts) + "</div>")


class UnitFinderPanel(AnalysisPanel):
    """The ranked table of (feature, unit, r) and one unit's activation over the long probe."""

    key = "analysis-units"
    title = "Unit finder"
    kind = "units"
    draws = (UnitsView,)
    short = 'Look for |r| near 1: one unit carries that quantity. Click a row to mark the unit in the heatmap.'
    caption = ("Which hidden unit tracks what? Every unit of every state (h, c, gates) is correlated with "
               "named features over a long probe. |r| near 1: one unit carries that quantity. Click a row to "
               "mark the unit in the heatmap and to colour the text by it.")

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["feature", "layer", "state", "unit", "r"])
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setFont(font(FONT_PT - 1))
        self.table.setToolTip("Pearson r between a unit and a feature over the long probe; sorted by |r|. "
                              "Click a row: the heatmap shows that layer and state with the unit marked ▶.")
        self.table.cellClicked.connect(lambda row, _: self.pick(row))
        self.mode = QtWidgets.QComboBox()
        self.mode.addItems(["colour: unit activation", "colour: surprise"])
        self.mode.setToolTip("Red–blue: the chosen unit's value after reading each token (Karpathy et al. 2015). "
                             "Surprise: where the model did not expect the next token (white: expected, red: surprised)")
        self.mode.currentIndexChanged.connect(lambda _: self._draw_detail())
        self.top_row.addWidget(self.mode)
        self.text = QtWidgets.QTextBrowser()
        self.text.setFont(font(FONT_PT, mono=True))
        self.plot = plot_item(left="value", bottom="step of the probe (lanes one after another)")
        self.plot.getPlotItem().addLegend(offset=(-5, 5), labelTextSize=f"{FONT_PT - 2}pt")
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        detail = QtWidgets.QWidget()
        dl = QtWidgets.QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(self.text)
        dl.addWidget(self.plot)
        split.addWidget(detail)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        self.table.setMinimumWidth(250)
        self.body.addWidget(split, 1)
        self.selected: tuple[str, int, str, int, float] | None = None
        self.clear()

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.text.clear()
        self.plot.getPlotItem().clear()
        self.text.hide()
        self.plot.show()
        self.mode.hide()

    def status_text(self, v: UnitsView) -> str:
        return f"step {v.step:,} · {v.samples:,} samples: {v.source}"

    def draw(self, v: UnitsView) -> None:
        rows = v.rows
        self.table.setRowCount(len(rows))
        for i, (feature, layer, state, unit, r) in enumerate(rows):
            items = [feature.replace("_", " "), str(layer + 1), state, str(unit), f"{r:+.3f}"]
            for j, text in enumerate(items):
                it = QtWidgets.QTableWidgetItem(text)
                if j == 4:
                    it.setForeground(QtGui.QColor("#e57373" if r > 0 else "#64b5f6"))
                if j >= 1:
                    it.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(i, j, it)
        self.table.resizeColumnsToContents()
        text_mode = bool(v.chars)
        self.text.setVisible(text_mode)
        self.plot.setVisible(not text_mode)
        self.mode.setVisible(text_mode and v.surprise is not None)
        keep = self.selected
        if keep is not None:  # the same unit (it may have moved in the ranking)
            idx = next((i for i, r in enumerate(rows) if r[0] == keep[0] and r[1:4] == keep[1:4]), None)
        else:
            idx = None
        if idx is None and rows:
            idx = 0
        if idx is not None:
            self.table.blockSignals(True)
            self.table.selectRow(idx)
            self.table.blockSignals(False)
            self.selected = rows[idx]
        self._draw_detail()

    def pick(self, row: int) -> None:
        """Choose table row ``row``: colour the text by its unit and mark it in the heatmap."""
        v = self.view_
        if v is None or not 0 <= row < len(v.rows):
            return
        self.selected = v.rows[row]
        feature, layer, state, unit, r = self.selected
        self.session.mark_unit(MarkedUnit(layer, unit, abs(r), f"({state}) tracks {feature.replace('_', ' ')}"))
        hidden = getattr(self.window(), "panels", {}).get("hidden")
        if hidden is not None and hasattr(hidden, "select") and hidden.probe is not None:
            try:  # show that layer and state in the heatmap
                hidden.select(layer, state)
            except (ValueError, IndexError):
                pass
        self._draw_detail()

    def _draw_detail(self) -> None:
        v, sel = self.view_, self.selected
        if v is None or sel is None or v.activations is None:
            return
        feature, layer, state, unit, r = sel
        k = v.units.index((layer, state, unit))
        act = np.asarray(v.activations[k])
        lo, hi = v.value_ranges[k]
        if v.chars:
            n = min(len(v.chars), len(act))
            if self.mode.currentIndex() == 1 and v.surprise is not None:
                cols = [_surprise_rgb(float(s)) for s in v.surprise[:n]]
                tips = [f"-log p(next) = {float(s):.2f} nats" for s in v.surprise[:n]]
            else:
                cols = [_rgb_for(float(a), lo, hi) for a in act[:n]]
                tips = [f"unit {unit} = {float(a):+.2f}" for a in act[:n]]
            self.text.setHtml(coloured_html(v.chars[:n], cols, tips, v.breaks))
            self.text.setToolTip(f"Layer {layer + 1} {state} unit {unit} (r = {r:+.2f} with "
                                 f"{feature.replace('_', ' ')}): red high, blue low, white in the middle of "
                                 f"{lo:g}…{hi:g}")
            return
        p = self.plot.getPlotItem()
        p.clear()
        x = np.arange(len(act))
        p.plot(x, act, pen=pg.mkPen(COLORS[0], width=2), name=f"layer {layer + 1} {state} unit {unit}")
        feat = dict(v.features).get(feature)
        if feat is not None and len(feat) == len(act):
            f = np.asarray(feat, float)
            span = f.max() - f.min()
            fs = (f - f.min()) / span * (hi - lo) + lo if span > 0 else f * 0 + lo
            p.plot(x, fs, pen=pg.mkPen(COLORS[3], width=1.5, style=QtCore.Qt.PenStyle.DashLine),
                   name=f"{feature.replace('_', ' ')} (rescaled)")
        for b in v.breaks:
            p.addItem(pg.InfiniteLine(b - 0.5, angle=90, pen=pg.mkPen("#777", width=1)))
        p.setYRange(lo, hi, padding=0.05)
        p.setTitle(f"r = {r:+.3f}: the unit (blue) against the feature (orange); grey lines start a new sequence",
                   size=f"{FONT_PT - 2}pt")


# -- gradient flow ---------------------------------------------------------------------------------------
class GradientFlowPanel(AnalysisPanel):
    key = "analysis-gradients"
    title = "Gradient flow over lags"
    kind = "gradients"
    draws = (GradientsView,)
    short = "Look for the slope: a vanilla RNN's gradient falls by decades within a few steps; an LSTM's cell path (dashed) keeps it."
    caption = ("Left: how much the state k steps back still moves the last state, ‖∂h_T/∂h_(T−k)‖ (log scale). "
               "A straight falling line is an exponential decay: a vanilla RNN forgets fast, an LSTM's cell path "
               "(dashed) keeps gradients longer. Right: itemized BPTT — how much of the recurrent weights' "
               "gradient comes from errors k steps after the weights were used.")

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.flow = plot_item("‖∂h_T / ∂h_(T−k)‖", "norm (log scale)", "lag k (steps back)")
        self.flow.getPlotItem().addLegend(offset=(-5, 5), labelTextSize=f"{FONT_PT - 2}pt")
        self.flow.setToolTip("Frobenius norm of the Jacobian product from step T−k to the last step T, "
                             "geometric mean over the probe's sequences")
        self.items = plot_item("itemized BPTT: ‖G_k‖", "norm (log scale)", "lag k between use and error")
        self.items.setToolTip("G_k: the part of dL/dW_hh that comes from the loss k steps after W_hh was used "
                              "(they add up to the whole gradient)")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.flow, 3)
        row.addWidget(self.items, 2)
        self.body.addLayout(row, 1)

    def clear(self) -> None:
        self.flow.getPlotItem().clear()
        self.items.getPlotItem().clear()

    def draw(self, v: GradientsView) -> None:
        p = self.flow.getPlotItem()
        p.clear()
        lo, hi = np.inf, -np.inf
        for i, ((name, cell, lags, norm), cn) in enumerate(zip(v.layers, v.cell_norm)):
            y = np.log10(np.maximum(norm, 1e-30))
            p.plot(lags, y, pen=pg.mkPen(COLORS[i % len(COLORS)], width=2), symbol="o", symbolSize=4,
                   symbolBrush=COLORS[i % len(COLORS)], name=f"{name}: ∂h_T/∂h")
            lo, hi = min(lo, y.min()), max(hi, y.max())
            if cn is not None:
                yc = np.log10(np.maximum(cn, 1e-30))
                p.plot(lags, yc, pen=pg.mkPen(COLORS[i % len(COLORS)], width=2, style=QtCore.Qt.PenStyle.DashLine),
                       name=f"{name}: ∂h_T/∂c (cell path)")
                lo, hi = min(lo, yc.min()), max(hi, yc.max())
        if np.isfinite(lo):
            log_axis_ticks(p, lo, hi)
            if len(v.layers[0][2]) > 20:
                g = v.layers[0][3]
                ratio = g[0] / g[20] if g[20] > 0 else np.inf
                p.setTitle(f"layer 1: ÷{ratio:.3g} from lag 1 to 21",
                           size=f"{FONT_PT - 1}pt")
        q = self.items.getPlotItem()
        q.clear()
        if v.itemized is None:
            q.setTitle("itemized BPTT: no per-step error signal", size=f"{FONT_PT - 1}pt")
            return
        lags, norm, cos = v.itemized
        y = np.log10(np.maximum(norm, 1e-30))
        q.addItem(pg.BarGraphItem(x=lags, height=y - (y.min() - 0.5), y0=y.min() - 0.5, width=0.8,
                                  brush=COLORS[3], pen=None))
        log_axis_ticks(q, y.min() - 0.5, y.max())
        k90 = int(np.argmax(cos >= 0.9)) if np.any(cos >= 0.9) else None
        where = f"lags 0–{k90}: 90% of the direction" if k90 is not None else ""
        q.setTitle(f"itemized BPTT: {where}" if where else "itemized BPTT", size=f"{FONT_PT - 1}pt")
        self.items.setToolTip(f"{v.itemized_note}. Bars: ‖G_k‖ on a log scale. Cosine of the truncated sum "
                              f"with the full gradient reaches 0.9 at lag {k90 if k90 is not None else '—'}.")


# -- spectrum -------------------------------------------------------------------------------------------------
class SpectrumPanel(AnalysisPanel):
    key = "analysis-spectrum"
    title = "Spectrum of the recurrence"
    kind = "spectrum"
    draws = (SpectrumView,)
    short = 'Look at σ_max against the dashed bound (below it gradients must vanish) and eigenvalues outside the unit circle.'
    caption = ("Left: the largest singular value σ_max (solid) and the spectral radius ρ (dotted) of the "
               "recurrent weights while the model trains (from when this panel was opened). Below the dashed "
               "line (1 for tanh, 4 for sigmoid) gradients must vanish (Pascanu et al. 2013); red ticks: steps "
               "where the gradient was clipped. Right: the eigenvalues now, against the unit circle.")

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.hist = plot_item("σ_max and ρ over training", "value", "training step")
        self.hist.getPlotItem().addLegend(offset=(5, 5), labelTextSize=f"{FONT_PT - 2}pt")
        self.eig = plot_item("eigenvalues of W_hh", "imaginary part", "real part")
        self.eig.getPlotItem().setAspectLocked(True)
        self.eig.getPlotItem().addLegend(offset=(-5, 5), labelTextSize=f"{FONT_PT - 2}pt")
        self.eig.setToolTip("Eigenvalues of the recurrent weights (gated cells: one colour per gate block). "
                            "Outside the circle: directions that grow without the non-linearity")
        self.layer = QtWidgets.QComboBox()
        self.layer.setToolTip("The layer whose eigenvalues are shown")
        self.layer.currentIndexChanged.connect(lambda _: self._draw_eig())
        self.top_row.addWidget(self.layer)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.hist, 3)
        row.addWidget(self.eig, 2)
        self.body.addLayout(row, 1)

    def clear(self) -> None:
        self.hist.getPlotItem().clear()
        self.eig.getPlotItem().clear()
        self.layer.clear()

    def status_text(self, v: SpectrumView) -> str:
        now = " · ".join(f"{n}: σ_max {s:.2f}, ρ {r:.2f}" for n, s, r in zip(v.names, v.sigma_max, v.spectral_radius))
        return f"step {v.step:,} · {now}"

    def draw(self, v: SpectrumView) -> None:
        p = self.hist.getPlotItem()
        p.clear()
        steps = np.asarray(v.history_steps, float)
        for i, name in enumerate(v.names):
            c = COLORS[i % len(COLORS)]
            p.plot(steps, v.history_sigma[:, i], pen=pg.mkPen(c, width=2), name=f"{name} σ_max",
                   symbol="o" if len(steps) < 3 else None, symbolSize=5, symbolBrush=c)
            p.plot(steps, v.history_radius[:, i], pen=pg.mkPen(c, width=2, style=QtCore.Qt.PenStyle.DotLine),
                   name=f"{name} ρ")
            b = v.bound[i]
            if b is not None:
                p.addItem(pg.InfiniteLine(b, angle=0, pen=pg.mkPen("#bbbbbb", width=1.5,
                                                                    style=QtCore.Qt.PenStyle.DashLine),
                                          label=f"vanishing bound {b:g}", labelOpts={"position": 0.1,
                                                                                   "color": "#bbbbbb"}))
        self._draw_clips(p, steps)
        names = list(v.names)
        if [self.layer.itemText(i) for i in range(self.layer.count())] != names:
            self.layer.blockSignals(True)
            self.layer.clear()
            self.layer.addItems(names)
            self.layer.blockSignals(False)
        self.layer.setVisible(len(names) > 1)
        self._draw_eig()

    def _draw_clips(self, p: pg.PlotItem, steps: np.ndarray) -> None:
        """Red ticks at the steps whose gradient norm exceeded the clipping threshold (norm clipping)."""
        spec = getattr(self.session, "spec", None)
        clip = float((spec.config.get("clip", 0) if spec is not None else 0) or 0)
        hist = getattr(self.session, "history", None)
        if clip <= 0 or hist is None or "grad_norm" not in hist or len(steps) == 0:
            return
        s, g = hist.arrays("grad_norm")
        sel = (g > clip) & (s >= steps[0])
        if not sel.any():
            return
        y0 = 0.0
        xs = s[sel][:: max(1, int(sel.sum()) // 400)]
        p.addItem(pg.ScatterPlotItem(xs, np.full(len(xs), y0), symbol="|", size=12, pen=pg.mkPen("#e53935"),
                                     name=f"clipped (‖g‖ > {clip:g})"))

    def _draw_eig(self) -> None:
        v = self.view_
        q = self.eig.getPlotItem()
        q.clear()
        if v is None:
            return
        li = max(0, self.layer.currentIndex())
        th = np.linspace(0, 2 * np.pi, 200)
        q.plot(np.cos(th), np.sin(th), pen=pg.mkPen("#999999", width=1.5))
        for name, ev in v.eigenvalues[li]:
            ev = np.asarray(ev)
            q.addItem(pg.ScatterPlotItem(ev.real, ev.imag, size=6, brush=GATE_COLORS.get(name, COLORS[0]),
                                         pen=None, name=GATE_NAMES.get(name, name)))


# -- gate saturation -------------------------------------------------------------------------------------------
class SaturationPanel(AnalysisPanel):
    key = "analysis-saturation"
    title = "Gate saturation"
    kind = "saturation"
    draws = (SaturationView,)
    short = 'Look for units high on y (always open: they remember) and along x + y = 1 (switches).'
    caption = ("Each dot is one unit of one gate: how often it is shut (< 0.1, left-saturated: x) "
               "and fully open (> 0.9, right-saturated: y) over the probe (Karpathy et al. 2015, Fig. 3). Forget-gate units "
               "high on the y axis remember; dots near the x+y=1 line work as switches; near (0,0): never saturated.")

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.plot = plot_item("", "fraction right-saturated (> 0.9)", "fraction left-saturated (< 0.1)")
        self.plot.getPlotItem().addLegend(offset=(-5, 5), labelTextSize=f"{FONT_PT - 2}pt")
        self.plot.setToolTip("x: fraction of steps the gate is below 0.1; y: above 0.9")
        self.layer = QtWidgets.QComboBox()
        self.layer.currentIndexChanged.connect(lambda _: self._draw())
        self.top_row.addWidget(self.layer)
        self.body.addWidget(self.plot, 1)

    def clear(self) -> None:
        self.plot.getPlotItem().clear()

    def status_text(self, v: SaturationView) -> str:
        return f"step {v.step:,} · {v.samples:,} steps of the probe"

    def draw(self, v: SaturationView) -> None:
        names = [layer[0] for layer in v.layers]
        if [self.layer.itemText(i) for i in range(self.layer.count())] != names:
            self.layer.blockSignals(True)
            self.layer.clear()
            self.layer.addItems(names)
            self.layer.blockSignals(False)
        self.layer.setVisible(len(names) > 1)
        self._draw()

    def _draw(self) -> None:
        v = self.view_
        p = self.plot.getPlotItem()
        p.clear()
        if v is None or not v.layers:
            return
        name, gates, left, right = v.layers[max(0, self.layer.currentIndex())]
        p.plot([0, 1], [1, 0], pen=pg.mkPen("#888888", width=1, style=QtCore.Qt.PenStyle.DashLine))
        for g, lft, rgt in zip(gates, left, right):
            p.addItem(pg.ScatterPlotItem(lft, rgt, size=7, brush=pg.mkBrush(GATE_COLORS.get(g, COLORS[0]) + "c0"),
                                         pen=None, name=GATE_NAMES.get(g, g)))
        p.setXRange(0, 1, padding=0.03)
        p.setYRange(0, 1, padding=0.03)


# -- memory ------------------------------------------------------------------------------------------------------
class MemoryPanel(AnalysisPanel):
    key = "analysis-memory"
    title = "Connectivity / memory"
    kind = "memory"
    draws = (MemoryView,)
    short = 'Look at how far left of the diagonal the colour reaches: that is what the model still uses.'
    caption = ("How strongly the output at step t (row) depends on the input at step t′ (column): "
               "|∂ output_t / ∂ x_t′| (Madsen, Distill 2019), each row scaled to its largest value. The memory "
               "horizon is the lag at which an input's influence falls below 10% of the nearest input's. "
               "Recomputed in the background every few seconds while shown.")

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.button = QtWidgets.QPushButton("Recompute now")
        self.button.setToolTip("Compute the connectivity for the current weights now (in the background)")
        self.button.clicked.connect(self.request)
        self.top_row.addWidget(self.button)
        self.horizon_label = QtWidgets.QLabel("")
        self.horizon_label.setFont(font(FONT_PT + 4, bold=True))
        self.horizon_label.setToolTip("First lag at which the mean influence falls below 10% of lag 0")
        self.top_row.insertWidget(0, self.horizon_label)
        self.map = plot_item("", "output step t", "input step t′")
        self.map.getPlotItem().invertY(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.map.addItem(self.image)
        self.image.setColorMap(pg.colormap.get("viridis"))
        self.prof = plot_item("influence by lag (relative)", "influence / lag 0 (log)", "lag t − t′")
        self.prof.setToolTip("Mean over output steps of the influence at each lag relative to the nearest input; "
                             "dashed: the 10% line")
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.map, 3)
        row.addWidget(self.prof, 2)
        self.body.addLayout(row, 1)

    def clear(self) -> None:
        self.image.clear()
        self.prof.getPlotItem().clear()
        self.horizon_label.setText("")

    def status_text(self, v: MemoryView) -> str:
        return f"step {v.step:,} · {len(v.labels)} steps · computed in {v.seconds * 1000:.0f} ms"

    def draw(self, v: MemoryView) -> None:
        M = np.asarray(v.matrix, float)
        peak = M.max(axis=1, keepdims=True)
        R = np.where(peak > 0, M / np.where(peak > 0, peak, 1), 0)
        T = R.shape[1]
        self.image.setImage(R, autoLevels=False, levels=(0, 1))
        self.image.setRect(QtCore.QRectF(0, 0, T, R.shape[0]))
        self.map.getPlotItem().setRange(xRange=(0, T), yRange=(0, R.shape[0]), padding=0)
        h = v.horizon
        self.horizon_label.setText(f"memory horizon: {h} steps" if h is not None else "memory horizon: > probe")
        p = self.prof.getPlotItem()
        p.clear()
        prof = np.asarray(v.profile, float)
        y = np.log10(np.maximum(prof, 1e-12))
        p.plot(np.arange(len(y)), y, pen=pg.mkPen(COLORS[0], width=2))
        p.addItem(pg.InfiniteLine(-1, angle=0, pen=pg.mkPen("#bbbbbb", style=QtCore.Qt.PenStyle.DashLine)))
        log_axis_ticks(p, min(y.min(), -1.5), max(y.max(), 0))
        if h is not None:
            p.addItem(pg.InfiniteLine(h, angle=90, pen=pg.mkPen("#ffa726", width=1.5)))


# -- fixed points -----------------------------------------------------------------------------------------------
class FixedPointsPanel(AnalysisPanel):
    key = "analysis-fixed-points"
    title = "Fixed points"
    kind = "fixed_points"
    draws = (FixedPointsView,)
    short = 'Look for attractors (●): two for the carry in binary addition; a rotation (complex λ, |λ| ≈ 1) for sine.'
    caption = ("Where the dynamics stop moving with the input held constant (Sussillo & Barak 2013): points "
               "found by minimising ½‖F(h) − h‖² from states the network visits, on the two main axes (PCA) of "
               "its trajectories (grey). ● attractor (all |λ| < 1), ✕ saddle/repeller. Sine: look for a rotation "
               "(complex λ near the unit circle); binary addition: two attractors for the carry.")

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.button = QtWidgets.QPushButton("Find fixed points")
        self.button.setToolTip("Search for fixed and slow points of the current weights (in the background; "
                               "seconds for a large LSTM)")
        self.button.clicked.connect(self.request)
        self.top_row.addWidget(self.button)
        self.status_label.setText("Press “Find fixed points” (computed in the background on a copy of the weights).")
        self.plot = plot_item("", "PC 2", "PC 1")
        self.plot.getPlotItem().addLegend(offset=(-5, 5), labelTextSize=f"{FONT_PT - 2}pt")
        self.eigs = QtWidgets.QLabel("")
        self.eigs.setFont(font(FONT_PT - 1, mono=True))
        self.eigs.setWordWrap(True)
        self.eigs.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.eigs.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.eigs)
        scroll.setWidgetResizable(True)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.plot, 3)
        row.addWidget(scroll, 2)
        self.body.addLayout(row, 1)

    def _on_experiment(self, spec: Any) -> None:
        super()._on_experiment(spec)
        self.status_label.setText("Press “Find fixed points” (computed in the background on a copy of the weights).")

    def clear(self) -> None:
        self.plot.getPlotItem().clear()
        self.eigs.setText("")

    def status_text(self, v: FixedPointsView) -> str:
        return f"step {v.step:,} · {v.note} ({v.seconds * 1000:.0f} ms) · {v.input_note}"

    def draw(self, v: FixedPointsView) -> None:
        p = self.plot.getPlotItem()
        p.clear()
        for k, tr in enumerate(v.trajectories):
            p.plot(tr[:, 0], tr[:, 1], pen=pg.mkPen((160, 160, 160, 110), width=1),
                   name="trajectories" if k == 0 else None)
        pts = np.asarray(v.points)
        if len(pts):
            st = np.asarray(v.stable, bool)
            if st.any():
                p.addItem(pg.ScatterPlotItem(pts[st, 0], pts[st, 1], size=14, symbol="o", brush="#66bb6a",
                                             pen=pg.mkPen("#000", width=1), name="attractor"))
            if (~st).any():
                p.addItem(pg.ScatterPlotItem(pts[~st, 0], pts[~st, 1], size=14, symbol="x", brush="#ef5350",
                                             pen=pg.mkPen("#ef5350", width=2), name="saddle / repeller"))
        ex = np.asarray(v.explained)
        p.setLabel("bottom", f"PC 1 ({100 * ex[0]:.0f}% of the variance)")
        p.setLabel("left", f"PC 2 ({100 * ex[1]:.0f}%)" if len(ex) > 1 else "PC 2")
        lines = [f"{v.layer}: {len(pts)} point(s)"]
        for i in range(len(pts)):
            kind = "attractor" if v.stable[i] else f"{int(v.unstable_dims[i])} unstable dim."
            ev = ", ".join(_fmt_complex(z) for z in v.eigenvalues[i])
            lines.append(f"#{i + 1} {kind}, q = {float(v.q[i]):.1e}\n   λ: {ev}")
        self.eigs.setText("\n".join(lines))


def _fmt_complex(z: complex) -> str:
    z = complex(z)
    if abs(z.imag) < 1e-9:
        return f"{z.real:+.3f}"
    return f"{z.real:+.3f}{z.imag:+.3f}i (|λ| {abs(z):.3f})"


ANALYSIS_PANELS = (UnitFinderPanel, GradientFlowPanel, SpectrumPanel, SaturationPanel, MemoryPanel, FixedPointsPanel)


def analysis_panels_for(view_types: Any) -> list[type]:
    """The analysis panels for an experiment: all of them when it has a recurrent layer (shows LayerStates)."""
    return list(ANALYSIS_PANELS) if LayerStates in tuple(view_types) else []


def remove_analysis_docks(window: Any) -> None:
    for dock in getattr(window, "analysis_docks", {}).values():
        window.panel_area.removeDockWidget(dock)
        dock.deleteLater()
    window.analysis_docks = {}
    window.analysis_panels = {}


def install_analysis_docks(window: Any, cls: type) -> None:
    """Add the analysis panels of experiment class ``cls`` to ``window`` as hidden, tabbed docks at the bottom
    of the panel area, listed in the View menu ("Why it works")."""
    remove_analysis_docks(window)
    classes = [c for c in analysis_panels_for(getattr(cls, "view_types", ())) if c.key not in window.docks]
    if not classes:
        return
    menu = window.view_menu
    menu.addSection("Why it works (analysis)")
    left = window._dock_columns()[0] if hasattr(window, "_dock_columns") else []
    host = window.docks.get(left[-1]) if left else None  # tabbed with the experiment's own panel: the
    first = host  # heatmap (right column) stays in view while a unit is picked in the table
    for c in classes:
        panel = window._make_panel(c)
        dock = QtWidgets.QDockWidget(c.title, window.panel_area)
        dock.setObjectName(f"panel-{c.key}")
        dock.setWidget(panel)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        if first is not None:
            window.panel_area.tabifyDockWidget(first, dock)
        else:
            window.panel_area.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        first = first or dock
        dock.hide()
        action = dock.toggleViewAction()
        action.setToolTip(getattr(c, "caption", ""))
        menu.addAction(action)
        window.analysis_panels[c.key] = panel  # not in window.panels: those are the experiment's own
        window.analysis_docks[c.key] = dock


def show_analysis(window: Any, key: str) -> None:
    """Show (and raise) the analysis dock ``key`` (e.g. "analysis-units")."""
    dock = window.analysis_docks[key]
    dock.show()
    dock.raise_()
