"""LSTM layer with PyTorch's gate layout (i, f, g, o).

    [a_i, a_f, a_g, a_o] = x_t @ Wx + h_{t-1} @ Wh + b        # (B, 4H)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Params: ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,) — torch's ``weight_ih_l0.T``,
``weight_hh_l0.T`` and ``bias_ih_l0 + bias_hh_l0``. ``to_torch()`` returns
``bias_ih_l0 = b`` and ``bias_hh_l0 = 0`` (the same function).

Speed: one matmul projects all timesteps. The loop runs feature-major (h^T is
(H, B)) so that every per-step operand is one contiguous block, and makes nine
NumPy calls per step: one matmul and one tanh over the fused (4H, B) gate
buffer, the sigmoid gates via sigmoid(a) = 0.5 * tanh(a / 2) + 0.5 (the 1/2
folded into scaled, row-permuted copies of the weights, order [i, f, o, g], so
the three sigmoid gates are one block), then ``[i*g, f*c_prev]`` in one
multiply because each step's buffer is laid out [i, f, o, g, c_prev].
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
        b = self._uniform(rng, 4 * H) + self._uniform(rng, 4 * H)  # torch: bias_ih + bias_hh
        b[H:2 * H] += forget_bias
        self.params = {"Wx": self._uniform(rng, D, 4 * H), "Wh": self._uniform(rng, H, 4 * H), "b": b}

    # Internal layout (speed): the loop works "feature-major", state h^T (H, B), so every
    # per-step operand is one contiguous block (no per-row strides, which cost a loop per
    # row in NumPy's ufuncs). Gate rows of the scaled weight copies are ordered
    # [i, f, o, g]: the three sigmoid gates are one block and g sits next to c_{t-1}.
    def _scaled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Wx_s (D, 4H), Wh_sT (4H, H), b_s (4H,)) in [i, f, o, g] order, sigmoid gates halved."""
        p = self.params
        perm, scale = self._perm, self._scale
        Wh_sT = np.ascontiguousarray(p["Wh"].T[perm] * scale[:, None])  # (4H, H)
        return p["Wx"][:, perm] * scale, Wh_sT, p["b"][perm] * scale

    @property
    def _perm(self) -> np.ndarray:
        H = self.hidden_size
        return np.concatenate([np.arange(0, 2 * H), np.arange(3 * H, 4 * H), np.arange(2 * H, 3 * H)])

    @property
    def _scale(self) -> np.ndarray:
        H = self.hidden_size
        scale = np.full(4 * H, 0.5, self.dtype)
        scale[3 * H:] = 1.0
        return scale

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, h0: tuple | None = None, rng: Any = None,
                train: bool = True) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], dict]:
        """x (T, B, D) (or int ids (T, B): one-hot input), h0 (h (B, H), c (B, H)) or None
        -> (y (T, B, H), (h_last, c_last), cache).

        ``rng``/``train`` are accepted for interface symmetry with Stacked and ignored.
        ``y`` is also the cache's copy of the states: do not modify it in place.
        """
        x = self._check_x(x)
        T, B = x.shape[:2]
        H = self.hidden_size
        h0, c0 = self._check_state("h0", h0, B)
        Wx_s, Wh_sT, b_s = self._scaled()

        # A[t] = [i_t, f_t, o_t, g_t, c_{t-1}] each (H, B): (T+1, 5H, B); A[T] holds only c_{T-1}
        A = np.empty((T + 1, 5 * H, B), self.dtype)
        if x.ndim == 2:  # ids: gather columns of (Wx_s + b_s)^T straight into the feature-major layout
            table = np.ascontiguousarray((Wx_s + b_s).T)  # (4H, D)
            A[:T, :4 * H] = np.take(table, x, axis=1).transpose(1, 0, 2)
        else:  # input projection, all timesteps in one matmul, then to (T, 4H, B)
            xp = self._project(x, Wx_s)  # (T, B, 4H)
            xp += b_s
            A[:T, :4 * H] = xp.transpose(0, 2, 1)
        A[0, 4 * H:] = 0.0 if c0 is None else c0.T
        hT = np.empty((T + 1, H, B), self.dtype)  # (T+1, H, B) h_t^T; hT[0] = h0^T
        hT[0] = 0.0 if h0 is None else h0.T
        tcT = np.empty((T, H, B), self.dtype)  # (T, H, B) tanh(c_t)^T
        z = np.empty((4 * H, B), self.dtype)
        prod = np.empty((2 * H, B), self.dtype)  # [i * g, f * c_prev]
        ig, fc = prod[:H], prod[H:]
        half = np.array(0.5, self.dtype)  # 0-d array: cheaper in a ufunc than a Python float
        dot, add, multiply, tanh = np.dot, np.add, np.multiply, np.tanh
        for a, sig, i_f, g_c, o_t, c_t, tc_t, h_prev, h_t in zip(
                A[:-1, :4 * H], A[:-1, :3 * H], A[:-1, :2 * H], A[:-1, 3 * H:], A[:-1, 2 * H:3 * H],
                A[1:, 4 * H:], tcT, hT[:-1], hT[1:]):
            dot(Wh_sT, h_prev, z)  # (4H, B)
            add(a, z, a)
            tanh(a, a)
            multiply(sig, half, sig)
            add(sig, half, sig)  # [i, f, o] = sigmoid via tanh
            multiply(i_f, g_c, prod)  # [i * g, f * c_prev]
            add(ig, fc, c_t)
            tanh(c_t, tc_t)
            multiply(o_t, tc_t, h_t)
        y = np.ascontiguousarray(hT[1:].transpose(0, 2, 1))  # (T, B, H)
        h_last = hT[T].T.copy()
        cache = {"x": x, "hT": hT, "A": A, "tcT": tcT, "y": y,
                 "h0": np.zeros((B, H), self.dtype) if h0 is None else h0}
        return y, (h_last, A[T, 4 * H:].T.copy()), cache

    def _gates(self, cache: dict) -> dict[str, np.ndarray]:
        """Feature-major views (T, H, B) of i, f, g, o, c_t and c_{t-1} in the cache."""
        H = self.hidden_size
        A = cache["A"]
        return {"i": A[:-1, :H], "f": A[:-1, H:2 * H], "g": A[:-1, 3 * H:4 * H],
                "o": A[:-1, 2 * H:3 * H], "c": A[1:, 4 * H:], "c_prev": A[:-1, 4 * H:]}

    # -- backward -------------------------------------------------------------------------
    def backward(self, dy: np.ndarray | None, cache: dict, dh_last: tuple | None = None,
                 need_dx: bool = True) -> tuple[np.ndarray | None, tuple[np.ndarray, np.ndarray], dict, np.ndarray]:
        """dy (T, B, H) or None, dh_last (dh, dc) or None ->
        (dx (T, B, D) or None if not ``need_dx`` or x was ids, (dh0, dc0), grads, dh_norms (1, T))."""
        x, tc = cache["x"], cache["tcT"]
        T, B = x.shape[:2]
        H = self.hidden_size
        dy = self._check_dy(dy, T, B)
        dh_T, dc_T = self._check_state("dh_last", dh_last, B)
        p = self.params
        Wh = p["Wh"]  # (H, 4H): dh_{t-1}^T = Wh @ dgates_t^T

        # local derivatives, vectorised over all timesteps (in place, no temporaries); (T, H, B)
        gv = self._gates(cache)
        i, f, g, o = gv["i"], gv["f"], gv["g"], gv["o"]
        mul, sub = np.multiply, np.subtract
        P = np.empty((T, 4, H, B), self.dtype)  # dc * P = [dc_prev, da_i, da_f, da_g]
        P[:, 0] = f
        p1, p2, p3 = P[:, 1], P[:, 2], P[:, 3]
        sub(1.0, i, p1), mul(p1, i, p1), mul(p1, g, p1)  # g i (1 - i)
        sub(1.0, f, p2), mul(p2, f, p2), mul(p2, gv["c_prev"], p2)  # c_prev f (1 - f)
        mul(g, g, p3), sub(1.0, p3, p3), mul(p3, i, p3)  # i (1 - g^2)
        K = np.empty((T, 2, H, B), self.dtype)  # dh * K = [da_o, dc from h]
        k0, k1 = K[:, 0], K[:, 1]
        sub(1.0, o, k0), mul(k0, o, k0), mul(k0, tc, k0)  # tanh(c) o (1 - o)
        mul(tc, tc, k1), sub(1.0, k1, k1), mul(k1, o, k1)  # o (1 - tanh(c)^2)

        # work buffer per step: [dc_prev, da_i, da_f, da_g, da_o, dc] (6, H, B); row T holds dc_last
        Q = np.empty((T + 1, 6, H, B), self.dtype)
        Q[T] = 0.0
        if dc_T is not None:
            Q[T, 0] = dc_T.T
        dgates = Q.reshape(T + 1, 6 * H, B)[:, H:5 * H]  # (T+1, 4H, B); each step one contiguous block
        # dh[t + 1] = (dL/dh_t)^T (t = 0..T-1); dh[0] receives dL/dh0
        dh = np.zeros((T + 1, H, B), self.dtype)
        if dy is not None:
            dh[1:] = dy.transpose(0, 2, 1)
        if dh_T is not None:
            dh[T] += dh_T.T
        tmp = np.empty((H, B), self.dtype)
        dot, add, multiply = np.dot, np.add, np.multiply
        steps = zip(dh[:0:-1, None], K[::-1], Q[T - 1::-1, 4:6], Q[T - 1::-1, 5], Q[:0:-1, 0],
                    Q[T - 1::-1, 5:6], P[::-1], Q[T - 1::-1, 0:4], dgates[T - 1::-1], dh[-2::-1])
        for dh_t, k_t, q_odc, q_dc, dc_next, q_dc1, p_t, q_gates, dg_t, dh_prev in steps:
            multiply(dh_t, k_t, q_odc)  # [da_o, dc from h]
            add(q_dc, dc_next, q_dc)  # dc
            multiply(q_dc1, p_t, q_gates)  # [dc_prev, da_i, da_f, da_g]
            if dy is None:
                dot(Wh, dg_t, dh_prev)
            else:
                dot(Wh, dg_t, tmp)
                add(dh_prev, tmp, dh_prev)
        dh0 = dh[0].T.copy()
        dc0 = Q[0, 0].T.copy()

        dg2 = np.ascontiguousarray(dgates[:T].transpose(0, 2, 1)).reshape(T * B, 4 * H)  # (T*B, 4H)
        h_prev = np.empty((T, B, H), self.dtype)  # (T, B, H) h_{t-1}
        h_prev[0] = cache["h0"]
        h_prev[1:] = cache["y"][:-1]
        grads = {"Wx": self._grad_w_in(x, dg2),
                 "Wh": h_prev.reshape(T * B, H).T @ dg2,
                 "b": dg2.sum(axis=0)}
        dx = self._grad_x(x, dg2, p["Wx"], need_dx)
        dh_norms = np.sqrt(np.einsum("thb,thb->t", dh[1:], dh[1:]))[None, :]  # (1, T)
        return dx, (dh0, dc0), grads, dh_norms

    def trace(self, cache: dict) -> list[dict[str, np.ndarray]]:
        """[{"h", "c", "i", "f", "g", "o"}] each (T, B, H) (views into the cache)."""
        gv = self._gates(cache)
        out = {"h": cache["y"]}
        for k in ("c", "i", "f", "g", "o"):
            out[k] = gv[k].transpose(0, 2, 1)
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
