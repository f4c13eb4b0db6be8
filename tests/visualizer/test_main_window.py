"""The main window: controls change the model, panels follow, files, shortcuts, clean shutdown."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from fakes import FakeExperiment, FakeNote
from visualizer.main_window import MainWindow


def _model_lr(session):
    """The learning rate the fake model holds, as its probe view shows it."""
    return session.latest_probe.view(FakeNote).learning_rate


@pytest.fixture
def make_window(qtbot, app_setup):
    windows = []

    def make(experiment=FakeExperiment, **kw):
        w = MainWindow(experiment, **kw)
        windows.append(w)
        qtbot.addWidget(w)
        w.resize(1300, 850)
        w.show()
        qtbot.waitExposed(w)
        qtbot.waitUntil(lambda: w.session.state in ("idle", "paused"), timeout=10000)
        return w

    yield make
    for w in windows:
        w.close()
        assert not w.session.running


def test_default_window_is_binary_addition_ready_to_play(make_window, qtbot):
    w = make_window(None)
    assert w.windowTitle().startswith("RNN Lab")
    assert w.session.spec.id == "binary-addition"
    assert w.experiment_combo.currentData() == "binary-addition"
    assert set(w.docks) == {"loss", "binary", "hidden", "inspector"}
    assert w.session.state == "idle"
    qtbot.waitUntil(lambda: w.session.latest_probe is not None, timeout=5000)


def test_play_produces_snapshots_that_change_the_loss_panel(make_window, qtbot):
    w = make_window()
    loss = w.panels["loss"]
    assert loss.drawn_points() == {}
    w.transport.play_action.trigger()
    qtbot.waitUntil(lambda: loss.drawn_points().get("loss", 0) > 50, timeout=5000)
    w.transport.play_action.trigger()
    qtbot.waitUntil(lambda: w.session.state == "paused", timeout=3000)
    assert w.transport.play_action.text().endswith("Play")


def test_live_change_in_the_form_reaches_the_model_and_is_marked(make_window, qtbot):
    w = make_window()
    loss = w.panels["loss"]
    w.transport.step_n_spin.setValue(20)
    w.transport.step_n_action.trigger()
    qtbot.waitUntil(lambda: w.session.step == 20, timeout=5000)
    with qtbot.waitSignal(w.session.live_param_changed, timeout=3000):
        w.form.set_value("learning_rate", 0.03)
    qtbot.waitUntil(lambda: _model_lr(w.session) == 0.03, timeout=3000)
    assert [m.label.textItem.toPlainText() for m in loss.markers] == ["learning_rate=0.03"]
    assert loss.markers[0].value() == 20
    # a log slider: dragging it and releasing commits a rounded value
    field = w.form.fields["learning_rate"]
    assert field.log
    field.slider.setSliderDown(True)
    field.slider.setValue(0)
    field.slider.setSliderDown(False)
    field.slider.sliderReleased.emit()
    qtbot.waitUntil(lambda: w.session.spec.config["learning_rate"] == 1e-5, timeout=3000)


def test_structural_change_waits_for_apply_then_rebuilds(make_window, qtbot):
    w = make_window()
    qtbot.waitUntil(lambda: w.session.latest_probe is not None, timeout=3000)
    w.form.set_value("hidden_size", 9)
    assert w.form.pending() == {"hidden_size": 9}
    assert w.form.labels["hidden_size"].text().startswith("●")
    assert w.apply_button.property("pending")
    qtbot.wait(50)
    assert w.session.spec.config["hidden_size"] == 4  # not applied yet
    assert w.session.latest_probe.layers[0].states["h"].shape == (6, 4)
    w.apply_button.click()
    qtbot.waitUntil(lambda: w.session.latest_probe is not None
                    and w.session.latest_probe.layers[0].states["h"].shape == (6, 9), timeout=5000)
    assert w.form.pending() == {} and not w.apply_button.property("pending")


def test_invalid_input_is_reported_and_not_applied(make_window, qtbot):
    w = make_window()
    field = w.form.fields["learning_rate"]
    field.edit.setText("fast")
    field.edit.editingFinished.emit()
    assert "learning_rate" in w.message_bar.text() and "number" in w.message_bar.text()
    qtbot.waitUntil(lambda: w.session.latest_probe is not None, timeout=3000)
    qtbot.wait(50)
    assert w.session.spec.config["learning_rate"] == 0.1 and _model_lr(w.session) == 0.1


def test_seed_field_and_reset(make_window, qtbot):
    w = make_window()
    w.seed_spin.setValue(7)
    assert w.apply_button.property("pending")
    w.transport.reset_action.trigger()
    qtbot.waitUntil(lambda: w.session.spec.seed == 7, timeout=3000)
    assert not w.apply_button.property("pending")


def test_space_plays_but_types_in_text_fields(make_window, qtbot):
    w = make_window()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=3000)  # window shortcuts need the active window
    qtbot.keyClick(w.panel_area, QtCore.Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.session.state == "running", timeout=3000)
    qtbot.keyClick(w.panel_area, QtCore.Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.session.state == "paused", timeout=3000)
    edit = w.form.fields["temperatures"].edit
    edit.setFocus()
    edit.setText("0.5")
    edit.setCursorPosition(3)
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_Space)
    qtbot.keyClick(edit, QtCore.Qt.Key.Key_S)
    assert edit.text() == "0.5 s"
    qtbot.wait(100)
    assert w.session.state == "paused"


def test_switching_experiment_rebuilds_panels(make_window, qtbot):
    w = make_window()
    i = w.experiment_combo.findData("worked-example")
    w.experiment_combo.setCurrentIndex(i)
    w.experiment_combo.activated.emit(i)
    qtbot.waitUntil(lambda: w.session.spec.id == "worked-example", timeout=10000)
    assert list(w.docks) == ["worked", "hidden", "inspector"]
    assert w.windowTitle() == f"RNN Lab — {w.session.spec.cls.title}"
    assert "learning_rate" in w.form.fields and "hidden_size" not in w.form.fields
    view_actions = [a.text() for a in w.view_menu.actions() if a.text()]
    assert "Settings" in view_actions


def test_hiding_a_panel_via_view_menu(make_window, qtbot):
    w = make_window()
    dock = w.docks["loss"]
    dock.toggleViewAction().trigger()
    assert not w.panels["loss"].isVisible()
    w.session.step_n(30)
    qtbot.waitUntil(lambda: w.session.step == 30, timeout=3000)
    assert w.panels["loss"].drawn_points() == {}  # hidden: no drawing
    dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: w.panels["loss"].drawn_points().get("loss") == 30, timeout=3000)


def test_checkpoint_save_load_and_corrupt_file(make_window, qtbot, tmp_path):
    w = make_window("iris")
    w.session.step_n(25)
    qtbot.waitUntil(lambda: w.session.step == 25, timeout=5000)
    path = tmp_path / "run.npz"
    with qtbot.waitSignal(w.session.message, timeout=5000):
        w.save_checkpoint(path)
    assert path.is_file()
    w.session.step_n(10)
    qtbot.waitUntil(lambda: w.session.step == 35, timeout=5000)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with qtbot.waitSignal(w.session.errored, timeout=5000):
        w.load_checkpoint(bad)
    assert "bad.npz" in w.message_bar.text()
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    with qtbot.waitSignal(w.session.errored, timeout=5000):
        w.load_checkpoint(foreign)
    assert "foreign.npz" in w.message_bar.text()
    qtbot.wait(50)
    assert w.session.step == 35  # nothing changed
    with qtbot.waitSignal(w.session.experiment_changed, timeout=5000):
        w.load_checkpoint(path)
    qtbot.waitUntil(lambda: w.session.step == 25, timeout=5000)
    assert w.session.history.arrays("loss")[0][-1] == 25  # the curve came back with the checkpoint
    assert w.preset_combo.currentText() == "(checkpoint)"


def test_corpus_errors_change_nothing(make_window, qtbot, tmp_path):
    w = make_window()
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème".encode("latin-1"))
    for path, word in ((empty, "empty"), (binary, "binary"), (latin, "UTF-8"), (tmp_path / "nope.txt", "does not exist")):
        assert not w.open_corpus(path)
        assert word in w.message_bar.text()
    assert w.session.spec.config["corpus"] == ""
    good = tmp_path / "good.txt"
    good.write_text("hello world\n" * 10, encoding="utf-8")
    assert w.open_corpus(good)
    qtbot.waitUntil(lambda: w.session.spec.config["corpus"] == str(good), timeout=5000)
    assert w.form.fields["corpus"].raw() == str(good)


def test_export_png_and_csv(make_window, qtbot, tmp_path):
    w = make_window()
    w.session.step_n(30)
    qtbot.waitUntil(lambda: w.session.step == 30, timeout=5000)
    png, csv_path = tmp_path / "panels.png", tmp_path / "metrics.csv"
    w.export_png(png)
    w.export_csv(csv_path)
    assert png.stat().st_size > 1000
    lines = csv_path.read_text().splitlines()
    assert lines[0].split(",") == ["step", "loss", "val_loss", "accuracy"]
    assert len(lines) == 31
    row10 = lines[10].split(",")
    assert row10[0] == "10" and row10[2] != "" and lines[9].split(",")[2] == ""


def test_worker_error_shows_in_the_message_bar_and_app_survives(make_window, qtbot):
    w = make_window()
    w.form.set_value("diverge_at", 15)
    qtbot.waitUntil(lambda: w.session.spec.config["diverge_at"] == 15, timeout=3000)
    w.transport.play_action.trigger()
    qtbot.waitUntil(lambda: "step 15" in w.message_bar.text(), timeout=5000)
    assert "learning_rate" in w.message_bar.text()
    qtbot.waitUntil(lambda: w.session.state == "paused", timeout=3000)
    assert w.session.running


def test_closing_while_training_stops_the_thread(make_window, qtbot):
    w = make_window()
    w.transport.play_action.trigger()
    # (Play now pauses at the preset's length, 100 steps for the fake: close while still training)
    qtbot.waitUntil(lambda: w.session.step > 50, timeout=5000)
    w.close()

    assert not w.session.running


def test_real_experiment_live_lr_reaches_the_optimizer_and_hidden_size_rebuilds(make_window, qtbot):
    w = make_window("binary-addition")
    w.session.step_n(5)
    qtbot.waitUntil(lambda: w.session.step == 5, timeout=10000)
    with qtbot.waitSignal(w.session.live_param_changed, timeout=5000):
        w.form.set_value("learning_rate", 0.03)
    assert w.session.spec.config["learning_rate"] == 0.03
    assert w.panels["loss"].markers[0].value() == 5
    w.form.set_value("hidden_size", 7)
    w.apply_and_restart()
    qtbot.waitUntil(lambda: w.session.latest_probe is not None
                    and w.session.latest_probe.layers[0].states["h"].shape[1] == 7, timeout=10000)
    spec = w.session.spec
    assert (w.session.step, spec.config["hidden_size"], spec.config["learning_rate"]) == (0, 7, 0.03)


def test_live_change_from_elsewhere_shows_in_the_form(make_window, qtbot):
    w = make_window()
    with qtbot.waitSignal(w.session.live_param_changed, timeout=3000):
        w.session.set_live("temperatures", "0.3, 0.9")  # as the text panel does
    assert w.form.fields["temperatures"].raw() == "0.3, 0.9"
    assert w.form.applied["temperatures"] == (0.3, 0.9)


def test_form_editors_follow_the_declaration(qtbot, app_setup):
    from visualizer.widgets.param_form import ParamForm, _BoolField, _ChoiceField, _FloatField, _IntField, _TextField

    form = ParamForm(FakeExperiment.hyperparams, FakeExperiment.preset_config(None))
    qtbot.addWidget(form)
    kinds = {name: type(f) for name, f in form.fields.items()}
    assert kinds["learning_rate"] is _FloatField and form.fields["learning_rate"].log
    # (issue 9: the box takes any integer and says why one is refused; its arrows stop at the range)
    assert kinds["hidden_size"] is _IntField and form.fields["hidden_size"].spin.high == 64

    assert kinds["cell"] is _ChoiceField and kinds["use_bias"] is _BoolField
    assert kinds["temperatures"] is _TextField and kinds["corpus"] is _TextField
    assert form.fields["learning_rate"].toolTip() == "Step size of the optimizer."
    lr = form.fields["learning_rate"]
    lr.slider.setSliderDown(True)
    lr.slider.setValue(lr.slider.maximum() // 2)  # the middle of a log slider on [1e-5, 10] is 1e-2
    assert float(lr.edit.text()) == 0.01
    live = []
    form.live_changed.connect(lambda n, v: live.append((n, v)))
    form.set_value("cell", "gru")
    form.set_value("use_bias", False)
    assert form.pending() == {"cell": "gru", "use_bias": False} and live == []
    form.set_value("temperatures", "0.2; 0.6")
    assert live == [("temperatures", (0.2, 0.6))]


def test_speed_combo_and_step_n_drive_the_session(make_window, qtbot):
    w = make_window()
    combo = w.transport.speed_combo
    combo.setCurrentIndex(combo.findData(10.0))
    assert w.session.speed_cap == 10.0
    combo.setCurrentIndex(combo.count() - 1)
    assert w.session.speed_cap is None
    w.transport.step_n_spin.setValue(12)
    w.transport.step_n_action.trigger()
    qtbot.waitUntil(lambda: w.session.step == 12, timeout=5000)
    assert w.step_label.text() in ("step 0", "step 12")  # refreshed by the status timer
    qtbot.waitUntil(lambda: w.step_label.text() == "step 12", timeout=3000)


def test_default_speed_is_a_cap_that_reaches_the_worker(make_window, qtbot):
    from visualizer.widgets.transport import DEFAULT_SPEED

    w = make_window()
    assert w.session.speed_cap == DEFAULT_SPEED
    assert w.transport.speed_combo.currentData() == DEFAULT_SPEED
    qtbot.waitUntil(lambda: w.session._worker.runs is not None and w.session._worker.runs.run.cap == DEFAULT_SPEED,
                    timeout=3000)  # the worker has drained its first commands


def test_default_dock_arrangement_gives_the_heatmap_a_tall_column():
    from visualizer.main_window import dock_columns

    left, right, heights = dock_columns(["loss", "hidden", "binary", "inspector"])
    assert left == ["loss", "binary"] and right == ["hidden", "inspector"]
    assert heights["hidden"] > heights["inspector"]
    left, right, _ = dock_columns(["loss", "inspector"])  # nothing to pair: two halves
    assert left == ["loss"] and right == ["inspector"]
    left, right, _ = dock_columns(["worked", "hidden", "inspector"])
    assert left == ["worked"] and right == ["hidden", "inspector"]


def test_hidden_panel_gets_most_of_its_column(make_window, qtbot):
    from core.views import LayerStates, MetricCurves, Outputs
    from fakes import FakeExperiment

    class Wide(FakeExperiment):
        view_types = (MetricCurves, LayerStates, Outputs)

    w = make_window(Wide)
    w.resize(1280, 800)
    qtbot.waitUntil(lambda: w.docks["hidden"].height() > w.docks["inspector"].height(), timeout=3000)
    assert w.docks["hidden"].x() > w.docks["loss"].x()  # right column


def test_a_long_status_message_is_elided_with_its_whole_text_in_the_tooltip(make_window, qtbot):
    w = make_window()
    bar = w.statusBar()
    long = "Reached the preset's length (1,000 steps): training paused. Press Play to go on. " * 3
    w.resize(900, 700)
    qtbot.wait(50)
    w._on_message(long)
    shown = bar.currentMessage()
    assert shown.endswith("…") and long.startswith(shown[:-1])  # cut at a letter, marked as cut
    room = bar.width() - sum(x.width() for x in w._permanent if x.isVisible())
    assert bar.fontMetrics().horizontalAdvance(shown) <= room  # the whole of it is drawn
    assert bar.toolTip() == long
    w._on_message("Saved.")  # a short one: as it is, no tooltip
    assert bar.currentMessage() == "Saved." and bar.toolTip() == ""
    bar.clearMessage()
    assert bar.toolTip() == ""


def test_the_step_counter_shows_the_goal_at_once_then_keeps_its_pace_past_it(make_window):
    """Reaching the preset's length shows at once; past it, training flat out, the counter (and the
    progress bar, each repainting the status bar) follows a few times a second, not on every frame."""
    w = make_window()
    s = w.session
    goal = s.goal
    assert goal
    s.state = "running"
    s.step = goal - 5
    w._on_snapshot(None)  # (the first frame: shown)
    shown = w.progress.format()
    s.step = goal - 3
    w._update_stats()  # the status timer just after the frames' update: the bar is not set again
    assert w.progress.format() == shown
    w._progress_t -= 1.0  # ... but it catches up with steps the frames' throttle skipped
    w._update_stats()
    assert w.progress.format() == f"{goal - 3:,} / {goal:,} steps"
    s.step = goal
    w._on_snapshot(None)  # the goal: at once, however soon after
    assert w.step_label.text() == f"step {goal:,}"
    for k in range(1, 6):  # frames just after: the counter keeps its pace
        s.step = goal + 10 * k
        w._on_snapshot(None)
    assert w.step_label.text() == f"step {goal:,}"
    w._progress_t -= 1.0  # a quarter of a second later
    w._on_snapshot(None)
    assert w.step_label.text() == f"step {goal + 50:,}"
    s.state = "paused"


def test_a_pause_brings_the_progress_bar_level_with_the_step_counter_at_once(make_window):
    """Paused just after a throttled frame (the run reached the preset's length), the step counter and the
    progress bar show where it stopped at once, and agree with the status timer's next tick."""
    w = make_window()
    s = w.session
    goal = s.goal
    s.state = "running"
    s.step = goal - 18
    w._on_snapshot(None)
    s.step = goal  # the last steps came in a frame the throttle skipped; then the run paused
    s.state = "paused"
    w._on_state("paused")
    assert w.step_label.text() == f"step {goal:,}"
    assert w.progress.format() == f"preset length {goal:,} reached"
    w._update_stats()  # (the timer within the throttle's interval: the same)
    assert w.step_label.text() == f"step {goal:,}"
    assert w.progress.format() == f"preset length {goal:,} reached"


def test_the_status_bar_and_the_training_timeline_repaint_alone_when_their_texts_change(make_window, qtbot):
    """The step counter, speed and frame rate (several times a second while training) and the
    training-time slider and its label, and the panels, are opaque: a new text, position or drawing
    repaints that widget, not the status bar, the time row, the dock or the window beneath them."""
    from PySide6 import QtWidgets

    w = make_window()
    painted = []

    class Spy(QtCore.QObject):
        def eventFilter(self, obj, event):  # noqa: N802 (Qt name)
            if event.type() == QtCore.QEvent.Type.Paint:
                painted.append(obj)
            return False

    spy = Spy()
    timeline = w.findChild(QtWidgets.QWidget, "trainingTimeline")
    row = w.findChild(QtWidgets.QWidget, "timeRow")
    beneath = {w, w.centralWidget(), w.statusBar(), row, timeline}
    for obj in (*beneath, w.step_label, w.speed_label, w.fps_label, timeline.label, timeline.slider):
        obj.installEventFilter(spy)
    qtbot.waitUntil(lambda: (painted.clear(), qtbot.wait(100), not painted)[2], timeout=5000)  # settled
    changes = ((w.step_label, lambda: w.step_label.setText("step 1,234")),
               (w.speed_label, lambda: w.speed_label.setText("4,321 steps/s")),
               (w.fps_label, lambda: w.fps_label.setText("11 fps")),
               (timeline.label, lambda: timeline.label.setText("step 1,234 · live")),
               (timeline.slider, lambda: timeline._set_slider(1234, 1234)))  # (as training moves it: no replay)
    dock = next(iter(w.docks.values()))  # a panel's redraw (each probe): the panel, not its dock and the window
    panel = dock.widget()
    for obj in (dock, w.panel_area, panel):
        obj.installEventFilter(spy)
    beneath |= {dock, w.panel_area}
    changes += ((panel, panel.update),)
    for widget, change in changes:
        painted.clear()
        change()
        qtbot.waitUntil(lambda: widget in painted, timeout=2000)
        qtbot.wait(30)
        assert not beneath & set(painted), (widget, painted)
