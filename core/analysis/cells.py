"""Cell maths shared by the analyses: a weight adapter, one forward step and one
vector-Jacobian product (VJP), vectorised over any leading "lane" axes.

Conventions (those of ``core.nn``): row vectors, time-major, PyTorch gate layouts.

    rnn:  a = x Wx + h Wh + b;  h' = act(a)                          (G = 1)
    lstm: [a_i, a_f, a_g, a_o] = x Wx + h Wh + b                      (G = 4)
          c' = f c + i g;  h' = o tanh(c')
    gru:  [a_r, a_z] = x Wx[:, :2H] + h Wh[:, :2H] + b[:2H]           (G = 3)
          hn = h Wh[:, 2H:] + bhn;  n = tanh(x Wx[:, 2H:] + b[2H:] + r hn)
          h' = (1 - z) n + z h

The VJP is written with broadcasting, so the same code serves a batch of
covectors at one timestep (Jacobian products, fixed points: quantities (H,) or
(S, 1, H), covectors (N, H) or (S, N, H)) and one covector per timestep
(itemized BPTT: everything (T, H)).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": ("h",), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}

# parameter names, new and old spellings (core.nn may rename Wx/Wh/b <-> Wxh/Whh/bh)
_NAMES = {"Wx": ("Wxh", "Wx", "W_xh", "W_ih"), "Wh": ("Whh", "Wh", "W_hh"),
          "b": ("bh", "b", "b_h"), "bhn": ("bhn", "b_hn")}


@dataclass(frozen=True)
class RecurrentWeights:
    """One recurrent layer's parameters, whatever ``core.nn`` calls them.

    cell:       "rnn", "lstm" or "gru".
    activation: "tanh" or "sigmoid" (the RNN's h; gated cells are "tanh").
    Wh:         (H, G*H) recurrent weights, row convention (``a = h @ Wh``).
    Wx:         (D, G*H) input weights, or None when not needed.
    b:          (G*H,) bias (zeros when absent).
    bhn:        (H,) GRU's b_hn (inside the reset product), else None.
    """

    cell: str
    activation: str
    Wh: np.ndarray
    Wx: np.ndarray | None = None
    b: np.ndarray | None = None
    bhn: np.ndarray | None = None

    @property
    def hidden_size(self) -> int:
        return int(self.Wh.shape[0])

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.cell]

    def block(self, gate: str) -> np.ndarray:
        """The (H, H) block of Wh feeding ``gate`` (row convention)."""
        H = self.hidden_size
        k = self.gates.index(gate)
        return self.Wh[:, k * H:(k + 1) * H]

    def bias(self) -> np.ndarray:
        return np.zeros(self.Wh.shape[1]) if self.b is None else self.b

    def input_drive(self, x: np.ndarray | None) -> np.ndarray:
        """u = x @ Wx + b, (..., G*H); x None or Wx None means zero input."""
        u = self.bias()
        if x is not None and self.Wx is not None:
            u = np.asarray(x, np.float64) @ self.Wx + u
        return np.asarray(u, np.float64)


def _pick(params: Mapping[str, Any], key: str, prefix: str) -> np.ndarray | None:
    for name in _NAMES[key]:
        if prefix + name in params:
            return np.asarray(params[prefix + name], np.float64)
    return None


def recurrent_weights(layer: Any = None, *, params: Mapping[str, Any] | None = None, cell: str | None = None,
                      activation: str | None = None, prefix: str = "") -> RecurrentWeights:
    """A :class:`RecurrentWeights` (float64 copies) from a ``core.nn`` RNN/LSTM/GRU layer, or from a
    flat ``params`` dict (``prefix`` e.g. ``"rnn.0."``) with ``cell`` given.

    Reads either spelling of the names (``Wxh``/``Wx``, ``Whh``/``Wh``, ``bh``/``b``).
    """
    if layer is not None:
        params = layer.params
        cell = cell or getattr(layer, "cell")
        activation = activation or getattr(layer, "activation", "tanh")
    if params is None or cell not in CELLS:
        raise ValueError(f"recurrent_weights needs a layer, or params and cell in {CELLS}; got cell={cell!r}")
    Wh = _pick(params, "Wh", prefix)
    if Wh is None:
        raise ValueError(f"no recurrent weight matrix among {sorted(params)} (prefix {prefix!r}, "
                         f"looked for {_NAMES['Wh']})")
    G = len(GATES[cell])
    if Wh.ndim != 2 or Wh.shape[1] != G * Wh.shape[0]:
        raise ValueError(f"recurrent weights of a {cell} must be (H, {G}H), got {Wh.shape}")
    return RecurrentWeights(cell, activation or "tanh", Wh, _pick(params, "Wx", prefix), _pick(params, "b", prefix),
                            _pick(params, "bhn", prefix) if cell == "gru" else None)


def model_weights(model: Any) -> list[RecurrentWeights]:
    """One :class:`RecurrentWeights` per recurrent layer of a single layer, ``Stacked`` or
    ``Bidirectional`` (fwd then bwd), bottom first -- the order of ``model.trace(cache)``."""
    if hasattr(model, "layers"):
        return [w for layer in model.layers for w in model_weights(layer)]
    if hasattr(model, "fwd") and hasattr(model, "bwd"):
        return model_weights(model.fwd) + model_weights(model.bwd)
    return [recurrent_weights(model)]


# -- one step --------------------------------------------------------------------------


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * a) + 0.5


def step(W: RecurrentWeights, h: np.ndarray, c: np.ndarray | None, u: np.ndarray) -> dict[str, np.ndarray]:
    """One forward step from state (h, c) (..., H) with input drive u = x Wx + b (..., G*H).

    Returns the step quantities the VJP needs: "h_prev", "h" and per cell
    rnn "dact"; lstm "c_prev", "c", "i", "f", "g", "o"; gru "r", "z", "n", "hn".
    """
    H = W.hidden_size
    a = h @ W.Wh
    if W.cell == "rnn":
        a = a + u
        if W.activation == "sigmoid":
            hn = _sigmoid(a)
            return {"h_prev": h, "h": hn, "dact": hn * (1.0 - hn)}
        hn = np.tanh(a)
        return {"h_prev": h, "h": hn, "dact": 1.0 - hn * hn}
    if W.cell == "lstm":
        a = a + u
        i, f, o = _sigmoid(a[..., :H]), _sigmoid(a[..., H:2 * H]), _sigmoid(a[..., 3 * H:])
        g = np.tanh(a[..., 2 * H:3 * H])
        c = np.zeros_like(h) if c is None else c
        c_new = f * c + i * g
        return {"h_prev": h, "c_prev": c, "i": i, "f": f, "g": g, "o": o, "c": c_new, "h": o * np.tanh(c_new)}
    bhn = np.zeros(H) if W.bhn is None else W.bhn
    r = _sigmoid(a[..., :H] + u[..., :H])
    z = _sigmoid(a[..., H:2 * H] + u[..., H:2 * H])
    hn = a[..., 2 * H:] + bhn
    n = np.tanh(u[..., 2 * H:] + r * hn)
    return {"h_prev": h, "r": r, "z": z, "n": n, "hn": hn, "h": n + z * (h - n)}


def trace_quantities(W: RecurrentWeights, states: Mapping[str, np.ndarray], h0: np.ndarray | None = None,
                     c0: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The step quantities of every timestep (each (T, H)) from a stored trace.

    states: a ``LayerTrace.states``-like dict of (T, H) arrays: "h" (and LSTM
    "c", "i", "f", "g", "o"; GRU "r", "z", "n"). h0, c0: (H,) initial state
    (zeros when None). Nothing is recomputed except GRU's hn = h_{t-1} Wh_n + b_hn.
    """
    h = np.asarray(states["h"], np.float64)
    T, H = h.shape
    h_prev = np.empty_like(h)
    h_prev[0] = 0.0 if h0 is None else h0
    h_prev[1:] = h[:-1]
    q = {"h_prev": h_prev, "h": h}
    if W.cell == "rnn":
        q["dact"] = h * (1.0 - h) if W.activation == "sigmoid" else 1.0 - h * h
    elif W.cell == "lstm":
        for k in ("c", "i", "f", "g", "o"):
            q[k] = np.asarray(states[k], np.float64)
        c_prev = np.empty_like(h)
        c_prev[0] = 0.0 if c0 is None else c0
        c_prev[1:] = q["c"][:-1]
        q["c_prev"] = c_prev
    else:
        for k in ("r", "z", "n"):
            q[k] = np.asarray(states[k], np.float64)
        q["hn"] = h_prev @ W.Wh[:, 2 * H:] + (0.0 if W.bhn is None else W.bhn)
    return q


def vjp(W: RecurrentWeights, q: Mapping[str, np.ndarray], dh: np.ndarray,
        dc: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Back through one step: covectors dL/dh_t (and dL/dc_t) (..., H) -> (dL/dh_{t-1}, dL/dc_{t-1} or None,
    dL/da (..., G*H)), where da is what multiplies h_{t-1} in the recurrent weight gradient
    (dL/dWh = h_{t-1}^T da; for the GRU the n block is d(hn)). ``q`` broadcasts against ``dh``.
    """
    if W.cell == "rnn":
        da = dh * q["dact"]
        return da @ W.Wh.T, None, da
    if W.cell == "lstm":
        i, f, g, o, c = q["i"], q["f"], q["g"], q["o"], q["c"]
        tc = np.tanh(c)
        dct = dh * o * (1.0 - tc * tc)
        if dc is not None:
            dct = dct + dc
        da = np.concatenate([dct * g * i * (1.0 - i), dct * q["c_prev"] * f * (1.0 - f),
                             dct * i * (1.0 - g * g), dh * tc * o * (1.0 - o)], axis=-1)
        return da @ W.Wh.T, dct * f, da
    r, z, n = q["r"], q["z"], q["n"]
    dan = dh * (1.0 - z) * (1.0 - n * n)
    da = np.concatenate([dan * q["hn"] * r * (1.0 - r), dh * (q["h_prev"] - n) * z * (1.0 - z), dan * r], axis=-1)
    return da @ W.Wh.T + dh * z, None, da


def lanes(q: Mapping[str, np.ndarray], idx: Any) -> dict[str, np.ndarray]:
    """The quantities of timesteps ``idx`` (an index or slice into the leading T axis)."""
    return {k: v[idx] for k, v in q.items()}


def state_size(W: RecurrentWeights) -> int:
    """Size of the full state: H, or 2H for the LSTM's (h, c)."""
    return 2 * W.hidden_size if W.cell == "lstm" else W.hidden_size


def as_list(x: Any) -> Sequence:
    return list(x) if isinstance(x, (list, tuple)) else [x]
