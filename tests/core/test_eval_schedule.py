"""The Trainer's evaluation schedule (thinning out in long runs) and binary-addition's scheduled
evaluation on a fixed sample, with the full check when the sample is all right and at the end."""
from __future__ import annotations

import numpy as np

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
