"""Drawing tokens from logits: temperature, top-k, and a shared sequence loop.

Temperature T divides the logits: T < 1 sharpens, T > 1 flattens. T must be a
finite number > 0. Below ``GREEDY_TEMPERATURE`` (1e-6) sampling is greedy: the
argmax (first one on ties) is returned exactly, with no random draw.

Draws use inverse-CDF sampling with one ``rng.random()`` per draw, so
``sample_index(l, T, rng)`` and ``sample_indices(l[None], T, rng)[0]`` agree for
the same generator state, and an index of probability 0 (e.g. outside the top
k) is never returned.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

GREEDY_TEMPERATURE = 1e-6


def check_temperature(temperature: Any) -> float:
    """``temperature`` as a float, or ValueError naming the value (0, negative, NaN, inf, non-numbers)."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    t = float(temperature)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return t


def _check_top_k(top_k: Any) -> int | None:
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k <= 0:
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    return int(top_k)


def _check_logits(logits: Any) -> np.ndarray:
    x = np.asarray(logits)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)) or x.dtype == bool:
        raise ValueError(f"logits must be a real array, got dtype {x.dtype}")
    if x.ndim < 1 or x.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., V) with V >= 1, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("logits contain NaN or inf values")
    return x.astype(np.float64, copy=False)


def _masked_top_k(x: np.ndarray, top_k: int | None) -> np.ndarray:
    """Logits (..., V) with all but the k largest per row set to -inf (exactly k kept)."""
    V = x.shape[-1]
    if top_k is None or top_k >= V:
        return x
    keep = np.argpartition(x, V - top_k, axis=-1)[..., V - top_k:]  # (..., k)
    out = np.full_like(x, -np.inf)
    np.put_along_axis(out, keep, np.take_along_axis(x, keep, axis=-1), axis=-1)
    return out


def _probs(x: np.ndarray, t: float) -> np.ndarray:
    """softmax(x / t) along the last axis; x float64, may hold -inf from top-k (its max is finite)."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        z = (x - x.max(axis=-1, keepdims=True)) / t
        p = np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    return p


def _greedy(x: np.ndarray) -> np.ndarray:
    p = np.zeros_like(x)
    np.put_along_axis(p, np.argmax(x, axis=-1)[..., None], 1.0, axis=-1)
    return p


def softmax_with_temperature(logits: Any, temperature: float, top_k: int | None = None) -> np.ndarray:
    """logits (..., V) -> probabilities (..., V), float64, summing to 1 along the last axis.

    Below GREEDY_TEMPERATURE the result is one-hot at the argmax. ``top_k``
    keeps only the k largest logits per row (others get probability 0).
    """
    t = check_temperature(temperature)
    x = _masked_top_k(_check_logits(logits), _check_top_k(top_k))
    if t < GREEDY_TEMPERATURE:
        return _greedy(x)
    return _probs(x, t)


def sample_indices(logits: Any, temperature: float, rng: np.random.Generator,
                   top_k: int | None = None) -> np.ndarray:
    """One draw per row: logits (B, V) (or (..., V)) -> indices (B,) (or (...)) int64."""
    t = check_temperature(temperature)
    x = _check_logits(logits)
    k = _check_top_k(top_k)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    if t < GREEDY_TEMPERATURE:
        return np.argmax(x, axis=-1)
    p = _probs(_masked_top_k(x, k), t)  # (..., V)
    cdf = np.cumsum(p, axis=-1)  # (..., V)
    u = rng.random(x.shape[:-1])[..., None] * cdf[..., -1:]  # (..., 1) in [0, total)
    idx = np.sum(cdf <= u, axis=-1)  # first index with cdf > u (searchsorted 'right')
    return np.minimum(idx, x.shape[-1] - 1)


def sample_index(logits: Any, temperature: float, rng: np.random.Generator, top_k: int | None = None) -> int:
    """One draw from softmax(logits / temperature); logits (V,). Returns a Python int.

    Same draw as ``sample_indices(logits[None], ...)[0]`` for the same ``rng`` state.
    """
    t = check_temperature(temperature)
    x = _check_logits(logits)
    k = _check_top_k(top_k)
    if x.ndim != 1:
        raise ValueError(f"logits must have shape (V,), got {x.shape} (use sample_indices for batches)")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    if t < GREEDY_TEMPERATURE:
        return int(np.argmax(x))
    cdf = np.cumsum(_probs(_masked_top_k(x, k), t))  # (V,)
    u = rng.random() * cdf[-1]
    return min(int(np.searchsorted(cdf, u, side="right")), x.shape[0] - 1)


def sample_sequence(step_fn: Callable[[int, Any], tuple[np.ndarray, Any]], state: Any, first_index: int,
                    length: int, temperature: float, rng: np.random.Generator,
                    top_k: int | None = None) -> list[int]:
    """Feed ``first_index``, sample the next index, feed it back; ``length`` times.

    ``step_fn(index, state) -> (logits (V,), new_state)`` runs the model one step.
    Returns the ``length`` sampled indices (``first_index`` not included).
    """
    check_temperature(temperature)
    _check_top_k(top_k)
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
    out: list[int] = []
    idx = int(first_index)
    for _ in range(int(length)):
        logits, state = step_fn(idx, state)
        idx = sample_index(logits, temperature, rng, top_k)
        out.append(idx)
    return out
