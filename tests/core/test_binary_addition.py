"""Binary addition: data, learning, the carry probe, exact resume, validation."""
from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from core import views as V
from core.config import ConfigError
from core.data import binary as data
from core.experiments.binary_addition import BinaryAddition, carry_correlation
from core.experiments.registry import get


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Small matmuls run 10-100x slower with multi-threaded OpenBLAS on a busy machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def test_bits_lsb_first_and_carries():
    x, y = data.make_batch(np.array([3]), np.array([1]), 4)  # 0011 + 0001 = 0100
    assert x.shape == (4, 1, 2) and y.shape == (4, 1, 1)
    np.testing.assert_array_equal(x[:, 0, 0], [1, 1, 0, 0])  # a = 3, LSB first
    np.testing.assert_array_equal(x[:, 0, 1], [1, 0, 0, 0])
    np.testing.assert_array_equal(y[:, 0, 0], [0, 0, 1, 0])
    np.testing.assert_array_equal(data.carries(np.array([3]), np.array([1]), 4)[:, 0], [1, 1, 0, 0])
    a, b = data.eval_pairs(8)
    assert len(a) == 128 * 128 and a.max() == 127 and b.max() == 127
    assert (data.from_bits(data.make_batch(a, b, 8)[1][:, :, 0]) == a + b).all()
    # carry[t] is what a ripple adder would carry out of bit t
    rng = np.random.default_rng(0)
    a, b = data.random_pairs(rng, 200, 8)
    c = np.zeros(200, dtype=int)
    for t in range(8):
        s = ((a >> t) & 1) + ((b >> t) & 1) + c
        c = s // 2
        np.testing.assert_array_equal(data.carries(a, b, 8)[t], c)


def test_registry_and_declarations():
    cls = get("binary-addition")
    assert cls is BinaryAddition
    assert V.BitSum in cls.view_types and V.MarkedUnit in cls.view_types
    assert {m.name for m in cls.metrics} >= {"loss", "accuracy", "carry_corr"}
    assert {"default", "trask"} <= set(cls.presets)
    assert cls.presets["trask"].steps == 10_000
    assert all(p.help for p in cls.hyperparams)
    assert cls.param("learning_rate").live and not cls.param("bits").live and not cls.param("hidden_size").live


def test_default_preset_learns_to_add():
    exp = BinaryAddition(seed=0)
    before = exp.evaluate()
    for _ in range(250):
        m = exp.train_step()
    after = exp.evaluate()
    assert exp.step == 250 and np.isfinite(m["loss"])
    assert before["accuracy"] < 0.05
    assert after["accuracy"] >= 0.99 and after["bit_accuracy"] >= 0.999
    unit, r = carry_correlation(exp)
    assert 0 <= unit < 16 and r > 0.8  # a hidden unit tracks the carry


def _trask_update(s0, sh, s1, a_int, b_int, bits=8, alpha=0.1):
    """One iteration of the iamtrask tutorial, written as he did (per timestep, per example)."""
    sig = lambda z: 1 / (1 + np.exp(-z))
    a = [(a_int >> i) & 1 for i in range(bits)][::-1]  # MSB first, as int2binary
    b = [(b_int >> i) & 1 for i in range(bits)][::-1]
    c = [((a_int + b_int) >> i) & 1 for i in range(bits)][::-1]
    u0, uh, u1 = np.zeros_like(s0), np.zeros_like(sh), np.zeros_like(s1)
    deltas, values = [], [np.zeros(sh.shape[0])]
    for pos in range(bits):
        X = np.array([[a[bits - pos - 1], b[bits - pos - 1]]])
        y = np.array([[c[bits - pos - 1]]]).T
        l1 = sig(X @ s0 + values[-1] @ sh)
        l2 = sig(l1 @ s1)
        deltas.append((y - l2) * l2 * (1 - l2))
        values.append(l1.copy())
    future = np.zeros(sh.shape[0])
    for pos in range(bits):
        X = np.array([[a[pos], b[pos]]])
        l1, prev, d2 = values[-pos - 1], values[-pos - 2], deltas[-pos - 1]
        d1 = (future @ sh.T + d2 @ s1.T) * l1 * (1 - l1)
        u1 += np.atleast_2d(l1).T @ d2
        uh += np.atleast_2d(prev).T @ d1
        u0 += X.T @ d1
        future = d1
    return s0 + alpha * u0, sh + alpha * uh, s1 + alpha * u1


def test_trask_preset_matches_the_tutorial_update():
    cfg = BinaryAddition.preset_config("trask")
    exp = BinaryAddition(cfg, seed=0)
    assert not any(k.endswith(("bh", ".b")) for k in exp.params)  # no biases to learn
    w = exp.params["rnn.Wxh"]
    assert np.abs(w).max() <= 1.0 and np.abs(w).max() > 0.5  # U(-1, 1), not ±1/sqrt(H)
    for _ in range(30):  # away from the initial point
        exp.train_step()
    s0, sh, s1 = (exp.params[k].astype(np.float64) for k in ("rnn.Wxh", "rnn.Whh", "out.W"))
    a, b = exp.upcoming_pairs()  # the pair the next step will use (pairs are drawn ahead, in batches)
    want = _trask_update(s0, sh, s1, int(a[0]), int(b[0]))
    exp.train_step()
    for k, w in zip(("rnn.Wxh", "rnn.Whh", "out.W"), want):
        np.testing.assert_allclose(exp.params[k], w, atol=2e-5)
    assert np.allclose(exp.rnn.params["bh"], 0.0) and np.allclose(exp.out.params["b"], 0.0)


def test_probe_carries_the_example():
    exp = BinaryAddition(seed=0)
    exp.set_probe_example(a=3, b=1)
    p = exp.probe()
    assert p.input_labels[:3] == ("1+1", "1+0", "0+0")
    assert p.inputs.shape == (8, 2) and p.outputs.shape == (8, 1)
    board = p.view(V.BitSum)
    assert board.a == 3 and board.b == 1 and board.true_sum == 4
    np.testing.assert_array_equal(board.carry, [1, 1, 0, 0, 0, 0, 0, 0])
    assert p.layers[0].states["h"].shape == (8, 16) and p.layers[0].activation == "sigmoid"
    assert p.layers[0].grad_norm.shape == (8,)
    assert p.target_labels == tuple("00100000")
    assert 0 <= p.view(V.BitSum).pred_sum < 256
    assert isinstance(carry_correlation(p)[1], float)
    # probing neither consumes the training rng nor changes parameters
    state = exp.rng.bit_generator.state
    w = exp.params["rnn.Whh"].copy()
    exp.probe()
    exp.evaluate()
    exp.views()
    assert exp.rng.bit_generator.state == state
    np.testing.assert_array_equal(w, exp.params["rnn.Whh"])


def test_probe_example_validation():
    exp = BinaryAddition({"bits": 4}, seed=0)
    with pytest.raises(ValueError, match=r"probe a: 8 .*\[0, 7\]"):
        exp.set_probe_example(a=8, b=1)
    with pytest.raises(ValueError, match=r"probe b: -1"):
        exp.set_probe_example(a=1, b=-1)
    exp.set_probe_example(random=True)
    p = exp.probe()
    assert 0 <= p.view(V.BitSum).a < 8 and 0 <= p.view(V.BitSum).b < 8 and p.num_steps == 4


def test_config_validation():
    with pytest.raises(ConfigError, match="bits"):
        BinaryAddition({"bits": 1})
    with pytest.raises(ConfigError, match="loss"):
        BinaryAddition({"loss": "hinge"})
    with pytest.raises(ConfigError, match="structural"):
        BinaryAddition().set_live("hidden_size", 8)


@pytest.mark.parametrize("preset", ["default", "trask"])
def test_exact_resume(preset):
    cfg = BinaryAddition.preset_config(preset)
    a = BinaryAddition(cfg, seed=3)
    for _ in range(20):
        a.train_step()
    state, rng_state = a.state_dict(), a.rng.bit_generator.state
    want = [a.train_step()["loss"] for _ in range(15)]
    b = BinaryAddition(cfg, seed=3)
    b.load_state_dict(state)
    b.step = a.step - 15
    b.rng.bit_generator.state = rng_state
    got = [b.train_step()["loss"] for _ in range(15)]
    assert got == want
