"""core.runs: several runs — fork, select, keep every replaced run, train side by side."""
from __future__ import annotations

import numpy as np
import pytest

from core.run import Failed, Load, Pause, Play, Replaced, Restart, RunSpec, Save, SetLive, SetSpeed, Step
from core.runs import (Fork, RemoveRun, RenameRun, RunsChanged, RunSet, Selected, SelectRun, SetActive, SetCompare,
                       clone_experiment)

SMALL = {"hidden_size": 6, "batch_size": 8}


def runset() -> RunSet:
    return RunSet(RunSpec.create("binary-addition", seed=1, values=SMALL))


def train(rs: RunSet, n: int) -> None:
    rs.apply(Step(n))
    while rs.training:
        rs.advance(1.0)


def losses(rs: RunSet, rid: int) -> list[float]:
    return list(rs.runs[rid].history.arrays("loss")[1])


def changed(events) -> RunsChanged:
    return next(e for e in reversed(events) if isinstance(e, RunsChanged))


def test_a_fork_without_changes_continues_bit_identically():
    rs = runset()
    train(rs, 10)
    events = rs.apply(Fork.of())
    info = changed(events)
    assert rs.selected == 2 and [r.id for r in info.runs] == [1, 2]
    assert info.runs[1].parent == 1 and info.runs[1].fork_step == 10 and info.runs[1].step == 10
    replaced = next(e for e in events if isinstance(e, Replaced))
    assert replaced.run == 2 and list(replaced.history.arrays("loss")[0]) == list(range(1, 11))  # the curve so far
    train(rs, 15)  # both are active: they train side by side
    assert rs.runs[1].step == rs.runs[2].step == 25
    assert losses(rs, 1) == losses(rs, 2)  # bit-identical continuation
    for k, v in rs.runs[1].experiment.params.items():
        np.testing.assert_array_equal(v, rs.runs[2].experiment.params[k])


def test_a_fork_with_another_learning_rate_differs_only_after_the_fork_step():
    rs = runset()
    train(rs, 10)
    rs.apply(Fork.of(learning_rate=0.02))
    train(rs, 10)
    a, b = losses(rs, 1), losses(rs, 2)
    assert a[:10] == b[:10]  # the shared past
    assert a[10] == b[10]  # step 11's loss is computed before the first update with the new rate
    assert a[11:] != b[11:]
    info = changed(rs.apply(RenameRun(2, "slow lr")))
    assert info.runs[1].name == "slow lr" and info.runs[1].differs == (("learning_rate", 0.02),)
    assert info.runs[1].metric == "loss" and info.runs[1].value == pytest.approx(b[-1])  # no accuracy yet: the loss


def test_a_structural_fork_starts_from_the_same_seed_at_step_0():
    rs = runset()
    train(rs, 5)
    rs.apply(Fork.of(hidden_size=4))
    assert rs.run.step == 0 and rs.run.spec.config["hidden_size"] == 4 and rs.parents[2] == (1, 0)
    (bad,) = rs.apply(Fork.of(hidden_size=0))
    assert isinstance(bad, Failed) and "hidden_size" in bad.text


def test_restart_and_load_keep_the_previous_run(tmp_path):
    rs = runset()
    train(rs, 7)
    rs.apply(Save(str(tmp_path / "a.npz")))
    events = rs.apply(Restart(RunSpec.create("binary-addition", "trask", seed=2, values=SMALL)))
    assert isinstance(events[0], Replaced) and events[0].run == 2
    info = changed(events)
    assert [r.id for r in info.runs] == [1, 2] and info.selected == 2
    assert info.runs[0].step == 7 and not info.runs[0].active  # kept, paused, out of the transport
    train(rs, 3)
    assert rs.runs[1].step == 7 and rs.runs[2].step == 3
    events = rs.apply(Load(str(tmp_path / "a.npz")))
    assert rs.selected == 3 and rs.run.step == 7 and len(rs.runs) == 3
    assert list(next(e for e in events if isinstance(e, Replaced)).history.arrays("loss")[0]) == list(range(1, 8))
    (bad,) = rs.apply(Load(str(tmp_path / "missing.npz")))
    assert isinstance(bad, Failed) and len(rs.runs) == 3


def test_select_remove_and_route_commands_to_the_selected_run():
    rs = runset()
    rs.apply(Fork.of())
    rs.apply(SetLive("learning_rate", 0.05))  # to the selected run (2) only
    assert rs.runs[2].experiment.optimizer.lr == 0.05 and rs.runs[1].experiment.optimizer.lr == 0.1
    events = rs.apply(SelectRun(1))
    assert isinstance(events[0], Selected) and events[0].run == 1 and rs.run.wants("probe")
    rs.apply(SetActive(2, False))
    train(rs, 4)
    assert rs.runs[1].step == 4 and rs.runs[2].step == 0
    rs.apply(SetCompare(2))
    frames, _ = rs.frame()
    assert [rid for rid, _ in frames] == [1, 2]  # the selected run and the compared one
    assert frames[1][1].probe is not None
    rs.apply(RemoveRun(2))
    assert list(rs.runs) == [1] and rs.compare is None
    (last,) = rs.apply(RemoveRun(1))
    assert isinstance(last, Failed) and "last run" in last.text


def test_other_runs_send_metric_points_only():
    rs = runset()
    rs.apply(Fork.of())
    rs.apply(SelectRun(1))
    rs.frame()
    rs.apply(Play())
    rs.advance(0.05)
    rs.apply(Pause())
    frames, _ = rs.frame()
    by_run = dict(frames)
    assert by_run[1].probe is not None and by_run[2].probe is None and by_run[2].views == ()
    assert by_run[2].metrics["loss"][0].size == rs.runs[2].step


def test_the_speed_cap_holds_for_every_run():
    now = [0.0]
    rs = RunSet(RunSpec.create("binary-addition", values=SMALL), clock=lambda: now[0])
    rs.apply(SetSpeed(10.0))
    rs.apply(Fork.of())
    rs.apply(Play())
    now[0] = 1.0
    rs.advance(5.0)
    assert rs.runs[1].step == rs.runs[2].step == 10


def test_clone_is_exact():
    from core.experiments.sine import Sine

    spec = RunSpec.create(Sine, values={"hidden_size": 5, "batch_size": 4})
    a = spec.build()
    for _ in range(3):
        a.train_step()
    b = clone_experiment(a, spec)
    assert [a.train_step()["loss"] for _ in range(3)] == [b.train_step()["loss"] for _ in range(3)]
