"""The analysis panels: a view changes the panel, a hidden panel watches nothing, a table row marks the unit
in the heatmap, the window lists the panels in the View menu for recurrent models only."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.live import Analyst, wait_for
from core.analysis.views import FixedPointsView, SpectrumView, UnitsView
from core.probe import Snapshot, frozen_array
from core.run import Analyze, RunSpec, Watch
from core.views import MarkedUnit
from visualizer.panels.analysis import (ANALYSIS_PANELS, FixedPointsPanel, GradientFlowPanel, SpectrumPanel,
                                        UnitFinderPanel, analysis_panels_for)


class Hub:
    """The part of the session an analysis panel uses (no worker thread)."""

    def __init__(self):
        from PySide6 import QtCore

        class Signals(QtCore.QObject):
            snapshot_ready = QtCore.Signal(object)
            timestep_changed = QtCore.Signal(int)
            experiment_changed = QtCore.Signal(object)

        self._s = Signals()
        self.snapshot_ready = self._s.snapshot_ready
        self.timestep_changed = self._s.timestep_changed
        self.experiment_changed = self._s.experiment_changed
        self.sent, self.marked, self.watched_analyses = [], [], ()
        self.spec, self.history, self.step, self.steps_per_second = None, None, 0, 0.0

    def send(self, command):
        self.sent.append(command)

    def watch_analysis(self, kind, shown):
        kinds = set(self.watched_analyses)
        self.watched_analyses = tuple(sorted(kinds | {kind} if shown else kinds - {kind}))
        self.send(Watch(self.watched_analyses))

    def mark_unit(self, view):
        self.marked.append(view)


def deliver(hub, *views):
    hub.snapshot_ready.emit(Snapshot(1, 1, {}, None, tuple(views)))


@pytest.fixture(scope="module")
def ba_views():
    exp = RunSpec.create("binary-addition", seed=0).build()
    for _ in range(150):
        exp.train_step()
    a = Analyst(background=False)
    got = wait_for(a, exp, ("units", "gradients", "spectrum"), ["units", "gradients", "spectrum"])
    a.request("fixed_points", exp)
    got.update(wait_for(a, exp, (), ["fixed_points"]))
    return got


def test_a_shown_panel_watches_its_kind_and_a_hidden_one_nothing(qtbot):
    hub = Hub()
    p = SpectrumPanel(hub)
    qtbot.addWidget(p)
    assert hub.sent == []  # created hidden: nothing asked
    p.show()
    qtbot.waitUntil(lambda: hub.watched_analyses == ("spectrum",))
    p.hide()
    assert hub.watched_analyses == () and hub.sent[-1] == Watch(())


def test_views_change_the_panels(qtbot, ba_views):
    hub = Hub()
    panels = [UnitFinderPanel(hub), GradientFlowPanel(hub), SpectrumPanel(hub), FixedPointsPanel(hub)]
    for p in panels:
        qtbot.addWidget(p)
        p.show()
    deliver(hub, *(ba_views[k] for k in ("units", "gradients", "spectrum", "fixed_points")))
    units, grads, spec, fp = panels
    assert all(p.redraws == 1 for p in panels)
    assert units.table.rowCount() == len(ba_views["units"].rows)
    assert units.table.item(0, 0).text() == ba_views["units"].rows[0][0].replace("_", " ")
    assert "step 150" in spec.status_label.text() and "σ_max" in spec.status_label.text()
    assert len(spec.eig.getPlotItem().listDataItems()) >= 1  # the unit circle (and the eigenvalues)
    assert grads.flow.getPlotItem().listDataItems()
    assert "attractor" in fp.eigs.text() or "point" in fp.eigs.text()


def test_computing_status_and_button(qtbot):
    hub = Hub()
    p = FixedPointsPanel(hub)
    qtbot.addWidget(p)
    p.show()
    p.button.click()
    assert Analyze("fixed_points") in hub.sent and p.status_label.text() == "computing…"
    deliver(hub, FixedPointsView(3, "computing", "computing (started at step 3)…"))
    assert "started at step 3" in p.status_label.text() and p._poll.isActive()
    deliver(hub, FixedPointsView(3, "error", "boom"))
    assert "boom" in p.status_label.text() and not p._poll.isActive()


def test_clicking_a_row_marks_the_unit(qtbot, ba_views):
    hub = Hub()
    p = UnitFinderPanel(hub)
    qtbot.addWidget(p)
    p.show()
    deliver(hub, ba_views["units"])
    rows = ba_views["units"].rows
    p.table.cellClicked.emit(1, 0)
    feature, layer, state, unit, r = rows[1]
    m = hub.marked[-1]
    assert isinstance(m, MarkedUnit) and (m.layer, m.unit) == (layer, unit) and m.score == pytest.approx(abs(r))
    assert p.selected == rows[1]


def test_text_mode_colours_characters(qtbot):
    hub = Hub()
    p = UnitFinderPanel(hub)
    qtbot.addWidget(p)
    p.show()
    v = UnitsView(5, "ok", "", rows=(("in_quotes", 0, "h", 1, 0.8),), samples=6, source="x", layer_names=("l1",),
                  chars=tuple('a"b"\nc'), units=((0, "h", 1),), activations=frozen_array([[-1, 1, 1, -1, 0, 0.5]]),
                  value_ranges=((-1.0, 1.0),), surprise=frozen_array([0.1, 5, 1, 1, 1, np.nan]))
    deliver(hub, v)
    html = p.text.toHtml()
    assert p.text.isVisibleTo(p) and not p.plot.isVisibleTo(p)
    assert "#ff5555" in html.lower() and "#5591ff" in html.lower()  # red for +1, blue for -1
    p.mode.setCurrentIndex(1)
    assert "#ff" in p.text.toHtml().lower()


def test_window_adds_hidden_analysis_docks_for_recurrent_models_only(qtbot):
    from visualizer.main_window import MainWindow

    assert analysis_panels_for(RunSpec.create("iris").cls.view_types) == []
    w = MainWindow("binary-addition")
    qtbot.addWidget(w)
    try:
        keys = {c.key for c in ANALYSIS_PANELS}
        assert keys <= set(w.analysis_docks) and not any(w.analysis_docks[k].isVisible() for k in keys)
        titles = [a.text() for a in w.view_menu.actions()]
        assert "Unit finder" in titles and "Fixed points" in titles
        assert w.session.__dict__.get("watched_analyses", ()) == ()  # hidden: nothing is computed
        w.show()
        w.analysis_docks["analysis-spectrum"].show()
        qtbot.waitUntil(lambda: w.analysis_panels["analysis-spectrum"].redraws >= 1, timeout=10000)
        assert isinstance(w.analysis_panels["analysis-spectrum"].view_, SpectrumView)
        # a unit picked in the table reaches the heatmap
        w.analysis_docks["analysis-units"].show()
        units = w.analysis_panels["analysis-units"]
        qtbot.waitUntil(lambda: units.redraws >= 1 and w.panels["hidden"].probe is not None, timeout=10000)
        feature, layer, state, unit, r = units.view_.rows[0]
        units.pick(0)
        hidden = w.panels["hidden"]
        assert hidden._marked_unit == unit and feature.replace("_", " ") in hidden.info_label.text()
        w.switch_experiment("iris")
        qtbot.waitUntil(lambda: w.session.spec.id == "iris", timeout=10000)
        assert not any(k in w.analysis_panels for k in keys) and not w.analysis_docks
    finally:
        w.shutdown()
