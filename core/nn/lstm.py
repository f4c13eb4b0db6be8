"""LSTM layer with PyTorch's gate layout (i, f, g, o).

    [a_i, a_f, a_g, a_o] = x_t @ Wxh + h_{t-1} @ Whh + bh      # (B, 4H)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Params (the maths names, as the RNN; checkpoints with the old ``Wx``/``Wh``/``b`` load
through ``core.nn.legacy.upgrade_param_names``): ``Wxh`` (D, 4H), ``Whh`` (H, 4H), ``bh`` (4H,)
— torch's ``weight_ih_l0.T``, ``weight_hh_l0.T`` and ``bias_ih_l0 + bias_hh_l0``. ``to_torch()`` returns
``bias_ih_l0 = bh`` and ``bias_hh_l0 = 0`` (the same function).

Speed: one batched matmul projects all timesteps, bias included, straight into the
feature-major layout (for ids, a column gather at the top of each step, into the block the
step then reads while it is in cache). The loop runs feature-major (h^T is
(H, B)) so that every per-step operand is one contiguous block, and makes nine
NumPy calls per step: one matmul and one tanh over the fused (4H, B) gate
buffer, the sigmoid gates via sigmoid(a) = 0.5 * tanh(a / 2) + 0.5 (the 1/2
folded into a scaled, column-permuted copy of the weights, order [i, f, o, g], so
the three sigmoid gates are one block), then ``[i*g, f*c_prev]`` in one
multiply because each step's buffer is laid out [i, f, o, g, c_prev].
Backward precomputes every local derivative vectorised over chunks of 10 timesteps
(sized to stay in cache), so a step is
five calls (four without dy): ``[do, dc_h] = dh * K``, ``dc += dc_next``,
``[dc_prev, di, df, dg] = dc * P``, ``dgates @ Whh.T`` and the add of dy. The
gate gradients are block-copied (per chunk) into one (4H, T*B) matrix so each weight
gradient is one plain matmul (in C order, like the parameters); for ids, dWxh sums the
columns of each id (sort + ``np.add.reduceat``) instead of multiplying by a one-hot
when BLAS runs one thread (``core.runtime.blas_threads()``; with 2 the matmul wins).
NumPy's transposed copies cost ~2 ns per element, so transposes are left to BLAS
(Fortran-order views) wherever possible (the two that remain go in strips: ``transposed``).
With OpenBLAS's AVX-512 kernels and one BLAS thread, each step's recurrent product is cut
into row blocks small enough for OpenBLAS's small-matrix kernel (``gemm_row_blocks``): no
re-packing of the weight on every call (char LSTM B=32 f32: 10-20% per step from H=256 up);
the blocks run as one stacked ``np.matmul`` (``blocked_dot``), not one ``np.dot`` each, and
where they would be thin (the backward's long K = 4H from H = 512 up) K is cut into parts too.
Tried and not kept (no gain in paired per-call rounds, B=32 f32, H = 256/512): gate gradients
written straight into their (strided) columns of the weight-gradient matrix, a chunk-sized
backward work buffer, the gather + reduceat for dWxh in cache-sized row blocks, local derivatives
from the forward's products (fewer passes), y copied per step, the one-hot matmul for dWxh.
Without h0 the first step's product (with h_0 = 0) is skipped. ``Wxh`` and ``bh`` are views
of one block [Wxh; bh; Whh], so their scaled copy costs three calls; ``Whh``'s scaled copy is
made transposed in one pass (``_perm_half_transposed``). For ids, dbh is summed from the per-id
column sums of dWxh rather than from all T*B columns.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from core import runtime
from core.nn.cells import CellSpec, StateSpec, register_cell
from core.nn.rnn import RecurrentLayer


_CHUNK = 10  # timesteps per chunk of the backward pass (P, K of a chunk stay in cache)

# OpenBLAS's x86-64 AVX-512 kernels (SkylakeX and its successors) run a GEMM with
# M * N * K <= 100^3 through a "small-matrix" kernel that reads A and B in place; larger
# ones pack both operands first. A recurrence's per-step product (4H, H) @ (H, B) re-packs
# the whole weight on every call (~17% of the product at H = 512); cut into row blocks of
# at most 100^3 / (K * N) rows, each block takes the small kernel: measured 15-20% faster
# per step at H = 128..512 in float32, 35-50% in float64 and at H = 1024 (the blocks also
# stay in cache). Deterministic: the block size depends only on the shapes and the BLAS.
_SMALL_GEMM_MNK = 100 ** 3
_MIN_BLOCK_ROWS = 24  # thinner blocks: K is cut too (see blocked_dot)
_SMALL_GEMM_KERNELS = {"skylakex", "cooperlake", "sapphirerapids"}
_small_gemm: list[bool] = []  # cached answer of _blas_has_small_gemm()


def _blas_has_small_gemm() -> bool:
    """True if NumPy's BLAS is OpenBLAS with a small-matrix GEMM kernel (see above).
    ``RNNLAB_GEMM_BLOCKS=0`` turns the row blocking off (for comparisons)."""
    if not _small_gemm:
        ok = os.environ.get("RNNLAB_GEMM_BLOCKS", "1") != "0"
        if ok:
            try:
                from threadpoolctl import threadpool_info
                name = str(np.show_config(mode="dicts")["Build Dependencies"]["blas"].get("name", ""))
                blas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
            except Exception:  # pragma: no cover - threadpoolctl is a dependency; show_config: numpy >= 1.26
                name, blas = "", []
            # NumPy's own copy (a wheel's numpy.libs/) when SciPy's is loaded as well
            own = [i for i in blas if os.path.basename(os.path.dirname(str(i.get("filepath", "")))).startswith("numpy")]
            ok = "openblas" in name.lower() and bool(own or blas) and all(
                str(i.get("architecture", "")).lower() in _SMALL_GEMM_KERNELS for i in own or blas)
        _small_gemm.append(ok)
    return _small_gemm[0]


def gemm_row_blocks(a: np.ndarray, out: np.ndarray, n: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Row blocks [(a[i:j], out[i:j])] such that each ``dot(a[i:j], b, out[i:j])`` with b (K, n)
    takes OpenBLAS's small-matrix kernel, or None when one ``dot(a, b, out)`` is best (no
    such kernel, the product is already small, or the blocks would be under 4 rows)."""
    M, K = a.shape
    m = small_gemm_rows(M, K, n)
    return None if m is None else [(a[i:i + m], out[i:i + m]) for i in range(0, M, m)]


def blocked_dot(a: np.ndarray, out: np.ndarray, n: int):
    """A function ``f(b)`` that sets ``out[...] = a @ b`` for b (K, n): the row blocks of
    ``gemm_row_blocks`` (same blocks, so the same results), all full blocks as one stacked
    ``np.matmul`` (nb, m, K) @ (K, n) -> (nb, m, n) view of ``out``, the short last block as
    one ``np.dot``. NumPy's matmul loops over the stack in C, calling BLAS once per block, which
    saves ~1.5 us of Python and NumPy overhead per block (30-150 blocks a step at H = 512..1024:
    measured 5% faster products at H = 512, 6-8% at H = 1024). Without blocks: one ``np.dot``.

    A long K makes thin blocks (the backward's (H, 4H) @ (4H, B): 15 rows of K = 2048 at
    H = 512, 7 of 4096 at H = 1024), which the small kernel runs slower than the forward's
    (56 rows of K = 512). Then K is cut as well, into 2 or 4 parts, until the blocks have at
    least _MIN_BLOCK_ROWS rows: one stacked matmul (nk, nb, m, K/nk) @ (nk, 1, K/nk, n) (views)
    into nk partial products, which one add sums into ``out`` (another rounding order, equally
    exact). Measured per 50 steps (B = 32, f32): H = 512 backward 33.5 -> 32.7 ms (2 parts),
    H = 1024 153.8 -> 138.8 ms (4 parts); at H = 256 the blocks already have 24 rows."""
    dot, matmul = np.dot, np.matmul
    M, K = a.shape
    m = small_gemm_rows(M, K, n)
    if m is None:
        return lambda b: dot(a, b, out)
    nk = 1
    while m < _MIN_BLOCK_ROWS and nk < 4 and K % (2 * nk) == 0:
        nk *= 2
        m = min(M, _block_rows(K // nk, n))
    nb = M // m
    r = nb * m
    if nk == 1:
        a3 = a[:r].reshape(nb, m, K)  # a view when a is C-contiguous (a copy is correct too)
        o3 = out[:r].view()
        o3.shape = (nb, m, n)  # raises rather than copy: the product must land in `out`
        if r == M:
            return lambda b: matmul(a3, b, out=o3)
        a_r, o_r = a[r:], out[r:]

        def f(b):
            matmul(a3, b, out=o3)
            dot(a_r, b, o_r)
        return f

    Kk = K // nk
    part = np.zeros((nk, M, n), out.dtype)  # partial products; rows >= r: part 0 holds the whole
    a4 = a[:r].reshape(nb, m, nk, Kk).transpose(2, 0, 1, 3)  # (nk, nb, m, Kk) [k, j] = block j of part k
    o4 = part[:, :r].view()
    o4.shape = (nk, nb, m, n)
    a_r, o_r = a[r:], part[0, r:]
    add_reduce = np.add.reduce

    def fk(b):
        matmul(a4, b.reshape(nk, 1, Kk, n), out=o4)
        if r < M:
            dot(a_r, b, o_r)
        add_reduce(part, axis=0, out=out)
    return fk


def small_gemm_rows(M: int, K: int, n: int) -> int | None:
    """Rows per block for a product (M, K) @ (K, n) cut into row blocks (see gemm_row_blocks)."""
    if M * K * n <= _SMALL_GEMM_MNK or runtime.blas_threads() > 1 or not _blas_has_small_gemm():
        return None  # (OpenBLAS runs the small kernel on one thread: with more, one product)
    m = _block_rows(K, n)
    return m if m >= 4 else None


def _block_rows(K: int, n: int) -> int:
    """The most rows m with m * K * n <= _SMALL_GEMM_MNK, from 16 up rounded down to a multiple of 8."""
    m = _SMALL_GEMM_MNK // (K * n)
    if m >= 16:
        m -= m % 8  # whole cache lines of float32 rows
    return m


def transposed(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a.T`` (a 2-D), made 16 rows of ``a`` at a time: NumPy's one-call
    transposed copy runs at ~2-8 ns per element once the matrix outgrows the cache (H = 1024's
    (1024, 4096) float32: 34 ms); in strips of 16 rows the reads stay on few pages and the
    writes fill whole cache lines (13 ms; measured 2-5x faster from (128, 512) up)."""
    out = np.empty(a.shape[::-1], a.dtype)
    outT = out.T
    for i in range(0, a.shape[0], 16):
        np.copyto(outT[i:i + 16], a[i:i + 16])
    return out


def _perm_half(w: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = w`` (..., 4H) with the gate column blocks reordered [i, f, g, o] -> [i, f, o, g]
    and the sigmoid gates (i, f, o) halved: sigmoid(a) = 0.5 * tanh(a / 2) + 0.5. Returns ``out``."""
    H = w.shape[-1] // 4
    np.multiply(w[..., :2 * H], 0.5, out=out[..., :2 * H])  # i, f
    np.multiply(w[..., 3 * H:], 0.5, out=out[..., 2 * H:3 * H])  # o
    out[..., 3 * H:] = w[..., 2 * H:3 * H]  # g
    return out


def _perm_half_transposed(w: np.ndarray) -> np.ndarray:
    """A C-contiguous (4H, K) copy of ``_perm_half(w).T`` for w (K, 4H), in one transposed copy:
    strips of 16 rows (as ``transposed``) whose gate blocks land straight in their permuted rows,
    then one contiguous in-place halving of the sigmoid rows. (Halving in the strips' strided
    writes measured 1.3-3x slower than the plain copy; this is 30% faster than _perm_half and
    then transposed at H = 512, 1024.)"""
    H = w.shape[1] // 4
    out = np.empty(w.shape[::-1], w.dtype)
    outT = out.T
    for i in range(0, w.shape[0], 16):
        a, o = w[i:i + 16], outT[i:i + 16]
        np.copyto(o[:, :2 * H], a[:, :2 * H])  # i, f
        np.copyto(o[:, 2 * H:3 * H], a[:, 3 * H:])  # o
        np.copyto(o[:, 3 * H:], a[:, 2 * H:3 * H])  # g
    np.multiply(out[:3 * H], np.array(0.5, w.dtype), out=out[:3 * H])
    return out


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
        Wx, Wh = self._uniform(rng, D, 4 * H), self._uniform(rng, H, 4 * H)
        # the three parameters are views of one block [Wx; b; Wh] (D+1+H, 4H), so that the scaled
        # copy the forward pass needs is 3 NumPy calls, not 9 (see scaled_weights)
        self._W = np.concatenate([Wx, b[None, :], Wh])
        self.params = {"Wxh": self._W[:D], "Whh": self._W[D + 1:], "bh": self._W[D]}

    # Internal layout (speed): the loop works "feature-major", state h^T (H, B), so every
    # per-step operand is one contiguous block (no per-row strides, which cost a loop per
    # row in NumPy's ufuncs). Gate columns of the scaled weight copies are ordered
    # [i, f, o, g]: the three sigmoid gates are one block and g sits next to c_{t-1}.
    def scaled_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The weights as the forward pass uses them (also by ``core.sampling``'s one-step sampler):
        (Wxb (D+1, 4H) = [Wx_s; b_s], Wh_sT (4H, H) = Wh_s^T): gate columns in [i, f, o, g]
        order, sigmoid gates halved. Wh_sT is a C-contiguous copy for H >= 64 (the per-step GEMM
        reads a C-order A faster: measured H=512 f32 785 vs 910 us a step unblocked, 10% with the
        row blocks, which repays the copy from H ~ 64 up), else a Fortran-order view; other
        transposes are Fortran-order views: NumPy's transposed copies cost ~2 ns per element."""
        p = self.params
        D, H = self.input_size, self.hidden_size
        W = self._W
        if p["Wxh"].base is W and p["bh"].base is W:  # the usual case: [Wx; b] is one block of W
            Wxb = _perm_half(W[:D + 1], np.empty((D + 1, 4 * H), self.dtype))
        else:  # parameters were rebound (not supported, but correct)
            Wxb = np.empty((D + 1, 4 * H), self.dtype)
            _perm_half(p["Wxh"], Wxb[:D])
            _perm_half(p["bh"], Wxb[D])
        if H >= 64:
            return Wxb, _perm_half_transposed(p["Whh"])
        return Wxb, _perm_half(p["Whh"], np.empty((H, 4 * H), self.dtype)).T

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
        Wxb, Wh_sT = self.scaled_weights()  # (D+1, 4H), (4H, H)
        D = self.input_size

        # A[t] = [i_t, f_t, o_t, g_t, c_{t-1}] each (H, B): (T+1, 5H, B); A[T] holds only c_{T-1}
        A = np.empty((T + 1, 5 * H, B), self.dtype)
        ids = x.ndim == 2
        if ids:  # ids: gather columns of Wx_s^T + b_s straight into the feature-major layout, in the loop
            table = transposed(Wxb[:D] + Wxb[D])  # (4H, D)
        else:  # input projection of all timesteps with the bias, straight into the feature-major
            # layout: A[t, :4H] = [Wx_s; b_s]^T (4H, D+1) @ [x_t^T; 1] (D+1, B), one batched matmul
            xg = np.empty((T, D + 1, B), self.dtype)  # (T, D+1, B)
            xg[:, :D] = x.transpose(0, 2, 1)
            xg[:, D] = 1.0
            np.matmul(Wxb.T, xg, out=A[:T, :4 * H])
        A[0, 4 * H:] = 0.0 if c0 is None else c0.T
        hT = np.empty((T + 1, H, B), self.dtype)  # (T+1, H, B) h_t^T; hT[0] = h0^T
        hT[0] = 0.0 if h0 is None else h0.T
        tcT = np.empty((T, H, B), self.dtype)  # (T, H, B) tanh(c_t)^T
        z = np.empty((4 * H, B), self.dtype)
        prod = np.empty((2 * H, B), self.dtype)  # [i * g, f * c_prev]
        ig, fc = prod[:H], prod[H:]
        half = np.array(0.5, self.dtype)  # 0-d array: cheaper in a ufunc than a Python float
        add, multiply, tanh = np.add, np.multiply, np.tanh
        rec = blocked_dot(Wh_sT, z, B)  # rec(h) sets z = Wh_s^T @ h (row blocks, see gemm_row_blocks)
        h_zero = h0 is None
        take = np.take
        for x_t, a, sig, i_f, g_c, o_t, c_t, tc_t, h_prev, h_t in zip(
                x, A[:-1, :4 * H], A[:-1, :3 * H], A[:-1, :2 * H], A[:-1, 3 * H:], A[:-1, 2 * H:3 * H],
                A[1:, 4 * H:], tcT, hT[:-1], hT[1:]):
            if ids:  # into place, no temporary; "wrap": ids are checked, and "raise" buffers `out`
                take(table, x_t, axis=1, out=a, mode="wrap")
            if h_zero:  # h_0 = 0 (no h0 given): h_0 @ Wh is 0
                h_zero = False
            else:
                rec(h_prev)  # z (4H, B)
                add(a, z, a)
            tanh(a, a)
            multiply(sig, half, sig)
            add(sig, half, sig)  # [i, f, o] = sigmoid via tanh
            multiply(i_f, g_c, prod)  # [i * g, f * c_prev]
            add(ig, fc, c_t)
            tanh(c_t, tc_t)
            multiply(o_t, tc_t, h_t)
        Y = np.empty((T + 1, B, H), self.dtype)  # (T+1, B, H): Y[0] = h0, Y[1:] = y; Y[:-1] = h_{t-1} for backward
        Y[0] = 0.0 if h0 is None else h0
        np.copyto(Y[1:], hT[1:].transpose(0, 2, 1))
        y = Y[1:]  # (T, B, H), contiguous
        cache = {"x": x, "hT": hT, "A": A, "tcT": tcT, "Y": Y, "y": y, "h0_zero": h0 is None}
        return y, (Y[T].copy(), A[T, 4 * H:].T.copy()), cache

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
        x, tc, A = cache["x"], cache["tcT"], cache["A"]
        T, B = x.shape[:2]
        H = self.hidden_size
        dt = self.dtype
        dy = self._check_dy(dy, T, B)
        dh_T, dc_T = self._check_state("dh_last", dh_last, B)
        p = self.params
        Wh = p["Whh"]  # (H, 4H): dh_{t-1}^T = Wh @ dgates_t^T

        # work buffer per step: [dc_prev, da_i, da_f, da_g, da_o, dc] (6, H, B); row T holds dc_last
        Q = np.empty((T + 1, 6, H, B), dt)
        Q[T, 0] = 0.0 if dc_T is None else dc_T.T
        dgates = Q.reshape(T + 1, 6 * H, B)[:, H:5 * H]  # (T+1, 4H, B); each step one contiguous block
        # dh[t + 1] = (dL/dh_t)^T (t = 0..T-1); dh[0] receives dL/dh0
        dh = np.empty((T + 1, H, B), dt)
        dh[0] = 0.0
        if dy is None:
            dh[1:] = 0.0
        else:
            dh[1:] = dy.transpose(0, 2, 1)
        if dh_T is not None:
            dh[T] += dh_T.T
        tmp = np.empty((H, B), dt)

        # Local derivatives, vectorised over a chunk of timesteps (in place, no temporaries),
        # then the chunk's steps. Chunks of _CHUNK timesteps keep P and K in cache between
        # the two (a long sequence's whole P and K would not fit).
        gv = self._gates(cache)
        n = min(T, _CHUNK)
        # G: the gate gradients as one (4H, T*B) matrix, so that every weight gradient is one
        # plain matmul, computed transposed ((4H, K), returned as a .T view)
        G = np.empty((4 * H, T, B), dt)
        dS = np.empty((n, 3 * H, B), dt)  # s (1 - s) for [i, f, o]
        P = np.empty((n, 4, H, B), dt)  # dc * P = [dc_prev, da_i, da_f, da_g]
        K = np.empty((n, 2, H, B), dt)  # dh * K = [da_o, dc from h]
        mul, sub, dot, add, multiply = np.multiply, np.subtract, np.dot, np.add, np.multiply
        blocks = small_gemm_rows(H, 4 * H, B) is not None
        rec = blocked_dot(Wh, tmp, B)  # rec(dg) sets tmp = Wh @ dg (row blocks, see gemm_row_blocks)
        for t1 in range(T, 0, -n):
            t0 = max(t1 - n, 0)
            c = slice(t0, t1)
            m = t1 - t0
            i, g, o, tc_c, dS_c, P_c, K_c = gv["i"][c], gv["g"][c], gv["o"][c], tc[c], dS[:m], P[:m], K[:m]
            S = A[c, :3 * H]  # (m, 3H, B) [i, f, o]
            sub(1.0, S, dS_c), mul(dS_c, S, dS_c)
            P_c[:, 0] = gv["f"][c]
            mul(dS_c[:, :2 * H], A[c, 3 * H:], P_c.reshape(m, 4 * H, B)[:, H:3 * H])  # [g i (1-i), c_prev f (1-f)]
            p3 = P_c[:, 3]
            mul(g, g, p3), sub(1.0, p3, p3), mul(p3, i, p3)  # i (1 - g^2)
            k0, k1 = K_c[:, 0], K_c[:, 1]
            mul(dS_c[:, 2 * H:], tc_c, k0)  # tanh(c) o (1 - o)
            mul(tc_c, tc_c, k1), sub(1.0, k1, k1), mul(k1, o, k1)  # o (1 - tanh(c)^2)

            r, r1 = slice(t1 - 1, t0 - 1 if t0 else None, -1), slice(t1, t0, -1)  # t = t1-1 .. t0, and t + 1
            steps = zip(dh[r1, None], K_c[::-1], Q[r, 4:6], Q[r, 5], Q[r1, 0], Q[r, 5:6], P_c[::-1], Q[r, 0:4],
                        dgates[r], dh[r])
            for dh_t, k_t, q_odc, q_dc, dc_next, q_dc1, p_t, q_gates, dg_t, dh_prev in steps:
                multiply(dh_t, k_t, q_odc)  # [da_o, dc from h]
                add(q_dc, dc_next, q_dc)  # dc
                multiply(q_dc1, p_t, q_gates)  # [dc_prev, da_i, da_f, da_g]
                if blocks:
                    rec(dg_t)
                    add(dh_prev, tmp, dh_prev)
                elif dy is None:
                    dot(Wh, dg_t, dh_prev)
                else:
                    dot(Wh, dg_t, tmp)
                    add(dh_prev, tmp, dh_prev)
            # the chunk's gate gradients into G (4H, T, B) while they are in cache: runs of m * B floats
            np.copyto(G[:, c], dgates[c].transpose(1, 0, 2))
        dh0 = dh[0].T.copy()
        dc0 = Q[0, 0].T.copy()

        dG = G.reshape(4 * H, T * B)  # (4H, T*B)
        h_prev = cache["Y"][:-1].reshape(T * B, H)  # (T*B, H) h_{t-1}
        # weight gradients in C order (D, 4H) / (H, 4H), like the parameters: BLAS takes the
        # transposed operands as they are, and the optimizer's and clipping's elementwise passes
        # then run on matching layouts (a transposed gradient made Adam 3-7x slower)
        dbh = None
        if x.ndim == 2 and runtime.blas_threads() > 1:  # dWx = one_hot(x)^T @ dG^T (scales with threads)
            one_hot = np.zeros((T * B, self.input_size), dt)  # (T*B, D)
            one_hot[np.arange(T * B), x.ravel()] = 1.0
            dWx = np.matmul(one_hot.T, dG.T)
        elif x.ndim == 2:  # one BLAS thread: sum the columns of each id instead (sort, gather,
            # np.add.reduceat: ~1.6x faster at V=96 than the matmul, which mostly multiplies zeros)
            flat = x.reshape(-1)  # (T*B,)
            order = np.argsort(flat, kind="stable")
            ids = flat[order]
            starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # first column of each id
            dWxT = np.zeros((4 * H, self.input_size), dt)  # (4H, D)
            # "wrap" (order is a permutation: nothing to wrap) with out: no bounds check and no
            # buffering of each element, ~30% faster than the default "raise"
            sorted_dG = np.take(dG, order, axis=1, out=np.empty_like(dG), mode="wrap")
            sums = np.add.reduceat(sorted_dG, starts, axis=1)  # (4H, distinct ids)
            dWxT[:, ids[starts]] = sums
            dWx = transposed(dWxT) if H >= 64 else dWxT.T  # (D, 4H)
            # every column belongs to one id: bh sums the per-id sums (~17x fewer than T*B columns)
            dbh = sums @ np.ones(len(starts), dt)
        else:
            dWx = np.matmul(x.reshape(T * B, self.input_size).T, dG.T)  # (D, 4H)
        # below H ~ 64 the (4H, H) product and a transposed view measured faster (a few %)
        if cache.get("h0_zero"):  # h_0 = 0: the first step's B columns add nothing to dWh
            h_prev, dGh = h_prev[B:], dG[:, B:]
        else:
            dGh = dG
        dWh = np.matmul(h_prev.T, dGh.T) if H >= 64 else (dGh @ h_prev).T
        grads = {"Wxh": dWx, "Whh": dWh, "bh": dG @ np.ones(T * B, dt) if dbh is None else dbh}
        dx = None
        if need_dx and x.ndim == 3:
            if H <= 64:  # small: T matmuls on the contiguous per-step blocks, dx a (T, B, D) view of (T, D, B)
                dx = np.matmul(p["Wxh"], dgates[:T]).transpose(0, 2, 1)
            else:
                dx = (dG.T @ p["Wxh"].T).reshape(T, B, self.input_size)
        dhf = dh[1:].reshape(T, 1, H * B)
        dh_norms = np.sqrt(np.matmul(dhf, dhf.transpose(0, 2, 1))).reshape(1, T)  # (1, T)
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
        return (p["Wxh"].T.copy(), p["Whh"].T.copy(), p["bh"].copy(), np.zeros_like(p["bh"]))

    def from_torch(self, d: Mapping[str, Any], suffix: str = "_l0") -> None:
        """Load ``torch.nn.LSTM`` weights (``weight_ih_l0`` (4H, D), ...); bh = bias_ih + bias_hh."""
        w_ih, w_hh, b_ih, b_hh = self._torch_in(d, suffix)
        p = self.params
        p["Wxh"][...] = w_ih.T
        p["Whh"][...] = w_hh.T
        p["bh"][...] = b_ih + b_hh


SPEC = register_cell(CellSpec(
    "lstm", "LSTM", LSTM,
    (StateSpec("h", "hidden state h", -1.0, 1.0), StateSpec("c", "cell state c"),
     StateSpec("i", "input gate i", 0.0, 1.0), StateSpec("f", "forget gate f", 0.0, 1.0),
     StateSpec("g", "candidate g", -1.0, 1.0), StateSpec("o", "output gate o", 0.0, 1.0))))
