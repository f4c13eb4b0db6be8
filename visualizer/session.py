"""The hub: ``TrainingSession`` owns the worker thread and re-emits its signals.

Panels and controls talk only to the session (see visualizer/panels/base.py for
the contract). They change the run with typed commands (``session.send(Step(10))``
or the shorthands ``play()``, ``set_live(name, value)``, ...); the session keeps
the GUI-side metric history (appended from snapshots), the latest probe and views,
the run's spec and the one selected timestep.
"""
from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np
from PySide6 import QtCore

from core.history import MetricHistory
from core.probe import Probe, Snapshot
from core.run import (Command, Load, Pause, Play, Refresh, Restart, RunSpec, Save, SetLive, SetProbe,
                      SetSpeed, ShowKeyframe, Step, Watch)
from core.runs import Fork, RemoveRun, RenameRun, RunInfo, RunsChanged, SelectRun, SetActive, SetCompare
from core.views import View
from visualizer.worker import TrainingWorker

__all__ = ["RunSpec", "TrainingSession"]


def _merge(snaps: list[Snapshot]) -> Snapshot:
    """Several snapshots that arrived together, as one (metrics concatenated, latest probe, newest views)."""
    if len(snaps) == 1:
        return snaps[0]
    metrics: dict[str, tuple[list, list]] = {}
    views: dict[type, View] = {}
    for s in snaps:
        for k, (st, v) in s.metrics.items():
            a, b = metrics.setdefault(k, ([], []))
            a.append(st)
            b.append(v)
        views.update((type(v), v) for v in s.views)
    probe = next((s.probe for s in reversed(snaps) if s.probe is not None), None)
    last = snaps[-1]
    return Snapshot(last.seq, last.step, {k: (np.concatenate(a), np.concatenate(b)) for k, (a, b) in metrics.items()},
                    probe, tuple(views.values()), last.steps_per_second)


class _MainThreadGC:
    """Python's cyclic garbage collector runs in whichever thread happens to allocate. If it runs in the
    training thread and finds Qt widgets in a reference cycle (a closed window, a replaced panel), it
    deletes them there — and Qt widgets deleted off the GUI thread can deadlock it (seen: the worker
    blocked in QMenu's destructor waiting for the GIL while the GUI thread, holding the GIL, waited for a
    Qt mutex). So while a training thread runs, automatic collection is off and the GUI thread collects on
    a timer: the youngest generation every 0.25 s, the middle one every second, all of them every minute."""

    _holders: set = set()
    _timer: QtCore.QTimer | None = None
    _ticks = 0

    @classmethod
    def hold(cls, session: QtCore.QObject) -> None:
        if not cls._holders:
            gc.disable()
            cls._timer = QtCore.QTimer()
            cls._timer.setInterval(250)
            cls._timer.timeout.connect(cls._collect)
            cls._timer.start()
        cls._holders.add(id(session))

    @classmethod
    def release(cls, session: QtCore.QObject) -> None:
        cls._holders.discard(id(session))
        if not cls._holders and cls._timer is not None:
            cls._timer.stop()
            cls._timer = None
            gc.enable()
            gc.collect()  # here, in the GUI thread, with no training thread left

    @classmethod
    def _collect(cls) -> None:
        cls._ticks += 1
        # (a full collection walks the whole heap, ~50 ms with the window's ~80k objects: once a minute)
        gc.collect(2 if cls._ticks % 240 == 0 else (1 if cls._ticks % 4 == 0 else 0))


class TrainingSession(QtCore.QObject):
    """Owns a TrainingWorker in a QThread; the GUI's one source of truth about the run."""

    snapshot_ready = QtCore.Signal(object)  # Snapshot
    experiment_changed = QtCore.Signal(object)  # RunSpec: a new model (restart, rebuild, load)
    timestep_changed = QtCore.Signal(int)
    live_param_changed = QtCore.Signal(str, object, int)  # name, value, step
    metrics_reset = QtCore.Signal()
    state_changed = QtCore.Signal(str)  # idle | running | paused | stopped
    errored = QtCore.Signal(str)
    message = QtCore.Signal(str)  # non-error information (saved, loaded)
    runs_changed = QtCore.Signal(object)  # tuple of core.runs.RunInfo (the runs list changed)
    run_points = QtCore.Signal(int, object)  # run id, Snapshot: new metric points of a run that is not shown
    compare_ready = QtCore.Signal(object)  # Snapshot of the compared run (its probe and views)
    replay_changed = QtCore.Signal(object)  # training step being replayed (int), or None: live again
    keyframe_shown = QtCore.Signal(int, object)  # requested step, core.replay.Keyframe now on the panels
    run_event = QtCore.Signal(object)  # core.replay.RunEvent added to the selected run's time axis

    def __init__(self, spec: RunSpec, parent: QtCore.QObject | None = None, start: bool = True):
        super().__init__(parent)
        self.spec = spec
        self.histories: dict[int, MetricHistory] = {1: MetricHistory()}  # run id -> its metric history
        self.selected = 1  # the run the panels show
        self.compare: int | None = None  # a run shown beside it
        self.runs: tuple[RunInfo, ...] = ()
        self.hidden_runs: set[int] = set()  # runs whose curves the loss panel leaves out
        self.timestep = 0
        self.latest_probe: Probe | None = None
        self.latest_views: dict[type, View] = {}
        self.state = "idle"
        self.step = 0
        self.steps_per_second = 0.0
        self.frames = 0  # snapshots delivered to the panels (for the frame-rate readout)
        self.heavy_frames = 0  # ... of which carried a probe and/or views (heatmaps, samples redraw)
        self.speed_cap: float | None = None
        self.pause_at_goal = False  # True (the window): play() trains up to the preset's length, then pauses
        self._last_seq: dict[int, int] = {}  # run id -> newest snapshot taken
        self._queue: list[Snapshot] = []
        self._thread: QtCore.QThread | None = None
        self._worker: TrainingWorker | None = None
        self._early: list[Command] = []  # commands sent before the worker exists
        self.replay_step: int | None = None  # training step replayed on the panels (None: live)
        self.replay_keyframe: Any = None  # the core.replay.Keyframe shown while replaying
        if start:
            self.start()

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread (builds the model there)."""
        if self._thread is not None:
            return
        self._worker = worker = TrainingWorker(self.spec, self._early)
        self._early = []
        self._thread = thread = QtCore.QThread()
        thread.setObjectName("rnnlab-training")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit, QtCore.Qt.ConnectionType.DirectConnection)
        worker.snapshot.connect(self._on_worker_snapshot)
        worker.state_changed.connect(self._on_worker_state)
        worker.errored.connect(self.errored)
        worker.replaced.connect(self._on_worker_replaced)
        worker.selected.connect(self._on_worker_selected)
        worker.runs_changed.connect(self._on_worker_runs)
        worker.live_applied.connect(self._on_worker_live)
        worker.message.connect(self.message)
        worker.keyframe.connect(self._on_worker_keyframe)
        worker.run_event.connect(self.run_event)
        _MainThreadGC.hold(self)
        thread.start()

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the worker and wait (at most ``timeout`` s) for its thread to end. True if it ended."""
        thread, worker = self._thread, self._worker
        if thread is None:
            return True
        worker.request_stop()
        thread.quit()  # Qt 6 remembers an exit requested before the thread's event loop starts
        ok = thread.wait(int(timeout * 1000))
        if ok:
            self._thread = self._worker = None
            _MainThreadGC.release(self)
        return ok

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    # -- commands (all asynchronous; applied between training steps) ------------
    def send(self, command: Command) -> None:
        """Queue a typed command for the run (core.run); its effects come back as signals."""
        if self._worker is not None:
            self._worker.post(command)
        else:
            self._early.append(command)

    @property
    def goal(self) -> int | None:
        """The preset's length in steps (``Preset.steps``), or None (a checkpoint's run, no preset)."""
        preset = self.spec.cls.presets.get(self.spec.preset) if self.spec.preset else None
        return int(preset.steps) if preset is not None and preset.steps else None

    def play(self) -> None:
        """Train until paused; with ``pause_at_goal``, below the preset's length: train up to it, then
        pause (a Step command for the steps left, so the run stops exactly there); Play goes on after."""
        goal = self.goal if self.pause_at_goal else None
        left = goal - self.step if goal else 0
        self.send(Step(left) if left > 0 else Play())


    def pause(self) -> None:
        self.send(Pause())

    def toggle(self) -> None:
        """Play when paused/idle, pause when running."""
        self.pause() if self.state == "running" else self.play()

    def step_n(self, n: int = 1) -> None:
        """Train exactly ``n`` steps, then pause."""
        self.send(Step(int(n)))

    def set_speed_cap(self, steps_per_second: float | None) -> None:
        """Limit training speed (None: as fast as possible)."""
        self.speed_cap = steps_per_second
        self.send(SetSpeed(steps_per_second))

    def set_live(self, name: str, value: Any) -> None:
        """Apply a live hyperparameter; ``live_param_changed`` follows (or ``errored``)."""
        self.send(SetLive(name, value))

    def restart(self, spec: RunSpec | None = None) -> None:
        """Rebuild the run from ``spec`` (None: the current spec — a fresh model with the same seed)."""
        self.send(Restart(spec or self.spec))

    def set_probe_example(self, **options: Any) -> None:
        self.send(SetProbe.of(**options))

    def refresh(self) -> None:
        """Ask for a fresh probe and fresh views now."""
        self.send(Refresh())

    def watch_analysis(self, kind: str, shown: bool) -> None:
        """An analysis panel of ``kind`` (core.analysis.live) was shown or hidden: only shown kinds are computed."""
        kinds = set(getattr(self, "watched_analyses", ()))
        kinds = kinds | {kind} if shown else kinds - {kind}
        if kinds != set(getattr(self, "watched_analyses", ())):
            self.watched_analyses = tuple(sorted(kinds))
            self.send(Watch(self.watched_analyses))

    def mark_unit(self, view: View) -> None:
        """Show a unit picked in the GUI (a ``core.views.MarkedUnit``) on the panels that draw it (the heatmap)."""
        self.latest_views[type(view)] = view
        self.snapshot_ready.emit(Snapshot(self._last_seq.get(self.selected, 0), self.step, {}, None, (view,),
                                            self.steps_per_second))

    # runs
    @property
    def history(self) -> MetricHistory:
        """The selected run's metric history."""
        return self.histories.setdefault(self.selected, MetricHistory())

    @history.setter
    def history(self, value: MetricHistory) -> None:
        self.histories[self.selected] = value

    def fork(self, source: int | None = None, name: str = "", **values: Any) -> None:
        """Copy a run (default: the selected one) with ``values`` changed; the copy is shown and trains."""
        self.send(Fork.of(source, name, **values))

    def select_run(self, run: int) -> None:
        self.send(SelectRun(int(run)))

    def remove_run(self, run: int) -> None:
        self.send(RemoveRun(int(run)))

    def rename_run(self, run: int, name: str) -> None:
        self.send(RenameRun(int(run), str(name)))

    def set_run_active(self, run: int, active: bool) -> None:
        """Whether a run follows Play/Pause/Step."""
        self.send(SetActive(int(run), bool(active)))

    def set_run_shown(self, run: int, shown: bool) -> None:
        """Whether a run's curves are overlaid on the loss plots (a GUI-only choice)."""
        (self.hidden_runs.discard if shown else self.hidden_runs.add)(int(run))
        self.runs_changed.emit(self.runs)

    def set_compare(self, run: int | None) -> None:
        """Show run ``run``'s heatmap (and samples, forecast) beside the selected run's; None: stop."""
        self.send(SetCompare(run))

    def save(self, path: str) -> None:
        """Save a checkpoint (core.checkpoint); ``message`` or ``errored`` follows."""
        self.send(Save(str(path)))

    def load(self, path: str) -> None:
        """Load a checkpoint; on failure ``errored`` and nothing changes."""
        self.send(Load(str(path)))

    # -- training time: replay keyframes -----------------------------------------
    def show_keyframe(self, step: int) -> None:
        """Replay training step ``step``: the panels show the keyframe in force then (``keyframe_shown``
        follows); live frames keep feeding the metric curves but no longer the probe and views."""
        step = max(0, int(step))
        self.replay_step = step
        self.send(ShowKeyframe(step))
        self.replay_changed.emit(step)

    def live(self) -> None:
        """Back to the present: the panels show the live probe and views again."""
        if self.replay_step is None:
            return
        self.replay_step = None
        self.replay_keyframe = None
        self.send(Refresh())
        self.replay_changed.emit(None)

    def keyframes(self) -> list:
        """The selected run's keyframes (core.replay.Keyframe, oldest first), read from the worker's run.
        (A copy of the store's dict, taken in one step under the GIL; the keyframes are frozen.)"""
        runs = getattr(self._worker, "runs", None)
        run = None if runs is None else runs.runs.get(self.selected)
        return [] if run is None else list(dict(run.keyframes.frames).values())

    def show_keyframe_now(self, keyframe: Any, requested: int | None = None) -> None:
        """Put ``keyframe`` on every panel at once (the movie export does this without a round trip)."""
        self.replay_step = int(keyframe.step if requested is None else requested)
        self._on_worker_keyframe(self.replay_step, keyframe)

    @QtCore.Slot(int, object)
    def _on_worker_keyframe(self, requested: int, keyframe: Any) -> None:
        if self.replay_step is None:  # back to live meanwhile: a late answer
            return
        self.replay_keyframe = keyframe
        self.latest_probe = keyframe.probe if keyframe.probe is not None else self.latest_probe
        self.latest_views.update((type(v), v) for v in keyframe.views)
        if keyframe.probe is not None and keyframe.probe.num_steps and self.timestep >= keyframe.probe.num_steps:
            self.set_timestep(keyframe.probe.num_steps - 1)
        self.keyframe_shown.emit(int(requested), keyframe)
        self.replay_changed.emit(self.replay_step)
        self.snapshot_ready.emit(Snapshot(self._last_seq.get(self.selected, 0), int(keyframe.step), {},
                                          keyframe.probe, tuple(keyframe.views), 0.0))

    # -- timestep ------------------------------------------------------------
    def set_timestep(self, t: int) -> None:
        """Select timestep ``t`` (clamped to the probe's length) for every panel."""
        t = int(t)
        if self.latest_probe is not None and self.latest_probe.num_steps:
            t = min(max(t, 0), self.latest_probe.num_steps - 1)
        else:
            t = max(t, 0)
        if t != self.timestep:
            self.timestep = t
            self.timestep_changed.emit(t)

    # -- from the worker (GUI thread, queued) -------------------------------------
    @QtCore.Slot(int, object)
    def _on_worker_snapshot(self, run: int, snap: Snapshot | None = None) -> None:
        if snap is None:  # (a snapshot of the selected run, as tests feed them)
            run, snap = self.selected, run
        if snap.seq <= self._last_seq.get(run, 0):  # stale: older than one already taken
            return
        self._last_seq[run] = snap.seq
        history = self.histories.setdefault(run, MetricHistory())
        for name, (steps, values) in snap.metrics.items():
            history.series(name).extend(steps, values)
        if run != self.selected:
            if run == self.compare and (snap.probe is not None or snap.views):
                self.compare_ready.emit(snap)
            if snap.metrics:
                self.run_points.emit(run, snap)
            return
        self._queue.append(snap)
        worker = self._worker
        if worker is None or snap.seq >= worker.latest_seq:
            cpu0 = time.thread_time()
            self._flush()  # else a newer snapshot is already on its way: draw once, with both
            if worker is not None:
                # tell the worker once the repaint this caused has run: two zero-timer hops (the scene
                # updates, queued, and the window repaint run first); a lambda, since the worker thread
                # has no event loop to run a slot
                QtCore.QTimer.singleShot(0, lambda: QtCore.QTimer.singleShot(0, lambda: self._ack(worker, cpu0)))

    @staticmethod
    def _ack(worker: TrainingWorker, cpu0: float) -> None:
        """Tell the worker the snapshot is drawn, with the GUI CPU time it cost (update + repaint):
        the worker spaces snapshots so that the GUI stays cheap.

        The window's repaint is posted at low priority, after this; it is done here first, while the worker
        still waits: painted with the worker running, every call from Qt back into Python (pyqtgraph's
        paint and boundingRect, hundreds a frame) would have to take the GIL from the training thread."""
        QtCore.QCoreApplication.sendPostedEvents(None, int(QtCore.QEvent.Type.UpdateRequest))
        try:
            worker.snapshot_drawn(time.thread_time() - cpu0)
        except RuntimeError:  # the worker's C++ object is gone (session shut down meanwhile)
            pass

    def _flush(self) -> None:
        if not self._queue:
            return
        snap = _merge(self._queue)
        self._queue = []
        self.step = snap.step
        self.steps_per_second = snap.steps_per_second
        if self.replay_step is not None and (snap.probe is not None or snap.views):  # replaying: the panels keep
            snap = Snapshot(snap.seq, snap.step, snap.metrics, None, (), snap.steps_per_second)  # the keyframe
        if snap.probe is not None:
            self.latest_probe = snap.probe
            if snap.probe.num_steps and self.timestep >= snap.probe.num_steps:
                self.set_timestep(snap.probe.num_steps - 1)
        self.latest_views.update((type(v), v) for v in snap.views)
        self.frames += 1
        if snap.probe is not None or snap.views:
            self.heavy_frames += 1
        self.snapshot_ready.emit(snap)

    @QtCore.Slot(str)
    def _on_worker_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    @QtCore.Slot(object, object, int)
    def _on_worker_replaced(self, spec: RunSpec, history: Any, run: int = 0) -> None:
        """A new run is shown (restart, load, fork): its history is new or a copy."""
        self._flush()  # deliver what belongs to the old model first
        self.selected = run or self.selected
        self.histories[self.selected] = history if history is not None else MetricHistory()
        self._last_seq.pop(self.selected, None)
        self._show(spec)

    @QtCore.Slot(int, object)
    def _on_worker_selected(self, run: int, spec: RunSpec) -> None:
        """Another existing run is shown: the GUI already holds its history."""
        self._flush()
        self.selected = run
        self._show(spec)

    @QtCore.Slot(object)
    def _on_worker_runs(self, event: RunsChanged) -> None:
        self.runs = event.runs
        self.compare = event.compare
        self.runs_changed.emit(self.runs)

    def run_info(self, run: int) -> RunInfo | None:
        return next((r for r in self.runs if r.id == run), None)

    def _show(self, spec: RunSpec) -> None:
        if self.replay_step is not None:  # another run, a rewind, a restart: the present again
            self.replay_step = self.replay_keyframe = None
            self.replay_changed.emit(None)
        self.spec = spec
        self.latest_probe = None
        self.latest_views = {}
        info = self.run_info(self.selected)
        self.step = info.step if info is not None and info.spec.cls is spec.cls else 0
        self.metrics_reset.emit()
        self.experiment_changed.emit(spec)

    @QtCore.Slot(str, object, int)
    def _on_worker_live(self, name: str, value: Any, step: int) -> None:
        self.spec = RunSpec(self.spec.cls, {**self.spec.config, name: value}, self.spec.seed, self.spec.preset)
        self.live_param_changed.emit(name, value, step)
