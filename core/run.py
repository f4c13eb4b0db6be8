"""The Qt-free run loop: typed commands in; metric points, probes, views and events out.

A :class:`Run` owns one experiment, its :class:`core.trainer.Trainer` (and so its
bounded metric history), its state (idle / running / paused), the speed cap and
what the user asked to see next. It knows nothing about threads or Qt: the GUI's
worker (``visualizer.worker``) drives it from a QThread, a test drives it directly::

    run = Run(RunSpec.create("binary-addition", seed=3))
    run.apply(SetLive("learning_rate", 0.03))    # -> [LiveApplied(...)]
    run.apply(Step(10))
    while run.training:
        run.advance(0.015)                        # trains as many steps as fit (and the cap allows)
    snap = run.frame(probe=True, views=True)      # Snapshot: new metric points, Probe, views

Commands are frozen dataclasses, dispatched by type (:meth:`Run.apply`); every
effect the GUI must hear about comes back as a typed :class:`Event`. A bad
command (a value out of range, an unreadable checkpoint) changes nothing and
returns a :class:`Failed` event whose message names the field, value and range.
"""
from __future__ import annotations

import collections
import math
import time
import types
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from core import replay
from core.config import ConfigError, resolve
from core.experiments import registry
from core.experiments.base import Experiment
from core.experiments.common import TrainingDiverged
from core.history import MetricHistory
from core.probe import Snapshot
from core.trainer import Trainer

IDLE_WAIT = 0.1  # seconds a driver may block waiting for commands when nothing trains
SPIKE_FACTOR = 20.0  # the watchdog pauses when the loss exceeds this many times the largest of the last 50
SPIKE_WINDOW = 50
KEYFRAME_SHARE = 0.01  # keyframes (probe + views) may take about this share of the training time (see Run._keyframe)
KEYFRAME_STRETCH = 64  # the regular keyframe interval grows to at most this many times the store's base (100 steps)
VIEWS_STRETCH = 1024  # ... and the interval of keyframes with fresh views to this many times the base
REUSE_STEPS = 3  # a frame shows views computed at most this many steps ago (by a keyframe) instead of new ones
REUSE_SECONDS = 0.5  # ... or newer views than it last sent, computed (by a keyframe) at most this long ago


# -- what a run is ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSpec:
    """What a run is: experiment class, validated hyperparameters, seed, and the preset it came
    from (None: from a checkpoint). Build one with :meth:`create`; ``config`` is read-only."""

    cls: type[Experiment]
    config: Mapping[str, Any]
    seed: int = 0
    preset: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", types.MappingProxyType(dict(self.config)))

    @classmethod
    def create(cls, experiment: str | type[Experiment] | None = None, preset: str | None = None,
               seed: int = 0, values: Mapping[str, Any] | None = None) -> "RunSpec":
        """The spec of ``experiment`` (id or class; None: the default experiment): the preset's
        values (None: the default preset) overridden by ``values``, all validated.

        Raises ConfigError naming the field, value and range (or the unknown experiment/preset).
        """
        exp = registry.get(experiment or registry.DEFAULT_EXPERIMENT) if not isinstance(experiment, type) \
            else experiment
        config = exp.preset_config(preset)
        if values:
            config = resolve(exp.hyperparams, {**config, **values})
        return cls(exp, config, check_seed(seed), preset or exp.default_preset)

    @property
    def id(self) -> str:
        return self.cls.id

    def replace(self, *, values: Mapping[str, Any] | None = None, seed: int | None = None,
                preset: str | None | type[Ellipsis] = ...) -> "RunSpec":
        """A copy with some hyperparameters, the seed or the preset changed (validated)."""
        config = resolve(self.cls.hyperparams, {**self.config, **(values or {})})
        return RunSpec(self.cls, config, self.seed if seed is None else check_seed(seed),
                       self.preset if preset is ... else preset)

    def build(self) -> Experiment:
        """A new experiment; first checks the memory it would need (ConfigError naming the settings)."""
        from core.memory import check_memory

        check_memory(self.cls, self.config)
        return self.cls(dict(self.config), self.seed)


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed: {seed!r} is not an integer in [0, {2**32 - 1}]")
    return int(seed)


# -- commands ----------------------------------------------------------------------------------
class Command:
    """Base of the commands a :class:`Run` applies between training steps."""


@dataclass(frozen=True)
class Play(Command):
    """Train until paused."""


@dataclass(frozen=True)
class Pause(Command):
    """Stop after the current step."""


@dataclass(frozen=True)
class Step(Command):
    """Train exactly ``n`` steps, then pause."""

    n: int = 1


@dataclass(frozen=True)
class SetSpeed(Command):
    """Cap training at ``cap`` steps per second (None: as fast as possible)."""

    cap: float | None


@dataclass(frozen=True)
class SetLive(Command):
    """Change a live hyperparameter of the running model (validated by its Param)."""

    name: str
    value: Any


@dataclass(frozen=True)
class Restart(Command):
    """Replace the model by a fresh one built from ``spec`` (same spec: the same run again)."""

    spec: RunSpec


@dataclass(frozen=True)
class Save(Command):
    """Write a checkpoint (core.checkpoint) to ``path``."""

    path: str


@dataclass(frozen=True)
class Load(Command):
    """Replace the run by the one in checkpoint ``path`` (nothing changes if it cannot be read)."""

    path: str


@dataclass(frozen=True)
class SetProbe(Command):
    """Change the probe example (``Experiment.set_probe_example(**options)``), e.g. ``a=3, b=5``
    or ``random=True``. Build with ``SetProbe.of(a=3, b=5)``."""

    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, **options: Any) -> "SetProbe":
        return cls(tuple(sorted(options.items())))


@dataclass(frozen=True)
class Refresh(Command):
    """Compute the probe and the views afresh for the next frame."""


@dataclass(frozen=True)
class ShowKeyframe(Command):
    """Show what the panels showed at training step ``step`` (the keyframe in force then)."""

    step: int


@dataclass(frozen=True)
class Note(Command):
    """A note the user types, marked at the current step ("lowered lr because ...")."""

    text: str


@dataclass(frozen=True)
class RewindTo(Command):
    """Restore the exact state of the newest snapshot at or before ``step``; training then continues
    bit-identically (metrics, keyframes and events after it are forgotten)."""

    step: int


@dataclass(frozen=True)
class SetWatchdog(Command):
    """Pause when the loss exceeds ``factor`` times the largest of the last 50 (0 = off). (Against the
    largest, not the median: a hard minibatch late in training is often 20x the median loss, and must
    not stop a healthy run; a blow-up leaves everything recent far behind.)"""

    factor: float


@dataclass(frozen=True)
class Watch(Command):
    """The optional analysis views the GUI shows now (``core.analysis.live``); hidden ones cost nothing."""

    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Analyze(Command):
    """Start an on-demand analysis (e.g. fixed points, connectivity); its view comes in a later frame."""

    kind: str


# -- events --------------------------------------------------------------------------------------
class Event:
    """Base of what a :class:`Run` reports."""


@dataclass(frozen=True)
class StateChanged(Event):
    state: str  # "idle" | "running" | "paused"


@dataclass(frozen=True)
class LiveApplied(Event):
    name: str
    value: Any
    step: int


@dataclass(frozen=True)
class Replaced(Event):
    """The run now trains a new model (restart, rebuild, load, fork). ``history``: a copy of its metric
    history (a loaded checkpoint's, a fork's parent's), or None (empty). ``run``: its id in a RunSet."""

    spec: RunSpec
    history: MetricHistory | None = None
    run: int = 0


@dataclass(frozen=True)
class KeyframeShown(Event):
    """The keyframe in force at ``requested``: what the panels showed at ``keyframe.step``."""

    requested: int
    keyframe: Any


@dataclass(frozen=True)
class EventAdded(Event):
    """A moment marked on the run's time axis (core.replay.RunEvent)."""

    event: Any


@dataclass(frozen=True)
class Notice(Event):
    """Information for the status bar (saved, loaded)."""

    text: str


@dataclass(frozen=True)
class Failed(Event):
    """Something the user should read: a rejected command, a diverged or failed step."""

    text: str


# -- the run -----------------------------------------------------------------------------------------
class Run:
    """One experiment being trained: commands in (:meth:`apply`), training in chunks
    (:meth:`advance`), frames out (:meth:`frame`). Not thread-safe: one driver thread.

    ``Run(spec)`` builds the model (raises ConfigError/ValueError/OSError when it cannot);
    ``Run(spec, experiment=e, history=h)`` adopts a built one (e.g. from a checkpoint).
    """

    def __init__(self, spec: RunSpec, experiment: Experiment | None = None, history: MetricHistory | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.cap: float | None = None  # steps per second; None = as fast as possible
        self.sps = 0.0  # measured training speed (steps/s, over ~0.5 s windows)
        self._install(spec, experiment if experiment is not None else spec.build(), history)
        self.state = "idle"
        self._steps_done = 0  # steps trained by this run object (all models): the cap's clock counts them
        self._cap_t0, self._cap_n0 = self.clock(), 0
        self._sps_t, self._sps_n = self.clock(), 0
        self._seq = 0
        self.watched: tuple[str, ...] = ()
        self._analyst: Any = None
        self.spike_factor = SPIKE_FACTOR
        self.keyframe_share = KEYFRAME_SHARE

    @property
    def analyst(self) -> Any:
        """The analysis engine (core.analysis.live.Analyst), created on first use."""
        if self._analyst is None:
            from core.analysis.live import Analyst

            self._analyst = Analyst()
        return self._analyst

    def _install(self, spec: RunSpec, experiment: Experiment, history: MetricHistory | None) -> None:
        self.spec = RunSpec(spec.cls, dict(experiment.config), int(experiment.seed), spec.preset)
        self.experiment = experiment
        self.trainer = Trainer(experiment, history=history)
        self._steps_left = 0
        self._sent_step = float(experiment.step) if history is not None else -1.0  # metric points handed out
        self._wanted = {"probe", "views"}  # shown afresh in the next frame
        self.broken: set[str] = set()  # "probe"/"views" after they raised (until the next model)
        self.keyframes = replay.KeyframeStore()
        self.snapshots = replay.SnapshotStore()
        if experiment.step == 0:  # a fresh model: rewinding to the very start is possible too
            self.snapshots.add(replay.take_snapshot(experiment, self.trainer.history))
        self.events: list[Any] = []  # core.replay.RunEvent, in order
        self._recent_losses: collections.deque[float] = collections.deque(maxlen=SPIKE_WINDOW)
        self._recent_top = -math.inf  # max(self._recent_losses), kept up to date
        self._spike_at = math.inf  # the watchdog pauses above this loss (spike_factor x _recent_top, once armed)
        self._last_views: tuple = ()  # the latest views computed, by a frame or a keyframe ...
        self._views_at = -1  # ... at this step (-1: none yet)
        self._views_took = 0.0  # ... and what computing them cost (seconds)
        self._views_clock = -math.inf  # ... and when (self.clock())
        self._views_sent_at = -1  # the step of the views the last frame with views carried
        self._last_probe: Any = None  # likewise the latest probe
        self._probe_at = -1
        self._probe_took = 0.0
        self._probe_cost = self._views_cost = None  # smoothed cost (seconds) of a probe / the views
        self._views_every = self.keyframes.every  # regular keyframes at multiples of this get fresh views
        self._check_at = 0  # no keyframe or snapshot is due before this step (_record checks only from there)
        self._steps0 = getattr(self, "_steps_done", 0)
        self.keyframe_seconds = 0.0  # time spent recording keyframes and snapshots
        self.train_seconds = 0.0  # time spent in training steps (keyframes get KEYFRAME_SHARE of it)

    # -- reading ------------------------------------------------------------------------------
    @property
    def history(self) -> MetricHistory:
        return self.trainer.history

    @property
    def step(self) -> int:
        return int(self.experiment.step)

    @property
    def training(self) -> bool:
        """True while it should train (running, or steps of a Step command left)."""
        return self.state == "running" and (self._playing or self._steps_left > 0)

    @property
    def cap_binding(self) -> bool:
        """True when the speed cap, not the CPU, limits training (then drawing costs no training)."""
        return self.cap is not None and self.sps >= 0.8 * self.cap

    def wait_time(self) -> float:
        """How long a driver may block (waiting for commands) before the next step is due."""
        if not self.training:
            return IDLE_WAIT
        if self.cap is None:
            return 0.0
        due = self._cap_t0 + (self._steps_done - self._cap_n0 + 1) / self.cap
        return min(max(0.0, due - self.clock()), IDLE_WAIT)

    # -- commands ----------------------------------------------------------------------------------
    def apply(self, command: Command) -> list[Event]:
        """Apply ``command``; returns the events it caused. Errors change nothing and come back as
        :class:`Failed` (``ValueError``/``OSError`` with their message; anything else named by its type)."""
        handler = self._HANDLERS.get(type(command))
        if handler is None:
            return [Failed(f"unknown command {command!r}")]
        try:
            return handler(self, command)
        except (ValueError, OSError) as exc:
            return [Failed(str(exc))]
        except Exception as exc:  # noqa: BLE001 — a bug must not stop the run; the user reads what happened
            return [Failed(f"{type(command).__name__} failed: {type(exc).__name__}: {exc}")]

    _playing = False

    def _play(self, _: Play) -> list[Event]:
        self._playing, self._steps_left = True, 0
        self._restart_cap_clock()
        return self._set_state("running")

    def _pause(self, _: Pause) -> list[Event]:
        was = self.training
        self._playing, self._steps_left = False, 0
        if was:
            self._wanted.update(("probe",))
        return self._set_state("paused")

    def _step(self, cmd: Step) -> list[Event]:
        if self._playing and self.state == "running":
            return []
        n = cmd.n
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"step count: {n!r} is not a positive number of steps")
        self._steps_left += n
        self._restart_cap_clock()
        return self._set_state("running")

    def _speed(self, cmd: SetSpeed) -> list[Event]:
        if cmd.cap is not None and not cmd.cap > 0:
            raise ConfigError(f"speed cap: {cmd.cap!r} must be a positive number of steps per second (or max)")
        self.cap = None if cmd.cap is None else float(cmd.cap)
        self._restart_cap_clock()
        return []

    def _live(self, cmd: SetLive) -> list[Event]:
        exp = self.experiment
        exp.set_live(cmd.name, cmd.value)  # validates; ConfigError names the field
        value = exp.config[cmd.name]
        self.spec = RunSpec(self.spec.cls, {**self.spec.config, cmd.name: value}, self.spec.seed, self.spec.preset)
        self._wanted.update(("probe", "views"))
        return [LiveApplied(cmd.name, value, self.step), self.log("live", f"{cmd.name}={value}")]

    def _restart(self, cmd: Restart) -> list[Event]:
        try:
            experiment = cmd.spec.build()
        except (ValueError, OSError) as exc:  # the old model stays
            return [Failed(f"Could not build {cmd.spec.id}: {exc}")]
        return self._replace(cmd.spec, experiment, None)

    def _load(self, cmd: Load) -> list[Event]:
        loaded = Run.from_checkpoint(cmd.path, self.clock)  # raises CheckpointError (a ValueError): nothing changed
        events = self._replace(loaded.spec, loaded.experiment, loaded.history)
        self.keyframes, self.events = loaded.keyframes, loaded.events
        self.stores_replaced()
        return events + [Notice(f"Loaded checkpoint {cmd.path} (step {self.step:,})")]

    @classmethod
    def from_checkpoint(cls, path: str, clock: Callable[[], float] = time.perf_counter) -> "Run":
        """A run rebuilt from a checkpoint: model, metric history, events and keyframes (to replay it)."""
        from core.checkpoint import build_from, load_replay, read_checkpoint

        ck = read_checkpoint(path)
        experiment, history = build_from(ck)
        events, keyframes = load_replay(ck)
        run = cls(RunSpec(type(experiment), dict(experiment.config), int(experiment.seed), None),
                  experiment=experiment, history=history, clock=clock)
        run.events, run.keyframes = events, keyframes
        run.stores_replaced()
        return run

    def _replace(self, spec: RunSpec, experiment: Experiment, history: MetricHistory | None) -> list[Event]:
        was = self.state
        self._playing = False
        self._install(spec, experiment, history)
        copy = None if history is None else MetricHistory.from_arrays(history.to_arrays())
        self.state = "paused" if was == "running" or experiment.step else "idle"
        return [Replaced(self.spec, copy), StateChanged(self.state)]

    def _save(self, cmd: Save) -> list[Event]:
        from core.checkpoint import save_checkpoint

        logged = self.log("saved", f"saved {cmd.path}")  # in the file too
        try:
            save_checkpoint(cmd.path, self.experiment, self.history, replay=self)
        except BaseException:
            self.events.pop()
            raise
        return [Notice(f"Saved checkpoint at step {self.step:,} to {cmd.path}"), logged]

    def _probe_example(self, cmd: SetProbe) -> list[Event]:
        self.experiment.set_probe_example(**dict(cmd.options))
        self._wanted.add("probe")
        return []

    def _refresh(self, _: Refresh) -> list[Event]:
        self._wanted.update(("probe", "views"))
        return []

    def _watch(self, cmd: Watch) -> list[Event]:
        self.watched = tuple(cmd.kinds)
        if self.watched:
            self._wanted.add("views")
        return []

    def _analyze(self, cmd: Analyze) -> list[Event]:
        self.analyst.request(cmd.kind, self.experiment)  # raises ValueError naming an unknown kind
        self._wanted.add("views")
        return []

    def _show_keyframe(self, cmd: ShowKeyframe) -> list[Event]:
        frame = self.keyframes.at(int(cmd.step))
        if frame is None:
            raise ConfigError(f"no keyframe at or before step {cmd.step} (the first is at step "
                              f"{(self.keyframes.steps() or ['—'])[0]})")
        return [KeyframeShown(int(cmd.step), frame)]

    def _note(self, cmd: Note) -> list[Event]:
        text = " ".join(str(cmd.text).split())
        if not text:
            raise ConfigError("note: empty; type what you want to remember at this step")
        return [self.log("note", text[:500])]

    def _rewind(self, cmd: RewindTo) -> list[Event]:
        snap = self.snapshots.at(int(cmd.step))
        if snap is None:
            raise ConfigError(f"rewind: no exact snapshot at or before step {cmd.step} "
                              f"(snapshots at {', '.join(map(str, self.snapshots.steps())) or 'none yet'})")
        history = replay.restore_snapshot(snap, self.experiment)
        self.trainer = Trainer(self.experiment, history=history)
        self.spec = RunSpec(self.spec.cls, dict(self.experiment.config), self.spec.seed, self.spec.preset)
        self.keyframes.truncate(snap.step)
        self.snapshots.truncate(snap.step)
        self.events = [e for e in self.events if e.step <= snap.step]
        self._recent_losses.clear()
        self._recent_top = -math.inf
        self._spike_at = math.inf
        self._check_at = 0
        self._probe_at = self._views_at = self._views_sent_at = -1
        self._sent_step = float(snap.step)
        self._playing, self._steps_left = False, 0
        self._wanted.update(("probe", "views"))
        copy = MetricHistory.from_arrays(history.to_arrays())
        return ([Replaced(self.spec, copy)] + self._set_state("paused")
                + [self.log("rewind", f"rewound to the snapshot at step {snap.step:,}")])

    def _watchdog(self, cmd: SetWatchdog) -> list[Event]:
        f = float(cmd.factor)
        if not (f == 0 or (math.isfinite(f) and f > 1)):
            raise ConfigError(f"spike factor: {cmd.factor!r} must be 0 (off) or a number > 1")
        self.spike_factor = f
        return []

    _HANDLERS: dict[type, Callable[["Run", Any], list[Event]]] = {
        Play: _play, Pause: _pause, Step: _step, SetSpeed: _speed, SetLive: _live, Restart: _restart,
        Load: _load, Save: _save, SetProbe: _probe_example, Refresh: _refresh, Watch: _watch, Analyze: _analyze,
        ShowKeyframe: _show_keyframe, Note: _note, RewindTo: _rewind, SetWatchdog: _watchdog,
    }

    def log(self, kind: str, text: str, step: int | None = None) -> EventAdded:
        """Mark ``text`` on the run's time axis at ``step`` (default: now); returns the event to report."""
        e = replay.RunEvent(self.step if step is None else int(step), kind, text)
        self.events.append(e)
        return EventAdded(e)

    def _record(self, result: Any) -> list[Event]:
        """After a step: the spike watchdog, then a keyframe and an exact snapshot when due.
        (Runs after every training step: about a microsecond unless something is due — the watchdog's
        threshold is kept precomputed, and the schedules are only checked from ``_check_at`` on.)"""
        events: list[Event] = []
        loss = result.metrics.get("loss")
        if loss is not None and self._spike_factor:
            if loss > self._spike_at:
                events = self._spike(loss, self._recent_top)
            loss = float(loss)
            recent = self._recent_losses
            evicted = recent[0] if len(recent) == SPIKE_WINDOW else None
            recent.append(loss)
            top = self._recent_top
            if loss >= top:
                self._recent_top = loss
            elif evicted is not None and evicted >= top:  # the largest left the window
                self._recent_top = max(recent)
            if self._recent_top != top or len(recent) == 20:
                self._arm_watchdog()
        step = result.step
        if step >= self._check_at:
            if self.keyframes.due(step):
                self._keyframe(step, result, events)
            if self.snapshots.due(step):
                self.snapshots.add(replay.take_snapshot(self.experiment, self.history))
            self._check_at = min(self.keyframes.next_due(step), self.snapshots.next_due(step))
        return events

    _spike_factor = SPIKE_FACTOR

    @property
    def spike_factor(self) -> float:
        """The watchdog's factor (0: off); setting it re-arms the precomputed threshold."""
        return self._spike_factor

    @spike_factor.setter
    def spike_factor(self, factor: float) -> None:
        self._spike_factor = factor
        self._arm_watchdog()

    def _arm_watchdog(self) -> None:
        """The loss above which the watchdog pauses: spike_factor x the largest of the last 50, once 20 are in."""
        top = self._recent_top
        armed = self._spike_factor and len(self._recent_losses) >= 20 and top > 0
        self._spike_at = self._spike_factor * top if armed else math.inf

    def stores_replaced(self) -> None:
        """Call after replacing ``keyframes`` or ``snapshots`` (a load, a fork): their schedules are checked afresh."""
        self._check_at = 0

    def _keyframe(self, step: int, result: Any, events: list[Event]) -> None:
        """Record the keyframe due at ``step``: a fresh probe, and the views (fresh, or the latest ones).

        One observation budget, ``keyframe_share`` of the training time (1%): half for the keyframes' probes,
        half for their views, which cost far more (char-lm's text samples: ~35 ms, ~13x its probe). Past the
        dense start the intervals adapt to the measured costs and stay regular: a keyframe every k x 100 steps
        and fresh views on every m-th of them (k, m powers of two, so the grid stays aligned); the others
        carry the latest views, a frame's if it computed newer ones. In the dense start (log-spaced steps)
        a running total keeps the share instead: views wait when over it, whole keyframes past twice it.
        ``keyframe_share = 1e9`` (movies, tests): every scheduled keyframe, each with fresh views."""
        t0 = self.clock()
        regular = step >= replay.DENSE_UNTIL
        budget = self.keyframe_share * self.train_seconds + 0.02
        if regular or self.keyframe_seconds <= 2 * budget:
            p = None
            if "probe" not in self.broken:
                p = self._guarded("probe", self.experiment.probe, events)
                t1 = self.clock()
                self._note_probe(p, step, t1 - t0)
            else:
                t1 = t0
            if regular and self._views_cost is not None:  # the views' cadence from what they cost (frames measure it too)
                self._adapt_keyframes()
            fresh = (step % self._views_every == 0 and step - self._views_at > REUSE_STEPS) if regular \
                else self.keyframe_seconds <= budget
            if fresh and "views" not in self.broken:
                views = tuple(self._guarded("views", self.experiment.views, events) or ())
                self._note_views(views, step, self.clock() - t1)
            self.keyframes.add(replay.Keyframe(step, p, self._last_views, dict(result.row or result.metrics)))
            if regular:
                self._adapt_keyframes()
        self.keyframe_seconds += self.clock() - t0

    def _note_probe(self, probe: Any, step: int, seconds: float) -> None:
        self._last_probe, self._probe_at, self._probe_took = probe, step, seconds
        self._probe_cost = seconds if self._probe_cost is None else 0.5 * (self._probe_cost + seconds)

    def _note_views(self, views: tuple, step: int, seconds: float) -> None:
        self._last_views, self._views_at, self._views_took = views, step, seconds
        self._views_clock = self.clock()
        self._views_cost = seconds if self._views_cost is None else 0.5 * (self._views_cost + seconds)

    def _adapt_keyframes(self) -> None:
        """Choose the regular keyframe interval (k x base steps) and that of fresh views (m x k x base) so
        that probes and views each take at most half of ``keyframe_share`` of the training time."""
        steps = self._steps_done - self._steps0
        if steps <= 0 or self.train_seconds <= 0:
            return
        base = self.keyframes.base_every
        allowed = 0.5 * self.keyframe_share * self.train_seconds / steps * base  # seconds per base interval
        k = _pow2_at_least((self._probe_cost or 0.0) / allowed, KEYFRAME_STRETCH)
        m = _pow2_at_least((self._views_cost or 0.0) / (allowed * k), max(1, VIEWS_STRETCH // k))
        if base * k != self.keyframes.every:
            self.keyframes.every = base * k
            self._check_at = 0
        self._views_every = base * k * m

    def _spike(self, loss: float, top: float) -> list[Event]:
        """The loss jumped: pause, say where it blew up, offer the last good snapshot."""
        self._playing, self._steps_left = False, 0
        self._wanted.add("probe")
        where = replay.diagnose(self.experiment)
        good = self.snapshots.at(self.step - 1)
        text = (f"loss {loss:.4g} is {loss / top:.0f}x the largest of the last 50 ({top:.4g}) at step {self.step:,}"
                + (f"; {where}" if where else ""))
        offer = f" Rewind to step {good.step:,} (the last exact snapshot) from the Events list." if good else ""
        return self._set_state("paused") + [self.log("spike", text), Failed(f"Training paused: {text}.{offer}")]

    def _set_state(self, state: str) -> list[Event]:
        self.state = state
        return [StateChanged(state)]

    def _restart_cap_clock(self) -> None:
        self._cap_t0, self._cap_n0 = self.clock(), self._steps_done

    # -- training ---------------------------------------------------------------------------------
    def advance(self, budget: float) -> list[Event]:
        """Train for up to ``budget`` seconds (at least one step when one is due), within the speed
        cap and a pending Step count. A step that raises (divergence, a data error, a bug) pauses
        the run and comes back as :class:`Failed`; the model keeps its last good parameters."""
        if not self.training:
            return []
        start = self.clock()
        allowed = None
        if self.cap is not None:
            allowed = int((start - self._cap_t0) * self.cap) - (self._steps_done - self._cap_n0)
            if allowed <= 0:
                return []
        deadline = start + budget
        t = start  # one clock read per step: the end of a step is the start of the next (unless _record worked)
        while True:
            if not self._playing:
                self._steps_left -= 1
            try:
                result = self.trainer.step()
            except Exception as exc:  # noqa: BLE001 — reported to the user, the run pauses
                return self._fail(exc)
            now = self.clock()
            self.train_seconds += now - t
            self._steps_done += 1
            self._sps_n += 1
            slow = result.step >= self._check_at  # a keyframe or a snapshot may be recorded: time moves on
            spiked = self._record(result)
            if spiked:
                return spiked
            if not self._playing and self._steps_left <= 0:  # a Step command finished
                self._wanted.add("probe")
                return self._set_state("paused")
            if allowed is not None:
                allowed -= 1
                if allowed <= 0:
                    return []
            if slow:
                now = self.clock()
            if now >= deadline:
                return []
            t = now

    def _fail(self, exc: Exception) -> list[Event]:
        self._playing, self._steps_left = False, 0
        self._wanted.add("probe")
        if isinstance(exc, (TrainingDiverged, ValueError)):
            msg = f"Training paused: {exc}"
        else:
            msg = f"Training paused by an error at step {self.step + 1:,}: {type(exc).__name__}: {exc}"
        good = self.snapshots.at(self.step)
        if isinstance(exc, TrainingDiverged) and good is not None:
            msg += f" You can also rewind to the exact snapshot at step {good.step:,} (Events list)."
        kind = "diverged" if isinstance(exc, TrainingDiverged) else "error"
        return self._set_state("paused") + [self.log(kind, str(exc), self.step + 1), Failed(msg)]

    # -- frames -------------------------------------------------------------------------------------
    def wants(self, what: str) -> bool:
        """True when a command asked for a fresh ``"probe"`` or ``"views"`` (or, while not training, when a
        background analysis has finished: nothing else would ask for views then)."""
        if what == "views" and not self.training and self._analyst is not None and self._analyst.ready():
            self._wanted.add("views")
        return what in self._wanted

    def frame(self, probe: bool = False, views: bool = False) -> tuple[Snapshot, list[Event]]:
        """A Snapshot of what is new: metric points since the last frame, the probe and the views
        when asked for (or wanted since a command). An experiment whose ``probe()``/``views()``
        raises is reported once (:class:`Failed`) and not asked again until the next model."""
        events: list[Event] = []
        exp = self.experiment
        p, vs = None, ()
        # what computing them cost (None: not computed); for a keyframe's probe/views reused (same step, or views
        # REUSE_STEPS old) what they cost then, so that the pacer keeps its spacing
        self.probe_seconds = self.views_seconds = None
        step = int(exp.step)
        if (probe or "probe" in self._wanted) and "probe" not in self.broken:
            if self._probe_at == step and "probe" not in self._wanted:  # a keyframe's, of this very step
                p, self.probe_seconds = self._last_probe, self._probe_took
            else:
                t0 = self.clock()
                p = self._guarded("probe", exp.probe, events)
                self.probe_seconds = self.clock() - t0
                self._note_probe(p, step, self.probe_seconds)
        if (views or "views" in self._wanted) and "views" not in self.broken:
            t0 = self.clock()
            recent = 0 <= step - self._views_at <= REUSE_STEPS or (
                self._views_at > self._views_sent_at and t0 - self._views_clock <= REUSE_SECONDS)
            if recent and "views" not in self._wanted:
                vs, took = self._last_views, self._views_took  # a keyframe's: a few steps old, or not shown
                # yet and under REUSE_SECONDS old (frames and keyframes then share one views cadence)
            else:
                vs = tuple(self._guarded("views", exp.views, events) or ())
                took = self.clock() - t0
                self._note_views(vs, step, took)
            if "analysis" not in self.broken and (self.watched or (self._analyst is not None
                                                                   and self._analyst.pending())):
                t1 = self.clock()
                vs += tuple(self._guarded("analysis", lambda: self.analyst.views(exp, p, self.watched), events) or ())
                took += self.clock() - t1
            self.views_seconds = took
            self._views_sent_at = self._views_at
        self._wanted.clear()
        now = self.clock()
        if now - self._sps_t >= 0.5:
            self.sps = self._sps_n / (now - self._sps_t)
            self._sps_t, self._sps_n = now, 0
        elif not self.training:
            self._sps_t, self._sps_n = now, 0
        points = self.history.since(self._sent_step)
        self._sent_step = float(exp.step)
        self._seq += 1
        snap = Snapshot(self._seq, exp.step, points, p, vs, self.sps if self.training else 0.0)
        return snap, events

    def _guarded(self, what: str, fn: Callable[[], Any], events: list[Event]) -> Any:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 — a bug in an experiment must not stop training
            self.broken.add(what)
            events.append(Failed(f"The experiment's {what}() failed ({type(exc).__name__}: {exc}); panels will "
                                 f"not show it until the next restart. Training continues."))
            return None

    def has_new_points(self) -> bool:
        """True when metric points were recorded since the last frame."""
        return self.step > self._sent_step


def _pow2_at_least(x: float, limit: int) -> int:
    """The smallest power of two >= ``x`` (at least 1, at most ``limit``)."""
    k = 1
    while k < x and k < limit:
        k *= 2
    return k
