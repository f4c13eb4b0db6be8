"""Base class for live panels.

The hub (``visualizer.session.TrainingSession``, a QObject) re-emits what the
worker produces. Signals a panel may use (all snake_case):

* ``snapshot_ready(object)``   a ``core.probe.Snapshot`` (probe/extras may be None/{} when unchanged)
* ``experiment_changed(object)``  an ``ExperimentInfo`` (cls, config, seed) after reset/rebuild/load:
  clear plots, rebuild layout for the new experiment
* ``timestep_changed(int)``     the one selected timestep shared by every panel
* ``live_param_changed(str, object, int)``  name, new value, training step (loss curve markers)
* ``metrics_reset()``           the metric history was cleared (new run)
* ``state_changed(str)``        "idle" | "running" | "paused" | "stopped"
* ``errored(str)``              a message for the user

Hub attributes/methods panels may call: ``session.timestep``, ``session.set_timestep(t)``,
``session.latest_probe``, ``session.latest_extras``, ``session.info`` (ExperimentInfo),
``session.history`` (core.history.MetricHistory owned by the GUI side),
``session.set_live(name, value)``, ``session.set_probe_example(**kw)``,
``session.refresh_extras()`` (ask the worker for fresh extras/probe now).

A panel draws only when visible: while hidden it just remembers the latest
probe/extras and redraws from them when shown again.
"""
from __future__ import annotations

from typing import Any, Mapping

from PySide6 import QtWidgets

from core.probe import Probe, Snapshot


class Panel(QtWidgets.QWidget):
    title: str = "Panel"

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._pending_probe: Probe | None = None
        self._pending_extras: Mapping[str, Any] | None = None
        self._dirty = False
        session.snapshot_ready.connect(self._on_snapshot)
        session.timestep_changed.connect(self._on_timestep_guarded)
        session.experiment_changed.connect(self._on_experiment)

    # -- dispatch -----------------------------------------------------------
    def _on_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.probe is not None:
            self._pending_probe = snapshot.probe
        if snapshot.extras:
            self._pending_extras = snapshot.extras
        self._on_metrics(snapshot)
        if self.isVisible():
            self._flush()
        else:
            self._dirty = True

    def _flush(self) -> None:
        probe, extras = self._pending_probe, self._pending_extras
        self._pending_probe = self._pending_extras = None
        self._dirty = False
        if probe is not None:
            self._on_probe(probe)
        if extras is not None:
            self._on_extras(extras)

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if self._dirty:
            self._flush()

    def _on_timestep_guarded(self, t: int) -> None:
        if self.isVisible():
            self._on_timestep(t)

    # -- to override --------------------------------------------------------
    def _on_metrics(self, snapshot: Snapshot) -> None:
        """New metric points (called for every snapshot, even when hidden: cheap bookkeeping only)."""

    def _on_probe(self, probe: Probe) -> None:
        """Draw a new probe."""

    def _on_extras(self, extras: Mapping[str, Any]) -> None:
        """Draw new experiment extras."""

    def _on_timestep(self, t: int) -> None:
        """Move the timestep cursor."""

    def _on_experiment(self, info: Any) -> None:
        """A new experiment/run: clear."""
