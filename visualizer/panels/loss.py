"""Loss panel: training/validation loss curves and the experiment's quality metrics, live.

Two plots sharing the step axis:

* **losses** (top): the metrics the experiment declares in group "loss"
  (``loss``, ``val_loss``; baselines such as ``bigram_val_loss`` dashed);
* **quality** (bottom): its headline metrics (group "quality": accuracy,
  perplexity, RMSE), with a y label naming them. Diagnostic series (group
  "diagnostic", and anything undeclared: ``grad_norm``, ``smooth_loss``,
  ``carry_corr``, ...) live here too but are hidden by default: click a legend
  entry, or use the "series" menu, to show or hide any curve.

Groups, directions and units come from the experiment's ``metrics`` declaration
(core.views.Metric), never from the metric's name.

Each metric is drawn twice: the raw curve faintly, and an exponential moving
average (the smoothing slider) on top. The points are the session's metric
history, which core bounds (``core.history.Series``: full resolution for recent
points, older ones averaged); a frame folds only the new points into each curve
(its EMA state is kept), and a :class:`LiveCurve` paints what is in view, peak-decimated
to the plot's pixel columns, from a path it keeps until the data or the view change; one :class:`CurveLayer`
per plot paints all its lines in one call. Metrics recorded only at evaluation points are drawn as lines
with markers. Live hyperparameter changes are marked with labelled vertical lines.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from core.probe import Snapshot
from core.views import Metric, MetricCurves, describe, metric_table
from visualizer.panels.base import Panel
from visualizer.widgets.fastitems import eager_view_transform
from visualizer.widgets.legend import LegendStrip

GAP_POINTS = 64  # points used to measure a curve's typical spacing
LEGEND_MIN_PANEL_H = 230  # px: below this panel height the legend strip folds into the "series" menu
RAW_MIN_ALPHA = 0.05  # below this per-point smoothing the raw curve is the smoothed one: not drawn twice
MAX_MARKER_POINTS = 60  # sparse (evaluation) curves get symbols while they have at most this many points
MAX_MARKERS = 40
COLORS = ("#ff9f1c", "#2ec4b6", "#f15bb5", "#9bde7e", "#a0c4ff", "#ffd166", "#e76f51", "#cdb4db")
METRIC_COLORS = ("#9bde7e", "#f15bb5", "#a0c4ff", "#ffd166", "#2ec4b6", "#e76f51", "#cdb4db", "#ff9f1c")
MARKER_COLOR = "#ffe066"
READOUT_HINT = "hover a plot to read values"
_BLOCK = 64
SIDE_BY_SIDE_H = 300  # px of plot area: below this (and wide enough) the two plots sit side by side
X_GROWTH = 1.3  # the step axis, when the run reaches its end, grows to a round count at least this times the run
LEAVING_PAD = 6  # a curve leaving the view gets this many paddings (8% of its range each) of room ahead
AUTO_LOG_RATIO = 100.0  # a loss that fell by this factor is read on a log axis (unless the user chose)

SHORT_LABELS = {"perplexity": "ppl", "accuracy": "acc.", "metric value": "value", "rmse": "rmse", "metric": "metric"}


def nice_ceil(v: float) -> float:
    """The smallest 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 x 10^k at or above ``v`` (> 0): round axis ends."""
    k = 10.0 ** np.floor(np.log10(v))
    for m in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if m * k >= v * (1 - 1e-12):
            return m * k
    return 10.0 * k


def quality_label(metrics: list[Metric]) -> str:
    """The quality plot's y label for the visible series: the metric (and unit), a shared kind, or
    "metric value"."""
    if not metrics:
        return "metric"
    for word in ("accuracy", "perplexity", "rmse", "mse"):
        if all(word in m.name for m in metrics):
            return word
    if len(metrics) == 1:
        m = metrics[0]
        return m.label + (f" ({m.unit})" if m.unit else "")
    return "metric value"


@functools.lru_cache(maxsize=16)
def _ema_weights(alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(L, L) lower-triangular block weights and (L,) carry decay for ``ema`` (cached: frames reuse them)."""
    k = np.arange(_BLOCK)
    expo = k[:, None] - k[None, :]  # (L, L) i - j
    w = np.where(expo >= 0, alpha ** np.maximum(expo, 0), 0.0) * (1.0 - alpha)
    decay = alpha ** (k + 1)  # how the carry fades inside a block
    return w, decay


def ema(values: np.ndarray, alpha: float, init: float | None = None) -> np.ndarray:
    """Exponential moving average ``y_t = alpha * y_{t-1} + (1 - alpha) * x_t``.

    ``y_{-1} = init`` (default ``x_0``, so that ``y_0 = x_0``): pass the last
    smoothed value to continue an average over new points. Vectorised in blocks
    of 64: within a block, one matrix product; only the carry between blocks is
    a Python loop (n / 64 iterations). (N,) -> (N,).
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0 or alpha <= 0.0:
        return x.copy()
    nb = -(-n // _BLOCK)
    xb = np.empty(nb * _BLOCK)
    xb[:n] = x
    xb[n:] = x[-1]  # (padding: the last block's tail is cut off below)
    xb = xb.reshape(nb, _BLOCK)  # (nb, L)
    w, decay = _ema_weights(alpha)
    inner = xb @ w.T  # (nb, L): block-internal sums, zero initial state
    carries = []  # the state entering each block: a scalar recurrence over the blocks' last sums
    carry = float(x[0]) if init is None else float(init)
    fade = float(decay[-1])
    for last in inner[:, -1].tolist():
        carries.append(carry)
        carry = last + fade * carry
    out = inner + np.array(carries)[:, None] * decay
    return out.ravel()[:n]


class _ReadableAxis(pg.AxisItem):
    """An axis whose major ticks are never closer than their labels need (pyqtgraph's spacing ran
    "200400600800" together on a narrow plot and stacked "4 3 2 1" on a short one at 720p); a log
    axis keeps whole decades (1, 0.01, not 10^-1.5 = "0.03")."""

    def label_px(self, min_val: float, max_val: float) -> float:
        """Pixels along the axis one tick label needs."""
        fm = QtGui.QFontMetricsF(self.style.get("tickFont") or self.font())
        if self.orientation in ("left", "right"):
            return fm.height() + 2
        return fm.horizontalAdvance(f"{max(abs(min_val), abs(max_val)):.0f}") + 14

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph names)
        levels = super().tickSpacing(minVal, maxVal, size)
        dif = abs(maxVal - minVal)
        if not levels or dif == 0 or size <= 0:
            return levels
        room = dif * self.label_px(minVal, maxVal) / size  # the smallest spacing whose labels fit
        keep = [lv for lv in levels if lv[0] >= room]
        if len(keep) == len(levels):
            return levels
        if self.logMode:
            keep = [lv for lv in keep if float(lv[0]).is_integer()]
            return keep or [(float(np.ceil(room)), 0)]
        return keep or [(nice_ceil(room), 0)]


class _LogAxis(_ReadableAxis):
    """A y axis whose log-scale ticks are 1, 2, 5 x 10^k (pyqtgraph labels all of 1..9, which overlap)."""

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 (pyqtgraph names)
        out = []
        for spacing, values in super().logTickValues(minVal, maxVal, size, stdTicks):
            if spacing is None:
                values = [v for v in values if round(10 ** (v - np.floor(v))) in (1, 2, 5)]
            out.append((spacing, values))
        return out


_OFFSETS = (QtGui.QTransform.fromTranslate(-1, 0), QtGui.QTransform.fromTranslate(0, -1))
STRIP_MARGIN_PX = 4  # a strip repaint reaches this far past the new points (pen offsets, the last column)
_ANTIALIAS = QtGui.QPainter.RenderHint.Antialiasing  # (PySide6 enum lookups cost a microsecond each: paint-time constants)
_VISIBLE_CHANGED = QtWidgets.QGraphicsItem.GraphicsItemChange.ItemVisibleHasChanged


class PeakBins:
    """The minimum and maximum of y in each of ``columns`` equal bins of ``[x0, x1]`` (a plot's pixel
    columns), folded in as points arrive (x ascending), plus the nearest point on each side of the
    range (a line enters and leaves the view). Adding k points costs O(k): a live curve never
    re-reads its whole history to be drawn."""

    def __init__(self, x0: float, x1: float, columns: int):
        self.x0, self.x1, self.columns = float(x0), float(x1), max(int(columns), 1)
        self._scale = self.columns / (self.x1 - self.x0) if self.x1 > self.x0 else 0.0
        self.lo = np.full(self.columns, np.nan)
        self.hi = np.full(self.columns, np.nan)
        self.bx = np.full(self.columns, np.nan)  # x of each bin's first point
        self.count = 0  # points inside [x0, x1]
        self.last = -1  # the highest filled bin (points come in ascending x: no filled bin after it)
        self.left: tuple[float, float] | None = None  # the last point before x0
        self.right: tuple[float, float] | None = None  # the first point after x1

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """Fold in points whose x are ascending and not before any added earlier."""
        if x.size == 0:
            return
        # (usually every new point is in view: two comparisons instead of two searches)
        a = 0 if x[0] >= self.x0 else int(np.searchsorted(x, self.x0, side="left"))
        b = x.size if x[-1] <= self.x1 else int(np.searchsorted(x, self.x1, side="right"))
        if a > 0:
            self.left = (float(x[a - 1]), float(y[a - 1]))
        if b < x.size and self.right is None:
            self.right = (float(x[b]), float(y[b]))
        if b <= a:
            return
        xs, ys = x[a:b], y[a:b]
        self.count += xs.size
        k = ((xs - self.x0) * self._scale).astype(np.intp)
        np.minimum(k, self.columns - 1, out=k)
        change = np.empty(k.size, dtype=bool)  # (sorted: one run of points per bin)
        change[0] = True
        np.not_equal(k[1:], k[:-1], out=change[1:])
        starts = change.nonzero()[0]  # (np.flatnonzero's wrappers cost as much as the search)
        kb = k[starts]
        # (fmin/fmax skip NaN; training never records inf: it stops first)
        self.lo[kb] = np.fmin(self.lo[kb], np.fmin.reduceat(ys, starts))
        self.hi[kb] = np.fmax(self.hi[kb], np.fmax.reduceat(ys, starts))
        # x ascending and after every earlier point: all bins but the first are new (empty), the
        # first may hold points already
        self.bx[kb[1:]] = xs[starts[1:]]
        if self.bx[kb[0]] != self.bx[kb[0]]:  # (NaN: empty)
            self.bx[kb[0]] = xs[0]
        self.last = int(kb[-1])

    def points(self, x0: float | None = None, x1: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each non-empty bin's (x, min) and (x, max), with the neighbours outside the range
        (<= 2 * columns + 2,); between ``x0`` and ``x1`` only: the bins there and one on each side
        (a repaint of a strip of the plot)."""
        a, b = 0, self.columns
        if x0 is not None and x0 > self.x0:
            a = min(int((x0 - self.x0) * self._scale), self.columns)
        if x1 is not None and x1 < self.x1:
            b = min(max(int((x1 - self.x0) * self._scale) + 1, a), self.columns)
        bx_all = self.bx
        if a > 0:  # the line comes in from the nearest filled bin before (or the left neighbour)
            if bx_all[a - 1] == bx_all[a - 1]:  # (the usual case, a dense line: the bin just before)
                a -= 1
            else:
                before = np.flatnonzero(~np.isnan(bx_all[:a]))
                a = int(before[-1]) if before.size else 0
        if b < self.columns:  # ... and goes on to the nearest after (or the right neighbour)
            if b > self.last:  # (the live end of the line: nothing filled after it)
                b = self.columns
            elif bx_all[b] == bx_all[b]:
                b += 1
            else:
                after = np.flatnonzero(~np.isnan(bx_all[b:]))
                b = b + int(after[0]) + 1 if after.size else self.columns
        bx = bx_all[a:b]
        used = ~np.isnan(bx)
        m = int(np.count_nonzero(used))
        xs = np.empty(2 * m)
        ys = np.empty(2 * m)
        xs[0::2] = xs[1::2] = bx[used]
        ys[0::2] = self.lo[a:b][used]
        ys[1::2] = self.hi[a:b][used]
        if self.left is not None and a == 0:
            xs, ys = np.r_[self.left[0], xs], np.r_[self.left[1], ys]
        if self.right is not None and b == self.columns:
            xs, ys = np.r_[xs, self.right[0]], np.r_[ys, self.right[1]]
        return xs, ys


class _ViewItem(pg.GraphicsObject):
    """An item whose bounding rect is its plot's view (it may draw anywhere in it)."""

    _view_geometry: Any = ()  # the plot area last told to Qt (() : not yet)

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802
        vb = self.getViewBox()
        return vb.viewRect() if vb is not None else QtCore.QRectF()

    def viewTransformChanged(self) -> None:  # noqa: N802 (pyqtgraph hook: the view moved or resized)
        """Tell Qt the geometry changes only when the plot area moved or resized in the scene. A new range
        alone changes the bounding rect in the item's coordinates, not the plot area it maps to: the scene's
        records of the item stay right, and the range change repaints that area anyway (Qt would mark it
        dirty once more per line for nothing)."""
        super().viewTransformChanged()
        vb = self.getViewBox()
        r = vb.sceneBoundingRect() if isinstance(vb, pg.ViewBox) else None  # (not yet in a plot: the GraphicsView)
        key = None if r is None else (r.x(), r.y(), r.width(), r.height())
        if key != self._view_geometry:
            self._view_geometry = key
            self.prepareGeometryChange()


class LiveCurve(_ViewItem):
    """A live line (with optional round markers) that costs little per frame however long the run.

    ``setData`` only keeps the arrays; at paint time the points in view are drawn as they are when
    there are at most two per pixel column, else as each column's minimum and maximum
    (:class:`PeakBins`: spikes survive). ``setData(..., appended=k)`` says only the last k points are
    new: they are folded into the columns (O(k)), so a frame of a long run costs what its new points
    cost. The path is kept until the data, the view or the size change. Its bounding rect is the view (the line may go anywhere in it), so an
    update repaints the plot area only, never the axes. A 2 px solid pen is painted as three 1 px
    lines offset by one device pixel (nearly the same pixels; the raster engine's 1 px cosmetic
    polyline is its fast path, a 2 px one costs 5x more). Log y (``setLogMode``) draws log10(y).

    Appended points repaint only the strip of the plot they fall in (from the last old point to the
    newest, a few pixels wider): Qt then repaints that strip of the view alone, and each curve draws
    only its points in it. A live frame's repaint costs what its new pixel columns cost, not the
    plot's whole width; what is left of the strip is the previous frame's pixels, which the new
    points do not change (a test compares strip-by-strip drawing with a full redraw)."""

    def __init__(self, pen: QtGui.QPen, name: str | None = None):
        super().__init__()
        self.opts: dict[str, Any] = {"pen": pen, "name": name, "symbol": None, "symbolSize": 6,
                                     "symbolPen": None, "symbolBrush": None}
        self.xData: np.ndarray | None = None
        self.yData: np.ndarray | None = None
        self._log_y = False
        self._version = 0
        self._bins: PeakBins | None = None  # for the view it was made for (None: fold everything again)
        self._grid: tuple | None = None
        self._new = 0  # points appended since the last fold
        self._path_version = -1
        self._path: QtGui.QPainterPath | None = None
        self._points: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self.painted_points = 0  # points in the path last painted (bounded by twice the plot's width)
        self.strip_updates = 0  # repaints asked for a strip only (appended points)
        self.strip_paints = 0  # paints that drew strips only
        self._px: float | None = None  # a pixel's width in x data units (None: measure it again)
        self._layer: CurveLayer | None = None  # the item that paints this one (None: it paints itself)
        if pen.widthF() == 2.0 and pen.isCosmetic() and pen.style() == QtCore.Qt.PenStyle.SolidLine:
            thin = QtGui.QPen(pen)
            thin.setWidthF(1.0)
            self._pens: tuple[QtGui.QPen, tuple] = (thin, _OFFSETS)  # see the class doc
        else:
            self._pens = (pen, ())
        # paint() gets the exposed part of the item (its strip) in option.exposedRect
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    # -- the PlotDataItem calls the panel and its tests use ---------------------------------------------
    def name(self) -> str | None:
        return self.opts["name"]

    def setData(self, x: np.ndarray, y: np.ndarray, appended: int | None = None, resampled: bool = False,  # noqa: N802
                **_: Any) -> None:
        """The whole data; ``appended``: only its last ``appended`` points are new (the rest as before).
        ``resampled``: the points before them are a coarser version of the old ones (the bounded history
        averaged older points, over the same steps): what is drawn of them stays, no repaint."""
        x = np.asarray(x, dtype=np.float64)
        old = 0 if self.xData is None else self.xData.size
        incremental = appended is not None and self._bins is not None and (
            x.size - int(appended) == old or (resampled and self._bins.count > 2 * self._grid[2]))
        if incremental:
            self._new += int(appended)
        else:
            self._bins = None  # everything changed: fold it all again at the next paint
        self.xData = x
        self.yData = np.asarray(y, dtype=np.float64)
        self._version += 1
        first = x.size - int(appended) if incremental else 0  # the first new point
        if incremental and first == x.size:  # nothing new: the picture stands
            return
        strip = self._strip(float(x[first - 1]), float(x[-1])) if incremental and first else None
        if strip is None:
            self.update()
        else:
            self.strip_updates += 1
            self.update(strip)

    def _margin(self) -> float:
        """STRIP_MARGIN_PX (plus a marker's size) in x data units."""
        px = self._px
        if px is None:  # (pyqtgraph maps two points to get it: kept until the view changes)
            vb = self.getViewBox()
            px = self._px = vb.viewPixelSize()[0] if vb is not None else 0.0
        marker = self.opts["symbolSize"] if self.opts["symbol"] is not None else 0
        return (STRIP_MARGIN_PX + marker) * px

    def _strip(self, x0: float, x1: float) -> QtCore.QRectF | None:
        """The part of the view between x0 and x1 (all its height), a margin wider; None: no view."""
        vb = self.getViewBox()
        if vb is None:
            return None
        view = vb.viewRect()
        m = self._margin()
        return QtCore.QRectF(x0 - m, view.top(), (x1 - x0) + 2 * m, view.height())

    def getOriginalDataset(self) -> tuple[np.ndarray | None, np.ndarray | None]:  # noqa: N802
        return self.xData, self.yData

    def setSymbol(self, symbol: str | None) -> None:  # noqa: N802
        self.opts["symbol"] = symbol
        self.update()

    def setSymbolSize(self, size: float) -> None:  # noqa: N802
        self.opts["symbolSize"] = size

    def setSymbolPen(self, pen: QtGui.QPen) -> None:  # noqa: N802
        self.opts["symbolPen"] = pen

    def setSymbolBrush(self, brush: QtGui.QBrush) -> None:  # noqa: N802
        self.opts["symbolBrush"] = brush

    def setLogMode(self, x: bool, y: bool) -> None:  # noqa: N802 (called by PlotItem.setLogMode)
        self._log_y = bool(y)
        self._bins = None
        self._version += 1
        self.prepareGeometryChange()
        self.update()

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple[float | None, float | None]:  # noqa: N802
        if self.xData is None or self.xData.size == 0:
            return None, None
        d = self.xData if ax == 0 else self._y()
        d = d[np.isfinite(d)]
        return (float(d.min()), float(d.max())) if d.size else (None, None)

    # -- geometry and painting -------------------------------------------------------------------------
    def _y(self, y: np.ndarray | None = None) -> np.ndarray:
        y = self.yData if y is None else y
        if not self._log_y:
            return y
        if y.size and y.min() > 0:  # (the usual case, a positive loss: no masks, no error-state switch)
            return np.log10(y)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)

    def viewTransformChanged(self) -> None:  # noqa: N802 (pyqtgraph hook: the view moved or resized)
        super().viewTransformChanged()
        self._px = None

    def update(self, *rect: Any) -> None:
        """Repaint (a strip of) the curve: its :class:`CurveLayer`, when it has one, paints it."""
        if self._layer is not None:
            self._layer.update(*rect)
        else:
            super().update(*rect)

    def itemChange(self, change: Any, value: Any) -> Any:  # noqa: N802 (Qt name)
        if change == _VISIBLE_CHANGED and self._layer is not None:
            self._layer.update()  # (an item without contents is not repainted by Qt when shown or hidden)
        return super().itemChange(change, value)

    def paint(self, p: QtGui.QPainter, opt: Any, widget: Any) -> None:
        if self.xData is None or self.xData.size == 0:
            return
        vb = self.getViewBox()
        if vb is None:
            return
        view = vb.viewRect()
        columns = max(int(vb.width()), 1)
        p.setRenderHint(_ANTIALIAS, False)
        self.draw_into(p, view, columns, self._exposed_strips(p, opt, widget, view))

    def draw_into(self, p: QtGui.QPainter, view: QtCore.QRectF, columns: int, strips: list[tuple[float, float]]) -> None:
        """Draw the line (antialiasing off) in ``view`` of ``columns`` pixels: in ``strips`` only (x ranges
        being repainted) when given and the columns are folded for this view, else all of it."""
        x = self.xData
        if x is None or x.size == 0:
            return
        grid = (view.left(), view.right(), columns, self._log_y)
        stale = self._bins is None or grid != self._grid  # a new view (or all new data): fold everything
        if stale:
            strips = []
        if strips:
            m = self._margin()
            if x[-1] < strips[0][0] - m or x[0] > strips[-1][1] + m:
                self.strip_paints += 1  # none of this line is in the strips (an evaluation curve between
                return  # its points, while the training curves grow): nothing to draw
        if stale:
            self._bins, self._grid, self._new = PeakBins(view.left(), view.right(), columns), grid, 0
            self._bins.add(x, self._y())
            self._path_version = -1
        elif self._new:  # only the new points
            n = self._new
            self._new = 0
            self._bins.add(x[-n:], self._y(self.yData[-n:]))
        if strips:  # strips of the plot: only their points (the rest of the plot keeps its pixels)
            self.strip_paints += 1
            if len(strips) == 1:
                a, b = strips[0]
                points = self._points_between(a - m, b + m, view, columns)
            else:  # one line per strip: a NaN breaks it between them
                parts = [self._points_between(a - m, b + m, view, columns) for a, b in strips]
                gap = np.array([np.nan])
                points = tuple(np.concatenate([a for part in parts for a in (part[i], gap)][:-1]) for i in (0, 1))
            if np.isfinite(points[1]).all():  # (the usual case: a polyline, cheaper than pyqtgraph's path)
                path = pg.functions.arrayToQPolygonF(*points)
            else:
                path = pg.arrayToQPath(points[0], points[1], connect="finite")
        else:  # the whole view, from the path kept until the data or the view change
            if self._path_version != self._version:
                self._points = self._points_between(view.left(), view.right(), view, columns)
                self._path = pg.arrayToQPath(*self._points, connect="finite")
                self._path_version = self._version
            self.painted_points = int(self._points[0].size)
            path, points = self._path, self._points
        draw = p.drawPolyline if isinstance(path, QtGui.QPolygonF) else p.drawPath
        pen, offsets = self._pens
        p.setPen(pen)
        draw(path)
        if offsets:
            t = p.worldTransform()
            for off in offsets:
                p.setWorldTransform(t * off)  # one device pixel left / up
                draw(path)
            p.setWorldTransform(t)
        if self.opts["symbol"] is not None:
            self._paint_markers(p, points)

    @staticmethod
    def _exposed_strips(p: QtGui.QPainter, opt: Any, widget: Any, view: QtCore.QRectF) -> list[tuple[float, float]]:
        """The x ranges (item coordinates) being repainted when they are narrow strips of the view (else []).
        Qt tells an item only the bounding rect of what is repainted: two strips far apart (new points in
        two plots side by side) would read as nearly the whole plot. A :class:`RegionView` keeps the exact
        region of its repaint, which is used when there is one."""
        exposed = opt.exposedRect if opt is not None else None
        if exposed is None:
            return []
        rects = [exposed]
        view_widget = widget.parent() if widget is not None else None
        region = getattr(view_widget, "paint_region", None)
        lo, hi = view.left(), view.right()
        if region is not None:
            t = p.worldTransform()
            key = (t.m11(), t.m22(), t.dx(), t.dy())  # the curves of one plot share it: worked out once a repaint
            cache = view_widget.region_strips
            strips = cache.get((key, lo, hi))
            if strips is not None:
                return strips
            inverse, ok = t.inverted()
            if ok:  # (new QRectFs: the option's exposedRect lives only as long as this call)
                rects = [inverse.mapRect(QtCore.QRectF(r)) for r in region]
                strips = cache[(key, lo, hi)] = LiveCurve._merged_strips(rects, lo, hi, view.width())
                return strips
        return LiveCurve._merged_strips(rects, lo, hi, view.width())

    @staticmethod
    def _merged_strips(rects: list[QtCore.QRectF], lo: float, hi: float, width: float) -> list[tuple[float, float]]:
        """The x ranges of ``rects`` within [lo, hi], merged; [] when they cover half the width or more."""
        strips = sorted((max(r.left(), lo), min(r.right(), hi)) for r in rects if r.right() >= lo and r.left() <= hi)
        merged: list[tuple[float, float]] = []
        for a, b in strips:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        if not merged or sum(b - a for a, b in merged) >= 0.5 * width:
            return []
        return merged

    def _points_between(self, x0: float, x1: float, view: QtCore.QRectF, columns: int) -> tuple[np.ndarray, np.ndarray]:
        """The points drawn between x0 and x1 (and one beyond each end): all of them as they are when
        there are at most two per pixel column in view, else the columns' minima and maxima."""
        if self._bins.count <= 2 * columns:
            x = self.xData
            lo = max(int(np.searchsorted(x, max(x0, view.left()), side="left")) - 1, 0)
            hi = min(int(np.searchsorted(x, min(x1, view.right()), side="right")) + 1, x.size)
            return x[lo:hi], self._y(self.yData[lo:hi])
        return self._bins.points(x0, x1)

    def _paint_markers(self, p: QtGui.QPainter, points: tuple[np.ndarray, np.ndarray]) -> None:
        """Round markers of ``symbolSize`` px at the points (sparse curves only): one drawPoints call
        with a round-capped cosmetic pen that wide."""
        x, y = points
        ok = np.isfinite(y)
        if not ok.any():
            return
        poly = pg.functions.arrayToQPolygonF(x[ok], y[ok])
        pen = QtGui.QPen((self.opts["symbolPen"] or self.opts["pen"]).color())
        pen.setWidthF(float(self.opts["symbolSize"]))
        pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
        pen.setCosmetic(True)
        p.save()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        p.setPen(pen)
        p.drawPoints(poly)
        p.restore()


class CurveLayer(_ViewItem):
    """Paints the :class:`LiveCurve` s of one plot, in the order they were added, as one item.

    Qt paints each item of a scene on its own: a call into Python with the painter, the style option and
    the widget wrapped, the exposed strips worked out again, a few boundingRect calls. A live frame
    repaints a strip of each plot, and a plot holds up to a dozen lines (raw and smoothed, evaluation
    curves, other runs): drawn by one item, the repaint costs what the lines' new points cost. The curves
    stay items of the plot (they hold the data and say what to repaint) but draw nothing themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.curves: list[LiveCurve] = []
        self.paints = 0
        self.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    @classmethod
    def of(cls, plot: pg.PlotItem) -> "CurveLayer":
        """The plot's layer (added to it on first use)."""
        layer = getattr(plot, "_curve_layer", None)
        if layer is None:
            layer = plot._curve_layer = cls()
            plot.addItem(layer, ignoreBounds=True)
        return layer

    def add(self, curve: LiveCurve) -> None:
        curve._layer = self
        curve.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        self.curves.append(curve)
        self.update()

    def discard(self, curve: LiveCurve) -> None:
        if curve in self.curves:
            self.curves.remove(curve)
            curve._layer = None
            curve.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, False)
            self.update()

    def paint(self, p: QtGui.QPainter, opt: Any, widget: Any) -> None:
        vb = self.getViewBox()
        if vb is None:
            return
        self.paints += 1
        view = vb.viewRect()
        columns = max(int(vb.width()), 1)
        strips = LiveCurve._exposed_strips(p, opt, widget, view)
        p.setRenderHint(_ANTIALIAS, False)
        for curve in self.curves:
            if curve.isVisible():
                curve.draw_into(p, view, columns, strips)


class RegionView(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget that keeps the region its viewport is repainting (``paint_region``, during
    the repaint): a :class:`LiveCurve` then draws only the points in it."""

    paint_region: QtGui.QRegion | None = None

    def paintEvent(self, ev: QtGui.QPaintEvent) -> None:  # noqa: N802 (Qt name)
        self.paint_region = ev.region()
        self.region_strips: dict[tuple, list[tuple[float, float]]] = {}  # the region's strips in each plot's coordinates
        try:
            super().paintEvent(ev)
        finally:
            self.paint_region = None


def _style_plot(plot: pg.PlotItem, ylabel: str) -> None:
    font = QtGui.QFont()
    font.setPointSize(11)
    for side in ("left", "bottom"):
        ax = plot.getAxis(side)
        ax.setTickFont(font)
        # tick labels may widen the axis but never narrow it: a width that follows every change of the
        # labels re-lays out both plots (and repaints every axis) frame after frame
        ax.setStyle(tickTextOffset=6, autoReduceTextSpace=False)
        ax.enableAutoSIPrefix(False)  # "0.002", not "2 (x0.001)": clearer for students
        # the axes' ticks reach into the plot, so every curve update repaints them: Qt keeps their pixels
        # and blits them instead of calling their (Python) paint, until the axis itself changes
        ax.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
    plot.setLabel("left", ylabel, **{"font-size": "12pt"})
    plot.setLabel("bottom", "training step", **{"font-size": "12pt"})
    # no grid: pyqtgraph draws it as part of the axes, which would then repaint (with all their
    # tick labels) whenever a curve changes; the crosshair readout gives exact values instead


def _central(y: np.ndarray) -> np.ndarray:
    """The 1st and 99th percentiles of ``y`` by rank (np.partition: a refit of a long run's view costs
    a tenth of np.percentile's interpolation, which the view's headroom does not need)."""
    n = y.size
    lo, hi = int(0.01 * (n - 1)), int(np.ceil(0.99 * (n - 1)))
    part = np.partition(y, (lo, hi))
    return part[[lo, hi]]


def _merge(a: tuple[float, float] | None, b: tuple[float, float] | None) -> tuple[float, float] | None:
    """The union of two (min, max) extents (None: empty)."""
    if a is None or b is None:
        return a if b is None else b
    return min(a[0], b[0]), max(a[1], b[1])


class _Curve:
    """One metric: a faint raw curve and a smoothed one. ``x``/``raw``/``y`` mirror the session's bounded
    history of the metric; new points are folded in (EMA state kept), and the whole is rebuilt from the
    history when core has averaged older points (the history then holds far fewer points than here)."""

    def __init__(self, plot: pg.PlotItem, metric: Metric, color: str, width: float = 2.0, raw: bool = True):
        c = QtGui.QColor(color)
        faint = QtGui.QColor(c)
        faint.setAlpha(50)
        self.color = c
        style = QtCore.Qt.PenStyle.DashLine if metric.baseline_of else QtCore.Qt.PenStyle.SolidLine
        self.raw = LiveCurve(pg.mkPen(faint, width=1)) if raw else None  # (another run's overlay: none)
        self.smooth = LiveCurve(pg.mkPen(c, width=width, style=style), name=metric.label)
        layer = CurveLayer.of(plot)
        for item in (self.raw, self.smooth):
            if item is not None:
                plot.addItem(item, ignoreBounds=True)  # (the panel fits the view itself: _autoscale)
                layer.add(item)
        self.metric = metric
        self.name = metric.name
        self.group = metric.group
        self.plot = plot
        self.enabled = True  # shown by the user (diagnostics start hidden)
        self.alpha = 0.0  # per-step smoothing the state below was computed with
        self.spacing: float | None = None  # typical steps between points (eval metrics: > 1)
        self._buf = np.empty((3, 0))  # x, raw y, smoothed y: room to grow (a frame appends, never copies all)
        self.x = np.empty(0)  # views of the first n columns of _buf
        self.raw_y = np.empty(0)
        self.y = np.empty(0)  # smoothed (or raw when smoothing is off), as drawn
        self.extent: tuple[float, float] | None = None  # (min, max) of the finite y (running)
        self.log_extent: tuple[float, float] | None = None  # (min, max) of log10 of the positive finite y

    @property
    def point_alpha(self) -> float:
        """Smoothing per recorded point: alpha is per training step, a point every k steps decays alpha**k."""
        return self.alpha ** max(self.spacing or 1.0, 1.0) if self.alpha > 0 else 0.0

    def set(self, steps: np.ndarray, values: np.ndarray, alpha: float) -> None:
        """Rebuild from a whole history (new curve, smoothing changed, shown again, history averaged)."""
        self.alpha = alpha
        self.spacing = None
        self._buf = np.empty((3, 0))
        self.x = self.raw_y = self.y = np.empty(0)
        self.extent = self.log_extent = None
        self.extend(steps, values)

    def follow(self, series: Any, steps: np.ndarray, values: np.ndarray) -> None:
        """New points of ``series`` (core's bounded history of this metric, which holds them already):
        folded in, or, when the history has averaged older points since, its coarser arrays taken (without
        redrawing the plot)."""
        if self.x.size > 2 * len(series):
            self.resample(*series.arrays(), np.asarray(steps).size)
        else:
            self.extend(steps, values)

    def resample(self, steps: np.ndarray, values: np.ndarray, new: int) -> None:
        """The history averaged older points: take its arrays (``new``: how many of their last points are
        new). The EMA is computed again (its memory lies in the full-resolution recent points, so the line
        goes on where it was); what is drawn of the older points stays (no repaint), the new ones are drawn."""
        s = np.asarray(steps, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if new > s.size or (new and self.x.size and s[s.size - new] <= self.x[-1]):
            self.set(s, v, self.alpha)  # (a frame so long that the history averaged some of its new points)
            return
        sm = ema(v, self.point_alpha) if self.alpha > 0 else v
        n = s.size
        self._buf = np.empty((3, max(2 * n, 1024)))
        self._buf[0, :n], self._buf[1, :n], self._buf[2, :n] = s, v, sm
        self.x, self.raw_y, self.y = self._buf[0, :n], self._buf[1, :n], self._buf[2, :n]
        # (the extents keep covering the older points as they were drawn)
        self._extend_extents(sm[n - new:] if new else sm[:0])
        if self.enabled:
            self.draw(new=new, resampled=True)

    def _extend_extents(self, sm: np.ndarray) -> None:
        if sm.size == 0:
            return
        lo, hi = float(sm.min()), float(sm.max())
        if math.isfinite(lo) and math.isfinite(hi):  # (the usual case: no filtering)
            self.extent = _merge(self.extent, (lo, hi))
            if lo > 0:
                self.log_extent = _merge(self.log_extent, (math.log10(lo), math.log10(hi)))
                return
        finite = sm[np.isfinite(sm)]
        if finite.size:
            self.extent = _merge(self.extent, (float(finite.min()), float(finite.max())))
            positive = finite[finite > 0]
            if positive.size:
                self.log_extent = _merge(self.log_extent, (float(np.log10(positive.min())),
                                                           float(np.log10(positive.max()))))

    def extend(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Fold in new points (steps after the last one) and redraw."""
        s = np.asarray(steps, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if s.size == 0:
            return
        if self.spacing is None:
            gaps = np.diff(np.append(self.x[-1:], s[:GAP_POINTS]))
            if gaps.size:
                self.spacing = float(np.median(gaps))
        sm = ema(v, self.point_alpha, float(self.y[-1]) if self.y.size else None) if self.alpha > 0 else v
        n, k = self.x.size, s.size
        if n + k > self._buf.shape[1]:  # amortised: the arrays double when full
            buf = np.empty((3, max(2 * (n + k), 1024)))
            buf[:, :n] = self._buf[:, :n]
            self._buf = buf
        self._buf[0, n:n + k] = s
        self._buf[1, n:n + k] = v
        self._buf[2, n:n + k] = sm
        self.x, self.raw_y, self.y = self._buf[0, :n + k], self._buf[1, :n + k], self._buf[2, :n + k]
        self._extend_extents(sm)
        if self.enabled:  # a hidden series only keeps its state; it is drawn when shown
            self.draw(new=s.size)

    def draw(self, new: int | None = None, resampled: bool = False) -> None:
        """Hand the data to the line items; ``new``: only the last ``new`` points changed (``resampled``:
        the older ones were averaged, see :meth:`LiveCurve.setData`)."""
        x = self.x
        # evaluation curves get markers; so does any curve of one or two points (a line needs two)
        sparse = ((self.spacing or 1.0) > 1.5 and x.size <= MAX_MARKER_POINTS) or x.size < 3
        if sparse != (self.smooth.opts.get("symbol") is not None):
            if sparse:
                self.smooth.setSymbol("o")
                self.smooth.setSymbolSize(6)
                self.smooth.setSymbolPen(pg.mkPen(self.color))
                self.smooth.setSymbolBrush(pg.mkBrush(self.color))
            else:
                self.smooth.setSymbol(None)
        if self.shows_raw:
            self.raw.setData(x, self.raw_y, appended=new, resampled=resampled)  # (training never records NaN)
            if not self.raw.isVisible() and self.enabled:
                self.raw.show()
        elif self.raw is not None and self.raw.isVisible():
            self.raw.hide()
        self.smooth.setData(x, self.y, appended=new, resampled=resampled)

    @property
    def shows_raw(self) -> bool:
        """The faint raw curve is drawn when smoothing makes a visible difference (an evaluation metric,
        recorded every k steps, is smoothed by alpha ** k: with 0.8 and k = 25, not at all)."""
        return self.raw is not None and self.point_alpha > RAW_MIN_ALPHA

    def remove(self) -> None:
        """Take the curve's lines off its plot."""
        for item in (self.raw, self.smooth):
            if item is not None:
                self.plot.removeItem(item)
                if item._layer is not None:
                    item._layer.discard(item)

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        if self.enabled:
            self.draw()
        self.smooth.setVisible(self.enabled)
        if self.raw is not None:
            self.raw.setVisible(self.enabled and self.shows_raw)

    def drawn_points(self) -> int:
        xd = self.smooth.xData
        return 0 if xd is None else int(len(xd))


class LossPanel(Panel):
    key = "loss"
    title = "Loss & metrics"
    draws = (MetricCurves,)

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self._curves: dict[str, _Curve] = {}
        self._overlays: dict[tuple[int, str], _Curve] = {}  # (run id, metric) -> another run's curve (no raw line)
        self._fork_lines: dict[int, pg.InfiniteLine] = {}
        self._metrics = metric_table(getattr(getattr(session, "spec", None), "cls", None).metrics
                                     if hasattr(getattr(session, "spec", None), "cls") else ())
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
        self.log_check.setToolTip("Logarithmic loss axis (the accuracy/perplexity plot keeps its linear scale). "
                                  "Turned on by itself once a loss has fallen a hundredfold, until you choose.")
        self.log_check.toggled.connect(self._on_log)
        self.log_check.clicked.connect(lambda _: setattr(self, "_log_chosen", True))
        self._log_chosen = False  # the user clicked "log y": no automatic switching any more
        self.smooth_slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setValue(80)
        self.smooth_slider.setMaximumWidth(180)
        self.smooth_slider.setToolTip("Exponential moving average of the curves (0 = raw)")
        self.smooth_label = QtWidgets.QLabel()
        self.smooth_slider.valueChanged.connect(self._on_smoothing)
        self.series_button = QtWidgets.QToolButton()
        self.series_button.setText("series ▾")
        self.series_button.setToolTip("Show or hide curves (or click their legend entries). Diagnostics such as "
                                      "grad_norm start hidden.")
        self.series_button.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
        self.series_menu = QtWidgets.QMenu(self.series_button)
        self.series_button.setMenu(self.series_menu)
        self.series_actions: dict[str, QtGui.QAction] = {}
        self.readout = QtWidgets.QLabel(READOUT_HINT)
        self.readout.setObjectName("readout")
        self.readout.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.readout.setMinimumWidth(0)  # a long readout is clipped, it does not widen the panel
        self.readout.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        controls = QtWidgets.QHBoxLayout()
        controls.addWidget(self.follow_check)
        controls.addWidget(self.log_check)
        controls.addWidget(self.series_button)
        controls.addSpacing(12)
        controls.addWidget(QtWidgets.QLabel("smoothing"))
        controls.addWidget(self.smooth_slider)
        controls.addWidget(self.smooth_label)
        controls.addSpacing(12)
        controls.addWidget(self.readout, 1)

        # plots
        self.graphics = RegionView()
        self.loss_plot = self.graphics.addPlot(row=0, col=0, axisItems={"left": _LogAxis("left"),
                                                                        "bottom": _ReadableAxis("bottom")})
        self.metric_plot = self.graphics.addPlot(row=1, col=0, axisItems={"left": _LogAxis("left"),
                                                                          "bottom": _ReadableAxis("bottom")})
        _style_plot(self.loss_plot, "loss")
        _style_plot(self.metric_plot, "metric")
        self.metric_plot.setXLink(self.loss_plot)
        for plot in (self.loss_plot, self.metric_plot):
            # our own auto-scale with hysteresis: the axes (costly to paint) change only now and then
            plot.getViewBox().disableAutoRange()
            plot.getViewBox().sigRangeChangedManually.connect(lambda *_: self.follow_check.setChecked(False))
            plot.hideButtons()
            eager_view_transform(plot)  # (else each widening of the view by the auto-scale repainted it twice)
        # the legend sits above the plots (never on the curves); click a name to show or hide its series
        self.legend = LegendStrip()
        self.legend.toggled.connect(self.set_series_visible)
        self.metric_plot.hide()
        self._side_by_side = False
        self.graphics.installEventFilter(self)  # the readout goes when the mouse leaves the plots
        self.loss_plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._place_marker_labels())
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
        layout.addWidget(self.legend)
        layout.addWidget(self.graphics, 1)
        self._on_smoothing(self.smooth_slider.value())

        session.metrics_reset.connect(self._on_reset)
        session.live_param_changed.connect(self._on_live_param)
        if hasattr(session, "run_points"):
            session.run_points.connect(self._on_run_points)
            session.runs_changed.connect(self._on_runs_changed)
        from visualizer.widgets.timeline import EventMarkers

        self.event_markers = EventMarkers(self, session)  # run events, the replayed step; a click replays

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
        if not self.isVisible():
            self._needs_redraw = True  # a hidden panel does no work
            return
        if self._needs_redraw:
            self.redraw()
            return
        history = self.session.history
        for name, (steps, values) in snapshot.metrics.items():  # only the new points, folded in
            curve = self._curves.get(name)
            if curve is None:
                if name in history:
                    self._new_curve(name, *history.arrays(name))
            elif steps.size:
                curve.follow(history.series(name), steps, values)
        self._autoscale()

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if self._needs_redraw:
            self.redraw()

    def _on_experiment(self, spec: Any) -> None:
        self._metrics = metric_table(getattr(spec.cls, "metrics", ()))
        self._on_reset()

    def _on_reset(self) -> None:
        self._clear_overlays()
        for c in self._curves.values():
            c.remove()
        self._curves.clear()
        self.series_menu.clear()
        self.series_actions.clear()
        for line in self.markers:
            self.loss_plot.removeItem(line)
        self.markers.clear()
        self._marker_data.clear()
        self.metric_plot.hide()
        self.loss_plot.showLabel("bottom", True)
        self.legend.clear()
        self.follow_check.setChecked(True)  # a new run: show it whole
        for plot in (self.loss_plot, self.metric_plot):  # no axes left over from the previous run
            plot.getViewBox().setRange(xRange=(0, 100), yRange=(0, 1), padding=0)
        self._hide_readout()
        self._arrange_plots()
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
        self._place_marker_labels()
        if len(self.markers) > MAX_MARKERS:
            old = self.markers.pop(0)
            self._marker_data.pop(0)
            self.loss_plot.removeItem(old)

    # -- drawing -------------------------------------------------------------------
    def redraw(self, names: Any = None) -> None:
        """Rebuild the curves of ``names`` (default: all) from ``session.history`` (bounded).

        Used when the panel is shown again or the smoothing changes; new points
        during training are folded in incrementally by ``_on_metrics`` instead.
        """
        self._needs_redraw = False
        history = self.session.history
        alpha = self.alpha
        for name in history.names() if names is None else [n for n in names if n in history]:
            steps, values = history.arrays(name)
            if steps.size == 0:
                continue
            curve = self._curves.get(name)
            if curve is None:
                self._new_curve(name, steps, values)
            else:
                curve.set(steps, values, alpha)
        if names is None and hasattr(self.session, "run_points"):  # other runs' curves, from their histories
            self._clear_overlays()  # (points that came while the panel was hidden were not folded in)
            for rid in self._overlay_runs():
                self._draw_overlay(rid)
        self._autoscale()

    def _new_curve(self, name: str, steps: np.ndarray, values: np.ndarray) -> _Curve:
        """A curve on the loss plot (losses on the training loss's scale) or the metric plot
        (headline metrics; diagnostics too, hidden until the user shows them)."""
        metric = describe(name, self._metrics)
        group = metric.group
        ref = self._curves.get("loss")
        if group == "loss" and ref is not None and ref.y.size and values.size:
            ratio = abs(float(values[-1])) / max(abs(float(ref.y[-1])), 1e-12)
            if not 0.1 <= ratio <= 10:  # e.g. a summed loss would flatten the mean loss
                group = "diagnostic"
        plot = self.loss_plot if group == "loss" else self.metric_plot
        palette = COLORS if plot is self.loss_plot else METRIC_COLORS
        k = sum(c.plot is plot for c in self._curves.values())  # colours per plot
        if group != metric.group:
            metric = Metric(metric.name, group, metric.direction, metric.unit, metric.baseline_of, metric.title)
        curve = self._curves[name] = _Curve(plot, metric, palette[k % len(palette)])
        curve.set(steps, values, self.alpha)
        if group != "diagnostic":
            self.legend.add(name, metric.label, curve.smooth.opts["pen"])
        action = QtGui.QAction(metric.label, self.series_menu)
        action.setCheckable(True)
        action.setChecked(group != "diagnostic")
        action.toggled.connect(lambda on, n=name: self.set_series_visible(n, on))
        self.series_menu.addAction(action)
        self.series_actions[name] = action
        if group == "diagnostic":
            curve.set_enabled(False)  # listed in the "series" menu only, until shown once
        if plot is self.metric_plot:
            self.metric_plot.show()
            self._update_metric_label()
            self._arrange_plots()
        return curve

    def set_series_visible(self, name: str, on: bool) -> None:
        """Show or hide one metric's curves; its legend entry stays (greyed when hidden) to click it back."""
        curve = self._curves.get(name)
        if curve is None or curve.enabled == bool(on):
            self.legend.set_checked(name, bool(on) if curve is not None else False)
            return
        curve.set_enabled(on)
        for (rid, n), item in self._overlays.items():  # other runs' curves of that series follow (shown again:
            if n == name and not on:  # drawn afresh with their next points or the next redraw)
                item.smooth.setVisible(False)
        if on and self.legend.entry(name) is None:  # a diagnostic shown for the first time
            self.legend.add(name, curve.metric.label, curve.smooth.opts["pen"])
        self.legend.set_checked(name, on)
        action = self.series_actions.get(name)
        if action is not None and action.isChecked() != bool(on):
            action.blockSignals(True)
            action.setChecked(bool(on))
            action.blockSignals(False)
        if curve.plot is self.metric_plot:
            self._update_metric_label()
        self._autoscale(force=True)

    def visible_series(self) -> list[str]:
        """Names of the metrics whose curves are shown."""
        return [n for n, c in self._curves.items() if c.enabled]

    def _update_metric_label(self) -> None:
        shown = [c.metric for c in self._curves.values() if c.plot is self.metric_plot and c.enabled]
        text = quality_label(shown)
        room = self.metric_plot.getViewBox().height()
        font = QtGui.QFont()
        font.setPointSize(12)
        if room > 1 and QtGui.QFontMetricsF(font).horizontalAdvance(text) > room - 4:  # a short plot (720p)
            text = SHORT_LABELS.get(text, text)  # the legend and the series menu name it in full
        if text != self.metric_plot.getAxis("left").labelText:
            self.metric_plot.setLabel("left", text, **{"font-size": "12pt"})
        # one "training step" label under the lower plot is enough (side by side: one under each)
        self.loss_plot.showLabel("bottom", self._side_by_side or not self.metric_plot.isVisible())

    def _arrange_plots(self) -> None:
        """Stacked (the default), or side by side when the panel is short and wide: both stay readable."""
        h, w = self.graphics.height(), self.graphics.width()
        side = self.metric_plot.isVisible() and h < SIDE_BY_SIDE_H and w >= 2.2 * h and w > 380

        if side == self._side_by_side:
            return
        self._side_by_side = side
        lay = self.graphics.ci
        lay.removeItem(self.metric_plot)
        lay.addItem(self.metric_plot, row=0 if side else 1, col=1 if side else 0)
        self._update_metric_label()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        # a short panel (a 720p screen) gives the plots the room: the legend strip folds away (the "series"
        # menu lists and toggles every curve, and the curves keep their colours)
        self.legend.setVisible(self.height() >= LEGEND_MIN_PANEL_H)
        QtCore.QTimer.singleShot(0, self, self._after_resize)

    def _after_resize(self) -> None:
        self._arrange_plots()
        self._update_metric_label()  # (a label longer than the plot is tall is abbreviated)
        if self.readout.text() in (READOUT_HINT, ""):
            self.readout.setText(self._readout_hint())

    def _readout_hint(self) -> str:
        """The hover hint where it fits, else nothing (at 1280 px it read "hover a", cut at the dock's edge)."""
        fits = self.readout.fontMetrics().horizontalAdvance(READOUT_HINT) <= self.readout.width()
        return READOUT_HINT if fits else ""

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        if obj is self.graphics and event.type() == QtCore.QEvent.Type.Leave:
            self._hide_readout()
        return super().eventFilter(obj, event)

    def _hide_readout(self) -> None:
        for line in self._cursor_lines:
            line.hide()
        self.readout.setText(self._readout_hint())

    def _place_marker_labels(self) -> None:
        """A change marker's label reads to the right of its line, or to the left in the right half of
        the view, so that it is never cut at the plot's right edge."""
        (x0, x1), _ = self.loss_plot.getViewBox().viewRange()
        mid = 0.5 * (x0 + x1)
        for line in self.markers:
            left = line.value() > mid
            anchors = [(1, 0.5), (1, 0.5)] if left else [(0, 0.5), (0, 0.5)]
            if line.label.anchors != anchors:
                line.label.anchors = anchors
                line.label.updatePosition()

    def _autoscale(self, force: bool = False) -> None:
        """Fit the view to the data, but only when the data leave the view or fill too little of it."""
        if not self.follow_check.isChecked():
            return
        x_hi = None
        for plot in (self.loss_plot, self.metric_plot):
            curves = [c for c in self._curves.values() if c.plot is plot and c.x.size and c.enabled]
            if not curves:
                continue
            log = self.log_check.isChecked() and plot is self.loss_plot
            lo_hi = None  # the smoothed curves' (kept up to date as points are folded in)
            for c in curves:
                lo_hi = _merge(lo_hi, c.log_extent if log else c.extent)
            if lo_hi is None:
                continue
            lo, hi = lo_hi
            if plot is self.loss_plot and not log and not self._log_chosen and lo > 0 and hi / lo >= AUTO_LOG_RATIO:
                self.log_check.setChecked(True)  # a loss that fell a hundredfold reads better on a log axis
                return  # (_on_log rescaled)
            (_, _), (v_lo, v_hi) = plot.getViewBox().viewRange()
            if force or lo < v_lo or hi > v_hi or (hi - lo) < 0.5 * (v_hi - v_lo):
                # refit: the raw curves count too, without their extreme 1% spikes
                raws = [_central(c.raw_y) for c in curves if c.raw.isVisible() and c.raw_y.size]
                ext = self._y_extent(raws, log) if raws else None
                if ext is not None:
                    lo, hi = min(lo, ext[0]), max(hi, ext[1])
                if not log and all(c.metric.direction == "higher" for c in curves) and lo >= 0 and hi <= 1:
                    lo, hi = 0.0, 1.0  # accuracies: the whole 0..1 scale, fixed (progress reads at a glance)
                # headroom, so that the axes change only now and then; a flat curve gets +-5% (or +-0.05)
                pad = (hi - lo) * 0.08 if hi - lo > 1e-6 * max(abs(hi), 1.0) else max(abs(hi) * 0.05, 0.05)
                # a curve leaving the view (a falling loss, a rising accuracy) gets room to go on in
                # that direction: the axes (costly to repaint) then change only now and then
                lo_pad = LEAVING_PAD * pad if not force and lo < v_lo else pad
                hi_pad = LEAVING_PAD * pad if not force and hi > v_hi else pad
                plot.getViewBox().setYRange(lo - lo_pad, hi + hi_pad, padding=0)
            x_hi = max(x_hi or 0.0, max(float(c.x[-1]) for c in curves))
        if x_hi is not None:
            (v_lo, v_hi), _ = self.loss_plot.getViewBox().viewRange()
            x_lo = min(float(c.x[0]) for c in self._curves.values() if c.x.size and c.enabled)
            if force or x_hi > v_hi or x_lo < v_lo or x_hi < 0.4 * v_hi:
                # room to grow to a round step count at least 1.3x the run (the curves fill 65-77% of the
                # width): the axes and every curve (costly to repaint whole) change a few times per tenfold
                self.loss_plot.getViewBox().setXRange(x_lo, x_lo + nice_ceil(X_GROWTH * max(x_hi - x_lo, 1.0)),
                                                      padding=0)

    @staticmethod
    def _y_extent(arrays: list[np.ndarray], log: bool) -> tuple[float, float] | None:
        """(min, max) of the finite values (log10 of the positive ones when ``log``); None if there are none."""
        y = np.concatenate(arrays)
        if log:
            y = np.log10(y[y > 0])
        y = y[np.isfinite(y)]
        if y.size == 0:
            return None
        return float(y.min()), float(y.max())

    def _on_log(self, on: bool) -> None:
        self.loss_plot.setLogMode(x=False, y=on)  # accuracy/perplexity keep their linear axis
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
        self._hide_readout()  # off the plots: no stale values


    def show_readout(self, step: float) -> str:
        """Put the crosshair at ``step`` and show every curve's (smoothed) value there; returns the text."""
        parts = [f"<b>step {int(round(step))}</b>"]
        for name, c in self._curves.items():
            if c.x.size == 0 or not c.enabled:
                continue
            i = int(np.clip(np.searchsorted(c.x, step), 0, c.x.size - 1))
            if i > 0 and abs(c.x[i - 1] - step) < abs(c.x[i] - step):
                i -= 1
            color = c.smooth.opts["pen"].color().name()
            parts.append(f"<span style='color:{color}'>{c.metric.label} {c.y[i]:.4g}</span>")
        for line in self._cursor_lines:
            line.setPos(step)
            line.show()
        text = " · ".join(parts)
        self.readout.setText(text)
        return text

    # -- other runs, overlaid ----------------------------------------------------------------------------
    def overlaid(self) -> dict[int, list[str]]:
        """Run id -> the metrics of that run drawn over the shown run's curves (for tests)."""
        out: dict[int, list[str]] = {}
        for (rid, name), item in self._overlays.items():
            if item.smooth.isVisible():
                out.setdefault(rid, []).append(name)
        return out

    def _overlay_runs(self) -> list[int]:
        """Other runs of the same experiment whose curves are shown."""
        s = self.session
        return [r.id for r in s.runs if r.id != s.selected and r.id not in s.hidden_runs and r.spec.cls is s.spec.cls]

    def _on_run_points(self, run: int, snapshot: Snapshot) -> None:
        if self.isVisible() and run in self._overlay_runs():
            self._draw_overlay(run, snapshot)

    def _on_runs_changed(self, runs: Any) -> None:
        wanted = set(self._overlay_runs())
        for key in [k for k in self._overlays if k[0] not in wanted]:
            self._overlays.pop(key).remove()
        for rid in [r for r in self._fork_lines if r not in wanted]:
            self.loss_plot.removeItem(self._fork_lines.pop(rid))
        for rid in wanted:
            self._draw_overlay(rid)

    def _draw_overlay(self, run: int, snapshot: Snapshot | None = None) -> None:
        """Run ``run``'s curves (its smoothed loss-plot metrics and the shown quality metrics) in its colour,
        and a line at the step it was forked from the shown run's lineage. ``snapshot``: that run's new
        points, folded in as the shown run's are (a strip repainted, not the plot); without one, or when the
        smoothing changed or the run started again, a curve is built from the run's history."""
        from visualizer.panels.runs import run_color

        history = self.session.histories.get(run)
        info = self.session.run_info(run)
        if history is None or info is None:
            return
        color = QtGui.QColor(run_color(run))
        for name, curve in self._curves.items():
            item = self._overlays.get((run, name))
            if not curve.enabled or curve.group == "diagnostic" or name not in history:
                if item is not None and item.smooth.isVisible():
                    item.smooth.setVisible(False)
                continue
            steps, _ = snapshot.metrics.get(name, ((), ())) if snapshot is not None else ((), ())
            new = np.asarray(steps)
            if item is None or item.alpha != self.alpha or not item.x.size or (new.size and new[0] <= item.x[-1]):
                x, v = history.arrays(name)
                if x.size == 0:
                    continue
                if item is None:
                    item = self._overlays[(run, name)] = _Curve(curve.plot, curve.metric, color.name(), width=1.5,
                                                                raw=False)
                    item.smooth.setToolTip(f"{info.name}: {curve.metric.label}")
                item.set(x, v, self.alpha)
            elif new.size:
                item.follow(history.series(name), new, snapshot.metrics[name][1])
            if not item.smooth.isVisible():
                item.smooth.setVisible(True)
        if info.parent is not None and info.fork_step and run not in self._fork_lines:
            line = pg.InfiniteLine(pos=info.fork_step, angle=90, movable=False,
                                   pen=pg.mkPen(color, width=1, style=QtCore.Qt.PenStyle.DotLine),
                                   label=f"fork → {info.name}", labelOpts={"position": 0.08, "color": color.name(),
                                                                          "fill": (0, 0, 0, 170)})
            self.loss_plot.addItem(line, ignoreBounds=True)
            self._fork_lines[run] = line

    def _clear_overlays(self) -> None:
        for item in self._overlays.values():
            item.remove()
        self._overlays.clear()
        for line in self._fork_lines.values():
            self.loss_plot.removeItem(line)
        self._fork_lines.clear()
