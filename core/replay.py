"""Training time as a second axis: keyframes, events and exact snapshots of a run.

* A :class:`Keyframe` is what the panels showed at one training step: the probe (every
  layer and state), the experiment's views (samples, forecast, bit board...) and the
  metrics recorded at that step. :class:`KeyframeStore` records them on a schedule that
  is dense early (log-spaced: steps 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, ...) and every
  ``every`` steps later, within a memory budget (default 100 MB per run): past it the
  oldest keyframes of the dense part are thinned (every other one), the first and the
  latest always kept. ``at(step)`` gives the keyframe in force at a step (the newest at
  or before it).
* A :class:`RunEvent` marks a moment on every time axis: a live change, a divergence, a
  loss spike, a checkpoint, a restart or fork, a note the user typed.
* A :class:`StateSnapshot` of the exact training state (parameters, optimizer state, RNG,
  step, metric history) is kept on a coarser schedule and a byte budget (default 200 MB)
  in :class:`SnapshotStore`; restoring one continues bit-identically.
* :func:`encode` / :func:`decode` turn keyframes (frozen dataclasses of arrays, strings
  and numbers: Probe, LayerTrace and the core views) into JSON plus named arrays for a
  checkpoint — no pickle; only types registered here are rebuilt.
"""
from __future__ import annotations

import bisect
import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from core.history import MetricHistory

DEFAULT_KEYFRAME_BYTES = 100 * 2**20
DEFAULT_SNAPSHOT_BYTES = 200 * 2**20
DENSE_UNTIL = 1000  # log-spaced keyframes below this step, then every ``every`` steps
DENSE_RATIO = 1.18  # consecutive early keyframes are at most this far apart (factor)


@dataclass(frozen=True)
class RunEvent:
    """A moment of a run: ``kind`` is one of live, diverged, spike, saved, restart, fork, loaded, note,
    rewind; ``text`` says what happened."""

    step: int
    kind: str
    text: str

    def to_json(self) -> dict:
        return {"step": int(self.step), "kind": self.kind, "text": self.text}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "RunEvent":
        try:
            return cls(int(d["step"]), str(d["kind"]), str(d["text"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"malformed event {d!r}: expected step, kind and text") from None


@dataclass(frozen=True)
class Keyframe:
    step: int
    probe: Any  # core.probe.Probe or None
    views: tuple = ()
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return _nbytes(self.probe) + _nbytes(self.views) + 64 * (1 + len(self.metrics))


def _nbytes(obj: Any) -> int:
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return 64 + sum(_nbytes(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, Mapping):
        return 64 + sum(_nbytes(v) + 32 for v in obj.values())
    if isinstance(obj, (tuple, list)):
        return 32 + sum(_nbytes(v) for v in obj)
    if isinstance(obj, str):
        return 50 + len(obj)
    return 16


def dense_steps(until: int = DENSE_UNTIL, ratio: float = DENSE_RATIO) -> list[int]:
    """The early keyframe steps: 1, 2, 3, ... growing by at most ``ratio`` each, below ``until``."""
    out, s = [], 1
    while s < until:
        out.append(s)
        s = max(s + 1, int(math.floor(s * ratio)))
    return out


class KeyframeStore:
    """Keyframes of one run, bounded in memory (see the module docstring)."""

    def __init__(self, budget: int = DEFAULT_KEYFRAME_BYTES, every: int = 100):
        if budget <= 0 or every < 1:
            raise ValueError("keyframes: the budget must be positive and every >= 1")
        self.budget = int(budget)
        self.every = int(every)  # the regular interval; core.run.Run stretches it to a multiple of base_every
        self.base_every = int(every)
        self._dense_list = dense_steps()
        self._dense = set(self._dense_list)
        self.frames: dict[int, Keyframe] = {}
        self.nbytes = 0

    def due(self, step: int) -> bool:
        """Whether ``step`` is on the schedule (and not recorded yet)."""
        return step not in self.frames and (step in self._dense or (step >= DENSE_UNTIL and step % self.every == 0))

    def next_due(self, step: int) -> int:
        """The first step after ``step`` that is on the schedule (recorded or not): nothing is due before it
        (so a caller checks :meth:`due` only there)."""
        i = bisect.bisect_right(self._dense_list, step)
        dense = self._dense_list[i] if i < len(self._dense_list) else math.inf
        regular = max(step + 1, DENSE_UNTIL)
        regular += -regular % self.every
        return int(min(dense, regular))

    def add(self, frame: Keyframe) -> None:
        old = self.frames.pop(frame.step, None)
        if old is not None:
            self.nbytes -= old.nbytes
        last = next(reversed(self.frames), None)
        self.frames[frame.step] = frame
        if last is not None and frame.step < last:  # (in order, the usual case, costs no sort)
            self.frames = dict(sorted(self.frames.items()))
        self.nbytes += frame.nbytes
        while self.nbytes > self.budget and len(self.frames) > 2:
            self._thin()

    def _thin(self) -> None:
        """Drop every other keyframe of the oldest half (the first and the latest stay)."""
        steps = list(self.frames)
        half = steps[1: max(2, len(steps) // 2)]
        for s in half[::2] or steps[1:2]:
            self.nbytes -= self.frames.pop(s).nbytes

    def steps(self) -> list[int]:
        return list(self.frames)

    def at(self, step: int) -> Keyframe | None:
        """The keyframe in force at ``step``: the newest recorded at or before it (None before the first)."""
        best = None
        for s, f in self.frames.items():
            if s > step:
                break
            best = f
        return best

    def truncate(self, step: int) -> None:
        """Forget keyframes after ``step`` (a rewind)."""
        for s in [s for s in self.frames if s > step]:
            self.nbytes -= self.frames.pop(s).nbytes

    def copy(self) -> "KeyframeStore":
        out = KeyframeStore(self.budget, self.base_every)
        out.every, out.frames, out.nbytes = self.every, dict(self.frames), self.nbytes
        return out

    # -- persistence ------------------------------------------------------------------------------
    def to_arrays(self, prefix: str = "keyframes/") -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        doc = [encode(f, arrays, f"{prefix}{i}/") for i, f in enumerate(self.frames.values())]
        arrays[f"{prefix}index_json"] = np.array(json.dumps({"every": self.every, "frames": doc}))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "keyframes/",
                    budget: int = DEFAULT_KEYFRAME_BYTES) -> "KeyframeStore":
        out = cls(budget)
        key = f"{prefix}index_json"
        if key not in arrays:
            return out
        try:
            doc = json.loads(str(arrays[key][()]))
            out.every = int(doc.get("every", out.every))
            for item in doc["frames"]:
                frame = decode(item, arrays)
                if not isinstance(frame, Keyframe):
                    raise ValueError("a keyframe entry is not a keyframe")
                out.add(frame)
        except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed keyframes: {exc}") from None
        return out


# -- exact snapshots ------------------------------------------------------------------------------
@dataclass(frozen=True)
class StateSnapshot:
    """The exact training state at ``step``: ``state`` (Experiment.state_dict copies), the RNG state and the
    metric history up to that step."""

    step: int
    state: Mapping[str, np.ndarray]
    rng: Mapping[str, Any]
    history: Mapping[str, np.ndarray]
    config: Mapping[str, Any]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.state.values()) + sum(a.nbytes for a in self.history.values())


def take_snapshot(experiment: Any, history: MetricHistory) -> StateSnapshot:
    return StateSnapshot(int(experiment.step), experiment.state_dict(), experiment.rng.bit_generator.state,
                    history.to_arrays(), dict(experiment.config))


def restore_snapshot(snap: StateSnapshot, experiment: Any) -> MetricHistory:
    """Put ``snap`` back into ``experiment`` (same class and structure); returns the history as it was then."""
    for name, value in snap.config.items():  # live settings as they were (before the state: an optimizer
        if experiment.config.get(name) != value:  # switch resets its state)
            experiment.set_live(name, value)
    experiment.load_state_dict(snap.state)
    experiment.rng.bit_generator.state = snap.rng
    experiment.step = snap.step
    return MetricHistory.from_arrays(snap.history)


class SnapshotStore:
    """Exact snapshots every ``every`` steps (and on demand), within ``budget`` bytes: past it the oldest
    but the first are dropped."""

    def __init__(self, budget: int = DEFAULT_SNAPSHOT_BYTES, every: int = 500):
        self.budget, self.every = int(budget), int(every)
        self.snaps: dict[int, StateSnapshot] = {}
        self._sizes: dict[int, int] = {}  # step -> nbytes (a running total: an add costs no walk over all)
        self.nbytes = 0

    def due(self, step: int) -> bool:
        return step not in self.snaps and (step == 0 or step % self.every == 0 or step in (50, 200))

    def next_due(self, step: int) -> int:
        """The first step after ``step`` on the schedule (see KeyframeStore.next_due)."""
        regular = step + 1 + (-(step + 1) % self.every)
        return min([s for s in (50, 200) if s > step] + [regular])

    def add(self, snap: StateSnapshot) -> None:
        last = next(reversed(self.snaps), None)
        self.nbytes -= self._sizes.pop(snap.step, 0)
        self.snaps[snap.step] = snap
        self._sizes[snap.step] = size = snap.nbytes
        self.nbytes += size
        if last is not None and snap.step < last:  # (in order, the usual case, costs no sort)
            self.snaps = dict(sorted(self.snaps.items()))
        while self.nbytes > self.budget and len(self.snaps) > 2:
            self._drop(next(s for i, s in enumerate(self.snaps) if i == 1))

    def copy(self, upto: int | None = None) -> "SnapshotStore":
        """A store holding the same snapshots (those at or before ``upto``; they are frozen: shared)."""
        out = SnapshotStore(self.budget, self.every)
        for step, snap in self.snaps.items():
            if upto is None or step <= upto:
                out.snaps[step] = snap
                out._sizes[step] = self._sizes[step]
                out.nbytes += self._sizes[step]
        return out

    def _drop(self, step: int) -> None:
        del self.snaps[step]
        self.nbytes -= self._sizes.pop(step)

    def at(self, step: int) -> StateSnapshot | None:
        """The newest snapshot at or before ``step``."""
        best = None
        for s, snap in self.snaps.items():
            if s > step:
                break
            best = snap
        return best

    def truncate(self, step: int) -> None:
        for s in [s for s in self.snaps if s > step]:
            self._drop(s)

    def steps(self) -> list[int]:
        return list(self.snaps)


# -- JSON + arrays encoding of frozen dataclasses (no pickle) ----------------------------------------
def _types() -> dict[str, type]:
    from core import probe, views

    out = {"Keyframe": Keyframe, "Probe": probe.Probe, "LayerTrace": probe.LayerTrace}
    for name in dir(views):
        obj = getattr(views, name)
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and issubclass(obj, views.View):
            out[name] = obj
    try:
        from core.analysis import views as aviews
    except ImportError:
        return out
    for name in dir(aviews):
        obj = getattr(aviews, name)
        if isinstance(obj, type) and dataclasses.is_dataclass(obj) and issubclass(obj, views.View):
            out[name] = obj
    return out


def encode(obj: Any, arrays: dict[str, np.ndarray], prefix: str) -> Any:
    """A JSON-able description of ``obj``; its arrays are stored in ``arrays`` under ``prefix``-based keys."""
    counter = [0]

    def enc(o: Any) -> Any:
        if isinstance(o, np.ndarray):
            key = f"{prefix}{counter[0]}"
            counter[0] += 1
            arrays[key] = np.ascontiguousarray(o)
            return {"__array__": key}
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {"__type__": type(o).__name__, **{f.name: enc(getattr(o, f.name)) for f in dataclasses.fields(o)}}
        if isinstance(o, Mapping):
            return {"__map__": [[enc(k), enc(v)] for k, v in o.items()]}
        if isinstance(o, (tuple, list)):
            return {"__tuple__": [enc(v) for v in o]}
        if isinstance(o, (np.floating, float)):
            f = float(o)
            return f if math.isfinite(f) else {"__float__": repr(f)}
        if isinstance(o, (np.integer, np.bool_)):
            return o.item()
        if o is None or isinstance(o, (str, int, bool)):
            return o
        raise ValueError(f"cannot store a {type(o).__name__} in a keyframe")

    return enc(obj)


def decode(doc: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of :func:`encode`; only the registered frozen dataclasses are rebuilt (arrays read-only)."""
    types = _types()

    def dec(d: Any) -> Any:
        if isinstance(d, dict):
            if "__array__" in d:
                a = np.array(arrays[d["__array__"]], copy=True)
                a.setflags(write=False)
                return a
            if "__type__" in d:
                cls = types.get(d["__type__"])
                if cls is None:
                    raise ValueError(f"unknown type {d['__type__']!r} in stored keyframes")
                return cls(**{k: dec(v) for k, v in d.items() if k != "__type__"})
            if "__map__" in d:
                return {dec(k): dec(v) for k, v in d["__map__"]}
            if "__tuple__" in d:
                return tuple(dec(v) for v in d["__tuple__"])
            if "__float__" in d:
                return float(d["__float__"])
            raise ValueError(f"malformed stored value {d!r}")
        if isinstance(d, list):
            return tuple(dec(v) for v in d)
        return d

    return dec(doc)


def diagnose(experiment: Any) -> str:
    """Where a blow-up shows on the probe: the state value and the ‖dL/dh_t‖ that are largest (timestep,
    layer, unit or gate), as one sentence; "" when the probe cannot be computed."""
    try:
        probe = experiment.probe()
    except Exception:  # noqa: BLE001 — a diagnosis must never add a failure of its own
        return ""
    best = None  # (|value|, text)
    grad = None
    for li, layer in enumerate(probe.layers):
        for key, a in layer.states.items():
            a = np.abs(np.nan_to_num(np.asarray(a, dtype=np.float64), nan=np.inf))
            if a.size:
                t, u = np.unravel_index(int(np.argmax(a)), a.shape)
                if best is None or a[t, u] > best[0]:
                    best = (float(a[t, u]), f"largest |{layer.title(key)}| {a[t, u]:.3g} at timestep {t}, "
                                            f"layer {li + 1}, unit {u}")
        if layer.grad_norm is not None and np.size(layer.grad_norm):
            g = np.nan_to_num(np.asarray(layer.grad_norm, dtype=np.float64), nan=np.inf)
            t = int(np.argmax(g))
            if grad is None or g[t] > grad[0]:
                grad = (float(g[t]), f"largest ‖dL/dh_t‖ {g[t]:.3g} at timestep {t}, layer {li + 1}")
    return "; ".join(x[1] for x in (best, grad) if x is not None)


def events_to_jsonl(events: list[RunEvent]) -> str:
    return "".join(json.dumps(e.to_json()) + "\n" for e in events)


def events_from_jsonl(text: str) -> list[RunEvent]:
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(RunEvent.from_json(json.loads(line)))
            except (ValueError, json.JSONDecodeError) as exc:
                raise ValueError(f"events line {i}: {exc}") from None
    return out
