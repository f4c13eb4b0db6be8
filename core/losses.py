"""Losses: each returns the loss (a Python float) and its gradient w.r.t. the
prediction, ready to feed a layer's ``backward``.

=====================  ============================================  ===========================
function               loss                                          reduction
=====================  ============================================  ===========================
softmax_cross_entropy  -log softmax(logits)[target]                  mean over unmasked positions
                                                                     (or ``reduction="sum"``)
mse                    (pred - target)^2                             mean over all elements
bce_with_sigmoid       -t log s(x) - (1-t) log(1-s(x)), stable       mean over all elements
bce                    -t log p - (1-t) log(1-p)                     mean over all elements
quadratic_cost         0.5 * ||a - y||^2 per example (the seed MLP)  mean over the batch (axis 0)
=====================  ============================================  ===========================

Inputs are validated: floating arrays of matching shapes, no NaN/inf, targets in
range; a ValueError names the argument, the value and what is accepted.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.nn.dense import sigmoid
from core.nn.validate import check_choice, check_float_array, check_int_array


def _pair(pred_name: str, pred: Any, target_name: str, target: Any,
          finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Both floating arrays of one shape, not empty; ``finite=False``: NaN/inf are left to
    :func:`_finite_or_raise` on the loss (a non-finite input makes the loss non-finite: one check of a
    scalar instead of two passes over the arrays on every training step)."""
    check_float_array(pred_name, pred, finite=finite)
    check_float_array(target_name, target, finite=finite)
    if pred.shape != target.shape:
        raise ValueError(f"{target_name} must have the shape of {pred_name} {pred.shape}, got {target.shape}")
    if pred.size == 0:
        raise ValueError(f"{pred_name} is empty (shape {pred.shape}): nothing to average")
    return pred, target


def _finite_or_raise(loss: float, *named: tuple[str, np.ndarray]) -> None:
    """A non-finite loss: the input that made it so is named (as the eager check would have); a loss that
    overflowed from finite inputs is returned as it is."""
    if not math.isfinite(loss):
        for name, x in named:
            check_float_array(name, x)


def _check_unit_interval(name: str, x: np.ndarray) -> None:
    if x.min() < 0 or x.max() > 1:
        check_float_array(name, x)  # (an inf is named as such before the range)
        raise ValueError(f"{name} values must be in [0, 1], got range [{x.min()}, {x.max()}]")


def _check_mask(mask: Any, shape: tuple) -> np.ndarray:
    w = np.asarray(mask)
    if w.shape != shape:
        raise ValueError(f"mask must have shape {shape} (like targets), got {w.shape}")
    if w.dtype == bool:
        return w
    if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
        raise ValueError(f"mask must be a bool or real array of weights, got dtype {w.dtype}")
    if not np.isfinite(w).all():
        raise ValueError("mask contains NaN or inf values")
    if w.size and w.min() < 0:
        raise ValueError(f"mask weights must be >= 0, got minimum {w.min()}")
    return w


def softmax_cross_entropy(logits: np.ndarray, targets: Any, mask: Any = None,
                          reduction: str = "mean") -> tuple[float, np.ndarray, np.ndarray]:
    """Cross-entropy of ``softmax(logits)`` against integer ``targets``.

    logits: (..., V) floats; targets: (...) ints in [0, V); mask: (...) of
    non-negative weights (bool or float; 0 = ignore the position), or None.
    reduction: ``"mean"``: sum of weighted losses / sum of weights (the mean over
    unmasked positions; 0.0 if every position is masked); ``"sum"``: the
    weighted sum (min-char-rnn sums over its timesteps).
    Returns (loss, dlogits (..., V) = d loss / d logits, probs (..., V)).
    """
    check_float_array("logits", logits)
    check_choice("reduction", reduction, ("mean", "sum"))
    if logits.ndim < 1 or logits.shape[-1] < 1:
        raise ValueError(f"logits must have shape (..., V) with V >= 1, got {logits.shape}")
    V = logits.shape[-1]
    targets = check_int_array("targets", targets, high=V)
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"targets must have shape {logits.shape[:-1]} (logits without the class axis), "
                         f"got {targets.shape}")
    flat = logits.reshape(-1, V)  # (N, V)
    N = flat.shape[0]
    rows, tflat = np.arange(N), targets.reshape(-1)  # (N,), (N,)
    probs = flat - flat.max(axis=1, keepdims=True)  # (N, V) shifted logits; exp'ed in place below
    picked = probs[rows, tflat]  # (N,) shifted logit of the target
    np.exp(probs, out=probs)
    sums = probs.sum(axis=1, keepdims=True)  # (N, 1)
    probs /= sums
    nll = np.log(sums[:, 0]) - picked  # (N,)
    if mask is None:
        total = float(nll.sum())
        norm = float(N) if reduction == "mean" else 1.0
        scale: Any = 1.0 / norm if norm else 0.0
    else:
        w = _check_mask(mask, targets.shape).astype(logits.dtype, copy=False).reshape(-1)  # (N,)
        total = float(nll @ w)
        norm = float(w.sum()) if reduction == "mean" else 1.0
        scale = (w / norm if norm else w * 0.0)[:, None]  # (N, 1)
    shape = logits.shape
    if norm == 0.0:  # everything masked (or nothing there): no loss, no gradient
        return 0.0, np.zeros_like(logits), probs.reshape(shape)
    dlogits = probs * scale if mask is not None or norm != 1.0 else probs.copy()  # (N, V)
    dlogits[rows, tflat] -= scale if mask is None else scale[:, 0]
    return total / norm, dlogits.reshape(shape), probs.reshape(shape)


def mse(pred: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error over all elements. Returns (loss, dpred = 2 (pred - target) / N)."""
    pred, target = _pair("pred", pred, "target", target, finite=False)
    diff = pred - target
    loss = float((diff * diff).sum()) / diff.size
    _finite_or_raise(loss, ("pred", pred), ("target", target))
    return loss, diff * (2.0 / diff.size)


def bce_with_sigmoid(logits: np.ndarray, target: np.ndarray, grad: bool = True,
                     prob: np.ndarray | None = None) -> tuple[float, np.ndarray | None]:
    """Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in [0, 1], mean over elements.

    Stable form: max(x, 0) - x t + log(1 + exp(-|x|)). Returns (loss, (sigmoid(x) - t) / N);
    ``grad=False``: (loss, None). ``prob``: sigmoid(logits) if the caller has it already.
    """
    logits, target = _pair("logits", logits, "target", target, finite=False)
    _check_unit_interval("target", target)
    x = logits
    loss = np.maximum(x, 0) - x * target + np.log1p(np.exp(-np.abs(x)))
    mean = float(np.add.reduce(loss, axis=None)) / loss.size
    _finite_or_raise(mean, ("logits", logits), ("target", target))
    if not grad:
        return mean, None
    return mean, ((sigmoid(x) if prob is None else prob) - target) / x.size


def bce(prob: np.ndarray, target: np.ndarray, eps: float | None = None) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of probabilities ``prob`` in [0, 1] against ``target`` in [0, 1].

    ``prob`` is clipped to [eps, 1 - eps] before the logs (eps defaults to 1e-7
    for float32, 1e-12 for float64) so 0 and 1 give a large finite loss.
    Returns (loss, dprob = (p - t) / (p (1 - p)) / N), with the clipped p.
    Prefer :func:`bce_with_sigmoid` when you have logits.
    """
    prob, target = _pair("prob", prob, "target", target)
    _check_unit_interval("prob", prob)
    _check_unit_interval("target", target)
    if eps is None:
        eps = 1e-7 if prob.dtype == np.float32 else 1e-12
    p = np.clip(prob, eps, 1 - eps)
    loss = -(target * np.log(p) + (1 - target) * np.log1p(-p))
    return float(loss.mean()), (p - target) / (p * (1 - p)) / p.size


def quadratic_cost(a: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The seed MLP's cost: 0.5 * ||a - y||^2 per example, averaged over the batch.

    a, y: (B, K). Returns (loss, da = (a - y) / B): the seed's ``cost_derivative``
    (a - y), divided by the batch size as the seed's update does.
    """
    a, y = _pair("a", a, "y", y, finite=False)
    if a.ndim != 2:
        raise ValueError(f"a must have shape (B, K), got {a.shape}")
    diff = a - y  # (B, K)
    B = a.shape[0]
    loss = float(0.5 * np.sum(diff * diff) / B)
    _finite_or_raise(loss, ("a", a), ("y", y))
    return loss, diff / B
