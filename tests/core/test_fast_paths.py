"""The engine's fast paths (issue 14) compute what the plain paths compute.

* RNN: the augmented-input path (narrow dense inputs, one product per timestep) and the
  projected path (wide inputs, integer ids) give the same outputs, and gradients that
  match central differences; ``check=False`` / ``overwrite_dy`` / ``need_norms=False``
  change nothing but the work done.
* Dense: ``check=False`` is the same computation.
"""
from __future__ import annotations

import numpy as np
import pytest

from core.gradcheck import numerical_grad, rel_error
from core.nn import rnn as rnn_mod
from core.nn.dense import Dense, sigmoid
from core.nn.rnn import RNN


def numgrad(f, a, eps=1e-3):
    return (4.0 * numerical_grad(f, a, eps) - numerical_grad(f, a, 2 * eps)) / 3.0


@pytest.fixture(params=["augmented", "projected"])
def path(request, monkeypatch):
    """Force one of the two forward paths for dense inputs."""
    monkeypatch.setattr(rnn_mod, "AUGMENT_MAX_INPUT", 10**9 if request.param == "augmented" else 0)
    return request.param


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
@pytest.mark.parametrize("D", [1, 2, 12])
@pytest.mark.parametrize("with_h0", [False, True])
def test_rnn_gradients_match_central_differences_on_both_paths(path, act, D, with_h0):
    rng = np.random.default_rng(D * 10 + with_h0)
    T, B, H = 5, 3, 4
    rnn = RNN(D, H, rng, activation=act, dtype=np.float64)
    x = rng.standard_normal((T, B, D))
    h0 = rng.uniform(0.1, 0.9, (B, H)) if with_h0 else None
    R = rng.standard_normal((T, B, H))
    R2 = rng.standard_normal((B, H))
    y, h_last, cache = rnn.forward(x, h0)
    assert ("z" in cache) == (path == "augmented")

    def loss():
        y_, h_, _ = rnn.forward(x, h0)
        return float(np.sum(y_ * R)) + float(np.sum(h_ * R2))

    dx, dh0, grads, norms = rnn.backward(R, cache, R2)
    errors = {k: rel_error(grads[k], numgrad(loss, rnn.params[k])) for k in rnn.params}
    errors["x"] = rel_error(dx, numgrad(loss, x))
    if with_h0:
        errors["h0"] = rel_error(dh0, numgrad(loss, h0))
    worst = max(errors, key=errors.get)
    assert errors[worst] <= 1e-6, (worst, errors)
    assert norms.shape == (1, T)
    # the trace holds the true pre-activations and states
    tr = rnn.trace(cache)[0]
    h_prev = np.zeros((B, H)) if h0 is None else h0
    for t in range(T):
        pre = x[t] @ rnn.params["Wxh"] + h_prev @ rnn.params["Whh"] + rnn.params["bh"]
        np.testing.assert_allclose(tr["pre"][t], pre, rtol=1e-12, atol=1e-12)
        h_prev = np.tanh(pre) if act == "tanh" else 1.0 / (1.0 + np.exp(-pre))
        np.testing.assert_allclose(tr["h"][t], h_prev, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_rnn_paths_agree(act, monkeypatch):
    rng = np.random.default_rng(1)
    rnn = RNN(3, 6, rng, activation=act, dtype=np.float64)
    x = rng.standard_normal((7, 2, 3))
    dy = rng.standard_normal((7, 2, 6))
    out = {}
    for name, limit in (("augmented", 10**9), ("projected", 0)):
        monkeypatch.setattr(rnn_mod, "AUGMENT_MAX_INPUT", limit)
        y, h, cache = rnn.forward(x)
        out[name] = (y.copy(), h, *rnn.backward(dy, cache)[:3])
    a, p = out["augmented"], out["projected"]
    for u, v in zip(a[:4], p[:4]):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-13)
    for k in rnn.params:
        np.testing.assert_allclose(a[4][k], p[4][k], rtol=1e-12, atol=1e-13)


def test_rnn_unchecked_backward_options_change_only_the_work(path):
    rng = np.random.default_rng(2)
    rnn = RNN(2, 5, rng, activation="sigmoid")  # float32, as the experiments run it
    x = (rng.random((8, 1, 2)) > 0.5).astype(np.float32)
    dy = rng.standard_normal((8, 1, 5)).astype(np.float32)
    y, h, cache = rnn.forward(x)
    y2, h2, cache2 = rnn.forward(x, check=False)
    np.testing.assert_array_equal(y, y2)
    want = rnn.backward(dy, cache, need_dx=False)
    scratch = dy.copy()
    got = rnn.backward(scratch, cache2, need_dx=False, check=False, overwrite_dy=True, need_norms=False)
    assert got[0] is None and got[3] is None
    np.testing.assert_array_equal(want[1], got[1])
    for k in rnn.params:
        np.testing.assert_array_equal(want[2][k], got[2][k])
    # without overwrite_dy the caller's dy is left alone
    keep = dy.copy()
    rnn.backward(dy, cache, check=False)
    np.testing.assert_array_equal(dy, keep)


def test_rnn_checks_still_refuse_bad_input():
    rnn = RNN(2, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN"):
        rnn.forward(np.full((2, 1, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="x must"):
        rnn.forward(np.zeros((2, 1, 5), np.float32))


def test_dense_unchecked_is_the_same_computation():
    rng = np.random.default_rng(3)
    d = Dense(4, 2, rng)
    x = rng.standard_normal((3, 5, 4)).astype(np.float32)
    dy = rng.standard_normal((3, 5, 2)).astype(np.float32)
    y, c = d.forward(x)
    y2, c2 = d.forward(x, check=False)
    np.testing.assert_array_equal(y, y2)
    dx, g = d.backward(dy, c)
    dx2, g2 = d.backward(dy, c2, check=False)
    np.testing.assert_array_equal(dx, dx2)
    for k in g:
        np.testing.assert_array_equal(g[k], g2[k])
    with pytest.raises(ValueError, match="NaN"):
        d.forward(np.full((1, 4), np.nan, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_and_exact(dtype):
    x = np.array([-1000.0, -30.0, -1.5, -0.0, 0.0, 1e-8, 2.0, 40.0, 1000.0, np.nan], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow is fine
        p = sigmoid(x[:-1])
    assert p.dtype == dtype
    e = np.exp(-np.abs(x[:-1]))
    want = np.where(x[:-1] >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(dtype)
    np.testing.assert_array_equal(p, want)
    assert np.isnan(sigmoid(x)[-1])
