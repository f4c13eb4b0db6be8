"""Widgets shared by the window and its panels (form, transport, scrubber, timeline, legend, fast items,
captions that change without re-laying out the window)."""
from __future__ import annotations

from PySide6 import QtWidgets


def set_text(label: QtWidgets.QLabel, text: str) -> None:
    """setText only when the text changes: a QLabel re-lays itself out and repaints on every setText, and
    labels that follow training change several times a second."""
    if label.text() != text:
        label.setText(text)


def opaque(*widgets: QtWidgets.QWidget) -> None:
    """Paint these widgets' own background (the window's colour, the same pixels): a widget that changes
    while training (a label's text, a slider, a panel's drawing) then repaints alone, not its parents and the
    window beneath it."""
    for w in widgets:
        w.setAutoFillBackground(True)


def set_tooltip(widget: QtWidgets.QWidget, tip: str) -> None:
    """setToolTip only when the tip changes."""
    if widget.toolTip() != tip:
        widget.setToolTip(tip)
