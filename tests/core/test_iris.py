"""Iris: the fixed stratified split, standardization, learning, probe, resume, validation."""
import numpy as np
import pytest

from core.config import ConfigError
from core.data.iris import load_iris_split, stratified_split
from core.experiments.iris import Iris
from core.trainer import Trainer


def test_split_is_stratified_fixed_and_standardized_with_training_statistics():
    d = load_iris_split(0.2, split_seed=3)
    assert d.x_train.shape == (120, 4) and d.x_test.shape == (30, 4)
    assert np.bincount(d.y_test).tolist() == [10, 10, 10]
    assert np.bincount(d.y_train).tolist() == [40, 40, 40]
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d.x_train.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(d.x_test, (d.raw_test - d.mean) / d.std)
    again = load_iris_split(0.2, split_seed=3)
    np.testing.assert_array_equal(again.raw_test, d.raw_test)
    other = load_iris_split(0.2, split_seed=4)
    assert not np.array_equal(other.raw_test, d.raw_test)
    assert d.class_names == ("setosa", "versicolor", "virginica")
    with pytest.raises(ValueError, match="test_fraction"):
        stratified_split(d.y_train, 1.5, np.random.default_rng(0))


@pytest.mark.parametrize("preset", ["default", "minibatch"])
def test_learns_well_above_chance_quickly(preset):
    exp = Iris(Iris.preset_config(preset), seed=0)
    before = exp.evaluate()
    Trainer(exp, eval_every=0).run(150)
    after = exp.evaluate()
    assert after["accuracy"] >= 0.9 > before["accuracy"]
    assert after["val_loss"] < 0.5 * before["val_loss"]


def test_probe_shows_features_and_class_probabilities_without_touching_training():
    exp = Iris(seed=0)
    rng_before = exp.rng.bit_generator.state
    p = exp.probe()
    assert p.input_labels == ("flower",) and p.inputs.shape == (1, 4) and p.layers == ()
    assert p.outputs.shape == (1, 3) and abs(p.outputs.sum() - 1) < 1e-12
    assert p.output_labels == ("setosa", "versicolor", "virginica")
    assert p.correct.shape == (1,) and p.prediction_labels[0] in p.output_labels
    assert not p.outputs.flags.writeable
    assert exp.rng.bit_generator.state == rng_before
    exp.set_probe_example(index=29)
    np.testing.assert_array_equal(exp.probe().inputs[0], exp.data.x_test[29])
    for bad in (30, -1, 2.5, True):
        with pytest.raises(ConfigError, match=r"index: expected an integer in \[0, 29\]"):
            exp.set_probe_example(index=bad)


def test_exact_resume_from_state_dict_and_rng_state():
    cfg = Iris.preset_config("minibatch")
    a = Iris(cfg, seed=11)
    Trainer(a).run(10)
    state, rng = a.state_dict(), a.rng.bit_generator.state
    expected = [a.train_step()["loss"] for _ in range(10)]
    b = Iris(cfg, seed=0)
    b.load_state_dict(state)
    b.rng.bit_generator.state = rng
    assert [b.train_step()["loss"] for _ in range(10)] == expected


def test_invalid_hyperparameters_name_the_field():
    with pytest.raises(ConfigError, match="batch_size"):
        Iris({"batch_size": 500})
    with pytest.raises(ConfigError, match="weight_decay"):
        Iris({"weight_decay": -1})
