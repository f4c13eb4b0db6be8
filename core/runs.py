"""Several runs side by side: fork a run mid-training, keep every replaced run, compare.

A :class:`RunSet` owns numbered :class:`core.run.Run` objects. One run is *selected*
(the panels show it; live changes, Save and the probe go to it); any number are
*active* (the transport's Play, Pause, Step and speed cap drive them, and they train
in turn within one chunk budget). Nothing is ever dropped by a click: a Restart or a
Load adds a new run and selects it, the previous one stays in the list, paused, and
can be selected, activated or saved again; only :class:`RemoveRun` removes one.

Commands (frozen dataclasses, dispatched by type like core.run's): :class:`Fork`,
:class:`SelectRun`, :class:`RemoveRun`, :class:`RenameRun`, :class:`SetActive`,
:class:`SetCompare`; every core.run command is routed as described above. Every
change of the list comes back as a :class:`RunsChanged` event carrying one frozen
:class:`RunInfo` per run (colour index, name, differing hyperparameters, step, main
metric, status), so the GUI's Runs panel needs nothing else.

Forking copies the exact state (parameters, optimizer state, RNG, step, metric
history): a fork with no change continues bit-identically to its parent; with live
changes (learning rate, clipping...) it differs from the fork step on; with a
structural change (cell, hidden size...) it starts afresh from the same seed at step 0.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

from core.config import ConfigError
from core.experiments.base import Experiment
from core.history import MetricHistory
from core.probe import Snapshot
from core.run import (Command, Event, EventAdded, Failed, LiveApplied, Load, Notice, Pause, Play, Refresh, Replaced, Restart, Run, RunSpec,
                      SetSpeed, StateChanged, Step)


LIST_INTERVAL = 1.0  # seconds between RunsChanged updates while training (steps, metrics in the list)


# -- commands ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fork(Command):
    """Copy run ``source`` (None: the selected one) with ``values`` changed; the copy is selected
    and active. ``name``: its name in the list ("" = derived from the changes)."""

    source: int | None = None
    values: tuple[tuple[str, Any], ...] = ()
    name: str = ""
    at: int | None = None  # branch from the source's exact snapshot at or before this step (None: from now)

    @classmethod
    def of(cls, source: int | None = None, name: str = "", at: int | None = None, **values: Any) -> "Fork":
        return cls(source, tuple(sorted(values.items())), name, at)


@dataclass(frozen=True)
class SelectRun(Command):
    run: int


@dataclass(frozen=True)
class RemoveRun(Command):
    run: int


@dataclass(frozen=True)
class RenameRun(Command):
    run: int
    name: str


@dataclass(frozen=True)
class SetActive(Command):
    """Whether run ``run`` follows the transport (Play/Pause/Step)."""

    run: int
    active: bool


@dataclass(frozen=True)
class SetCompare(Command):
    """Show run ``run`` beside the selected one (its probe and views come too); None: no comparison."""

    run: int | None


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunInfo:
    """One row of the runs list."""

    id: int
    name: str
    experiment: str
    spec: RunSpec
    step: int
    state: str  # "idle" | "running" | "paused" | "diverged"
    active: bool
    parent: int | None = None
    fork_step: int | None = None
    differs: tuple[tuple[str, Any], ...] = ()  # hyperparameters that differ from the first run of its experiment
    metric: str = ""  # the main metric's name
    value: float | None = None  # its latest value
    events: tuple = ()  # core.replay.RunEvent: the moments on its time axis
    keyframe_steps: tuple[int, ...] = ()  # steps with a keyframe (replayable)
    snapshot_steps: tuple[int, ...] = ()  # steps with an exact snapshot (rewindable)


@dataclass(frozen=True)
class RunsChanged(Event):
    runs: tuple[RunInfo, ...]
    selected: int
    compare: int | None = None


@dataclass(frozen=True)
class Selected(Event):
    """Another existing run is now shown (its history is already in the GUI)."""

    run: int
    spec: RunSpec


def main_metric(cls: type[Experiment], preset: str | None) -> str:
    """The metric that ranks runs: the preset's target, else the first declared quality metric, else loss."""
    target = cls.target_for(preset)
    if target is not None:
        return target.metric
    quality = [m.name for m in getattr(cls, "metrics", ()) if m.group == "quality"]
    return quality[0] if quality else "loss"


def clone_experiment(experiment: Experiment, spec: RunSpec) -> Experiment:
    """An exact copy of ``experiment`` (built from ``spec``, then parameters, optimizer state, RNG and
    step copied): training it gives the same numbers as training the original."""
    twin = spec.build()
    twin.load_state_dict(experiment.state_dict())
    twin.rng.bit_generator.state = experiment.rng.bit_generator.state
    twin.step = experiment.step
    return twin


def _copy_history(history: MetricHistory) -> MetricHistory:
    return MetricHistory.from_arrays(history.to_arrays())


class RunSet:
    """Numbered runs; see the module docstring. ``RunSet(spec)`` starts with one run (id 1)."""

    def __init__(self, spec: RunSpec, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.runs: dict[int, Run] = {}
        self.names: dict[int, str] = {}
        self.active: dict[int, bool] = {}
        self.parents: dict[int, tuple[int, int]] = {}  # id -> (parent id, fork step)
        self.diverged: set[int] = set()
        self.cap: float | None = None
        self.compare: int | None = None
        self._next = 1
        self.selected = self._add(Run(spec, clock=clock), "run 1")
        self._turn = 0
        self._listed = clock()

    # -- bookkeeping ------------------------------------------------------------------------------
    def _add(self, run: Run, name: str = "", parent: tuple[int, int] | None = None) -> int:
        rid = self._next
        self._next += 1
        run.apply(SetSpeed(self.cap))
        self.runs[rid] = run
        self.names[rid] = name or f"run {rid}"
        self.active[rid] = True
        if parent is not None:
            self.parents[rid] = parent
        return rid

    @property
    def run(self) -> Run:
        """The selected run."""
        return self.runs[self.selected]

    @property
    def training(self) -> bool:
        return any(r.training for r in self.runs.values())

    def wait_time(self) -> float:
        return min(r.wait_time() for r in self.runs.values())

    def infos(self) -> tuple[RunInfo, ...]:
        first: dict[type, RunSpec] = {}
        out = []
        for rid, run in self.runs.items():
            spec = run.spec
            base = first.setdefault(spec.cls, spec)
            differs = tuple((k, v) for k, v in spec.config.items() if base.config.get(k) != v)
            if spec.seed != base.seed:
                differs += (("seed", spec.seed),)
            metric = main_metric(spec.cls, spec.preset)
            value = run.history.last(metric)
            if value is None and metric != "loss":
                metric, value = "loss", run.history.last("loss")
            parent = self.parents.get(rid)
            state = "diverged" if rid in self.diverged and run.state != "running" else run.state
            out.append(RunInfo(rid, self.names[rid], spec.id, spec, run.step, state, self.active[rid],
                               parent[0] if parent else None, parent[1] if parent else None, differs, metric,
                               None if value is None or not math.isfinite(value) else float(value),
                               tuple(run.events), tuple(run.keyframes.steps()), tuple(run.snapshots.steps())))
        return tuple(out)

    def _changed(self) -> RunsChanged:
        return RunsChanged(self.infos(), self.selected, self.compare)

    # -- commands -----------------------------------------------------------------------------------
    def apply(self, command: Command) -> list[Event]:
        """Apply ``command`` (to the runs it concerns); returns the events, a RunsChanged last when the
        list changed."""
        handler = self._HANDLERS.get(type(command))
        try:
            if handler is not None:
                return handler(self, command)
            return self._tag(self.selected, self.run.apply(command))  # SetLive, Save, SetProbe, Refresh, ...
        except (ValueError, OSError) as exc:
            return [Failed(str(exc))]

    def _tag(self, rid: int, events: list[Event]) -> list[Event]:
        """A selected run's events as they are; the list changes with its state."""
        if any(isinstance(e, (StateChanged, LiveApplied, EventAdded)) for e in events):
            events = events + [self._changed()]
        return events

    def _transport(self, command: Command) -> list[Event]:
        """Play, Pause, Step go to every active run; the selected run's state is what the GUI shows."""
        events: list[Event] = []
        for rid, run in self.runs.items():
            if self.active[rid] or rid == self.selected:
                evs = run.apply(command)
                if rid == self.selected:
                    events += evs
                else:
                    events += [e for e in evs if isinstance(e, Failed)]
                if isinstance(command, Play):
                    self.diverged.discard(rid)
        return events + [self._changed()]

    def _speed(self, command: SetSpeed) -> list[Event]:
        events = []
        for run in self.runs.values():
            events += run.apply(command)
        if not events:
            self.cap = command.cap
        return events

    def _restart(self, command: Restart | Load) -> list[Event]:
        """A new run from ``spec`` (or a checkpoint), selected and the only active one; the others stay."""
        history = None
        if isinstance(command, Restart):
            try:
                run = Run(command.spec, clock=self.clock)
            except (ValueError, OSError) as exc:
                return [Failed(f"Could not build {command.spec.id}: {exc}")]
        else:
            try:
                run = Run.from_checkpoint(command.path, self.clock)
            except (ValueError, OSError) as exc:
                return [Failed(str(exc))]
            history = run.history
        for rid, old in self.runs.items():
            self.active[rid] = False
            if old.training:
                old.apply(Pause())
        rid = self._add(run, self._default_name(run.spec, command))
        self.selected = rid
        events: list[Event] = [Replaced(run.spec, None if history is None else _copy_history(history), rid)]
        if isinstance(command, Load):
            events.append(run.log("loaded", f"loaded {command.path}"))
        if isinstance(command, Load):
            events.append(Notice(f"Loaded checkpoint {command.path} (step {run.step:,}) as {self.names[rid]}"))
        return events + [StateChanged(run.state), self._changed()]

    def _default_name(self, spec: RunSpec, command: Command) -> str:
        rid = self._next
        if isinstance(command, Load):
            from pathlib import Path

            path = Path(command.path)  # a run folder's checkpoint.npz is named by its folder (a sweep's trial id)
            return f"{rid}: {path.parent.name if path.stem == 'checkpoint' else path.stem}"
        return f"{rid}: {spec.id}" + (f" {spec.preset}" if spec.preset not in (None, spec.cls.default_preset) else "")

    def _fork(self, command: Fork) -> list[Event]:
        src_id = self.selected if command.source is None else command.source
        if src_id not in self.runs:
            raise ConfigError(f"fork: there is no run {src_id}")
        src = self.runs[src_id]
        values = dict(command.values)
        new_spec = src.spec.replace(values=values)  # validates: ConfigError names the field
        changed = {k: v for k, v in new_spec.config.items() if src.spec.config.get(k) != v}
        structural = [k for k in changed if not src.spec.cls.param(k).live]
        if structural:  # a new model: from the same seed at step 0
            run = Run(new_spec, clock=self.clock)
            fork_step = 0
        else:
            from core.replay import restore_snapshot

            if command.at is not None:  # a branch from the past: the exact snapshot at or before that step
                snap = src.snapshots.at(int(command.at))
                if snap is None:
                    raise ConfigError(f"branch: run {src_id} has no exact snapshot at or before step {command.at}")
                twin = src.spec.build()
                history = restore_snapshot(snap, twin)
            else:
                twin, history = clone_experiment(src.experiment, src.spec), _copy_history(src.history)
            for k, v in changed.items():
                twin.set_live(k, v)
            run = Run(new_spec, experiment=twin, history=history, clock=self.clock)
            fork_step = twin.step
            run.keyframes = src.keyframes.copy()  # its past, to replay
            run.keyframes.truncate(fork_step)
            run.snapshots = src.snapshots.copy(fork_step)
            run.events = [e for e in src.events if e.step <= fork_step]
            run.stores_replaced()
        label = ", ".join(f"{k}={_fmt(v)}" for k, v in changed.items()) or "copy"
        rid = self._add(run, command.name or f"{self._next}: {label}", (src_id, fork_step))
        logged = [run.log("fork", f"forked from {self.names[src_id]} at step {fork_step:,}" + (f" ({label})" if changed
                                                                                              else ""))]
        if src.state == "running":
            run.apply(Play())
        self.selected = rid
        return [Replaced(run.spec, _copy_history(run.history) if fork_step else None, rid), StateChanged(run.state),
                *logged, self._changed()]

    def _select(self, command: SelectRun) -> list[Event]:
        if command.run not in self.runs:
            raise ConfigError(f"there is no run {command.run}")
        if command.run == self.selected:
            return []
        self.selected = command.run
        if self.compare == command.run:
            self.compare = None
        run = self.run
        run.apply(_REFRESH)
        return [Selected(command.run, run.spec), StateChanged(run.state), self._changed()]

    def _remove(self, command: RemoveRun) -> list[Event]:
        if command.run not in self.runs:
            raise ConfigError(f"there is no run {command.run}")
        if len(self.runs) == 1:
            raise ConfigError("the last run cannot be removed (restart it instead)")
        del self.runs[command.run]
        for d in (self.names, self.active, self.parents):
            d.pop(command.run, None)
        self.diverged.discard(command.run)
        if self.compare == command.run:
            self.compare = None
        events: list[Event] = []
        if self.selected == command.run:
            self.selected = max(self.runs)
            events = [Selected(self.selected, self.run.spec), StateChanged(self.run.state)]
            self.run.apply(_REFRESH)
        return events + [self._changed()]

    def _rename(self, command: RenameRun) -> list[Event]:
        if command.run not in self.runs:
            raise ConfigError(f"there is no run {command.run}")
        name = " ".join(str(command.name).split())
        if not name:
            raise ConfigError("run name: empty; type a name")
        self.names[command.run] = name[:80]
        return [self._changed()]

    def _set_active(self, command: SetActive) -> list[Event]:
        if command.run not in self.runs:
            raise ConfigError(f"there is no run {command.run}")
        self.active[command.run] = bool(command.active)
        run = self.runs[command.run]
        if not command.active and run.training and command.run != self.selected:
            run.apply(Pause())
        return [self._changed()]

    def _set_compare(self, command: SetCompare) -> list[Event]:
        if command.run is not None and command.run not in self.runs:
            raise ConfigError(f"there is no run {command.run}")
        self.compare = None if command.run == self.selected else command.run
        if self.compare is not None:
            self.runs[self.compare].apply(_REFRESH)
        return [self._changed()]

    _HANDLERS: dict[type, Callable[["RunSet", Any], list[Event]]] = {
        Play: _transport, Pause: _transport, Step: _transport, SetSpeed: _speed, Restart: _restart, Load: _restart,
        Fork: _fork, SelectRun: _select, RemoveRun: _remove, RenameRun: _rename, SetActive: _set_active,
        SetCompare: _set_compare,
    }

    # -- training --------------------------------------------------------------------------------------
    def advance(self, budget: float) -> list[Event]:
        """Train the runs that train, in turn, sharing ``budget`` seconds. A failure pauses that run
        (the selected run's events are returned; others show in the list)."""
        training = [rid for rid, r in self.runs.items() if r.training]
        if not training:
            return []
        share = budget / len(training)
        events: list[Event] = []
        changed = False
        for k in range(len(training)):
            rid = training[(self._turn + k) % len(training)]
            evs = self.runs[rid].advance(share)
            if any(isinstance(e, Failed) for e in evs):
                self.diverged.add(rid)
            if any(isinstance(e, (StateChanged, EventAdded)) for e in evs):
                changed = True
            events += evs if rid == self.selected else [_named(self.names[rid], e) for e in evs
                                                        if isinstance(e, Failed)]
        self._turn += 1
        now = self.clock()
        if changed or now - self._listed >= LIST_INTERVAL:  # the list's steps and metrics follow training
            self._listed = now
            return events + [self._changed()]
        return events

    # -- frames ---------------------------------------------------------------------------------------
    def has_new_points(self) -> bool:
        return any(r.has_new_points() for r in self.runs.values())

    def wants(self, what: str) -> bool:
        shown = [self.run] + ([self.runs[self.compare]] if self.compare in self.runs else [])
        return any(r.wants(what) for r in shown)

    def frame(self, probe: bool = False, views: bool = False) -> tuple[list[tuple[int, Snapshot]], list[Event]]:
        """(run id, Snapshot) for the selected run (always; with the probe/views when asked or wanted),
        the compared run (likewise) and every other run with new metric points (points only)."""
        out: list[tuple[int, Snapshot]] = []
        events: list[Event] = []
        self.probe_seconds = self.views_seconds = None
        for rid, run in self.runs.items():
            shown = rid == self.selected or rid == self.compare
            if not shown and not run.has_new_points():
                continue
            snap, evs = run.frame(probe=probe and shown, views=views and shown) if shown else _points_only(run)
            if rid == self.selected:
                self.probe_seconds, self.views_seconds = run.probe_seconds, run.views_seconds
                events += evs
            out.append((rid, snap))
        return out, events


_REFRESH = Refresh()


def _points_only(run: Run) -> tuple[Snapshot, list[Event]]:
    """A frame of new metric points, without asking the experiment for anything."""
    wanted = set(run._wanted)
    run._wanted.clear()
    try:
        return run.frame(probe=False, views=False)
    finally:
        run._wanted.update(wanted)


def _named(name: str, event: Event) -> Event:
    return Failed(f"{name}: {event.text}") if isinstance(event, Failed) else event


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return ",".join(_fmt(x) for x in v)
    return str(v)
