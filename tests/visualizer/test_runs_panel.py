"""Runs in the window: fork, the runs list, overlaid curves, compare, and no run lost by a click."""
from __future__ import annotations

import numpy as np
import pytest

from fakes import FakeExperiment
from visualizer.main_window import MainWindow


@pytest.fixture
def window(qtbot, app_setup):
    w = MainWindow(FakeExperiment)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.session.state in ("idle", "paused") and bool(w.session.runs), timeout=10000)
    yield w
    w.close()
    assert not w.session.running


def _steps(w, n):
    w.session.step_n(n)


def test_fork_from_the_form_trains_side_by_side_and_overlays(window, qtbot):
    w, s = window, window.session
    _steps(w, 20)
    qtbot.waitUntil(lambda: s.step == 20, timeout=5000)
    w.fork_action.trigger()  # a copy of run 1, shown; a knob turned now changes the copy only
    qtbot.waitUntil(lambda: len(s.runs) == 2 and s.selected == 2, timeout=5000)
    w.form.set_value("learning_rate", 0.01)
    qtbot.waitUntil(lambda: s.run_info(2).spec.config["learning_rate"] == 0.01, timeout=3000)
    panel = w.runs_panel
    assert panel.table.rowCount() == 2
    assert panel.cell_text(2, "differs") == "learning_rate=0.01"
    assert s.run_info(2).parent == 1 and s.run_info(2).fork_step == 20
    assert list(s.history.arrays("loss")[0]) == list(range(1, 21))  # the fork starts with its parent's curve
    _steps(w, 10)  # both runs are active: both train
    qtbot.waitUntil(lambda: len(s.runs) == 2 and s.run_info(1).step == 30 and s.run_info(2).step == 30, timeout=5000)
    loss = w.panels["loss"]
    qtbot.waitUntil(lambda: "loss" in loss.overlaid().get(1, []), timeout=5000)  # run 1 drawn over run 2's plot
    panel.table.item(panel.row_of(1), 0).setCheckState(panel.table.item(0, 0).checkState().Unchecked)
    qtbot.waitUntil(lambda: 1 not in loss.overlaid(), timeout=3000)  # hidden from the plots


def test_selecting_a_run_shows_it_everywhere(window, qtbot):
    w, s = window, window.session
    _steps(w, 5)
    qtbot.waitUntil(lambda: s.step == 5, timeout=5000)
    s.fork(hidden_size=7)  # structural: a new model from the same seed at step 0
    qtbot.waitUntil(lambda: s.selected == 2 and s.latest_probe is not None
                    and s.latest_probe.layers[0].states["h"].shape[1] == 7, timeout=5000)
    assert s.run_info(2).step == 0 and s.run_info(2).fork_step == 0
    w.runs_panel.choose(1)
    qtbot.waitUntil(lambda: s.selected == 1 and s.latest_probe is not None
                    and s.latest_probe.layers[0].states["h"].shape[1] == 4, timeout=5000)
    assert w.form.applied["hidden_size"] == 4 and s.step == 5


def test_a_preset_change_keeps_the_previous_run(window, qtbot):
    w, s = window, window.session
    _steps(w, 12)
    qtbot.waitUntil(lambda: s.step == 12, timeout=5000)
    i = w.preset_combo.findData("big")
    w.preset_combo.setCurrentIndex(i)
    w.preset_combo.activated.emit(i)
    qtbot.waitUntil(lambda: len(s.runs) == 2 and s.selected == 2, timeout=5000)
    old = s.run_info(1)
    assert old.step == 12 and not old.active  # kept, out of the transport
    assert s.spec.preset == "big" and s.step == 0
    w.runs_panel.choose(1)  # and it can be shown again, as it was
    qtbot.waitUntil(lambda: s.selected == 1 and s.step == 12, timeout=5000)
    assert list(s.history.arrays("loss")[0])[-1] == 12


def test_compare_opens_the_other_runs_heatmap_beside(qtbot, app_setup):
    from core.views import LayerStates, MetricCurves, Outputs

    class WithHeatmap(FakeExperiment):
        view_types = (MetricCurves, LayerStates, Outputs)

    w = MainWindow(WithHeatmap)
    qtbot.addWidget(w)
    w.show()
    try:
        s = w.session
        qtbot.waitUntil(lambda: bool(s.runs), timeout=5000)
        s.fork(hidden_size=6)
        qtbot.waitUntil(lambda: len(s.runs) == 2 and s.selected == 2, timeout=5000)
        w.runs_panel._chosen_run = 1
        w.runs_panel.compare_button.setChecked(True)
        qtbot.waitUntil(lambda: len(w.compare_docks) == 1, timeout=5000)
        compared = w.compare_docks[0].widget()
        qtbot.waitUntil(lambda: compared.probe is not None, timeout=5000)
        assert compared.probe.layers[0].states["h"].shape[1] == 4  # run 1's model beside run 2's
        assert w.panels["hidden"].probe.layers[0].states["h"].shape[1] == 6
        s.set_timestep(3)
        assert compared.current_t() == 3  # the same timestep in both
        w.runs_panel.compare_button.setChecked(False)
        qtbot.waitUntil(lambda: w.compare_docks == [], timeout=5000)
    finally:
        w.close()


def test_open_a_run_folder_written_by_the_cli(window, qtbot, tmp_path):
    import tqdm

    from core.cli import main

    tqdm.tqdm.monitor_interval = 0  # no tqdm monitor thread left behind
    out = tmp_path / "ba"
    assert main(["train", "binary-addition", "--steps", "30", "--set", "hidden_size=5", "--out", str(out)]) == 0
    w, s = window, window.session
    w.open_run(out)
    qtbot.waitUntil(lambda: len(s.runs) == 2 and s.spec.id == "binary-addition", timeout=10000)
    assert s.run_info(2).step == 30 and s.run_info(1).experiment == "fake"
    assert w.open_sweep(tmp_path / "nothing") == 0 and "not a sweep folder" in w.message_bar.text()


def test_open_a_sweep_charts_it_and_a_click_shows_the_trial(window, qtbot, tmp_path):
    import tqdm

    from core.cli import main

    tqdm.tqdm.monitor_interval = 0
    out = tmp_path / "sw"
    assert main(["sweep", "binary-addition", "--set", "hidden_size=4", "--grid", "learning_rate=0.01,0.1",
                 "--steps", "20", "--workers", "1", "--out", str(out)]) == 0
    w, s = window, window.session
    assert w.open_sweep(out) == 2
    qtbot.waitUntil(lambda: len(s.runs) == 3, timeout=15000)
    panel = w.sweep_docks[-1].widget()
    pts = panel.points("learning_rate")
    assert pts.shape == (2, 2) and sorted(np.round(10 ** pts[:, 0], 6)) == [0.01, 0.1]  # a log axis
    trial = panel.sweep.trials[0]
    assert panel.show_trial(trial.id)
    qtbot.waitUntil(lambda: s.selected == next(r.id for r in s.runs if r.name.endswith(trial.id)), timeout=5000)
    assert s.spec.config["learning_rate"] == trial.params["learning_rate"]


def test_the_state_column_folds_away_in_a_narrow_dock(window, qtbot):
    """Too narrow for every column (a 720p screen): "state" folds away rather than a scrollbar cutting it,
    and each run's name tells its state in its tooltip; with room again it comes back."""
    panel = window.runs_panel
    state = panel.table.horizontalHeader().logicalIndex(6)
    panel._fit_columns()
    assert not panel.table.isColumnHidden(state)  # a 1400 px window: the dock has room
    dock_was = panel.width()
    panel.setFixedWidth(240)
    qtbot.waitUntil(lambda: panel.table.isColumnHidden(state), timeout=3000)
    assert not panel.table.horizontalScrollBar().isVisible()
    name = panel.table.item(0, 2)
    assert name.toolTip().endswith(window.session.run_info(panel._rows[0]).state)
    panel.setMinimumWidth(0)
    panel.setMaximumWidth(16777215)
    panel.setFixedWidth(max(dock_was, 700))
    qtbot.waitUntil(lambda: not panel.table.isColumnHidden(state), timeout=3000)
