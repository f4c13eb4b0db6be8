"""A hub for the compared run: panels built on it show another run at the same timestep.

``CompareHub`` looks like the session to a panel (the same signals and attributes) but
carries the compared run's probe and views (the session's ``compare_ready``); the
timestep is the session's, so both heatmaps outline the same column. Commands a panel
sends go to the session (the shown run).
"""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore

from core.probe import Probe, Snapshot
from core.views import View


class CompareHub(QtCore.QObject):
    snapshot_ready = QtCore.Signal(object)
    experiment_changed = QtCore.Signal(object)
    timestep_changed = QtCore.Signal(int)
    live_param_changed = QtCore.Signal(str, object, int)
    metrics_reset = QtCore.Signal()
    state_changed = QtCore.Signal(str)
    errored = QtCore.Signal(str)
    message = QtCore.Signal(str)

    def __init__(self, session: Any, run: int, parent: QtCore.QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.run = run
        info = session.run_info(run)
        self.spec = info.spec if info is not None else session.spec
        self.latest_probe: Probe | None = None
        self.latest_views: dict[type, View] = {}
        self.step = info.step if info is not None else 0
        session.compare_ready.connect(self._on_snapshot)
        session.timestep_changed.connect(self.timestep_changed)

    # what panels read and call
    @property
    def timestep(self) -> int:
        return self.session.timestep

    @property
    def history(self) -> Any:
        return self.session.histories.get(self.run)

    def set_timestep(self, t: int) -> None:
        self.session.set_timestep(t)

    def __getattr__(self, name: str) -> Any:  # commands (refresh, set_live...) go to the shown run
        return getattr(self.session, name)

    def _on_snapshot(self, snap: Snapshot) -> None:
        self.step = snap.step
        if snap.probe is not None:
            self.latest_probe = snap.probe
        self.latest_views.update((type(v), v) for v in snap.views)
        self.snapshot_ready.emit(snap)

    def close(self) -> None:
        try:
            self.session.compare_ready.disconnect(self._on_snapshot)
            self.session.timestep_changed.disconnect(self.timestep_changed)
        except (RuntimeError, TypeError):
            pass
