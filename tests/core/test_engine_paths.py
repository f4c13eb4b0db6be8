"""Fast paths of the engine that the basic tests do not reach: the LSTM's chunked
backward (chunks of 10 timesteps), its fallback when parameters are rebound, and the
flat Adagrad update."""
from __future__ import annotations

import numpy as np

from core.gradcheck import numerical_grad, rel_error
from core.nn.lstm import LSTM
from core.optim import Adagrad


def numgrad(f, a, eps=1e-3):
    return (4.0 * numerical_grad(f, a, eps) - numerical_grad(f, a, 2 * eps)) / 3.0


def test_lstm_gradients_over_several_backward_chunks():
    rng = np.random.default_rng(31)
    T, B, D, H = 23, 2, 3, 3  # 23 timesteps: three chunks of the chunked backward
    lstm = LSTM(D, H, rng, dtype=np.float64)
    x = rng.standard_normal((T, B, D))
    h0 = (rng.standard_normal((B, H)) * 0.5, rng.standard_normal((B, H)) * 0.5)
    R = rng.standard_normal((T, B, H))

    def loss():
        y, _, _ = lstm.forward(x, h0)
        return float(np.sum(y * R))

    _, _, cache = lstm.forward(x, h0)
    dx, dh0, grads, dh_norms = lstm.backward(R, cache, need_dx=True)
    errors = {k: rel_error(grads[k], numgrad(loss, lstm.params[k])) for k in lstm.params}
    errors["x"] = rel_error(dx, numgrad(loss, x))
    errors["h0"] = rel_error(dh0[0], numgrad(loss, h0[0]))
    errors["c0"] = rel_error(dh0[1], numgrad(loss, h0[1]))
    assert max(errors.values()) <= 1e-6, errors
    assert dh_norms.shape == (1, T)


def test_lstm_with_rebound_parameters_computes_the_same():
    rng = np.random.default_rng(5)
    a = LSTM(4, 6, rng, dtype=np.float64)
    b = LSTM(4, 6, np.random.default_rng(99), dtype=np.float64)
    b.params = {k: v.copy() for k, v in a.params.items()}  # separate arrays: not views of one block
    x = rng.standard_normal((12, 3, 4))
    ya, (ha, ca), cache_a = a.forward(x)
    yb, (hb, cb), cache_b = b.forward(x)
    np.testing.assert_allclose(ya, yb, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ca, cb, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal(ya.shape)
    _, _, ga, _ = a.backward(dy, cache_a)
    _, _, gb, _ = b.backward(dy, cache_b)
    for k in ga:
        np.testing.assert_allclose(ga[k], gb[k], rtol=1e-12, atol=1e-12)


def _reference_adagrad(params, grads_seq, lr, eps=1e-8):
    params = {k: v.copy() for k, v in params.items()}
    mem = {k: np.zeros_like(v) for k, v in params.items()}
    for grads in grads_seq:
        for k in params:
            mem[k] += grads[k] * grads[k]
            params[k] += -lr * grads[k] / np.sqrt(mem[k] + eps)
    return params


def _problem(dtype_b=np.float32):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 4)).astype(np.float32), "b": rng.standard_normal(4).astype(dtype_b)}
    grads_seq = [{k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()} for _ in range(6)]
    return params, grads_seq


def test_flat_adagrad_is_bit_identical_to_the_per_parameter_update():
    params, grads_seq = _problem()
    expected = _reference_adagrad(params, grads_seq, lr=0.1)
    live = {k: v.copy() for k, v in params.items()}
    opt = Adagrad(lr=0.1)
    for g in grads_seq:
        opt.step(live, {k: v.copy() for k, v in g.items()})
    for k in live:
        np.testing.assert_array_equal(live[k], expected[k])


def test_flat_adagrad_resumes_exactly_from_a_state_dict():
    params, grads_seq = _problem()
    straight = {k: v.copy() for k, v in params.items()}
    opt = Adagrad(lr=0.1)
    for g in grads_seq:
        opt.step(straight, g)
    resumed = {k: v.copy() for k, v in params.items()}
    first = Adagrad(lr=0.1)
    for g in grads_seq[:3]:
        first.step(resumed, g)
    second = Adagrad(lr=0.1)
    second.load_state_dict(first.state_dict())
    for g in grads_seq[3:]:
        second.step(resumed, g)
    for k in straight:
        np.testing.assert_array_equal(resumed[k], straight[k])


def test_adagrad_with_mixed_dtypes_falls_back_and_stays_correct():
    params, grads_seq = _problem(dtype_b=np.float64)
    expected = _reference_adagrad(params, grads_seq, lr=0.05)
    live = {k: v.copy() for k, v in params.items()}
    opt = Adagrad(lr=0.05)
    for g in grads_seq:
        opt.step(live, g)
    for k in live:
        np.testing.assert_allclose(live[k], expected[k], rtol=1e-6)
        assert live[k].dtype == params[k].dtype
