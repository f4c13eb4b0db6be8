"""Worked example: the seed's exact numbers at step 0, then SGD fits the targets."""
import numpy as np
import pytest

from core.config import ConfigError
from core.experiments import registry
from core.experiments.worked_example import EXPECTED_H, EXPECTED_PRE, EXPECTED_Y, WorkedExample
from core.trainer import Trainer
from core.views import WorkedNumbers


def test_step_zero_probe_shows_the_seed_numbers_exactly():
    exp = registry.get("worked-example")()
    p = exp.probe()
    assert p.step == 0 and p.input_labels == ("x=1", "x=2")
    v = p.view(WorkedNumbers)
    np.testing.assert_allclose(v.pre, [[0.6, 0.5], [1.2923401, 1.39225678]], atol=1e-8)
    np.testing.assert_allclose(v.h, [[0.53704957, 0.46211716], [0.85973818, 0.88366641]], atol=1e-8)
    np.testing.assert_allclose(v.y[:, 0], [1.56128388, 2.72707101], atol=1e-8)
    np.testing.assert_allclose(v.pre, EXPECTED_PRE, atol=1e-8)
    np.testing.assert_allclose(v.h, EXPECTED_H, atol=1e-8)
    np.testing.assert_allclose(v.y[:, 0], EXPECTED_Y, atol=1e-8)
    layer = p.layers[0]
    assert layer.cell == "rnn" and set(layer.states) >= {"h", "pre"}
    np.testing.assert_array_equal(layer.states["h"], v.h)
    assert layer.grad_norm.shape == (2,) and np.all(layer.grad_norm > 0)
    np.testing.assert_allclose(p.outputs[:, 0], EXPECTED_Y, atol=1e-8)
    np.testing.assert_array_equal(dict(v.weights)["Whh"], [[0.1, 0.2], [0.3, 0.4]])
    np.testing.assert_allclose(v.reference[0], EXPECTED_PRE, atol=1e-8)  # the reference pass, computed in core
    np.testing.assert_allclose(v.reference[2][:, 0], EXPECTED_Y, atol=1e-8)
    np.testing.assert_array_equal(dict(v.weights)["Wxh"], [[0.5, 0.6]])
    np.testing.assert_array_equal(dict(v.weights)["Why"], [[1.0], [2.0]])
    assert p.prediction_labels == ("1.5613", "2.7271")
    ev = exp.evaluate()
    assert ev["y1"] == pytest.approx(1.56128388) and ev["y2"] == pytest.approx(2.72707101)


def test_weights_do_not_depend_on_the_seed():
    a, b = WorkedExample(seed=0), WorkedExample(seed=123)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


def test_training_fits_the_targets_and_moves_the_numbers():
    exp = WorkedExample()
    before = exp.evaluate()["mse"]
    Trainer(exp, eval_every=0).run(100)
    after = exp.evaluate()
    assert after["mse"] < 1e-3 * before
    assert after["y1"] == pytest.approx(0.5, abs=0.02) and after["y2"] == pytest.approx(-0.5, abs=0.02)
    assert exp.probe().step == 100
    assert not np.allclose(exp.probe().view(WorkedNumbers).h, EXPECTED_H)


def test_probe_and_evaluate_do_not_change_training():
    a, b = WorkedExample({"optimizer": "adam", "learning_rate": 0.05}), WorkedExample({"optimizer": "adam", "learning_rate": 0.05})
    la = []
    for _ in range(10):
        a.probe()
        a.evaluate()
        la.append(a.train_step()["loss"])
    assert la == [b.train_step()["loss"] for _ in range(10)]


def test_inputs_and_targets_are_configurable_and_validated():
    exp = WorkedExample({"inputs": "1, 2, 3", "targets": "0, 0, 0"})
    p = exp.probe()
    v = p.view(WorkedNumbers)
    assert p.num_steps == 3 and v.pre.shape == (3, 2)
    np.testing.assert_allclose(v.y[:, 0][:2], EXPECTED_Y, atol=1e-8)  # same first two steps
    with pytest.raises(ConfigError, match="targets: expected 2 numbers"):
        WorkedExample({"targets": "1, 2, 3"})
    with pytest.raises(ConfigError, match="inputs"):
        WorkedExample({"inputs": "1, x"})
