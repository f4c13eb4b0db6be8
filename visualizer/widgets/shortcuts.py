"""F1: a sheet listing every keyboard shortcut of a window, read from its actions (so it never goes stale).

``ShortcutSheet(window)`` is a non-modal dialog with a two-column table (keys, what they do); Esc or
the Close button closes it. ``rows()`` gives the (keys, text) pairs, for tests.
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

# keys that work without an action of their own (widgets handle them)
EXTRA = (
    ("Mouse wheel / drag", "zoom / pan a plot (turns auto-scale off)"),
    ("Click a column", "select that timestep in every panel"),
    ("Esc", "close this sheet"),
)


def _clean(text: str) -> str:
    return text.replace("&&", "\x00").replace("&", "").replace("\x00", "&").replace("…", "").strip(" ▶⟲‖")


def window_shortcuts(window: QtWidgets.QWidget) -> list[tuple[str, str]]:
    """(keys, description) for every action with a shortcut in ``window`` and its children, once each."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    for action in window.findChildren(QtGui.QAction):
        keys = [k.toString(QtGui.QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if not keys:
            continue
        row = (" / ".join(keys), _clean(action.text()))
        if row not in seen:
            seen.add(row)
            out.append(row)
    return out


class ShortcutSheet(QtWidgets.QDialog):
    def __init__(self, window: QtWidgets.QWidget):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.window_ = window
        self.table = QtWidgets.QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setStretchLastSection(True)
        note = QtWidgets.QLabel("Space, S and the arrow keys work anywhere in the window except while typing in "
                                "a text field.")
        note.setWordWrap(True)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(note)
        lay.addWidget(buttons)
        self.refresh()

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]

    def refresh(self) -> None:
        rows = window_shortcuts(self.window_) + list(EXTRA)
        self.table.setRowCount(len(rows))
        bold = self.font()
        bold.setBold(True)
        for r, (keys, text) in enumerate(rows):
            k = QtWidgets.QTableWidgetItem(keys)
            k.setFont(bold)
            self.table.setItem(r, 0, k)
            self.table.setItem(r, 1, QtWidgets.QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        fm = self.fontMetrics()
        self.resize(max(460, self.table.columnWidth(0) + 320),
                    min(fm.lineSpacing() * 2 * (len(rows) + 2) + 120, 700))
