"""The Trainer's evaluation schedule (thinning out in long runs) and binary-addition's scheduled
evaluation on a fixed sample, with the full check when the sample is all right and at the end."""
from __future__ import annotations

import numpy as np
import pytest

from core.experiments.binary_addition import BinaryAddition
from core.experiments.iris import Iris
from core.trainer import EVAL_DENSE, EVAL_MAX_STRETCH, Trainer


def _due(tr: Trainer, n: int) -> list[int]:
    return [s for s in range(1, n + 1) if tr.eval_due(s)]


def test_default_schedule_thins_out_and_caps_the_interval():
    tr = Trainer(BinaryAddition(seed=0))  # eval_every 25
    due = _due(tr, 10_000)
    E = 25
    assert due[:EVAL_DENSE] == [E * k for k in range(1, EVAL_DENSE + 1)]  # dense at first
    gaps = np.diff(due)
    assert np.all(np.diff(gaps) >= 0)  # never denser later
    assert gaps.max() == E * EVAL_MAX_STRETCH  # capped
    assert len(due) < 10_000 // E // 5
    assert all(s % E == 0 for s in due)


def test_explicit_eval_every_keeps_the_plain_grid_unless_thin():
    exp = Iris(seed=0)
    assert _due(Trainer(exp, eval_every=7), 200) == list(range(7, 201, 7))
    assert len(_due(Trainer(exp, eval_every=7, thin=True), 2000)) < 2000 // 7
    assert _due(Trainer(exp, eval_every=0), 50) == []


def test_binary_scheduled_eval_uses_the_sample_then_the_full_check():
    exp = BinaryAddition(seed=0)
    full_calls = []
    full = exp.evaluate
    exp.evaluate = lambda: full_calls.append(exp.step) or full()
    tr = Trainer(exp)
    hit = None
    for _ in range(400):
        r = tr.step()
        if r.eval is not None and r.eval["accuracy"] >= 1.0 and hit is None:
            hit = r.step
            assert full_calls and full_calls[-1] == r.step  # the first 1.0 is the full check's
            assert tr.last_eval_full is False  # (through the schedule)
    assert hit is not None
    n = len(full_calls)
    reuse = tr.last_eval_step == exp.step and tr.last_eval_full
    final = tr.final_eval()
    assert len(full_calls) == n + (0 if reuse else 1) and tr.last_eval_full  # the last word is the full check
    assert final == full() and final["accuracy"] == 1.0
    assert set(final) == {"accuracy", "bit_accuracy", "val_loss", "carry_corr"}


def test_binary_sample_metrics_have_the_full_names_and_ranges():
    exp = BinaryAddition(seed=0)
    ev = exp.evaluate_scheduled()
    assert set(ev) == set(exp.evaluate())
    assert 0.0 <= ev["accuracy"] <= 1.0 and 0.0 <= ev["carry_corr"] <= 1.0


def test_binary_schedule_state_survives_a_checkpoint():
    a = BinaryAddition(seed=0)
    ta = Trainer(a)
    ta.run(300)
    b = BinaryAddition(seed=0)
    b.load_state_dict(a.state_dict())
    b.step = a.step
    b.rng.bit_generator.state = a.rng.bit_generator.state  # (checkpoints save it beside state_dict)
    assert b._full_passed == a._full_passed
    tb = Trainer(b)
    ra, rb = [], []
    ta.run(200, progress=lambda r: ra.append(r.row))
    tb.run(200, progress=lambda r: rb.append(r.row))
    assert ra == rb


# -- binary-addition's prefix-tree evaluation ----------------------------------------------

def _plain(exp: BinaryAddition, pick=None) -> dict:
    x, y, c = exp.eval_x, exp.eval_y, exp._eval_carry
    if pick is not None:
        x, y, c = (np.ascontiguousarray(v[:, pick]) for v in (x, y, c))
    return exp._evaluate_on(x, y, c)


def _float64_corr(exp: BinaryAddition) -> float:
    """carry_corr of the plain batch with the sums in float64 (the reference for the tree's)."""
    from core.experiments.binary_addition import _corr_from_sums, _corr_sums

    _, _, h, _ = exp._forward(exp.eval_x)
    T, N, H = h.shape
    sums = _corr_sums(h.reshape(-1, H).astype(np.float64), exp._eval_carry.reshape(-1), np.ones(T * N))
    return _corr_from_sums(sums)[1]


def _assert_same_metrics(tree: dict, plain: dict) -> None:
    assert set(tree) == set(plain)
    assert tree["accuracy"] == plain["accuracy"]  # the same counts of right sums and bits, exactly
    assert tree["bit_accuracy"] == plain["bit_accuracy"]
    assert np.isclose(tree["val_loss"], plain["val_loss"], rtol=1e-5, atol=1e-9)
    assert np.isclose(tree["carry_corr"], plain["carry_corr"], rtol=1e-3)  # the plain sums are float32


def test_prefix_tree_levels_and_weights():
    from core.data import binary as data

    a, b = data.eval_pairs(8)
    tree = data.prefix_tree(a, b, 8)
    assert [len(c) for c in tree.code] == [4, 16, 64, 256, 1024, 4096, 16384, 16384]
    assert tree.n_nodes == 38_228 and tree.n_pairs == 16_384
    for t in range(8):
        assert tree.weight[t].sum() == 16_384
        if t:  # a node's pairs are its children's pairs
            np.testing.assert_array_equal(np.bincount(tree.parent[t], weights=tree.weight[t]), tree.weight[t - 1])
    # an arbitrary set with repeats: each leaf's path spells a pair (its bits read off the codes), the
    # leaves' weights count the pairs, and the targets and carries on the path are that pair's
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 32, 50), rng.integers(0, 32, 50)
    a[:5], b[:5] = a[5], b[5]
    tree = data.prefix_tree(a, b, 6)
    spelled = {}
    for leaf in range(len(tree.code[-1])):
        path, n = [], leaf
        for t in range(5, -1, -1):
            path.append(n)
            n = int(tree.parent[t][n])
        path = path[::-1]
        pa = sum((int(tree.code[t][path[t]]) & 1) << t for t in range(6))
        pb = sum((int(tree.code[t][path[t]]) >> 1) << t for t in range(6))
        spelled[(pa, pb)] = int(tree.weight[-1][leaf])
        c = data.carries(np.array([pa]), np.array([pb]), 6)[:, 0]
        assert [tree.target[t][path[t]] for t in range(6)] == [((pa + pb) >> t) & 1 for t in range(6)]
        assert [tree.carry[t][path[t]] for t in range(6)] == list(c)
    pairs, counts = np.unique(np.stack([a, b], 1), axis=0, return_counts=True)
    assert spelled == {(int(x), int(y)): int(k) for (x, y), k in zip(pairs, counts)}


@pytest.mark.parametrize("preset,every", [("default", 60), ("trask", 2500)])
def test_tree_evaluation_equals_the_plain_full_check(preset, every):
    exp = BinaryAddition(BinaryAddition.preset_config(preset), seed=0)
    tr = Trainer(exp, eval_every=0)
    for _ in range(4):  # untrained, learning, (nearly) trained
        _assert_same_metrics(exp.evaluate(), _plain(exp))
        _assert_same_metrics(exp._evaluate_tree(exp._sample), _plain(exp, exp._sample_pick))
        assert np.isclose(exp.evaluate()["carry_corr"], _float64_corr(exp), rtol=1e-6)
        tr.run(every)
    assert exp.evaluate()["accuracy"] > 0.5  # the comparison covered right sums too


@pytest.mark.parametrize("bits", [3, 10])  # all 16 pairs (no sample); 65,536 drawn pairs with repeats
def test_tree_evaluation_other_widths(bits):
    exp = BinaryAddition({"bits": bits}, seed=1)
    Trainer(exp, eval_every=0).run(40)
    _assert_same_metrics(exp.evaluate(), _plain(exp))
    if bits == 3:
        assert exp._sample is None and exp.evaluate_scheduled() == exp.evaluate()


def test_carry_correlation_unit_matches_the_plain_batch():
    from core.experiments.binary_addition import _carry_corr, carry_correlation

    exp = BinaryAddition(seed=0)
    Trainer(exp, eval_every=0).run(150)
    _, _, h, _ = exp._forward(exp.eval_x)
    unit, r = carry_correlation(exp)
    unit0, r0 = _carry_corr(h, exp._eval_carry)
    assert unit == unit0 and np.isclose(r, _float64_corr(exp), rtol=1e-6) and np.isclose(r, r0, rtol=1e-2)


def test_binary_run_evaluates_on_the_schedule_and_ends_with_the_full_check():
    exp = BinaryAddition(seed=0)
    tr = Trainer(exp)
    steps = []
    tr.run(1000, progress=lambda r: r.eval is not None and steps.append(r.step))
    assert steps == [s for s in range(1, 1001) if tr.eval_due(s)]
    assert steps[:8] == list(range(25, 201, 25)) and steps[-1] == 1000
    final = tr.final_eval()
    assert tr.last_eval_full and tr.last_eval_step == 1000 and final == exp.evaluate()
    hist = tr.history.since(999)
    assert hist["accuracy"][1][-1] == final["accuracy"] and hist["val_loss"][1][-1] == final["val_loss"]
