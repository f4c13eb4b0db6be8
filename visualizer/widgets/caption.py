"""A label whose text follows training without re-laying out the window.

``QLabel.setText`` always asks its layout for a new geometry, and Qt passes that up, layout by layout, to
the main window: a caption that changes with every frame with a probe (the text panel's input line, the
inspector's verdict, the hidden panel's carry line) re-laid out the whole window each time (a new text
cost the GUI thread 1.4–1.9 ms, against 0.3 ms to repaint the label alone; 0.4–0.6 ms as a caption).
:class:`Caption` holds its QLabel outside any layout, sized to fill it; the caption's own height is fixed
to what the text needs at its width, so a new text repaints the label, and the window is laid out again
only when that height changes (a caption wrapping onto another line).
"""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets


class Caption(QtWidgets.QWidget):
    """A QLabel (``label``) in a box of fixed height: what its text needs at the box's width. The QLabel
    calls the panels make (text, setText, setWordWrap, setTextFormat, setTextInteractionFlags) are passed
    on; font, tool tip and size policy are the box's (its font is kept on the label; a tip shows over it)."""

    def __init__(self, text: str = "", parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.label = QtWidgets.QLabel(text, self)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        self._fit()

    # -- the QLabel calls ------------------------------------------------------------------------------
    def text(self) -> str:
        return self.label.text()

    def setText(self, text: str) -> None:  # noqa: N802 (Qt name)
        if text != self.label.text():
            self.label.setText(text)  # (the label is in no layout: its geometry request goes no further)
            self._fit()

    def wordWrap(self) -> bool:  # noqa: N802
        return self.label.wordWrap()

    def setWordWrap(self, on: bool) -> None:  # noqa: N802
        self.label.setWordWrap(on)
        self._fit()

    def setTextFormat(self, fmt: QtCore.Qt.TextFormat) -> None:  # noqa: N802
        self.label.setTextFormat(fmt)
        self._fit()

    def setTextInteractionFlags(self, flags: QtCore.Qt.TextInteractionFlag) -> None:  # noqa: N802
        self.label.setTextInteractionFlags(flags)

    def _sync_font(self) -> None:
        """The label's font is the box's. (Under the app's style sheet a child does not inherit its
        parent's font, and moving the box into a layout resets the font set on the label.)"""
        if self.label.font() != self.font():
            self.label.setFont(self.font())
            self._fit()

    def changeEvent(self, event: QtCore.QEvent) -> None:  # noqa: N802 (a new parent, font or style: setFont lands here)
        super().changeEvent(event)
        self._sync_font()

    def showEvent(self, event: QtGui.QShowEvent) -> None:  # noqa: N802 (polished by the style sheet by now)
        super().showEvent(event)
        self._sync_font()

    # -- geometry --------------------------------------------------------------------------------------
    def _needed_height(self) -> int:
        label = self.label
        if label.wordWrap():
            h = label.heightForWidth(max(self.width(), 1))
            if h >= 0:
                return h
        return label.sizeHint().height()

    def _fit(self) -> None:
        h = self._needed_height()
        if h != self.minimumHeight() or h != self.maximumHeight():
            self.setFixedHeight(h)  # (the one change that lays the window out again)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(self.label.sizeHint().width(), self._needed_height())

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(0 if self.label.wordWrap() else self.label.minimumSizeHint().width(),
                            self._needed_height())

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.label.setGeometry(self.rect())
        self._fit()
