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


@pytest.fixture(params=["augmented", "augmented-wide", "projected"])
def path(request, monkeypatch):
    """Force one of the forward paths for dense inputs (augmented-wide: the loop for wide batches)."""
    monkeypatch.setattr(rnn_mod, "AUGMENT_MAX_INPUT", 0 if request.param == "projected" else 10**9)
    monkeypatch.setattr(rnn_mod, "AUGMENT_WIDE_BATCH", 1 if request.param == "augmented-wide" else 10**9)
    return request.param.split("-")[0]


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
    h0 = rng.uniform(0.2, 0.8, (2, 6))
    out = {}
    for name, limit, wide in (("augmented", 10**9, 10**9), ("wide", 10**9, 1), ("projected", 0, 10**9)):
        monkeypatch.setattr(rnn_mod, "AUGMENT_MAX_INPUT", limit)
        monkeypatch.setattr(rnn_mod, "AUGMENT_WIDE_BATCH", wide)
        y, h, cache = rnn.forward(x, h0)
        out[name] = (y.copy(), h, rnn.trace(cache)[0]["pre"].copy(), *rnn.backward(dy, cache)[:3])
    for other in ("wide", "projected"):
        a, p = out["augmented"], out[other]
        for u, v in zip(a[:5], p[:5]):
            np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-13)
        for k in rnn.params:
            np.testing.assert_allclose(a[5][k], p[5][k], rtol=1e-12, atol=1e-13)


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


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_rnn_reuse_workspace_gives_the_same_results(act):
    import copy

    rng = np.random.default_rng(4)
    rnn = RNN(2, 5, rng, activation=act)
    for T, B in ((8, 1), (8, 1), (3, 4), (8, 1)):  # the same shape again, another, back
        x = rng.standard_normal((T, B, 2)).astype(np.float32)
        h0 = None if B == 1 else rng.uniform(0.2, 0.8, (B, 5)).astype(np.float32)
        dy = rng.standard_normal((T, B, 5)).astype(np.float32)
        dl = rng.standard_normal((B, 5)).astype(np.float32)
        y, h, c = rnn.forward(x, h0)
        want = (y.copy(), h.copy(), *rnn.backward(dy, c, dl))
        y2, h2, c2 = rnn.forward(x, h0, check=False, reuse=True)
        np.testing.assert_array_equal(y2, want[0])
        np.testing.assert_array_equal(h2, want[1])
        got = rnn.backward(dy, c2, dl, check=False)
        for u, v in zip(got[:2] + got[3:], want[2:4] + want[5:]):
            np.testing.assert_array_equal(u, v)
        for k in rnn.params:
            np.testing.assert_array_equal(got[2][k], want[4][k])
    # a copied layer (e.g. a forked run) computes in its own buffers
    twin = copy.deepcopy(rnn)
    x = rng.standard_normal((8, 1, 2)).astype(np.float32)
    ya = rnn.forward(x, reuse=True)[0].copy()
    yb = twin.forward(x, reuse=True)[0]
    np.testing.assert_array_equal(ya, yb)
    twin.params["Whh"] *= 2.0
    twin.forward(x, reuse=True)
    np.testing.assert_array_equal(rnn.forward(x, reuse=True)[0], ya)
