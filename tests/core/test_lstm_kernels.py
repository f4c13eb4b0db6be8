"""Speed paths of the LSTM/GRU kernels: each must give the results of the plain path.

The row-blocked recurrent products (core.nn.lstm.gemm_row_blocks) only switch on with
OpenBLAS's AVX-512 kernels and large H; here they are forced on at tiny sizes by lowering
the threshold, so that the uneven last block and both directions are exercised anywhere.
"""
from __future__ import annotations

import numpy as np
import pytest

import core.nn.lstm as lstm_mod
from core.nn.lstm import LSTM, blocked_dot, gemm_row_blocks
from core.gradcheck import numerical_grad


def central_grad(f, a, eps=1e-4):
    """Central differences, Richardson-combined (error O(eps^4))."""
    return (4.0 * numerical_grad(f, a, eps) - numerical_grad(f, a, 2 * eps)) / 3.0


@pytest.fixture
def forced_blocks(monkeypatch):
    """Row blocks at tiny sizes: H=8, B=3 -> forward blocks of 16 rows (of 32), backward of 5 (of 8);
    K is not cut (see test_blocked_dot_with_k_cut_sums_the_parts)."""
    monkeypatch.setattr(lstm_mod, "_SMALL_GEMM_MNK", 500)
    monkeypatch.setattr(lstm_mod, "_small_gemm", [True])
    monkeypatch.setattr(lstm_mod, "_MIN_BLOCK_ROWS", 0)


def _run(layer, x, dy, h0=None):
    y, (h, c), cache = layer.forward(x, h0)
    dx, (dh0, dc0), grads, norms = layer.backward(dy, cache, (np.ones_like(h), np.ones_like(c)))
    return [y, h, c, dh0, dc0, norms] + ([] if dx is None else [dx]) + [grads[k] for k in sorted(grads)]


def test_gemm_row_blocks_cover_every_row_once(forced_blocks):
    a, out = np.zeros((32, 8)), np.zeros((32, 3))
    blocks = gemm_row_blocks(a, out, 3)
    assert [len(b) for b, _ in blocks] == [16, 16]
    assert all(np.shares_memory(o, out) for _, o in blocks)
    blocks = gemm_row_blocks(np.zeros((8, 32)), np.zeros((8, 3)), 3)
    assert [len(b) for b, _ in blocks] == [5, 3]
    assert gemm_row_blocks(np.zeros((4, 4)), np.zeros((4, 3)), 3) is None  # already small


@pytest.mark.parametrize("rows", [32, 8])  # forward-like: two full blocks; backward-like: 5 + 3 (short last)
def test_blocked_dot_equals_the_block_products(forced_blocks, rows):
    """The stacked matmul over the full blocks (plus one dot for the short one) writes into
    ``out`` exactly what one np.dot per block of gemm_row_blocks writes."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((rows, 256 // rows))
    b = rng.standard_normal((a.shape[1], 3))
    out, ref = np.full((rows, 3), np.nan), np.full((rows, 3), np.nan)
    f = blocked_dot(a, out, 3)
    for a_b, o_b in gemm_row_blocks(a, ref, 3):
        np.dot(a_b, b, o_b)
    f(b)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


@pytest.mark.parametrize("shape, mnk, min_rows, parts_rows", [
    ((8, 32), 500, 8, (2, 8)),  # K cut in 2: one block of 8 rows per part
    ((24, 64), 2000, 16, (2, 16)),  # K cut in 2: 16-row blocks and a short last block of 8 rows
    ((16, 64), 1000, 16, (4, 16)),  # K cut in 4
])
def test_blocked_dot_with_k_cut_sums_the_parts(monkeypatch, shape, mnk, min_rows, parts_rows):
    """Thin row blocks (long K): K is cut too, the partial products summed into ``out``."""
    monkeypatch.setattr(lstm_mod, "_SMALL_GEMM_MNK", mnk)
    monkeypatch.setattr(lstm_mod, "_small_gemm", [True])
    monkeypatch.setattr(lstm_mod, "_MIN_BLOCK_ROWS", min_rows)
    rng = np.random.default_rng(9)
    a = rng.standard_normal(shape)
    out = np.full((shape[0], 3), np.nan)
    f = blocked_dot(a, out, 3)
    cells = dict(zip(f.__code__.co_freevars, (c.cell_contents for c in f.__closure__)))
    assert (cells["a4"].shape[0], cells["a4"].shape[2]) == parts_rows  # (parts of K, rows per block)
    for _ in range(2):  # the parts' buffer is reused
        b = rng.standard_normal((shape[1], 3))
        f(b)
        np.testing.assert_allclose(out, a @ b, rtol=1e-12, atol=1e-12)


def test_no_blocks_without_the_small_kernel(monkeypatch):
    monkeypatch.setattr(lstm_mod, "_small_gemm", [False])
    assert gemm_row_blocks(np.zeros((4096, 1024)), np.zeros((4096, 32)), 32) is None


@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("dy_every_step", [True, False])
def test_blocked_products_equal_the_plain_ones(monkeypatch, ids, dy_every_step):
    rng = np.random.default_rng(3)
    T, B, D, H = 5, 3, 4, 8
    x = rng.integers(0, D, size=(T, B)) if ids else rng.standard_normal((T, B, D))
    dy = rng.standard_normal((T, B, H)) if dy_every_step else None
    h0 = (rng.standard_normal((B, H)), rng.standard_normal((B, H)))
    layer = LSTM(D, H, np.random.default_rng(0), dtype=np.float64)
    monkeypatch.setattr(lstm_mod, "_small_gemm", [False])
    plain = _run(layer, x, dy, h0)
    monkeypatch.setattr(lstm_mod, "_SMALL_GEMM_MNK", 500)
    monkeypatch.setattr(lstm_mod, "_small_gemm", [True])
    monkeypatch.setattr(lstm_mod, "_MIN_BLOCK_ROWS", 0)  # row blocks only
    blocked = _run(layer, x, dy, h0)
    monkeypatch.setattr(lstm_mod, "_MIN_BLOCK_ROWS", 24)  # and K cut: forward in 2 parts, backward in 4
    k_cut = _run(layer, x, dy, h0)
    assert len(plain) == len(blocked) == len(k_cut)
    for a, b, c in zip(plain, blocked, k_cut):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)


def test_blocked_gradients_match_central_differences(forced_blocks):
    rng = np.random.default_rng(4)
    T, B, D, H = 4, 3, 4, 8
    layer = LSTM(D, H, rng, dtype=np.float64)
    x = rng.standard_normal((T, B, D))
    R = rng.standard_normal((T, B, H))

    def loss():
        return float(np.sum(layer.forward(x)[0] * R))

    _, _, cache = layer.forward(x)
    dx, _, grads, _ = layer.backward(R, cache)
    for k, p in layer.params.items():
        num = central_grad(loss, p)
        assert np.max(np.abs(grads[k] - num)) <= 1e-7 * (1 + np.max(np.abs(num))), k
    assert np.max(np.abs(dx - central_grad(loss, x))) <= 1e-7


@pytest.mark.parametrize("T", [1, 3])
def test_zero_initial_state_skips_only_zero_products(T):
    """Without h0 the first step's recurrent product and its dWhh columns are skipped: the
    results equal those with an explicit zero h0 (which takes the full path)."""
    rng = np.random.default_rng(5)
    B, D, H = 2, 3, 4
    layer = LSTM(D, H, rng, dtype=np.float64)
    x = rng.integers(0, D, size=(T, B))
    dy = rng.standard_normal((T, B, H))
    zero = (np.zeros((B, H)), np.zeros((B, H)))
    for a, b in zip(_run(layer, x, dy), _run(layer, x, dy, zero)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    if T == 1:
        _, _, cache = layer.forward(x)
        assert not layer.backward(dy, cache)[2]["Whh"].any()


@pytest.mark.parametrize("dy_every_step", [True, False])
def test_gru_blocked_products_equal_the_plain_ones(monkeypatch, dy_every_step):
    """GRU (batch-major): column blocks of the recurrent weight, forward 16 + 8 of 24 columns,
    backward 6 + 2 of 8."""
    from core.nn.gru import GRU, col_blocks
    rng = np.random.default_rng(6)
    T, B, D, H = 5, 3, 4, 8
    x = rng.standard_normal((T, B, D))
    dy = rng.standard_normal((T, B, H)) if dy_every_step else None
    h0 = rng.standard_normal((B, H))
    layer = GRU(D, H, np.random.default_rng(0), dtype=np.float64)

    def run():
        y, h, cache = layer.forward(x, h0)
        dx, dh0, grads, norms = layer.backward(dy, cache, np.ones_like(h))
        return [y, h, dx, dh0, norms] + [grads[k] for k in sorted(grads)]

    monkeypatch.setattr(lstm_mod, "_small_gemm", [False])
    plain = run()
    monkeypatch.setattr(lstm_mod, "_SMALL_GEMM_MNK", 500)
    monkeypatch.setattr(lstm_mod, "_small_gemm", [True])
    assert [c.stop - c.start for c, _ in col_blocks(np.zeros((H, 3 * H)), B)] == [16, 8]
    assert [c.stop - c.start for c, _ in col_blocks(np.zeros((3 * H, H)), B)] == [6, 2]
    for a, b in zip(plain, run()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_no_blocks_with_several_blas_threads(monkeypatch, forced_blocks):
    """OpenBLAS runs its small-matrix kernel on one thread: with more, the product stays whole."""
    from core import runtime
    assert gemm_row_blocks(np.zeros((32, 8)), np.zeros((32, 3)), 3) is not None
    monkeypatch.setattr(runtime, "_BLAS_THREADS", 2)
    assert gemm_row_blocks(np.zeros((32, 8)), np.zeros((32, 3)), 3) is None


def test_small_kernel_detection_ignores_scipys_openblas_and_obeys_the_switch(monkeypatch):
    monkeypatch.setattr(lstm_mod, "_small_gemm", [])
    before = lstm_mod._blas_has_small_gemm()
    import scipy.linalg  # noqa: F401  - loads SciPy's own OpenBLAS next to NumPy's
    monkeypatch.setattr(lstm_mod, "_small_gemm", [])
    assert lstm_mod._blas_has_small_gemm() == before
    monkeypatch.setattr(lstm_mod, "_small_gemm", [])
    monkeypatch.setenv("RNNLAB_GEMM_BLOCKS", "0")
    assert lstm_mod._blas_has_small_gemm() is False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scaled_transposed_weight_is_the_transposed_scaled_weight(dtype):
    """_perm_half_transposed (strips + one halving pass) equals _perm_half then transposed, bit for bit."""
    w = np.random.default_rng(8).standard_normal((37, 4 * 24)).astype(dtype)  # 37 rows: a short last strip
    ref = lstm_mod.transposed(lstm_mod._perm_half(w, np.empty_like(w)))
    got = lstm_mod._perm_half_transposed(w)
    assert got.flags.c_contiguous and got.dtype == dtype
    np.testing.assert_array_equal(got, ref)
