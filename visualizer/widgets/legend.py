"""A legend outside the plot: one clickable entry per series (line sample + name), wrapping onto more
rows when narrow. Clicking the name or the sample toggles the series; a hidden series stays listed,
greyed and struck through, so that it can be clicked back.

``LegendStrip.toggled(key, on)`` fires on user clicks only; ``set_checked`` changes an entry silently.
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class FlowLayout(QtWidgets.QLayout):
    """Items left to right, wrapping to the next row (Qt's flow layout example, trimmed)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, spacing: int = 4):
        super().__init__(parent)
        self._items: list[QtWidgets.QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QtWidgets.QLayoutItem) -> None:  # noqa: N802
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, i: int) -> QtWidgets.QLayoutItem | None:  # noqa: N802
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i: int) -> QtWidgets.QLayoutItem | None:  # noqa: N802
        return self._items.pop(i) if 0 <= i < len(self._items) else None

    def expandingDirections(self) -> QtCore.Qt.Orientation:  # noqa: N802
        return QtCore.Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._place(QtCore.QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QtCore.QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QtCore.QSize:  # noqa: N802
        size = QtCore.QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _place(self, rect: QtCore.QRect, move: bool) -> int:
        x, y, row_h = rect.x(), rect.y(), 0
        for item in self._items:
            if item.widget() is not None and not item.widget().isVisibleTo(item.widget().parentWidget()):
                continue
            hint = item.sizeHint()
            if x + hint.width() > rect.right() and row_h > 0:
                x, y, row_h = rect.x(), y + row_h + self._spacing, 0
            if move:
                item.setGeometry(QtCore.QRect(QtCore.QPoint(x, y), hint))
            x += hint.width() + self._spacing
            row_h = max(row_h, hint.height())
        return y + row_h - rect.y()


def line_icon(pen: QtGui.QPen, width: int = 24, height: int = 12) -> QtGui.QIcon:
    pix = QtGui.QPixmap(width, height)
    pix.fill(QtCore.Qt.GlobalColor.transparent)
    p = QtGui.QPainter(pix)
    pen = QtGui.QPen(pen)
    pen.setCosmetic(True)
    pen.setWidthF(max(pen.widthF(), 2.0))
    p.setPen(pen)
    p.drawLine(1, height // 2, width - 1, height // 2)
    p.end()
    return QtGui.QIcon(pix)


class LegendStrip(QtWidgets.QWidget):
    toggled = QtCore.Signal(str, bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None, point_size: float | None = None):
        super().__init__(parent)
        self.setObjectName("legendStrip")
        self._flow = FlowLayout(self)
        self._entries: dict[str, QtWidgets.QToolButton] = {}
        self._point_size = point_size
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Minimum)

    def add(self, key: str, label: str, pen: QtGui.QPen, checked: bool = True, tip: str = "") -> QtWidgets.QToolButton:
        if key in self._entries:
            return self._entries[key]
        b = QtWidgets.QToolButton(self)
        b.setObjectName("legendEntry")
        b.setText(label)
        b.setIcon(line_icon(pen))
        b.setIconSize(QtCore.QSize(24, 12))
        b.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        b.setCheckable(True)
        b.setAutoRaise(True)
        b.setToolTip(tip or f"Click to show or hide “{label}”")
        if self._point_size:
            f = b.font()
            f.setPointSizeF(self._point_size)
            b.setFont(f)
        b.setChecked(checked)
        self._style(b)
        b.toggled.connect(lambda on, k=key, btn=b: (self._style(btn), self.toggled.emit(k, on)))
        self._entries[key] = b
        self._flow.addWidget(b)
        b.show()
        self.updateGeometry()
        return b

    @staticmethod
    def _style(b: QtWidgets.QToolButton) -> None:
        b.setStyleSheet("" if b.isChecked() else "color: #7a7a7a; text-decoration: line-through;")


    def set_checked(self, key: str, on: bool) -> None:
        b = self._entries.get(key)
        if b is not None and b.isChecked() != bool(on):
            b.blockSignals(True)
            b.setChecked(bool(on))
            b.blockSignals(False)
            self._style(b)

    def entry(self, key: str) -> QtWidgets.QToolButton | None:
        return self._entries.get(key)

    def keys(self) -> list[str]:
        return list(self._entries)

    def clear(self) -> None:
        for b in self._entries.values():
            self._flow.removeWidget(b)
            b.deleteLater()
        self._entries.clear()
        self.updateGeometry()

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._flow.heightForWidth(width)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(200, self._flow.heightForWidth(max(self.width(), 200)))
