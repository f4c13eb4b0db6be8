"""Worked example: the 2-step RNN of the seed, every number with 8 decimals.

Draws the probe's ``core.views.WorkedNumbers``: x (T, D), pre and h (T, H),
y and targets (T, K), the loss, the weights, and the reference pass (the
tutorial's numbers with its fixed weights, computed in core).

Three parts: the equations; a table with one column per timestep (rows x, pre, h, y,
target; the selected timestep highlighted — click a column to select it) and, in
grey, the seed's numbers for the same inputs (its fixed weights), with a banner
saying whether the model still reproduces them exactly (it does at step 0, until
training moves the weights); the selected step written out as a calculation; and
the current weights.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from core.probe import Probe
from core.views import WorkedNumbers
from visualizer.panels.hidden import FONT_PT, HIGHLIGHT, RIGHT, ContentPanel, clamp_t, font

DEC = 8
EQUATIONS = ("pre<sub>t</sub> = x<sub>t</sub>·W<sub>xh</sub> + h<sub>t−1</sub>·W<sub>hh</sub> + b<sub>h</sub>"
             " &nbsp; (h<sub>−1</sub> = 0) &nbsp;&nbsp; h<sub>t</sub> = tanh(pre<sub>t</sub>) &nbsp;&nbsp; "
             "y<sub>t</sub> = h<sub>t</sub>·W<sub>hy</sub> + b<sub>y</sub>")
WEIGHTS = (("Wxh", "W<sub>xh</sub>"), ("Whh", "W<sub>hh</sub>"), ("bh", "b<sub>h</sub>"),
           ("Why", "W<sub>hy</sub>"), ("by", "b<sub>y</sub>"))


SEED_GREY = "#9e9e9e"
MATCH_TOL = 5e-9  # "equal to 8 decimals"


def num(v: float) -> str:
    return f"{float(v):.{DEC}f}"


def vec(a: Any) -> str:
    return "[" + ", ".join(num(v) for v in np.asarray(a, dtype=float).ravel()) + "]"


def matrix_html(a: Any) -> str:
    a = np.atleast_2d(np.asarray(a, dtype=float))
    rows = "".join("<tr>" + "".join(f"<td align='right'>&nbsp;{num(v)}&nbsp;</td>" for v in r) + "</tr>"
                   for r in a)
    return f"<table style='border: 1px solid gray' cellspacing='0'>{rows}</table>"


WEIGHT_ROWS = (("Wxh", "by"), ("Whh", "Why"), ("bh",))  # at most 3 numbers wide: fits a narrow dock


class WorkedPanel(ContentPanel):
    key = "worked"
    title = "Worked example"
    draws = (WorkedNumbers,)

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self.equations = QtWidgets.QLabel(EQUATIONS)
        self.equations.setFont(font(FONT_PT + 1))
        self.equations.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(0, 0)
        self.table.setFont(font(FONT_PT, mono=True))
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setFont(font(FONT_PT, bold=True, mono=True))
        self.table.horizontalHeader().setFont(font(FONT_PT, bold=True))
        row_h = QtGui.QFontMetrics(font(FONT_PT, mono=True)).height() + 6  # compact rows: the table fits a short dock
        self.table.verticalHeader().setDefaultSectionSize(row_h)
        self.table.verticalHeader().setMinimumSectionSize(row_h)
        self.table.cellClicked.connect(lambda _row, col: self.session.set_timestep(col))
        self.table.horizontalHeader().sectionClicked.connect(self.session.set_timestep)
        self.step_label = QtWidgets.QLabel("")  # the selected step, written out
        self.step_label.setFont(font(FONT_PT, mono=True))
        self.step_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.step_label.setWordWrap(True)
        self.step_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.weights_label = QtWidgets.QLabel("")
        self.weights_label.setFont(font(FONT_PT, mono=True))
        self.weights_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.weights_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.loss_label = QtWidgets.QLabel("")
        self.loss_label.setFont(font(FONT_PT + 2, bold=True))
        self.seed_label = QtWidgets.QLabel("")  # does the model still reproduce the seed's numbers?
        self.seed_label.setFont(font(FONT_PT, bold=True))
        self.seed_label.setWordWrap(True)
        self._T = 0
        self.seed_match: bool | None = None

        inner = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(inner)
        lay.setContentsMargins(6, 0, 6, 6)
        lay.addWidget(self.table)
        lay.addWidget(self.step_label)
        weights_title = QtWidgets.QLabel("Weights (training changes them; step 0 is the seed's)")
        weights_title.setFont(font(FONT_PT, bold=True))
        lay.addWidget(weights_title)
        lay.addWidget(self.weights_label)
        lay.addWidget(self.loss_label)
        lay.addStretch(1)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        # the equations and the seed banner stay in view (wrapped to the panel's width); the rest scrolls
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 0, 0)
        outer.setSpacing(2)
        outer.addWidget(self.equations)
        outer.addWidget(self.seed_label)
        outer.addWidget(scroll, 1)
        self.setMinimumSize(420, 300)

    # -- hub ---------------------------------------------------------------------
    def _on_experiment(self, info: Any) -> None:
        self.probe = None
        self.table.setRowCount(0)
        self._T = 0
        self.seed_match = None
        self.seed_label.setText("")
        self.step_label.setText("")
        self.weights_label.setText("")
        self.loss_label.setText("")

    def _on_probe(self, probe: Probe) -> None:
        self.probe = probe
        self.redraws += 1
        nums = probe.view(WorkedNumbers)
        if nums is None:
            return
        pre, h = np.asarray(nums.pre, dtype=float), np.asarray(nums.h, dtype=float)  # (T, H)
        T, H = h.shape
        x = np.asarray(nums.x, dtype=float).reshape(T, -1)  # (T, D)
        y = np.asarray(nums.y, dtype=float).reshape(T, -1)  # (T, K)
        tgt = None if nums.targets is None else np.asarray(nums.targets, dtype=float).reshape(T, -1)
        names = _names("x", x.shape[1]) + _names("pre", H) + _names("h", H) + _names("y", y.shape[1])
        blocks = [x, pre, h, y]
        if tgt is not None:
            names += _names("target", tgt.shape[1])
            blocks.append(tgt)
        values = np.concatenate(blocks, axis=1)  # (T, quantities)
        # the reference pass (the seed's weights) on the same inputs, when the experiment gives it
        ref = None
        if nums.reference is not None:
            r_pre, r_h, r_y = (np.asarray(a, dtype=float).reshape(T, -1) for a in nums.reference)
            ref = np.concatenate([x, r_pre, r_h, r_y] + ([tgt] if tgt is not None else []), axis=1)
        # rows = quantities, columns = timesteps (as in the heatmap), then the seed's columns in grey
        self._T = T
        n_cols = T + (T if ref is not None else 0)
        self.table.setRowCount(len(names))
        self.table.setColumnCount(n_cols)
        self.table.setVerticalHeaderLabels(names)
        self.table.setHorizontalHeaderLabels([f"t = {t}" for t in range(T)]
                                             + ([f"seed t = {t}" for t in range(T)] if ref is not None else []))
        for t in range(T):
            for j, v in enumerate(values[t]):
                self._set_cell(j, t, num(v))
        if ref is not None:
            grey = QtGui.QBrush(QtGui.QColor(SEED_GREY))
            for t in range(T):
                for j, v in enumerate(ref[t]):
                    self._set_cell(j, T + t, num(v))
                    self.table.item(j, T + t).setForeground(grey)
            self.seed_match = bool(np.all(np.abs(values - ref) <= MATCH_TOL))
            if self.seed_match:
                self.seed_label.setText("✔ Exactly the seed's numbers (grey: the seed's own). "
                                        "Press Step to train and watch them change.")
                self.seed_label.setStyleSheet(f"color: {RIGHT};")
            else:
                self.seed_label.setText(f"After {probe.step} training steps the weights have moved; "
                                        "grey: the seed's numbers (Reset to see them again).")
                self.seed_label.setStyleSheet("")
        else:
            self.seed_match = None
            self.seed_label.setText("")
        self.table.resizeColumnsToContents()
        header_h = self.table.horizontalHeader().height()
        self.table.setFixedHeight(header_h + sum(self.table.rowHeight(r) for r in range(len(names))) + 4)
        weights = dict(nums.weights)
        cells = {}
        for key, name in WEIGHTS:
            if key in weights:
                shape = "×".join(map(str, np.shape(weights[key])))
                cells[key] = (f"<td valign='top' style='padding-right:14px'><b>{name}</b> ({shape})"
                              f"{matrix_html(weights[key])}</td>")
        rows = ["<tr>" + "".join(cells[k] for k in keys if k in cells) + "</tr>" for keys in WEIGHT_ROWS]
        self.weights_label.setText("<table>" + "".join(rows) + "</table>")
        self.loss_label.setText(f"loss (mean squared error) = {num(nums.loss)}   ·   step {probe.step}")
        self._on_timestep(self.current_t())

    def _set_cell(self, row: int, col: int, text: str) -> None:
        item = self.table.item(row, col)
        if item is None:
            item = QtWidgets.QTableWidgetItem()
            item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, col, item)
        item.setText(text)

    def _on_timestep(self, t: int) -> None:
        p = self.probe
        if p is None or p.view(WorkedNumbers) is None:
            return
        T = self._T
        t = clamp_t(t, T)
        for r in range(self.table.rowCount()):
            for c in range(T):
                item = self.table.item(r, c)
                if item is not None:
                    item.setBackground(QtGui.QBrush(QtGui.QColor(HIGHLIGHT)) if c == t else QtGui.QBrush())
                    item.setForeground(QtGui.QBrush(QtGui.QColor("black")) if c == t else QtGui.QBrush())
        self.step_label.setText(self.step_html(p, t))

    @staticmethod
    def step_html(p: Probe, t: int) -> str:
        """The selected step as a calculation with the actual numbers."""
        v = p.view(WorkedNumbers)
        h = np.asarray(v.h, dtype=float)
        x = np.asarray(v.x, dtype=float).reshape(len(h), -1)
        h_prev = h[t - 1] if t > 0 else np.zeros(h.shape[1])
        y = np.asarray(v.y, dtype=float).reshape(len(h), -1)
        pad = "&nbsp;" * (len(f"pre{t}") + 1)
        lines = [
            f"<b>t = {t}</b>: x<sub>{t}</sub> = {vec(x[t])}, h<sub>{t - 1}</sub> = {vec(h_prev)}",
            f"pre<sub>{t}</sub> = x<sub>{t}</sub>·W<sub>xh</sub> + h<sub>{t - 1}</sub>·W<sub>hh</sub>"
            f" + b<sub>h</sub>",
            f"{pad}= {vec(v.pre[t])}",
            f"h<sub>{t}</sub> &nbsp;&nbsp;= tanh(pre<sub>{t}</sub>) = {vec(h[t])}",
            f"y<sub>{t}</sub> &nbsp;&nbsp;= h<sub>{t}</sub>·W<sub>hy</sub> + b<sub>y</sub> = {vec(y[t])}",
        ]
        return "<br>".join(lines)

    def cell_text(self, t: int, quantity: str) -> str:
        """Text of the table cell of timestep ``t`` in the row named ``quantity`` (e.g. "h[0]"), for tests."""
        for r in range(self.table.rowCount()):
            if self.table.verticalHeaderItem(r).text() == quantity:
                return self.table.item(r, t).text()
        raise KeyError(quantity)

    def highlighted_column(self) -> int | None:
        for c in range(self.table.columnCount()):
            item = self.table.item(0, c)
            if item is not None and item.background().style() != QtCore.Qt.BrushStyle.NoBrush:
                return c
        return None


def _names(base: str, n: int) -> list[str]:
    return [base] if n == 1 else [f"{base}[{i}]" for i in range(n)]

