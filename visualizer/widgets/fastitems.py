"""Light pyqtgraph items for panels that redraw at every probe or timestep.

pyqtgraph's general items pay for their generality at every update: ``BarGraphItem`` re-records a
QPicture of its rects in Python, ``ScatterPlotItem`` rebuilds its spots and symbol atlas, ``ImageItem``
builds an Indexed8 QImage whose colour table the raster engine converts at every scaled draw. These
items keep the same look and the small part of the API the panels (and their tests) use, with the
work per update reduced to storing arrays.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui


def _set_view_transform(vb: pg.ViewBox, *_: Any) -> None:
    vb.updateMatrix()


def eager_view_transform(*plots: pg.PlotItem) -> None:
    """Give each plot's view its new transform as soon as its range or size changes, not at the next repaint.
    pyqtgraph sets it lazily, in the view's paint event; a transform changed while painting makes Qt repaint
    the plot a second time right after (every time a panel sets a new range or the layout resizes it)."""
    for plot in plots:
        vb = plot.getViewBox() if isinstance(plot, pg.PlotItem) else plot
        vb.sigRangeChanged.connect(_set_view_transform)
        vb.sigResized.connect(_set_view_transform)


class FastImageItem(pg.ImageItem):
    """An ImageItem that renders a float image with fixed levels through its LUT straight into a 32-bit RGB
    QImage (one numpy lookup). pyqtgraph makes an Indexed8 QImage and a 256-entry colour table of qRgb
    calls at each render (~0.6 ms), and the raster engine converts an Indexed8 image on every scaled draw
    (~1.5 ms for a 128 x 40 heatmap drawn at 400 x 300); an RGB32 image is a plain scaled blit. Anything
    else (NaNs, a callable LUT, integer data, downsampling) renders as pyqtgraph does, converted after.
    The pixels are the same as pyqtgraph's (same rescale onto the LUT)."""

    _lut_src: Any = None
    _lut32: np.ndarray | None = None

    def _rgb32_lut(self, lut: np.ndarray) -> np.ndarray:
        if lut is not self._lut_src:
            rgb = lut.astype(np.uint32)
            a = rgb[:, 3] if lut.shape[1] == 4 else np.full(len(lut), 255, dtype=np.uint32)
            self._lut32 = (a << 24) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]
            self._lut_src = lut
        return self._lut32

    def render(self) -> None:
        img, lut, levels = self.image, self.lut, self.levels
        if (isinstance(img, np.ndarray) and img.ndim == 2 and img.size and img.dtype.kind == "f"
                and isinstance(lut, np.ndarray) and lut.dtype == np.uint8 and lut.ndim == 2
                and lut.shape[1] in (3, 4) and 0 < len(lut) <= 65536 and levels is not None
                and np.ndim(levels) == 1 and not self.autoDownsample and self.axisOrder == "row-major"
                and np.isfinite(float(img.min()))):
            lo, hi = float(levels[0]), float(levels[1])
            n = len(lut)
            scale = n / ((hi - lo) or 1.0)  # as pyqtgraph's rescale: [lo, hi) onto the n colours
            idx = np.clip((img.astype(np.float64) - lo) * scale, 0, n - 1).astype(np.intp)
            rgb = np.ascontiguousarray(self._rgb32_lut(lut)[idx])
            opaque = lut.shape[1] == 3 or bool(np.all(lut[:, 3] == 255))
            fmt = QtGui.QImage.Format.Format_RGB32 if opaque else QtGui.QImage.Format.Format_ARGB32
            self._imageHasNans = False
            self._processingBuffer = None
            self._displayBuffer = rgb  # (the QImage shares this buffer)
            self.qimage = pg.functions.ndarray_to_qimage(rgb, fmt)
            self._renderRequired = False
            self._unrenderable = False
            return
        super().render()
        q = self.qimage
        if q is not None and q.format() == QtGui.QImage.Format.Format_Indexed8:
            fmt = (QtGui.QImage.Format.Format_ARGB32_Premultiplied if q.hasAlphaChannel()
                   else QtGui.QImage.Format.Format_RGB32)
            self.qimage = q.convertToFormat(fmt)


class Marks(pg.GraphicsObject):
    """Markers of a fixed pixel size at data points, as ``ScatterPlotItem`` draws them (symbol "o": a disc,
    "_": a horizontal dash), painted in one pass: setting new points only stores two arrays."""

    def __init__(self, size: float = 5, symbol: str = "o", brush: Any = None, pen: Any = (200, 200, 200)) -> None:
        super().__init__()
        if symbol not in ("o", "_"):
            raise ValueError(f"symbol {symbol!r}: only 'o' and '_'")
        self._x = np.zeros(0)
        self._y = np.zeros(0)
        self._size = float(size)
        self._symbol = symbol
        self._brush = pg.mkBrush(brush) if brush is not None else QtGui.QBrush(QtCore.Qt.BrushStyle.NoBrush)
        self._pen = pg.mkPen(pen)
        self._bounds = QtCore.QRectF()

    def setData(self, x: Any, y: Any, size: float | None = None) -> None:  # noqa: N802 (pyqtgraph name)
        x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
        ok = np.isfinite(x) & np.isfinite(y)
        self._x, self._y = x[ok], y[ok]
        if size is not None:
            self._size = float(size)
        self.prepareGeometryChange()
        self._bounds = (QtCore.QRectF(float(self._x.min()), float(self._y.min()), float(np.ptp(self._x)),
                                      float(np.ptp(self._y))) if self._x.size else QtCore.QRectF())
        self.update()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802
        return self._x, self._y

    def size(self) -> float:
        return self._size

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple[Any, Any]:  # noqa: N802
        d = self._x if ax == 0 else self._y
        return (float(d.min()), float(d.max())) if d.size else (None, None)

    def pixelPadding(self) -> float:  # noqa: N802 (pyqtgraph name)
        return self._size / 2 + self._pen.widthF()

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 (Qt name)
        if not self._x.size:
            return QtCore.QRectF()
        px, py = self.pixelVectors()  # one pixel in data units, to grow the rect by the marker's extent
        pad = self.pixelPadding()
        dx = (abs(px.x()) + abs(py.x())) * pad if px is not None else 0.0
        dy = (abs(px.y()) + abs(py.y())) * pad if py is not None else 0.0
        return self._bounds.adjusted(-dx, -dy, dx, dy)

    def viewTransformChanged(self) -> None:  # noqa: N802 (pyqtgraph hook)
        self.prepareGeometryChange()

    def paint(self, p: QtGui.QPainter, *args: Any) -> None:
        if not self._x.size:
            return
        tr = p.transform()
        xs = (tr.m11() * self._x + tr.m21() * self._y + tr.dx()).tolist()
        ys = (tr.m12() * self._x + tr.m22() * self._y + tr.dy()).tolist()
        p.resetTransform()
        p.setPen(self._pen)
        p.setBrush(self._brush)
        r = self._size / 2
        if self._symbol == "o":
            for x, y in zip(xs, ys):
                p.drawEllipse(QtCore.QPointF(x, y), r, r)
        else:
            p.drawLines([QtCore.QLineF(x - r, y, x + r, y) for x, y in zip(xs, ys)])
        p.setTransform(tr)


class Bars(pg.GraphicsObject):
    """Filled rectangles, as ``pg.BarGraphItem`` with the options the panels use (``x``/``x0``, ``y``/``y0``,
    ``width``, ``height``, ``brush``/``brushes``, ``pen``), kept in ``opts`` like BarGraphItem's. The rects
    are grouped by brush once per update and drawn with one ``drawRects`` per brush."""

    def __init__(self, **opts: Any) -> None:
        super().__init__()
        self.opts: dict[str, Any] = dict(x=None, y=None, x0=None, y0=None, width=None, height=None,
                                         brush=(128, 128, 128), brushes=None, pen=None)
        self._groups: list[tuple[QtGui.QBrush, list[QtCore.QRectF]]] = []
        self._rect = QtCore.QRectF()
        self._pen = QtGui.QPen(QtCore.Qt.PenStyle.NoPen)
        self.setOpts(**opts)

    def setOpts(self, **opts: Any) -> None:  # noqa: N802 (pyqtgraph name)
        self.opts.update(opts)
        if "pen" in opts:
            self._pen = pg.mkPen(opts["pen"]) if opts["pen"] is not None else QtGui.QPen(QtCore.Qt.PenStyle.NoPen)
        self._build()
        self.prepareGeometryChange()
        self.update()

    def _coords(self) -> tuple[np.ndarray, ...] | None:
        o = self.opts

        def arr(v: Any) -> np.ndarray | None:
            return None if v is None else np.asarray(v, dtype=float)

        x, x0, w = arr(o["x"]), arr(o["x0"]), arr(o["width"])
        y, y0, h = arr(o["y"]), arr(o["y0"]), arr(o["height"])
        if w is None or h is None:
            return None
        if x0 is None:
            if x is None:
                return None
            x0 = x - w / 2.0
        if y0 is None:
            y0 = y - h / 2.0 if y is not None else np.zeros(1)
        try:
            x0, w, y0, h = np.broadcast_arrays(x0, w, y0, h)
        except ValueError:
            return None
        return x0.ravel(), w.ravel(), y0.ravel(), h.ravel()

    def _build(self) -> None:
        self._groups = []
        c = self._coords()
        if c is None or c[0].size == 0:
            self._rect = QtCore.QRectF()
            return
        x0, w, y0, h = c
        left, right = np.minimum(x0, x0 + w), np.maximum(x0, x0 + w)
        bottom, top = np.minimum(y0, y0 + h), np.maximum(y0, y0 + h)
        rects = [QtCore.QRectF(a, b, cw, ch) for a, b, cw, ch in
                 zip(left.tolist(), bottom.tolist(), (right - left).tolist(), (top - bottom).tolist())]
        brushes = self.opts["brushes"]
        if brushes is None:
            self._groups = [(pg.mkBrush(self.opts["brush"]), rects)]
        else:
            groups: dict[int, tuple[QtGui.QBrush, list[QtCore.QRectF]]] = {}
            for i, r in enumerate(rects):
                b = brushes[i] if i < len(brushes) else self.opts["brush"]
                g = groups.get(id(b))
                if g is None:
                    g = groups[id(b)] = (b if isinstance(b, QtGui.QBrush) else pg.mkBrush(b), [])
                g[1].append(r)
            self._groups = list(groups.values())
        self._rect = QtCore.QRectF(float(left.min()), float(bottom.min()), float(right.max() - left.min()),
                                   float(top.max() - bottom.min()))

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange: Any = None) -> tuple[Any, Any]:  # noqa: N802
        if self._rect.isNull():
            return (None, None)
        return ((self._rect.left(), self._rect.right()) if ax == 0 else (self._rect.top(), self._rect.bottom()))

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 (Qt name)
        return QtCore.QRectF(self._rect)

    def paint(self, p: QtGui.QPainter, *args: Any) -> None:
        p.setPen(self._pen)
        for brush, rects in self._groups:
            p.setBrush(brush)
            p.drawRects(rects)
