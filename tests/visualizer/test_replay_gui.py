"""Training time in the window: replaying keyframes on every panel, Live, the Events list and its
markers, notes, rewind and branch from the GUI, the spike message's one-click rewind."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from core.views import LayerStates, MetricCurves, Outputs
from fakes import FakeExperiment, fake_spec
from visualizer.main_window import MainWindow


class ShownFake(FakeExperiment):
    """The fake experiment with the heatmap and the inspector (its probe has layers and outputs)."""

    id = "fake-shown"
    view_types = (MetricCurves, LayerStates, Outputs)


class SpikyFake(ShownFake):
    """Its loss jumps a hundredfold at ``spike_at`` (the watchdog pauses there)."""

    id = "fake-spiky"
    SPIKE_AT = 80

    def train_step(self):
        out = super().train_step()
        if self.step == self.SPIKE_AT:
            out = {"loss": 500.0}
        return out


@pytest.fixture
def make_window(qtbot, app_setup):
    windows = []

    def make(experiment=ShownFake, size=(1300, 850), **kw):
        w = MainWindow(experiment, **kw)
        windows.append(w)
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        # (the session starts "idle" before its worker has built the run: wait for the run itself)
        qtbot.waitUntil(lambda: getattr(w.session._worker, "runs", None) is not None
                        and w.session.state in ("idle", "paused"), timeout=10000)
        return w

    yield make
    for w in windows:
        w.close()
        assert not w.session.running


def _train(w, qtbot, n):
    s = w.session
    # every scheduled keyframe, however loaded the machine: these tests name the keyframes' steps
    s._worker.runs.run.keyframe_share = 1e9
    target = s.step + n
    s.set_speed_cap(None)
    s.step_n(n)
    qtbot.waitUntil(lambda: s.step >= target and s.state == "paused", timeout=10000)
    qtbot.waitUntil(lambda: s.latest_probe is not None and s.latest_probe.step == s.step, timeout=5000)


def _as_shown(states):
    """A state array (T, H) as the heatmap shows it: units x timesteps, float32."""
    return np.asarray(states, np.float32).T


def _replay(w, qtbot, step):
    s = w.session
    shown = []
    s.keyframe_shown.connect(lambda req, kf: shown.append((req, kf)))
    s.show_keyframe(step)
    qtbot.waitUntil(lambda: any(r == step for r, _ in shown), timeout=5000)
    return next(kf for r, kf in shown if r == step)


def test_replaying_step_k_shows_the_probe_that_was_live_at_step_k(make_window, qtbot):
    w = make_window()
    s = w.session
    _train(w, qtbot, 12)
    live_at_12 = s.latest_probe.layers[0].states["h"].copy()  # what the heatmap showed live at step 12
    assert np.array_equal(w.panels["hidden"].displayed(), _as_shown(live_at_12))
    _train(w, qtbot, 40)
    assert not np.array_equal(w.panels["hidden"].displayed(), _as_shown(live_at_12))

    kf = _replay(w, qtbot, 12)
    assert kf.step == 12  # step 12 is on the dense early schedule
    assert np.array_equal(kf.probe.layers[0].states["h"], live_at_12)
    assert np.array_equal(w.panels["hidden"].displayed(), _as_shown(live_at_12))  # the heatmap shows it
    assert s.latest_probe is kf.probe  # and so does every other panel (inspector, scrubber...)
    # the timestep scrubber still works inside the keyframe
    w.scrubber.go(3)
    assert s.timestep == 3 and w.panels["inspector"].isVisible()
    # the replay is announced: scrubber label, status bar badge, cyan line on the loss plot
    assert "replaying step 12 (keyframe at 12)" in w.replay.timeline.label.text()
    assert w.replay.badge.isVisible() and "replaying step 12" in w.replay.badge.text()
    assert w.panels["loss"].event_markers.replay_line.isVisible()
    assert w.replay.timeline.slider.value() == 12

    # a step between keyframes shows the keyframe in force then
    kf = _replay(w, qtbot, 13)
    assert kf.step == 12 and "replaying step 13 (keyframe at 12)" in w.replay.timeline.label.text()


def test_live_frames_do_not_overwrite_a_replay_and_live_returns(make_window, qtbot):
    w = make_window()
    s = w.session
    _train(w, qtbot, 20)
    kf = _replay(w, qtbot, 5)
    shown = w.panels["hidden"].displayed().copy()
    assert np.array_equal(shown, _as_shown(kf.probe.layers[0].states["h"]))
    points = w.panels["loss"].drawn_points().get("loss", 0)
    _train_no_wait = s.step + 30
    s.step_n(30)  # training goes on while replaying: metrics flow to the loss plot, the panels stay put
    qtbot.waitUntil(lambda: s.step >= _train_no_wait and s.state == "paused", timeout=10000)
    qtbot.wait(100)
    assert w.panels["loss"].drawn_points().get("loss", 0) > points
    assert np.array_equal(w.panels["hidden"].displayed(), shown)
    assert w.replay.timeline.slider.maximum() >= 50

    w.replay.timeline.live_button.click()  # Live: back to the present
    assert s.replay_step is None
    qtbot.waitUntil(lambda: s.latest_probe is not None and s.latest_probe.step == s.step, timeout=5000)
    assert s.step >= 50
    assert not np.array_equal(w.panels["hidden"].displayed(), shown)
    assert not w.replay.badge.isVisible()
    assert w.replay.timeline.label.text() == f"step {s.step:,} · live"
    assert not w.panels["loss"].event_markers.replay_line.isVisible()


def test_dragging_the_training_slider_and_clicking_the_loss_plot_replay(make_window, qtbot):
    w = make_window()
    s = w.session
    _train(w, qtbot, 60)
    tl = w.replay.timeline
    assert tl.slider.maximum() == s.step
    tl.slider.setValue(30)  # as a drag: coalesced into one request
    qtbot.waitUntil(lambda: s.replay_keyframe is not None and s.replay_step == 30, timeout=5000)
    assert s.replay_keyframe.step == 28  # dense schedule: ..., 24, 28, 33
    w.panels["loss"].event_markers.replay_at(44.4)
    qtbot.waitUntil(lambda: s.replay_step == 44 and s.replay_keyframe.step == 44, timeout=5000)
    assert tl.slider.value() == 44


def test_play_through_walks_the_keyframes(make_window, qtbot):
    w = make_window()
    s = w.session
    _train(w, qtbot, 10)
    tl = w.replay.timeline
    tl.rate.setValue(30)
    seen = []
    s.keyframe_shown.connect(lambda req, kf: seen.append(kf.step))
    tl.play_button.setChecked(True)
    qtbot.waitUntil(lambda: not tl.play_button.isChecked(), timeout=10000)  # stops after the last keyframe
    steps = [k.step for k in s.keyframes()]
    assert steps[:3] == [1, 2, 3]
    assert sorted(set(seen)) == steps


def test_a_note_appears_in_the_events_list_and_on_the_loss_axis(make_window, qtbot):
    w = make_window()
    s = w.session
    _train(w, qtbot, 25)
    w.replay.add_note("lowered lr because the loss wobbled")
    panel = w.replay.events_panel
    qtbot.waitUntil(lambda: any(k == "note" for _, k, _ in panel.rows()), timeout=5000)
    assert (25, "note", "lowered lr because the loss wobbled") in panel.rows()
    markers = w.panels["loss"].event_markers
    assert "note" in markers.kinds()
    line = next(line for line in markers.lines.values() if line.run_event.kind == "note")
    assert line.value() == 25 and "lowered lr" in line.toolTip()
    assert w.replay.timeline.slider.events[-1].kind == "note"  # a tick on the training-time scrubber
    # clicking an event jumps the training-time scrubber there
    _train(w, qtbot, 20)
    panel.click_row(panel.rows().index((25, "note", "lowered lr because the loss wobbled")))
    qtbot.waitUntil(lambda: s.replay_keyframe is not None and s.replay_step == 25, timeout=5000)
    assert w.replay.timeline.slider.value() == 25
    assert "replaying step 25" in w.replay.timeline.label.text()


def test_the_note_action_has_ctrl_n_and_live_ctrl_l(make_window):
    w = make_window()
    assert w.replay.note_action.shortcut().toString() == "Ctrl+N"
    assert w.replay.live_action.shortcut().toString() == "Ctrl+L"
    file_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&File")
    assert any(a.text() == "Export movie…" for a in file_menu.actions())


def test_event_kinds_have_distinct_colours():
    from visualizer.widgets.timeline import EVENT_COLORS

    kinds = ["live", "diverged", "spike", "saved", "fork", "loaded", "note", "rewind"]
    assert len({EVENT_COLORS[k] for k in kinds}) == len(kinds)


def test_rewind_from_the_gui_restores_step_and_history(make_window, qtbot, monkeypatch):
    from PySide6 import QtWidgets

    w = make_window()
    s = w.session
    _train(w, qtbot, 260)
    loss_at_200 = s.history.arrays("loss")[1][:200].copy()
    asked = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        staticmethod(lambda *a, **k: asked.append(a[2]) or QtWidgets.QMessageBox.StandardButton.Yes))
    w.replay.rewind_to(230)  # the newest exact snapshot at or before 230 is at step 200
    assert asked and "forgotten" in asked[0]
    qtbot.waitUntil(lambda: s.step == 200 and s.state == "paused", timeout=5000)
    steps, values = s.history.arrays("loss")
    assert steps[-1] == 200 and np.array_equal(values, loss_at_200)
    panel = w.replay.events_panel
    qtbot.waitUntil(lambda: any(k == "rewind" for _, k, _ in panel.rows()), timeout=5000)
    assert "rewind" in w.panels["loss"].event_markers.kinds()
    # a cancelled confirmation changes nothing
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        staticmethod(lambda *a, **k: QtWidgets.QMessageBox.StandardButton.Cancel))
    w.replay.rewind_to(50)
    qtbot.wait(200)
    assert s.step == 200


def test_branch_from_here_adds_a_run_with_the_changed_values(make_window, qtbot):
    w = make_window()
    s = w.session
    _train(w, qtbot, 120)
    w.form.set_value("learning_rate", 0.02)  # a live field: changing it applies it... to the shown run
    qtbot.waitUntil(lambda: s.spec.config["learning_rate"] == 0.02, timeout=5000)
    w.form.set_value("clip", 3.0)  # and then the form holds both; branch uses what differs from the run
    qtbot.waitUntil(lambda: s.spec.config["clip"] == 3.0, timeout=5000)
    n = len(s.runs)
    w.replay.branch_from(60)  # the newest snapshot at or before 60 is at 50
    qtbot.waitUntil(lambda: len(s.runs) == n + 1, timeout=5000)
    new = s.run_info(s.selected)
    assert new.fork_step == 50 and new.step == 50
    assert any(e.kind == "fork" for e in new.events)
    assert s.history.arrays("loss")[0][-1] == 50


def test_the_spike_message_offers_a_one_click_rewind_that_works(make_window, qtbot):
    w = make_window(SpikyFake)
    s = w.session
    s.set_speed_cap(None)
    s.step_n(150)
    qtbot.waitUntil(lambda: w.message_bar.kind == "error" and s.state == "paused", timeout=10000)
    assert s.step == SpikyFake.SPIKE_AT
    assert "Training paused" in w.message_bar.text()
    button = w.replay.rewind_button
    assert button.isVisible() and button.text() == "Rewind to step 50"
    button.click()
    qtbot.waitUntil(lambda: s.step == 50, timeout=5000)
    assert s.history.arrays("loss")[0][-1] == 50
    assert not w.message_bar.isVisible()
    panel = w.replay.events_panel
    qtbot.waitUntil(lambda: any(k == "rewind" for _, k, _ in panel.rows()), timeout=5000)
    assert any(k == "spike" for _, k, _ in panel.rows()) is False  # forgotten with what came after


def test_rewind_offer_parses_core_messages():
    from visualizer.replay_ui import rewind_offer

    assert rewind_offer("Training paused: loss 3 is 99x ... Rewind to step 1,500 (the last exact snapshot) "
                        "from the Events list.") == 1500
    assert rewind_offer("Training paused: diverged. You can also rewind to the exact snapshot at step 200 "
                        "(Events list).") == 200
    assert rewind_offer("Could not build fake") is None


def test_replay_fits_at_1280x720(make_window, qtbot):
    w = make_window(size=(1280, 720))
    _train(w, qtbot, 30)
    _replay(w, qtbot, 10)
    qtbot.wait(50)
    tl = w.replay.timeline
    assert tl.slider.width() >= 120
    assert tl.label.width() >= tl.label.sizeHint().width() - 2  # "replaying step 10 (keyframe at 10)" whole
    assert w.scrubber.slider.width() >= 100
    assert tl.live_button.isVisible() and tl.live_button.isEnabled()
    assert tl.mapTo(w, QtCore.QPoint(tl.width(), 0)).x() <= w.width()


def test_session_replay_api_without_a_window(make_session, qtbot):
    s = make_session(fake_spec())
    qtbot.waitUntil(lambda: s.state == "idle", timeout=5000)
    s.set_speed_cap(None)
    s.step_n(20)
    qtbot.waitUntil(lambda: s.step >= 20 and s.state == "paused", timeout=5000)
    changes = []
    s.replay_changed.connect(changes.append)
    snaps = []
    s.snapshot_ready.connect(snaps.append)
    s.show_keyframe(8)
    qtbot.waitUntil(lambda: s.replay_keyframe is not None, timeout=5000)
    assert s.replay_step == 8 and changes[0] == 8
    assert snaps[-1].probe is s.replay_keyframe.probe and snaps[-1].step == 8
    s.live()
    assert s.replay_step is None and changes[-1] is None
    qtbot.waitUntil(lambda: snaps[-1].probe is not None and snaps[-1].step == 20, timeout=5000)
