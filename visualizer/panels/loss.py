"""Loss panel: training/validation loss curves and the other metrics, live.

Top plot: every loss-like metric (name contains "loss": ``loss``, ``val_loss``).
Bottom plot (shown when the experiment has them): accuracy, perplexity, rmse, ...
Each metric is drawn twice: the raw curve faintly, and an exponential moving
average (the smoothing slider) on top. Curves are drawn from the session's
bounded history, decimated to at most ``MAX_DRAW_POINTS`` points, with
``clipToView``/``autoDownsample``: a million training steps draw as fast as a
hundred. Live hyperparameter changes are marked with labelled vertical lines.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from core.probe import Snapshot
from visualizer.panels.base import Panel

MAX_DRAW_POINTS = 4000  # per curve
MAX_MARKERS = 40
COLORS = ("#ff9f1c", "#2ec4b6", "#f15bb5", "#9bde7e", "#a0c4ff", "#ffd166", "#e76f51", "#cdb4db")
METRIC_COLORS = ("#9bde7e", "#f15bb5", "#a0c4ff", "#ffd166", "#2ec4b6", "#e76f51", "#cdb4db", "#ff9f1c")
MARKER_COLOR = "#ffe066"
_BLOCK = 64


def is_loss_like(name: str) -> bool:
    return "loss" in name.lower()


def ema(values: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average ``y_t = alpha * y_{t-1} + (1 - alpha) * x_t`` (``y_0 = x_0``).

    Vectorised in blocks of 64: within a block, one matrix product; only the
    carry between blocks is a Python loop (n / 64 iterations). (N,) -> (N,).
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0 or alpha <= 0.0:
        return x.copy()
    pad = (-n) % _BLOCK
    xb = np.concatenate([x, np.full(pad, x[-1])]).reshape(-1, _BLOCK)  # (nb, L)
    k = np.arange(_BLOCK)
    expo = k[:, None] - k[None, :]  # (L, L) i - j
    w = np.where(expo >= 0, alpha ** np.maximum(expo, 0), 0.0) * (1.0 - alpha)  # lower-triangular weights
    inner = xb @ w.T  # (nb, L): block-internal sums, zero initial state
    decay = alpha ** (k + 1)  # (L,) how the carry fades inside a block
    out = np.empty_like(inner)
    carry = x[0]  # y_{-1} = x_0 so that y_0 = x_0
    for b in range(inner.shape[0]):
        out[b] = inner[b] + decay * carry
        carry = out[b, -1]
    return out.ravel()[:n]


def decimate(steps: np.ndarray, values: np.ndarray, max_points: int = MAX_DRAW_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: block means of consecutive points (the last point kept exactly)."""
    n = steps.size
    if n <= max_points:
        return steps, values
    k = math.ceil((n - 1) / (max_points - 1))  # points per block
    starts = np.arange(0, n - 1, k)  # blocks over all but the last point
    counts = np.diff(np.append(starts, n - 1))
    s = np.append(np.add.reduceat(steps[:-1], starts) / counts, steps[-1])
    v = np.append(np.add.reduceat(values[:-1], starts) / counts, values[-1])
    return s, v


class _LogAxis(pg.AxisItem):
    """A y axis whose log-scale ticks are 1, 2, 5 x 10^k (pyqtgraph labels all of 1..9, which overlap)."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 (pyqtgraph names)
        out = []
        for spacing, values in super().logTickValues(minVal, maxVal, size, stdTicks):
            if spacing is None:
                values = [v for v in values if round(10 ** (v - np.floor(v))) in (1, 2, 5)]
            out.append((spacing, values))
        return out


def _style_plot(plot: pg.PlotItem, ylabel: str) -> None:
    font = QtGui.QFont()
    font.setPointSize(11)
    for side in ("left", "bottom"):
        ax = plot.getAxis(side)
        ax.setTickFont(font)
        ax.setStyle(tickTextOffset=6)
        ax.enableAutoSIPrefix(False)  # "0.002", not "2 (x0.001)": clearer for students
    plot.setLabel("left", ylabel, **{"font-size": "12pt"})
    plot.setLabel("bottom", "training step", **{"font-size": "12pt"})
    # no grid: pyqtgraph draws it as part of the axes, which would then repaint (with all their
    # tick labels) whenever a curve changes; the crosshair readout gives exact values instead


class _Curve:
    """One metric: a faint raw curve and a smoothed one."""

    def __init__(self, plot: pg.PlotItem, name: str, color: str):
        c = QtGui.QColor(color)
        faint = QtGui.QColor(c)
        faint.setAlpha(50)
        self.raw = pg.PlotDataItem(pen=pg.mkPen(faint, width=1))
        self.smooth = pg.PlotDataItem(pen=pg.mkPen(c, width=2.5), name=name)
        for item in (self.raw, self.smooth):
            item.setClipToView(True)
            item.setDownsampling(auto=True, method="peak")
            plot.addItem(item)
        self.name = name
        self.plot = plot
        self.x = np.empty(0)
        self.y = np.empty(0)  # smoothed (or raw when smoothing is off)

    def set(self, steps: np.ndarray, values: np.ndarray, alpha: float) -> None:
        s, v = decimate(steps, values)
        if alpha > 0:
            # alpha is per training step: a metric recorded every k steps decays alpha**k per point
            tail = s[-64:]
            spacing = float(tail[-1] - tail[0]) / (tail.size - 1) if tail.size > 1 else 1.0
            sm = ema(v, alpha ** max(spacing, 1.0))
            self.raw.setData(s, v)
            self.raw.show()
            self.smooth.setData(s, sm)
            self.y = sm
        else:
            self.raw.hide()
            self.smooth.setData(s, v)
            self.y = v
        self.x = s

    def drawn_points(self) -> int:
        xd = self.smooth.xData
        return 0 if xd is None else int(len(xd))


class LossPanel(Panel):
    title = "Loss & metrics"

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self._curves: dict[str, _Curve] = {}
        self._needs_redraw = False
        self.markers: list[pg.InfiniteLine] = []
        self._marker_data: list[tuple[str, int]] = []

        # controls
        self.follow_check = QtWidgets.QCheckBox("auto-scale")
        self.follow_check.setChecked(True)
        self.follow_check.setToolTip("Keep the whole run in view (turned off when you zoom or pan; "
                                     "mouse wheel zooms, drag pans, right-click for more)")
        self.follow_check.toggled.connect(lambda on: on and self._autoscale(force=True))
        self.log_check = QtWidgets.QCheckBox("log y")
        self.log_check.setToolTip("Logarithmic loss axis")
        self.log_check.toggled.connect(self._on_log)
        self.smooth_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setValue(80)
        self.smooth_slider.setMaximumWidth(180)
        self.smooth_slider.setToolTip("Exponential moving average of the curves (0 = raw)")
        self.smooth_label = QtWidgets.QLabel()
        self.smooth_slider.valueChanged.connect(self._on_smoothing)
        self.readout = QtWidgets.QLabel("hover a plot to read values")
        self.readout.setObjectName("readout")
        self.readout.setTextFormat(QtCore.Qt.TextFormat.RichText)
        controls = QtWidgets.QHBoxLayout()
        controls.addWidget(self.follow_check)
        controls.addWidget(self.log_check)
        controls.addSpacing(12)
        controls.addWidget(QtWidgets.QLabel("smoothing"))
        controls.addWidget(self.smooth_slider)
        controls.addWidget(self.smooth_label)
        controls.addSpacing(12)
        controls.addWidget(self.readout, 1)

        # plots
        self.graphics = pg.GraphicsLayoutWidget()
        self.loss_plot = self.graphics.addPlot(row=0, col=0, axisItems={"left": _LogAxis("left")})
        self.metric_plot = self.graphics.addPlot(row=1, col=0)
        _style_plot(self.loss_plot, "loss")
        _style_plot(self.metric_plot, "metric")
        self.metric_plot.setXLink(self.loss_plot)
        for plot in (self.loss_plot, self.metric_plot):
            # our own auto-scale with hysteresis: the axes (costly to paint) change only now and then
            plot.getViewBox().disableAutoRange()
            plot.getViewBox().sigRangeChangedManually.connect(lambda *_: self.follow_check.setChecked(False))
            plot.hideButtons()
        for plot in (self.loss_plot, self.metric_plot):
            legend = plot.addLegend(offset=(-10, 10), labelTextSize="11pt")
            legend.setBrush(pg.mkBrush(0, 0, 0, 150))
        self.metric_plot.hide()
        self._cursor_lines = []
        for plot in (self.loss_plot, self.metric_plot):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((200, 200, 200, 110), width=1))
            line.hide()
            plot.addItem(line, ignoreBounds=True)
            self._cursor_lines.append(line)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        self._on_smoothing(self.smooth_slider.value())

        session.metrics_reset.connect(self._on_reset)
        session.live_param_changed.connect(self._on_live_param)

    # -- state -----------------------------------------------------------------
    @property
    def alpha(self) -> float:
        return self.smooth_slider.value() / 100.0

    def drawn_points(self) -> dict[str, int]:
        """Points currently handed to each smoothed curve (bounded by MAX_DRAW_POINTS)."""
        return {name: c.drawn_points() for name, c in self._curves.items()}

    # -- hub signals -------------------------------------------------------------
    def _on_metrics(self, snapshot: Snapshot) -> None:
        if not snapshot.metrics:
            return
        if self.isVisible() and not self._needs_redraw:
            self.redraw(snapshot.metrics.keys())  # only the metrics that got new points
        elif self.isVisible():
            self.redraw()
        else:
            self._needs_redraw = True  # a hidden panel does no work

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if self._needs_redraw:
            self.redraw()

    def _on_experiment(self, info: Any) -> None:
        self._on_reset()

    def _on_reset(self) -> None:
        for c in self._curves.values():
            for plot in (self.loss_plot, self.metric_plot):
                plot.removeItem(c.raw)  # PlotItem.removeItem ignores items it does not hold
                plot.removeItem(c.smooth)
        self._curves.clear()
        for line in self.markers:
            self.loss_plot.removeItem(line)
        self.markers.clear()
        self._marker_data.clear()
        self.metric_plot.hide()
        self.follow_check.setChecked(True)  # a new run: show it whole
        self.redraw()

    def _on_live_param(self, name: str, value: Any, step: int) -> None:
        from visualizer.widgets.param_form import format_value

        text = f"{name}={format_value(value)}"
        pos = 0.92 - 0.12 * (len(self.markers) % 5)  # stagger labels so neighbours stay readable
        line = pg.InfiniteLine(pos=step, angle=90, movable=False,
                               pen=pg.mkPen(MARKER_COLOR, width=1.5, style=QtCore.Qt.PenStyle.DashLine),
                               label=text, labelOpts={"position": pos, "color": MARKER_COLOR,
                                                      "fill": (0, 0, 0, 170), "anchors": [(0, 0.5), (0, 0.5)]})
        self.loss_plot.addItem(line, ignoreBounds=True)
        self.markers.append(line)
        self._marker_data.append((text, int(step)))
        if len(self.markers) > MAX_MARKERS:
            old = self.markers.pop(0)
            self._marker_data.pop(0)
            self.loss_plot.removeItem(old)

    # -- drawing -------------------------------------------------------------------
    def redraw(self, names: Any = None) -> None:
        """Redraw the curves of ``names`` (default: all) from ``session.history`` (bounded, decimated)."""
        self._needs_redraw = False
        history = self.session.history
        alpha = self.alpha
        for name in history.names() if names is None else [n for n in names if n in history]:
            steps, values = history.arrays(name)
            if steps.size == 0:
                continue
            curve = self._curves.get(name)
            if curve is None:
                curve = self._new_curve(name, float(values[-1]))
            curve.set(steps, values, alpha)
        self._autoscale()

    def _new_curve(self, name: str, latest: float) -> _Curve:
        """A curve on the loss plot (loss-like and on the training loss's scale) or the metric plot."""
        on_loss_plot = is_loss_like(name)
        ref = self._curves.get("loss")
        if on_loss_plot and ref is not None and ref.y.size and name != "loss":
            ratio = abs(latest) / max(abs(float(ref.y[-1])), 1e-12)
            on_loss_plot = 0.1 <= ratio <= 10  # e.g. a summed "smooth_loss" would flatten the mean loss
        plot = self.loss_plot if on_loss_plot else self.metric_plot
        palette = COLORS if on_loss_plot else METRIC_COLORS
        k = sum(c.plot is plot for c in self._curves.values())  # colours per plot
        curve = self._curves[name] = _Curve(plot, name, palette[k % len(palette)])
        if not on_loss_plot:
            self.metric_plot.show()
            others = [n for n, c in self._curves.items() if c.plot is self.metric_plot]
            self.metric_plot.setLabel("left", others[0] if len(others) == 1 else "metrics", **{"font-size": "12pt"})
        return curve

    def _autoscale(self, force: bool = False) -> None:
        """Fit the view to the data, but only when the data leave the view or fill too little of it."""
        if not self.follow_check.isChecked():
            return
        x_hi = None
        for plot in (self.loss_plot, self.metric_plot):
            curves = [c for c in self._curves.values() if c.plot is plot and c.x.size]
            if not curves:
                continue
            ys = [c.y for c in curves]  # smoothed curves whole, raw ones without their extreme 1% spikes
            ys += [np.percentile(c.raw.yData, [1, 99]) for c in curves
                   if c.raw.isVisible() and c.raw.yData is not None and c.raw.yData.size]
            y = np.concatenate(ys)
            if plot is self.loss_plot and self.log_check.isChecked():
                y = np.log10(y[y > 0])
            y = y[np.isfinite(y)]
            if y.size == 0:
                continue
            lo, hi = float(y.min()), float(y.max())
            pad = max(hi - lo, abs(hi) * 1e-3, 1e-9) * 0.05
            (_, _), (v_lo, v_hi) = plot.getViewBox().viewRange()
            if force or lo < v_lo or hi > v_hi or (hi - lo + 2 * pad) < 0.6 * (v_hi - v_lo):
                plot.getViewBox().setYRange(lo - pad, hi + pad, padding=0)
            x_hi = max(x_hi or 0.0, max(float(c.x[-1]) for c in curves))
        if x_hi is not None:
            (v_lo, v_hi), _ = self.loss_plot.getViewBox().viewRange()
            x_lo = min(float(c.x[0]) for c in self._curves.values() if c.x.size)
            if force or x_hi > v_hi or x_lo < v_lo or x_hi < 0.5 * v_hi:
                span = max(x_hi - x_lo, 1.0)
                self.loss_plot.getViewBox().setXRange(x_lo, x_lo + span * 1.15, padding=0)

    def _on_log(self, on: bool) -> None:
        self.loss_plot.setLogMode(x=False, y=on)
        self._autoscale(force=True)

    def _on_smoothing(self, v: int) -> None:
        self.smooth_label.setText(f"{v / 100:.2f}")
        self.redraw()

    def _on_mouse(self, pos: QtCore.QPointF) -> None:
        for plot, line in zip((self.loss_plot, self.metric_plot), self._cursor_lines):
            if plot.isVisible() and plot.sceneBoundingRect().contains(pos):
                x = plot.getViewBox().mapSceneToView(pos).x()
                self.show_readout(x)
                return
        for line in self._cursor_lines:
            line.hide()

    def show_readout(self, step: float) -> str:
        """Put the crosshair at ``step`` and show every curve's (smoothed) value there; returns the text."""
        parts = [f"<b>step {int(round(step))}</b>"]
        for name, c in self._curves.items():
            if c.x.size == 0:
                continue
            i = int(np.clip(np.searchsorted(c.x, step), 0, c.x.size - 1))
            if i > 0 and abs(c.x[i - 1] - step) < abs(c.x[i] - step):
                i -= 1
            color = c.smooth.opts["pen"].color().name()
            parts.append(f"<span style='color:{color}'>{name} {c.y[i]:.4g}</span>")
        for line in self._cursor_lines:
            line.setPos(step)
            line.show()
        text = " · ".join(parts)
        self.readout.setText(text)
        return text
