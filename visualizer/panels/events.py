"""The Events list: the moments on the selected run's time axis (core.replay.RunEvent).

Each row is ``step · kind · text`` — live changes, notes, checkpoints saved, divergences and
loss spikes, forks, loads, rewinds — coloured by kind (visualizer.widgets.timeline.EVENT_COLORS).
A click replays that step (the training-time scrubber jumps there); the buttons and the context
menu add a note (Ctrl+N), *Rewind to here…* (asks first: what came after is forgotten) and
*Branch from here* (a new run in the Runs list, with the settings' changed values). The list is
refreshed from ``session.runs_changed`` (``RunInfo.events`` of the selected run).

Not a view-type panel: the window docks it beside the Runs list.
"""
from __future__ import annotations

from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from visualizer.widgets.timeline import event_color, selected_events


class EventsPanel(QtWidgets.QWidget):
    key = "events"
    title = "Events"

    note_requested = QtCore.Signal()
    rewind_requested = QtCore.Signal(int)
    branch_requested = QtCore.Signal(int)

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.events: tuple = ()
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setObjectName("eventsList")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["step", "kind", "what happened"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemClicked.connect(self._on_click)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.setToolTip("Click a row to replay that step")

        self.note_button = QtWidgets.QPushButton("Note…")
        self.note_button.setToolTip("Write a note at the present step (Ctrl+N)")
        self.note_button.clicked.connect(self.note_requested.emit)
        self.rewind_button = QtWidgets.QPushButton("Rewind…")
        self.rewind_button.setToolTip("Go back to the exact state at (or just before) the selected event's step; "
                                      "what came after is forgotten")
        self.rewind_button.clicked.connect(lambda: self._emit_for_selected(self.rewind_requested))
        self.branch_button = QtWidgets.QPushButton("Branch")
        self.branch_button.setToolTip("A new run from the selected event's step, with the settings' changed values")
        self.branch_button.clicked.connect(lambda: self._emit_for_selected(self.branch_requested))
        buttons = QtWidgets.QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for b in (self.note_button, self.rewind_button, self.branch_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.tree, 1)
        lay.addLayout(buttons)

        session.runs_changed.connect(self._on_changed)
        session.experiment_changed.connect(self._on_changed)
        self.refresh()
        self._update_buttons()

    # -- contents ---------------------------------------------------------------------------
    def _on_changed(self, _: Any) -> None:
        self.refresh()

    def refresh(self) -> None:
        events = selected_events(self.session)
        if events == self.events:
            return
        self.events = events
        at_end = self.tree.verticalScrollBar().value() >= self.tree.verticalScrollBar().maximum() - 2
        self.tree.clear()
        items = []
        for e in events:
            item = QtWidgets.QTreeWidgetItem([f"{e.step:,}", e.kind, e.text])
            item.setData(0, QtCore.Qt.ItemDataRole.UserRole, int(e.step))
            item.setTextAlignment(0, QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            item.setForeground(1, QtGui.QBrush(QtGui.QColor(event_color(e.kind))))
            item.setToolTip(2, e.text)
            items.append(item)
        self.tree.addTopLevelItems(items)
        if at_end and items:
            self.tree.scrollToBottom()
        self._update_buttons()

    def rows(self) -> list[tuple[int, str, str]]:
        """(step, kind, text) of every row (for tests)."""
        return [(e.step, e.kind, e.text) for e in self.events]

    def click_row(self, row: int) -> None:
        """As a click on row ``row`` (tests)."""
        item = self.tree.topLevelItem(row)
        self.tree.setCurrentItem(item)
        self._on_click(item, 0)

    # -- actions -------------------------------------------------------------------------------
    def _selected_step(self) -> int | None:
        item = self.tree.currentItem()
        return None if item is None else int(item.data(0, QtCore.Qt.ItemDataRole.UserRole))

    def _update_buttons(self) -> None:
        has = self._selected_step() is not None
        self.rewind_button.setEnabled(has)
        self.branch_button.setEnabled(has)

    def _emit_for_selected(self, signal: Any) -> None:
        step = self._selected_step()
        if step is not None:
            signal.emit(step)

    def _on_click(self, item: QtWidgets.QTreeWidgetItem, _column: int) -> None:
        step = int(item.data(0, QtCore.Qt.ItemDataRole.UserRole))
        if hasattr(self.session, "show_keyframe"):
            self.session.show_keyframe(step)

    def _context_menu(self, pos: QtCore.QPoint) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        step = int(item.data(0, QtCore.Qt.ItemDataRole.UserRole))
        menu = QtWidgets.QMenu(self)
        menu.addAction(f"Replay step {step:,}", lambda: self.session.show_keyframe(step))
        menu.addAction(f"Rewind to step {step:,}…", lambda: self.rewind_requested.emit(step))
        menu.addAction(f"Branch from step {step:,}", lambda: self.branch_requested.emit(step))
        menu.exec(self.tree.viewport().mapToGlobal(pos))
