"""Training time as a second axis in the window: the training-time scrubber and the event markers.

``[▶] [5 kf/s] training step ──●───▲──▲────  replaying step 420 (keyframe at 420)  [Live]``

* :class:`TrainingTimeline` — a slider over training steps 0..now. Dragging it (or the keyboard,
  or a click) asks the session to replay that step (``session.show_keyframe(step)``: every panel
  shows the keyframe in force then, the timestep scrubber still works inside it); **Live**
  (Ctrl+L) returns to the present. The play button animates training time at a chosen number of
  keyframes per second. The run's events are drawn as coloured ticks on the slider (hover for
  the text); a right click offers replay, *Rewind to here* and *Branch from here*.
* :class:`EventMarkers` — the same events as vertical lines on the loss plot (live changes keep
  the loss panel's own labelled markers), the replayed step as a cyan line, and a click on the
  loss plot replays that step.

Colours per event kind: :data:`EVENT_COLORS`.
"""
from __future__ import annotations

import time
from typing import Any

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from visualizer.widgets import opaque, set_text, set_tooltip

EVENT_COLORS = {
    "live": "#ffe066", "diverged": "#ff4d4d", "error": "#ff4d4d", "spike": "#ff8c1a", "saved": "#5cd65c",
    "fork": "#c77dff", "loaded": "#4cc9f0", "note": "#f2f2f2", "rewind": "#ff66c4", "restart": "#9aa0a6",
}
REPLAY_COLOR = "#00e5ff"
MAX_EVENT_MARKERS = 60  # on the loss plot (the newest)
DRAG_COALESCE_MS = 40  # while dragging, at most one keyframe request per this many ms

SYNC_INTERVAL = 0.25  # seconds between slider/label updates while training


def event_color(kind: str) -> str:
    return EVENT_COLORS.get(kind, "#bbbbbb")


def selected_events(session: Any) -> tuple:
    """The selected run's events (core.replay.RunEvent), oldest first; () without a runs list."""
    info = session.run_info(session.selected) if hasattr(session, "run_info") else None
    return tuple(info.events) if info is not None else ()


def replay_text(session: Any) -> str:
    """"replaying step N (keyframe at M)" while replaying, "" when live."""
    step = getattr(session, "replay_step", None)
    if step is None:
        return ""
    kf = getattr(session, "replay_keyframe", None)
    at = f"keyframe at {kf.step:,}" if kf is not None else "loading…"
    return f"replaying step {step:,} ({at})"



class TimelineSlider(QtWidgets.QSlider):
    """A horizontal slider that draws event ticks under its groove and shows their text on hover."""

    context_requested = QtCore.Signal(int, QtCore.QPoint)  # training step under the mouse, global position

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        self.events: tuple = ()
        self.setMouseTracking(True)
        self.setMinimumHeight(26)

    def set_events(self, events: tuple) -> None:
        if tuple(events) != self.events:
            self.events = tuple(events)
            self.update()

    def _groove(self) -> tuple[int, int]:
        """(x of value minimum, usable width) in widget pixels."""
        opt = QtWidgets.QStyleOptionSlider()
        self.initStyleOption(opt)
        style = self.style()
        groove = style.subControlRect(QtWidgets.QStyle.ComplexControl.CC_Slider, opt,
                                      QtWidgets.QStyle.SubControl.SC_SliderGroove, self)
        handle = style.subControlRect(QtWidgets.QStyle.ComplexControl.CC_Slider, opt,
                                      QtWidgets.QStyle.SubControl.SC_SliderHandle, self)
        return groove.x() + handle.width() // 2, max(groove.width() - handle.width(), 1)

    def x_of(self, value: int) -> int:
        x0, span = self._groove()
        return x0 + QtWidgets.QStyle.sliderPositionFromValue(self.minimum(), self.maximum(), int(value), span)

    def value_at(self, x: int) -> int:
        x0, span = self._groove()
        return QtWidgets.QStyle.sliderValueFromPosition(self.minimum(), self.maximum(), int(x) - x0, span)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        if not self.events or self.maximum() <= self.minimum():
            return
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        h = self.height()
        for e in self.events:
            if not self.minimum() <= e.step <= self.maximum():
                continue
            x = self.x_of(e.step)
            color = QtGui.QColor(event_color(e.kind))
            p.setPen(QtCore.Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawPolygon(QtGui.QPolygonF([QtCore.QPointF(x, h - 7), QtCore.QPointF(x - 4, h - 1),
                                           QtCore.QPointF(x + 4, h - 1)]))
        p.end()

    def event_near(self, x: int, tolerance: int = 5) -> list:
        return [e for e in self.events if self.minimum() <= e.step <= self.maximum()
                and abs(self.x_of(e.step) - x) <= tolerance]

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        super().mouseMoveEvent(event)
        x = int(event.position().x())
        near = self.event_near(x)
        step = self.value_at(x)
        if near:
            text = "\n".join(f"step {e.step:,} · {e.kind} · {e.text}" for e in near[:6])
        else:
            text = f"training step {step:,} (click or drag to replay; right-click to rewind or branch)"
        QtWidgets.QToolTip.showText(event.globalPosition().toPoint(), text, self)

    def contextMenuEvent(self, event: QtGui.QContextMenuEvent) -> None:  # noqa: N802
        near = self.event_near(event.pos().x())
        step = near[0].step if near else self.value_at(event.pos().x())
        self.context_requested.emit(int(step), event.globalPos())


class TrainingTimeline(QtWidgets.QWidget):
    """The training-time scrubber (see the module docstring)."""

    rewind_requested = QtCore.Signal(int)
    branch_requested = QtCore.Signal(int)
    note_requested = QtCore.Signal()

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingTimeline")
        self.session = session
        f = self.font()
        f.setPointSize(12)
        self.setFont(f)
        style = self.style()
        self._icons = {on: style.standardIcon(QtWidgets.QStyle.StandardPixmap.SP_MediaPause if on
                                              else QtWidgets.QStyle.StandardPixmap.SP_MediaPlay) for on in (False, True)}
        self.play_button = QtWidgets.QToolButton()
        self.play_button.setCheckable(True)
        self.play_button.setIcon(self._icons[False])
        self.play_button.setToolTip("Play through training time: one keyframe after another")
        self.play_button.toggled.connect(self._on_play)
        self.rate = QtWidgets.QSpinBox()
        self.rate.setRange(1, 30)
        self.rate.setValue(5)
        self.rate.setSuffix(" kf/s")
        self.rate.setToolTip("Play-through speed: keyframes per second")
        self.rate.valueChanged.connect(lambda v: self.timer.setInterval(int(1000 / v)))
        self.slider = TimelineSlider()
        self.slider.setRange(0, 0)
        self.slider.setMinimumWidth(160)
        self.slider.setToolTip("Training time: drag to replay what the panels showed at an earlier step")
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.context_requested.connect(self._context_menu)
        self.label = QtWidgets.QLabel()
        self.label.setObjectName("replayLabel")
        self.label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        opaque(self, self.slider, self.label)  # (the slider and its label follow training a few times a second)
        self.live_button = QtWidgets.QPushButton("Live")
        self.live_button.setObjectName("liveButton")
        self.live_button.setToolTip("Back to the present (Ctrl+L)")
        self.live_button.clicked.connect(self.go_live)

        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(4)
        lay.addWidget(self.play_button)
        lay.addWidget(self.rate)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        lay.addWidget(self.live_button)

        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(int(1000 / self.rate.value()))
        self.timer.timeout.connect(self.play_tick)
        self._drag = QtCore.QTimer(self)  # coalesces keyframe requests while the slider moves
        self._drag.setSingleShot(True)
        self._drag.setInterval(DRAG_COALESCE_MS)
        self._drag.timeout.connect(self._send_pending)
        self._pending: int | None = None

        self._synced_at = -1e9
        session.snapshot_ready.connect(self._on_snapshot)
        session.experiment_changed.connect(self._on_changed)
        if hasattr(session, "state_changed"):
            session.state_changed.connect(self._on_changed)  # (the exact step once training stops)
        if hasattr(session, "replay_changed"):
            session.replay_changed.connect(self._on_changed)
            session.runs_changed.connect(self._on_runs)
        self._sync()

    def _on_changed(self, _: Any) -> None:
        self._sync()

    def _on_runs(self, _runs: Any) -> None:
        self.slider.set_events(selected_events(self.session))

    # -- state -----------------------------------------------------------------------
    @property
    def replaying(self) -> bool:
        return getattr(self.session, "replay_step", None) is not None

    def _set_slider(self, maximum: int, value: int) -> None:
        maximum = max(int(maximum), 0)
        if (maximum, int(value)) == (self.slider.maximum(), self.slider.value()):
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, maximum)
        self.slider.setValue(int(value))
        self.slider.setPageStep(max(1, maximum // 20))
        self.slider.blockSignals(False)

    def _sync(self) -> None:
        """Slider range and position, label and Live button from the session."""
        s = self.session
        now = int(getattr(s, "step", 0) or 0)
        if self.replaying:
            self._set_slider(max(now, s.replay_step), s.replay_step)
            self.label.setText(replay_text(s))
            self.label.setToolTip("The panels show a keyframe from the past, not the present. Live (Ctrl+L) returns.")
        else:
            self._set_slider(now, now)
            set_text(self.label, f"step {now:,} · live")
            set_tooltip(self.label, "The panels show the network now. Drag the slider to replay an earlier step.")
            if self.timer.isActive() and self._pending is None:
                self.play_button.setChecked(False)
        if self.replaying != self.label.property("replaying"):  # (a restyle costs: only when it changes)
            self.label.setProperty("replaying", self.replaying)
            self.label.style().unpolish(self.label)
            self.label.style().polish(self.label)
            if self.replaying:
                self.label.setStyleSheet(f"QLabel {{ background: {REPLAY_COLOR}; color: black; padding: 1px 6px; "
                                         f"border-radius: 3px; font-weight: bold; }}")
            else:
                self.label.setStyleSheet("")
            self.live_button.setEnabled(self.replaying)
            # a fixed size per mode (the widest text the mode shows): the text changes with every frame, and
            # a label whose size may change re-lays out the whole window each time
            font = QtGui.QFont(self.label.font())
            font.setBold(self.replaying)
            widest = ("replaying step 10,000,000 (keyframe at 10,000,000)" if self.replaying
                      else "step 10,000,000 · live")
            self.label.setFixedSize(max(120, QtGui.QFontMetrics(font).horizontalAdvance(widest) + 16),
                                    QtGui.QFontMetrics(font).height() + 6)

    def _on_snapshot(self, snap: Any) -> None:
        now = int(getattr(self.session, "step", 0) or 0)
        if now != self.slider.maximum() and (not self.replaying or now > self.slider.maximum()):
            # while training, the slider and its label follow a few times a second (each move repaints
            # them); a Step, a pause or the end of a run shows the exact step at once
            t = time.perf_counter()
            if (getattr(self.session, "state", "") == "running" and not self.replaying
                    and t - self._synced_at < SYNC_INTERVAL):
                return
            self._synced_at = t
            self._sync()

    # -- replaying ---------------------------------------------------------------------
    def _on_slider(self, value: int) -> None:
        self._pending = int(value)
        if not self._drag.isActive():
            self._drag.start()

    def _send_pending(self) -> None:
        if self._pending is not None:
            step, self._pending = self._pending, None
            self.session.show_keyframe(step)

    def show_step(self, step: int) -> None:
        """Replay ``step`` now (the slider follows)."""
        self._pending = None
        self.session.show_keyframe(int(step))

    def go_live(self) -> None:
        self.play_button.setChecked(False)
        self._pending = None
        self._drag.stop()
        if hasattr(self.session, "live"):
            self.session.live()
        self._sync()

    # -- play-through --------------------------------------------------------------------
    def _on_play(self, on: bool) -> None:
        self.play_button.setIcon(self._icons[bool(on)])
        self.play_button.setToolTip("Stop playing through training time" if on
                                    else "Play through training time: one keyframe after another")
        if on:
            if not self.replaying or self._next_step() is None:  # from the start
                steps = self._keyframe_steps()
                if steps:
                    self.show_step(steps[0])
            self.timer.start()
        else:
            self.timer.stop()

    def _keyframe_steps(self) -> list[int]:
        kfs = self.session.keyframes() if hasattr(self.session, "keyframes") else []
        return [k.step for k in kfs]

    def _next_step(self) -> int | None:
        s = self.session
        kf = getattr(s, "replay_keyframe", None)
        current = kf.step if kf is not None else (s.replay_step if s.replay_step is not None else -1)
        current = max(current, s.replay_step if s.replay_step is not None else -1)
        return next((k for k in self._keyframe_steps() if k > current), None)

    def play_tick(self) -> None:
        """One play-through tick: the next keyframe; the play button stops after the last one."""
        nxt = self._next_step()
        if nxt is None:
            self.play_button.setChecked(False)
            return
        self.show_step(nxt)

    # -- context menu ---------------------------------------------------------------------
    def _context_menu(self, step: int, pos: QtCore.QPoint) -> None:
        menu = self.context_menu(step)
        menu.exec(pos)

    def context_menu(self, step: int) -> QtWidgets.QMenu:
        menu = QtWidgets.QMenu(self)
        menu.addAction(f"Replay step {step:,}", lambda: self.show_step(step))
        menu.addSeparator()
        menu.addAction(f"Rewind to step {step:,}…", lambda: self.rewind_requested.emit(step))
        menu.addAction(f"Branch from step {step:,} (settings' values)", lambda: self.branch_requested.emit(step))
        menu.addSeparator()
        menu.addAction("Note at the present step…", self.note_requested.emit)
        return menu


class EventMarkers(QtCore.QObject):
    """Event lines and the replayed step on a loss panel's plot; a click on the plot replays that step."""

    def __init__(self, panel: Any, session: Any):
        super().__init__(panel)
        self.panel = panel
        self.session = session
        self.plot = panel.loss_plot
        self.lines: dict[tuple, pg.InfiniteLine] = {}  # (step, kind, text) -> line
        self.replay_line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(REPLAY_COLOR, width=2),
                                           label="replay", labelOpts={"position": 0.97, "color": REPLAY_COLOR,
                                                                      "fill": (0, 0, 0, 190)})
        self.replay_line.hide()
        self.plot.addItem(self.replay_line, ignoreBounds=True)
        if not hasattr(session, "replay_changed"):
            return
        # bound methods of this QObject (a child of the panel): disconnected when a rebuilt window deletes it
        session.runs_changed.connect(self._on_runs)
        session.metrics_reset.connect(self.clear)
        session.replay_changed.connect(self._on_replay_changed)
        session.keyframe_shown.connect(self._on_keyframe)
        panel.graphics.scene().sigMouseClicked.connect(self._on_click)
        self.plot.getViewBox().sigXRangeChanged.connect(self._place_labels)

    def _on_runs(self, _runs: Any) -> None:
        self.sync()

    def _on_replay_changed(self, _step: Any) -> None:
        self._on_replay()

    def _on_keyframe(self, _requested: int, _keyframe: Any) -> None:
        self._on_replay()

    def clear(self) -> None:
        for line in self.lines.values():
            self.plot.removeItem(line)
        self.lines.clear()
        self._on_replay()

    def sync(self) -> None:
        """The selected run's events (all but live changes, which the loss panel marks itself)."""
        events = [e for e in selected_events(self.session) if e.kind != "live"][-MAX_EVENT_MARKERS:]
        keys = {(e.step, e.kind, e.text): e for e in events}
        for key in [k for k in self.lines if k not in keys]:
            self.plot.removeItem(self.lines.pop(key))
        for i, (key, e) in enumerate(keys.items()):
            if key in self.lines:
                continue
            color = event_color(e.kind)
            label = e.kind  # the whole text is the line's tooltip and in the Events list
            line = pg.InfiniteLine(pos=e.step, angle=90, movable=False,
                                   pen=pg.mkPen(color, width=1.5, style=QtCore.Qt.PenStyle.DotLine),
                                   label=label, labelOpts={"position": 0.08 + 0.1 * (len(self.lines) % 4),
                                                           "color": color, "fill": (0, 0, 0, 170)})
            line.setToolTip(f"step {e.step:,} · {e.kind} · {e.text}")
            line.run_event = e
            self.plot.addItem(line, ignoreBounds=True)
            self.lines[key] = line
        self._place_labels()

    def _place_labels(self, *_: Any) -> None:
        """Labels read to the right of their line, or to the left in the right half of the view (never cut)."""
        (x0, x1), _ = self.plot.getViewBox().viewRange()
        mid = 0.5 * (x0 + x1)
        for line in list(self.lines.values()) + [self.replay_line]:
            anchors = [(1, 0.5), (1, 0.5)] if line.value() > mid else [(0, 0.5), (0, 0.5)]
            if line.label.anchors != anchors:
                line.label.anchors = anchors
                line.label.updatePosition()

    def kinds(self) -> list[str]:
        """The kinds of the events marked (for tests)."""
        return [k[1] for k in self.lines]

    def _on_replay(self) -> None:
        s = self.session
        step = getattr(s, "replay_step", None)
        if step is None:
            self.replay_line.hide()
            return
        self.replay_line.setPos(step)
        self.replay_line.label.setFormat(f"replay {step:,}")
        self.replay_line.show()
        self._place_labels()

    def _on_click(self, ev: Any) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton or ev.double() or ev.isAccepted():
            return
        for plot in (self.panel.loss_plot, self.panel.metric_plot):
            vb = plot.getViewBox()
            if plot.isVisible() and vb.sceneBoundingRect().contains(ev.scenePos()):
                x = vb.mapSceneToView(ev.scenePos()).x()
                self.replay_at(x)
                return

    def replay_at(self, x: float) -> None:
        """Replay the training step at plot x (clamped to 0..now)."""
        step = int(round(min(max(x, 0.0), float(getattr(self.session, "step", 0) or 0))))
        self.session.show_keyframe(step)
