"""A sweep's results: each swept hyperparameter against the final main metric.

One scatter plot per swept hyperparameter (log x axis where the sweep sampled on a log
scale or a grid of positive values spans a decade), y = the main metric each trial ended with (``core.sweep.read_sweep``); diverged
and failed trials are drawn as red crosses at the bottom. Clicking a point shows that
trial's run (its checkpoint was added to the Runs list when the sweep was opened).
Not drawn from a view type: the window docks it when a sweep is opened.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from visualizer.panels.base import Panel


class SweepPanel(Panel):
    key = "sweep"
    title = "Sweep"
    draws = ()

    def __init__(self, session: Any, sweep: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.sweep = sweep
        self.graphics = pg.GraphicsLayoutWidget()
        best = "highest" if sweep.mode == "max" else "lowest"
        self.caption = QtWidgets.QLabel(f"{sweep.experiment} · {len(sweep.trials)} trials · final {sweep.metric} "
                                        f"({best} is best) · click a point to show that run")
        self.caption.setWordWrap(True)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.caption)
        lay.addWidget(self.graphics, 1)
        self.plots: dict[str, pg.PlotItem] = {}
        self.scatters: dict[str, pg.ScatterPlotItem] = {}
        ok = [t for t in sweep.trials if t.status == "ok" and math.isfinite(sweep.value(t))]
        values = [sweep.value(t) for t in ok]
        floor = min(values) if values else 0.0
        for col, (name, scale) in enumerate(sweep.swept.items()):
            plot = self.graphics.addPlot(row=0, col=col)
            xs = [t.params.get(name) for t in sweep.trials]
            xs = [x for x in xs if isinstance(x, (int, float)) and not isinstance(x, bool)]
            # log where the sweep sampled on a log scale, or a grid of positive values spanning a decade or more
            log = scale == "log" or (bool(xs) and min(xs) > 0 and max(xs) >= 10 * min(xs))
            plot.setLabel("bottom", name + (" (log)" if log else ""))
            plot.setLabel("left", sweep.metric)
            for side in ("bottom", "left"):
                plot.getAxis(side).enableAutoSIPrefix(False)  # 0.003, not "3 (x0.001)"
            plot.setLogMode(x=log, y=False)
            spots = []
            for t in sweep.trials:
                x = t.params.get(name)
                if not isinstance(x, (int, float)) or (log and x <= 0):
                    continue
                good = t in ok
                spots.append({"pos": (math.log10(x) if log else x, sweep.value(t) if good else floor),
                              "data": t.id, "symbol": "o" if good else "x",
                              "brush": pg.mkBrush("#4cc9f0" if good else "#e53935"), "size": 11,
                              "pen": pg.mkPen("w" if good else "#e53935")})
            scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip)
            scatter.addPoints(spots)
            scatter.sigClicked.connect(self._on_click)
            plot.addItem(scatter)
            self.plots[name], self.scatters[name] = plot, scatter

    def _tip(self, x: float, y: float, data: Any) -> str:
        return f"trial {data}: {self.sweep.metric} {y:.4g}"

    def points(self, name: str) -> np.ndarray:
        """(n, 2) the plotted points of hyperparameter ``name`` (x as plotted), for tests."""
        s = self.scatters[name]
        return np.column_stack(s.getData()) if s.getData()[0] is not None else np.empty((0, 2))

    def show_trial(self, trial_id: str) -> bool:
        """Select the run loaded from trial ``trial_id``; False if it is not in the Runs list."""
        run = next((r.id for r in self.session.runs if r.name.endswith(f": {trial_id}")), None)
        if run is None:
            return False
        self.session.select_run(run)
        return True

    def _on_click(self, _scatter: Any, points: Any, *_: Any) -> None:
        if len(points):
            self.show_trial(points[0].data())
