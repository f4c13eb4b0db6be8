"""Binary addition as a worked sum on a blackboard.

::

      t →    7 6 5 4 3 2 1 0      (the network reads right to left: LSB first)
    carry      1 1 1 1 1
        a    0 1 0 1 1 0 0 1   =  89
      + b    0 0 1 1 1 0 0 1   =  57
    ───────────────────────────
    a + b    1 0 0 1 0 0 1 0   = 146
  network    1 0 0 1 1 0 1 0   = 154  ✘

Numbers are written most significant bit first, as people read them; the
header row gives each column's timestep so the LSB-first order of the
sequence stays visible. The selected timestep's column is highlighted (click a
column to select it), wrong predicted bits are red, and the carry row shows the
true carry arriving in each column. Two spin boxes set the probe's a and b;
"New random pair" asks for a random one (``session.set_probe_example``).

Data: the probe's ``core.views.BitSum`` (a, b, their sums, the carry *out of*
step t and the LSB-first bit arrays); ``probe.outputs`` (T, 1) holds
p(sum bit = 1).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets


from core.probe import Probe
from core.views import BitSum
from visualizer.panels.hidden import FONT_PT, HIGHLIGHT, RIGHT, WRONG, ContentPanel, clamp_t, font

BIT_PT = 20
NOTE_MIN_H = 420  # px: below this panel height the reading note folds into a tooltip
ROWS = ("t", "carry", "a", "b", "sum", "pred", "p")
ROW_TITLES = {"t": "t", "carry": "carry", "a": "a", "b": "+ b", "sum": "a + b",
              "pred": "network", "p": "p(1)"}
SHORT_TITLES = {"carry": "c", "b": "+b", "sum": "a+b", "pred": "net"}  # when the dock is too narrow for the others
ROW_TIPS = {"t": "the timestep at which the network reads this column", "carry": "the carry arriving in this column",
            "p": "the network's probability that this sum bit is 1"}


class _Cell(QtWidgets.QLabel):
    """A grid cell that reports clicks (to select its column's timestep)."""

    clicked = QtCore.Signal()

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        self.clicked.emit()
        super().mousePressEvent(event)


class BinaryPanel(ContentPanel):
    key = "binary"
    title = "Binary addition"
    draws = (BitSum,)

    def __init__(self, session: Any, parent: QtWidgets.QWidget | None = None):
        super().__init__(session, parent)
        self._T = 0
        self._equal_columns = False
        self._wrong: list[bool] = []
        self.cells: dict[str, list[_Cell]] = {}  # row -> cells, index = timestep t
        self.values: dict[str, QtWidgets.QLabel] = {}  # row -> decimal value label

        self.board = QtWidgets.QWidget()
        self.grid = QtWidgets.QGridLayout(self.board)
        self.grid.setHorizontalSpacing(6)  # p(1) values must not run together
        self.grid.setVerticalSpacing(2)
        self.grid.setContentsMargins(0, 4, 0, 4)
        self.note = QtWidgets.QLabel(
            "The network reads the numbers right to left, least significant bit first: "
            "t = 0 is the rightmost column. Click a column to select its timestep.")
        self.note.setWordWrap(True)
        self.note.setFont(font(FONT_PT - 1))
        self.board.setToolTip(self.note.text())  # the note folds away in a short dock (720p): the tooltip stays

        self.spin_a = QtWidgets.QSpinBox()
        self.spin_b = QtWidgets.QSpinBox()
        for sp in (self.spin_a, self.spin_b):
            sp.setFont(font(FONT_PT + 1))
            sp.setRange(0, 127)
            sp.setMinimumWidth(60)
            sp.lineEdit().returnPressed.connect(self.use_typed_pair)
        self.use_button = QtWidgets.QPushButton("Add")
        self.use_button.setToolTip("Probe the network with the two numbers typed here")
        self.use_button.clicked.connect(self.use_typed_pair)
        self.random_button = QtWidgets.QPushButton("Random")
        self.random_button.setToolTip("Probe the network with two random numbers")
        self.random_button.clicked.connect(self.random_pair)
        controls = QtWidgets.QHBoxLayout()
        for text, w in (("a =", self.spin_a), ("b =", self.spin_b)):
            lab = QtWidgets.QLabel(text)
            lab.setFont(font(FONT_PT + 1))
            controls.addWidget(lab)
            controls.addWidget(w)
        for b in (self.use_button, self.random_button):
            b.setFont(font())
            controls.addWidget(b)
        controls.addStretch(1)

        self.placeholder = QtWidgets.QLabel("Waiting for the first probe…")
        self.placeholder.setFont(font(FONT_PT + 2))
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addLayout(controls)
        lay.addWidget(self.placeholder)
        board_row = QtWidgets.QHBoxLayout()  # the board keeps its natural width; the rest stays empty
        board_row.addWidget(self.board)
        board_row.addStretch(1)
        lay.addLayout(board_row)
        lay.addWidget(self.note)
        lay.addStretch(1)
        # only a minimum width: the grid's own minimum height (rows of big digits) must hold, or the
        # rows overlap and the highlight clips the digits in a short dock (seen at 1152 x 648)
        self.setMinimumWidth(420)
        self.note.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Minimum)


    # -- commands ----------------------------------------------------------------
    def use_typed_pair(self) -> None:
        self.session.set_probe_example(a=self.spin_a.value(), b=self.spin_b.value())
        self.session.refresh()

    def random_pair(self) -> None:
        self.session.set_probe_example(random=True)
        self.session.refresh()

    # -- grid ------------------------------------------------------------------------
    def _build_grid(self, T: int) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.cells, self.values, self.titles = {}, {}, {}
        self._T = T
        grid_row = 0
        for row in ROWS:
            if row == "sum":  # the line under the operands
                line = QtWidgets.QFrame()
                line.setFrameShape(QtWidgets.QFrame.Shape.HLine)
                line.setLineWidth(2)
                self.grid.addWidget(line, grid_row, 0, 1, T + 2)
                grid_row += 1
            title = self.titles[row] = QtWidgets.QLabel(ROW_TITLES[row])
            small = row in ("t", "carry", "p")
            title.setFont(font(FONT_PT if small else FONT_PT + 2, bold=not small))
            title.setToolTip(ROW_TIPS.get(row, ""))
            title.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter)
            self.grid.addWidget(title, grid_row, 0)
            cells = [_Cell("") for _ in range(T)]
            for t, cell in enumerate(cells):
                cell.setFont(font(FONT_PT - 2 if row == "p" else (FONT_PT if small else BIT_PT),
                                  bold=row in ("sum", "pred"), mono=True))
                cell.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                cell.setMinimumWidth(24)
                cell.clicked.connect(lambda t=t: self.session.set_timestep(t))
                self.grid.addWidget(cell, grid_row, 1 + (T - 1 - t))  # MSB left: column of t is T-1-t
            self.cells[row] = cells
            value = QtWidgets.QLabel("")
            value.setFont(font(FONT_PT + 4, bold=row in ("sum", "pred")))
            value.setMinimumWidth(60)

            self.grid.addWidget(value, grid_row, T + 1)
            self.values[row] = value
            grid_row += 1
        # every bit column as wide as its widest content, measured with the fonts (not the size hints of
        # labels that may not be polished yet, e.g. right after switching experiments): a 2-digit bit,
        # the 3-character p(1) value, plus room for the highlight's rounded box
        bit_w = QtGui.QFontMetrics(font(BIT_PT, bold=True, mono=True)).horizontalAdvance("0")
        p_w = QtGui.QFontMetrics(font(FONT_PT - 2, mono=True)).horizontalAdvance("0.0")
        col_w = max(bit_w, p_w) + 8
        bit_h = QtGui.QFontMetrics(font(BIT_PT, bold=True, mono=True)).height() + 6
        for row, cells in self.cells.items():
            for cell in cells:
                cell.setMinimumWidth(col_w)
                if row not in ("t", "carry", "p"):
                    cell.setMinimumHeight(bit_h)
        self._equal_columns = True
        for t in range(T):
            self.cells["t"][t].setText(str(t))
        hi = 2 ** max(T - 1, 0) - 1  # operands below 2^(bits-1): the sum fits in T bits
        for sp in (self.spin_a, self.spin_b):
            sp.setRange(0, hi)
        QtCore.QTimer.singleShot(0, self, self._fit_titles)  # once the new grid has its size (not after self is gone)

    # -- hub -------------------------------------------------------------------------
    def _on_experiment(self, info: Any) -> None:
        self.probe = None
        self._build_grid(0)
        self.placeholder.setVisible(True)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self.note.setVisible(self.height() >= NOTE_MIN_H)  # a short dock gives the rows and the loss plot the room
        self._fit_titles()

    def _fit_titles(self) -> None:
        """Short row titles ("net" for "network") when the board is wider than the panel: nothing clipped."""
        titles = getattr(self, "titles", {})
        if not titles:
            return
        try:
            for row, label in titles.items():
                label.setText(ROW_TITLES[row])
            if self.board.minimumSizeHint().width() > self.width() - 12:  # too narrow: the short titles
                for row, label in titles.items():
                    label.setText(SHORT_TITLES.get(row, ROW_TITLES[row]))
                    label.setToolTip(ROW_TIPS.get(row, ROW_TITLES[row]))
        except RuntimeError:  # the labels went with a rebuilt grid or a closed window
            pass

    def _on_probe(self, probe: Probe) -> None:
        self.probe = probe
        self.redraws += 1
        v = probe.view(BitSum)
        if v is None:
            return
        T = probe.num_steps
        if T != self._T:
            self._build_grid(T)
        self.placeholder.setVisible(False)
        a_bits, b_bits = _bits(v.a_bits), _bits(v.b_bits)
        sum_bits, pred_bits, carry_out = _bits(v.sum_bits), _bits(v.pred_bits), _bits(v.carry)
        carry_in = np.concatenate([[0], carry_out[:-1]]) if T else carry_out  # carry arriving at column t
        p1 = np.asarray(probe.outputs, dtype=float).reshape(T, -1)[:, 0] if T else np.zeros(0)
        for t in range(T):
            self.cells["a"][t].setText(str(a_bits[t]))
            self.cells["b"][t].setText(str(b_bits[t]))
            self.cells["sum"][t].setText(str(sum_bits[t]))
            self.cells["pred"][t].setText(str(pred_bits[t]))
            self.cells["carry"][t].setText("1" if carry_in[t] else "")
            self.cells["p"][t].setText(_prob(p1[t]))
        a, b, true_sum, pred_sum = v.a, v.b, v.true_sum, v.pred_sum
        self.values["a"].setText(f"= {a}")
        self.values["b"].setText(f"= {b}")
        self.values["sum"].setText(f"= {true_sum}")
        ok = pred_sum == true_sum
        self.values["pred"].setText(f"= {pred_sum}  {'✔' if ok else '✘'}")
        css = f"color: {RIGHT if ok else WRONG};"
        if self.values["pred"].styleSheet() != css:  # restyling re-lays out the window: only on a change
            self.values["pred"].setStyleSheet(css)
        if not self.spin_a.hasFocus() and not self.spin_b.hasFocus():
            self.spin_a.setValue(a)
            self.spin_b.setValue(b)
        self._wrong = [pred_bits[t] != sum_bits[t] for t in range(T)]
        if not self._equal_columns and T:  # every bit column as wide as the widest: a tidy written sum
            w = max(c.sizeHint().width() for cells in self.cells.values() for c in cells)
            for col in range(1, T + 1):
                self.grid.setColumnMinimumWidth(col, w)
            self._equal_columns = True
        self._on_timestep(self.current_t())

    def _on_timestep(self, t: int) -> None:
        if self.probe is None or self._T == 0:
            return
        t = clamp_t(t, self._T)
        for row, cells in self.cells.items():
            for i, cell in enumerate(cells):
                css = []
                if i == t:
                    css.append(f"background-color: {HIGHLIGHT}; color: black; border-radius: 4px;")
                if row == "pred" and self._wrong[i]:
                    css.append(f"color: {WRONG};" if i != t else "color: #b71c1c;")
                if row in ("t", "carry", "p") and i != t:
                    css.append("color: gray;")
                css = " ".join(css)
                if css != cell.styleSheet():  # restyling a label costs a relayout: only when it changes
                    cell.setStyleSheet(css)

    # -- for tests -------------------------------------------------------------------
    def row_text(self, row: str) -> str:
        """The bits of a row as read on the board (MSB left)."""
        return "".join(c.text() or " " for c in reversed(self.cells.get(row, [])))

    def selected_column(self) -> int | None:
        """The timestep whose column is highlighted."""
        for t, cell in enumerate(self.cells.get("a", [])):
            if "background-color" in cell.styleSheet():
                return t
        return None

    def wrong_columns(self) -> list[int]:
        return [t for t, cell in enumerate(self.cells.get("pred", [])) if WRONG in cell.styleSheet()
                or "#b71c1c" in cell.styleSheet()]


def _prob(p: float) -> str:
    """A probability in 3 characters so that it fits under a bit: .98, .02, 1.0, 0.0."""
    r = round(float(p), 2)
    return "1.0" if r >= 1 else ("0.0" if r <= 0 else f"{r:.2f}"[1:])


def _bits(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=float).round().astype(int)
