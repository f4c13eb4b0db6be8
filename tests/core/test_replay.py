"""Training time: keyframes, events, exact snapshots, rewind, the spike watchdog (core.replay + core.run)."""
from __future__ import annotations

import numpy as np
import pytest

from core import views as V
from core.experiments.binary_addition import BinaryAddition
from core.probe import frozen_array
from core.replay import Keyframe, KeyframeStore, RunEvent, decode, dense_steps, encode
from core.run import (Failed, KeyframeShown, Note, Play, Replaced, RewindTo, Run, RunSpec, Save, SetLive,
                      SetWatchdog, ShowKeyframe, StateChanged, Step)

SMALL = {"hidden_size": 6, "batch_size": 8}


def train(run: Run, n: int) -> list:
    events = run.apply(Step(n))
    while run.training:
        events += run.advance(1.0)
    return events


def small_run(cls=BinaryAddition) -> Run:
    run = Run(RunSpec.create(cls, seed=2, values=SMALL))
    run.keyframe_share = 1e9  # every scheduled keyframe (the default share skips some when views are costly)
    return run


def test_keyframes_take_a_bounded_share_of_the_training_time():
    run = Run(RunSpec.create(BinaryAddition, seed=2, values=SMALL))
    run.keyframe_share = 0.01
    train(run, 300)
    assert run.keyframe_seconds <= 0.01 * run.train_seconds + 0.02 + 0.05  # + one keyframe's cost at most
    assert 1 in run.keyframes.steps()  # the first is always recorded


def test_the_schedule_is_dense_early_and_memory_is_bounded():
    steps = dense_steps()
    assert steps[:8] == [1, 2, 3, 4, 5, 6, 7, 8] and steps[-1] < 1000 and len(steps) < 60
    assert all(b / a <= 1.5 for a, b in zip(steps[10:], steps[11:]))  # no long gaps early on
    store = KeyframeStore(budget=200_000, every=10)
    payload = np.zeros(1000)  # 8 kB a keyframe
    for step in range(1, 20_001):
        if store.due(step):
            store.add(Keyframe(step, frozen_array(payload), (), {"loss": 1.0 / step}))
    assert store.nbytes <= 200_000
    steps = store.steps()
    assert steps[0] == 1 and steps[-1] == 20_000 and 10 < len(steps) < 40  # first and latest kept, bounded
    assert store.at(15_005).step <= 15_005 and store.at(0) is None


def test_replaying_a_step_shows_the_probe_that_was_live_then():
    run = small_run()
    twin = small_run()
    train(run, 40)
    recorded = run.keyframes.steps()
    assert recorded[:4] == [1, 2, 3, 4]
    for k in recorded[::5] + recorded[-1:]:
        train(twin, k - twin.step)
        live = twin.experiment.probe()
        (shown,) = run.apply(ShowKeyframe(k))
        assert isinstance(shown, KeyframeShown) and shown.keyframe.step == k
        kf = shown.keyframe
        np.testing.assert_array_equal(kf.probe.layers[0].states["h"], live.layers[0].states["h"])
        np.testing.assert_array_equal(kf.probe.view(V.BitSum).pred_bits, live.view(V.BitSum).pred_bits)
        assert kf.metrics["loss"] == twin.history.last("loss")
    (shown,) = run.apply(ShowKeyframe(recorded[-1] + 1))  # between keyframes: the one in force
    assert shown.keyframe.step == recorded[-1]
    (bad,) = run.apply(ShowKeyframe(0))
    assert isinstance(bad, Failed) and "no keyframe" in bad.text


def test_rewind_then_training_reproduces_the_original_exactly():
    run = small_run()
    train(run, 260)
    original = run.history.arrays("loss")[1].copy()
    acc = run.history.arrays("accuracy")
    events = run.apply(RewindTo(230))  # the newest exact snapshot at or before 230 is step 200
    replaced = next(e for e in events if isinstance(e, Replaced))
    assert run.step == 200 and StateChanged("paused") in events and run.events[-1].kind == "rewind"
    assert list(replaced.history.arrays("loss")[0])[-1] == 200  # the history as it was at step 200
    assert run.keyframes.steps()[-1] <= 200
    train(run, 60)
    np.testing.assert_array_equal(run.history.arrays("loss")[1], original)  # bit-identical
    np.testing.assert_array_equal(run.history.arrays("accuracy")[1], acc[1])
    fresh = small_run()
    train(fresh, 5)
    fresh.apply(RewindTo(5))
    assert fresh.step == 0  # a fresh model keeps a snapshot of step 0: back to the very start
    (bad,) = fresh.apply(RewindTo(-1))
    assert isinstance(bad, Failed) and "no exact snapshot" in bad.text


def test_events_and_keyframes_survive_save_and_load(tmp_path):
    run = small_run()
    train(run, 12)
    run.apply(SetLive("learning_rate", 0.05))
    (note,) = run.apply(Note("  lowered   lr because the loss was flat "))
    assert note.event == RunEvent(12, "note", "lowered lr because the loss was flat")
    run.apply(Save(str(tmp_path / "r.npz")))
    loaded = Run.from_checkpoint(str(tmp_path / "r.npz"))
    assert [e.kind for e in loaded.events] == ["live", "note", "saved"]
    assert loaded.events[:2] == run.events[:2]
    assert loaded.keyframes.steps() == run.keyframes.steps()
    a, b = run.keyframes.at(12), loaded.keyframes.at(12)
    np.testing.assert_array_equal(a.probe.layers[0].states["h"], b.probe.layers[0].states["h"])
    assert a.probe.view(V.BitSum).a == b.probe.view(V.BitSum).a and a.metrics == b.metrics
    assert a.views[0] == b.views[0]  # the MarkedUnit view
    (empty,) = run.apply(Note("   "))
    assert isinstance(empty, Failed) and "note" in empty.text


def test_encoding_keeps_every_view_type_without_pickle():
    samples = V.TextSamples(((0.2, "the cat"), (1.0, "qz\n")), "the the", "The ")
    forecast = V.SeriesForecast(*(frozen_array(np.arange(3.0)) for _ in range(5)), rmse=0.5, forecast_rmse=float("inf"))
    arrays: dict = {}
    doc = encode(Keyframe(3, None, (samples, forecast), {"loss": 0.5}), arrays, "k/")
    back = decode(doc, arrays)
    assert back.views[0] == samples and back.views[1].forecast_rmse == float("inf")
    np.testing.assert_array_equal(back.views[1].x, np.arange(3.0))
    with pytest.raises(ValueError, match="unknown type"):
        decode({"__type__": "os.system"}, {})


class _Spiking(BinaryAddition):
    """The loss jumps 1000-fold at step 70 (as a blow-up would)."""

    def train_step(self):
        out = super().train_step()
        if self.step >= 70:
            out["loss"] *= 1000.0
        return out


def test_the_spike_watchdog_pauses_says_where_and_rewinds():
    run = small_run(_Spiking)
    run.apply(Play())
    events = []
    while run.training:
        events += run.advance(1.0)
    assert run.step == 70 and run.state == "paused"
    failed = next(e for e in events if isinstance(e, Failed))
    assert "largest of the last 50" in failed.text and "Rewind to step 50" in failed.text
    assert "timestep" in failed.text and "layer 1" in failed.text  # where it blew up
    assert run.events[-1].kind == "spike"
    run.apply(RewindTo(run.step))
    assert run.step == 50
    assert run.apply(SetWatchdog(0)) == [] and run.spike_factor == 0
    (bad,) = run.apply(SetWatchdog(0.5))
    assert isinstance(bad, Failed) and "spike factor" in bad.text


class _Noisy(BinaryAddition):
    """A healthy run with noisy minibatches (every 7th loss 5x) and one hard one at step 100 (30x: far above
    the median, within 20x of the recent largest)."""

    def train_step(self):
        out = super().train_step()
        if self.step % 7 == 0:
            out["loss"] *= 5.0
        if self.step == 100:
            out["loss"] *= 30.0
        return out


def test_a_hard_minibatch_does_not_stop_a_healthy_run():
    run = small_run(_Noisy)
    events = train(run, 200)
    assert run.step == 200 and not any(isinstance(e, Failed) for e in events)

