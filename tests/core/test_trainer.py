"""Trainer: steps, metric history, evaluation schedule, early stop, divergence handling."""
import numpy as np
import pytest

from core.experiments.common import TrainingDiverged
from core.experiments.iris import Iris
from core.experiments.worked_example import WorkedExample
from core.history import MetricHistory
from core.trainer import Trainer


class _DivergesAt(Iris):
    """Iris whose loss turns NaN at step ``BAD`` (a test double for an exploding model)."""

    BAD = 7

    def train_step(self):
        if self.step + 1 == self.BAD:
            _, grads, _ = self._loss(self.data.x_train, self.data.y_train)
            self.update(float("nan"), grads)  # raises before touching the parameters
        return super().train_step()


def test_step_records_metrics_and_evaluates_every_n():
    exp = Iris(seed=0)
    tr = Trainer(exp, eval_every=5)
    results = [tr.step() for _ in range(12)]
    assert [r.step for r in results] == list(range(1, 13))
    assert [r.eval is not None for r in results] == [s % 5 == 0 for s in range(1, 13)]
    steps, losses = tr.history.arrays("loss")
    np.testing.assert_array_equal(steps, np.arange(1, 13))
    np.testing.assert_array_equal(losses, [r.metrics["loss"] for r in results])
    ev_steps, acc = tr.history.arrays("accuracy")  # evaluate() names are kept
    np.testing.assert_array_equal(ev_steps, [5, 10])
    assert acc[-1] == results[9].eval["accuracy"]
    assert results[9].row["accuracy"] == acc[-1] and results[9].row["loss"] == results[9].metrics["loss"]
    assert tr.steps_done == exp.step == 12


def test_eval_every_defaults_to_experiment_and_zero_disables():
    exp = Iris(seed=0)
    assert Trainer(exp).eval_every == Iris.eval_every
    tr = Trainer(exp, eval_every=0)
    tr.run(25)
    assert "accuracy" not in tr.history
    with pytest.raises(ValueError, match="eval_every"):
        Trainer(exp, eval_every=-1)
    with pytest.raises(ValueError, match="steps must be a non-negative integer"):
        tr.run(-3)


def test_eval_metric_colliding_with_a_training_metric_gets_eval_prefix():
    exp = WorkedExample()
    tr = Trainer(exp, eval_every=1)
    r = tr.step()
    assert set(r.metrics) == {"loss", "grad_norm"}
    assert {"mse", "y1", "y2"} <= set(r.row)
    assert tr.eval_key("loss") == "eval_loss" and tr.eval_key("grad_norm") == "eval_grad_norm"
    assert tr.eval_key("accuracy") == "accuracy"


def test_run_callback_stops_early_and_progress_sees_every_step():
    exp = Iris(seed=0)
    tr = Trainer(exp)
    seen = []
    res = tr.run(1000, callback=lambda r: bool(r.eval) and exp.target.reached(r.eval), progress=seen.append)
    assert res.stopped and res.steps == exp.step == len(seen) < 1000
    assert exp.target.reached(tr.last_eval)
    assert tr.final_eval() == tr.last_eval  # evaluated at this very step: reused


def test_trainer_reproduces_same_losses_and_evaluation_does_not_disturb_training():
    a, b = Iris(Iris.preset_config("minibatch"), seed=3), Iris(Iris.preset_config("minibatch"), seed=3)
    ta, tb = Trainer(a, eval_every=1), Trainer(b, eval_every=0)
    ta.run(40)
    tb.run(40)
    np.testing.assert_array_equal(ta.history.arrays("loss")[1], tb.history.arrays("loss")[1])


def test_divergence_is_recorded_reraised_and_keeps_last_good_parameters():
    exp = _DivergesAt(seed=0)
    tr = Trainer(exp, eval_every=3)
    tr.run(_DivergesAt.BAD - 1)
    good = {k: v.copy() for k, v in exp.params.items()}
    with pytest.raises(TrainingDiverged, match=r"step 7.*learning_rate"):
        tr.run(10)
    assert tr.diverged is not None and tr.diverged.step == 7
    assert exp.step == 6
    for k, v in exp.params.items():
        np.testing.assert_array_equal(v, good[k])
    assert tr.history.arrays("loss")[0][-1] == 6
    assert np.isfinite(tr.final_eval()["val_loss"])


def test_trainer_continues_an_existing_history():
    h = MetricHistory()
    h.record(0, {"loss": 9.0})
    tr = Trainer(Iris(seed=0), history=h)
    tr.run(3)
    assert tr.history is h
    np.testing.assert_array_equal(h.arrays("loss")[0], [0, 1, 2, 3])


