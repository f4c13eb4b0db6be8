"""Content panels in isolation: a stand-in hub, hand-made and real probes.

"A snapshot changes the panel", the timestep follows the hub, controls send
the right commands, and a hidden panel does no work until it is shown.
"""
from __future__ import annotations

import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore  # noqa: E402

from core.probe import LayerTrace, Probe, Snapshot, frozen_array  # noqa: E402


class Hub(QtCore.QObject):
    """The hub contract of visualizer/panels/base.py, recording the commands panels send."""

    snapshot_ready = QtCore.Signal(object)
    experiment_changed = QtCore.Signal(object)
    timestep_changed = QtCore.Signal(int)
    live_param_changed = QtCore.Signal(str, object, int)
    metrics_reset = QtCore.Signal()
    state_changed = QtCore.Signal(str)
    errored = QtCore.Signal(str)

    def __init__(self, info=None):
        super().__init__()
        self.timestep = 0
        self.latest_probe = None
        self.latest_views = {}
        self.info = info
        self.history = None
        self.calls = []
        self._seq = 0

    def set_timestep(self, t):
        self.calls.append(("set_timestep", t))
        if self.latest_probe is not None:
            t = min(max(int(t), 0), self.latest_probe.num_steps - 1)
        if t != self.timestep:
            self.timestep = t
            self.timestep_changed.emit(t)

    def set_live(self, name, value):
        self.calls.append(("set_live", name, value))

    def set_probe_example(self, **kw):
        self.calls.append(("set_probe_example", kw))

    def refresh(self):
        self.calls.append(("refresh",))

    def send(self, probe=None, extras=None, step=None):
        self._seq += 1
        if probe is not None:
            self.latest_probe = probe
        self.snapshot_ready.emit(Snapshot(self._seq, self._seq if step is None else step, {}, probe, extras or {}))

    def commands(self, name):
        return [c for c in self.calls if c[0] == name]


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_probe(T=8, H=5, seed=0, grad=True):
    """A 2-layer LSTM-like probe with binary labels; the prediction at t=1 is wrong."""
    rng = np.random.default_rng(seed)

    def layer(i):
        st = {"h": np.tanh(rng.normal(size=(T, H))), "c": 2 * rng.normal(size=(T, H))}
        st.update({k: _sig(rng.normal(size=(T, H))) for k in "ifo"})
        st["g"] = np.tanh(rng.normal(size=(T, H)))
        gn = frozen_array(np.exp(rng.normal(size=T))) if grad and i == 0 else None
        return LayerTrace(f"layer {i + 1} (lstm)", "lstm", "tanh", {k: frozen_array(v) for k, v in st.items()}, gn)

    tgt = rng.integers(0, 2, T)
    pred = tgt.copy()
    pred[1] ^= 1
    return Probe("fake", seed, tuple(f"x{t}" for t in range(T)), frozen_array(rng.normal(size=(T, 2))),
                 (layer(0), layer(1)), frozen_array(_sig(rng.normal(size=(T, 1)))), ("bit",),
                 tuple(map(str, tgt)), tuple(map(str, pred)), frozen_array(pred == tgt))


def char_probe(text="hello world", seed=0):
    rng = np.random.default_rng(seed)
    vocab = sorted(set(text))
    T, V = len(text) - 1, len(vocab)
    probs = rng.dirichlet(np.ones(V), size=T)  # (T, V)
    pred = [vocab[i] for i in probs.argmax(1)]
    layer = LayerTrace("layer 1 (gru)", "gru", "tanh",
                       {k: frozen_array(rng.uniform(-1, 1, size=(T, 6))) for k in "hrzn"})
    return Probe("char-lm", seed, tuple(text[:-1]), frozen_array(np.eye(V)[[vocab.index(c) for c in text[:-1]]]),
                 (layer,), frozen_array(probs), tuple(vocab), tuple(text[1:]), tuple(pred),
                 frozen_array(np.array(pred) == np.array(list(text[1:]))), {"text": text[:-1]})


@pytest.fixture
def hub():
    return Hub()


def make(qtbot, cls, hub, show=True):
    panel = cls(hub)
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    if show:
        panel.show()
        qtbot.waitExposed(panel)
    return panel


# -- real experiments, built once per module (fast: no training) ------------------------
@pytest.fixture(scope="module")
def binary_exp():
    from core.experiments import registry

    e = registry.get("binary-addition")(None, 0)
    for _ in range(30):
        e.train_step()
    return e


@pytest.fixture(scope="module")
def worked_exp():
    from core.experiments import registry

    return registry.get("worked-example")(None, 0)


# == hidden-state heatmap ====================================================================
def test_heatmap_snapshot_changes_image_and_labels(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    p1, p2 = lstm_probe(seed=1), lstm_probe(seed=2)
    hub.send(p1)
    img1 = panel.displayed().copy()
    assert img1.shape == (5, 8)  # rows = units, columns = timesteps
    np.testing.assert_allclose(img1, np.asarray(p1.layers[0].states["h"]).T, rtol=1e-6)
    assert panel.levels == (-1.0, 1.0)
    assert panel.label_texts("input") == list(p1.input_labels)
    assert panel.label_texts("predicted") == list(p1.prediction_labels)
    hub.send(p2)
    assert not np.allclose(panel.displayed(), img1)
    np.testing.assert_allclose(panel.displayed(), np.asarray(p2.layers[0].states["h"]).T, rtol=1e-6)


def test_heatmap_marks_wrong_predictions_red(qtbot, hub):
    from visualizer.panels.hidden import WRONG, HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.send(lstm_probe())
    colours = [item.color.name() for item in panel._texts[panel.LABEL_ROWS.index("predicted")]]
    assert colours[1] == WRONG  # lstm_probe's wrong step
    assert all(c != WRONG for i, c in enumerate(colours) if i != 1)
    assert panel.label_colours("predicted")[1] == WRONG
    assert WRONG not in panel.label_colours("input")


def test_heatmap_label_rows_are_compact(qtbot, hub):
    """Two short label rows (input, predicted) so that the heatmap keeps most of the height."""
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.send(lstm_probe())
    qtbot.wait(20)
    assert panel.LABEL_ROWS == ("input", "predicted")
    heat_h = panel.heat.getViewBox().height()
    assert heat_h > 2 * panel.labels.geometry().height()
    assert heat_h > 0.5 * panel.view.height()


def test_shared_input_prefix_moves_to_the_row_title(qtbot, hub):
    """digits-rnn's inputs "row 0", "row 1", ... show as 0, 1, ... under an "input row" title."""
    from visualizer.panels.hidden import HiddenStatePanel, common_prefix

    assert common_prefix(["row 0", "row 1", "row 12"]) == ("row ", ["0", "1", "12"])
    assert common_prefix(["a b", "c d"]) == ("", ["a b", "c d"])
    assert common_prefix(["x"]) == ("", ["x"])
    panel = make(qtbot, HiddenStatePanel, hub)
    p = lstm_probe()
    rows = Probe(p.experiment, p.step, tuple(f"row {t}" for t in range(8)), p.inputs, p.layers, p.outputs,
                 p.output_labels, p.target_labels, p.prediction_labels, p.correct)
    hub.send(rows)
    assert panel.label_texts("input") == [str(t) for t in range(8)]
    titles = [s for _, s in panel.labels.getAxis("left")._tickLevels[0]]
    assert "input row" in titles
    hub.send(p)  # back to plain labels: plain title
    assert "input" in [s for _, s in panel.labels.getAxis("left")._tickLevels[0]]


def test_gradient_strip_collapses_when_the_dock_is_short(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.send(lstm_probe())
    assert panel.grad.isVisible()  # 700 x 500: room for it
    panel.resize(700, 300)
    qtbot.waitUntil(lambda: not panel.grad.isVisible(), timeout=2000)
    assert panel.grad_check.isChecked()  # the user's choice is kept ...
    panel.resize(700, 600)
    qtbot.waitUntil(lambda: panel.grad.isVisible(), timeout=2000)  # ... and honoured again when tall enough


def test_selector_switches_array_and_colour_scale(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    p = lstm_probe()
    hub.send(p)
    keys = [panel.state_combo.itemData(i) for i in range(panel.state_combo.count())]
    assert keys == ["h", "c", "i", "f", "o", "g"]
    panel.select(0, "f")
    np.testing.assert_allclose(panel.displayed(), np.asarray(p.layers[0].states["f"]).T, rtol=1e-6)
    assert panel.levels == (0.0, 1.0)
    assert tuple(panel.colorbar.levels()) == (0.0, 1.0)
    assert panel.image.levels is not None and tuple(panel.image.levels) == (0.0, 1.0)
    panel.select(0, "c")  # cell state: symmetric scale from its largest magnitude
    m = float(np.abs(p.layers[0].states["c"]).max())
    assert panel.levels == pytest.approx((-m, m))
    panel.select(1, "h")
    np.testing.assert_allclose(panel.displayed(), np.asarray(p.layers[1].states["h"]).T, rtol=1e-6)
    assert panel.levels == (-1.0, 1.0)
    # a new probe keeps the selection
    hub.send(lstm_probe(seed=5))
    assert panel.layer_combo.currentIndex() == 1 and panel.state_combo.currentData() == "h"


def test_gradient_strip_only_with_grad_norms(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    p = lstm_probe()
    hub.send(p)
    assert panel.grad.isVisible()
    _, y = panel.grad_curve.getData()
    np.testing.assert_allclose(y, np.log10(p.layers[0].grad_norm), rtol=1e-6)
    panel.select(1, "h")  # layer 2 has no gradient norms
    assert not panel.grad.isVisible()
    panel.select(0, "h")
    assert panel.grad.isVisible()
    panel.grad_check.setChecked(False)  # the user hides the strip
    assert not panel.grad.isVisible()


def test_heatmap_outline_follows_timestep_and_click_selects(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.send(lstm_probe())
    assert panel.marker.rect().x() == 0
    hub.set_timestep(5)
    assert panel.marker.rect().x() == 5 and panel.marker.rect().width() == 1
    assert panel.label_marker.rect().x() == 5
    # click the middle of column 2
    vb = panel.heat.getViewBox()
    pos = panel.view.mapFromScene(vb.mapViewToScene(QtCore.QPointF(2.5, 2.5)))
    qtbot.mouseClick(panel.view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    assert ("set_timestep", 2) in hub.calls
    assert panel.marker.rect().x() == 2


def test_crowded_labels_show_every_kth(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel, label_stride

    assert label_stride(8, 800) == 1
    assert label_stride(100, 500, 25) == 5
    panel = make(qtbot, HiddenStatePanel, hub)
    hub.send(lstm_probe(T=100, H=40))
    shown = [item.isVisible() for item in panel._texts[0]]
    assert shown[0] and 1 < sum(shown) < 100


def test_hidden_panel_does_no_work_until_shown(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub, show=False)
    hub.send(lstm_probe(seed=1))
    hub.send(lstm_probe(seed=2))
    assert panel.redraws == 0 and panel.displayed() is None
    hub.set_timestep(4)
    panel.show()
    qtbot.waitExposed(panel)
    assert panel.redraws == 1  # only the latest probe is drawn
    np.testing.assert_allclose(panel.displayed(), np.asarray(lstm_probe(seed=2).layers[0].states["h"]).T,
                               rtol=1e-6)
    assert panel.marker.rect().x() == 4  # the timestep chosen while hidden
    panel.hide()
    hub.set_timestep(6)
    hub.send(lstm_probe(seed=3))
    assert panel.redraws == 1
    panel.show()
    assert panel.redraws == 2 and panel.marker.rect().x() == 6


def test_experiment_changed_clears_heatmap(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.send(lstm_probe())
    panel.select(1, "f")
    hub.experiment_changed.emit(None)
    assert panel.probe is None and panel.label_texts("input") == []
    p = lstm_probe(seed=3)
    hub.send(p)  # a new run starts again on layer 1, h
    assert panel.layer_combo.currentIndex() == 0 and panel.state_combo.currentData() == "h"
    np.testing.assert_allclose(panel.displayed(), np.asarray(p.layers[0].states["h"]).T, rtol=1e-6)


def test_heatmap_marks_the_carry_unit(qtbot, hub, binary_exp):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    probe, extras = binary_exp.probe(), binary_exp.extras()
    hub.send(probe, extras)
    assert panel.levels == (0.0, 1.0)  # sigmoid RNN
    ticks = dict((round(v - 0.5), s) for v, s in panel.heat.getAxis("left")._tickLevels[0])
    assert ticks[extras["carry_unit"]].startswith("▶")
    assert "carry" in panel.info_label.text()


# == inspector ==================================================================================
def test_inspector_follows_timestep_and_snapshot(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    p = lstm_probe(seed=1)
    hub.send(p)
    np.testing.assert_allclose(panel.state_values(), p.layers[0].states["h"][0])
    hub.set_timestep(3)
    np.testing.assert_allclose(panel.state_values(), p.layers[0].states["h"][3])
    assert "x3" in panel.input_label.text()
    p2 = lstm_probe(seed=2)
    hub.send(p2)
    np.testing.assert_allclose(panel.state_values(), p2.layers[0].states["h"][3])
    panel.state_combo.setCurrentIndex(3)  # "f"
    np.testing.assert_allclose(panel.state_values(), p2.layers[0].states["f"][3])
    assert panel.state_plot.getViewBox().viewRange()[1][0] == pytest.approx(-0.05, abs=0.02)


def test_inspector_top5_for_classifiers(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel, show_token

    panel = make(qtbot, InspectorPanel, hub)
    p = char_probe()
    hub.send(p)
    hub.set_timestep(2)
    labels, widths = panel.output_bars()
    row = np.asarray(p.outputs)[2]
    assert len(widths) == 5
    np.testing.assert_allclose(widths, np.sort(row)[::-1][:5])
    assert labels[0] == show_token(p.output_labels[int(row.argmax())])
    assert show_token("e") == "'e'" and show_token(" ") == "␣ (space)"
    assert "target" in panel.output_label.text()


def test_inspector_single_output_shows_target(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    p = lstm_probe()
    hub.send(p)
    hub.set_timestep(1)
    _, widths = panel.output_bars()
    np.testing.assert_allclose(widths, np.asarray(p.outputs)[1])
    assert panel.target_line.isVisible() and panel.target_line.value() == float(p.target_labels[1])
    assert "wrong" in panel.output_label.text()


# == binary addition =============================================================================
def test_binary_board_shows_the_sum(qtbot, hub, binary_exp):
    from visualizer.panels.binary import BinaryPanel

    panel = make(qtbot, BinaryPanel, hub)
    binary_exp.set_probe_example(a=89, b=57)
    p = binary_exp.probe()
    hub.send(p)
    assert panel.row_text("a") == format(89, "08b")  # MSB left
    assert panel.row_text("b") == format(57, "08b")
    assert panel.row_text("sum") == format(146, "08b")
    assert panel.row_text("t") == "76543210"
    assert panel.values["a"].text() == "= 89" and panel.values["sum"].text() == "= 146"
    pred = "".join(str(v) for v in np.asarray(p.extras["pred_bits"])[::-1])
    assert panel.row_text("pred") == pred
    wrong = [t for t in range(8) if p.extras["pred_bits"][t] != p.extras["sum_bits"][t]]
    assert panel.wrong_columns() == wrong
    # carries: 89 + 57 carries into bits 1, 4, 5, 6, 7 (written above the column they go into)
    assert panel.row_text("carry") == "1111  1 "
    assert panel.spin_a.value() == 89 and panel.spin_a.maximum() == 127
    # a new pair changes the board; the highlighted column follows the timestep
    binary_exp.set_probe_example(a=3, b=5)
    hub.send(binary_exp.probe())
    assert panel.row_text("a") == "00000011" and panel.values["sum"].text() == "= 8"
    assert panel.selected_column() == 0
    hub.set_timestep(6)
    assert panel.selected_column() == 6


def test_binary_buttons_send_typed_and_random_pairs(qtbot, hub, binary_exp):
    from visualizer.panels.binary import BinaryPanel

    panel = make(qtbot, BinaryPanel, hub)
    hub.send(binary_exp.probe())
    panel.spin_a.setValue(12)
    panel.spin_b.setValue(100)
    qtbot.mouseClick(panel.use_button, QtCore.Qt.MouseButton.LeftButton)
    assert hub.commands("set_probe_example")[-1] == ("set_probe_example", {"a": 12, "b": 100})
    qtbot.mouseClick(panel.random_button, QtCore.Qt.MouseButton.LeftButton)
    assert hub.commands("set_probe_example")[-1] == ("set_probe_example", {"random": True})
    assert len(hub.commands("refresh")) == 2


def test_binary_column_click_selects_timestep(qtbot, hub, binary_exp):
    from visualizer.panels.binary import BinaryPanel

    panel = make(qtbot, BinaryPanel, hub)
    hub.send(binary_exp.probe())
    qtbot.mouseClick(panel.cells["a"][5], QtCore.Qt.MouseButton.LeftButton)
    assert hub.timestep == 5 and panel.selected_column() == 5


# == sine ============================================================================================
def _sine_data(shift=0.0, W=10):
    x = 100 + 0.01 * np.arange(200)
    extras = {"x": x, "true": np.sin(x), "pred": np.sin(x) + shift, "forecast_x": x[:50],
              "forecast": np.sin(x[:50]) * 0.9, "rmse": abs(shift) + 0.01, "forecast_rmse": 0.2}
    window = np.sin(100 - 0.01 * (W - np.arange(W)))
    layer = LayerTrace("layer 1 (lstm)", "lstm", "tanh", {"h": frozen_array(np.zeros((W, 3)))})
    probe = Probe("sine", 1, tuple(f"{v:.2f}" for v in window), frozen_array(window[:, None]), (layer,),
                  frozen_array(window[:, None]), ("next value",),
                  extras={"window": frozen_array(window), "t": 100.0, "target": 0.5, "prediction": 0.49})
    return probe, extras


def test_inspector_regression_axis_is_fixed_symmetric_and_plain(qtbot, hub):
    """A sine-like probe (one target, at the end): the value axis spans the signal (-1.2..1.2), has no
    automatic SI prefix ("x0.001"), and stays put while scrubbing."""
    from visualizer.panels.inspector import InspectorPanel, nice_ceil

    assert [nice_ceil(v) for v in (0.55, 1.1, 4.3, 430.0)] == pytest.approx([0.6, 1.2, 4.5, 450.0])
    panel = make(qtbot, InspectorPanel, hub)
    probe, _ = _sine_data()
    wave = frozen_array(np.sin(np.linspace(0, 2 * np.pi, 10))[:, None])  # the signal spans -1..1
    small = Probe(probe.experiment, 1, probe.input_labels, wave, probe.layers,
                  frozen_array(np.full((10, 1), -0.003)), ("next value",), tuple([""] * 9 + ["-0.5"]))
    hub.send(small)
    for plot in (panel.out_plot, panel.state_plot):
        for name in ("left", "bottom"):
            assert not plot.getAxis(name).autoSIPrefix
    x0, x1 = panel.out_plot.getViewBox().viewRange()[0]
    assert (x0, x1) == pytest.approx((-1.2, 1.2), abs=1e-6)  # the window's values are in -1..1
    hub.set_timestep(9)
    assert panel.target_line.isVisible() and panel.target_line.value() == pytest.approx(-0.5)
    assert panel.out_plot.getViewBox().viewRange()[0] == pytest.approx([x0, x1], abs=1e-6)


def test_inspector_small_states_stay_visible_on_the_fixed_scale(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    p = lstm_probe()
    tiny = {k: frozen_array(np.asarray(v) * (0.01 if k == "h" else 1)) for k, v in p.layers[0].states.items()}
    layer = LayerTrace(p.layers[0].name, "lstm", "tanh", tiny)
    hub.send(Probe(p.experiment, 1, p.input_labels, p.inputs, (layer,), p.outputs, p.output_labels,
                   p.target_labels, p.prediction_labels, p.correct))
    assert panel.state_plot.getViewBox().viewRange()[1][0] == pytest.approx(-1.1, abs=0.03)  # fixed scale (+5%)
    m = float(np.max(np.abs(tiny["h"][0])))
    assert f"max |h| = {m:.2g}" in panel.state_plot.titleLabel.text
    tx, ty = panel.state_tips.getData()  # a marker at each bar's tip
    np.testing.assert_allclose(ty, tiny["h"][0])


def test_inspector_short_dock_keeps_the_output(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    hub.send(char_probe())
    assert panel.state_plot.isVisible() and panel.out_plot.isVisible()
    panel.resize(700, 280)
    qtbot.waitUntil(lambda: not panel.state_plot.isVisible(), timeout=2000)
    assert panel.out_plot.isVisible()
    qtbot.waitUntil(lambda: panel.out_plot.getViewBox().height() > 60, timeout=2000)  # it got the room
    assert len(panel.output_bars()[1]) == 5
    panel.resize(700, 200)  # very short: the top 3 only, readable
    qtbot.waitUntil(lambda: len(panel.output_bars()[1]) == 3, timeout=2000)
    panel.resize(700, 600)
    qtbot.waitUntil(lambda: panel.state_plot.isVisible(), timeout=2000)
    qtbot.waitUntil(lambda: len(panel.output_bars()[1]) == 5, timeout=2000)


def test_inspector_model_without_hidden_layer(qtbot, hub):
    """iris (softmax regression) has no layers: no empty state plot, a sentence instead."""
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    p = char_probe()
    hub.send(Probe("iris", 1, ("flower",), frozen_array(np.ones((1, 4))), (), p.outputs[:1], p.output_labels,
                   (p.output_labels[0],), (p.output_labels[1],), frozen_array([False])))
    assert not panel.state_plot.isVisible() and panel.no_layer.isVisible() and not panel.selectors.isVisible()
    assert "no hidden layer" in panel.no_layer.text()
    assert len(panel.output_bars()[1]) == 5
    hub.send(p)  # a model with layers again
    assert panel.state_plot.isVisible() and not panel.no_layer.isVisible()


def test_sine_view_keeps_the_signal_range_when_the_forecast_diverges(qtbot, hub):
    from visualizer.panels.sine import SinePanel

    panel = make(qtbot, SinePanel, hub)
    probe, extras = _sine_data()
    extras = dict(extras, forecast=np.linspace(0, 50, 50))  # a forecast running away
    hub.send(probe, extras)
    (x0, x1), (y0, y1) = panel.view_range()
    lo, hi = float(np.min(extras["true"])), float(np.max(extras["true"]))
    assert lo - 0.3 * (hi - lo) < y0 < lo and hi < y1 < hi + 0.3 * (hi - lo)  # not up to 50
    assert x0 <= 100 - 0.1 and x1 >= extras["x"][-1]


def test_sine_snapshot_changes_curves_and_rmse(qtbot, hub):
    from visualizer.panels.sine import SinePanel

    panel = make(qtbot, SinePanel, hub)
    probe, extras = _sine_data(0.0)
    hub.send(probe, extras)
    _, y1 = panel.pred_curve.getData()
    assert "RMSE 0.01" in panel.plot.titleLabel.text
    _, extras2 = _sine_data(0.3)
    hub.send(None, extras2)
    _, y2 = panel.pred_curve.getData()
    np.testing.assert_allclose(y2 - y1, 0.3)
    assert "RMSE 0.31" in panel.plot.titleLabel.text
    fx, fy = panel.forecast_curve.getData()
    assert len(fx) == 50


def test_sine_marks_probe_window_and_selected_point(qtbot, hub):
    from visualizer.panels.sine import SinePanel

    panel = make(qtbot, SinePanel, hub)
    probe, extras = _sine_data()
    hub.send(probe, extras)
    lo, hi = panel.region.getRegion()
    assert lo < 100 - 0.01 * 10 + 0.01 and hi >= 100.0
    hub.set_timestep(3)
    x, y = panel.cursor_point()
    assert x == pytest.approx(100 - 0.01 * 7) and y == pytest.approx(probe.extras["window"][3])
    panel.show_all.setChecked(False)  # zoom on the window
    xr = panel.plot.getViewBox().viewRange()[0]
    assert xr[0] < 99.9 and xr[1] < 101


# == text ===============================================================================================
class _Info:
    config = {"temperatures": (0.5, 1.0), "prime": "Th", "sample_length": 50}


def test_text_samples_follow_extras(qtbot):
    from visualizer.panels.text import TextPanel

    hub = Hub(_Info())
    panel = make(qtbot, TextPanel, hub)
    assert panel.temps_edit.text() == "0.5, 1" and panel.prime_edit.text() == "Th"
    assert panel.length_spin.value() == 50
    hub.send(None, {"samples": {0.2: "aaa", 0.6: "bbb", 1.2: "ccc"}, "argmax": "zzz", "prime": "Th"})
    assert panel.sample_texts() == {0.2: "aaa", 0.6: "bbb", 1.2: "ccc"}
    assert panel.argmax_box.text == "zzz"
    hub.send(None, {"samples": {0.7: "new"}, "argmax": "y", "prime": ""})
    assert panel.sample_texts() == {0.7: "new"}
    assert "new" in panel.boxes[0.7].edit.toPlainText()


def test_text_whitespace_heavy_argmax_is_visible(qtbot, hub):
    """A greedy sample stuck on spaces/newlines must not look empty: spaces show as ·, newlines as ⏎;
    ordinary samples keep their spaces (not collapsed)."""
    from visualizer.panels.text import TextPanel, whitespace_heavy

    assert whitespace_heavy("a    \n\n   ") and not whitespace_heavy("the cat sat")
    panel = make(qtbot, TextPanel, hub)
    hub.send(None, {"samples": {0.5: "an  apple"}, "argmax": "   \n\n    \n", "prime": "The"})
    shown = panel.argmax_box.html()
    assert panel.argmax_box.whitespace_heavy
    assert shown.startswith("The") and shown.count("·") == 7 and shown.count("⏎") == 3
    assert "an  apple" in panel.boxes[0.5].html()  # two spaces kept


def test_text_controls_call_set_live_then_refresh(qtbot, hub):
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    panel.temps_edit.setText("0.3, 0.9")
    panel.temps_edit.editingFinished.emit()
    panel.prime_edit.setText("Once")
    panel.prime_edit.editingFinished.emit()
    panel.length_spin.setValue(80)
    panel.temp_slider.setValue(150)  # not dragged: applies at once
    assert [c for c in hub.calls if c[0] == "set_live"] == [
        ("set_live", "temperatures", (0.3, 0.9)), ("set_live", "prime", "Once"),
        ("set_live", "sample_length", 80), ("set_live", "temperatures", (1.5,))]
    assert len(hub.commands("refresh")) == 4
    assert hub.calls[-1] == ("refresh",)
    assert panel.temps_edit.text() == "1.5"
    qtbot.mouseClick(panel.regen_button, QtCore.Qt.MouseButton.LeftButton)
    assert len(hub.commands("refresh")) == 5


def test_text_rejects_bad_temperatures(qtbot, hub):
    from visualizer.panels.text import TextPanel, parse_temperatures

    assert parse_temperatures("0.2 0.6;1.2") == (0.2, 0.6, 1.2)
    with pytest.raises(ValueError, match="temperatures: 'hot'"):
        parse_temperatures("0.2, hot")
    panel = make(qtbot, TextPanel, hub)
    panel.temps_edit.setText("0.2, -1")
    panel.temps_edit.editingFinished.emit()
    assert hub.commands("set_live") == []
    assert "-1" in panel.error_label.text() and panel.error_label.isVisible()


def test_text_refreshes_every_n_steps_while_visible(qtbot, hub):
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    panel.every_spin.setValue(100)
    for step in (40, 90, 120, 150, 230):
        hub.send(None, None, step=step)
    assert len(hub.commands("refresh")) == 2  # at 120 and 230
    panel.every_spin.setValue(0)  # never
    hub.send(None, None, step=1000)
    assert len(hub.commands("refresh")) == 2


def test_text_probe_line_highlights_selected_character(qtbot, hub):
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    hub.send(char_probe("hello world"))
    hub.set_timestep(4)
    html = panel.probe_label.text()
    assert "<b>o</b></span>" in html and "hell" in html
    hub.set_timestep(5)
    assert "<b>␣</b></span>" in panel.probe_label.text()


def test_text_probe_line_aligns_words(qtbot, hub):
    from visualizer.panels.text import TextPanel

    words = ("the", "cat", "sat", "on")
    probe = Probe("word-lm", 1, words, frozen_array(np.eye(4)), char_probe().layers, frozen_array(np.eye(4)),
                  words, ("cat", "sat", "on", "mat"), ("dog", "sat", "in", "the"),
                  frozen_array([False, True, False, False]))
    panel = make(qtbot, TextPanel, hub)
    hub.send(probe, {"samples": {1.0: "on the mat"}, "argmax": "the the", "prime": "cat"})
    assert panel.boxes[1.0].edit.toPlainText() == "cat on the mat"  # words: prime and sample spaced
    html = TextPanel.probe_html(probe, 1)
    top, bottom = html.split("<br>")
    assert "the cat" not in top and "<b>cat</b>" in top  # whole words, the selected one highlighted
    assert "dog" in bottom and "<u>sat</u>" in bottom
    top, bottom = (re.sub("<[^>]+>", "", line).replace("&nbsp;", " ")[len("input  "):] for line in (top, bottom))
    start = 0
    for word, guess in zip(words, probe.prediction_labels):  # each guess starts under its word
        assert top[start:].startswith(word) and bottom[start:].startswith(guess)
        start += max(len(word), len(guess)) + 1


# == digits ===================================================================================================
def _digit_probe(seed=0, T=8):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(10), size=T)  # (T, 10)
    img = rng.uniform(size=(T, 8))
    layer = LayerTrace("layer 1 (lstm)", "lstm", "tanh", {"h": frozen_array(np.zeros((T, 4)))})
    preds = probs.argmax(1)
    return Probe("digits-rnn", 1, tuple(f"row {t}" for t in range(T)), frozen_array(img), (layer,),
                 frozen_array(probs), tuple(map(str, range(10))), tuple([""] * (T - 1) + ["3"]),
                 tuple(map(str, preds)), frozen_array(preds == 3),
                 {"image": frozen_array(img), "label": 3, "prediction": int(preds[-1]), "index": 0})


def test_digits_image_rows_and_probabilities(qtbot, hub):
    from visualizer.panels.digits import DigitsPanel

    panel = make(qtbot, DigitsPanel, hub)
    p = _digit_probe(1)
    hub.send(p)
    np.testing.assert_allclose(panel.image.image, np.asarray(p.extras["image"]), rtol=1e-6)
    np.testing.assert_allclose(panel.bar_heights(), np.asarray(p.outputs)[0])
    assert panel.marked_row() == 0
    hub.set_timestep(5)
    np.testing.assert_allclose(panel.bar_heights(), np.asarray(p.outputs)[5])
    assert panel.marked_row() == 5
    assert "true 3" in panel.verdict.text()
    p2 = _digit_probe(2)
    hub.send(p2)
    np.testing.assert_allclose(panel.image.image, np.asarray(p2.extras["image"]), rtol=1e-6)
    np.testing.assert_allclose(panel.bar_heights(), np.asarray(p2.outputs)[5])
    qtbot.mouseClick(panel.random_button, QtCore.Qt.MouseButton.LeftButton)
    assert hub.commands("set_probe_example")[-1] == ("set_probe_example", {"random": True})


def test_digits_image_is_large_with_square_pixels(qtbot, hub):
    from visualizer.panels.digits import DigitsPanel

    panel = make(qtbot, DigitsPanel, hub)
    hub.send(_digit_probe(1))
    qtbot.wait(30)
    px, py = panel.img_plot.getViewBox().viewPixelSize()  # image units per screen pixel
    assert px == pytest.approx(py, rel=0.02)  # square pixels
    assert 1 / px > 20  # an 8x8 image drawn at > 20 screen pixels per image pixel in a 700x500 panel


def test_digits_single_step_model_has_no_row_cursor(qtbot, hub):
    from visualizer.panels.digits import DigitsPanel

    panel = make(qtbot, DigitsPanel, hub)
    p = _digit_probe(T=8)
    mlp = Probe("mlp-digits", 1, ("image",), frozen_array(np.zeros((1, 64))), p.layers,
                frozen_array(np.asarray(p.outputs)[-1:]), p.output_labels, ("3",), ("3",), None,
                {"image": p.extras["image"], "label": 3, "prediction": 3})
    hub.send(mlp)
    assert panel.marked_row() is None and not panel.heat_plot.isVisible()
    np.testing.assert_allclose(panel.bar_heights(), np.asarray(p.outputs)[-1])


# == worked example ===============================================================================================
def test_worked_example_shows_the_seed_numbers(qtbot, hub, worked_exp):
    from visualizer.panels.worked import WorkedPanel

    panel = make(qtbot, WorkedPanel, hub)
    hub.send(worked_exp.probe())
    assert panel.cell_text(0, "pre[0]") == "0.60000000"
    assert panel.cell_text(1, "pre[0]") == "1.29234010"
    assert panel.cell_text(1, "h[1]") == "0.88366641"
    assert panel.cell_text(0, "y") == "1.56128388"
    assert panel.cell_text(1, "y") == "2.72707101"
    assert "0.30000000" in panel.weights_label.text()  # Whh
    assert panel.highlighted_column() == 0
    hub.set_timestep(1)
    assert panel.highlighted_column() == 1
    assert "1.29234010, 1.39225678" in panel.step_label.text()


def test_worked_example_compares_with_the_seed(qtbot, hub):
    """At step 0 the table equals the seed's numbers (grey seed columns, a green banner); after training
    the banner says the weights moved and the seed columns keep the seed's values."""
    from core.experiments import registry
    from visualizer.panels.worked import WorkedPanel, seed_forward

    s = seed_forward([1.0, 2.0])
    np.testing.assert_allclose(s["y"], [1.56128388, 2.72707101], atol=1e-8)
    exp = registry.get("worked-example")(None, 0)
    panel = make(qtbot, WorkedPanel, hub)
    hub.send(exp.probe())
    assert panel.seed_match is True and "seed" in panel.seed_label.text()
    assert panel.table.horizontalHeaderItem(3).text() == "seed t = 1"
    assert panel.table.item(5, 3).text() == "2.72707101"  # row y, seed t = 1
    for _ in range(3):
        exp.train_step()
    hub.send(exp.probe())
    assert panel.seed_match is False and "3 training steps" in panel.seed_label.text()
    assert panel.table.item(5, 3).text() == "2.72707101"
    assert panel.cell_text(1, "y") != "2.72707101"


def test_worked_example_snapshot_changes_numbers(qtbot, hub):
    from core.experiments import registry
    from visualizer.panels.worked import WorkedPanel

    exp = registry.get("worked-example")(None, 0)
    panel = make(qtbot, WorkedPanel, hub)
    hub.send(exp.probe())
    before = panel.cell_text(1, "y")
    for _ in range(3):
        exp.train_step()
    hub.send(exp.probe())
    assert panel.cell_text(1, "y") != before
    assert "step 3" in panel.loss_label.text()


# == nothing is cut off in a narrow dock ===============================================================
@pytest.mark.parametrize("experiment_id", ["binary-addition", "sine", "char-lm", "digits-rnn", "mlp-digits",
                                           "iris", "worked-example"])
def test_panels_fit_a_480_px_dock(qtbot, experiment_id):
    """With real probes and extras, every content panel (and each of its plot grids, whose titles and axes set
    a minimum width) fits 480 px: the width of a side dock in a 1280 x 800 window."""
    import pyqtgraph as pg
    from core.experiments import registry
    from visualizer.panels import panel_class

    cls = registry.get(experiment_id)
    exp = cls(None, 0)
    hub = Hub()
    panels = {n: make(qtbot, panel_class(n), hub) for n in cls.panels if n != "loss"}
    for panel in panels.values():
        panel.resize(480, 420)
    hub.send(exp.probe(), exp.extras())
    qtbot.wait(20)
    for name, panel in panels.items():
        assert panel.minimumSizeHint().width() <= 480, name
        for view in (getattr(panel, "view", None), getattr(panel, "img_view", None)):
            if isinstance(view, pg.GraphicsLayoutWidget):
                need = view.ci.effectiveSizeHint(QtCore.Qt.SizeHint.MinimumSize).width()
                assert need <= view.width() + 1, (name, need, view.width())


# == every real experiment feeds its content panels ======================================================
@pytest.mark.parametrize("experiment_id", ["binary-addition", "sine", "char-lm", "word-lm", "digits-rnn",
                                           "mlp-digits", "iris", "worked-example"])
def test_real_experiment_feeds_its_panels(qtbot, experiment_id):
    """The panels read the keys the experiments really produce (no training: init, probe, extras)."""
    from core.experiments import registry
    from visualizer.panels import panel_class

    cls = registry.get(experiment_id)
    exp = cls(None, 0)
    probe, extras = exp.probe(), exp.extras()
    hub = Hub()
    names = [n for n in cls.panels if n != "loss"]
    panels = {n: make(qtbot, panel_class(n), hub) for n in names}
    hub.send(probe, extras)
    for t in range(probe.num_steps):
        hub.set_timestep(t)
    for name, panel in panels.items():
        assert panel.redraws >= 1, name
    if "sine" in panels:
        x, _ = panels["sine"].true_curve.getData()
        assert len(x) == len(extras["x"]) and panels["sine"].cursor_point() is not None
    if "text" in panels:
        assert set(panels["text"].sample_texts()) == set(extras["samples"])
    if "digits" in panels:
        np.testing.assert_allclose(panels["digits"].bar_heights(), np.asarray(probe.outputs)[-1], rtol=1e-6)
    if "hidden" in panels:
        assert panels["hidden"].displayed().shape == np.asarray(probe.layers[0].states["h"]).T.shape


def test_binary_board_fits_a_narrow_dock(qtbot, hub, binary_exp):
    """8 bits, the decimal values and the row titles fit the panel's minimum width (a 1280 px window)."""
    from visualizer.panels.binary import BinaryPanel, _prob

    assert [_prob(p) for p in (0.981, 0.004, 0.9999, 0.5)] == [".98", "0.0", "1.0", ".50"]
    panel = make(qtbot, BinaryPanel, hub)
    hub.send(binary_exp.probe(), binary_exp.extras())
    assert panel.board.minimumSizeHint().width() <= panel.minimumWidth() - 16
    assert panel.row_text("p") == "".join(_prob(v) for v in np.asarray(binary_exp.probe().outputs)[::-1, 0])


def test_inspector_small_probabilities_get_a_readable_axis(qtbot, hub):
    """A big vocabulary early in training (all p < 0.01): the axis ends at a round number above the
    largest probability instead of 1, so that the top-5 bars are seen; confident models keep 0..1."""
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    p = char_probe()
    flat = np.full(np.shape(p.outputs), 0.004)
    flat[:, 0] = 0.0072
    hub.send(Probe(p.experiment, 1, p.input_labels, p.inputs, p.layers, frozen_array(flat), p.output_labels,
                   p.target_labels, p.prediction_labels, p.correct))
    x0, x1 = panel.out_plot.getViewBox().viewRange()[0]
    assert 0.0076 < x1 < 0.06
    hub.send(p)  # Dirichlet rows: some probability is large
    assert panel.out_plot.getViewBox().viewRange()[0][1] > 0.5


def test_binary_bit_columns_are_equally_wide(qtbot, hub, binary_exp):
    from visualizer.panels.binary import BinaryPanel

    panel = make(qtbot, BinaryPanel, hub)
    hub.send(binary_exp.probe(), binary_exp.extras())
    qtbot.wait(20)
    widths = {c.width() for c in panel.cells["a"]}
    assert max(widths) - min(widths) <= 1


def test_inspector_judges_right_or_wrong_only_where_there_is_a_target(qtbot, hub):
    """A last-step classifier (digits-rnn) has no target before the last row: the inspector
    must not call an early guess wrong, but does judge the last step."""
    from core.experiments import registry
    from visualizer.panels.inspector import InspectorPanel

    cls = registry.get("digits-rnn")
    probe = cls(cls.preset_config(None), seed=0).probe()
    panel = make(qtbot, InspectorPanel, hub)
    hub.send(probe)
    hub.set_timestep(0)
    early = panel.output_label.text()
    assert "no target at this step" in early
    assert "right" not in early and "wrong" not in early
    hub.set_timestep(probe.num_steps - 1)
    last = panel.output_label.text()
    assert "target" in last and ("right" in last or "wrong" in last)


def test_heatmap_marks_no_prediction_wrong_where_there_is_no_target(qtbot, hub):
    """digits-rnn's early rows have no target: their guesses are not red; the last row's is judged."""
    from core.experiments import registry
    from visualizer.panels.hidden import WRONG, HiddenStatePanel, verdicts

    cls = registry.get("digits-rnn")
    probe = cls(cls.preset_config(None), seed=0).probe()
    judged = verdicts(probe)
    assert judged[:-1] == [None] * (probe.num_steps - 1) and judged[-1] is not None
    panel = make(qtbot, HiddenStatePanel, hub)
    hub.send(probe)
    colours = panel.label_colours("predicted")
    assert all(c != WRONG for c in colours[:-1])
