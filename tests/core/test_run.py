"""core.run: the Qt-free run loop — typed commands in, typed events and frames out."""
from __future__ import annotations

import numpy as np
import pytest

from core import views as V
from core.config import ConfigError
from core.experiments.binary_addition import BinaryAddition
from core.experiments.common import TrainingDiverged
from core.run import (Failed, LiveApplied, Load, Notice, Pause, Play, Refresh, Replaced, Restart, Run, RunSpec, Save,
                      SetLive, SetProbe, SetSpeed, StateChanged, Step)

SMALL = {"hidden_size": 6, "batch_size": 8}


def small_run(**values) -> Run:
    return Run(RunSpec.create("binary-addition", seed=1, values={**SMALL, **values}))


def train_out(run: Run) -> list:
    """Advance until the pending Step count is done; the events it produced."""
    events = []
    while run.training:
        events += run.advance(1.0)
    return events


def test_spec_is_built_in_one_place_and_validated():
    spec = RunSpec.create("binary-addition", "trask", seed=3, values={"hidden_size": 5})
    assert spec.cls is BinaryAddition and spec.preset == "trask" and spec.seed == 3
    assert spec.config["hidden_size"] == 5 and spec.config["optimizer"] == "sgd"  # the preset's, then the values
    with pytest.raises(TypeError):
        spec.config["hidden_size"] = 9  # read-only
    with pytest.raises(ConfigError, match=r"hidden_size: 0 is out of range \[1, 256\]"):
        spec.replace(values={"hidden_size": 0})
    with pytest.raises(ConfigError, match="seed"):
        RunSpec.create("binary-addition", seed=-1)
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        RunSpec.create("binary-addition", "nope")
    assert RunSpec.create().id == "binary-addition"  # the default experiment
    assert spec.replace(seed=4).config == spec.config and spec.replace(seed=4).seed == 4


def test_step_trains_exactly_n_then_pauses():
    run = small_run()
    assert run.state == "idle" and not run.training
    assert run.apply(Step(7)) == [StateChanged("running")]
    events = train_out(run)
    assert run.step == 7 and run.state == "paused" and events[-1] == StateChanged("paused")
    assert [e for e in run.apply(Step(0)) if isinstance(e, Failed)]  # a bad count is refused
    assert run.step == 7


def test_play_and_pause():
    run = small_run()
    run.apply(Play())
    run.advance(0.02)
    assert run.training and run.step >= 1
    assert run.apply(Pause()) == [StateChanged("paused")]
    n = run.step
    assert run.advance(0.02) == [] and run.step == n


def test_live_change_reaches_the_model_and_bad_values_change_nothing():
    run = small_run()
    events = run.apply(SetLive("learning_rate", 0.03))
    assert events[0] == LiveApplied("learning_rate", 0.03, 0)
    assert events[1].event.kind == "live" and run.events[-1].text == "learning_rate=0.03"  # marked on the time axis
    assert run.experiment.optimizer.lr == 0.03 and run.spec.config["learning_rate"] == 0.03
    (bad,) = run.apply(SetLive("learning_rate", 99.0))
    assert isinstance(bad, Failed) and "learning_rate" in bad.text and "range" in bad.text
    (structural,) = run.apply(SetLive("hidden_size", 9))
    assert isinstance(structural, Failed) and "structural" in structural.text
    assert run.experiment.optimizer.lr == 0.03 and run.spec.config["hidden_size"] == 6


def test_speed_cap_is_honoured_on_the_run_clock():
    now = [0.0]
    run = Run(RunSpec.create("binary-addition", values=SMALL), clock=lambda: now[0])
    run.apply(SetSpeed(10.0))
    run.apply(Play())
    run.advance(5.0)
    assert run.step == 0  # no time has passed: no step is due
    now[0] = 1.0
    run.advance(5.0)
    assert run.step == 10  # one second at 10 steps/s
    now[0] = 1.05
    assert run.wait_time() == pytest.approx(0.05)  # the next step is due at 1.1 s
    run.advance(5.0)
    assert run.step == 10
    (bad,) = run.apply(SetSpeed(0))
    assert isinstance(bad, Failed) and "speed" in bad.text


def test_frames_carry_each_metric_point_once_and_the_probe_when_asked():
    run = small_run()
    run.apply(Step(30))
    run.advance(0.0)  # one step
    first, _ = run.frame()
    assert first.probe is not None and first.views  # a new model: its probe and views come at once
    train_out(run)
    second, _ = run.frame()
    assert second.probe.step == 30 and second.views == ()  # a finished Step shows where it stopped
    steps = np.concatenate([first.metrics["loss"][0], second.metrics["loss"][0]])
    assert list(steps) == list(range(1, 31))
    assert list(second.metrics["accuracy"][0]) == [25]  # evaluated every 25 steps
    third, _ = run.frame()
    assert third.metrics == {} and third.probe is None and third.views == ()  # nothing new, nothing asked
    fourth, _ = run.frame(probe=True, views=True)
    assert fourth.probe.step == 30
    (unit,) = fourth.views
    assert isinstance(unit, V.MarkedUnit) and unit.label == "tracks the carry"


def test_commands_that_change_what_is_shown_ask_for_a_fresh_probe():
    run = small_run()
    run.frame()
    assert not run.wants("probe")
    run.apply(SetProbe.of(a=3, b=5))
    assert run.wants("probe")
    snap, _ = run.frame()
    board = snap.probe.view(V.BitSum)
    assert (board.a, board.b, board.true_sum) == (3, 5, 8)
    (bad,) = run.apply(SetProbe.of(a=999))
    assert isinstance(bad, Failed) and "probe a" in bad.text
    run.apply(Refresh())
    assert run.wants("probe") and run.wants("views")


def test_restart_rebuilds_and_a_failed_rebuild_keeps_the_model():
    run = small_run()
    run.apply(Step(5))
    train_out(run)
    events = run.apply(Restart(run.spec.replace(values={"hidden_size": 3})))
    assert isinstance(events[0], Replaced) and events[0].history is None and events[1] == StateChanged("idle")
    assert run.step == 0 and run.frame()[0].probe.layers[0].states["h"].shape[1] == 3
    broken = RunSpec(BinaryAddition, {**run.spec.config, "hidden_size": 0}, 1, "default")  # bypasses validation
    (failed,) = run.apply(Restart(broken))
    assert isinstance(failed, Failed) and "Could not build binary-addition" in failed.text
    assert run.spec.config["hidden_size"] == 3


def test_save_and_load_round_trip_and_bad_files_change_nothing(tmp_path):
    run = small_run()
    run.apply(Step(12))
    train_out(run)
    path = tmp_path / "ckpt.npz"
    saved, logged = run.apply(Save(str(path)))
    assert isinstance(saved, Notice) and "step 12" in saved.text
    run.apply(Step(3))
    train_out(run)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    (failed,) = run.apply(Load(str(bad)))
    assert isinstance(failed, Failed) and run.step == 15
    events = run.apply(Load(str(path)))
    replaced = next(e for e in events if isinstance(e, Replaced))
    assert run.step == 12 and replaced.spec.preset is None  # from a checkpoint
    assert list(replaced.history.arrays("loss")[0]) == list(range(1, 13))  # the curve comes back
    assert run.frame()[0].metrics == {}  # ... and is not sent again as new points


class _Diverging(BinaryAddition):
    def train_step(self):
        if self.step == 4:
            raise TrainingDiverged(5, "the loss", float("nan"))
        return super().train_step()


class _BrokenProbe(BinaryAddition):
    def probe(self):
        raise IndexError("a bug")


def test_a_diverged_step_pauses_with_a_message():
    run = Run(RunSpec.create(_Diverging, values=SMALL))
    run.apply(Play())
    events = []
    while run.training:
        events += run.advance(1.0)
    assert run.step == 4 and run.state == "paused"
    assert StateChanged("paused") in events and run.events[-1].kind == "diverged"
    assert isinstance(events[-1], Failed) and "step 5" in events[-1].text and "learning_rate" in events[-1].text


def test_a_failing_probe_is_reported_once_and_training_goes_on():
    run = Run(RunSpec.create(_BrokenProbe, values=SMALL))
    snap, events = run.frame(probe=True)
    assert snap.probe is None and len(events) == 1 and "probe() failed" in events[0].text
    run.apply(Step(3))
    train_out(run)
    snap, events = run.frame(probe=True)
    assert events == [] and run.step == 3


def test_unknown_commands_are_refused():
    (e,) = small_run().apply("play")
    assert isinstance(e, Failed) and "unknown command" in e.text
