"""Gate saturation (Karpathy, Johnson & Fei-Fei 2015, "Visualizing and understanding recurrent
networks", Fig. 3): per unit of each gate, how often it is nearly shut or nearly open.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

SIGMOID_GATES = ("i", "f", "o", "r", "z")


@dataclass(frozen=True)
class GateSaturation:
    """Fractions of samples (timesteps x batch) per unit of each gate.

    gates:   gate names present, in order (LSTM "i", "f", "o"; GRU "r", "z"; or those asked for).
    left:    gate -> (H,) fraction of samples with value < ``low`` (left-saturated, shut).
    right:   gate -> (H,) fraction with value > ``high`` (right-saturated, open).
    samples: number of samples per unit (T * B).
    low, high: the thresholds (0.1, 0.9 in the paper).

    Karpathy et al. plot one point per unit at (left, right): units on the diagonal-free
    corners are switches, the forget gates of "remembering" units sit high on the right axis.
    """

    gates: tuple[str, ...]
    left: Mapping[str, np.ndarray]
    right: Mapping[str, np.ndarray]
    samples: int
    low: float
    high: float


def gate_saturation(states: Any, gates: Sequence[str] | None = None, low: float = 0.1,
                    high: float = 0.9) -> GateSaturation:
    """Left/right saturation fractions per gate unit.

    states: a ``LayerTrace`` or its ``states`` dict: gate name -> (T, H) or (T, B, H) (any
            leading shape; all leading axes are samples).
    gates:  which entries to use (default: every sigmoid gate present: i, f, o, r, z).
    Cost: two comparisons and a mean over T*B*H values per gate; T=400, H=256, LSTM (i, f, o): 0.6 ms.
    """
    states = getattr(states, "states", states)
    if gates is None:
        gates = tuple(g for g in SIGMOID_GATES if g in states)
    if not gates:
        raise ValueError(f"no gates to measure among {sorted(states)} (a plain RNN has none)")
    left, right, n = {}, {}, 0
    for g in gates:
        a = np.asarray(states[g])
        a = a.reshape(-1, a.shape[-1])  # (samples, H)
        n = a.shape[0]
        left[g] = np.count_nonzero(a < low, axis=0) / n
        right[g] = np.count_nonzero(a > high, axis=0) / n
    return GateSaturation(tuple(gates), left, right, n, float(low), float(high))
