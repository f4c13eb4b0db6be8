"""The training worker in its thread, driven through the session hub (fake experiment: fast)."""
from __future__ import annotations

import pytest

from core.run import Play
from fakes import FakeExperiment, FakeNote, fake_spec


def _wait_state(qtbot, session, state, timeout=3000):
    qtbot.waitUntil(lambda: session.state == state, timeout=timeout)


def _settled_step(qtbot, s, timeout=3000):
    """The step a paused run stopped at, once its final frame (with a probe of that step) has arrived."""
    while True:
        qtbot.waitUntil(lambda: s.state == "paused" and s.latest_probe is not None
                        and s.latest_probe.step == s.step, timeout=timeout)
        step = s.step
        qtbot.wait(100)  # the final frame may still be on its way
        if s.step == step and s.latest_probe.step == step:
            return step


def _model_lr(s):
    """The learning rate the model holds, as its probe view shows it."""
    return s.latest_probe.view(FakeNote).learning_rate


def test_start_play_pause_step_stop(qtbot, make_session):
    s = make_session(start=False)
    with qtbot.waitSignals([s.experiment_changed, s.snapshot_ready, s.state_changed], order="strict", timeout=3000):
        s.start()
    assert s.state == "idle" and s.spec.cls is FakeExperiment

    with qtbot.waitSignals([s.state_changed, s.snapshot_ready], order="strict", timeout=3000,
                           check_params_cbs=[lambda st: st == "running", None]):
        s.play()
    with qtbot.waitSignal(s.state_changed, timeout=3000, check_params_cb=lambda st: st == "paused"):
        s.pause()
    step = _settled_step(qtbot, s)
    assert step > 0
    qtbot.wait(100)
    assert s.step == step  # paused: no training

    with qtbot.waitSignals([s.state_changed, s.state_changed], order="strict", timeout=3000,
                           check_params_cbs=[lambda st: st == "running", lambda st: st == "paused"]):
        s.step_n(7)
    qtbot.waitUntil(lambda: s.step == step + 7, timeout=2000)  # the final snapshot arrived
    assert _settled_step(qtbot, s) == step + 7

    with qtbot.waitSignal(s.state_changed, timeout=3000, check_params_cb=lambda st: st == "stopped"):
        assert s.shutdown(1.0)
    assert not s.running


def test_snapshots_carry_every_metric_point_and_probe(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    with qtbot.waitSignal(s.state_changed, timeout=3000, check_params_cb=lambda st: st == "paused"):
        s.step_n(25)
    qtbot.waitUntil(lambda: s.step == 25, timeout=2000)
    steps, values = s.history.arrays("loss")
    assert list(steps) == list(range(1, 26))  # every step, once, in order
    assert list(s.history.arrays("val_loss")[0]) == [10, 20]  # eval every 10 steps
    assert s.latest_probe is not None and s.latest_probe.step == 25
    assert s.latest_probe.layers[0].states["h"].shape == (6, 4)  # (T, H)
    assert not s.latest_probe.layers[0].states["h"].flags.writeable  # frozen before crossing


def test_speed_cap_limits_steps(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    s.set_speed_cap(20)
    s.play()
    qtbot.wait(500)
    s.pause()
    _wait_state(qtbot, s, "paused")
    n = _settled_step(qtbot, s)
    assert 1 <= n <= 20  # ~10 in 0.5 s at 20 steps/s; uncapped would be thousands
    s.set_speed_cap(None)
    s.step_n(500)
    qtbot.waitUntil(lambda: s.step == n + 500, timeout=3000)


def test_live_change_reaches_the_model(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    s.play()
    with qtbot.waitSignal(s.live_param_changed, timeout=3000) as blocker:
        s.set_live("learning_rate", 0.03)
    name, value, step = blocker.args
    assert (name, value) == ("learning_rate", 0.03) and step >= 0
    assert s.spec.config["learning_rate"] == 0.03
    qtbot.waitUntil(lambda: s.latest_probe is not None and _model_lr(s) == 0.03, timeout=3000)
    s.pause()


def test_bad_live_value_reports_and_keeps_training(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    with qtbot.waitSignal(s.errored, timeout=3000) as blocker:
        s.set_live("learning_rate", 99.0)
    assert "learning_rate" in blocker.args[0] and "range" in blocker.args[0]
    with qtbot.waitSignal(s.errored, timeout=3000) as blocker:
        s.set_live("hidden_size", 9)
    assert "structural" in blocker.args[0]
    s.step_n(1)
    assert _settled_step(qtbot, s) == 1 and _model_lr(s) == 0.1 and s.spec.config["learning_rate"] == 0.1


def test_divergence_pauses_with_step_and_hint(qtbot, make_session):
    s = make_session(diverge_at=30)
    _wait_state(qtbot, s, "idle")
    with qtbot.waitSignal(s.errored, timeout=3000) as blocker:
        s.play()
    msg = blocker.args[0]
    assert "step 30" in msg and "learning_rate" in msg
    qtbot.waitUntil(lambda: s.step == 29, timeout=3000)
    assert _settled_step(qtbot, s) == 29
    # the app keeps working: a live change fixes it and training continues
    s.set_live("diverge_at", 0)
    s.step_n(5)
    qtbot.waitUntil(lambda: s.step == 34, timeout=3000)


def test_unexpected_exception_pauses_and_reports(qtbot, make_session):
    s = make_session(fail_at=3)
    _wait_state(qtbot, s, "idle")
    with qtbot.waitSignal(s.errored, timeout=3000) as blocker:
        s.step_n(10)
    assert "RuntimeError" in blocker.args[0] and "step 3" in blocker.args[0]
    _wait_state(qtbot, s, "paused")
    assert s.running  # the thread survived


def test_reset_with_new_structure_rebuilds(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    s.step_n(20)
    qtbot.waitUntil(lambda: s.step == 20, timeout=3000)
    info = fake_spec(hidden_size=9)
    with qtbot.waitSignals([s.metrics_reset, s.experiment_changed, s.snapshot_ready], order="strict", timeout=3000):
        s.restart(info)
    qtbot.waitUntil(lambda: s.latest_probe is not None, timeout=2000)
    assert s.latest_probe.layers[0].states["h"].shape == (6, 9)
    assert s.step == 0 and len(s.history) == 0


def test_failed_rebuild_changes_nothing(qtbot, make_session, tmp_path):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    s.step_n(5)
    qtbot.waitUntil(lambda: s.step == 5, timeout=3000)
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    with qtbot.waitSignal(s.errored, timeout=3000) as blocker:
        s.restart(fake_spec(corpus=str(empty)))
    assert "empty" in blocker.args[0]
    assert s.spec.config["corpus"] == ""
    s.step_n(1)  # the old model goes on from where it was
    qtbot.waitUntil(lambda: s.step == 6, timeout=3000)


def test_probe_example_and_refresh(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    with qtbot.waitSignal(s.snapshot_ready, timeout=3000,
                          check_params_cb=lambda snap: snap.probe is not None
                          and snap.probe.view(FakeNote).example == 5):
        s.set_probe_example(example=5)
    with qtbot.waitSignal(s.snapshot_ready, timeout=3000, check_params_cb=lambda snap: bool(snap.views)):
        s.refresh()
    assert s.latest_views[FakeNote].example == 5


def test_stop_while_training_is_quick(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    s.play()
    qtbot.waitUntil(lambda: s.step > 100, timeout=3000)
    assert s.shutdown(1.0)
    assert not s.running


def test_commands_are_typed(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    with pytest.raises(TypeError, match="Command"):
        s._worker.post("play")  # strings are not commands
    with qtbot.waitSignal(s.state_changed, timeout=3000, check_params_cb=lambda st: st == "running"):
        s.send(Play())
    s.pause()


def test_a_failing_probe_is_reported_once_and_training_goes_on(qtbot, make_session):
    s = make_session(broken_probe=True)
    with qtbot.waitSignal(s.errored, timeout=3000) as blocker:
        pass
    assert "probe() failed" in blocker.args[0] and "IndexError" in blocker.args[0]
    errors = []
    s.errored.connect(errors.append)
    s.step_n(50)
    qtbot.waitUntil(lambda: s.step == 50, timeout=3000)
    assert errors == [] and s.latest_probe is None


def test_running_emits_light_metric_frames_between_heavy_probe_frames(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    frames = []
    s.snapshot_ready.connect(frames.append)
    s.play()
    qtbot.waitUntil(lambda: sum(f.probe is not None for f in frames) >= 3
                    and sum(f.probe is None and not f.views for f in frames) >= 3, timeout=15000)
    s.pause()
    _settled_step(qtbot, s)
    light = [f for f in frames if f.probe is None and not f.views]
    assert all(f.metrics for f in light)  # a light frame is new metric points only
    heavy_steps = [f.probe.step for f in frames if f.probe is not None]
    assert heavy_steps == sorted(heavy_steps)
    assert s.latest_probe.step == s.step  # pausing sends a final probe of where training stopped
