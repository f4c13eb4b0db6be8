"""Binary addition data: two numbers added bit by bit, least significant bit first.

A pair (a, b) becomes a sequence of ``bits`` timesteps. At step t the network
reads the two input bits ``a_t, b_t`` and must output the sum bit ``s_t``;
the carry it has to remember is the carry *out of* step t (``carry[t]``),
which goes into step t + 1.

As in the iamtrask tutorial, a and b are drawn below ``2 ** (bits - 1)`` so
that the sum fits in ``bits`` bits (no overflow).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Above this many pairs, ``eval_pairs`` uses a fixed sample instead of all pairs.
MAX_EVAL_PAIRS = 1 << 16


def max_operand(bits: int) -> int:
    """Exclusive upper bound of a and b: ``2 ** (bits - 1)`` (128 for 8 bits)."""
    return 1 << (bits - 1)


def to_bits(x: np.ndarray, bits: int) -> np.ndarray:
    """Integers (N,) -> bits (bits, N) as float32, least significant bit first."""
    x = np.asarray(x, dtype=np.int64)
    shifts = np.arange(bits, dtype=np.int64)[:, None]  # (T, 1)
    return ((x[None, :] >> shifts) & 1).astype(np.float32)  # (T, N)


def from_bits(b: np.ndarray) -> np.ndarray:
    """Bits (T, N) (anything > 0.5 is a one), LSB first -> integers (N,)."""
    weights = (1 << np.arange(b.shape[0], dtype=np.int64))[:, None]  # (T, 1)
    return ((np.asarray(b) > 0.5).astype(np.int64) * weights).sum(axis=0)


def carries(a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    """The carry out of each bit position: (bits, N) float32 of 0/1.

    carry[t] = 1 when a_t + b_t + carry[t-1] >= 2 (with carry[-1] = 0). It equals
    bit t+1 of ``(a mod 2^(t+1)) + (b mod 2^(t+1))``.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    t = np.arange(bits, dtype=np.int64)[:, None]  # (T, 1)
    mask = (1 << (t + 1)) - 1
    partial = (a[None, :] & mask) + (b[None, :] & mask)  # (T, N)
    return ((partial >> (t + 1)) & 1).astype(np.float32)


def make_batch(a: np.ndarray, b: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (N,), (N,) -> inputs (T, N, 2) and targets (T, N, 1), LSB first."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    x = np.stack([to_bits(a, bits), to_bits(b, bits)], axis=-1)  # (T, N, 2)
    y = to_bits(a + b, bits)[:, :, None]  # (T, N, 1)
    return x, y


def random_pairs(rng: np.random.Generator, n: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """n pairs drawn uniformly with 0 <= a, b < 2^(bits-1)."""
    hi = max_operand(bits)
    ab = rng.integers(0, hi, size=(2, n))
    return ab[0], ab[1]


def step_batches(a: np.ndarray, b: np.ndarray, bits: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (N,), (N,) with N a multiple of ``batch`` -> the batches of N // batch consecutive
    training steps, each contiguous: inputs (S, T, batch, 2) and targets (S, T, batch, 1), where
    step k holds pairs k * batch ... (k + 1) * batch - 1 (``make_batch`` of them)."""
    n = len(a)
    if n % batch:
        raise ValueError(f"{n} pairs do not make whole batches of {batch}")
    x, y = make_batch(a, b, bits)  # (T, N, 2), (T, N, 1)
    S = n // batch
    x = np.ascontiguousarray(x.reshape(bits, S, batch, 2).transpose(1, 0, 2, 3))
    y = np.ascontiguousarray(y.reshape(bits, S, batch, 1).transpose(1, 0, 2, 3))
    return x, y


def eval_pairs(bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair a, b < 2^(bits-1) (16,384 for 8 bits), or a fixed sample of
    ``MAX_EVAL_PAIRS`` pairs when there are more (bits > 9)."""
    hi = max_operand(bits)
    if hi * hi <= MAX_EVAL_PAIRS:
        a, b = np.meshgrid(np.arange(hi), np.arange(hi), indexing="ij")
        return a.ravel(), b.ravel()
    return random_pairs(np.random.default_rng(12345), MAX_EVAL_PAIRS, bits)


@dataclass(frozen=True)
class PrefixTree:
    """A set of pairs as a tree of their shared low-bit prefixes (see :func:`prefix_tree`).

    Level t (0 ... bits-1) holds one node per distinct prefix ``(a mod 2^(t+1), b mod 2^(t+1))``
    of the pairs. Everything an LSB-first network reads or must answer up to step t is a
    function of that prefix: the input bits (a_t, b_t), the sum bit s_t, the carry out of step
    t, and, from a zero initial state, the hidden state h_t. Per level, arrays of n_t entries:

    parent:  index of the node's prefix at level t-1 (level 0: 0, the empty prefix).
    code:    the input bits at step t as ``a_t + 2 b_t`` (int64 in 0..3).
    weight:  how many of the pairs share the node's prefix (float64; a level sums to n_pairs).
    target:  the sum bit s_t (float32 0/1).
    carry:   the carry out of step t (float32 0/1).

    ``offsets`` (bits + 1,): level t's nodes are rows offsets[t]:offsets[t+1] of the
    concatenated ``all_weight``, ``all_target``, ``all_carry`` (one array over every node).
    """

    parent: tuple[np.ndarray, ...]
    code: tuple[np.ndarray, ...]
    weight: tuple[np.ndarray, ...]
    target: tuple[np.ndarray, ...]
    carry: tuple[np.ndarray, ...]
    n_pairs: int
    offsets: np.ndarray
    all_weight: np.ndarray
    all_target: np.ndarray
    all_carry: np.ndarray

    @property
    def n_nodes(self) -> int:
        """Nodes over all levels: the recurrent states a forward pass over the tree computes
        (``bits * n_pairs`` for the plain batch)."""
        return sum(len(c) for c in self.code)


def prefix_tree(a: np.ndarray, b: np.ndarray, bits: int) -> PrefixTree:
    """The pairs (a, b) (N,) as a :class:`PrefixTree`. For all 128 x 128 pairs of 8 bits the tree
    has 38,228 nodes against 131,072 (pair, step) states of the plain batch (4^(t+1) nodes at
    levels t < 7; the top bit of both operands is 0, so level 7 repeats level 6's 16,384)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    s = a + b
    carry = carries(a, b, bits)  # (T, N)
    prev = np.zeros(len(a), np.int64)  # each pair's node at the level before (the root)
    levels: list[tuple[np.ndarray, ...]] = []
    for t in range(bits):
        m = (1 << (t + 1)) - 1
        key = ((a & m) << (t + 1)) | (b & m)
        _, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        n = int(inv.max()) + 1 if len(inv) else 0
        parent = np.zeros(n, np.int64)
        code = np.zeros(n, np.int64)
        target = np.zeros(n, np.float32)
        c = np.zeros(n, np.float32)
        parent[inv] = prev  # every pair of a node has the same prefix, so the same parent, bits...
        code[inv] = ((a >> t) & 1) + 2 * ((b >> t) & 1)
        target[inv] = (s >> t) & 1
        c[inv] = carry[t]
        levels.append((parent, code, np.bincount(inv, minlength=n).astype(np.float64), target, c))
        prev = inv
    parent, code, weight, target, c = (tuple(col) for col in zip(*levels)) if levels else ((),) * 5
    offsets = np.concatenate([[0], np.cumsum([len(k) for k in code])]).astype(np.int64)
    cat = (lambda arrs, dt: np.concatenate(arrs) if arrs else np.zeros(0, dt))
    return PrefixTree(parent, code, weight, target, c, len(a), offsets, cat(weight, np.float64),
                      cat(target, np.float32), cat(c, np.float32))
