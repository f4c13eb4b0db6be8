"""LSTM layer with PyTorch's gate layout (i, f, g, o).

    [a_i, a_f, a_g, a_o] = x_t @ Wx + h_{t-1} @ Wh + b        # (B, 4H)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Params: ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,) — torch's ``weight_ih_l0.T``,
``weight_hh_l0.T`` and ``bias_ih_l0 + bias_hh_l0``. ``to_torch()`` returns
``bias_ih_l0 = b`` and ``bias_hh_l0 = 0`` (the same function).

Speed: one matmul projects all timesteps. Per step the loop makes nine NumPy
calls: one matmul and one tanh over the fused (B, 4H) gate buffer, the sigmoid
gates via sigmoid(a) = 0.5 * tanh(a / 2) + 0.5 (the 1/2 folded into scaled,
column-permuted copies of the weights, order [i, f, o, g], so the three sigmoid
gates are one block), then ``[i*g, f*c_prev]`` in one multiply because each
row of the gate buffer is laid out [i, f, o, g, c_prev].
Backward precomputes every local derivative vectorised over T, so a step is
five calls (four without dy): ``[do, dc_h] = dh * K``, ``dc += dc_next``,
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

    # internal column order of the scaled copies used by forward: [i, f, o, g], so the
    # three sigmoid gates are one contiguous block and g sits next to c_{t-1}
    def _scaled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Wx_s (D, 4H), Wh_s (H, 4H), b_s (4H,)) in [i, f, o, g] order, sigmoid columns halved."""
        H = self.hidden_size
        p = self.params
        perm = np.r_[0:2 * H, 3 * H:4 * H, 2 * H:3 * H]
        scale = np.full(4 * H, 0.5, self.dtype)
        scale[3 * H:] = 1.0
        return p["Wx"][:, perm] * scale, p["Wh"][:, perm] * scale, p["b"][perm] * scale

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, h0: tuple | None = None, rng: Any = None,
                train: bool = True) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
        """x (T, B, D) (or int ids (T, B): one-hot input), h0 (h (B, H), c (B, H)) or None
        -> (y (T, B, H), (h_last, c_last), cache).

        ``rng``/``train`` are accepted for interface symmetry with Stacked and ignored.
        ``y`` is a view into the cache: do not modify it in place.
        """
        x = self._check_x(x)
        T, B = x.shape[:2]
        H = self.hidden_size
        h0, c0 = self._check_state("h0", h0, B)
        Wx_s, Wh_s, b_s = self._scaled()

        xp = self._project(x, Wx_s)  # (T, B, 4H) input projection, all timesteps at once
        xp += b_s
        # G[t] = [i_t, f_t, o_t, g_t, c_{t-1}]  (T+1, B, 5H); G[T] holds only c_{T-1}
        G = np.empty((T + 1, B, 5 * H), self.dtype)
        G[0, :, 4 * H:] = 0.0 if c0 is None else c0
        hs = np.empty((T + 1, B, H), self.dtype)  # (T+1, B, H); hs[0] = h0
        hs[0] = 0.0 if h0 is None else h0
        tc = np.empty((T, B, H), self.dtype)  # (T, B, H) tanh(c_t)
        z = np.empty((B, 4 * H), self.dtype)
        prod = np.empty((B, 2 * H), self.dtype)  # [i * g, f * c_prev]
        ig, fc = prod[:, :H], prod[:, H:]
        half = np.array(0.5, self.dtype)  # 0-d array: cheaper in a ufunc than a Python float
        dot, add, multiply, tanh = np.dot, np.add, np.multiply, np.tanh
        for xp_t, a, sig, i_f, g_c, o_t, c_t, tc_t, h_prev, h_t in zip(
                xp, G[:-1, :, :4 * H], G[:-1, :, :3 * H], G[:-1, :, :2 * H], G[:-1, :, 3 * H:],
                G[:-1, :, 2 * H:3 * H], G[1:, :, 4 * H:], tc, hs[:-1], hs[1:]):
            dot(h_prev, Wh_s, z)  # (B, 4H)
            add(z, xp_t, a)
            tanh(a, a)
            multiply(sig, half, sig)
            add(sig, half, sig)  # [i, f, o] = sigmoid via tanh
            multiply(i_f, g_c, prod)  # [i * g, f * c_prev]
            add(ig, fc, c_t)
            tanh(c_t, tc_t)
            multiply(o_t, tc_t, h_t)
        cache = {"x": x, "h": hs, "G": G, "tc": tc}
        return hs[1:], (hs[-1].copy(), G[T, :, 4 * H:].copy()), cache

    def _gates(self, cache: dict) -> dict[str, np.ndarray]:
        """Views (T, B, H) of i, f, g, o, c_t and c_{t-1} in the cache."""
        H = self.hidden_size
        G = cache["G"]
        return {"i": G[:-1, :, :H], "f": G[:-1, :, H:2 * H], "g": G[:-1, :, 3 * H:4 * H],
                "o": G[:-1, :, 2 * H:3 * H], "c": G[1:, :, 4 * H:], "c_prev": G[:-1, :, 4 * H:]}

    # -- backward -------------------------------------------------------------------------
    def backward(self, dy: np.ndarray | None, cache: dict, dh_last: tuple | None = None,
                 need_dx: bool = True) -> tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray], dict, np.ndarray]:
        """dy (T, B, H) or None, dh_last (dh, dc) or None ->
        (dx (T, B, D) or None if not ``need_dx``, (dh0, dc0), grads, dh_norms (1, T))."""
        x, hs, tc = cache["x"], cache["h"], cache["tc"]
        T, B = x.shape[:2]
        H = self.hidden_size
        dy = self._check_dy(dy, T, B)
        dh_T, dc_T = self._check_state("dh_last", dh_last, B)
        p = self.params
        WhT = np.ascontiguousarray(p["Wh"].T)  # (4H, H)

        # local derivatives, vectorised over all timesteps (in place, no temporaries)
        gv = self._gates(cache)
        i, f, g, o = gv["i"], gv["f"], gv["g"], gv["o"]  # (T, B, H) each
        mul, sub = np.multiply, np.subtract
        P = np.empty((T, B, 4, H), self.dtype)  # dc * P = [dc_prev, da_i, da_f, da_g]
        P[:, :, 0] = f
        p1, p2, p3 = P[:, :, 1], P[:, :, 2], P[:, :, 3]
        sub(1.0, i, out=p1), mul(p1, i, out=p1), mul(p1, g, out=p1)  # g i (1 - i)
        sub(1.0, f, out=p2), mul(p2, f, out=p2), mul(p2, gv["c_prev"], out=p2)  # c_prev f (1 - f)
        mul(g, g, out=p3), sub(1.0, p3, out=p3), mul(p3, i, out=p3)  # i (1 - g^2)
        K = np.empty((T, B, 2, H), self.dtype)  # dh * K = [da_o, dc from h]
        k0, k1 = K[:, :, 0], K[:, :, 1]
        sub(1.0, o, out=k0), mul(k0, o, out=k0), mul(k0, tc, out=k0)  # tanh(c) o (1 - o)
        mul(tc, tc, out=k1), sub(1.0, k1, out=k1), mul(k1, o, out=k1)  # o (1 - tanh(c)^2)

        # work buffer per step: [dc_prev, da_i, da_f, da_g, da_o, dc]; row T holds dc_last
        Q = np.empty((T + 1, B, 6, H), self.dtype)
        Q[T] = 0.0
        if dc_T is not None:
            Q[T, :, 0] = dc_T
        dgates = Q.reshape(T + 1, B, 6 * H)[:, :, H:5 * H]  # (T+1, B, 4H) strided view
        # dh[t + 1] = dL/dh_t (t = 0..T-1); dh[0] receives dL/dh0
        dh = np.zeros((T + 1, B, H), self.dtype)
        if dy is not None:
            dh[1:] = dy
        if dh_T is not None:
            dh[T] += dh_T
        tmp = np.empty((B, H), self.dtype)
        dot, add, multiply = np.dot, np.add, np.multiply
        steps = zip(dh[:0:-1, :, None, :], K[::-1], Q[T - 1::-1, :, 4:6], Q[T - 1::-1, :, 5], Q[:0:-1, :, 0],
                    Q[T - 1::-1, :, 5:6], P[::-1], Q[T - 1::-1, :, 0:4], dgates[T - 1::-1], dh[-2::-1])
        for dh_t, k_t, q_odc, q_dc, dc_next, q_dc1, p_t, q_gates, dg_t, dh_prev in steps:
            multiply(dh_t, k_t, out=q_odc)  # [da_o, dc from h]
            add(q_dc, dc_next, out=q_dc)  # dc
            multiply(q_dc1, p_t, out=q_gates)  # [dc_prev, da_i, da_f, da_g]
            if dy is None:
                dot(dg_t, WhT, out=dh_prev)
            else:
                dot(dg_t, WhT, out=tmp)
                add(dh_prev, tmp, out=dh_prev)
        dh0 = dh[0]
        dc0 = Q[0, :, 0].copy()
        dh = dh[1:]

        dg2 = dgates[:T].reshape(T * B, 4 * H)  # (T*B, 4H) strided view, no copy
        grads = {"Wx": self._grad_w_in(x, dg2),
                 "Wh": hs[:-1].reshape(T * B, H).T @ dg2,
                 "b": dg2.sum(axis=0)}
        dx = self._grad_x(x, dg2, p["Wx"], need_dx)
        dh_norms = np.sqrt(np.einsum("tbh,tbh->t", dh, dh))[None, :]  # (1, T)
        return dx, (dh0, dc0), grads, dh_norms

    def trace(self, cache: dict) -> list[dict[str, np.ndarray]]:
        """[{"h", "c", "i", "f", "g", "o"}] each (T, B, H) (views into the cache)."""
        gv = self._gates(cache)
        return [{"h": cache["h"][1:], "c": gv["c"], "i": gv["i"], "f": gv["f"], "g": gv["g"], "o": gv["o"]}]

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
