"""Gradient flow over lags and itemized BPTT: against finite differences and the layers' own backward."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.cells import recurrent_weights
from core.analysis.gradient_flow import gradient_flow, itemized_bptt
from core.nn.recurrent import make_recurrent


def _layer(cell, D=3, H=5, seed=0, activation="tanh"):
    return make_recurrent(cell, D, H, rng=np.random.default_rng(seed), activation=activation, dtype=np.float64)


def _trace(layer, x, h0=None):
    _, _, cache = layer.forward(x[:, None, :], h0)
    return {k: v[:, 0, :].copy() for k, v in layer.trace(cache)[0].items()}


def _fd_jacobian(layer, x, states, t, t_end, wrt="h", eps=1e-6):
    """d h_{t_end} / d h_t (or c_t) by central differences, running the layer's own forward from step t."""
    H = layer.hidden_size
    J = np.empty((H, H))
    for j in range(H):
        hs = []
        for s in (+eps, -eps):
            h, c = states["h"][t].copy(), (states["c"][t].copy() if "c" in states else None)
            (h if wrt == "h" else c)[j] += s
            h0 = (h[None], c[None]) if c is not None else h[None]
            y, _, _ = layer.forward(x[t + 1:t_end + 1, None, :], h0)
            hs.append(y[-1, 0])
        J[:, j] = (hs[0] - hs[1]) / (2 * eps)
    return J


@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")])
def test_gradient_flow_matches_finite_differences(cell, activation):
    layer = _layer(cell, activation=activation, seed=1)
    x = np.random.default_rng(2).standard_normal((9, 3))
    st = _trace(layer, x)
    W = recurrent_weights(layer)
    gf = gradient_flow(W, st, t_end=7)
    assert list(gf.lags) == list(range(1, 9)) and gf.timesteps[-1] == -1
    for k in (1, 3, 6):
        J = _fd_jacobian(layer, x, st, 7 - k, 7)
        assert gf.norm[k - 1] == pytest.approx(np.linalg.norm(J), rel=1e-6)
        if cell == "lstm":
            Jc = _fd_jacobian(layer, x, st, 7 - k, 7, wrt="c")
            assert gf.norm_cell[k - 1] == pytest.approx(np.linalg.norm(Jc), rel=1e-6)
    spec = gradient_flow(W, st, t_end=7, norm="spectral", max_lag=3)
    assert spec.norm[2] == pytest.approx(np.linalg.norm(_fd_jacobian(layer, x, st, 4, 7), 2), rel=1e-6)
    assert spec.lags.shape == (3,)


def test_tanh_rnn_with_small_whh_vanishes_and_lstm_with_open_forget_gate_remembers():
    T, H = 60, 8
    x = np.random.default_rng(3).standard_normal((T, 2))
    rnn = _layer("rnn", D=2, H=H, seed=4)
    Whh = rnn.params["Whh"] if "Whh" in rnn.params else rnn.params["Wh"]
    Whh[...] *= 0.5 / np.linalg.norm(Whh, 2)  # sigma_max 0.5
    g_rnn = gradient_flow(recurrent_weights(rnn), _trace(rnn, x))
    assert g_rnn.norm[40] < 1e-9 * g_rnn.norm[0]
    assert np.all(np.diff(g_rnn.norm[:40]) < 0)

    lstm = _layer("lstm", D=2, H=H, seed=4)
    Wh = lstm.params["Wh"] if "Wh" in lstm.params else lstm.params["Whh"]
    Wh[...] *= 0.5 / np.linalg.norm(Wh, 2)  # the same recurrent gain as the RNN
    b = lstm.params["b"] if "b" in lstm.params else lstm.params["bh"]
    b[:H] = -2.0  # input gate mostly shut: c stays in tanh's linear range
    b[H:2 * H] = 8.0  # f ~ 0.9997
    b[3 * H:] = 3.0  # o open: the cell shows in h
    g_lstm = gradient_flow(recurrent_weights(lstm), _trace(lstm, x))
    assert g_lstm.norm[40] > 0.1 * g_lstm.norm[0]
    assert g_lstm.norm_cell[40] > 0.5 * g_lstm.norm_cell[0]
    assert g_lstm.norm[40] / g_lstm.norm[0] > 1e6 * g_rnn.norm[40] / g_rnn.norm[0]


@pytest.mark.parametrize("cell,activation", [("rnn", "tanh"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")])
def test_itemized_bptt_sums_to_the_layers_own_weight_gradient(cell, activation):
    layer = _layer(cell, activation=activation, seed=5)
    rng = np.random.default_rng(6)
    T = 12
    x = rng.standard_normal((T, 1, 3))
    dy = rng.standard_normal((T, 1, 5))
    _, _, cache = layer.forward(x)
    _, _, grads, _ = layer.backward(dy, cache)
    g_ref = grads["Whh"] if "Whh" in grads else grads["Wh"]
    st = {k: v[:, 0, :] for k, v in layer.trace(cache)[0].items()}
    it = itemized_bptt(recurrent_weights(layer), st, dy[:, 0])
    np.testing.assert_allclose(it.grad, g_ref, rtol=1e-10, atol=1e-12)
    assert it.total_norm == pytest.approx(np.linalg.norm(g_ref))
    assert it.cumulative_norm[-1] == pytest.approx(it.total_norm)
    assert it.cosine[-1] == pytest.approx(1.0)
    assert it.lags.shape == (T,) and it.error_norm.shape == (T,)
    # truncated BPTT with k steps: the lag-0 term alone is the gradient with errors not propagated
    one = itemized_bptt(recurrent_weights(layer), st, dy[:, 0], max_lag=1)
    assert one.norm[0] == pytest.approx(it.norm[0]) and one.total_norm == pytest.approx(it.total_norm)


def test_itemized_bptt_single_late_error_has_all_mass_at_its_lags():
    """A loss only at the last step: the lag-k term is the use of Whh at step T-1-k."""
    layer = _layer("rnn", D=2, H=4, seed=7)
    T = 6
    x = np.random.default_rng(8).standard_normal((T, 2))
    st = _trace(layer, x)
    dy = np.zeros((T, 4))
    dy[-1] = 1.0
    it = itemized_bptt(recurrent_weights(layer), st, dy)
    # by hand for k = 0: h_{T-2} outer (dy * (1 - h^2)) at the last step
    G0 = np.outer(st["h"][T - 2], dy[-1] * (1 - st["h"][-1] ** 2))
    assert it.norm[0] == pytest.approx(np.linalg.norm(G0))
    assert np.all(it.norm[:-1] > 0)
    assert it.norm[-1] == 0.0  # the lag T-1 term multiplies h0 = 0
