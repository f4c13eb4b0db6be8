"""The training loop that runs in a QThread.

``TrainingWorker`` owns the Experiment and its Trainer. The GUI never touches
them: it posts commands (``post("play")``, ``post("step", 10)``, ...) to a
``queue.Queue`` that the worker drains *between* training steps. The worker
trains in chunks of ~15 ms and emits frozen ``core.probe.Snapshot``s at two rates:

* *light* frames (new metric points only: the loss curve and the step counter)
  4-20 times a second;
* *heavy* frames (also the latest probe and/or extras: heatmaps, inspector,
  samples) 2-8 times a second.

Both rates adapt to what the GUI reports each kind of frame costs it, so that at
full speed drawing takes a bounded share (~11%) of the time (one process, one
GIL: a millisecond the GUI spends in Python is a millisecond of training lost).
When a speed cap holds training back (the default is 100 steps/s) drawing costs
no training and both run at their fastest rates. Its signals are emitted from the worker thread and
reach GUI objects through Qt queued connections.

Commands (name, args):
    play | pause | step n | live name value | reset ExperimentInfo |
    save path | load path | probe_example kwargs | refresh | speed cap_or_None |
    query token fn | stop
"""
from __future__ import annotations

import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from PySide6 import QtCore

from core.probe import Snapshot


CHUNK_SECONDS = 0.015  # train this long between command drains
IDLE_TIMEOUT = 0.1  # block on the command queue this long when paused
# Frame pacing (while training). Interval = GUI cost of that kind of frame / its CPU share, clamped:
LIGHT_INTERVAL = (1 / 20, 1 / 4)  # metric-only frames: 4..20 Hz
HEAVY_INTERVAL = (1 / 8, 1 / 2)  # frames with a probe and/or extras: 2..8 Hz
LIGHT_FRACTION = 0.03  # share of the time the GUI may spend drawing light frames
HEAVY_FRACTION = 0.05  # ... and heavy ones (with COST_FRACTION twice: ~11% in all, so training keeps ~89%)
DRAW_WAIT_MAX = 0.1  # after a snapshot the worker waits (GIL released) up to this for the GUI to draw it
EXTRAS_INTERVAL = 0.5  # extras (samples, series) at most twice a second
COST_FRACTION = 0.015  # probe and extras each take at most ~1.5% of the training time
CAPPED_FRACTION = 0.5  # when a speed cap holds training back, the worker idles: drawing may use half the time


@dataclass(frozen=True)
class ExperimentInfo:
    """What a run is: experiment class, resolved config, seed and preset name (None: from a checkpoint)."""

    cls: type
    config: Mapping[str, Any]
    seed: int = 0
    preset: str | None = None

    @property
    def id(self) -> str:
        return self.cls.id

    def build(self) -> Any:
        return self.cls(dict(self.config), self.seed)


@dataclass
class _Pending:
    """Metric points recorded since the last snapshot: name -> (steps, values)."""

    points: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)

    def add(self, step: int, metrics: Mapping[str, float]) -> None:
        for name, value in metrics.items():
            steps, values = self.points.setdefault(name, ([], []))
            steps.append(step)
            values.append(float(value))

    def take(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        out = {k: (np.array(s, dtype=np.int64), np.array(v, dtype=np.float64)) for k, (s, v) in self.points.items()}
        self.points = {}
        return out


class _Runner:
    """Steps an experiment with a ``core.trainer.Trainer``; reports every metric recorded at each step."""

    def __init__(self, experiment: Any, history: Any = None):
        from core.trainer import Trainer

        self.experiment = experiment
        self.trainer = Trainer(experiment, history=history)
        self.history = self.trainer.history  # the worker's full history (saved in checkpoints)

    def step(self) -> dict[str, float]:
        """One training step; training + evaluation metrics under their history names."""
        out = self.trainer.step()  # StepResult
        return dict(out.row if out.row is not None else out.metrics)


def _frozen(value: Any) -> Any:
    """A copy safe to hand to the GUI thread: arrays copied and read-only, containers rebuilt."""
    if isinstance(value, np.ndarray):
        out = value.copy()
        out.setflags(write=False)
        return out
    if isinstance(value, Mapping):
        return {k: _frozen(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_frozen(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _copy_history(history: Any) -> Any:
    import copy

    return None if history is None else copy.deepcopy(history)


class TrainingWorker(QtCore.QObject):
    """Owns the experiment; lives in a QThread; ``run`` is its loop (connect it to ``QThread.started``)."""

    snapshot = QtCore.Signal(object)  # core.probe.Snapshot
    state_changed = QtCore.Signal(str)  # idle | running | paused | stopped
    errored = QtCore.Signal(str)
    # (ExperimentInfo, history copy or None): a new run (reset/rebuild/load); None history = empty
    experiment_changed = QtCore.Signal(object, object)
    live_applied = QtCore.Signal(str, object, int)  # name, value, step
    message = QtCore.Signal(str)  # information for the status bar (saved, loaded)
    query_result = QtCore.Signal(int, object)  # token, result (an Exception on failure)
    finished = QtCore.Signal()

    def __init__(self, info: ExperimentInfo):
        super().__init__()
        self._info = info
        self._commands: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self.experiment: Any = None
        self._runner: _Runner | None = None
        self._running = False
        self._steps_left = 0  # steps still to do for "step n" (when not running)
        self._cap: float | None = None  # steps per second, None = as fast as possible
        self._cap_t0 = 0.0
        self._cap_n0 = 0
        self._steps_done = 0  # steps trained by this worker (all runs)
        self._pending = _Pending()
        self._seq = 0
        self._last_emit = 0.0
        self._drawn = threading.Event()  # set by the GUI when the last snapshot has been drawn
        self._drawn.set()
        self._gui_cost = {"light": 0.0, "heavy": 0.0}  # GUI CPU seconds per frame of each kind (reported)
        self._last_kind = "heavy"  # kind of the last snapshot emitted
        self._last_heavy = 0.0
        self._last_probe_t = -1e9
        self._last_extras_t = -1e9
        self._probe_cost = 0.0
        self._extras_cost = 0.0
        self._probe_step = -1
        self._want_probe = True
        self._want_extras = True
        self._broken: set[str] = set()  # "probe"/"extras" after they raised (until the next rebuild)
        self._sps = 0.0
        self._sps_t = time.perf_counter()
        self._sps_n = 0

    # -- GUI side (any thread) ---------------------------------------------------
    @property
    def latest_seq(self) -> int:
        """Sequence number of the newest snapshot emitted (readable from any thread)."""
        return self._seq

    def post(self, name: str, *args: Any) -> None:
        """Queue a command; it is applied between training steps."""
        self._commands.put((name, args))

    def snapshot_drawn(self, gui_cpu: float | None = None) -> None:
        """The GUI has drawn the last snapshot (any thread); ``gui_cpu``: GUI CPU seconds it cost."""
        if gui_cpu is not None:
            old = self._gui_cost[self._last_kind]
            self._gui_cost[self._last_kind] = float(gui_cpu) if old == 0.0 else 0.5 * old + 0.5 * float(gui_cpu)
        self._drawn.set()

    def request_stop(self) -> None:
        """Cooperative stop: the loop ends after the current step (well under a second)."""
        self._stop.set()
        self._drawn.set()
        self._commands.put(("stop", ()))

    # -- the loop (worker thread) ---------------------------------------------------
    @QtCore.Slot()
    def run(self) -> None:
        try:
            self._build(self._info, history=None)
            while not self._stop.is_set():
                self._drain(self._wait_time())
                if self._stop.is_set():
                    break
                if self.experiment is not None and (self._running or self._steps_left > 0):
                    self._train_chunk()
                self._maybe_emit()
        except Exception as exc:  # never let the thread die silently
            traceback.print_exc()
            self.errored.emit(f"The training worker crashed: {type(exc).__name__}: {exc}")
        finally:
            self._running = False
            self.state_changed.emit("stopped")
            self.finished.emit()

    def _wait_time(self) -> float:
        """How long to block on the command queue: 0 while training, longer when idle or capped."""
        if self.experiment is None or not (self._running or self._steps_left > 0):
            return IDLE_TIMEOUT
        if self._cap is None:
            return 0.0
        due = self._cap_t0 + (self._steps_done - self._cap_n0 + 1) / self._cap
        return min(max(0.0, due - time.perf_counter()), IDLE_TIMEOUT)

    def _drain(self, timeout: float) -> None:
        try:
            cmd = self._commands.get(timeout=timeout) if timeout > 0 else self._commands.get_nowait()
        except queue.Empty:
            return
        while True:
            self._apply(*cmd)
            if self._stop.is_set():
                return
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return

    def _train_chunk(self) -> None:
        """Train for up to CHUNK_SECONDS (respecting the speed cap and a pending "step n")."""
        start = time.perf_counter()
        deadline = start + CHUNK_SECONDS
        allowed = None
        if self._cap is not None:
            allowed = int((start - self._cap_t0) * self._cap) - (self._steps_done - self._cap_n0)
            if allowed <= 0:
                return
        exp = self.experiment
        while not self._stop.is_set():
            if not self._running:
                if self._steps_left <= 0:
                    break
                self._steps_left -= 1
            try:
                metrics = self._runner.step()
            except Exception as exc:  # TrainingDiverged, data errors, bugs: pause and tell the user
                self._fail(exc)
                return
            self._pending.add(exp.step, metrics)
            self._steps_done += 1
            self._sps_n += 1
            if not self._running and self._steps_left == 0:  # "step n" finished
                self._want_probe = True
                self._set_state("paused")
                self._emit()
                return
            if allowed is not None:
                allowed -= 1
                if allowed <= 0:
                    break
            if time.perf_counter() >= deadline:
                break

    def _fail(self, exc: Exception) -> None:
        from core.experiments.common import TrainingDiverged

        self._running = False
        self._steps_left = 0
        if isinstance(exc, TrainingDiverged):
            msg = f"Training paused: {exc}"
        elif isinstance(exc, ValueError):
            msg = f"Training paused: {exc}"
        else:
            traceback.print_exc()
            msg = f"Training paused by an error at step {self.experiment.step + 1}: {type(exc).__name__}: {exc}"
        self._want_probe = True
        self._emit()
        self._set_state("paused")
        self.errored.emit(msg)

    def _set_state(self, state: str) -> None:
        self.state_changed.emit(state)

    # -- commands ---------------------------------------------------------------------
    def _apply(self, name: str, args: tuple) -> None:
        handler: Callable | None = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            self.errored.emit(f"unknown worker command {name!r}")
            return
        try:
            handler(*args)
        except Exception as exc:
            if not isinstance(exc, ValueError):
                traceback.print_exc()
            self.errored.emit(str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}")

    def _cmd_stop(self) -> None:
        self._stop.set()

    def _cmd_play(self) -> None:
        if self.experiment is None:
            return
        self._running = True
        self._steps_left = 0
        self._restart_cap_clock()
        self._set_state("running")

    def _cmd_pause(self) -> None:
        if self.experiment is None:
            return
        was = self._running or self._steps_left > 0
        self._running = False
        self._steps_left = 0
        if was:
            self._want_probe = True
            self._emit()
        self._set_state("paused")

    def _cmd_step(self, n: int = 1) -> None:
        if self.experiment is None or self._running:
            return
        n = int(n)
        if n < 1:
            raise ValueError(f"step count: {n} is not a positive number of steps")
        self._steps_left += n
        self._restart_cap_clock()
        self._set_state("running")

    def _cmd_speed(self, cap: float | None) -> None:
        if cap is not None and not cap > 0:
            raise ValueError(f"speed cap: {cap!r} must be a positive number of steps per second (or max)")
        self._cap = None if cap is None else float(cap)
        self._restart_cap_clock()

    def _restart_cap_clock(self) -> None:
        self._cap_t0 = time.perf_counter()
        self._cap_n0 = self._steps_done

    def _cmd_live(self, name: str, value: Any) -> None:
        exp = self.experiment
        exp.set_live(name, value)  # validates; raises ConfigError naming the field
        self._info = ExperimentInfo(self._info.cls, dict(exp.config), self._info.seed, self._info.preset)
        self.live_applied.emit(name, exp.config[name], int(exp.step))
        self._want_probe = True
        self._want_extras = True
        if not self._running:
            self._emit()

    def _cmd_reset(self, info: ExperimentInfo) -> None:
        self._build(info, history=None)

    def _cmd_probe_example(self, kwargs: Mapping[str, Any]) -> None:
        self.experiment.set_probe_example(**kwargs)
        self._want_probe = True
        self._emit()

    def _cmd_refresh(self) -> None:
        self._want_probe = True
        self._want_extras = True
        self._emit()

    def _cmd_save(self, path: str) -> None:
        from core.checkpoint import save_checkpoint

        save_checkpoint(path, self.experiment, self._runner.history)
        self.message.emit(f"Saved checkpoint at step {self.experiment.step} to {path}")

    def _cmd_load(self, path: str) -> None:
        from core.checkpoint import load_checkpoint

        experiment, history = load_checkpoint(path)  # raises CheckpointError; nothing changed then
        info = ExperimentInfo(type(experiment), dict(experiment.config), int(experiment.seed), None)
        self._install(info, experiment, history)
        self.message.emit(f"Loaded checkpoint {path} (step {experiment.step})")

    def _cmd_query(self, token: int, fn: Callable[[Any], Any]) -> None:
        try:
            result = fn(self.experiment)
        except Exception as exc:
            result = exc
        self.query_result.emit(token, result)

    # -- building -------------------------------------------------------------------------
    def _build(self, info: ExperimentInfo, history: Any) -> None:
        """Build a new experiment; on failure keep the old one (if any) and report."""
        try:
            experiment = info.build()
        except Exception as exc:
            if not isinstance(exc, (ValueError, OSError)):
                traceback.print_exc()
            what = str(exc) if isinstance(exc, (ValueError, OSError)) else f"{type(exc).__name__}: {exc}"
            self.errored.emit(f"Could not build {info.id}: {what}")
            return
        info = ExperimentInfo(info.cls, dict(experiment.config), info.seed, info.preset)
        self._install(info, experiment, history)

    def _install(self, info: ExperimentInfo, experiment: Any, history: Any) -> None:
        was_running = self._running
        self._pending.take()  # points of the old run are dropped
        self.experiment = experiment
        self._runner = _Runner(experiment, history)
        self._info = info
        self._running = False
        self._steps_left = 0
        self._probe_step = -1
        self._broken: set[str] = set()
        self._want_probe = self._want_extras = True
        self.experiment_changed.emit(info, _copy_history(history))
        self._emit()
        self._set_state("paused" if was_running or experiment.step else "idle")

    # -- snapshots ---------------------------------------------------------------------------
    def _guarded(self, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()``; if it raises, report once and stop calling it until the next rebuild (training goes on)."""
        try:
            return fn()
        except Exception as exc:
            traceback.print_exc()
            self._broken.add(what)
            self.errored.emit(f"The experiment's {what}() failed ({type(exc).__name__}: {exc}); "
                              f"panels will not show it until the next restart. Training continues.")
            return None

    def _cap_binding(self) -> bool:
        """True when the speed cap (not the CPU) limits training: then drawing costs no training."""
        return self._cap is not None and self._sps >= 0.8 * self._cap

    def _intervals(self) -> tuple[float, float]:
        """(light, heavy) frame intervals in seconds from the GUI's measured costs."""
        if self._cap_binding():  # training is held back anyway: draw at the fastest rates
            return LIGHT_INTERVAL[0], HEAVY_INTERVAL[0]
        light = min(max(LIGHT_INTERVAL[0], self._gui_cost["light"] / LIGHT_FRACTION), LIGHT_INTERVAL[1])
        heavy = min(max(HEAVY_INTERVAL[0], self._gui_cost["heavy"] / HEAVY_FRACTION), HEAVY_INTERVAL[1])
        return light, heavy

    def _maybe_emit(self) -> None:
        now = time.perf_counter()
        light, heavy = self._intervals()
        training = self._running or self._steps_left > 0 or bool(self._pending.points)
        if training and now - self._last_heavy >= heavy and self.experiment is not None:
            frac = CAPPED_FRACTION if self._cap_binding() else COST_FRACTION
            # an expensive probe/extras is computed less often (each costs at most ~frac of the time)
            if self.experiment.step != self._probe_step and now - self._last_probe_t >= self._probe_cost / frac:
                self._want_probe = True
            if now - self._last_extras_t >= max(EXTRAS_INTERVAL, self._extras_cost / frac):
                self._want_extras = True
        if self._want_probe or self._want_extras or (
                self._pending.points and now - self._last_emit >= light):
            self._emit()

    def _emit(self) -> None:
        """Build and emit a Snapshot now (callers set ``_want_probe``/``_want_extras`` to force those)."""
        exp = self.experiment
        if exp is None:
            return
        now = time.perf_counter()
        probe = None
        if "probe" not in self._broken and self._want_probe:
            t0 = time.perf_counter()
            probe = self._guarded("probe", exp.probe)
            self._probe_cost = time.perf_counter() - t0
            self._last_probe_t = now
            self._probe_step = exp.step
            self._want_probe = False
        extras: Mapping[str, Any] = {}
        if "extras" not in self._broken and self._want_extras:
            t0 = time.perf_counter()
            extras = _frozen(self._guarded("extras", exp.extras) or {})
            self._extras_cost = time.perf_counter() - t0
            self._last_extras_t = now
            self._want_extras = False
        dt = now - self._sps_t
        if dt >= 0.5:
            self._sps = self._sps_n / dt
            self._sps_t, self._sps_n = now, 0
        elif not (self._running or self._steps_left):
            self._sps_t, self._sps_n = now, 0
        self._want_probe = self._want_extras = False
        self._last_kind = "heavy" if probe is not None or extras else "light"
        if self._last_kind == "heavy":
            self._last_heavy = now
        self._seq += 1
        self._drawn.clear()
        self.snapshot.emit(Snapshot(self._seq, int(exp.step), self._pending.take(), probe, extras,
                                    self._sps if self._running or self._steps_left else 0.0))
        # Let the GUI draw without competing for the GIL: wait (GIL released) until it says it is done.
        # Training pauses meanwhile; the adaptive intervals keep that under LIGHT/HEAVY_FRACTION of the time.
        self._last_emit = now  # the frame rate counts from frame start to frame start
        if (self._running or self._steps_left) and DRAW_WAIT_MAX > 0:
            self._drawn.wait(DRAW_WAIT_MAX)
