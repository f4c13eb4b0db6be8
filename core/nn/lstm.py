"""LSTM layer with PyTorch's gate layout (i, f, g, o).

    [a_i, a_f, a_g, a_o] = x_t @ Wx + h_{t-1} @ Wh + b        # (B, 4H)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Params: ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,) — torch's ``weight_ih_l0.T``,
``weight_hh_l0.T`` and ``bias_ih_l0 + bias_hh_l0``. ``to_torch()`` returns
``bias_ih_l0 = b`` and ``bias_hh_l0 = 0`` (the same function).

Speed: one matmul projects all timesteps. Per step the loop does one matmul and
one tanh over the fused (B, 4H) gate buffer; the sigmoid gates use
sigmoid(a) = 0.5 * tanh(a / 2) + 0.5, with the 1/2 folded into scaled copies of
the weights and the affine map applied to the whole buffer (x alpha + beta).
Backward precomputes every local derivative vectorised over T, so a step is
five calls: ``[do, dc_h] = dh * K``, ``dc += dc_next``,
``[dc_prev, di, df, dg] = dc * P``, ``dgates @ Wh.T`` and the add of dy.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from core.nn.rnn import RecurrentLayer


class LSTM(RecurrentLayer):
    """Long short-term memory layer. State: a tuple ``(h, c)`` of (B, H) arrays.

    ``forget_bias`` is added to the forget-gate bias at initialisation (0, as torch).
    """

    cell = "lstm"
    gates = 4
    state_is_tuple = True

    def __init__(self, input_size: int, hidden_size: int, rng: np.random.Generator,
                 dtype: Any = np.float32, forget_bias: float = 0.0):
        super().__init__(input_size, hidden_size, rng, dtype)
        D, H = self.input_size, self.hidden_size
        b = self._uniform(4 * H) + self._uniform(4 * H)  # torch: bias_ih + bias_hh
        b[H:2 * H] += forget_bias
        self.params = {"Wx": self._uniform(D, 4 * H), "Wh": self._uniform(H, 4 * H), "b": b}

    def _gate_scale(self) -> tuple[np.ndarray, np.ndarray]:
        """alpha (4H,) = 1/2 on sigmoid gates, 1 on g; beta (4H,) = 1/2 on sigmoid gates, 0 on g."""
        H = self.hidden_size
        alpha = np.full(4 * H, 0.5, self.dtype)
        alpha[2 * H:3 * H] = 1.0
        beta = np.full(4 * H, 0.5, self.dtype)
        beta[2 * H:3 * H] = 0.0
        return alpha, beta

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, h0: tuple | None = None, rng: Any = None,
                train: bool = True) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
        """x (T, B, D), h0 (h (B, H), c (B, H)) or None -> (y (T, B, H), (h_last, c_last), cache).

        ``rng``/``train`` are accepted for interface symmetry with Stacked and ignored.
        ``y`` is a view into the cache: do not modify it in place.
        """
        x = self._check_x(x)
        T, B, D = x.shape
        H = self.hidden_size
        h0, c0 = self._check_state("h0", h0, B)
        p = self.params
        alpha, beta = self._gate_scale()
        Wh_s = p["Wh"] * alpha  # (H, 4H), sigmoid columns halved

        gates = np.matmul(x.reshape(T * B, D), p["Wx"] * alpha).reshape(T, B, 4 * H)  # (T, B, 4H)
        gates += p["b"] * alpha
        hs = np.zeros((T + 1, B, H), self.dtype)  # (T+1, B, H); hs[0] = h0
        cs = np.zeros((T + 1, B, H), self.dtype)  # (T+1, B, H); cs[0] = c0
        if h0 is not None:
            hs[0] = h0
        if c0 is not None:
            cs[0] = c0
        tc = np.empty((T, B, H), self.dtype)  # (T, B, H) tanh(c_t)
        ig = np.empty((B, H), self.dtype)
        z = np.empty((B, 4 * H), self.dtype)
        gi, gf, gg, go = (gates[:, :, k * H:(k + 1) * H] for k in range(4))  # (T, B, H) views
        matmul, add, multiply, tanh = np.matmul, np.add, np.multiply, np.tanh
        for t in range(T):
            a = gates[t]  # (B, 4H)
            matmul(hs[t], Wh_s, out=z)
            add(a, z, out=a)
            tanh(a, out=a)
            multiply(a, alpha, out=a)
            add(a, beta, out=a)  # a = [i, f, g, o]
            c = cs[t + 1]
            multiply(gf[t], cs[t], out=c)
            multiply(gi[t], gg[t], out=ig)
            add(c, ig, out=c)
            tanh(c, out=tc[t])
            multiply(go[t], tc[t], out=hs[t + 1])
        cache = {"x": x, "h": hs, "c": cs, "gates": gates, "tc": tc}
        return hs[1:], (hs[-1].copy(), cs[-1].copy()), cache

    # -- backward -------------------------------------------------------------------------
    def backward(self, dy: np.ndarray | None, cache: dict, dh_last: tuple | None = None,
                 need_dx: bool = True) -> tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray], dict, np.ndarray]:
        """dy (T, B, H) or None, dh_last (dh, dc) or None ->
        (dx (T, B, D) or None if not ``need_dx``, (dh0, dc0), grads, dh_norms (1, T))."""
        x, hs, cs, gates, tc = cache["x"], cache["h"], cache["c"], cache["gates"], cache["tc"]
        T, B, D = x.shape
        H = self.hidden_size
        dy = self._check_dy(dy, T, B)
        dh_T, dc_T = self._check_state("dh_last", dh_last, B)
        p = self.params
        WhT = np.ascontiguousarray(p["Wh"].T)  # (4H, H)

        # local derivatives, vectorised over all timesteps
        g4 = gates.reshape(T, B, 4, H)
        i, f, g, o = g4[:, :, 0], g4[:, :, 1], g4[:, :, 2], g4[:, :, 3]  # (T, B, H) each
        P = np.empty((T, B, 4, H), self.dtype)  # dc * P = [dc_prev, da_i, da_f, da_g]
        P[:, :, 0] = f
        np.multiply(g, i * (1.0 - i), out=P[:, :, 1])
        np.multiply(cs[:-1], f * (1.0 - f), out=P[:, :, 2])
        np.multiply(i, 1.0 - g * g, out=P[:, :, 3])
        K = np.empty((T, B, 2, H), self.dtype)  # dh * K = [da_o, dc from h]
        np.multiply(tc, o * (1.0 - o), out=K[:, :, 0])
        np.multiply(o, 1.0 - tc * tc, out=K[:, :, 1])

        # work buffer per step: [dc_prev, da_i, da_f, da_g, da_o, dc]; row T holds dc_last
        Q = np.zeros((T + 1, B, 6, H), self.dtype)
        if dc_T is not None:
            Q[T, :, 0] = dc_T
        dgates = Q.reshape(T + 1, B, 6 * H)[:, :, H:5 * H]  # (T+1, B, 4H) strided view
        dh = np.zeros((T, B, H), self.dtype) if dy is None else dy.copy()  # (T, B, H) total dL/dh_t
        if dh_T is not None:
            dh[-1] += dh_T
        tmp = np.empty((B, H), self.dtype)
        dh0 = np.empty((B, H), self.dtype)
        matmul, add, multiply = np.matmul, np.add, np.multiply
        for t in range(T - 1, -1, -1):
            q = Q[t]  # (B, 6, H)
            multiply(dh[t][:, None, :], K[t], out=q[:, 4:6])
            add(q[:, 5], Q[t + 1, :, 0], out=q[:, 5])  # dc
            multiply(q[:, 5:6], P[t], out=q[:, 0:4])
            if t == 0:
                matmul(dgates[0], WhT, out=dh0)
            elif dy is None:
                matmul(dgates[t], WhT, out=dh[t - 1])
            else:
                matmul(dgates[t], WhT, out=tmp)
                add(dh[t - 1], tmp, out=dh[t - 1])
        dc0 = Q[0, :, 0].copy()

        dg2 = dgates[:T].reshape(T * B, 4 * H)  # (T*B, 4H) strided view, no copy
        grads = {"Wx": x.reshape(T * B, D).T @ dg2,
                 "Wh": hs[:-1].reshape(T * B, H).T @ dg2,
                 "b": dg2.sum(axis=0)}
        dx = (dg2 @ p["Wx"].T).reshape(T, B, D) if need_dx else None
        dh_norms = np.sqrt(np.einsum("tbh,tbh->t", dh, dh))[None, :]  # (1, T)
        return dx, (dh0, dc0), grads, dh_norms

    def trace(self, cache: dict) -> list[dict[str, np.ndarray]]:
        """[{"h", "c", "i", "f", "g", "o"}] each (T, B, H) (views into the cache)."""
        H = self.hidden_size
        g = cache["gates"]
        out = {"h": cache["h"][1:], "c": cache["c"][1:]}
        for k, name in enumerate("ifgo"):
            out[name] = g[:, :, k * H:(k + 1) * H]
        return [out]

    # -- torch interchange -------------------------------------------------------------------
    def _torch_arrays(self):
        p = self.params
        return (p["Wx"].T.copy(), p["Wh"].T.copy(), p["b"].copy(), np.zeros_like(p["b"]))

    def from_torch(self, d: Mapping[str, Any], suffix: str = "_l0") -> None:
        """Load ``torch.nn.LSTM`` weights (``weight_ih_l0`` (4H, D), ...); b = bias_ih + bias_hh."""
        w_ih, w_hh, b_ih, b_hh = self._torch_in(d, suffix)
        p = self.params
        p["Wx"][...] = w_ih.T
        p["Wh"][...] = w_hh.T
        p["b"][...] = b_ih + b_hh
