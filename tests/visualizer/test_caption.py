"""Captions that follow training (visualizer.widgets.caption) change without re-laying out the window."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from visualizer.widgets.caption import Caption


class _LayoutRequests(QtCore.QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QtCore.QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _window(qtbot, label: QtWidgets.QWidget) -> tuple[QtWidgets.QMainWindow, _LayoutRequests]:
    """A main window with a panel: the label above a stretch, 300 px wide; and a count of the layout
    requests the panel gets (each lays it out again, and Qt passes a changed size on to the window)."""
    w = QtWidgets.QMainWindow()
    qtbot.addWidget(w)
    panel = QtWidgets.QWidget()
    lay = QtWidgets.QVBoxLayout(panel)
    lay.addWidget(label)
    lay.addStretch(1)
    w.setCentralWidget(panel)
    w.resize(300, 200)
    w.show()
    qtbot.waitExposed(w)
    QtWidgets.QApplication.processEvents()
    counter = _LayoutRequests()
    panel.installEventFilter(counter)
    return w, counter


def test_a_new_caption_of_the_same_height_repaints_without_laying_the_window_out(qtbot, app_setup):
    plain = QtWidgets.QLabel("step 100: loss 0.52")
    _, seen = _window(qtbot, plain)
    plain.setText("step 200: loss 0.47")  # a QLabel asks its panel to lay out again
    QtWidgets.QApplication.processEvents()
    assert seen.count >= 1

    caption = Caption("step 100: loss 0.52")
    caption.setWordWrap(True)
    _, seen = _window(qtbot, caption)
    height = caption.height()
    for k in range(5):
        caption.setText(f"step {k}00: loss 0.4{k}")
        QtWidgets.QApplication.processEvents()
    assert seen.count == 0
    assert caption.text() == "step 400: loss 0.44" and caption.label.text() == caption.text()
    assert caption.height() == height and caption.label.geometry() == caption.rect()


def test_a_caption_that_needs_more_lines_grows_and_shrinks_back(qtbot, app_setup):
    caption = Caption("short")
    caption.setWordWrap(True)
    w, seen = _window(qtbot, caption)
    one_line = caption.height()
    caption.setText("a much longer caption that cannot fit on one line of a three-hundred-pixel column " * 2)
    QtWidgets.QApplication.processEvents()
    assert caption.height() > one_line  # wrapped: all of it shows
    assert caption.height() == caption.label.heightForWidth(caption.width())
    assert seen.count >= 1  # (the one change that lays the panel out)
    caption.setText("short again")
    QtWidgets.QApplication.processEvents()
    assert caption.height() == one_line
    w.resize(120, 200)  # a narrower column: the same text may need more lines, and gets them
    caption.setText("a caption of several words that wraps in a narrow column")
    QtWidgets.QApplication.processEvents()
    assert caption.height() == caption.label.heightForWidth(caption.width()) > one_line


def test_a_caption_takes_the_font_and_rich_text_it_is_given(qtbot, app_setup):
    from PySide6 import QtGui

    mono = QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont)
    mono.setPointSize(13)
    caption = Caption("")
    caption.setFont(mono)  # as the panels do: before the caption is put in a layout (which resets a
    caption.setTextFormat(QtCore.Qt.TextFormat.RichText)  # child's font under the app's style sheet)
    w, _ = _window(qtbot, caption)
    assert caption.label.font() == caption.font() == mono
    small = caption.height()
    big = QtGui.QFont(mono)
    big.setPointSize(39)
    caption.setFont(big)  # the label gets it; the height follows
    caption.setText("<b>input</b> abc<br>guess xyz")
    QtWidgets.QApplication.processEvents()
    assert caption.label.font().pointSize() == 39
    assert caption.height() == caption.label.sizeHint().height() > small
