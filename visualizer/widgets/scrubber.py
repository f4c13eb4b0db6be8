"""Timestep scrubber: one slider for the timestep every panel shows.

``[▶] t = 3 / 8 ────●──────  input: '1+0'``

The selected timestep lives on the hub (``session.timestep``,
``session.set_timestep(t)``, ``session.timestep_changed``); this widget only
moves it. Keyboard: Left/Right step, Home/End jump (QActions with window-wide
shortcuts: ``actions()`` or the ``action_*`` attributes, so the main window can
also put them in a menu). The play button steps through the timesteps with a
QTimer, looping, until pressed again.
"""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from core.probe import Probe, Snapshot


WHITESPACE = {" ": "␣ (space)", "\n": "↵ (newline)", "\t": "⇥ (tab)"}


def visible(label: str) -> str:
    """An input label as the student reads it: whitespace named, anything else quoted."""
    return WHITESPACE.get(label, repr(label))


class TimestepScrubber(QtWidgets.QWidget):
    """Slider + play-through for ``session.timestep``."""

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None, interval_ms: int = 400):
        super().__init__(parent)
        self.session = session
        self.num_steps = 0
        self.input_labels: tuple[str, ...] = ()

        f = self.font()
        f.setPointSize(12)
        self.setFont(f)

        self.play_button = QtWidgets.QToolButton()
        self.play_button.setCheckable(True)
        # the style's own play/pause icons: a "⏸" glyph is an empty box in DejaVu-only systems
        self._icons = {on: self.style().standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPause if on
                                                     else QtWidgets.QStyle.StandardPixmap.SP_MediaPlay)
                       for on in (False, True)}
        self.play_button.setIcon(self._icons[False])
        self.play_button.setToolTip("Play through the timesteps (loops)")
        self.play_button.toggled.connect(self._on_play_toggled)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(1)
        self.slider.setTickPosition(QtWidgets.QSlider.TickPosition.TicksBelow)
        self.slider.setMinimumWidth(160)
        self.slider.valueChanged.connect(self._on_slider)
        self.t_label = QtWidgets.QLabel("t = – / –")
        self.t_label.setMinimumWidth(110)
        self.input_label = QtWidgets.QLabel("")
        self.input_label.setMinimumWidth(120)
        self.input_label.setTextFormat(QtCore.Qt.TextFormat.PlainText)

        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.addWidget(self.play_button)
        lay.addWidget(self.t_label)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.input_label)

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.step_forward_looping)

        self.action_prev = self._action("Previous timestep", QtCore.Qt.Key.Key_Left, lambda: self.move(-1))
        self.action_next = self._action("Next timestep", QtCore.Qt.Key.Key_Right, lambda: self.move(+1))
        self.action_first = self._action("First timestep", QtCore.Qt.Key.Key_Home, self.first)
        self.action_last = self._action("Last timestep", QtCore.Qt.Key.Key_End, self.last)
        self.action_play = QtGui.QAction("Play through timesteps", self)
        self.action_play.setCheckable(True)
        self.action_play.toggled.connect(self.play_button.setChecked)
        self.play_button.toggled.connect(self.action_play.setChecked)
        self.addAction(self.action_play)

        session.timestep_changed.connect(self._on_timestep)
        session.snapshot_ready.connect(self._on_snapshot)
        session.experiment_changed.connect(self._on_experiment)
        probe = getattr(session, "latest_probe", None)
        if probe is not None:
            self.set_probe(probe)
        self._update_labels()

    def _action(self, text: str, key: QtCore.Qt.Key, slot: Any) -> QtGui.QAction:
        a = QtGui.QAction(text, self)
        a.setShortcut(QtGui.QKeySequence(key))
        # active whenever the window has focus (text fields and spin boxes keep their own arrow keys)
        a.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    # -- state -------------------------------------------------------------------
    @property
    def timestep(self) -> int:
        return int(getattr(self.session, "timestep", 0) or 0)

    def set_probe(self, probe: Probe) -> None:
        """Take the number of timesteps and the input labels from a probe (nothing to do when they did
        not change, the usual case: every snapshot carries a probe of the same example)."""
        if probe.num_steps == self.num_steps and tuple(probe.input_labels) == self.input_labels:
            return
        self.num_steps = probe.num_steps
        self.input_labels = tuple(probe.input_labels)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(self.num_steps - 1, 0))
        self.slider.setValue(min(self.timestep, max(self.num_steps - 1, 0)))
        self.slider.blockSignals(False)
        self._update_labels()

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.probe is not None:
            self.set_probe(snapshot.probe)

    def _on_experiment(self, info: Any) -> None:
        self.stop()
        self.num_steps = 0
        self.input_labels = ()
        self.slider.blockSignals(True)
        self.slider.setRange(0, 0)
        self.slider.blockSignals(False)
        self._update_labels()

    def _on_timestep(self, t: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(int(t))
        self.slider.blockSignals(False)
        self._update_labels()

    def _on_slider(self, value: int) -> None:
        self.go(value)

    def _update_labels(self) -> None:
        if self.num_steps == 0:
            self.t_label.setText("t = – / –")
            self.input_label.setText("")
            return
        t = min(self.timestep, self.num_steps - 1)
        self.t_label.setText(f"t = {t} / {self.num_steps - 1}")
        label = self.input_labels[t] if t < len(self.input_labels) else ""
        self.input_label.setText(f"input: {visible(label)}" if label else "")

    # -- moving ------------------------------------------------------------------
    def go(self, t: int) -> None:
        """Select timestep ``t`` (clamped) on the hub."""
        if self.num_steps == 0:
            return
        self.session.set_timestep(min(max(int(t), 0), self.num_steps - 1))

    def move(self, delta: int) -> None:
        self.go(self.timestep + delta)

    def first(self) -> None:
        self.go(0)

    def last(self) -> None:
        self.go(self.num_steps - 1)

    def step_forward_looping(self) -> None:
        """One play-through tick: the next timestep, back to 0 after the last."""
        if self.num_steps == 0:
            return
        self.go((self.timestep + 1) % self.num_steps)

    # -- play-through --------------------------------------------------------------
    def play(self) -> None:
        self.play_button.setChecked(True)

    def stop(self) -> None:
        self.play_button.setChecked(False)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def _on_play_toggled(self, on: bool) -> None:
        self.play_button.setIcon(self._icons[bool(on)])
        self.play_button.setToolTip("Stop playing through the timesteps" if on
                                    else "Play through the timesteps (loops)")

        if on:
            self.timer.start()
        else:
            self.timer.stop()
