"""Named-parameter helpers: collect children with dotted names, check state dicts."""
from __future__ import annotations

from typing import Mapping

import numpy as np


def prefixed(prefix: str, params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{"W": a}`` -> ``{"prefix.W": a}`` (same array objects, not copies)."""
    return {f"{prefix}.{k}": v for k, v in params.items()}


def unprefix(prefix: str, d: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Entries of ``d`` starting with ``prefix.``, with the prefix removed."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in d.items() if k.startswith(p)}


def state_dict(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.array(v, copy=True) for k, v in params.items()}


def load_state_dict(params: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray], what: str = "state dict") -> None:
    """Copy ``state`` into the live arrays ``params`` in place, after checking
    that the keys match exactly and every shape agrees.

    Raises ValueError naming missing, extra or mis-shaped arrays.
    """
    missing = sorted(set(params) - set(state))
    extra = sorted(set(state) - set(params))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise ValueError(f"{what} does not match the model: {'; '.join(parts)}")
    for k, v in params.items():
        s = np.asarray(state[k])
        if s.shape != v.shape:
            raise ValueError(f"{what}: {k} has shape {s.shape}, the model expects {v.shape}")
        if not np.issubdtype(s.dtype, np.number):
            raise ValueError(f"{what}: {k} has non-numeric dtype {s.dtype}")
    for k, v in params.items():
        v[...] = state[k]


class ParamLayer:
    """Base for layers holding ``self.params`` (name -> live array)."""

    params: dict[str, np.ndarray]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters."""
        return state_dict(self.params)

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Copy ``state`` into the live parameters (checks keys and shapes)."""
        load_state_dict(self.params, state, f"{type(self).__name__} state dict")

    @property
    def num_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))

    def zero_grads(self) -> dict[str, np.ndarray]:
        return {k: np.zeros_like(v) for k, v in self.params.items()}
