"""Sine: the true series, the one-step predictions on the test range, and a free-running forecast.

Draws ``core.views.SeriesForecast`` (the test range: true series, one-step
predictions, a free-running forecast fed its own predictions, and their RMSEs)
and the probe's ``SeriesWindow`` (the window the hidden-state panel shows, the
time of the predicted point, target and prediction): the window is shaded, its
points are drawn, and the selected timestep's input point is ringed.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from core.probe import Probe
from core.views import SeriesForecast, SeriesWindow, View
from visualizer.panels.hidden import FONT_PT, HIGHLIGHT, ContentPanel, clamp_t, font, style_axis
from visualizer.widgets.fastitems import eager_view_transform
from visualizer.widgets.legend import LegendStrip

TRUE_PEN = pg.mkPen("#9e9e9e", width=4)
PRED_PEN = pg.mkPen("#42a5f5", width=2)
FORECAST_PEN = pg.mkPen("#ffb74d", width=3, style=QtCore.Qt.PenStyle.DashLine)  # bright and thick: it is seen


LEGEND_MIN_PANEL_H = 330  # px: below this panel height the legend folds away (its chips would squash the plot)


class SinePanel(ContentPanel):
    key = "sine"
    title = "Sine prediction"
    draws = (SeriesForecast, SeriesWindow)

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self._dx = 0.01
        self._window_x = np.zeros(0)
        self._window = np.zeros(0)
        self._rmse_text = ""
        self._range: tuple | None = None

        self.view = pg.GraphicsLayoutWidget()
        self.plot = self.view.addPlot()
        eager_view_transform(self.plot)
        self.plot.setMenuEnabled(False)
        self.plot.disableAutoRange()
        style_axis(self.plot.getAxis("left"))
        style_axis(self.plot.getAxis("bottom"))
        self.plot.setLabel("bottom", "time")
        self.plot.setLabel("left", "value")
        # no axis grid: its translucent lines cost ~4.5 ms a repaint; a zero line is enough to read values
        self.plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#616161", width=1)), ignoreBounds=True)
        # the legend sits above the plot (it used to cover ~40% of it); click a name to show/hide a curve
        self.legend = LegendStrip()
        self.region = pg.LinearRegionItem(values=(0, 0), movable=False,
                                          brush=pg.mkBrush(255, 213, 79, 40), pen=pg.mkPen(None))
        self.region.setZValue(-10)
        self.plot.addItem(self.region, ignoreBounds=True)
        self.region.setVisible(False)
        self.true_curve = self.plot.plot([], [], pen=TRUE_PEN, name="true signal")
        self.pred_curve = self.plot.plot([], [], pen=PRED_PEN, name="one-step prediction")
        self.forecast_curve = self.plot.plot([], [], pen=FORECAST_PEN, name="free-running forecast")
        self.window_points = self.plot.plot([], [], pen=None, symbol="o", symbolSize=7,
                                            symbolBrush=HIGHLIGHT, symbolPen=None, name="probe window")
        self.probe_pred = self.plot.plot([], [], pen=None, symbol="star", symbolSize=16,
                                         symbolBrush="#e53935", symbolPen=None, name="probe prediction")
        # the thick curves change only with a new forecast view, but every probe (window dots, cursor, shaded
        # region) repaints the plot under them: kept as device pixmaps, a repaint blits instead of stroking
        # 1000-point 2-4 px polylines again (~1.5 ms)
        for c in (self.true_curve, self.pred_curve, self.forecast_curve):
            c.curve.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._series = {"true": self.true_curve, "pred": self.pred_curve, "forecast": self.forecast_curve,
                        "window": self.window_points, "probe": self.probe_pred}
        for key, label, item in (("true", "true signal", self.true_curve),
                                 ("pred", "one-step prediction", self.pred_curve),
                                 ("forecast", "free-running forecast", self.forecast_curve),
                                 ("window", "probe window", self.window_points),
                                 ("probe", "probe prediction", self.probe_pred)):
            pen = item.opts["pen"] if item.opts.get("pen") is not None else None
            pen = pg.mkPen(pen) if pen is not None and pg.mkPen(pen).style() != QtCore.Qt.PenStyle.NoPen \
                else pg.mkPen(item.opts.get("symbolBrush") or HIGHLIGHT, width=4)
            self.legend.add(key, label, pen)
        self.legend.toggled.connect(lambda key, on: self._series[key].setVisible(on))
        self.cursor = pg.ScatterPlotItem(size=18, pen=pg.mkPen("#000000", width=3), brush=pg.mkBrush(None))
        self.cursor.setZValue(10)
        self.plot.addItem(self.cursor)

        self.show_all = QtWidgets.QCheckBox("Whole test range")
        self.show_all.setToolTip("Unchecked: zoom to the probe window and the start of the forecast")
        self.show_all.setChecked(True)
        self.show_all.toggled.connect(lambda _: self._fit_view())
        self.status = QtWidgets.QLabel("")
        self.status.setFont(font(FONT_PT + 1))
        self.status.setWordWrap(True)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.show_all)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(self.legend)
        lay.addWidget(self.view, 1)

        self.setMinimumSize(340, 260)
        self._legend_tip = ("grey: true signal · blue: one-step prediction · orange dashes: free-running forecast · "
                            "yellow dots: probe window · red star: probe prediction")

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        # a short panel (a 720p screen) gives the plot the room: the legend (three rows of chips there) folds
        # away and the plot's tooltip names the curves instead
        short = self.height() < LEGEND_MIN_PANEL_H
        self.legend.setVisible(not short)
        self.view.setToolTip(self._legend_tip if short else "")

    # -- hub ---------------------------------------------------------------------
    def _on_experiment(self, info: Any) -> None:
        self.probe = None
        for c in (self.true_curve, self.pred_curve, self.forecast_curve, self.window_points, self.probe_pred):
            c.setData([], [])
        self.cursor.setData([], [])
        self.region.setVisible(False)
        self.status.setText("")
        self._range = None
        self.plot.setTitle("")

    def _on_view(self, f: View) -> None:
        if not isinstance(f, SeriesForecast):
            return
        self.redraws += 1
        x = np.asarray(f.x, dtype=float)
        if x.size > 1:
            self._dx = float(x[1] - x[0])
        self.true_curve.setData(x, np.asarray(f.true, dtype=float))
        self.pred_curve.setData(x, np.asarray(f.pred, dtype=float))
        self.forecast_curve.setData(np.asarray(f.forecast_x, dtype=float), np.asarray(f.forecast, dtype=float))
        self._rmse_text = f"one-step RMSE {f.rmse:.3g} · forecast {f.forecast_rmse:.3g}"
        self.plot.setTitle(self._rmse_text, size=f"{FONT_PT + 1}pt")
        self._fit_view()

    def _on_probe(self, probe: Probe) -> None:
        self.probe = probe
        self.redraws += 1
        v = probe.view(SeriesWindow)
        if v is None:
            return
        window = np.asarray(v.window, dtype=float).reshape(-1)  # (W,)
        self._window = window
        t_pred, W = float(v.t), window.shape[0]
        self._window_x = t_pred - self._dx * (W - np.arange(W))  # times of the window's values
        self.window_points.setData(self._window_x, window)
        self.probe_pred.setData([t_pred], [float(v.prediction)])
        self.region.setRegion((self._window_x[0] - 0.5 * self._dx, t_pred + 0.5 * self._dx))
        self.region.setVisible(True)
        self.status.setText(f"Probe: {W} values → next value predicted {v.prediction:.4f}, "
                            f"true {v.target:.4f} (error {v.prediction - v.target:+.4f})")
        self._on_timestep(self.current_t())
        if not self.show_all.isChecked():
            self._fit_view()

    def _on_timestep(self, t: int) -> None:
        p = self.probe
        if p is None or self._window_x.size == 0:
            return
        W = self._window_x.size
        if p.num_steps == W:  # one value per timestep: ring the value read at step t
            t = clamp_t(t, W)
            y = float(self._window[t])
            self.cursor.setData([self._window_x[t]], [y])
        else:  # the whole window is one timestep
            self.cursor.setData([], [])

    def cursor_point(self) -> tuple[float, float] | None:
        """(x, y) of the ringed point, for tests."""
        pts = self.cursor.data
        if len(pts) == 0:
            return None
        return float(pts[0]["x"]), float(pts[0]["y"])

    def _fit_view(self) -> None:
        """Fixed ranges (no per-frame auto-range): y on the true signal's range, so a diverging forecast
        runs off the plot instead of squashing the signal; x the whole test range or the probe window."""
        x, y = self.true_curve.getData()
        if x is None or len(x) == 0:
            return
        lo, hi = float(np.min(y)), float(np.max(y))
        pad = 0.15 * max(hi - lo, 1e-3)
        yr = (lo - pad, hi + pad)
        if self.show_all.isChecked() or self._window_x.size == 0:
            fx, _ = self.forecast_curve.getData()
            x1 = max(float(x[-1]), float(fx[-1]) if fx is not None and len(fx) else float(x[-1]))
            xr = (min(float(x[0]), float(self._window_x[0]) if self._window_x.size else float(x[0])), x1)
        else:
            x0 = self._window_x[0]
            span = max(self._window_x.size * self._dx, self._dx)
            xr = (x0 - span, x0 + 6 * span)
        if (xr, yr) != self._range:
            self._range = (xr, yr)
            self.plot.setRange(xRange=xr, yRange=yr, padding=0.02)

    def view_range(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """((x0, x1), (y0, y1)) set by the panel, for tests."""
        return self._range
