"""The run loop's observation budget: schedules checked only where something can be due, the adaptive
keyframe cadence, and frames reusing a keyframe's probe/views of the same step."""
from __future__ import annotations

from core.experiments.binary_addition import BinaryAddition
from core.replay import KeyframeStore, SnapshotStore
from core.run import Play, Run, RunSpec, Step

SMALL = {"hidden_size": 4, "batch_size": 8}


def test_next_due_is_the_first_scheduled_step():
    for store in (KeyframeStore(), SnapshotStore()):
        for every in (store.every, 400):
            store.every = every
            for step in range(0, 4000):
                n = store.next_due(step)
                assert n > step and store.due(n) and not any(store.due(s) for s in range(step + 1, n)), (every, step)


def test_the_keyframe_cadence_follows_the_measured_costs():
    run = Run(RunSpec.create(BinaryAddition, seed=1, values=SMALL))
    run._steps_done, run.train_seconds = 1000, 1.0  # 1 ms a step
    run._probe_cost, run._views_cost = 0.002, 0.02
    run._adapt_keyframes()  # 0.5% of 100 steps = 0.5 ms: probes every 4 x 100 steps, views every 16 x 400
    assert run.keyframes.every == 400 and run._views_every == 6400
    run.keyframe_share = 1e9  # movies: every scheduled keyframe, each with fresh views
    run._adapt_keyframes()
    assert run.keyframes.every == 100 and run._views_every == 100


def test_regular_keyframes_stay_on_their_grid_within_the_budget():
    run = Run(RunSpec.create(BinaryAddition, seed=1, values=SMALL))
    run.apply(Step(3000))
    while run.training:
        run.advance(1.0)
    regular = [s for s in run.keyframes.steps() if s >= 1000]
    assert regular and all(s % run.keyframes.base_every == 0 for s in regular)
    assert run.keyframe_seconds <= 0.01 * run.train_seconds + 0.02 + 0.05
    assert 3000 in run.snapshots.steps() and 2500 in run.snapshots.steps()


def test_a_frame_reuses_the_keyframe_of_the_same_step():
    run = Run(RunSpec.create(BinaryAddition, seed=1, values=SMALL))
    calls = {"probe": 0, "views": 0}
    for name in calls:
        fn = getattr(run.experiment, name)

        def counted(fn=fn, name=name):
            calls[name] += 1
            return fn()
        setattr(run.experiment, name, counted)
    run.frame()  # the first frame: probe and views wanted
    run.apply(Step(1))  # step 1: a keyframe (the dense start) with a fresh probe and views
    run.advance(1.0)
    assert run.keyframes.at(1) is not None and calls == {"probe": 2, "views": 2}
    run._wanted.clear()  # (the Step's end asks for a fresh probe; a frame of the pacer's does not)
    snap, _ = run.frame(probe=True, views=True)
    assert calls == {"probe": 2, "views": 2}  # the keyframe's, not computed again
    assert snap.probe is run.keyframes.at(1).probe and snap.views == run.keyframes.at(1).views
    assert run.probe_seconds is not None and run.views_seconds is not None  # the pacer keeps its spacing
    run.apply(Play())
    run.advance(0.01)
    run._wanted.clear()
    run.frame(probe=True, views=False)
    assert calls["probe"] == 3 or run.step in run.keyframes.steps()


def test_the_stores_keep_their_order_and_byte_totals_however_snapshots_arrive():
    """Adds in step order cost no sort and no walk over the store; out of order ones still sort; the running
    byte total always equals the sum of what is held (through drops past the budget, truncation, copies)."""
    import numpy as np

    from core.replay import Keyframe, StateSnapshot

    def snap(step, n=100):
        return StateSnapshot(step, {"w": np.zeros(n)}, {}, {"loss": np.zeros(n)}, {})

    store = SnapshotStore(budget=10 * 1600, every=500)  # room for 10 snapshots of 1600 bytes
    for step in (0, 500, 1000, 250, 1500):
        store.add(snap(step))
    assert store.steps() == [0, 250, 500, 1000, 1500]
    assert store.nbytes == sum(s.nbytes for s in store.snaps.values()) == 5 * 1600
    store.add(snap(500, 200))  # replaced: its old size leaves the total
    assert store.nbytes == sum(s.nbytes for s in store.snaps.values())
    for step in range(2000, 8000, 500):
        store.add(snap(step))
    assert store.nbytes <= store.budget and store.steps()[0] == 0 and store.steps()[-1] == 7500
    assert store.nbytes == sum(s.nbytes for s in store.snaps.values())
    twin = store.copy(5000)
    assert twin.steps() == [s for s in store.steps() if s <= 5000]
    assert twin.nbytes == sum(s.nbytes for s in twin.snaps.values())
    store.truncate(3000)
    assert store.steps()[-1] <= 3000 and store.nbytes == sum(s.nbytes for s in store.snaps.values())
    frames = KeyframeStore()
    for step in (1, 2, 5, 3, 1100):
        frames.add(Keyframe(step, None, (), {}))
    assert frames.steps() == [1, 2, 3, 5, 1100]


def test_a_frame_shows_a_keyframes_newer_views_under_half_a_second_old_instead_of_computing_its_own():
    """Keyframes and frames would each compute views on their own cadence; a frame takes the latest
    keyframe's views when it has not shown them yet and they are under REUSE_SECONDS old."""
    from core import run as run_module

    now = [100.0]
    run = Run(RunSpec.create(BinaryAddition, seed=1, values=SMALL), clock=lambda: now[0])
    calls = []
    fn = run.experiment.views
    run.experiment.views = lambda: calls.append(run.step) or fn()
    run.frame(views=True)  # the first frame: fresh views, at step 0
    run.apply(Step(40))
    run.advance(1.0)  # the dense start's keyframes compute views (steps 1, 2, 3, 5, ...)
    run._wanted.clear()
    kf_step = max(s for s in run.keyframes.steps() if s in calls)
    run._check_at = 10 ** 9  # no more keyframes: only frames compute views from here

    def ten_steps():
        run.apply(Step(10))
        run.advance(1.0)
        run._wanted.clear()

    ten_steps()
    assert run.step - kf_step > run_module.REUSE_STEPS  # (not the same-step reuse)
    now[0] += run_module.REUSE_SECONDS / 2  # the keyframe's views are a quarter second old: shown, not recomputed
    n = len(calls)
    snap, _ = run.frame(views=True)
    assert len(calls) == n and snap.views == run.keyframes.at(kf_step).views and run.views_seconds is not None

    ten_steps()  # ... once: the next frame that wants views computes them afresh
    run.frame(views=True)
    assert len(calls) == n + 1 and calls[-1] == run.step

    ten_steps()
    run._note_views(fn(), run.step, 0.003)  # as a keyframe does: views newer than the frames showed ...
    ten_steps()
    now[0] += 2 * run_module.REUSE_SECONDS  # ... but a second old: stale, computed afresh
    n = len(calls)
    run.frame(views=True)
    assert len(calls) == n + 1 and calls[-1] == run.step
