"""The session hub: history from snapshots, stale snapshots dropped, one shared timestep."""
from __future__ import annotations

import numpy as np

from core.probe import Snapshot
from fakes import FakeNote, fake_spec
from visualizer.session import TrainingSession, _merge


def _snap(seq, steps, probe=None, views=()):
    s = np.array(steps, dtype=np.int64)
    return Snapshot(seq, int(s[-1]) if s.size else 0, {"loss": (s, 1.0 / (1 + s))}, probe, views)


def test_history_and_stale_snapshots(qtbot):
    session = TrainingSession(fake_spec(), start=False)  # no worker: feed snapshots by hand
    seen = []
    session.snapshot_ready.connect(seen.append)
    session._on_worker_snapshot(_snap(1, [1, 2, 3]))
    session._on_worker_snapshot(_snap(3, [4, 5]))
    session._on_worker_snapshot(_snap(2, [99]))  # older than one already drawn: dropped
    steps, values = session.history.arrays("loss")
    assert list(steps) == [1, 2, 3, 4, 5]
    assert [s.seq for s in seen] == [1, 3]
    assert session.step == 5


def test_merge_concatenates_metrics_and_keeps_latest_probe_and_views():
    a = _snap(1, [1, 2], probe="p1", views=(FakeNote(2, 0, 0.1),))
    b = _snap(2, [3], probe=None)
    c = _snap(3, [4], probe=None, views=(FakeNote(4, 1, 0.1),))
    m = _merge([a, b])
    assert m.seq == 2 and m.step == 3
    assert list(m.metrics["loss"][0]) == [1, 2, 3]
    assert m.probe == "p1" and m.views == (FakeNote(2, 0, 0.1),)
    assert _merge([a, b, c]).views == (FakeNote(4, 1, 0.1),)  # the newest view of each type


def test_timestep_is_shared_and_clamped(qtbot, make_session):
    s = make_session(seq_len=5)
    qtbot.waitUntil(lambda: s.latest_probe is not None, timeout=3000)
    with qtbot.waitSignal(s.timestep_changed, timeout=1000) as blocker:
        s.set_timestep(3)
    assert blocker.args == [3] and s.timestep == 3
    s.set_timestep(99)
    assert s.timestep == 4  # clamped to T - 1
    s.set_timestep(-2)
    assert s.timestep == 0
    with qtbot.assertNotEmitted(s.timestep_changed):
        s.set_timestep(0)  # unchanged: no signal


def test_timestep_follows_a_shorter_probe(qtbot, make_session):
    s = make_session(seq_len=8)
    qtbot.waitUntil(lambda: s.latest_probe is not None, timeout=3000)
    s.set_timestep(7)
    s.restart(fake_spec(seq_len=3))
    qtbot.waitUntil(lambda: s.latest_probe is not None and s.latest_probe.num_steps == 3, timeout=3000)
    assert s.timestep == 2


def test_commands_sent_before_the_worker_starts_are_kept(qtbot, make_session):
    s = make_session(start=False)
    s.set_speed_cap(50)
    s.step_n(3)
    s.start()
    qtbot.waitUntil(lambda: s.step == 3 and s.state == "paused", timeout=3000)
