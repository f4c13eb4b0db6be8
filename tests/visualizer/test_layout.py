"""The window fits the screen and each experiment's own panel gets the room it needs (issue 9).

Sized windows, offscreen, with the fonts the app would pick for that screen (visualizer.app.ui_scale):
at 1280x720 every sample box of the text panel shows at least 4 lines, at 1920x1080 at least 8; the
digit charts keep readable heights; nothing the user needs (scrubber, status bar, Apply & restart,
every dock) lies outside the window; the minimum size fits a 1280x720 screen.
"""
from __future__ import annotations

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from visualizer.app import ui_scale
from visualizer.main_window import MIN_WINDOW, MainWindow, default_size
from visualizer.panels import hidden

SIZES = {(1280, 720): 4, (1920, 1080): 8}  # window size -> sample lines each text box must show


class _Screen:
    """A stand-in QScreen: only its available geometry is read."""

    def __init__(self, w: int, h: int):
        self._geo = QtCore.QRect(0, 0, w, h)

    def availableGeometry(self) -> QtCore.QRect:  # noqa: N802
        return self._geo


@pytest.fixture
def sized(qtbot, app_setup):
    made = []
    old_scale, old_font = hidden.FONT_SCALE, QtWidgets.QApplication.font()

    def make(experiment: str, size: tuple[int, int], preset: str | None = None) -> MainWindow:
        scale = ui_scale(_Screen(*size))  # the fonts the app picks on such a screen
        hidden.set_font_scale(scale)
        f = QtGui.QFont(old_font)
        f.setPointSizeF(11 * scale)
        QtWidgets.QApplication.setFont(f)
        w = MainWindow(experiment, preset=preset)  # no settings: nothing remembered is read or written
        made.append(w)
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        s = w.session
        qtbot.waitUntil(lambda: s.state in ("idle", "paused") and s.latest_probe is not None, timeout=60000)
        s.set_speed_cap(None)
        s.step_n(30)
        qtbot.waitUntil(lambda: s.step >= 30, timeout=60000)
        frames = s.frames
        s.refresh()
        qtbot.waitUntil(lambda: s.frames > frames, timeout=30000)
        qtbot.wait(150)  # deferred relayouts (resize timers) run
        return w

    yield make
    for w in made:
        w.close()
    hidden.set_font_scale(old_scale)
    QtWidgets.QApplication.setFont(old_font)


def _inside(w: MainWindow, widget: QtWidgets.QWidget) -> bool:
    top_left = widget.mapTo(w, QtCore.QPoint(0, 0))
    return QtCore.QRect(QtCore.QPoint(0, 0), w.size()).contains(QtCore.QRect(top_left, widget.size()))


def _check_fits(w: MainWindow, size: tuple[int, int]) -> None:
    assert (w.width(), w.height()) == size, "the window's minimum size forced it larger than asked"
    for widget in [w.scrubber, w.statusBar(), w.apply_button, w.progress, w.transport,
                   *[d for d in w.docks.values() if d.isVisible()]]:
        if widget is not None and widget.isVisible():
            assert _inside(w, widget), f"{widget.objectName() or type(widget).__name__} is outside the window"


@pytest.mark.parametrize("size", list(SIZES))
def test_text_boxes_show_enough_lines(sized, size):
    w = sized("char-lm", size, "lstm")
    _check_fits(w, size)
    panel = w.panels["text"]
    boxes = [b for b in panel.all_boxes() if b.isVisible()]
    assert len(boxes) == 4  # three temperatures and the argmax line
    lines = {b.title(): round(b.visible_lines(), 1) for b in boxes}
    assert all(n >= SIZES[size] for n in lines.values()), f"{size}: lines per box {lines}"


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("experiment", ["digits-rnn", "sine", "binary-addition"])
def test_other_experiments_fit(sized, size, experiment):
    w = sized(experiment, size)
    _check_fits(w, size)
    if experiment == "digits-rnn":
        d = w.panels["digits"]
        assert d.bar_plot.getViewBox().height() >= 60, "probability chart too short to read"
        assert d.heat_plot.getViewBox().height() >= 50
        assert d.img_plot.getViewBox().height() >= 100, "the digit image is too small"
    if experiment == "binary-addition":  # the blackboard shows all of its columns
        b = w.panels["binary"]
        assert _inside(w, b.values["pred"]) or b.values["pred"].visibleRegion().isEmpty() is False


def test_minimum_size_and_default_size_fit_a_1280x720_screen(qtbot, app_setup):
    assert MIN_WINDOW[0] <= 1280 and MIN_WINDOW[1] <= 720 - 40  # room for a panel/taskbar
    for w_, h_ in ((1280, 720), (1920, 1080), (2560, 1440), (1366, 768)):
        dw, dh = default_size(_Screen(w_, h_))
        assert dw <= 0.9 * w_ + 1 and dh <= 0.9 * h_ + 1 or (dw, dh) == MIN_WINDOW
    w = MainWindow("char-lm", preset="lstm")
    qtbot.addWidget(w)
    hint = w.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, f"minimum size {hint.toTuple()} does not fit 1280x720"
    w.close()


def test_fonts_scale_with_the_screen():
    assert ui_scale(_Screen(1280, 720)) < ui_scale(_Screen(1920, 1080)) < ui_scale(_Screen(2560, 1440))
