"""The cell registry (core.nn.cells): one descriptor per cell drives make_recurrent,
config.cell() and the probe's colour ranges. A toy cell defined only in this file proves
that a new cell needs no edit anywhere else."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from core import config
from core.gradcheck import numerical_grad, rel_error
from core.nn.cells import (CellSpec, StateSpec, cell_names, cell_spec, register_cell, state_names, state_range,
                           state_title, unregister_cell)
from core.nn.gru import GRU
from core.nn.lstm import LSTM
from core.nn.recurrent import make_recurrent
from core.nn.rnn import RNN, RecurrentLayer


class LeakyRNN(RecurrentLayer):
    """A toy cell: leak_t = sigmoid(a), h_t = (1 - leak_t) * h_{t-1} + leak_t * tanh(x_t Wxh + bh),
    with a = x_t Wxl + bl (the leak ignores h, so the toy stays short). States "h" and "leak"."""

    cell = "leaky"
    gates = 2

    def __init__(self, input_size: int, hidden_size: int, rng: np.random.Generator, dtype: Any = np.float32):
        super().__init__(input_size, hidden_size, rng, dtype)
        D, H = self.input_size, self.hidden_size
        self.params = {"Wxh": self._uniform(rng, D, H), "bh": self._uniform(rng, H),
                       "Wxl": self._uniform(rng, D, H), "bl": self._uniform(rng, H)}

    def forward(self, x, h0=None, rng=None, train=True):
        x = self._check_x(x)
        T, B = x.shape[:2]
        h0, _ = self._check_state("h0", h0, B)
        p = self.params
        u = np.tanh(self._project(x, p["Wxh"]) + p["bh"])  # (T, B, H)
        lk = 1.0 / (1.0 + np.exp(-(self._project(x, p["Wxl"]) + p["bl"])))  # (T, B, H)
        hs = np.zeros((T + 1, B, self.hidden_size), self.dtype)
        if h0 is not None:
            hs[0] = h0
        for t in range(T):
            hs[t + 1] = (1.0 - lk[t]) * hs[t] + lk[t] * u[t]
        return hs[1:], hs[-1].copy(), {"x": x, "h": hs, "u": u, "leak": lk}

    def backward(self, dy, cache, dh_last=None, need_dx=True):
        x, hs, u, lk = cache["x"], cache["h"], cache["u"], cache["leak"]
        T, B = x.shape[:2]
        dy = self._check_dy(dy, T, B)
        dh_T, _ = self._check_state("dh_last", dh_last, B)
        dh = np.zeros((T + 1,) + hs.shape[1:], self.dtype)
        if dy is not None:
            dh[1:] = dy
        if dh_T is not None:
            dh[T] += dh_T
        du, dl = np.empty_like(u), np.empty_like(lk)
        for t in range(T - 1, -1, -1):
            du[t] = dh[t + 1] * lk[t] * (1.0 - u[t] ** 2)
            dl[t] = dh[t + 1] * (u[t] - hs[t]) * lk[t] * (1.0 - lk[t])
            dh[t] += dh[t + 1] * (1.0 - lk[t])
        D, H = self.input_size, self.hidden_size
        du2, dl2 = du.reshape(T * B, H), dl.reshape(T * B, H)
        p = self.params
        grads = {"Wxh": self._grad_w_in(x, du2), "bh": du2.sum(0), "Wxl": self._grad_w_in(x, dl2), "bl": dl2.sum(0)}
        dx = None
        if need_dx and x.ndim == 3:
            dx = (du2 @ p["Wxh"].T + dl2 @ p["Wxl"].T).reshape(T, B, D)
        norms = np.sqrt(np.einsum("tbh,tbh->t", dh[1:], dh[1:]))[None, :]
        return dx, dh[0], grads, norms

    def trace(self, cache):
        return [{"h": cache["h"][1:], "leak": cache["leak"]}]

    def _torch_arrays(self):  # no torch counterpart
        raise NotImplementedError


LEAKY = CellSpec("leaky", "leaky RNN (test)", LeakyRNN,
                 (StateSpec("h", "hidden state h", -1.0, 1.0), StateSpec("leak", "leak rate", 0.0, 1.0)))


@pytest.fixture
def leaky():
    register_cell(LEAKY)
    yield LEAKY
    unregister_cell("leaky")


def test_builtin_cells_are_registered_with_their_states():
    assert cell_names()[:3] == ("rnn", "lstm", "gru")
    assert cell_spec("rnn").layer_class is RNN and cell_spec("lstm").layer_class is LSTM
    assert cell_spec("gru").layer_class is GRU
    assert state_names("lstm") == ("h", "c", "i", "f", "g", "o")
    assert state_names("gru") == ("h", "r", "z", "n")
    assert state_names("rnn") == ("h", "pre")
    assert config.cell("lstm").choices == cell_names()


@pytest.mark.parametrize("cell, act", [("rnn", "tanh"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")])
def test_trace_keys_are_the_declared_states(cell, act):
    rng = np.random.default_rng(0)
    layer = make_recurrent(cell, 3, 4, rng=rng, activation=act)
    _, _, cache = layer.forward(rng.standard_normal((5, 2, 3)).astype(np.float32))
    assert tuple(layer.trace(cache)[0]) == cell_spec(cell).state_names
    assert isinstance(layer, cell_spec(cell).layer_class)


def test_ranges_depend_on_activation_and_data():
    c = np.array([[-3.0, 2.0]])
    assert state_range("rnn", "tanh", "h", None) == (-1.0, 1.0)
    assert state_range("rnn", "sigmoid", "h", None) == (0.0, 1.0)
    assert state_range("rnn", "tanh", "pre", c) == (-3.0, 3.0)
    assert state_range("lstm", "sigmoid", "h", None) == (-1.0, 1.0)  # o * tanh(c), whatever the activation arg
    assert state_range("lstm", "tanh", "c", c) == (-3.0, 3.0)
    assert state_range("lstm", "tanh", "c", np.zeros((2, 2))) == (-1e-6, 1e-6)
    for k in "ifo":
        assert state_range("lstm", "tanh", k, None) == (0.0, 1.0)
    assert state_range("lstm", "tanh", "g", None) == (-1.0, 1.0)
    assert state_range("gru", "tanh", "r", None) == state_range("gru", "tanh", "z", None) == (0.0, 1.0)
    assert state_range("gru", "tanh", "n", None) == (-1.0, 1.0)
    # unknown cells (the MLP's "dense"): h by the activation, anything else from the data
    assert state_range("dense", "sigmoid", "h", None) == (0.0, 1.0)
    assert state_range("dense", "tanh", "x", c) == (-3.0, 3.0)
    assert state_title("lstm", "f") == "forget gate f" and state_title("gru", "n") == "candidate n"
    assert state_title("dense", "q") == "q"
    rnn_sig = cell_spec("rnn").states("sigmoid")
    assert rnn_sig[0] == StateSpec("h", "hidden state h", 0.0, 1.0)


def test_specs_are_checked():
    with pytest.raises(ValueError, match="start with 'h'"):
        CellSpec("x", "x", LeakyRNN, (StateSpec("leak", "l", 0.0, 1.0),))
    with pytest.raises(ValueError, match="both low and high"):
        StateSpec("h", "h", 0.0)
    with pytest.raises(ValueError, match="unknown activations"):
        CellSpec("x", "x", LeakyRNN, (StateSpec("h", "h"),), activations=("relu",))
    with pytest.raises(ValueError, match="already registered"):
        register_cell(CellSpec("lstm", "other", LeakyRNN, (StateSpec("h", "h"),)))
    with pytest.raises(ValueError, match="cell must be one of 'rnn', 'lstm', 'gru'"):
        cell_spec("nope")
    with pytest.raises(ValueError, match="cell must be one of"):
        make_recurrent("nope", 2, 3)


def test_a_cell_registered_in_a_test_file_works_everywhere(leaky):
    assert "leaky" in cell_names()
    p = config.cell("rnn")  # created after the registration
    assert "leaky" in p.choices and p.validate("leaky") == "leaky"
    assert cell_spec("leaky").state_names == ("h", "leak")
    assert state_range("leaky", "tanh", "leak", None) == (0.0, 1.0)
    assert state_title("leaky", "leak") == "leak rate"

    rng = np.random.default_rng(1)
    T, B, D, H = 4, 3, 2, 5
    model = make_recurrent("leaky", D, H, num_layers=2, rng=rng, dtype=np.float64)
    x = rng.standard_normal((T, B, D))
    y, h_last, cache = model.forward(x)
    assert y.shape == (T, B, H) and [a.shape for a in h_last] == [(B, H), (B, H)]
    dy = rng.standard_normal(y.shape)
    dx, dh0, grads, norms = model.backward(dy, cache)
    assert dx.shape == x.shape and norms.shape == (2, T)
    assert set(grads) == set(model.params) and all(grads[k].shape == v.shape for k, v in model.params.items())
    assert [tuple(tr) for tr in model.trace(cache)] == [("h", "leak")] * 2

    def loss():
        return float(np.sum(model.forward(x)[0] * dy))

    for k, v in model.params.items():  # the toy's backward is right, so a training step is real
        assert rel_error(grads[k], numerical_grad(loss, v, 1e-5)) < 1e-6, k
    before = {k: v.copy() for k, v in model.params.items()}
    for k, v in model.params.items():  # one SGD step lowers the loss
        v -= 1e-3 * grads[k]
    assert loss() < float(np.sum(y * dy)) and any(not np.array_equal(before[k], v) for k, v in model.params.items())

    with pytest.raises(ValueError, match="activation"):
        make_recurrent("leaky", D, H, activation="relu")


def test_unregistered_cell_is_gone(leaky):
    unregister_cell("leaky")
    assert "leaky" not in cell_names() and "leaky" not in config.cell("rnn").choices
    register_cell(LEAKY)  # the fixture's teardown unregisters it again
