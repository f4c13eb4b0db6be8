"""Bad input in the window: a message, never a traceback or a hang, and nothing changed."""
from __future__ import annotations

import os
import time

import pytest

from visualizer.main_window import MainWindow


@pytest.fixture
def window(qtbot, app_setup):
    made = []

    def make(experiment="char-lm", **values):
        w = MainWindow(experiment)
        qtbot.addWidget(w)
        w.show()
        qtbot.waitUntil(lambda: w.session.state in ("idle", "paused"), timeout=30000)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()
        assert not w.session.running


def test_a_fifo_as_corpus_is_refused_at_once_and_the_window_closes_cleanly(window, qtbot, tmp_path, capfd):
    w = window()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    assert not w.open_corpus(fifo)
    assert time.monotonic() - t0 < 2.0  # never opened, so never blocked
    assert "pipe" in w.message_bar.text() and "regular file" in w.message_bar.text()
    w.form.fields["corpus"].edit.setText(str(fifo))  # typed into the form, then Apply & restart
    w.form.fields["corpus"].edit.editingFinished.emit()
    with qtbot.waitSignal(w.session.errored, timeout=10000) as blocker:
        w.apply_and_restart()
    assert "regular file" in blocker.args[0]
    assert w.session.spec.config["corpus"] == ""  # the running model stays
    assert "Traceback" not in capfd.readouterr().err


def test_an_unreadable_corpus_is_a_message(window, tmp_path, monkeypatch):
    w = window()
    f = tmp_path / "secret.txt"
    f.write_text("hello\n")
    real_open = os.open

    def refuse(path, *args, **kwargs):  # what a mode-000 file gives a non-root user (root would read it)
        if str(path) == str(f):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    assert not w.open_corpus(f)
    assert "secret.txt" in w.message_bar.text() and "ermission" in w.message_bar.text()


def test_a_model_too_big_for_the_memory_is_refused_before_it_is_built(window, qtbot, capfd):
    w = window()
    for name, value in (("hidden_size", 1024), ("batch_size", 512), ("seq_len", 400), ("num_layers", 3)):
        w.form.set_value(name, value)
    with qtbot.waitSignal(w.session.errored, timeout=10000) as blocker:
        w.apply_and_restart()
    msg = blocker.args[0]
    assert "memory" in msg and "hidden_size=1024" in msg and "batch_size=512" in msg
    assert w.session.spec.config["hidden_size"] == 128  # nothing changed
    assert "Traceback" not in capfd.readouterr().err


def test_a_bad_save_path_is_a_message_without_a_traceback(window, qtbot, tmp_path, capfd):
    w = window("binary-addition")
    blocker_file = tmp_path / "a-file"
    blocker_file.write_text("x")
    with qtbot.waitSignal(w.session.errored, timeout=10000) as blocker:
        w.save_checkpoint(blocker_file / "run.npz")  # a file where a folder should be
    assert "run.npz" in blocker.args[0] or "a-file" in blocker.args[0]
    assert "Traceback" not in capfd.readouterr().err


def test_the_window_opens_with_the_focus_off_text_fields_so_space_plays(qtbot, app_setup):
    from PySide6 import QtCore, QtWidgets

    w = MainWindow("binary-addition")
    qtbot.addWidget(w)
    w.show()
    w.activateWindow()
    try:
        qtbot.waitUntil(lambda: w.isActiveWindow() and w.session.state == "idle", timeout=10000)
        focus = QtWidgets.QApplication.focusWidget()
        assert focus is w.panel_area  # not the toolbar's Step N box, which would take the Space
        qtbot.keyClick(focus, QtCore.Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: w.session.state == "running", timeout=5000)
    finally:
        w.close()
