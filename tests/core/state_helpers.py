"""Helpers for tests that handle recurrent states (an array, a tuple (h, c), or a list per layer)."""
from __future__ import annotations

import numpy as np


def flat(state):
    """All arrays of a (nested) state structure, in order (None entries skipped)."""
    if state is None:
        return []
    if isinstance(state, np.ndarray):
        return [state]
    return [a for s in state for a in flat(s)]


def like(state, arrays):
    """A structure shaped like ``state`` filled from the iterator ``arrays``."""
    if isinstance(state, np.ndarray):
        return next(arrays)
    return type(state)(like(s, arrays) for s in state)


def rand_state(model, B, rng):
    """A random initial state of ``model`` for batch size ``B``."""
    zero = model.zero_state(B)
    return like(zero, iter([rng.standard_normal(a.shape) * 0.5 for a in flat(zero)]))
