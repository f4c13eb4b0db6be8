"""Sine: data windows, both window layouts, learning, forecast, exact resume, validation."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from core.config import ConfigError
from core.data.sine import make_sine_data, windows
from core.experiments.registry import get
from core.experiments.sine import Sine


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matmuls run 10-100x slower with multi-threaded OpenBLAS on a busy machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_windows_and_split():
    d = make_sine_data(window=10)
    x, y = d.train()
    assert x.shape == (10_000 - 10, 10) and y.shape == (10_000 - 10,)
    np.testing.assert_allclose(x[5], np.sin(np.arange(5, 15) * 0.01), atol=1e-6)
    np.testing.assert_allclose(y[5], np.sin(0.15), atol=1e-6)
    tx, ty, tt = d.test()
    assert tx.shape == (1000, 10) and ty.shape == (1000,)
    np.testing.assert_allclose(tt[[0, -1]], [100.0, 109.99], atol=1e-4)  # the 1,000 points after training
    np.testing.assert_allclose(ty, np.sin(np.arange(10_000, 11_000) * 0.01), atol=1e-6)
    sx, sy = windows(np.arange(6.0), 2, 2, 6)
    np.testing.assert_array_equal(sx, [[0, 1], [1, 2], [2, 3], [3, 4]])
    np.testing.assert_array_equal(sy, [2, 3, 4, 5])


def test_noise_and_sum_signal():
    rng = np.random.default_rng(0)
    d = make_sine_data(kind="sum", noise=0.1, rng=rng)
    assert np.abs(d.clean).max() <= 1.0
    assert 0.09 < np.std(d.observed - d.clean) < 0.11
    _, ty, _ = d.test()
    np.testing.assert_array_equal(ty, d.clean[10_000:])  # tested against the clean signal


def test_declarations():
    cls = get("sine")
    assert cls is Sine and {"default", "seed"} <= set(cls.presets)
    seed = cls.preset_config("seed")
    assert seed["window_as"] == "features" and seed["optimizer"] == "adagrad"
    assert seed["learning_rate"] == 0.1 and seed["batch_size"] == 32 and seed["num_layers"] == 2
    assert seed["hidden_size"] == 30 and cls.presets["seed"].steps == 3000
    assert cls.target.metric == "rmse" and cls.target.mode == "min"
    assert all(p.help for p in cls.hyperparams)


@pytest.mark.parametrize("window_as, T, D", [("timesteps", 10, 1), ("features", 1, 10)])
def test_window_layouts_reach_the_network(window_as, T, D):
    exp = Sine({"window_as": window_as, "hidden_size": 8}, seed=0)
    p = exp.probe()
    assert p.inputs.shape == (T, D) and p.outputs.shape == (T, 1) and p.num_steps == T
    assert [set(lt.states) >= {"h", "c", "i", "f", "g", "o"} for lt in p.layers] == [True, True]
    assert p.layers[0].states["h"].shape == (T, 8) and p.layers[0].grad_norm.shape == (T,)
    np.testing.assert_allclose(p.inputs.reshape(-1), exp.test_x[0])


def test_default_learns_quickly():
    exp = Sine({"hidden_size": 16, "decay_steps": 300}, seed=0)
    before = exp.evaluate()["rmse"]
    for _ in range(300):
        exp.train_step()
    after = exp.evaluate()
    assert before > 0.2 and after["rmse"] < 0.05 and after["rmse"] < before / 10
    (ex,) = exp.views()
    assert ex.x.shape == ex.true.shape == ex.pred.shape == (1000,)
    assert ex.forecast.shape == ex.forecast_x.shape == (100,)
    assert ex.rmse == pytest.approx(after["rmse"], rel=1e-6)
    assert np.isfinite(after["forecast_rmse"])


def test_seed_preset_learns():
    exp = Sine(Sine.preset_config("seed"), seed=0)
    assert exp.rnn.params["0.bh"][30:60].mean() > 0.5  # forget bias 1, as BasicLSTMCell
    for _ in range(200):
        exp.train_step()
    assert exp.evaluate()["rmse"] < 0.1


def test_evaluation_and_probe_do_not_change_training():
    exp = Sine({"hidden_size": 8}, seed=1)
    exp.train_step()
    state = exp.rng.bit_generator.state
    w = exp.params["out.W"].copy()
    exp.evaluate()
    exp.probe()
    exp.views()
    assert exp.rng.bit_generator.state == state
    np.testing.assert_array_equal(w, exp.params["out.W"])


@pytest.mark.parametrize("cfg", [{}, {"window_as": "features", "optimizer": "adagrad", "noise": 0.05}])
def test_exact_resume(cfg):
    cfg = {"hidden_size": 8, **cfg}
    a = Sine(cfg, seed=2)
    for _ in range(10):
        a.train_step()
    state, rng_state = a.state_dict(), a.rng.bit_generator.state
    want = [a.train_step()["loss"] for _ in range(10)]
    b = Sine(cfg, seed=2)
    b.load_state_dict(state)
    b.step = a.step - 10  # the trainer restores the step count (the lr schedule reads it)
    b.rng.bit_generator.state = rng_state
    assert [b.train_step()["loss"] for _ in range(10)] == want


def test_validation():
    with pytest.raises(ConfigError, match="window_as"):
        Sine({"window_as": "rows"})
    with pytest.raises(ConfigError, match="window"):
        Sine({"window": 0})
    with pytest.raises(ConfigError, match="signal"):
        Sine({"signal": "square"})
    with pytest.raises(ConfigError, match="noise"):
        Sine({"noise": -0.1})
    with pytest.raises(ValueError, match="window"):
        make_sine_data(window=20, n_train=10)
    exp = Sine({"hidden_size": 4}, seed=0)
    exp.set_live("learning_rate", 0.001)
    assert exp.optimizer.lr == pytest.approx(0.001)  # step 0: the cosine schedule starts at 100%
