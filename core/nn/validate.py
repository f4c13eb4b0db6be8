"""Argument checks that raise ValueErrors saying what is accepted."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np


def check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_float_array(name: str, x: Any, ndim: int | None = None, shape: tuple | None = None,
                      finite: bool = True) -> np.ndarray:
    """Check that ``x`` is a floating ndarray with ``ndim`` dims and, where given,
    a matching ``shape`` (None entries match any size). Returns ``x`` unchanged."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{name} must be a NumPy array, got {type(x).__name__}")
    if x.dtype.kind != "f":  # (np.issubdtype(x.dtype, np.floating), several times faster)
        raise ValueError(f"{name} must be a floating-point array (float32/float64), got dtype {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions{_shape_hint(shape)}, got shape {x.shape}")
    if shape is not None:
        if len(shape) != x.ndim or any(s is not None and s != d for s, d in zip(shape, x.shape)):
            raise ValueError(f"{name} must have shape {_fmt(shape)}, got {x.shape}")
    if finite and not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return x


def check_int_array(name: str, x: Any, high: int | None = None) -> np.ndarray:
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array, got dtype {x.dtype}")
    if x.size and (x.min() < 0 or (high is not None and x.max() >= high)):
        raise ValueError(f"{name} values must be in [0, {high}), got range [{x.min()}, {x.max()}]")
    return x


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"


def _shape_hint(shape: tuple | None) -> str:
    return f" {_fmt(shape)}" if shape is not None else ""


def check_dtype(dtype: Any) -> np.dtype:
    """np.float32 or np.float64, else ValueError naming ``dtype``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be np.float32 or np.float64, got {dt}")
    return dt


def check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a np.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    return rng
