"""The QThread adapter that drives a ``core.run.Run``.

``TrainingWorker`` lives in a QThread. The GUI posts typed commands
(``core.run.Play()``, ``Step(10)``, ``SetLive("learning_rate", 0.03)``, ...) to a
queue that the worker drains *between* training steps and hands to the Run; the
Run trains in ~15 ms chunks. A :class:`visualizer.pacing.FramePacer` decides when
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

from core.run import (Command, Event, Failed, LiveApplied, Notice, Replaced, Run, RunSpec, StateChanged)
from visualizer.pacing import FramePacer

CHUNK_SECONDS = 0.015  # train this long between command drains
DRAW_WAIT_MAX = 0.1  # after a frame the worker waits (GIL released) up to this for the GUI to draw it
_STOP = object()


class TrainingWorker(QtCore.QObject):
    """Drives one Run in a QThread; ``run`` is its loop (connect it to ``QThread.started``)."""

    snapshot = QtCore.Signal(object)  # core.probe.Snapshot
    state_changed = QtCore.Signal(str)  # idle | running | paused | stopped
    errored = QtCore.Signal(str)
    replaced = QtCore.Signal(object, object)  # RunSpec, MetricHistory copy or None: a new model
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
        self._seq = 0
        self.run_: Run | None = None
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
        """The GUI has drawn the last snapshot (any thread); ``gui_cpu``: GUI CPU seconds it cost."""
        if gui_cpu is not None:
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
            run = self.run_
            self._drain(run.wait_time() if run is not None else 0.1)
            run = self.run_
            if self._stop.is_set() or run is None:
                continue
            self._emit_events(run.advance(CHUNK_SECONDS))
            self._maybe_frame(run)

    def _start(self, spec: RunSpec) -> None:
        try:
            self.run_ = Run(spec)
        except (ValueError, OSError) as exc:
            self.errored.emit(f"Could not build {spec.id}: {exc}")
            return
        self.replaced.emit(self.run_.spec, None)
        self._maybe_frame(self.run_)  # the first probe and views
        self.state_changed.emit("idle")

    def _drain(self, timeout: float) -> None:
        try:
            cmd = self._commands.get(timeout=timeout) if timeout > 0 else self._commands.get_nowait()
        except queue.Empty:
            return
        while cmd is not _STOP:
            if self.run_ is None:  # the first model could not be built: only a Restart helps
                if hasattr(cmd, "spec"):
                    self._start(cmd.spec)
            else:
                self._emit_events(self.run_.apply(cmd))
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                return
        self._stop.set()

    _SIGNALS = {
        StateChanged: lambda self, e: self.state_changed.emit(e.state),
        LiveApplied: lambda self, e: self.live_applied.emit(e.name, e.value, e.step),
        Replaced: lambda self, e: self.replaced.emit(e.spec, e.history),
        Notice: lambda self, e: self.message.emit(e.text),
        Failed: lambda self, e: self.errored.emit(e.text),
    }

    def _emit_events(self, events: list[Event]) -> None:
        for e in events:
            self._SIGNALS[type(e)](self, e)

    def _maybe_frame(self, run: Run) -> None:
        now = time.perf_counter()
        d = self._pacer.decide(now, training=run.training, new_points=run.has_new_points(), step=run.step,
                               cap_binding=run.cap_binding, forced=run.wants("probe") or run.wants("views"))
        if not d.emit:
            return
        snap, events = run.frame(probe=d.probe, views=d.views)
        self._pacer.sent(now, step=run.step, probe_seconds=run.probe_seconds, views_seconds=run.views_seconds)
        self._emit_events(events)
        self._seq = snap.seq
        self._drawn.clear()
        self.snapshot.emit(snap)
        if run.training and DRAW_WAIT_MAX > 0:  # let the GUI draw without competing for the GIL
            self._drawn.wait(DRAW_WAIT_MAX)
