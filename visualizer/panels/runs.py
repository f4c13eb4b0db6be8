"""Runs: every run since the window opened — forks, replaced runs, runs opened from disk.

One row per run (``core.runs.RunInfo``): its colour and whether its curves are overlaid on
the loss plots, whether it follows the transport (Play/Pause/Step), its name (double-click
to rename), the hyperparameters that differ from the first run of its experiment, its
step, the latest value of its main metric and its state. Clicking a row shows that run in
every panel. Buttons: Fork (a copy of the shown run with the settings form's current
values; live changes continue from the same step, structural ones restart from the seed),
Compare (the chosen run's heatmap and samples beside the shown run's), Remove, Save.

Not drawn from a view type: the window docks it beside the settings.
"""
from __future__ import annotations

import time
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from core.runs import RunInfo
from visualizer.panels.base import Panel

RUN_COLORS = ("#4cc9f0", "#f72585", "#b5e48c", "#ffb703", "#9d4edd", "#fb8500", "#06d6a0", "#ef476f",
              "#8ecae6", "#e9c46a")
COLUMNS = ("plot", "train", "run", "differs", "step", "metric", "state")


def run_color(run: int) -> str:
    """The colour of run ``run`` (ids from 1), everywhere it is drawn."""
    return RUN_COLORS[(int(run) - 1) % len(RUN_COLORS)]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, tuple):
        return ",".join(_fmt(x) for x in v)
    return str(v)


class RunsPanel(Panel):
    key = "runs"
    title = "Runs"
    draws = ()  # not an experiment's view: the window docks it always

    fork_requested = QtCore.Signal()  # the window forks with the form's values
    save_requested = QtCore.Signal(int)  # run id

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.DoubleClicked)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)  # (a stretched middle column was squeezed to "iffer" in a narrow dock)
        for col, tip in enumerate(("overlay this run's curves on the loss plots", "train with Play / Pause / Step",
                                   "double-click to rename", "settings that differ from the first run of its experiment",
                                   "training steps done", "latest value of the main metric",
                                   "running / paused / idle / diverged")):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.itemChanged.connect(self._on_item_changed)
        self.table.cellClicked.connect(self._on_clicked)
        self.fork_button = QtWidgets.QPushButton("Fork")
        self.fork_button.setToolTip("Copy the shown run with the settings' current values (Ctrl+K): live changes go on "
                                    "from this step, structural ones start again from the seed")
        self.fork_button.clicked.connect(self.fork_requested)
        self.compare_button = QtWidgets.QPushButton("Compare")
        self.compare_button.setCheckable(True)
        self.compare_button.setToolTip("Show the chosen run's heatmap and samples beside the shown run's")
        self.compare_button.toggled.connect(self._on_compare)
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.remove_button.setToolTip("Remove the chosen run from the list (it is not saved)")
        self.remove_button.clicked.connect(lambda: self._chosen() and self.session.remove_run(self._chosen()))
        self.save_button = QtWidgets.QPushButton("Save…")
        self.save_button.setToolTip("Save the chosen run as a checkpoint")
        self.save_button.clicked.connect(lambda: self._chosen() and self.save_requested.emit(self._chosen()))
        buttons = QtWidgets.QHBoxLayout()
        for b in (self.fork_button, self.compare_button, self.remove_button, self.save_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(buttons)
        lay.addWidget(self.table, 1)
        self._rows: list[int] = []
        self._fitted_at = -1e9
        self._filling = False
        self._chosen_run: int | None = None
        session.runs_changed.connect(self._on_runs)
        self._on_runs(getattr(session, "runs", ()))

    # -- reading ---------------------------------------------------------------------------------
    def row_of(self, run: int) -> int:
        return self._rows.index(run)

    def cell_text(self, run: int, column: str) -> str:
        item = self.table.item(self.row_of(run), COLUMNS.index(column))
        return "" if item is None else item.text()

    def _chosen(self) -> int | None:
        return self._chosen_run if self._chosen_run in self._rows else None

    # -- hub -> table ----------------------------------------------------------------------------------
    def _on_runs(self, runs: tuple[RunInfo, ...]) -> None:
        """Fill the table; only what changed is set (every setter on an item re-measures its column, the
        columns being sized to their contents: while runs train this comes at every frame)."""
        s = self.session
        self._filling = True
        try:
            self._rows = [r.id for r in runs]
            grew = self.table.rowCount() != len(runs)
            if grew:
                self.table.setRowCount(len(runs))
            for i, r in enumerate(runs):
                show = self._item(i, 0, "●", checkable=True, checked=r.id not in s.hidden_runs)
                _set_foreground(show, run_color(r.id))
                self._item(i, 1, "", checkable=True, checked=r.active)
                name = self._item(i, 2, r.name, editable=True)
                if name.font().bold() != (r.id == s.selected):
                    font = name.font()
                    font.setBold(r.id == s.selected)
                    name.setFont(font)
                _set_tooltip(name, f"{r.experiment}" + (f", preset {r.spec.preset}" if r.spec.preset else ", from a file")
                             + f", seed {r.spec.seed}"
                             + (f"; forked from run {r.parent} at step {r.fork_step:,}" if r.parent else "")
                             + f"; {r.state}")  # (the state column folds away in a narrow dock)
                differs = self._item(i, 3, ", ".join(f"{k}={_fmt(v)}" for k, v in r.differs) or "—")
                _set_tooltip(differs, differs.text())  # the column is narrow in the settings column: the whole text
                self._item(i, 4, f"{r.step:,}")
                self._item(i, 5, "" if r.value is None else f"{r.metric} {r.value:.4g}")
                state = self._item(i, 6, r.state + (" (compared)" if r.id == s.compare else ""))
                if r.state == "diverged":
                    _set_foreground(state, "#e53935")
                if r.id == s.selected and not self._row_selected(i):
                    self.table.selectRow(i)
        finally:
            self._filling = False
        now = time.monotonic()
        if grew or now - self._fitted_at > 1.0:  # (texts widen as runs train: looked at once a second)
            self._fit_columns()
        if self.remove_button.isEnabled() != (len(runs) > 1):
            self.remove_button.setEnabled(len(runs) > 1)
        if self.compare_button.isChecked() != (s.compare is not None):
            self.compare_button.blockSignals(True)
            self.compare_button.setChecked(s.compare is not None)
            self.compare_button.blockSignals(False)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """The "state" column folds away when the columns would not fit the dock (a horizontal scrollbar
        cut it at 1280x720); each run's name then tells its state in its tooltip."""
        self._fitted_at = time.monotonic()
        header = self.table.horizontalHeader()
        need = sum(max(self.table.sizeHintForColumn(c), header.sectionSizeHint(c)) for c in range(len(COLUMNS)))
        hide = need > self.table.viewport().width()
        col = COLUMNS.index("state")
        if self.table.isColumnHidden(col) != hide:
            self.table.setColumnHidden(col, hide)

    def _row_selected(self, row: int) -> bool:
        rows = self.table.selectionModel().selectedRows()
        return len(rows) == 1 and rows[0].row() == row

    def _item(self, row: int, col: int, text: str, checkable: bool = False, checked: bool = False,
              editable: bool = False) -> QtWidgets.QTableWidgetItem:
        item = self.table.item(row, col)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            self.table.setItem(row, col, item)
        flags = QtCore.Qt.ItemFlag.ItemIsEnabled | QtCore.Qt.ItemFlag.ItemIsSelectable
        if checkable:
            flags |= QtCore.Qt.ItemFlag.ItemIsUserCheckable
            state = QtCore.Qt.CheckState.Checked if checked else QtCore.Qt.CheckState.Unchecked
            if item.data(QtCore.Qt.ItemDataRole.CheckStateRole) is None or item.checkState() != state:
                item.setCheckState(state)
        if editable:
            flags |= QtCore.Qt.ItemFlag.ItemIsEditable
        if item.flags() != flags:
            item.setFlags(flags)
        if item.text() != text:
            item.setText(text)
        return item

    # -- table -> hub ---------------------------------------------------------------------------------------
    def _on_clicked(self, row: int, col: int) -> None:
        if not 0 <= row < len(self._rows) or col in (0, 1):
            return
        run = self._rows[row]
        self._chosen_run = run
        if self.compare_button.isChecked() and run != self.session.selected:
            self.session.set_compare(run)
        elif run != self.session.selected:
            self.session.select_run(run)

    def choose(self, run: int) -> None:
        """Click run ``run``'s row (for tests and keyboard use)."""
        self._on_clicked(self.row_of(run), 2)

    def _on_item_changed(self, item: QtWidgets.QTableWidgetItem) -> None:
        if self._filling or not 0 <= item.row() < len(self._rows):
            return
        run = self._rows[item.row()]
        on = item.checkState() == QtCore.Qt.CheckState.Checked
        if item.column() == 0:
            self.session.set_run_shown(run, on)
        elif item.column() == 1:
            self.session.set_run_active(run, on)
        elif item.column() == 2:
            self.session.rename_run(run, item.text())

    def _on_compare(self, on: bool) -> None:
        chosen = self._chosen()
        if on and chosen is not None and chosen != self.session.selected:
            self.session.set_compare(chosen)
        elif not on:
            self.session.set_compare(None)


def _set_foreground(item: QtWidgets.QTableWidgetItem, colour: str) -> None:
    if item.foreground().color().name() != colour or item.foreground().style() == QtCore.Qt.BrushStyle.NoBrush:
        item.setForeground(QtGui.QBrush(QtGui.QColor(colour)))


def _set_tooltip(item: QtWidgets.QTableWidgetItem, text: str) -> None:
    if item.toolTip() != text:
        item.setToolTip(text)
