"""The QThread adapter that drives the runs (``core.runs.RunSet`` of ``core.run.Run``).

``TrainingWorker`` lives in a QThread. The GUI posts typed commands
(``core.run.Play()``, ``Step(10)``, ``SetLive("learning_rate", 0.03)``,
``core.runs.Fork.of(learning_rate=0.01)``, ...) to a queue that the worker drains
*between* training steps and hands to the RunSet; the runs train in ~15 ms chunks. A :class:`visualizer.pacing.FramePacer` decides when
a frame (a frozen ``core.probe.Snapshot``) goes out and whether it carries a fresh
probe and views; the Run's typed events become Qt signals. After a frame the
worker waits (GIL released, at most ``DRAW_WAIT_MAX``) until the GUI says it has
drawn it, so drawing and training do not fight over the GIL.
Signals are emitted from the worker thread and reach GUI objects through Qt
queued connections.
"""
from __future__ import annotations

import queue
import threading
import time

import numpy as np
from PySide6 import QtCore

from core.run import (Command, Event, EventAdded, Failed, KeyframeShown, LiveApplied, Notice, Replaced, RunSpec,
                      StateChanged)
from core.runs import RunsChanged, RunSet, Selected
from visualizer.pacing import FramePacer

CHUNK_SECONDS = 0.015  # train this long between command drains
DRAW_WAIT_MAX = 0.1  # after a frame the worker waits (GIL released) up to this for the GUI to draw it
_STOP = object()


def _thread_cpu_clock() -> int | None:
    """The calling thread's CPU-time clock (pthread_getcpuclockid; None where the platform has none)."""
    try:
        clock = time.pthread_getcpuclockid(threading.get_ident())
        time.clock_gettime(clock)
        return clock
    except (AttributeError, OSError):
        return None


class TrainingWorker(QtCore.QObject):
    """Drives the runs in a QThread; ``run`` is its loop (connect it to ``QThread.started``)."""

    snapshot = QtCore.Signal(int, object)  # run id, core.probe.Snapshot
    state_changed = QtCore.Signal(str)  # the selected run's: idle | running | paused | stopped
    errored = QtCore.Signal(str)
    replaced = QtCore.Signal(object, object, int)  # RunSpec, MetricHistory copy or None, run id: a new run shown
    selected = QtCore.Signal(int, object)  # run id, RunSpec: another existing run shown
    runs_changed = QtCore.Signal(object)  # core.runs.RunsChanged
    run_event = QtCore.Signal(object)  # core.replay.RunEvent of the selected run (a moment on its time axis)
    keyframe = QtCore.Signal(int, object)  # requested step, core.replay.Keyframe
    live_applied = QtCore.Signal(str, object, int)  # name, value, step
    message = QtCore.Signal(str)  # information for the status bar (saved, loaded)
    finished = QtCore.Signal()

    def __init__(self, spec: RunSpec, commands: list[Command] = ()):
        super().__init__()
        self._spec = spec
        self._commands: queue.Queue = queue.Queue()
        for c in commands:
            self._commands.put(c)
        self._stop = threading.Event()
        self._drawn = threading.Event()
        self._pacer = FramePacer()
        self._gui_clock = _thread_cpu_clock()  # (made in the GUI thread) its CPU clock: what frames really cost it
        self._gui_cpu_last: float | None = None
        self._last_frame_at = -1e9
        self._seq = 0
        self.runs: RunSet | None = None
        self.thread_ident: int | None = None

    # -- GUI side (any thread) ---------------------------------------------------------------
    @property
    def latest_seq(self) -> int:
        """Sequence number of the newest snapshot emitted (readable from any thread)."""
        return self._seq

    def post(self, command: Command) -> None:
        """Queue a command; the Run applies it between training steps."""
        if not isinstance(command, Command):
            raise TypeError(f"expected a core.run.Command, got {command!r}")
        self._commands.put(command)

    def snapshot_drawn(self, gui_cpu: float | None = None) -> None:
        """The GUI has drawn the last snapshot (any thread); ``gui_cpu``: GUI CPU seconds it cost (used
        where the GUI thread's CPU clock cannot be read from the worker)."""
        if gui_cpu is not None and self._gui_clock is None:
            self._pacer.drawn(gui_cpu)
        self._drawn.set()

    def request_stop(self) -> None:
        """Cooperative stop: the loop ends after the current step (well under a second)."""
        self._stop.set()
        self._drawn.set()
        self._commands.put(_STOP)

    # -- the loop (worker thread) ---------------------------------------------------------------
    @QtCore.Slot()
    def run(self) -> None:
        self.thread_ident = threading.get_ident()  # for benchmarks: this thread's CPU clock
        try:
            with np.errstate(all="ignore"):  # divergence is caught by the guarded update, not by warnings
                self._loop()
        except Exception as exc:  # noqa: BLE001 — never let the thread die silently
            self.errored.emit(f"The training worker stopped: {type(exc).__name__}: {exc}")
        finally:
            self.state_changed.emit("stopped")
            self.finished.emit()

    def _loop(self) -> None:
        """Drain commands, train a chunk, send a frame when due; until stopped."""
        self._start(self._spec)
        while not self._stop.is_set():
            runs = self.runs
            self._drain(runs.wait_time() if runs is not None else 0.1)
            runs = self.runs
            if self._stop.is_set() or runs is None:
                continue
            # a chunk of training, ending when the next frame is due (at least one step)
            due = self._pacer.due_in(time.perf_counter(), runs.run.cap_binding)
            self._emit_events(runs.advance(min(CHUNK_SECONDS, max(due, 0.0))))
            self._maybe_frame(runs)

    def _start(self, spec: RunSpec) -> None:
        try:
            self.runs = RunSet(spec)
        except (ValueError, OSError) as exc:
            self.errored.emit(f"Could not build {spec.id}: {exc}")
            return
        self.replaced.emit(self.runs.run.spec, None, self.runs.selected)
        self.runs_changed.emit(self.runs._changed())
        self._maybe_frame(self.runs)  # the first probe and views
        self.state_changed.emit("idle")

    def _drain(self, timeout: float) -> None:
        try:
            cmd = self._commands.get(timeout=timeout) if timeout > 0 else self._commands.get_nowait()
        except queue.Empty:
            return
        while cmd is not _STOP:
            if self.runs is None:  # the first model could not be built: only a Restart helps
                if hasattr(cmd, "spec"):
                    self._start(cmd.spec)
            else:
                self._emit_events(self.runs.apply(cmd))
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
        self._stop.set()

    _SIGNALS = {
        StateChanged: lambda self, e: self.state_changed.emit(e.state),
        LiveApplied: lambda self, e: self.live_applied.emit(e.name, e.value, e.step),
        Replaced: lambda self, e: self.replaced.emit(e.spec, e.history, e.run),
        Selected: lambda self, e: self.selected.emit(e.run, e.spec),
        RunsChanged: lambda self, e: self.runs_changed.emit(e),
        EventAdded: lambda self, e: self.run_event.emit(e.event),
        KeyframeShown: lambda self, e: self.keyframe.emit(e.requested, e.keyframe),
        Notice: lambda self, e: self.message.emit(e.text),
        Failed: lambda self, e: self.errored.emit(e.text),
    }

    def _emit_events(self, events: list[Event]) -> None:
        for e in events:
            self._SIGNALS[type(e)](self, e)

    def _maybe_frame(self, runs: RunSet) -> None:
        now = time.perf_counter()
        run = runs.run
        d = self._pacer.decide(now, training=runs.training, new_points=runs.has_new_points(), step=run.step,
                               cap_binding=run.cap_binding, forced=runs.wants("probe") or runs.wants("views"))
        if not d.emit:
            return
        if self._gui_clock is not None:
            # everything the GUI thread did since the last frame (drawing, repainting, its timers) is what
            # that frame cost it: the pacer then holds the GUI's whole share of the CPU, not just its handlers
            cpu = time.clock_gettime(self._gui_clock)
            last, self._gui_cpu_last = self._gui_cpu_last, cpu
            if last is not None and runs.training and now - self._last_frame_at < 1.0:
                self._pacer.drawn(cpu - last)
            self._last_frame_at = now
        frames, events = runs.frame(probe=d.probe, views=d.views)
        self._pacer.sent(now, step=run.step, probe_seconds=runs.probe_seconds, views_seconds=runs.views_seconds)
        self._emit_events(events)
        self._drawn.clear()
        for rid, snap in frames:
            if rid == runs.selected:
                self._seq = snap.seq
        for rid, snap in frames:
            self.snapshot.emit(rid, snap)
        if runs.training and DRAW_WAIT_MAX > 0:  # let the GUI draw without competing for the GIL
            self._drawn.wait(DRAW_WAIT_MAX)
