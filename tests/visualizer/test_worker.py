"""The training worker in its thread, driven through the session hub (fake experiment: fast)."""
from __future__ import annotations

import pytest

from fakes import FakeExperiment, fake_spec


def _wait_state(qtbot, session, state, timeout=3000):
    qtbot.waitUntil(lambda: session.state == state, timeout=timeout)


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
    step = s.query_sync(lambda e: e.step)
    assert step > 0
    qtbot.wait(100)
    assert s.query_sync(lambda e: e.step) == step  # paused: no training

    with qtbot.waitSignals([s.state_changed, s.state_changed], order="strict", timeout=3000,
                           check_params_cbs=[lambda st: st == "running", lambda st: st == "paused"]):
        s.step_n(7)
    assert s.query_sync(lambda e: e.step) == step + 7
    qtbot.waitUntil(lambda: s.step == step + 7, timeout=2000)  # the final snapshot arrived

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
    n = s.query_sync(lambda e: e.step)
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
    assert s.query_sync(lambda e: (e.lr, e.config["learning_rate"])) == (0.03, 0.03)
    assert s.spec.config["learning_rate"] == 0.03
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
    assert s.query_sync(lambda e: e.lr) == 0.1


def test_divergence_pauses_with_step_and_hint(qtbot, make_session):
    s = make_session(diverge_at=30)
    _wait_state(qtbot, s, "idle")
    with qtbot.waitSignal(s.errored, timeout=3000) as blocker:
        s.play()
    msg = blocker.args[0]
    assert "step 30" in msg and "learning_rate" in msg
    _wait_state(qtbot, s, "paused")
    assert s.query_sync(lambda e: e.step) == 29
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
    assert s.query_sync(lambda e: e.step) == 0


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
    assert s.query_sync(lambda e: (e.step, e.config["corpus"])) == (5, "")
    assert s.spec.config["corpus"] == ""


def test_probe_example_and_refresh(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    with qtbot.waitSignal(s.snapshot_ready, timeout=3000,
                          check_params_cb=lambda snap: snap.probe is not None and snap.probe.extras["example"] == 5):
        s.set_probe_example(example=5)
    with qtbot.waitSignal(s.snapshot_ready, timeout=3000, check_params_cb=lambda snap: bool(snap.extras)):
        s.refresh()
    assert s.latest_views["example"] == 5


def test_stop_while_training_is_quick(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    s.play()
    qtbot.waitUntil(lambda: s.step > 100, timeout=3000)
    assert s.shutdown(1.0)
    assert not s.running


def test_query_errors_are_raised(qtbot, make_session):
    s = make_session()
    _wait_state(qtbot, s, "idle")
    with pytest.raises(KeyError):
        s.query_sync(lambda e: e.config["nope"])


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
                    and sum(f.probe is None and not f.extras for f in frames) >= 3, timeout=5000)
    s.pause()
    _wait_state(qtbot, s, "paused")
    light = [f for f in frames if f.probe is None and not f.extras]
    assert all(f.metrics for f in light)  # a light frame is new metric points only
    heavy_steps = [f.probe.step for f in frames if f.probe is not None]
    assert heavy_steps == sorted(heavy_steps)
    assert s.latest_probe.step == s.step  # pausing sends a final probe of where training stopped
