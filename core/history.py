"""Bounded metric history: full resolution for recent points, decimated older ones.

A training run may last millions of steps; the loss panel needs the whole
curve but not every point of it. :class:`Series` keeps

* the very first point exactly (the curve starts where training started),
* the most recent ``recent`` .. ``2 * recent`` points at full resolution,
* older points in *levels*: level ``k`` (1-based) holds means of ``2**k``
  consecutive points, at most ``level_size`` of them. When a level overflows,
  its oldest points are averaged in pairs into the next level. The last level
  (``max_levels``) halves itself in place when full.

So memory is bounded by ``1 + 2*recent + max_levels*(level_size+1)`` points
(plus up to ``pending`` un-flushed appends), whatever the number of steps.
A decimated point's step is the mean step of the points it stands for (float).

Appending is cheap (two list appends); ``extend`` is vectorised. Steps must be
appended in non-decreasing order (training steps only grow).

:class:`MetricHistory` holds one Series per metric name.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

_EMPTY = np.empty(0, dtype=np.float64)


def _pair_mean(a: np.ndarray) -> np.ndarray:
    """Means of consecutive pairs of an even-length 1-D array: (2n,) -> (n,). (The same values as
    ``a.reshape(-1, 2).mean(axis=1)``: halving is exact; without its Python-level overhead.)"""
    return (a[0::2] + a[1::2]) * 0.5


class Series:
    """One metric over training steps, bounded in memory.

    Parameters: ``recent`` full-resolution points kept (between recent and 2x),
    ``level_size`` points per decimation level, ``max_levels`` levels.
    """

    def __init__(self, recent: int = 2048, level_size: int = 1024, max_levels: int = 20, pending: int = 1024):
        if recent < 2 or level_size < 2 or max_levels < 1 or pending < 1:
            raise ValueError("Series: recent and level_size must be >= 2, max_levels and pending >= 1")
        self.recent = int(recent)
        self.level_size = int(level_size)
        self.max_levels = int(max_levels)
        self._pending_limit = int(pending)
        self._first: tuple[float, float] | None = None
        self._ps: list[float] = []  # pending appends (steps)
        self._pv: list[float] = []  # pending appends (values)
        self._rs = _EMPTY  # recent steps, full resolution
        self._rv = _EMPTY
        self._levels: list[list[np.ndarray]] = []  # [steps, values]; index 0 = finest (2x)
        self._level_points: int | None = None  # points in the levels (None: count them again)
        self.count = 0  # points ever added (first point included)
        self.last_step: float | None = None

    # -- adding -------------------------------------------------------------
    def append(self, step: float, value: float) -> None:
        """Add one point (cheap). ``step`` must not be smaller than the last one."""
        if self._first is None:
            self._first = (float(step), float(value))
        else:
            self._ps.append(step)
            self._pv.append(value)
            if len(self._ps) >= self._pending_limit:
                self._flush()
        self.count += 1
        self.last_step = float(step)

    def extend(self, steps: Iterable[float], values: Iterable[float]) -> None:
        """Add many points at once (vectorised). ``steps`` non-decreasing, same length as ``values``."""
        s = np.asarray(steps, dtype=np.float64).ravel()
        v = np.asarray(values, dtype=np.float64).ravel()
        if s.shape != v.shape:
            raise ValueError(f"extend: steps has {s.size} entries but values has {v.size}")
        if s.size == 0:
            return
        if self._first is None:
            self._first = (float(s[0]), float(v[0]))
            s, v = s[1:], v[1:]
            self.count += 1
        self._flush()
        self._rs = np.concatenate([self._rs, s])
        self._rv = np.concatenate([self._rv, v])
        self.count += s.size
        self.last_step = float(self._first[0] if s.size == 0 else s[-1])
        self._compact()

    def _flush(self) -> None:
        if self._ps:
            self._rs = np.concatenate([self._rs, np.asarray(self._ps, dtype=np.float64)])
            self._rv = np.concatenate([self._rv, np.asarray(self._pv, dtype=np.float64)])
            self._ps, self._pv = [], []
            self._compact()

    def _compact(self) -> None:
        """Move the oldest recent points into the levels while recent exceeds 2x its size."""
        n = self._rs.size
        if n <= 2 * self.recent:
            return
        k = (n - self.recent) // 2 * 2  # even number of oldest points to decimate
        s, v = self._rs[:k], self._rv[:k]
        self._rs, self._rv = self._rs[k:].copy(), self._rv[k:].copy()
        self._push(0, _pair_mean(s), _pair_mean(v))

    def _push(self, level: int, s: np.ndarray, v: np.ndarray) -> None:
        """Add (older-than-everything-in-finer-levels) points to ``level``; cascade overflow."""
        self._level_points = None
        while True:
            if level == len(self._levels):
                self._levels.append([_EMPTY, _EMPTY])
            ls, lv = self._levels[level]
            ls = np.concatenate([ls, s])
            lv = np.concatenate([lv, v])
            if ls.size <= self.level_size:
                self._levels[level] = [ls, lv]
                return
            if level == self.max_levels - 1:  # last level: halve in place until it fits
                while ls.size > self.level_size:
                    k = ls.size // 2 * 2
                    ls = np.concatenate([_pair_mean(ls[:k]), ls[k:]])
                    lv = np.concatenate([_pair_mean(lv[:k]), lv[k:]])
                self._levels[level] = [ls, lv]
                return
            k = (ls.size - self.level_size + 1) // 2 * 2  # even count of oldest points to move down
            self._levels[level] = [ls[k:].copy(), lv[k:].copy()]
            s, v = _pair_mean(ls[:k]), _pair_mean(lv[:k])
            level += 1

    # -- reading ------------------------------------------------------------
    def __len__(self) -> int:
        """Points currently stored (not the number ever added: see ``count``)."""
        if self._level_points is None:  # (a live view asks every frame: counted once per change of the levels)
            self._level_points = sum(l[0].size for l in self._levels)
        return (self._first is not None) + len(self._ps) + self._rs.size + self._level_points

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` float64 arrays in increasing step order (new arrays)."""
        self._flush()
        if self._first is None:
            return _EMPTY.copy(), _EMPTY.copy()
        parts_s = [np.array([self._first[0]])] + [l[0] for l in reversed(self._levels)] + [self._rs]
        parts_v = [np.array([self._first[1]])] + [l[1] for l in reversed(self._levels)] + [self._rv]
        return np.concatenate(parts_s), np.concatenate(parts_v)

    def since(self, step: float) -> tuple[np.ndarray, np.ndarray]:
        """Stored points with step > ``step`` (for incremental GUI updates)."""
        self._flush()
        if self._first is None:
            return _EMPTY.copy(), _EMPTY.copy()
        if self._rs.size and step >= self._rs[0]:  # fast path: only recent points
            i = int(np.searchsorted(self._rs, step, side="right"))
            return self._rs[i:].copy(), self._rv[i:].copy()
        s, v = self.arrays()
        i = int(np.searchsorted(s, step, side="right"))
        return s[i:], v[i:]

    def last(self) -> tuple[float, float] | None:
        """The most recent ``(step, value)``, or None if empty."""
        if self._ps:
            return float(self._ps[-1]), float(self._pv[-1])
        if self._rs.size:
            return float(self._rs[-1]), float(self._rv[-1])
        for ls, lv in self._levels:
            if ls.size:
                return float(ls[-1]), float(lv[-1])
        return self._first

    # -- persistence ----------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """The exact internal structure as arrays: ``first`` (2,), ``recent`` (2, n), ``level<k>`` (2, n), ``meta``."""
        self._flush()
        out = {"meta": np.array([self.recent, self.level_size, self.max_levels, self.count], dtype=np.int64)}
        if self._first is not None:
            out["first"] = np.array(self._first, dtype=np.float64)
        out["recent"] = np.stack([self._rs, self._rv])
        for i, (ls, lv) in enumerate(self._levels):
            out[f"level{i}"] = np.stack([ls, lv])
        return out

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> "Series":
        """Inverse of :meth:`state`. Raises ValueError on malformed input."""
        try:
            recent, level_size, max_levels, count = (int(x) for x in np.asarray(state["meta"]).ravel()[:4])
            out = cls(recent, level_size, max_levels)
            if "first" in state:
                f = np.asarray(state["first"], dtype=np.float64).ravel()
                out._first = (float(f[0]), float(f[1]))
            r = np.asarray(state["recent"], dtype=np.float64).reshape(2, -1)
            out._rs, out._rv = r[0].copy(), r[1].copy()
            i = 0
            while f"level{i}" in state:
                l = np.asarray(state[f"level{i}"], dtype=np.float64).reshape(2, -1)
                out._levels.append([l[0].copy(), l[1].copy()])
                i += 1
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise ValueError(f"malformed metric history: {e}") from None
        out.count = count
        last = out.last()
        out.last_step = None if last is None else last[0]
        return out


class MetricHistory:
    """One bounded :class:`Series` per metric name.

    ``record(step, {"loss": 0.3, "accuracy": 0.9})`` appends to each series;
    ``since(step)`` gives ``{name: (steps, values)}`` of points newer than ``step``.
    """

    def __init__(self, **series_kwargs: int):
        self._kw = series_kwargs
        self._series: dict[str, Series] = {}

    def series(self, name: str) -> Series:
        """The series for ``name`` (created empty if new)."""
        s = self._series.get(name)
        if s is None:
            s = self._series[name] = Series(**self._kw)
        return s

    def __contains__(self, name: str) -> bool:
        return name in self._series

    def __len__(self) -> int:
        return len(self._series)

    def names(self) -> list[str]:
        """Metric names in order of first appearance."""
        return list(self._series)

    def append(self, name: str, step: float, value: float) -> None:
        self.series(name).append(step, value)

    def record(self, step: float, metrics: Mapping[str, float]) -> None:
        """Append every ``name: value`` of ``metrics`` at ``step``."""
        for k, v in metrics.items():
            self.series(k).append(step, float(v))

    def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(steps, values)`` of one metric (empty arrays if unknown)."""
        if name not in self._series:
            return _EMPTY.copy(), _EMPTY.copy()
        return self._series[name].arrays()

    def since(self, step: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{name: (steps, values)}`` of points with step > ``step``; metrics without new points are left out."""
        out = {}
        for k, s in self._series.items():
            if s.last_step is not None and s.last_step > step:
                out[k] = s.since(step)
        return out

    def last(self, name: str) -> float | None:
        """Latest value of ``name`` or None."""
        s = self._series.get(name)
        p = None if s is None else s.last()
        return None if p is None else p[1]

    # -- persistence ----------------------------------------------------------
    def to_arrays(self, prefix: str = "history/") -> dict[str, np.ndarray]:
        """Flat ``{prefix + name + "/" + part: array}`` for saving in an .npz."""
        out = {}
        for k, s in self._series.items():
            for part, a in s.state().items():
                out[f"{prefix}{k}/{part}"] = a
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "history/") -> "MetricHistory":
        """Inverse of :meth:`to_arrays` (keys without ``prefix`` are ignored)."""
        groups: dict[str, dict[str, np.ndarray]] = {}
        for key, a in arrays.items():
            if not key.startswith(prefix):
                continue
            name, _, part = key[len(prefix):].rpartition("/")
            if not name or not part:
                raise ValueError(f"malformed metric history key {key!r}")
            groups.setdefault(name, {})[part] = a
        out = cls()
        for name, st in groups.items():
            out._series[name] = Series.from_state(st)
        return out
