"""Recurrent layers: gradient checks, carried state, PyTorch equations, validation."""
from __future__ import annotations

import numpy as np
import pytest

from core.gradcheck import numerical_grad, rel_error
from core.nn.gru import GRU
from core.nn.lstm import LSTM
from core.nn.recurrent import make_recurrent
from core.nn.rnn import RNN
from core.nn.stack import Bidirectional, Stacked
from state_helpers import flat, like, rand_state

TOL = 1e-6


def numgrad(f, a, eps=1e-3):
    """Central differences (core.gradcheck) at eps and 2 eps, Richardson-combined:
    error O(eps^4) ~ 1e-12 absolute, so even gradients of ~1e-6 check to 1e-6 relative."""
    return (4.0 * numerical_grad(f, a, eps) - numerical_grad(f, a, 2 * eps)) / 3.0


CASES = [
    # (cell, activation, num_layers, bidirectional, with_h0, loss_at_every_step, seed)
    ("rnn", "tanh", 1, False, True, True, 0),
    ("rnn", "tanh", 1, False, False, False, 1),
    ("rnn", "sigmoid", 1, False, True, True, 2),
    ("rnn", "sigmoid", 1, False, False, False, 3),
    ("lstm", "tanh", 1, False, True, True, 4),
    ("lstm", "tanh", 1, False, False, False, 5),
    ("gru", "tanh", 1, False, True, True, 6),
    ("gru", "tanh", 1, False, False, False, 7),
    ("lstm", "tanh", 2, False, True, True, 8),
    ("gru", "tanh", 2, False, True, False, 9),
    ("rnn", "tanh", 3, False, True, True, 10),
    ("lstm", "tanh", 1, True, True, True, 11),
    ("gru", "tanh", 1, True, False, False, 12),
    ("rnn", "sigmoid", 2, True, True, True, 13),
]


@pytest.mark.parametrize("cell, act, layers, bi, with_h0, every_step, seed", CASES)
def test_gradients_match_central_differences(cell, act, layers, bi, with_h0, every_step, seed):
    rng = np.random.default_rng(seed)
    T, B, D, H = (int(v) for v in rng.integers(2, 5, size=4))
    model = make_recurrent(cell, D, H, layers, rng=rng, activation=act, bidirectional=bi, dtype=np.float64)
    x = rng.standard_normal((T, B, D))
    h0 = rand_state(model, B, rng) if with_h0 else None
    y, h_last, cache = model.forward(x, h0)
    R = rng.standard_normal(y.shape)
    R2 = [rng.standard_normal(a.shape) for a in flat(h_last)]

    def loss():
        y_, h_, _ = model.forward(x, h0)
        out = float(np.sum(y_ * R)) if every_step else 0.0
        return out + sum(float(np.sum(a * r)) for a, r in zip(flat(h_), R2))

    dx, dh0, grads, dh_norms = model.backward(R if every_step else None, cache, like(h_last, iter(R2)))
    assert set(grads) == set(model.params)
    errors = {k: rel_error(grads[k], numgrad(loss, model.params[k])) for k in model.params}
    errors["x"] = rel_error(dx, numgrad(loss, x))
    if with_h0:
        for k, (a, da) in enumerate(zip(flat(h0), flat(dh0))):
            errors[f"h0[{k}]"] = rel_error(da, numgrad(loss, a))
    else:
        assert all(a.shape == (B, H) for a in flat(dh0))
    worst = max(errors, key=errors.get)
    assert errors[worst] <= TOL, (worst, errors)
    rows = layers * (2 if bi else 1)
    assert dh_norms.shape == (rows, T)


def test_loss_on_last_step_via_dy_equals_dh_last():
    """dy zero except dy[-1] gives the same gradients as dy=None with dh_last."""
    rng = np.random.default_rng(20)
    layer = LSTM(3, 5, rng, dtype=np.float64)
    x = rng.standard_normal((6, 2, 3))
    y, (h, c), cache = layer.forward(x)
    g_last = rng.standard_normal(h.shape)
    dy = np.zeros_like(y)
    dy[-1] = g_last
    a = layer.backward(dy, cache)
    b = layer.backward(None, cache, (g_last, None))
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-14)
    for k in layer.params:
        np.testing.assert_allclose(a[2][k], b[2][k], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a[3], b[3], rtol=1e-12)
    assert a[3][0, -1] == pytest.approx(np.linalg.norm(g_last))


def test_stacked_dropout_gradients_with_fixed_mask():
    rng = np.random.default_rng(21)
    model = make_recurrent("gru", 3, 4, 2, rng=rng, dropout=0.4, dtype=np.float64)
    x = rng.standard_normal((4, 3, 3))
    R = rng.standard_normal((4, 3, 4))

    def run():
        return model.forward(x, rng=np.random.default_rng(7), train=True)

    def loss():
        return float(np.sum(run()[0] * R))

    y, _, cache = run()
    assert any(m is not None for m in cache["masks"])
    dx, _, grads, _ = model.backward(R, cache)
    errors = {k: rel_error(grads[k], numgrad(loss, model.params[k])) for k in model.params}
    errors["x"] = rel_error(dx, numgrad(loss, x))
    assert max(errors.values()) <= TOL, errors


def test_dropout_only_in_training_with_an_rng():
    rng = np.random.default_rng(22)
    model = make_recurrent("lstm", 3, 8, 2, rng=rng, dropout=0.5)
    x = rng.standard_normal((5, 4, 3)).astype(np.float32)
    plain = model.forward(x)[0]
    np.testing.assert_array_equal(model.forward(x, rng=np.random.default_rng(0), train=False)[0], plain)
    dropped = model.forward(x, rng=np.random.default_rng(0), train=True)[0]
    assert not np.allclose(dropped, plain)
    again = model.forward(x, rng=np.random.default_rng(0), train=True)[0]
    np.testing.assert_array_equal(dropped, again)  # the mask comes from the rng only


# -- carried state (truncated BPTT) ---------------------------------------------------------


@pytest.mark.parametrize("cell, act, layers", [("rnn", "tanh", 1), ("rnn", "sigmoid", 1), ("lstm", "tanh", 1),
                                               ("gru", "tanh", 1), ("lstm", "tanh", 2)])
def test_carried_state_equals_one_long_call(cell, act, layers):
    rng = np.random.default_rng(30)
    model = make_recurrent(cell, 3, 5, layers, rng=rng, activation=act, dtype=np.float64)
    x = rng.standard_normal((9, 2, 3))
    R = rng.standard_normal((9, 2, 5))
    h0 = rand_state(model, 2, rng)
    y, h_last, cache = model.forward(x, h0)
    y1, h1, c1 = model.forward(x[:4], h0)
    y2, h2, c2 = model.forward(x[4:], h1)
    np.testing.assert_allclose(np.concatenate([y1, y2]), y, rtol=1e-12, atol=1e-13)
    for a, b in zip(flat(h2), flat(h_last)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)

    # backward in two chunks, the second's dh0 fed to the first as dh_last, sums to the full gradient
    dx, dh0, grads, norms = model.backward(R, cache)
    dx2, dmid, g2, n2 = model.backward(R[4:], c2)
    dx1, dh0_1, g1, n1 = model.backward(R[:4], c1, dmid)
    np.testing.assert_allclose(np.concatenate([dx1, dx2]), dx, rtol=1e-10, atol=1e-12)
    for a, b in zip(flat(dh0_1), flat(dh0)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    for k in grads:
        np.testing.assert_allclose(g1[k] + g2[k], grads[k], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([n1, n2], axis=1), norms, rtol=1e-10)


def test_dh_norms_are_norms_of_the_total_gradient_wrt_h_t():
    rng = np.random.default_rng(31)
    layer = GRU(2, 4, rng, dtype=np.float64)
    x = rng.standard_normal((5, 3, 2))
    R = rng.standard_normal((5, 3, 4))
    y, _, cache = layer.forward(x)
    norms = layer.backward(R, cache)[3]
    for t in range(5):  # dL/dh_t = R[t] + (gradient flowing back from steps > t)
        _, h_t, _ = layer.forward(x[:t + 1])
        if t + 1 < 5:
            _, _, c_rest = layer.forward(x[t + 1:], h_t)
            future = layer.backward(R[t + 1:], c_rest)[1]
        else:
            future = 0.0
        assert norms[0, t] == pytest.approx(np.linalg.norm(R[t] + future), rel=1e-10)


# -- PyTorch's documented equations, independently, through from_torch ------------------------


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def torch_lstm_reference(x, w, h, c):
    """Per-timestep, per-gate LSTM as in torch.nn.LSTM's docs (gates i, f, g, o)."""
    H = h.shape[1]
    W_ii, W_if, W_ig, W_io = np.split(w["weight_ih_l0"], 4)
    W_hi, W_hf, W_hg, W_ho = np.split(w["weight_hh_l0"], 4)
    b_ii, b_if, b_ig, b_io = np.split(w["bias_ih_l0"], 4)
    b_hi, b_hf, b_hg, b_ho = np.split(w["bias_hh_l0"], 4)
    ys = []
    for xt in x:
        i = _sig(xt @ W_ii.T + b_ii + h @ W_hi.T + b_hi)
        f = _sig(xt @ W_if.T + b_if + h @ W_hf.T + b_hf)
        g = np.tanh(xt @ W_ig.T + b_ig + h @ W_hg.T + b_hg)
        o = _sig(xt @ W_io.T + b_io + h @ W_ho.T + b_ho)
        c = f * c + i * g
        h = o * np.tanh(c)
        ys.append(h)
    assert h.shape[1] == H
    return np.stack(ys), h, c


def torch_gru_reference(x, w, h):
    """Per-timestep GRU as in torch.nn.GRU's docs (r, z, n; reset inside W_hn h + b_hn)."""
    W_ir, W_iz, W_in = np.split(w["weight_ih_l0"], 3)
    W_hr, W_hz, W_hn = np.split(w["weight_hh_l0"], 3)
    b_ir, b_iz, b_in = np.split(w["bias_ih_l0"], 3)
    b_hr, b_hz, b_hn = np.split(w["bias_hh_l0"], 3)
    ys = []
    for xt in x:
        r = _sig(xt @ W_ir.T + b_ir + h @ W_hr.T + b_hr)
        z = _sig(xt @ W_iz.T + b_iz + h @ W_hz.T + b_hz)
        n = np.tanh(xt @ W_in.T + b_in + r * (h @ W_hn.T + b_hn))
        h = (1 - z) * n + z * h
        ys.append(h)
    return np.stack(ys), h


def torch_weights(rng, gates, D, H):
    return {"weight_ih_l0": rng.uniform(-1, 1, (gates * H, D)), "weight_hh_l0": rng.uniform(-1, 1, (gates * H, H)),
            "bias_ih_l0": rng.uniform(-1, 1, gates * H), "bias_hh_l0": rng.uniform(-1, 1, gates * H)}


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_lstm_matches_torch_equations(dtype, tol):
    rng = np.random.default_rng(40)
    D, H, T, B = 3, 5, 7, 4
    w = torch_weights(rng, 4, D, H)
    layer = LSTM(D, H, np.random.default_rng(0), dtype=dtype)
    layer.from_torch(w)
    x = rng.standard_normal((T, B, D))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    y_ref, h_ref, c_ref = torch_lstm_reference(x, w, h0, c0)
    y, (h, c), _ = layer.forward(x.astype(dtype), (h0.astype(dtype), c0.astype(dtype)))
    assert y.dtype == dtype
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(h, h_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(c, c_ref, rtol=tol, atol=tol)
    back = layer.to_torch()  # same function: weights equal, biases summed into bias_ih
    assert {k: v.shape for k, v in back.items()} == {k: v.shape for k, v in w.items()}
    np.testing.assert_allclose(back["weight_ih_l0"], w["weight_ih_l0"], rtol=tol)
    np.testing.assert_allclose(back["bias_ih_l0"] + back["bias_hh_l0"], w["bias_ih_l0"] + w["bias_hh_l0"], rtol=tol)
    y_back = torch_lstm_reference(x, back, h0, c0)[0]
    np.testing.assert_allclose(y_back, y_ref, rtol=max(tol, 1e-12) * 10, atol=tol * 10)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_gru_matches_torch_equations(dtype, tol):
    rng = np.random.default_rng(41)
    D, H, T, B = 4, 3, 6, 2
    w = torch_weights(rng, 3, D, H)
    layer = GRU(D, H, np.random.default_rng(0), dtype=dtype)
    layer.from_torch(w)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    y_ref, h_ref = torch_gru_reference(x, w, h0)
    y, h, _ = layer.forward(x.astype(dtype), h0.astype(dtype))
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(h, h_ref, rtol=tol, atol=tol)
    back = layer.to_torch()
    np.testing.assert_allclose(torch_gru_reference(x, back, h0)[0], y_ref, rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(back["bias_hh_l0"][2 * H:], w["bias_hh_l0"][2 * H:], rtol=tol)


def test_stacked_bidirectional_torch_names_round_trip():
    rng = np.random.default_rng(42)
    a = make_recurrent("lstm", 3, 4, 2, rng=rng, bidirectional=True, dtype=np.float64)
    names = set(a.to_torch())
    assert {"weight_ih_l0", "weight_hh_l1", "bias_ih_l1_reverse", "weight_ih_l1_reverse"} <= names
    assert a.to_torch()["weight_ih_l1"].shape == (16, 8)  # layer 1 reads [fwd, bwd] = 2H
    b = make_recurrent("lstm", 3, 4, 2, rng=np.random.default_rng(1), bidirectional=True, dtype=np.float64)
    b.from_torch(a.to_torch())
    x = rng.standard_normal((5, 2, 3))
    np.testing.assert_allclose(b.forward(x)[0], a.forward(x)[0], rtol=1e-12)


def test_bidirectional_backward_half_is_the_reversed_sequence():
    rng = np.random.default_rng(43)
    fwd, bwd = RNN(2, 3, rng, dtype=np.float64), RNN(2, 3, rng, dtype=np.float64)
    bi = Bidirectional(fwd, bwd)
    x = rng.standard_normal((4, 2, 2))
    y, (hf, hb), cache = bi.forward(x)
    assert y.shape == (4, 2, 6)
    np.testing.assert_allclose(y[:, :, :3], fwd.forward(x)[0])
    np.testing.assert_allclose(y[::-1, :, 3:], bwd.forward(x[::-1])[0])
    np.testing.assert_allclose(hb, y[0, :, 3:])  # bwd state after reading x[0]
    tr = bi.trace(cache)
    assert len(tr) == 2 and np.allclose(tr[1]["h"], y[:, :, 3:])


# -- traces, dtypes, state dicts ----------------------------------------------------------------


def test_traces_hold_what_the_panels_draw():
    rng = np.random.default_rng(50)
    x = rng.standard_normal((6, 2, 3)).astype(np.float32)
    keys = {"rnn": {"h", "pre"}, "lstm": {"h", "c", "i", "f", "g", "o"}, "gru": {"h", "r", "z", "n"}}
    for cell, expect in keys.items():
        model = make_recurrent(cell, 3, 4, 2, rng=rng)
        y, _, cache = model.forward(x)
        tr = model.trace(cache)
        assert len(tr) == 2 and all(set(d) == expect for d in tr)
        assert all(v.shape == (6, 2, 4) for d in tr for v in d.values())
        np.testing.assert_array_equal(tr[1]["h"], y)
        for d in tr:
            for gate in "ifozr":
                if gate in d:
                    assert d[gate].min() > 0.0 and d[gate].max() < 1.0
    rnn = RNN(3, 4, rng, activation="sigmoid", dtype=np.float64)
    y, _, cache = rnn.forward(x.astype(np.float64))
    tr = rnn.trace(cache)[0]
    np.testing.assert_allclose(tr["h"], 1.0 / (1.0 + np.exp(-tr["pre"])), rtol=1e-12)


def test_lstm_cell_state_trace_follows_the_equations():
    rng = np.random.default_rng(51)
    layer = LSTM(2, 3, rng, dtype=np.float64)
    y, _, cache = layer.forward(rng.standard_normal((4, 1, 2)))
    t = layer.trace(cache)[0]
    c_prev = np.vstack([np.zeros((1, 1, 3)), t["c"][:-1]])
    np.testing.assert_allclose(t["c"], t["f"] * c_prev + t["i"] * t["g"], rtol=1e-12)
    np.testing.assert_allclose(t["h"], t["o"] * np.tanh(t["c"]), rtol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_default_and_float64_end_to_end(cell):
    rng = np.random.default_rng(52)
    for dtype in (np.float32, np.float64):
        kw = {} if dtype is np.float32 else {"dtype": dtype}
        model = make_recurrent(cell, 3, 4, 2, rng=rng, **kw)
        assert all(p.dtype == dtype for p in model.params.values())
        x = rng.standard_normal((3, 2, 3)).astype(dtype)
        y, h, cache = model.forward(x)
        dx, dh0, grads, norms = model.backward(np.ones_like(y), cache)
        assert y.dtype == dtype and dx.dtype == dtype
        assert all(a.dtype == dtype for a in flat(h) + flat(dh0))
        assert all(g.dtype == dtype and g.shape == model.params[k].shape for k, g in grads.items())


@pytest.mark.parametrize("cell, layers, bi", [("rnn", 1, False), ("lstm", 1, False), ("gru", 1, False),
                                              ("lstm", 2, True)])
def test_integer_ids_equal_one_hot_inputs(cell, layers, bi):
    rng = np.random.default_rng(55)
    V = 7
    model = make_recurrent(cell, V, 4, layers, rng=rng, bidirectional=bi, dtype=np.float64)
    ids = rng.integers(0, V - 2, size=(6, 3))  # some ids never occur: their gradient rows are 0
    one_hot = np.eye(V)[ids]  # (T, B, V)
    y1, h1, c1 = model.forward(one_hot)
    y2, h2, c2 = model.forward(ids)
    np.testing.assert_allclose(y2, y1, rtol=1e-12, atol=1e-14)
    dy = rng.standard_normal(y1.shape)
    dx1, _, g1, n1 = model.backward(dy, c1)
    dx2, _, g2, n2 = model.backward(dy, c2)
    assert dx1.shape == one_hot.shape and dx2 is None  # ids have no gradient
    for k in g1:
        np.testing.assert_allclose(g2[k], g1[k], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(n2, n1, rtol=1e-12)


def test_need_dx_false_skips_only_dx():
    rng = np.random.default_rng(53)
    model = make_recurrent("lstm", 3, 4, 2, rng=rng, dtype=np.float64)
    y, _, cache = model.forward(rng.standard_normal((3, 2, 3)))
    full = model.backward(y, cache)
    part = model.backward(y, cache, need_dx=False)
    assert part[0] is None
    for k in full[2]:
        np.testing.assert_array_equal(part[2][k], full[2][k])


@pytest.mark.parametrize("cell, layers, bi", [("rnn", 1, False), ("lstm", 2, False), ("gru", 1, True)])
def test_state_dict_round_trip(cell, layers, bi):
    a = make_recurrent(cell, 3, 4, layers, rng=np.random.default_rng(1), bidirectional=bi)
    b = make_recurrent(cell, 3, 4, layers, rng=np.random.default_rng(2), bidirectional=bi)
    x = np.random.default_rng(3).standard_normal((4, 2, 3)).astype(np.float32)
    assert not np.allclose(a.forward(x)[0], b.forward(x)[0])
    sd = a.state_dict()
    assert set(sd) == set(a.params) and all(sd[k] is not a.params[k] for k in sd)
    live = dict(b.params)
    b.load_state_dict(sd)
    assert all(b.params[k] is live[k] for k in live)  # loaded in place, arrays not rebound
    np.testing.assert_array_equal(a.forward(x)[0], b.forward(x)[0])
    key = sorted(sd)[0]
    with pytest.raises(ValueError, match="missing"):
        b.load_state_dict({k: v for k, v in sd.items() if k != key})
    with pytest.raises(ValueError, match="unexpected"):
        b.load_state_dict({**sd, "nope": sd[key]})
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        b.load_state_dict({**sd, key: np.zeros((7, 7))})


def test_params_are_named_and_shaped():
    rng = np.random.default_rng(54)
    assert {k: v.shape for k, v in RNN(3, 5, rng).params.items()} == {"Wxh": (3, 5), "Whh": (5, 5), "bh": (5,)}
    assert {k: v.shape for k, v in LSTM(3, 5, rng).params.items()} == {"Wxh": (3, 20), "Whh": (5, 20), "bh": (20,)}
    assert {k: v.shape for k, v in GRU(3, 5, rng).params.items()} == {"Wxh": (3, 15), "Whh": (5, 15),
                                                                       "bh": (15,), "bhn": (5,)}
    s = make_recurrent("rnn", 3, 5, 2, rng=rng)
    assert isinstance(s, Stacked) and set(s.params) == {"0.Wxh", "0.Whh", "0.bh", "1.Wxh", "1.Whh", "1.bh"}
    bi = make_recurrent("gru", 3, 5, rng=rng, bidirectional=True)
    assert "fwd.Wxh" in bi.params and "bwd.bhn" in bi.params and bi.output_size == 10
    w = RNN(3, 400, rng).params["Whh"]
    assert np.abs(w).max() <= 1 / np.sqrt(400) and np.abs(w).max() > 0.9 / np.sqrt(400)  # torch's U(+-1/sqrt(H))


# -- validation -----------------------------------------------------------------------------------


def test_bad_construction_arguments_name_the_argument():
    rng = np.random.default_rng(60)
    with pytest.raises(ValueError, match="hidden_size.*positive integer.*0"):
        RNN(3, 0, rng)
    with pytest.raises(ValueError, match="input_size"):
        LSTM(-1, 3, rng)
    with pytest.raises(ValueError, match="activation.*'tanh', 'sigmoid'.*'relu'"):
        RNN(3, 4, rng, activation="relu")
    with pytest.raises(ValueError, match="cell.*'rnn', 'lstm', 'gru'.*'transformer'"):
        make_recurrent("transformer", 3, 4, rng=rng)
    with pytest.raises(ValueError, match="num_layers"):
        make_recurrent("gru", 3, 4, 0, rng=rng)
    with pytest.raises(ValueError, match="dropout.*\\[0, 1\\).*1.5"):
        make_recurrent("lstm", 3, 4, 2, rng=rng, dropout=1.5)
    with pytest.raises(ValueError, match="dtype"):
        GRU(3, 4, rng, dtype=np.int32)
    with pytest.raises(ValueError, match="rng.*Generator"):
        RNN(3, 4, 42)
    with pytest.raises(ValueError, match="layer 1 has input_size"):
        Stacked([RNN(3, 4, rng), RNN(5, 4, rng)])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bad_inputs_name_the_argument(cell):
    rng = np.random.default_rng(61)
    layer = make_recurrent(cell, 3, 4, rng=rng)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(ValueError, match=r"x must have shape \(\*, \*, 3\), got \(5, 2, 4\)"):
        layer.forward(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        layer.forward(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match=r"x must be a floating-point array.*or integer ids \(T, B\).*int64"):
        layer.forward(np.zeros((5, 2, 3), np.int64))
    with pytest.raises(ValueError, match=r"x values must be in \[0, 3\)"):
        layer.forward(np.full((5, 2), 3))
    with pytest.raises(ValueError, match="x must be a NumPy array"):
        layer.forward([[[0.0, 0.0, 0.0]]])
    bad = x.copy()
    bad[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        layer.forward(bad)
    h_bad = np.zeros((3, 4), np.float32)
    h0 = (h_bad, h_bad) if cell == "lstm" else h_bad
    with pytest.raises(ValueError, match=r"h0.*shape \(2, 4\), got \(3, 4\)"):
        layer.forward(x, h0)
    y, h, cache = layer.forward(x)
    with pytest.raises(ValueError, match=r"dy must have shape \(5, 2, 4\)"):
        layer.backward(np.zeros((5, 2, 5), np.float32), cache)
    with pytest.raises(ValueError, match="dh_last"):
        layer.backward(None, cache, (np.zeros((2, 5), np.float32),) * 2 if cell == "lstm" else np.zeros((2, 5)))


def test_lstm_state_must_be_a_pair_and_stacked_state_a_list():
    rng = np.random.default_rng(62)
    x = np.zeros((2, 1, 3), np.float32)
    with pytest.raises(ValueError, match=r"h0 must be a tuple \(h, c\)"):
        LSTM(3, 4, rng).forward(x, np.zeros((1, 4), np.float32))
    with pytest.raises(ValueError, match="h0 must be a list with one state per layer"):
        make_recurrent("gru", 3, 4, 2, rng=rng).forward(x, np.zeros((1, 4), np.float32))


def test_from_torch_checks_names_and_shapes():
    rng = np.random.default_rng(63)
    layer = LSTM(3, 4, rng)
    w = layer.to_torch()
    with pytest.raises(ValueError, match="missing.*bias_hh_l0"):
        layer.from_torch({k: v for k, v in w.items() if k != "bias_hh_l0"})
    with pytest.raises(ValueError, match=r"weight_ih_l0 has shape \(3, 16\), expected \(16, 3\)"):
        layer.from_torch({**w, "weight_ih_l0": w["weight_ih_l0"].T})


def test_old_lstm_gru_param_names_load_after_upgrade():
    """Checkpoints written when LSTM/GRU named their parameters Wx/Wh/b load into models with
    the maths names Wxh/Whh/bh via core.nn.legacy.upgrade_param_names (the Dense "b" stays)."""
    from core import optim
    from core.nn.dense import Dense
    from core.nn.legacy import upgrade_param_names
    from core.nn.module import load_state_dict, prefixed

    old_names = {"Wxh": "Wx", "Whh": "Wh", "bh": "b"}

    def old(name):  # a current flat name -> the name the old code used
        prefix, dot, leaf = name.rpartition(".")
        return prefix + dot + old_names.get(leaf, leaf)

    for cell, layers, bi in (("lstm", 2, False), ("gru", 1, True), ("lstm", 1, False)):
        rng = np.random.default_rng(3)
        rnn = make_recurrent(cell, 4, 5, layers, rng=rng, bidirectional=bi, dtype=np.float64)
        out = Dense(rnn.output_size, 3, rng, dtype=np.float64)
        params = {**prefixed("rnn", rnn.params), **prefixed("out", out.params)}
        opt = optim.Adam(0.01)
        opt.step(params, {k: rng.standard_normal(v.shape) for k, v in params.items()})
        # the checkpoint as the old code wrote it: param.<name>, optim.<slot>.<name>, optim.<setting>
        state = {f"param.{old(k)}": rng.standard_normal(v.shape) for k, v in params.items()}
        for k, v in opt.state_dict().items():
            slot, dot, name = k.partition(".")
            state[f"optim.{slot}.{old(name)}" if dot else f"optim.{k}"] = v * 2 if dot else v
        assert "param.rnn.Wx" in state or "param.rnn.0.Wx" in state or "param.rnn.fwd.Wx" in state
        assert "param.out.b" in state

        up = upgrade_param_names(state)
        assert upgrade_param_names(up) == up  # new names pass through
        groups = {"param": {}, "optim": {}}
        for k, v in up.items():
            head, _, rest = k.partition(".")
            groups[head][rest] = v
        assert set(groups["param"]) == set(params)  # every name mapped, Dense's "b" kept
        load_state_dict(params, groups["param"])
        opt2 = optim.Adam(0.01)
        opt2.load_state_dict(groups["optim"], params)
        for k in params:
            np.testing.assert_array_equal(params[k], state[f"param.{old(k)}"])
            np.testing.assert_array_equal(opt2.state_dict()[f"m.{k}"], 2 * opt.state_dict()[f"m.{k}"])
        if cell == "gru":
            assert "param.rnn.fwd.bhn" in up and "param.rnn.bwd.Whh" in up

    # a bare layer dict too; an RNN's names and a Dense alone are untouched
    lstm = LSTM(2, 3, np.random.default_rng(0))
    bare = upgrade_param_names({old(k): v for k, v in lstm.params.items()})
    lstm.load_state_dict(bare)
    assert upgrade_param_names({"W": 1, "b": 2}) == {"W": 1, "b": 2}
    with pytest.raises(ValueError, match="both the old and the new form"):
        upgrade_param_names({"Wx": 1, "Wh": 2, "b": 3, "bh": 4})
