"""Connectivity (against finite differences) and fixed points (hand-designed networks)."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.cells import RecurrentWeights, recurrent_weights
from core.analysis.fixed_points import find_fixed_points, starts_from_trace, step_map
from core.analysis.memory import connectivity, connectivity_from_grad
from core.nn.dense import Dense
from core.nn.recurrent import make_recurrent


def _model(cell, D=3, H=4, layers=1, seed=0):
    return make_recurrent(cell, D, H, num_layers=layers, rng=np.random.default_rng(seed), dtype=np.float64)


@pytest.mark.parametrize("cell,layers", [("rnn", 1), ("lstm", 2), ("gru", 1)])
def test_connectivity_matches_finite_differences(cell, layers):
    model = _model(cell, layers=layers)
    out = Dense(4, 5, np.random.default_rng(1), dtype=np.float64)
    x = np.random.default_rng(2).standard_normal((7, 3))
    con = connectivity(model, x, readout=out, t_out=[6, 3], output_index=[2, 4])
    assert con.matrix.shape == (2, 7) and con.unit is None
    eps = 1e-6

    def logit(xx, t, k):
        y, _, _ = model.forward(xx[:, None, :], train=False)
        return (y[t, 0] @ out.params["W"] + out.params["b"])[k]

    for row, (t, k) in enumerate([(6, 2), (3, 4)]):
        for t_in in range(7):
            g = np.empty(3)
            for d in range(3):
                xp, xm = x.copy(), x.copy()
                xp[t_in, d] += eps
                xm[t_in, d] -= eps
                g[d] = (logit(xp, t, k) - logit(xm, t, k)) / (2 * eps)
            assert con.matrix[row, t_in] == pytest.approx(np.linalg.norm(g), rel=1e-5, abs=1e-9)
    assert np.all(con.matrix[1, 4:] == 0.0)  # causal
    np.testing.assert_allclose(con.row(3), con.matrix[1])


def test_connectivity_defaults_and_hidden_unit():
    model = _model("rnn", H=4)
    W = model.params["Whh"] if "Whh" in model.params else model.params["Wh"]
    W[...] *= 0.3 / np.linalg.norm(W, 2)  # short memory: connectivity decays with distance
    x = np.random.default_rng(3).standard_normal((20, 3))
    Wr = np.random.default_rng(4).standard_normal((4, 2))
    con = connectivity(model, x, readout=Wr)  # last step, argmax logit
    y, _, _ = model.forward(x[:, None, :])
    assert con.t_out.tolist() == [19] and con.output_index[0] == np.argmax(y[-1, 0] @ Wr)
    row = con.matrix[0]
    assert row[19] > row[15] > row[10] > row[2]
    full = connectivity(model, x, unit=1, t_out=range(20))
    assert full.matrix.shape == (20, 20) and full.unit == 1 and np.all(full.output_index == -1)
    assert np.all(np.triu(full.matrix, 1) == 0)
    chunked = connectivity(model, x, unit=1, t_out=[5, 19, 0, 12], lanes_per_pass=3)  # unsorted, 2 passes
    np.testing.assert_allclose(chunked.matrix, full.matrix[[5, 19, 0, 12]], rtol=1e-12, atol=1e-15)
    # hidden unit at the same step: d h_t[1] / d x_t = (1 - h^2) Wxh[:, 1]
    Wx = model.params["Wxh"] if "Wxh" in model.params else model.params["Wx"]
    h = y[:, 0]
    np.testing.assert_allclose(np.diag(full.matrix), (1 - h[:, 1] ** 2) * np.linalg.norm(Wx[:, 1]), rtol=1e-10)
    same = connectivity_from_grad(lambda t: np.eye(20, 3) * t, [0, 2])
    np.testing.assert_allclose(same.matrix[1], np.linalg.norm(np.eye(20, 3) * 2, axis=1))
    with pytest.raises(ValueError):
        connectivity(model, x)
    with pytest.raises(ValueError):
        connectivity(model, x, unit=0, t_out=[20])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_and_its_jacobian_match_the_layer_and_finite_differences(cell):
    layer = _model(cell, H=3, seed=5)
    W = recurrent_weights(layer)
    rng = np.random.default_rng(6)
    x = rng.standard_normal(3)
    n = 6 if cell == "lstm" else 3
    s = rng.standard_normal((2, n)) * 0.5
    F, J = step_map(W, s, W.input_drive(x))
    h0 = (s[:, :3], s[:, 3:]) if cell == "lstm" else s
    y, last, _ = layer.forward(np.broadcast_to(x, (1, 2, 3)).copy(), h0)
    np.testing.assert_allclose(F[:, :3], y[0], rtol=1e-12)
    if cell == "lstm":
        np.testing.assert_allclose(F[:, 3:], last[1], rtol=1e-12)
    eps = 1e-6
    for j in range(n):
        d = np.zeros(n)
        d[j] = eps
        Fp, _ = step_map(W, s + d, W.input_drive(x), jacobian=False)
        Fm, _ = step_map(W, s - d, W.input_drive(x), jacobian=False)
        np.testing.assert_allclose(J[:, :, j], (Fp - Fm) / (2 * eps), atol=1e-8)


def test_small_rnn_has_one_stable_fixed_point_at_zero():
    Wh = np.array([[0.3, -0.2], [0.4, 0.1]])
    W = RecurrentWeights("rnn", "tanh", Wh, np.zeros((1, 2)), np.zeros(2))
    starts = np.random.default_rng(7).uniform(-1, 1, (6, 2))
    fp = find_fixed_points(W, starts, x=np.zeros(1))
    assert len(fp.points) == 1
    p = fp.points[0]
    np.testing.assert_allclose(p.state, 0.0, atol=1e-7)
    assert p.kind == "fixed" and p.stable and p.unstable_dims == 0
    # at 0, tanh' = 1: dF/dh = Wh^T, whose eigenvalues are Wh's
    np.testing.assert_allclose(sorted(p.eigenvalues, key=lambda z: (z.real, z.imag)),
                               sorted(np.linalg.eigvals(Wh), key=lambda z: (z.real, z.imag)), atol=1e-8)
    assert fp.final.shape == (6, 2) and np.all(fp.final_q < 1e-14) and fp.iterations.max() <= 200


def test_designed_bistable_rnn():
    """Two self-exciting units, h = tanh(2 h): stable at +-h* per unit, unstable at 0."""
    W = RecurrentWeights("rnn", "tanh", 2.0 * np.eye(2))
    hs = 0.5
    for _ in range(100):
        hs = np.tanh(2 * hs)  # h* = 0.9575...
    grid = np.array([(a, b) for a in (-0.9, 0.0, 0.9) for b in (-0.9, 0.0, 0.9)])
    starts = grid + np.random.default_rng(0).uniform(-0.05, 0.05, grid.shape)
    fp = find_fixed_points(W, starts)
    assert len(fp.points) == 9  # 3 x 3: each unit at -h*, 0 or +h*
    r = round(hs, 6)
    found = {tuple(np.round(p.state, 6) + 0.0): p for p in fp.points}
    for corner in [(r, r), (-r, r), (-r, -r), (r, -r)]:
        p = found[corner]
        assert p.kind == "fixed" and p.stable and p.unstable_dims == 0
        assert p.spectral_radius == pytest.approx(2 * (1 - hs ** 2), rel=1e-6)  # 0.166
    origin = found[(0.0, 0.0)]
    assert not origin.stable and origin.unstable_dims == 2 and origin.spectral_radius == pytest.approx(2.0)
    for saddle in [(0.0, r), (0.0, -r), (r, 0.0), (-r, 0.0)]:
        assert found[saddle].unstable_dims == 1 and not found[saddle].stable


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_fixed_points_are_fixed(cell):
    layer = _model(cell, D=2, H=5, seed=8)
    x = np.random.default_rng(9).standard_normal((30, 1, 2)) * 0.5
    _, _, cache = layer.forward(x)
    st = {k: v[:, 0] for k, v in layer.trace(cache)[0].items()}
    W = recurrent_weights(layer)
    starts = starts_from_trace(st, n=5)
    assert starts.shape == (5, 10 if cell == "lstm" else 5)
    fp = find_fixed_points(W, starts, x=np.zeros(2))
    assert fp.points
    for p in fp.points:
        F, J = step_map(W, p.state[None], W.input_drive(np.zeros(2)))
        assert 0.5 * np.sum((F[0] - p.state) ** 2) == pytest.approx(p.q, abs=1e-18)
        assert p.q <= 1e-4
        np.testing.assert_allclose(np.abs(p.eigenvalues), np.sort(np.abs(np.linalg.eigvals(J[0])))[::-1], atol=1e-9)
    with pytest.raises(ValueError):
        find_fixed_points(W, np.zeros((1, 3)))
