"""Fisher's iris data (bundled with scikit-learn, no download): a fixed stratified split.

``load_iris_split(test_fraction=0.2, split_seed=0)`` returns an :class:`IrisData`
with standardized features (mean/std of the *training* set) and the raw
features for display. The split is stratified (each class split in the same
proportion) and depends only on ``split_seed``, never on a run's seed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.data import DataError


@dataclass(frozen=True)
class IrisData:
    """x_*: (N, 4) standardized float64; y_*: (N,) int64 class ids; raw_*: (N, 4) in cm."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    raw_train: np.ndarray
    raw_test: np.ndarray
    mean: np.ndarray  # (4,)
    std: np.ndarray  # (4,)
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    try:
        from sklearn.datasets import load_iris
    except ImportError as e:  # pragma: no cover - scikit-learn is a dependency
        raise DataError(f"the iris data needs scikit-learn ({e})") from None
    d = load_iris()
    names = tuple(n.replace(" (cm)", "") for n in d.feature_names)
    x = np.asarray(d.data, dtype=np.float64)  # (150, 4)
    y = np.asarray(d.target, dtype=np.int64)  # (150,)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y, names, tuple(str(c) for c in d.target_names)


def stratified_split(y: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx), sorted; each class contributes round(test_fraction * n_class) test examples."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    test = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        k = int(round(test_fraction * idx.size))
        test.append(rng.permutation(idx)[:k])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(y.size), test_idx)
    return train_idx, test_idx


def load_iris_split(test_fraction: float = 0.2, split_seed: int = 0) -> IrisData:
    """The 150 iris flowers split 80/20 (stratified, fixed by ``split_seed``), standardized."""
    x, y, features, classes = _raw()
    tr, te = stratified_split(y, test_fraction, np.random.default_rng(split_seed))
    mean = x[tr].mean(axis=0)  # (4,)
    std = x[tr].std(axis=0)  # (4,)
    std = np.where(std > 0, std, 1.0)
    return IrisData(
        x_train=(x[tr] - mean) / std, y_train=y[tr].copy(),
        x_test=(x[te] - mean) / std, y_test=y[te].copy(),
        raw_train=x[tr].copy(), raw_test=x[te].copy(),
        mean=mean, std=std, feature_names=features, class_names=classes,
    )
