"""GRU layer with PyTorch's gate layout (r, z, n; reset applied to W_hn h + b_hn).

    r = sigmoid(x_t W_ir + b_ir + h W_hr + b_hr)
    z = sigmoid(x_t W_iz + b_iz + h W_hz + b_hz)
    n = tanh(x_t W_in + b_in + r * (h W_hn + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}  =  n + z * (h_{t-1} - n)

Params (the maths names, as the RNN; checkpoints with the old ``Wx``/``Wh``/``b`` load
through ``core.nn.legacy.upgrade_param_names``): ``Wxh`` (D, 3H) = torch ``weight_ih_l0.T``;
``Whh`` (H, 3H) = ``weight_hh_l0.T``; ``bh`` (3H,) = [b_ir + b_hr, b_iz + b_hz, b_in]; ``bhn`` (H,) = b_hn, kept apart
because the reset gate multiplies it. ``to_torch()`` returns ``bias_ih_l0 = bh``
and ``bias_hh_l0 = [0, 0, bhn]``.

Speed: as the LSTM (one input matmul, sigmoid through tanh with the 1/2 folded
into scaled weights). Backward needs only ``dh`` per step: all five outputs
``[da_r, da_z, dhn, dh_direct, da_n]`` are ``dh * P_t`` for a factor array P
precomputed over all T, so a step is one multiply, one matmul and one or two adds.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from core.nn.cells import CellSpec, StateSpec, register_cell
from core.nn.lstm import small_gemm_rows
from core.nn.rnn import RecurrentLayer


# Unlike the LSTM's row blocks (np.dot, contiguous rows), a column block costs a np.matmul call
# with strided operands: measured (char GRU, B = 32, f32) 10-20% faster products with 2-7 blocks
# (H = 128, 256), no gain with ~30 (H = 512), so larger products stay whole.
_MAX_COL_BLOCKS = 8


def col_blocks(w: np.ndarray, b: int) -> list[tuple[slice, np.ndarray]] | None:
    """Column blocks [(slice, w[:, slice])] for the batch-major product (b, K) @ w (K, N), so
    that each block takes OpenBLAS's small-matrix GEMM kernel (see core.nn.lstm.gemm_row_blocks;
    ``np.matmul``, as the blocks of ``out`` are strided); None for one product."""
    K, N = w.shape
    m = small_gemm_rows(N, K, b)
    if m is None or N > _MAX_COL_BLOCKS * m:
        return None
    return [(slice(j, min(j + m, N)), w[:, j:j + m]) for j in range(0, N, m)]


class GRU(RecurrentLayer):
    """Gated recurrent unit. State: an ndarray (B, H)."""

    cell = "gru"
    gates = 3

    def __init__(self, input_size: int, hidden_size: int, rng: np.random.Generator, dtype: Any = np.float32):
        super().__init__(input_size, hidden_size, rng, dtype)
        D, H = self.input_size, self.hidden_size
        b = self._uniform(rng, 3 * H)
        b[:2 * H] += self._uniform(rng, 2 * H)  # b_ir + b_hr, b_iz + b_hz (torch draws both)
        self.params = {"Wxh": self._uniform(rng, D, 3 * H), "Whh": self._uniform(rng, H, 3 * H), "bh": b,
                       "bhn": self._uniform(rng, H)}

    # -- forward ------------------------------------------------------------------------
    def forward(self, x: np.ndarray, h0: np.ndarray | None = None, rng: Any = None,
                train: bool = True) -> tuple[np.ndarray, np.ndarray, dict]:
        """x (T, B, D) (or int ids (T, B): one-hot input), h0 (B, H) or None -> (y (T, B, H), h_last (B, H), cache).

        ``rng``/``train`` are accepted for interface symmetry with Stacked and ignored.
        ``y`` is a view into the cache: do not modify it in place.
        """
        x = self._check_x(x)
        T, B = x.shape[:2]
        H = self.hidden_size
        h0, _ = self._check_state("h0", h0, B)
        p = self.params
        scale = np.ones(3 * H, self.dtype)
        scale[:2 * H] = 0.5  # r, z pre-activations halved: sigmoid(a) = 0.5 tanh(a/2) + 0.5
        Wh_s = p["Whh"] * scale  # (H, 3H)

        xp = self._project(x, p["Wxh"] * scale)  # (T, B, 3H) input projection, all timesteps at once
        xp += p["bh"] * scale
        xn = xp[:, :, 2 * H:].copy()  # (T, B, H) x W_in + b_in
        xp[:, :, 2 * H:] = p["bhn"]  # xp[t] = [a_r/2 (x part), a_z/2 (x part), b_hn]
        hp = np.empty((T, B, 3 * H), self.dtype)  # (T, B, 3H): [a_r/2, a_z/2, h W_hn + b_hn]
        rz = np.empty((T, B, 2 * H), self.dtype)  # (T, B, 2H) [r, z]
        n = np.empty((T, B, H), self.dtype)  # (T, B, H)
        hs = np.zeros((T + 1, B, H), self.dtype)  # (T+1, B, H); hs[0] = h0
        if h0 is not None:
            hs[0] = h0
        tmp = np.empty((B, H), self.dtype)
        half = np.array(0.5, self.dtype)  # 0-d array: cheaper in a ufunc than a Python float
        dot, add, multiply, subtract, tanh, matmul = np.dot, np.add, np.multiply, np.subtract, np.tanh, np.matmul
        cols = col_blocks(Wh_s, B)  # None: one product per step
        for hp_t, xp_t, hprz_t, hn_t, rz_t, r_t, z_t, n_t, xn_t, h_prev, h_t in zip(
                hp, xp, hp[:, :, :2 * H], hp[:, :, 2 * H:], rz, rz[:, :, :H], rz[:, :, H:], n, xn, hs[:-1], hs[1:]):
            if cols is None:
                dot(h_prev, Wh_s, out=hp_t)  # (B, 3H)
            else:
                for c, w_c in cols:
                    matmul(h_prev, w_c, out=hp_t[:, c])
            add(hp_t, xp_t, out=hp_t)
            tanh(hprz_t, out=rz_t)
            multiply(rz_t, half, out=rz_t)
            add(rz_t, half, out=rz_t)  # [r, z]
            multiply(r_t, hn_t, out=n_t)
            add(n_t, xn_t, out=n_t)
            tanh(n_t, out=n_t)
            subtract(h_prev, n_t, out=tmp)
            multiply(tmp, z_t, out=tmp)
            add(n_t, tmp, out=h_t)
        cache = {"x": x, "h": hs, "rz": rz, "n": n, "hn": hp[:, :, 2 * H:]}
        return hs[1:], hs[-1].copy(), cache

    # -- backward -------------------------------------------------------------------------
    def backward(self, dy: np.ndarray | None, cache: dict, dh_last: np.ndarray | None = None,
                 need_dx: bool = True) -> tuple[np.ndarray | None, np.ndarray, dict, np.ndarray]:
        """dy (T, B, H) or None, dh_last (B, H) or None ->
        (dx (T, B, D) or None if not ``need_dx``, dh0 (B, H), grads, dh_norms (1, T))."""
        x, hs, rz, n, hn = cache["x"], cache["h"], cache["rz"], cache["n"], cache["hn"]
        T, B = x.shape[:2]
        H = self.hidden_size
        dy = self._check_dy(dy, T, B)
        dh_T, _ = self._check_state("dh_last", dh_last, B)
        p = self.params
        WhT = np.ascontiguousarray(p["Whh"].T)  # (3H, H)

        r, z = rz[:, :, :H], rz[:, :, H:]  # (T, B, H)
        mul, sub = np.multiply, np.subtract
        P = np.empty((T, B, 5, H), self.dtype)  # dh * P = [da_r, da_z, dhn, dh_direct, da_n]
        A = P[:, :, 4]  # (1 - z)(1 - n^2) = d a_n / d h_t
        mul(n, n, out=A), sub(1.0, A, out=A)
        p0, p1, p2 = P[:, :, 0], P[:, :, 1], P[:, :, 2]
        sub(1.0, z, out=p0), mul(A, p0, out=A)
        sub(1.0, r, out=p0), mul(p0, r, out=p0), mul(p0, hn, out=p0), mul(p0, A, out=p0)  # A hn r (1 - r)
        sub(1.0, z, out=p1), mul(p1, z, out=p1)
        sub(hs[:-1], n, out=p2), mul(p1, p2, out=p1)  # (h_prev - n) z (1 - z)
        mul(A, r, out=p2)
        P[:, :, 3] = z

        Q = np.empty((T, B, 5, H), self.dtype)
        Qh = Q.reshape(T, B, 5 * H)[:, :, :3 * H]  # (T, B, 3H) strided: [da_r, da_z, dhn]
        # dh[t + 1] = dL/dh_t (t = 0..T-1); dh[0] receives dL/dh0
        dh = np.zeros((T + 1, B, H), self.dtype)
        if dy is not None:
            dh[1:] = dy
        if dh_T is not None:
            dh[T] += dh_T
        tmp = np.empty((B, H), self.dtype)
        dot, add, multiply, matmul = np.dot, np.add, np.multiply, np.matmul
        cols = [(c, w_c, tmp[:, c]) for c, w_c in col_blocks(WhT, B) or ()]  # []: one product per step
        steps = zip(dh[:0:-1, :, None, :], P[::-1], Q[::-1], Qh[::-1], Q[::-1, :, 3], dh[-2::-1])
        for dh_t, p_t, q, qh, dh_direct, dh_prev in steps:
            multiply(dh_t, p_t, out=q)
            if cols:
                for _, w_c, o_c in cols:
                    matmul(qh, w_c, out=o_c)
            else:
                dot(qh, WhT, out=tmp)
            if dy is None:
                add(tmp, dh_direct, out=dh_prev)
            else:
                add(dh_prev, tmp, out=dh_prev)
                add(dh_prev, dh_direct, out=dh_prev)
        dh0 = dh[0]
        dh = dh[1:]

        dgx = Q[:, :, [0, 1, 4], :].reshape(T * B, 3 * H)  # (T*B, 3H) [da_r, da_z, da_n]
        dgh = Qh.reshape(T * B, 3 * H)  # (T*B, 3H) strided view
        grads = {"Wxh": self._grad_w_in(x, dgx),
                 "Whh": hs[:-1].reshape(T * B, H).T @ dgh,
                 "bh": dgx.sum(axis=0),
                 "bhn": Q[:, :, 2].sum(axis=(0, 1))}
        dx = self._grad_x(x, dgx, p["Wxh"], need_dx)
        dh_norms = np.sqrt(np.einsum("tbh,tbh->t", dh, dh))[None, :]  # (1, T)
        return dx, dh0, grads, dh_norms

    def trace(self, cache: dict) -> list[dict[str, np.ndarray]]:
        """[{"h", "r", "z", "n"}] each (T, B, H) (views into the cache)."""
        H = self.hidden_size
        rz = cache["rz"]
        return [{"h": cache["h"][1:], "r": rz[:, :, :H], "z": rz[:, :, H:], "n": cache["n"]}]

    # -- torch interchange -------------------------------------------------------------------
    def _torch_arrays(self):
        p = self.params
        H = self.hidden_size
        b_hh = np.zeros(3 * H, self.dtype)
        b_hh[2 * H:] = p["bhn"]
        return (p["Wxh"].T.copy(), p["Whh"].T.copy(), p["bh"].copy(), b_hh)

    def from_torch(self, d: Mapping[str, Any], suffix: str = "_l0") -> None:
        """Load ``torch.nn.GRU`` weights (``weight_ih_l0`` (3H, D), ...)."""
        w_ih, w_hh, b_ih, b_hh = self._torch_in(d, suffix)
        H = self.hidden_size
        p = self.params
        p["Wxh"][...] = w_ih.T
        p["Whh"][...] = w_hh.T
        p["bh"][...] = b_ih
        p["bh"][:2 * H] += b_hh[:2 * H]
        p["bhn"][...] = b_hh[2 * H:]


SPEC = register_cell(CellSpec(
    "gru", "GRU", GRU,
    (StateSpec("h", "hidden state h", -1.0, 1.0), StateSpec("r", "reset gate r", 0.0, 1.0),
     StateSpec("z", "update gate z", 0.0, 1.0), StateSpec("n", "candidate n", -1.0, 1.0))))
