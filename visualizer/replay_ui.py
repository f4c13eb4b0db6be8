"""Training time in the window: ``install_replay(window)`` adds the replay controls to a MainWindow.

* the training-time scrubber (visualizer.widgets.timeline) beside the timestep scrubber;
* the Events list (visualizer.panels.events), tabbed with the Runs list;
* event markers and the replayed step on the loss plot (the loss panel installs its own
  ``EventMarkers``), a "replaying step N (keyframe at M)" badge in the status bar;
* Run ▸ Note… (Ctrl+N), Run ▸ Back to live (Ctrl+L), Run ▸ Events list, File ▸ Export movie…;
* a one-click "Rewind to step N" button in the message bar when training paused on a NaN or a
  loss spike (core.run's Failed message names the last exact snapshot).

The returned :class:`ReplayController` (``window.replay``) has the actions as methods taking their
arguments directly (``add_note(text)``, ``rewind_to(step, ask=False)``, ``branch_from(step)``,
``export_movie(path, panel, fps)``) so tests never block on a dialog.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from core.run import Note, RewindTo
from core.runs import Fork
from visualizer.panels.events import EventsPanel
from visualizer.widgets import opaque
from visualizer.widgets.timeline import REPLAY_COLOR, TrainingTimeline, replay_text

REWIND_OFFER = re.compile(r"[Rr]ewind to (?:step|the exact snapshot at step) ([\d,]+)")


def rewind_offer(text: str) -> int | None:
    """The step a Failed message offers to rewind to (core.run: spike watchdog, divergence), or None."""
    m = REWIND_OFFER.search(text)
    return int(m.group(1).replace(",", "")) if m else None


class TimeRow(QtWidgets.QWidget):
    """The timestep scrubber and the training-time scrubber side by side, or one above the other when the
    window is too narrow for both (with the longest replay label) on one row."""

    LONGEST = "replaying step 100,000 (keyframe at 100,000)"

    def __init__(self, scrubber: QtWidgets.QWidget | None, timeline: TrainingTimeline):
        super().__init__()
        self.setObjectName("timeRow")
        self.scrubber, self.timeline = scrubber, timeline
        opaque(self)
        self.box = QtWidgets.QBoxLayout(QtWidgets.QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(8)
        if scrubber is not None:
            self.box.addWidget(scrubber, 2)
        self.box.addWidget(timeline, 3)

    def needed_width(self) -> int:
        """Width for both on one row with the longest replay label."""
        bold = QtGui.QFont(self.timeline.label.font())
        bold.setBold(True)
        label = QtGui.QFontMetrics(bold).horizontalAdvance(self.LONGEST) + 20
        t = self.timeline
        rest = sum(w.sizeHint().width() for w in (t.play_button, t.rate, t.live_button)) + t.slider.minimumWidth() + 40
        s = self.scrubber.minimumSizeHint().width() + 60 if self.scrubber is not None else 0
        return s + rest + label

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 — as narrow as one of them: the row stacks then
        parts = [w.minimumSizeHint() for w in (self.scrubber, self.timeline) if w is not None]
        height = (sum(p.height() for p in parts) + self.box.spacing()) if self.stacked() else max(p.height()
                                                                                                for p in parts)
        return QtCore.QSize(max(p.width() for p in parts), height)

    def stacked(self) -> bool:
        return self.box.direction() == QtWidgets.QBoxLayout.Direction.TopToBottom

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        direction = (QtWidgets.QBoxLayout.Direction.LeftToRight if event.size().width() >= self.needed_width()
                     else QtWidgets.QBoxLayout.Direction.TopToBottom)
        if direction != self.box.direction():
            self.box.setDirection(direction)


class ReplayController(QtCore.QObject):
    def __init__(self, window: Any):
        super().__init__(window)
        self.window = window
        s = self.session = window.session

        # the training-time scrubber, beside the timestep scrubber
        self.timeline = TrainingTimeline(s)
        self.timeline.rewind_requested.connect(self.rewind_to)
        self.timeline.branch_requested.connect(self.branch_from)
        self.timeline.note_requested.connect(self.add_note)
        central = window.centralWidget().layout()
        self.time_row = row = TimeRow(window.scrubber, self.timeline)
        if window.scrubber is not None:
            central.removeWidget(window.scrubber)
        central.addWidget(row)

        # the Events list, tabbed with the Runs list
        self.events_panel = EventsPanel(s)
        self.events_panel.note_requested.connect(self.add_note)
        self.events_panel.rewind_requested.connect(self.rewind_to)
        self.events_panel.branch_requested.connect(self.branch_from)
        dock = self.events_dock = QtWidgets.QDockWidget("Events", window)
        dock.setObjectName("eventsDock")
        dock.setWidget(self.events_panel)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable)
        runs_dock = getattr(window, "runs_dock", None)
        window.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        if runs_dock is not None:
            window.tabifyDockWidget(runs_dock, dock)
            runs_dock.raise_()

        # status bar badge
        self.badge = QtWidgets.QLabel()
        self.badge.setObjectName("replayBadge")
        self.badge.setStyleSheet(f"QLabel {{ background: {REPLAY_COLOR}; color: black; padding: 1px 8px; "
                                 f"border-radius: 3px; font-weight: bold; }}")
        self.badge.hide()
        window.statusBar().insertPermanentWidget(0, self.badge)

        # message bar: one-click rewind after a spike or a divergence
        bar = window.message_bar
        self.rewind_button = QtWidgets.QPushButton()
        self.rewind_button.setObjectName("rewindOffer")
        self.rewind_button.hide()
        self.rewind_button.clicked.connect(self._rewind_offered)
        bar.layout().insertWidget(1, self.rewind_button)
        self._offered: int | None = None
        _orig_show = bar.show_message

        def show_message(text: str, kind: str = "error") -> None:  # a message that offers a rewind gets the button
            self.rewind_button.hide()
            _orig_show(text, kind)
            if kind == "error":
                self._offer_rewind(text)

        bar.show_message = show_message

        # actions
        menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions() if a.menu() is not None}
        run_menu, file_menu = menus.get("Run"), menus.get("File")
        self.note_action = self._action("Note at this step…", "Ctrl+N", self.add_note, run_menu,
                                        "Write a note on the run's time axis at the present step")
        self.live_action = self._action("Back to live", "Ctrl+L", self.timeline.go_live, run_menu,
                                        "Leave the replay: the panels show the network now")
        if run_menu is not None:
            run_menu.addAction(dock.toggleViewAction())
        self.movie_action = self._action("Export movie…", None, self._ask_movie, None,
                                         "The replay of training time as an animated GIF or an MP4")
        if file_menu is not None:
            before = next((a for a in file_menu.actions() if a.text().startswith("Export metrics")), None)
            after = file_menu.actions()[file_menu.actions().index(before) + 1] if before is not None else None
            file_menu.insertAction(after, self.movie_action) if after is not None else file_menu.addAction(
                self.movie_action)

        s.replay_changed.connect(self._on_replay)
        s.keyframe_shown.connect(self._on_replay)

    def _action(self, text: str, shortcut: str | None, slot: Any, menu: QtWidgets.QMenu | None,
                tip: str) -> QtGui.QAction:
        a = QtGui.QAction(text, self.window)
        if shortcut:
            a.setShortcut(QtGui.QKeySequence(shortcut))
        a.setToolTip(tip)
        a.triggered.connect(lambda *_: slot())
        if menu is not None:
            menu.addAction(a)
        self.window.addAction(a)
        return a

    # -- replay state --------------------------------------------------------------------------
    def _on_replay(self, *_: Any) -> None:
        text = replay_text(self.session)
        self.badge.setText(text)
        self.badge.setVisible(bool(text))
        self.live_action.setEnabled(bool(text))

    def go_live(self) -> None:
        self.timeline.go_live()

    # -- notes, rewind, branch ------------------------------------------------------------------
    def add_note(self, text: str | None = None) -> None:
        """A note at the present step (asks for the text when ``text`` is None)."""
        if text is None:
            text, ok = QtWidgets.QInputDialog.getText(self.window, "Note",
                                                      f"A note at step {self.session.step:,} (why you changed "
                                                      f"something, what you see):")
            if not ok or not text.strip():
                return
        self.session.send(Note(str(text)))

    def rewind_to(self, step: int, ask: bool = True) -> None:
        """Rewind the shown run to the exact snapshot at or before ``step`` (asks first when ``ask``)."""
        step = int(step)
        if ask:
            now = self.session.step
            answer = QtWidgets.QMessageBox.question(
                self.window, "Rewind",
                f"Rewind to the exact snapshot at or before step {step:,}?\n\nWhat came after it (up to step "
                f"{now:,}: metrics, keyframes, events) is forgotten; training then continues from there exactly "
                f"as it did. To keep both, use Branch instead.",
                QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.Cancel,
                QtWidgets.QMessageBox.StandardButton.Cancel)
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                return
        self.session.send(RewindTo(step))

    def branch_from(self, step: int) -> None:
        """A new run from the exact snapshot at or before ``step``, with the settings form's changed values."""
        spec = self.session.spec
        form = self.window.form
        try:
            values = form.values() if form is not None else {}
        except ValueError as exc:
            self.window._on_error(str(exc))
            return
        changed = {k: v for k, v in values.items() if spec.config.get(k) != v}
        self.session.send(Fork.of(at=int(step), **changed))

    def _offer_rewind(self, text: str) -> None:
        step = rewind_offer(text)
        self._offered = step
        if step is None:
            return
        self.rewind_button.setText(f"Rewind to step {step:,}")
        self.rewind_button.setToolTip("Restore the exact state saved at that step (what came after is forgotten)")
        self.rewind_button.show()

    def _rewind_offered(self) -> None:
        if self._offered is not None:
            self.rewind_to(self._offered, ask=False)
            self.window.message_bar.hide()

    # -- movies ---------------------------------------------------------------------------------
    def export_movie(self, path: str | Path, panel: str | None = None, fps: float = 5.0,
                     dialog: bool = False) -> tuple[int, int]:
        """Write the replay (every keyframe, then the present) of the window or one panel to a GIF or MP4;
        with ``dialog`` a cancellable progress dialog. Returns (frames, distinct frames); errors go to the
        message bar."""
        from visualizer.movie import MovieError, record

        progress: Any = None
        box = None
        if dialog:
            box = QtWidgets.QProgressDialog("Rendering the movie…", "Cancel", 0, 1, self.window)
            box.setWindowTitle("Export movie")
            box.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
            box.setMinimumDuration(0)

            def _progress(done: int, total: int) -> bool:
                box.setMaximum(total)
                box.setValue(done)
                box.setLabelText(f"Rendering frame {min(done + 1, total):,} of {total:,}…")
                QtWidgets.QApplication.processEvents()  # the Cancel button answers
                return not box.wasCanceled()

            progress = _progress
        try:
            frames, distinct = record(self.window, path, panel=panel, fps=fps, progress=progress)
        except MovieError as exc:
            self.window._on_error(str(exc))
            return 0, 0
        finally:
            if box is not None:
                box.close()
        if frames:
            self.window._on_message(f"Saved a movie of {frames} frames to {path}")
        else:
            self.window._on_message("Movie export cancelled")
        return frames, distinct

    def _ask_movie(self) -> None:
        dlg = QtWidgets.QDialog(self.window)
        dlg.setWindowTitle("Export movie")
        form = QtWidgets.QFormLayout(dlg)
        what = QtWidgets.QComboBox()
        what.addItem("the whole window", None)
        for key, dock in self.window.docks.items():
            what.addItem(dock.windowTitle(), key)
        fps = QtWidgets.QDoubleSpinBox()
        fps.setRange(0.5, 30)
        fps.setValue(5)
        fps.setSuffix(" frames/s")
        n = len(self.session.keyframes())
        form.addRow("Record", what)
        form.addRow("Speed", fps)
        form.addRow(QtWidgets.QLabel(f"{n} keyframes of {self.session.spec.cls.title}, then the present"))
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                             | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(dlg.accept)
        buttons.rejected.connect(dlg.reject)
        form.addRow(buttons)
        if dlg.exec() != QtWidgets.QDialog.DialogCode.Accepted:
            return
        name = f"{self.session.spec.id}-step{self.session.step}.gif"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, "Export movie", name,
                                                        "Animated GIF (*.gif);;MP4 video (*.mp4)")
        if path:
            if Path(path).suffix.lower() not in (".gif", ".mp4"):
                path += ".gif"
            self.export_movie(path, what.currentData(), fps.value(), dialog=True)


def install_replay(window: Any) -> ReplayController:
    return ReplayController(window)
