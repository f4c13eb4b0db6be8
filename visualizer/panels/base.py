"""Base class for live panels.

The hub (``visualizer.session.TrainingSession``, a QObject) re-emits what the
run produces. Signals a panel may use (all snake_case):

* ``snapshot_ready(object)``   a ``core.probe.Snapshot`` (probe None / views () when unchanged)
* ``experiment_changed(object)``  a ``core.run.RunSpec`` after restart/rebuild/load:
  clear plots, rebuild layout for the new experiment
* ``timestep_changed(int)``     the one selected timestep shared by every panel
* ``live_param_changed(str, object, int)``  name, new value, training step (loss curve markers)
* ``metrics_reset()``           the metric history was cleared (new run)
* ``state_changed(str)``        "idle" | "running" | "paused" | "stopped"
* ``errored(str)``              a message for the user

Hub attributes/methods panels may call: ``session.timestep``, ``session.set_timestep(t)``,
``session.latest_probe``, ``session.latest_views`` (view type -> view), ``session.spec``
(RunSpec), ``session.history`` (core.history.MetricHistory owned by the GUI side),
``session.send(command)`` and its shorthands (``set_live(name, value)``,
``set_probe_example(**kw)``, ``refresh()``: a fresh probe and views now).

A panel lists the view types it draws (``draws``, core.views). It receives the probe
(``_on_probe``: the probe's own views, e.g. ``probe.view(BitSum)``, come with it) and
each new view of a type it draws (``_on_view``). A panel draws only when visible:
while hidden it just remembers the latest probe/views and redraws from them when shown.
"""
from __future__ import annotations

from typing import Any, ClassVar

from PySide6 import QtWidgets

from core.probe import Probe, Snapshot
from core.views import View
from visualizer.widgets import opaque


class Panel(QtWidgets.QWidget):
    key: ClassVar[str] = "panel"  # dock name (layout, View menu)
    title: str = "Panel"
    draws: ClassVar[tuple[type[View], ...]] = ()  # the view types this panel draws

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        opaque(self)  # a redraw repaints the panel, not its dock and the window beneath it
        self.session = session
        self._pending_probe: Probe | None = None
        self._pending_views: dict[type, View] = {}
        self._dirty = False
        session.snapshot_ready.connect(self._on_snapshot)
        session.timestep_changed.connect(self._on_timestep_guarded)
        session.experiment_changed.connect(self._on_experiment)

    # -- dispatch -----------------------------------------------------------
    def _on_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.probe is not None:
            self._pending_probe = snapshot.probe
        for v in snapshot.views:
            if type(v) in self.draws:
                self._pending_views[type(v)] = v
        self._on_metrics(snapshot)
        if self.isVisible():
            self._flush()
        else:
            self._dirty = True

    def _flush(self) -> None:
        probe, views = self._pending_probe, self._pending_views
        self._pending_probe, self._pending_views = None, {}
        self._dirty = False
        if probe is not None:
            self._on_probe(probe)
        for v in views.values():
            self._on_view(v)

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

    def _on_view(self, view: View) -> None:
        """Draw a new view of one of the ``draws`` types."""

    def _on_timestep(self, t: int) -> None:
        """Move the timestep cursor."""

    def _on_experiment(self, spec: Any) -> None:
        """A new experiment/run: clear."""
