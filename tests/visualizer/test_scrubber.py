"""Timestep scrubber: slider, keys, play-through, and the panels that follow it."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtWidgets  # noqa: E402

from test_panels import Hub, lstm_probe  # noqa: E402  (tests/visualizer is on sys.path via conftest)


@pytest.fixture
def hub():
    return Hub()


@pytest.fixture
def scrubber(qtbot, hub):
    from visualizer.widgets.scrubber import TimestepScrubber

    w = TimestepScrubber(hub, interval_ms=10)
    qtbot.addWidget(w)
    w.show()
    return w


def test_probe_sets_range_and_labels(scrubber, hub):
    assert scrubber.t_label.text() == "t = – / –"
    scrubber.move(1)  # nothing to scrub yet: no command
    assert hub.commands("set_timestep") == []
    hub.send(lstm_probe(T=8))
    assert (scrubber.slider.minimum(), scrubber.slider.maximum()) == (0, 7)
    assert scrubber.t_label.text() == "t = 0 / 7"
    assert scrubber.input_label.text() == "input: 'x0'"
    hub.set_timestep(3)
    assert scrubber.slider.value() == 3
    assert scrubber.t_label.text() == "t = 3 / 7" and scrubber.input_label.text() == "input: 'x3'"


def test_slider_moves_the_hub(scrubber, hub):
    hub.send(lstm_probe(T=8))
    scrubber.slider.setValue(6)
    assert hub.timestep == 6
    assert scrubber.t_label.text() == "t = 6 / 7"


def test_actions_step_and_clamp(scrubber, hub):
    hub.send(lstm_probe(T=5))
    scrubber.action_next.trigger()
    scrubber.action_next.trigger()
    assert hub.timestep == 2
    scrubber.action_prev.trigger()
    assert hub.timestep == 1
    scrubber.action_last.trigger()
    assert hub.timestep == 4
    scrubber.action_next.trigger()  # clamped at the end
    assert hub.timestep == 4 and hub.calls[-1] == ("set_timestep", 4)
    scrubber.action_first.trigger()
    assert hub.timestep == 0
    keys = {a.shortcut().toString() for a in (scrubber.action_prev, scrubber.action_next,
                                              scrubber.action_first, scrubber.action_last)}
    assert keys == {"Left", "Right", "Home", "End"}


def test_arrow_keys_work_in_a_window(qtbot, hub):
    from visualizer.widgets.scrubber import TimestepScrubber

    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    central = QtWidgets.QLabel("panel")
    central.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
    window.setCentralWidget(central)
    scrub = TimestepScrubber(hub)
    bar = QtWidgets.QToolBar()
    bar.addWidget(scrub)
    window.addToolBar(bar)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    central.setFocus()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window and central.hasFocus(), timeout=3000)
    hub.send(lstm_probe(T=6))
    qtbot.keyClick(central, QtCore.Qt.Key.Key_Right)
    qtbot.keyClick(central, QtCore.Qt.Key.Key_Right)
    assert hub.timestep == 2
    qtbot.keyClick(central, QtCore.Qt.Key.Key_End)
    assert hub.timestep == 5
    qtbot.keyClick(central, QtCore.Qt.Key.Key_Left)
    assert hub.timestep == 4
    qtbot.keyClick(central, QtCore.Qt.Key.Key_Home)
    assert hub.timestep == 0


def test_play_through_loops(qtbot, scrubber, hub):
    hub.send(lstm_probe(T=3))
    hub.set_timestep(2)
    scrubber.step_forward_looping()
    assert hub.timestep == 0  # wrapped
    seen = set()
    hub.timestep_changed.connect(seen.add)
    scrubber.play()
    assert scrubber.playing and scrubber.play_button.isChecked() and scrubber.action_play.isChecked()
    qtbot.waitUntil(lambda: seen >= {0, 1, 2}, timeout=5000)
    scrubber.action_play.setChecked(False)
    assert not scrubber.playing and not scrubber.play_button.isChecked()


def test_new_experiment_stops_and_resets(scrubber, hub):
    hub.send(lstm_probe(T=4))
    scrubber.play()
    hub.experiment_changed.emit(None)
    assert not scrubber.playing
    assert scrubber.t_label.text() == "t = – / –" and scrubber.slider.maximum() == 0


def test_scrubber_moves_heatmap_outline_and_inspector(qtbot, scrubber, hub):
    from visualizer.panels.hidden import HiddenStatePanel
    from visualizer.panels.inspector import InspectorPanel

    heat, insp = HiddenStatePanel(hub), InspectorPanel(hub)
    for w in (heat, insp):
        qtbot.addWidget(w)
        w.show()
    p = lstm_probe(T=8)
    hub.send(p)
    assert heat.marker.rect().x() == 0
    scrubber.action_next.trigger()
    scrubber.action_next.trigger()
    assert heat.marker.rect().x() == 2
    np.testing.assert_allclose(insp.state_values(), p.layers[0].states["h"][2])
    scrubber.slider.setValue(7)
    assert heat.marker.rect().x() == 7
    np.testing.assert_allclose(insp.state_values(), p.layers[0].states["h"][7])
    assert "t = 7" in insp.input_label.text()


def test_scrubber_names_whitespace_inputs(qtbot):
    from visualizer.widgets.scrubber import visible

    assert visible(" ") == "␣ (space)" and visible("\n") == "↵ (newline)" and visible("a") == "'a'"
