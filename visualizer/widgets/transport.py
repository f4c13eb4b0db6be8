"""Transport controls (a toolbar): Play/Pause, Step, Step N, Reset and a speed cap.

Shortcuts (window-wide, ``Qt.WindowShortcut``): Space play/pause, S one step,
Ctrl+R reset. Text fields and spin boxes accept the ShortcutOverride for keys
they type, so Space/S still type there instead of triggering the actions.
"""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

SPEEDS = (("1 step/s", 1.0), ("10 steps/s", 10.0), ("30 steps/s", 30.0), ("100 steps/s", 100.0),
          ("1000 steps/s", 1000.0), ("max speed", None))
# The default: fast enough for long runs (char-lm trains at ~80 steps/s anyway), slow enough that
# binary addition (solved in ~200 steps, ~0.2 s at max speed) visibly learns over a few seconds.
DEFAULT_SPEED = 100.0


class Transport(QtWidgets.QToolBar):
    """Drives ``session``; ``reset_requested`` is handled by the window (it knows seed and config)."""

    reset_requested = QtCore.Signal()

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__("Transport", parent)
        self.setObjectName("transport")
        self.setMovable(False)
        self.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.session = session
        ctx = QtCore.Qt.ShortcutContext.WindowShortcut

        self.play_action = QtGui.QAction("▶  Play", self)
        self.play_action.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Space))
        self.play_action.setShortcutContext(ctx)
        self.play_action.setToolTip("Play / pause training (Space)")
        self.play_action.triggered.connect(self._on_play)
        self.addAction(self.play_action)

        self.step_action = QtGui.QAction("Step", self)
        self.step_action.setShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_S))
        self.step_action.setShortcutContext(ctx)
        self.step_action.setToolTip("Train one step, then pause (S)")
        self.step_action.triggered.connect(lambda: self.session.step_n(1))
        self.addAction(self.step_action)

        self.addSeparator()
        self.step_n_spin = QtWidgets.QSpinBox()
        self.step_n_spin.setRange(1, 1_000_000)
        self.step_n_spin.setValue(100)
        self.step_n_spin.setToolTip("Number of steps for 'Step N'")
        self.step_n_spin.setMinimumWidth(90)
        self.addWidget(self.step_n_spin)
        self.step_n_action = QtGui.QAction("Step N", self)
        self.step_n_action.setToolTip("Train this many steps, then pause")
        self.step_n_action.triggered.connect(lambda: self.session.step_n(self.step_n_spin.value()))
        self.addAction(self.step_n_action)

        self.addSeparator()
        self.reset_action = QtGui.QAction("⟲  Reset", self)
        self.reset_action.setShortcut(QtGui.QKeySequence("Ctrl+R"))
        self.reset_action.setShortcutContext(ctx)
        self.reset_action.setToolTip("Restart from scratch with the current seed (Ctrl+R)")
        self.reset_action.triggered.connect(self.reset_requested)
        self.addAction(self.reset_action)

        self.addSeparator()
        self.addWidget(QtWidgets.QLabel(" Speed "))
        self.speed_combo = QtWidgets.QComboBox()
        for text, cap in SPEEDS:
            self.speed_combo.addItem(text, cap)
        self.speed_combo.setCurrentIndex(self.speed_combo.findData(DEFAULT_SPEED))
        session.set_speed_cap(DEFAULT_SPEED)
        self.speed_combo.setToolTip("Speed cap: training steps per second")
        self.speed_combo.currentIndexChanged.connect(self._on_speed)
        self.addWidget(self.speed_combo)

        session.state_changed.connect(self._on_state)
        self._on_state(getattr(session, "state", "idle"))

    def _on_play(self) -> None:
        self.session.toggle()

    def _on_speed(self, index: int) -> None:
        self.session.set_speed_cap(self.speed_combo.itemData(index))

    def _on_state(self, state: str) -> None:
        running = state == "running"
        self.play_action.setText("‖  Pause" if running else "▶  Play")
        self.step_action.setEnabled(not running and state != "stopped")
        self.step_n_action.setEnabled(not running and state != "stopped")
