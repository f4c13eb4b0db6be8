"""Memory / connectivity (Madsen, "Visualizing memorization in RNNs", Distill 2019): how strongly
the output at step t_out depends on the input at each earlier step t_in,

    connectivity[t_out, t_in] = || d s_{t_out} / d x_{t_in} ||_2

where s is one scalar output at t_out: a readout logit (default the predicted class) or one hidden
unit. Computed with the model's own forward and backward (``core.nn`` contract), one batch lane per
t_out, so the whole matrix costs one forward and one backward pass with batch = len(t_out).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np


@dataclass(frozen=True)
class Connectivity:
    """Input-to-output gradient magnitudes.

    t_out:        (n,) int, the output timesteps (rows).
    matrix:       (n, T) ||d s_{t_out} / d x_{t_in}||_2 over the D input components;
                  0 for t_in > t_out (causal).
    output_index: (n,) int, the readout column differentiated at each t_out, or -1 when the
                  scalar is hidden ``unit`` of the top layer.
    unit:         the hidden unit used (None with a readout).
    """

    t_out: np.ndarray
    matrix: np.ndarray
    output_index: np.ndarray
    unit: int | None

    def row(self, t_out: int) -> np.ndarray:
        """(T,) the connectivity of output step ``t_out`` (one of ``self.t_out``)."""
        return self.matrix[int(np.flatnonzero(self.t_out == t_out)[0])]


def _readout_matrix(readout: Any) -> tuple[np.ndarray, np.ndarray]:
    """(W (H, K), b (K,)) from an array W, a (W, b) pair, or a Dense-like object / params dict."""
    params = getattr(readout, "params", readout)
    if isinstance(params, dict):
        W = np.asarray(params["W"])
        return W, np.asarray(params.get("b", np.zeros(W.shape[1])))
    if isinstance(params, (tuple, list)):
        return np.asarray(params[0]), np.asarray(params[1])
    W = np.asarray(params)
    return W, np.zeros(W.shape[1])


def connectivity(model: Any, x: Any, readout: Any = None, t_out: Sequence[int] | int | None = None,
                 output_index: Sequence[int] | int | None = None, unit: int | None = None,
                 lanes_per_pass: int = 64) -> Connectivity:
    """Madsen's connectivity for a ``core.nn`` recurrent model (RNN/LSTM/GRU layer or Stacked).

    model:   has ``forward(x, h0, train=False) -> (y (T, B, H), h_last, cache)`` and
             ``backward(dy, cache) -> (dx (T, B, D), ...)`` (float inputs; for id inputs pass the
             one-hot or embedded vectors).
    x:       (T, D) one input sequence.
    readout: the output layer on top: a Dense (or its params {"W": (H, K), "b"}), a (W, b) pair
             or W (H, K). The scalar is the logit ``output_index`` (an int, or one per t_out;
             default: the argmax logit at each t_out). Without a readout give ``unit``: the
             scalar is that unit of the top layer's h.
    t_out:   output steps (default the last step only; ``range(T)`` for the full matrix).
    The model starts from the zero state (as the probes do). ``lanes_per_pass`` output steps share
    one forward/backward pass (memory ~ T * lanes * G*H floats); each pass runs only up to its
    last t_out.
    Cost ~ sum over t_out of (t_out + 1) lane-steps of forward + backward. Measured (float32
    model, shared 2-core machine under load, best of 3): last step only, T=400: 2-90 ms for
    rnn/lstm/gru H=64..256; full (T, T) matrix at T=100: lstm H=64 25-140 ms, H=256 0.14-0.46 s,
    gru H=256 0.3 s; at T=400 the full matrix is seconds (lstm H=64 ~0.4-2 s, H=256 ~2.5-9 s):
    for long probes ask for a subset of t_out (e.g. every 10th step: lstm H=64 0.13 s) or
    compute it on demand, not per frame.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be one sequence (T, D), got shape {x.shape}")
    T = x.shape[0]
    outs = np.array([T - 1] if t_out is None else np.atleast_1d(t_out), dtype=np.int64)
    if outs.size == 0 or outs.min() < 0 or outs.max() >= T:
        raise ValueError(f"t_out must be steps in [0, {T - 1}], got {outs.tolist()}")
    n = len(outs)
    dtype = getattr(model, "dtype", np.float64)
    xd = x.astype(dtype)
    if readout is not None:
        Wr, br = _readout_matrix(readout)
    elif unit is None:
        raise ValueError("connectivity needs a readout (and optionally output_index) or a hidden unit")
    given = None if output_index is None else np.broadcast_to(np.asarray(output_index, np.int64), (n,))
    M = np.zeros((n, T))
    idx = np.full(n, -1, np.int64)
    order = np.argsort(outs, kind="stable")
    for c0 in range(0, n, lanes_per_pass):  # bounded memory: the caches grow with T * lanes * H
        sel = order[c0:c0 + lanes_per_pass]
        o = outs[sel]
        m, Tc = len(sel), int(o.max()) + 1  # inputs after the last t_out of the chunk do not matter
        X = np.ascontiguousarray(np.broadcast_to(xd[:Tc, None, :], (Tc, m, x.shape[1])))
        y, _, cache = model.forward(X, None, train=False)  # (Tc, m, H)
        lanes = np.arange(m)
        if readout is not None:
            k = np.argmax(y[o, lanes] @ Wr + br, axis=-1) if given is None else given[sel]
            idx[sel] = k
            cov = Wr[:, k].T  # (m, H)
        else:
            cov = np.zeros((m, y.shape[-1]))
            cov[:, int(unit)] = 1.0
        dy = np.zeros(y.shape, dtype)
        dy[o, lanes] = cov
        dx = model.backward(dy, cache)[0]  # (Tc, m, D)
        M[sel, :Tc] = np.sqrt(np.einsum("tnd,tnd->nt", dx, dx, dtype=np.float64))
    M[np.arange(T)[None, :] > outs[:, None]] = 0.0
    return Connectivity(outs, M, idx, None if readout is not None else int(unit))


def connectivity_from_grad(grad_fn: Callable[[int], np.ndarray], t_out: Sequence[int],
                           output_index: Sequence[int] | None = None) -> Connectivity:
    """The same result from any model: ``grad_fn(t)`` returns d s_t / d x, (T, D), for output step t."""
    outs = np.asarray(t_out, np.int64)
    M = np.stack([np.linalg.norm(np.asarray(grad_fn(int(t)), np.float64), axis=-1) for t in outs])
    idx = np.full(len(outs), -1, np.int64) if output_index is None else np.asarray(output_index, np.int64)
    return Connectivity(outs, M, idx, None)
