"""mlp-digits and digits-rnn: learning, probes, MNIST from a folder, exact resume, validation."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from core import views as V
from core.config import ConfigError
from core.data import DataError
from core.experiments.digits_rnn import DigitsRNN
from core.experiments.mlp_digits import MLPDigits
from core.experiments.registry import get


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matmuls run 10-100x slower with multi-threaded OpenBLAS on a busy machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def write_fake_mnist(folder, n_train=40, n_test=20, size=6):
    """A tiny IDX data set in MNIST's layout (class k = a bright row k)."""
    folder.mkdir()
    rng = np.random.default_rng(0)

    def make(n):
        y = np.arange(n) % size
        x = rng.integers(0, 60, size=(n, size, size))
        x[np.arange(n), y, :] = 250
        return x.astype(np.uint8), y.astype(np.uint8)

    def idx(arr, magic):
        return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()

    (xtr, ytr), (xte, yte) = make(n_train), make(n_test)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(xtr, 0x803)))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx(ytr, 0x801))
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx(xte, 0x803))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(yte, 0x801)))


@pytest.mark.parametrize("cls", [MLPDigits, DigitsRNN])
def test_declarations(cls):
    assert get(cls.id) is cls
    assert {"default", "seed"} <= set(cls.presets)
    assert cls.target.metric == "accuracy"
    assert cls.param("data_dir").type == "path" and not cls.param("data_dir").live
    assert cls.param("learning_rate").live and not cls.param("hidden_size").live
    assert V.DigitRead in cls.view_types
    assert all(p.help for p in cls.hyperparams)


def test_mlp_seed_preset_is_nielsens_network():
    cfg = MLPDigits.preset_config("seed")
    assert (cfg["hidden_size"], cfg["learning_rate"], cfg["batch_size"], cfg["optimizer"]) == (30, 3.0, 10, "sgd")
    exp = MLPDigits(cfg, seed=0)
    assert exp.sizes == (64, 30, 10)
    assert 0.8 < exp.params["0.W"].std() < 1.2  # N(0, 1) weights as network.py
    assert MLPDigits.presets["seed"].steps == 30 * 144  # 30 epochs of 1,437 images in batches of 10


def test_mlp_learns_and_epochs_shuffle():
    exp = MLPDigits(seed=0)
    assert exp.evaluate()["accuracy"] < 0.3
    for _ in range(300):
        m = exp.train_step()
    assert exp.evaluate()["accuracy"] > 0.85
    assert exp.batcher.epoch >= 6  # 45 batches of 32 per epoch
    assert set(m) == {"loss", "train_accuracy"}
    p = exp.probe()
    assert p.num_steps == 1 and p.inputs.shape == (1, 64) and p.outputs.shape == (1, 10)
    assert p.layers[0].cell == "dense" and p.layers[0].activation == "sigmoid"
    assert p.layers[0].states["h"].shape == (1, 30)
    assert p.view(V.DigitRead).image.shape == (8, 8) and p.output_labels == tuple("0123456789")
    assert p.target_labels == (str(p.view(V.DigitRead).label),)


def test_mlp_gradient_is_nielsens_backprop():
    """One SGD step equals network.py's update_mini_batch on the same mini-batch."""
    exp = MLPDigits({"init": "seed", "learning_rate": 3.0, "batch_size": 10}, seed=4)
    W1, b1, W2, b2 = (exp.params[k].astype(np.float64).copy() for k in ("0.W", "0.b", "1.W", "1.b"))
    peek = np.random.default_rng()
    peek.bit_generator.state = exp.rng.bit_generator.state
    idx = peek.permutation(len(exp.train_x))[:10]
    sig = lambda z: 1 / (1 + np.exp(-z))
    nw1, nb1, nw2, nb2 = 0, 0, 0, 0
    for i in idx:  # per example, as the book
        x = exp.train_x[i].astype(np.float64)
        y = np.eye(10)[exp.data.y_train[i]]
        a1 = sig(x @ W1 + b1)
        a2 = sig(a1 @ W2 + b2)
        d2 = (a2 - y) * a2 * (1 - a2)
        d1 = (d2 @ W2.T) * a1 * (1 - a1)
        nw2, nb2 = nw2 + np.outer(a1, d2), nb2 + d2
        nw1, nb1 = nw1 + np.outer(x, d1), nb1 + d1
    exp.train_step()
    eta_m = 3.0 / 10
    np.testing.assert_allclose(exp.params["1.W"], W2 - eta_m * nw2, atol=1e-5)
    np.testing.assert_allclose(exp.params["0.W"], W1 - eta_m * nw1, atol=1e-5)
    np.testing.assert_allclose(exp.params["0.b"], b1 - eta_m * nb1, atol=1e-5)


def test_digits_rnn_learns_and_probes_every_row():
    exp = DigitsRNN({"hidden_size": 32}, seed=0)
    for _ in range(150):
        m = exp.train_step()
    ev = exp.evaluate()
    assert ev["accuracy"] > 0.6 and np.isfinite(m["loss"]) and "train_accuracy" in m
    exp.set_probe_example(index=5)
    p = exp.probe()
    assert p.input_labels == tuple(f"row {i}" for i in range(8))
    assert p.inputs.shape == (8, 8) and p.outputs.shape == (8, 10)
    np.testing.assert_allclose(p.outputs.sum(axis=1), 1.0, rtol=1e-5)  # class probabilities after each row
    assert p.layers[0].states["h"].shape == (8, 32) and {"c", "i", "f", "g", "o"} <= set(p.layers[0].states)
    assert p.layers[0].grad_norm.shape == (8,)
    np.testing.assert_array_equal(p.view(V.DigitRead).image, exp.data.x_test[5])
    assert p.target_labels[-1] == str(exp.data.y_test[5]) and p.correct.shape == (8,)


@pytest.mark.parametrize("cls", [MLPDigits, DigitsRNN])
def test_probe_and_evaluate_leave_training_alone(cls):
    exp = cls({"hidden_size": 8}, seed=0)
    exp.train_step()
    state = exp.rng.bit_generator.state
    w = {k: v.copy() for k, v in exp.params.items()}
    exp.evaluate()
    exp.probe()
    exp.set_probe_example(random=True)
    exp.probe()
    assert exp.rng.bit_generator.state == state
    for k in w:
        np.testing.assert_array_equal(w[k], exp.params[k])
    with pytest.raises(ValueError, match=r"probe index: 100000"):
        exp.set_probe_example(index=100_000)


@pytest.mark.parametrize("cls", [MLPDigits, DigitsRNN])
def test_exact_resume_across_an_epoch_boundary(cls):
    cfg = {"hidden_size": 8, "batch_size": 200}  # 1,437 images: an epoch is 8 steps
    a = cls(cfg, seed=5)
    for _ in range(6):
        a.train_step()
    state, rng_state = a.state_dict(), a.rng.bit_generator.state
    want = [a.train_step()["loss"] for _ in range(6)]
    b = cls(cfg, seed=5)
    b.load_state_dict(state)
    b.rng.bit_generator.state = rng_state
    assert [b.train_step()["loss"] for _ in range(6)] == want
    bad = dict(state)
    bad.pop("extra.batcher.cursor")
    with pytest.raises(ValueError, match="cursor"):
        cls(cfg, seed=5).load_state_dict(bad)


@pytest.mark.parametrize("cls", [MLPDigits, DigitsRNN])
def test_mnist_folder(tmp_path, cls):
    write_fake_mnist(tmp_path / "mnist")
    exp = cls({"data_dir": str(tmp_path / "mnist"), "hidden_size": 8, "batch_size": 8}, seed=0)
    assert exp.data.name == "MNIST" and exp.data.shape == (6, 6)
    for _ in range(3):
        exp.train_step()
    assert 0.0 <= exp.evaluate()["accuracy"] <= 1.0
    assert exp.probe().view(V.DigitRead).image.shape == (6, 6)


@pytest.mark.parametrize("cls", [MLPDigits, DigitsRNN])
def test_data_and_config_errors(tmp_path, cls):
    with pytest.raises(DataError, match="folder not found"):
        cls({"data_dir": str(tmp_path / "nothing")})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="missing MNIST file"):
        cls({"data_dir": str(tmp_path / "empty")})
    with pytest.raises(ConfigError, match="hidden_size"):
        cls({"hidden_size": 0})
    with pytest.raises(ConfigError, match="unknown hyperparameter"):
        cls({"hiden_size": 10})
