"""Inverted dropout: zero each unit with probability ``p`` in training and
scale the kept ones by 1/(1-p), so evaluation needs no rescaling."""
from __future__ import annotations

from typing import Any

import numpy as np

from core.nn.validate import check_rng
from core.nn.validate import check_float_array


class Dropout:
    """``forward(x, rng, train=True)`` -> (y, cache); ``backward(dy, cache)`` -> (dx, {}).

    The cache is the scaled mask (same shape as x, values 0 or 1/(1-p)), or
    None when nothing was dropped (``train=False`` or ``p == 0``).
    """

    params: dict[str, np.ndarray]

    def __init__(self, p: float):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not (0.0 <= p < 1.0):
            raise ValueError(f"p (dropout probability) must be a number in [0, 1), got {p!r}")
        self.p = float(p)
        self.params = {}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: Any) -> None:
        if state:
            raise ValueError(f"Dropout state dict must be empty, got {', '.join(sorted(state))}")

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None,
                train: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """x (any shape) -> (y same shape, mask or None)."""
        check_float_array("x", x)
        if not train or self.p == 0.0:
            return x, None
        check_rng(rng)
        keep = rng.random(x.shape, dtype=np.float64 if x.dtype == np.float64 else np.float32) >= self.p
        mask = keep.astype(x.dtype)
        mask *= 1.0 / (1.0 - self.p)
        return x * mask, mask

    def backward(self, dy: np.ndarray, cache: np.ndarray | None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        mask = cache
        check_float_array("dy", dy, shape=None if mask is None else mask.shape)
        return (dy if mask is None else dy * mask), {}
