"""One test per defect of issue 9 that a test can tell (the layout items are in test_layout.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from fakes import FakeExperiment
from visualizer.main_window import MainWindow


@pytest.fixture
def window(qtbot, app_setup):
    made = []

    def make(experiment=FakeExperiment, size=(1300, 850), **kw):
        w = MainWindow(experiment, **kw)
        made.append(w)
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        qtbot.waitUntil(lambda: w.session.state in ("idle", "paused") and w.session.latest_probe is not None,
                        timeout=30000)
        return w

    yield make
    for w in made:
        w.close()


def _train(qtbot, w, n):
    s = w.session
    start = s.step
    s.set_speed_cap(None)
    s.step_n(n)
    qtbot.waitUntil(lambda: s.step >= start + n and s.state == "paused", timeout=30000)


# -- 5: the text panel's temperatures follow the form ------------------------------------------------
def test_text_panel_temperatures_follow_the_form(qtbot, app_setup, make_session):
    from visualizer.panels.text import TextPanel

    s = make_session()
    panel = TextPanel(s)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(s.live_param_changed, timeout=5000):
        s.set_live("temperatures", (0.1, 1.0, 2.0))
    assert panel.temps_field.value() == (0.1, 1.0, 2.0)


# -- 10: stale readout, stale axes, stale error banner --------------------------------------------------
def test_readout_goes_when_the_mouse_leaves(window, qtbot):
    w = window()
    _train(qtbot, w, 5)
    loss = w.panels["loss"]
    loss.show_readout(3)
    assert "step 3" in loss.readout.text()
    QtWidgets.QApplication.sendEvent(loss.graphics, QtCore.QEvent(QtCore.QEvent.Type.Leave))
    assert "step" not in loss.readout.text() and not any(line.isVisible() for line in loss._cursor_lines)


def test_reset_clears_the_old_axes(window, qtbot):
    w = window()
    _train(qtbot, w, 60)
    loss = w.panels["loss"]
    qtbot.waitUntil(lambda: loss.loss_plot.getViewBox().viewRange()[0][1] > 50, timeout=5000)
    with qtbot.waitSignal(w.session.experiment_changed, timeout=10000):
        w.reset()
    (x0, x1), _ = loss.loss_plot.getViewBox().viewRange()
    assert (x0, x1) == (0, 100) and loss.legend.keys() == []


def test_error_banner_goes_after_a_later_successful_load(window, qtbot, tmp_path):
    w = window()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(w.session.errored, timeout=5000):
        w.load_checkpoint(bad)
    assert w.message_bar.kind == "error" and w.message_bar.isVisible()
    # a later success that brings a model (a rebuild here; a load arrives through the same signal)
    with qtbot.waitSignal(w.session.experiment_changed, timeout=10000):
        w.reset()
    assert not w.message_bar.isVisible()



# -- 9: legend names are clickable; a hidden series stays listed --------------------------------------
def test_legend_names_toggle_and_hidden_series_stay_listed(window, qtbot):
    w = window()
    _train(qtbot, w, 5)
    loss = w.panels["loss"]
    qtbot.waitUntil(lambda: "loss" in loss.legend.keys(), timeout=5000)
    entry = loss.legend.entry("loss")
    qtbot.mouseClick(entry, QtCore.Qt.MouseButton.LeftButton)  # the name itself
    assert "loss" not in loss.visible_series() and "loss" in loss.legend.keys()
    assert "line-through" in entry.styleSheet()  # greyed and struck through
    qtbot.mouseClick(entry, QtCore.Qt.MouseButton.LeftButton)
    assert "loss" in loss.visible_series()


# -- 19: one-point curves visible, marker labels inside the plot ----------------------------------------
def test_a_one_point_curve_has_a_marker_and_marker_labels_stay_inside(window, qtbot):
    w = window()
    _train(qtbot, w, 30)
    loss = w.panels["loss"]
    loss.session.history.series("val_probe").extend(np.array([30.0]), np.array([1.0]))
    curve = loss._new_curve("val_probe", *loss.session.history.arrays("val_probe"))
    assert curve.smooth.opts["symbol"] == "o"
    loss._on_live_param("learning_rate", 0.05, 29)  # at the right end of the view
    label = loss.markers[-1].label
    assert label.anchors[0] == (1, 0.5)  # reads to the left of its line: not cut at the right edge


# -- 13: single-output bars coloured by the verdict ---------------------------------------------------
def test_single_output_bar_is_green_when_right(window, qtbot):
    w = window("binary-addition")
    _train(qtbot, w, 300)
    insp = w.panels["inspector"]
    p = w.session.latest_probe
    t = next(i for i, ok in enumerate(p.correct) if ok)
    w.session.set_timestep(t)
    brush = insp.out_bars.opts["brushes"][0]
    assert brush.color().name() == "#43a047"


# -- 14: the blackboard's columns hold their digits after switching experiments ---------------------------
def test_blackboard_columns_fit_after_switching(window, qtbot):
    w = window("sine")
    with qtbot.waitSignal(w.session.experiment_changed, timeout=20000):
        w.switch_experiment("binary-addition")
    qtbot.waitUntil(lambda: w.panels["binary"].probe is not None, timeout=20000)
    qtbot.wait(100)
    b = w.panels["binary"]
    for row in ("a", "p"):
        for cell in b.cells[row]:
            need = QtGui.QFontMetrics(cell.font()).horizontalAdvance(cell.text() or "0")
            assert cell.width() >= need + 4, (row, cell.text(), cell.width(), need)


# -- 15: every panel in a frame shows the same step ---------------------------------------------------
def test_panels_agree_within_every_frame(window, qtbot):
    w = window("binary-addition")
    s = w.session
    checked = []

    def check(_snap):
        p = s.latest_probe
        if p is None:
            return
        t = min(s.timestep, p.num_steps - 1)
        hid = w.panels["hidden"].label_texts("predicted")
        board = w.panels["binary"].row_text("pred")[::-1]  # LSB first, like t
        insp = w.panels["inspector"]
        _, widths = insp.output_bars()
        assert hid == list(p.prediction_labels)
        assert board.replace(" ", "") == "".join(p.prediction_labels)
        assert (float(widths[0]) > 0.5) == (p.prediction_labels[t] == "1")
        assert "predicted <b" in insp.output_label.text() and f"'{p.prediction_labels[t]}'" in insp.output_label.text()
        checked.append(1)

    s.snapshot_ready.connect(check)
    s.set_speed_cap(200)
    s.step_n(150)
    qtbot.waitUntil(lambda: s.step >= 150 and s.state == "paused", timeout=30000)
    s.snapshot_ready.disconnect(check)
    assert len(checked) >= 3


# -- 16: the scrubber's play/pause has an icon, not a missing glyph -------------------------------------
def test_scrubber_pause_is_an_icon(window):
    w = window()
    b = w.scrubber.play_button
    w.scrubber.play()
    assert not b.icon().isNull() and "⏸" not in b.text()
    w.scrubber.stop()


# -- 18: a refused value says why next to the field; nothing is silently changed -------------------------
def test_bad_values_are_explained_next_to_the_field(window, qtbot):
    w = window()
    lr = w.form.fields["learning_rate"]
    lr.edit.setText("-1")
    lr.edit.editingFinished.emit()
    assert lr.error_label.isVisibleTo(w.form) and "learning_rate" in lr.error_label.text()
    hs = w.form.fields["hidden_size"]
    hs.spin.setValue(999999)  # the box keeps what was typed ...
    assert hs.spin.value() == 999999
    assert hs.error_label.isVisibleTo(w.form) and "999999" in hs.error_label.text()
    assert "hidden_size" not in w.form.pending()  # ... and nothing is applied


# -- 19: export with a header; progress toward the preset's length, pausing there ------------------------
def test_exported_png_has_a_header(window, qtbot, tmp_path):
    w = window()
    _train(qtbot, w, 3)
    header = w.export_header()
    assert "seed 0" in header[0] and "step 3" in header[0] and "learning_rate=" in header[1]
    out = tmp_path / "panels.png"
    w.export_png(out)
    img = QtGui.QImage(str(out))
    assert img.height() > w.panel_area.height()  # the header sits above the panels


def test_play_pauses_at_the_preset_length_and_goes_on(window, qtbot):
    w = window()  # the fake's default preset: 100 steps
    s = w.session
    s.set_speed_cap(None)
    assert w.progress.isVisible() and w.progress.maximum() == 100
    w.transport.play_action.trigger()
    qtbot.waitUntil(lambda: s.state == "paused" and s.step == 100, timeout=20000)
    qtbot.wait(100)
    assert s.step == 100 and "reached" in w.progress.format()
    w.transport.play_action.trigger()  # Play continues past it
    qtbot.waitUntil(lambda: s.step > 110, timeout=20000)
    w.transport.play_action.trigger()
    qtbot.waitUntil(lambda: s.state == "paused", timeout=5000)


# -- build: F1 sheet, layout remembered and reset (a temporary QSettings, never the user's) ---------------
def test_f1_lists_every_shortcut_and_esc_closes(window, qtbot):
    w = window()
    w.keys_action.trigger()
    sheet = w.shortcut_sheet
    qtbot.waitExposed(sheet)
    keys = dict(sheet.rows())
    for k in ("Space", "S", "Ctrl+R", "Left", "Right", "Home", "End", "Ctrl+S", "Ctrl+O", "Ctrl+Q", "F1"):
        assert k in keys, (k, keys)
    qtbot.keyClick(sheet, QtCore.Qt.Key.Key_Escape)
    assert not sheet.isVisible()


def test_layout_is_remembered_and_reset(qtbot, app_setup, tmp_path):
    settings = QtCore.QSettings(str(tmp_path / "rnnlab.ini"), QtCore.QSettings.Format.IniFormat)
    w = MainWindow(FakeExperiment, settings=settings)
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    qtbot.waitExposed(w)
    w.docks["loss"].hide()
    w._user_arranged = True
    w.close()
    assert settings.contains("window/geometry") and settings.contains(f"layout/{FakeExperiment.id}")
    w2 = MainWindow(FakeExperiment, settings=settings)
    qtbot.addWidget(w2)
    w2.show()
    qtbot.waitExposed(w2)
    assert not w2.docks["loss"].isVisible()  # (the geometry too, when it fits this screen)

    w2.reset_layout_action.trigger()
    assert w2.docks["loss"].isVisible() and not settings.contains(f"layout/{FakeExperiment.id}")
    w2.close()
