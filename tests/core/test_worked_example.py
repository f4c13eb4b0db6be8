"""The seed's worked RNN example, reproduced to 1e-6 by core.nn.rnn.RNN.

A 2-unit tanh cell, zero initial state, inputs 1 then 2. The numbers follow from
the row-vector convention ``pre_t = x_t @ Wxh + h_{t-1} @ Whh + bh`` (with
``Whh @ h`` the second pre-activation would be [1.2461, 1.4460] instead).
"""
from __future__ import annotations

import numpy as np

from core.nn.rnn import RNN

WHH = [[0.1, 0.2], [0.3, 0.4]]
WXH = [[0.5, 0.6]]  # (D=1, H=2)
BH = [0.1, -0.1]
WY = [[1.0], [2.0]]  # (H, 1)
BY = [0.1]

PRE = [[0.6, 0.5], [1.2923401, 1.39225678]]
STATES = [[0.53704957, 0.46211716], [0.85973818, 0.88366641]]
OUTPUTS = [1.56128388, 2.72707101]


def _model() -> RNN:
    rnn = RNN(1, 2, np.random.default_rng(0), activation="tanh", dtype=np.float64)
    rnn.load_state_dict({"Wxh": np.array(WXH), "Whh": np.array(WHH), "bh": np.array(BH)})
    return rnn


def test_worked_example_forward_pass():
    rnn = _model()
    x = np.array([1.0, 2.0]).reshape(2, 1, 1)  # (T=2, B=1, D=1)
    y, h_last, cache = rnn.forward(x)  # zero initial state
    trace = rnn.trace(cache)[0]
    np.testing.assert_allclose(trace["pre"][:, 0, :], PRE, atol=1e-6)
    np.testing.assert_allclose(y[:, 0, :], STATES, atol=1e-6)
    np.testing.assert_allclose(trace["h"][:, 0, :], STATES, atol=1e-6)
    np.testing.assert_allclose(h_last[0], STATES[-1], atol=1e-6)
    out = y @ np.array(WY) + np.array(BY)  # (T, B, 1) readout, plain NumPy
    np.testing.assert_allclose(out[:, 0, 0], OUTPUTS, atol=1e-6)


def test_worked_example_step_by_step_equals_one_call():
    """Feeding the inputs one call at a time (state carried) gives the same numbers."""
    rnn = _model()
    h = None
    for t, xt in enumerate([1.0, 2.0]):
        y, h, cache = rnn.forward(np.array([[[xt]]]), h)
        np.testing.assert_allclose(rnn.trace(cache)[0]["pre"][0, 0], PRE[t], atol=1e-6)
        np.testing.assert_allclose(y[0, 0], STATES[t], atol=1e-6)


def test_worked_example_in_float32():
    rnn = RNN(1, 2, np.random.default_rng(0))  # float32 default
    rnn.load_state_dict({"Wxh": np.array(WXH), "Whh": np.array(WHH), "bh": np.array(BH)})
    y, _, _ = rnn.forward(np.array([1.0, 2.0], np.float32).reshape(2, 1, 1))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y[:, 0, :], STATES, atol=1e-6)
