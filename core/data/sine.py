"""Sine-like series cut into (window -> next value) examples.

The series is sampled ``gap`` apart: the first ``n_train`` points train the
model, the ``n_test`` points after them test it. A test example's window may
reach back into the training points (they are inputs, never targets), so every
one of the ``n_test`` points is predicted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIGNALS = ("sine", "sum")


def signal(t: np.ndarray, kind: str) -> np.ndarray:
    """The clean signal at times ``t``: "sine" = sin(t); "sum" = a sum of three
    sines (amplitudes 0.5, 0.3, 0.2; periods 2π, 2π/2.3, 2π/5.1), within [-1, 1]."""
    if kind == "sine":
        return np.sin(t)
    if kind == "sum":
        return 0.5 * np.sin(t) + 0.3 * np.sin(2.3 * t + 0.5) + 0.2 * np.sin(5.1 * t + 1.0)
    raise ValueError(f"signal must be one of {', '.join(SIGNALS)}, got {kind!r}")


def windows(series: np.ndarray, window: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Examples predicting ``series[i]`` for ``start <= i < stop`` from ``series[i-window:i]``.

    Returns X (N, window) and y (N,), N = stop - start; needs ``start >= window``.
    """
    idx = np.arange(start, stop)[:, None] + np.arange(-window, 0)[None, :]  # (N, window)
    return series[idx], series[start:stop]


@dataclass(frozen=True)
class SineData:
    """t (n,) times, clean (n,) the true signal, observed (n,) = clean + noise.

    Training targets are indices [window, n_train), test targets [n_train, n_train + n_test).
    """

    t: np.ndarray
    clean: np.ndarray
    observed: np.ndarray
    window: int
    n_train: int
    n_test: int

    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """X (N, window), y (N,) from the observed training points."""
        return windows(self.observed, self.window, self.window, self.n_train)

    def test(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """X (n_test, window) observed inputs, y (n_test,) clean targets, t (n_test,)."""
        x, _ = windows(self.observed, self.window, self.n_train, self.n_train + self.n_test)
        sl = slice(self.n_train, self.n_train + self.n_test)
        return x, self.clean[sl], self.t[sl]


def make_sine_data(window: int = 10, n_train: int = 10_000, n_test: int = 1_000, gap: float = 0.01,
                   kind: str = "sine", noise: float = 0.0,
                   rng: np.random.Generator | None = None, dtype=np.float32) -> SineData:
    """Sample the signal at ``t = i * gap`` for i < n_train + n_test, add N(0, noise²) noise
    (drawn from ``rng``; needed when noise > 0)."""
    if window >= n_train:
        raise ValueError(f"window must be smaller than the {n_train} training points, got {window}")
    n = n_train + n_test
    t = np.arange(n) * gap
    clean = signal(t, kind)
    observed = clean
    if noise > 0:
        if rng is None:
            raise ValueError("noise > 0 needs an rng")
        observed = clean + rng.normal(0.0, noise, size=n)
    return SineData(t.astype(dtype), clean.astype(dtype), np.asarray(observed, dtype=dtype),
                    window, n_train, n_test)
