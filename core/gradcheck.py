"""Central-difference gradient checking (use float64)."""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, perturbing ``x`` in place (restored)."""
    g = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a: np.ndarray, b: np.ndarray, floor: float = 1e-8) -> float:
    """Worst elementwise |a-b| / max(|a|+|b|, floor)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)))


def check_grads(f: Callable[[], float], arrays: Mapping[str, np.ndarray], analytic: Mapping[str, np.ndarray],
                eps: float = 1e-6) -> dict[str, float]:
    """Relative error per named array between ``analytic`` and numerical grads of ``f``."""
    return {k: rel_error(analytic[k], numerical_grad(f, arrays[k], eps)) for k in arrays}
