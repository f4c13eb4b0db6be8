"""Content panels in isolation: a stand-in hub, hand-made and real probes and views.

"A snapshot changes the panel", the timestep follows the hub, controls send
the right typed commands (core.run), a panel only gets the view types it
draws, and a hidden panel does no work until it is shown.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6 import QtCore, QtGui  # noqa: E402

from core.config import ConfigError  # noqa: E402
from core.probe import LayerTrace, Probe, Snapshot, frozen_array  # noqa: E402
from core.run import Command, Refresh, RunSpec, SetLive, SetProbe  # noqa: E402
from core.views import (BitSum, DigitRead, MarkedUnit, ProbeText, SeriesForecast, SeriesWindow,  # noqa: E402
                        TextSamples, View, WorkedNumbers)


class Hub(QtCore.QObject):
    """The hub contract of visualizer/panels/base.py (what visualizer.session.TrainingSession offers panels),
    recording what panels ask of it. ``push`` plays the worker: it emits a Snapshot.

    ``sent``: the typed commands (core.run) in order; ``timesteps``: the ``set_timestep`` calls; ``calls``:
    both, in order, as ("send", command) / ("set_timestep", t) (tests/visualizer/test_scrubber.py reads
    ``calls`` and ``commands("set_timestep")`` and pushes probes with ``send(probe)``).
    """

    snapshot_ready = QtCore.Signal(object)
    experiment_changed = QtCore.Signal(object)
    timestep_changed = QtCore.Signal(int)
    live_param_changed = QtCore.Signal(str, object, int)
    metrics_reset = QtCore.Signal()
    state_changed = QtCore.Signal(str)
    errored = QtCore.Signal(str)
    message = QtCore.Signal(str)

    def __init__(self, spec=None):
        super().__init__()
        self.timestep = 0
        self.latest_probe = None
        self.latest_views = {}
        self.spec = spec
        self.history = None
        self.sent = []  # typed commands (core.run), in order
        self.timesteps = []  # set_timestep calls
        self.calls = []  # both, in order
        self._seq = 0

    # -- what panels call -------------------------------------------------------------
    def set_timestep(self, t):
        self.timesteps.append(t)
        self.calls.append(("set_timestep", t))
        if self.latest_probe is not None:
            t = min(max(int(t), 0), self.latest_probe.num_steps - 1)
        if t != self.timestep:
            self.timestep = t
            self.timestep_changed.emit(t)

    def send(self, command):
        if not isinstance(command, Command):  # a probe (or None): test_scrubber's way to push a snapshot
            self.push(command)
            return
        self.sent.append(command)
        self.calls.append(("send", command))

    # the shorthands, as TrainingSession defines them
    def set_live(self, name, value):
        self.send(SetLive(name, value))

    def set_probe_example(self, **options):
        self.send(SetProbe.of(**options))

    def refresh(self):
        self.send(Refresh())

    # -- what the worker would do -------------------------------------------------------
    def push(self, probe=None, views=(), step=None):
        """Emit a Snapshot carrying ``probe`` and ``views`` (a tuple of core.views)."""
        self._seq += 1
        views = tuple(views or ())
        if probe is not None:
            self.latest_probe = probe
        self.latest_views.update((type(v), v) for v in views)
        self.snapshot_ready.emit(Snapshot(self._seq, self._seq if step is None else step, {}, probe, views))

    def commands(self, kind):
        """The commands of type ``kind`` sent so far (a name such as "set_timestep": those calls)."""
        if isinstance(kind, str):
            return [c for c in self.calls if c[0] == kind]
        return [c for c in self.sent if isinstance(c, kind)]


def test_stand_in_hub_offers_what_the_session_offers():
    """The stand-in hub must not drift from the real one: same signals, same methods panels call."""
    import inspect

    from visualizer.session import TrainingSession

    for name in ("snapshot_ready", "experiment_changed", "timestep_changed", "live_param_changed",
                 "metrics_reset", "state_changed", "errored", "message"):
        assert isinstance(getattr(TrainingSession, name), QtCore.Signal), name
    for name in ("send", "set_timestep", "set_live", "set_probe_example", "refresh"):
        real, ours = getattr(TrainingSession, name), getattr(Hub, name)
        assert list(inspect.signature(real).parameters) == list(inspect.signature(ours).parameters), name
    session = TrainingSession(RunSpec.create("binary-addition"), start=False)  # no thread, no model
    for name in ("timestep", "latest_probe", "latest_views", "spec", "history"):
        assert hasattr(session, name) and hasattr(Hub(), name), name
    assert isinstance(session.latest_views, dict)


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
                 frozen_array(np.array(pred) == np.array(list(text[1:]))),
                 views=(ProbeText(text[:-1], 1.5),))


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
    hub.push(p1)
    img1 = panel.displayed().copy()
    assert img1.shape == (5, 8)  # rows = units, columns = timesteps
    np.testing.assert_allclose(img1, np.asarray(p1.layers[0].states["h"]).T, rtol=1e-6)
    assert panel.levels == (-1.0, 1.0)
    assert panel.label_texts("input") == list(p1.input_labels)
    assert panel.label_texts("predicted") == list(p1.prediction_labels)
    hub.push(p2)
    assert not np.allclose(panel.displayed(), img1)
    np.testing.assert_allclose(panel.displayed(), np.asarray(p2.layers[0].states["h"]).T, rtol=1e-6)


def test_heatmap_marks_wrong_predictions_red(qtbot, hub):
    from visualizer.panels.hidden import WRONG, HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.push(lstm_probe())
    colours = [item.color.name() for item in panel._texts[panel.LABEL_ROWS.index("predicted")]]
    assert colours[1] == WRONG  # lstm_probe's wrong step
    assert all(c != WRONG for i, c in enumerate(colours) if i != 1)
    assert panel.label_colours("predicted")[1] == WRONG
    assert WRONG not in panel.label_colours("input")


def test_heatmap_label_rows_are_compact(qtbot, hub):
    """Two short label rows (input, predicted) so that the heatmap keeps most of the height."""
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.push(lstm_probe())
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
    hub.push(rows)
    assert panel.label_texts("input") == [str(t) for t in range(8)]
    titles = [s for _, s in panel.labels.getAxis("left")._tickLevels[0]]
    assert "input row" in titles
    hub.push(p)  # back to plain labels: plain title
    assert "input" in [s for _, s in panel.labels.getAxis("left")._tickLevels[0]]


def test_gradient_strip_collapses_when_the_dock_is_short(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.push(lstm_probe())
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
    hub.push(p)
    keys = [panel.state_combo.itemData(i) for i in range(panel.state_combo.count())]
    assert keys == ["h", "c", "i", "f", "o", "g"]
    # the titles come from the cell's descriptor (core.nn.cells), not from the panel
    titles = [panel.state_combo.itemText(i) for i in range(panel.state_combo.count())]
    assert titles == [p.layers[0].title(k) for k in keys]
    assert "input gate i" in titles and "forget gate f" in titles
    panel.select(0, "f")
    np.testing.assert_allclose(panel.displayed(), np.asarray(p.layers[0].states["f"]).T, rtol=1e-6)
    assert panel.levels == (0.0, 1.0)
    assert panel.info_label.text().startswith("forget gate f")
    assert tuple(panel.colorbar.levels()) == (0.0, 1.0)
    assert panel.image.levels is not None and tuple(panel.image.levels) == (0.0, 1.0)
    panel.select(0, "c")  # cell state: symmetric scale from its largest magnitude
    m = float(np.abs(p.layers[0].states["c"]).max())
    assert panel.levels == pytest.approx((-m, m))
    panel.select(1, "h")
    np.testing.assert_allclose(panel.displayed(), np.asarray(p.layers[1].states["h"]).T, rtol=1e-6)
    assert panel.levels == (-1.0, 1.0)
    # a new probe keeps the selection
    hub.push(lstm_probe(seed=5))
    assert panel.layer_combo.currentIndex() == 1 and panel.state_combo.currentData() == "h"


def test_gradient_strip_only_with_grad_norms(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    p = lstm_probe()
    hub.push(p)
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
    hub.push(lstm_probe())
    assert panel.marker.rect().x() == 0
    hub.set_timestep(5)
    assert panel.marker.rect().x() == 5 and panel.marker.rect().width() == 1
    assert panel.label_marker.rect().x() == 5
    # click the middle of column 2
    vb = panel.heat.getViewBox()
    pos = panel.view.mapFromScene(vb.mapViewToScene(QtCore.QPointF(2.5, 2.5)))
    qtbot.mouseClick(panel.view.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=pos)
    assert 2 in hub.timesteps
    assert panel.marker.rect().x() == 2


def test_crowded_labels_show_every_kth(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel, label_stride

    assert label_stride(8, 800) == 1
    assert label_stride(100, 500, 25) == 5
    panel = make(qtbot, HiddenStatePanel, hub)
    hub.push(lstm_probe(T=100, H=40))
    shown = [item.isVisible() for item in panel._texts[0]]
    assert shown[0] and 1 < sum(shown) < 100


def test_hidden_panel_does_no_work_until_shown(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub, show=False)
    hub.push(lstm_probe(seed=1))
    hub.push(lstm_probe(seed=2))
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
    hub.push(lstm_probe(seed=3))
    assert panel.redraws == 1
    panel.show()
    assert panel.redraws == 2 and panel.marker.rect().x() == 6


def test_experiment_changed_clears_heatmap(qtbot, hub):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.push(lstm_probe())
    panel.select(1, "f")
    hub.experiment_changed.emit(None)
    assert panel.probe is None and panel.label_texts("input") == []
    p = lstm_probe(seed=3)
    hub.push(p)  # a new run starts again on layer 1, h
    assert panel.layer_combo.currentIndex() == 0 and panel.state_combo.currentData() == "h"
    np.testing.assert_allclose(panel.displayed(), np.asarray(p.layers[0].states["h"]).T, rtol=1e-6)


def test_heatmap_marks_the_carry_unit(qtbot, hub, binary_exp):
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    probe, views = binary_exp.probe(), binary_exp.views()
    marked = next(v for v in views if isinstance(v, MarkedUnit))
    assert marked.label == "tracks the carry"
    hub.push(probe, views)
    assert panel.levels == (0.0, 1.0)  # sigmoid RNN
    ticks = dict((round(v - 0.5), s) for v, s in panel.heat.getAxis("left")._tickLevels[0])
    assert ticks[marked.unit].startswith("▶")
    assert f"unit {marked.unit} tracks the carry" in panel.info_label.text()


def test_the_heatmap_caption_wraps_between_phrases_at_any_width(qtbot, hub, binary_exp):
    # at 1280x720 the caption wrapped "... scale 0 … 1" with the "1" alone on a third line
    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    hub.push(binary_exp.probe(), binary_exp.views())
    text = panel.info_label.text()
    for width in range(120, 700, 7):
        layout = QtGui.QTextLayout(text, panel.info_label.label.font())
        option = QtGui.QTextOption()
        option.setWrapMode(QtGui.QTextOption.WrapMode.WordWrap)
        layout.setTextOption(option)
        layout.beginLayout()
        lines = []
        while (line := layout.createLine()).isValid():
            line.setLineWidth(width)
            lines.append(text[line.textStart():line.textStart() + line.textLength()].strip())
        layout.endLayout()
        whole = [ln.replace("\u00a0", " ") for ln in lines]
        assert any("scale 0 … 1" in ln for ln in whole), (width, whole)  # one phrase, one line
        assert any("16 units × 8 steps" in ln for ln in whole), (width, whole)


# == inspector ==================================================================================
def test_inspector_follows_timestep_and_snapshot(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    p = lstm_probe(seed=1)
    hub.push(p)
    np.testing.assert_allclose(panel.state_values(), p.layers[0].states["h"][0])
    hub.set_timestep(3)
    np.testing.assert_allclose(panel.state_values(), p.layers[0].states["h"][3])
    assert "x3" in panel.input_label.text()
    p2 = lstm_probe(seed=2)
    hub.push(p2)
    np.testing.assert_allclose(panel.state_values(), p2.layers[0].states["h"][3])
    panel.state_combo.setCurrentIndex(3)  # "f"
    np.testing.assert_allclose(panel.state_values(), p2.layers[0].states["f"][3])
    assert panel.state_plot.getViewBox().viewRange()[1][0] == pytest.approx(-0.05, abs=0.02)


def test_inspector_top5_for_classifiers(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel, show_token

    panel = make(qtbot, InspectorPanel, hub)
    p = char_probe()
    hub.push(p)
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
    hub.push(p)
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
    hub.push(p)
    assert panel.row_text("a") == format(89, "08b")  # MSB left
    assert panel.row_text("b") == format(57, "08b")
    assert panel.row_text("sum") == format(146, "08b")
    assert panel.row_text("t") == "76543210"
    assert panel.values["a"].text() == "= 89" and panel.values["sum"].text() == "= 146"
    bits = p.view(BitSum)
    assert (bits.a, bits.b, bits.true_sum) == (89, 57, 146)
    pred = "".join(str(int(v)) for v in np.asarray(bits.pred_bits)[::-1])
    assert panel.row_text("pred") == pred
    assert panel.values["pred"].text().startswith(f"= {bits.pred_sum}")
    wrong = [t for t in range(8) if bits.pred_bits[t] != bits.sum_bits[t]]
    assert panel.wrong_columns() == wrong
    # carries: 89 + 57 carries into bits 1, 4, 5, 6, 7 (written above the column they go into)
    assert panel.row_text("carry") == "1111  1 "
    assert panel.spin_a.value() == 89 and panel.spin_a.maximum() == 127
    # a new pair changes the board; the highlighted column follows the timestep
    binary_exp.set_probe_example(a=3, b=5)
    hub.push(binary_exp.probe())
    assert panel.row_text("a") == "00000011" and panel.values["sum"].text() == "= 8"
    assert panel.selected_column() == 0
    hub.set_timestep(6)
    assert panel.selected_column() == 6


def test_binary_buttons_send_typed_and_random_pairs(qtbot, hub, binary_exp):
    from visualizer.panels.binary import BinaryPanel

    panel = make(qtbot, BinaryPanel, hub)
    hub.push(binary_exp.probe())
    panel.spin_a.setValue(12)
    panel.spin_b.setValue(100)
    qtbot.mouseClick(panel.use_button, QtCore.Qt.MouseButton.LeftButton)
    assert hub.sent == [SetProbe.of(a=12, b=100), Refresh()]  # the pair, then fresh views
    qtbot.mouseClick(panel.random_button, QtCore.Qt.MouseButton.LeftButton)
    assert hub.sent[2:] == [SetProbe.of(random=True), Refresh()]
    assert hub.sent[2].options == (("random", True),)


def test_binary_column_click_selects_timestep(qtbot, hub, binary_exp):
    from visualizer.panels.binary import BinaryPanel

    panel = make(qtbot, BinaryPanel, hub)
    hub.push(binary_exp.probe())
    qtbot.mouseClick(panel.cells["a"][5], QtCore.Qt.MouseButton.LeftButton)
    assert hub.timestep == 5 and panel.selected_column() == 5


# == sine ============================================================================================
def _sine_data(shift=0.0, W=10):
    """A sine-like probe (its SeriesWindow) and a SeriesForecast over a test range starting at x = 100."""
    x = 100 + 0.01 * np.arange(200)
    forecast = SeriesForecast(x=frozen_array(x), true=frozen_array(np.sin(x)), pred=frozen_array(np.sin(x) + shift),
                              forecast_x=frozen_array(x[:50]), forecast=frozen_array(np.sin(x[:50]) * 0.9),
                              rmse=abs(shift) + 0.01, forecast_rmse=0.2)
    window = np.sin(100 - 0.01 * (W - np.arange(W)))
    layer = LayerTrace("layer 1 (lstm)", "lstm", "tanh", {"h": frozen_array(np.zeros((W, 3)))})
    probe = Probe("sine", 1, tuple(f"{v:.2f}" for v in window), frozen_array(window[:, None]), (layer,),
                  frozen_array(window[:, None]), ("next value",),
                  views=(SeriesWindow(frozen_array(window), 100.0, 0.5, 0.49),), output_range=(-1.0, 1.0))
    return probe, forecast


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
    hub.push(small)
    for plot in (panel.out_plot, panel.state_plot):
        for name in ("left", "bottom"):
            assert not plot.getAxis(name).autoSIPrefix
    x0, x1 = panel.out_plot.getViewBox().viewRange()[0]
    assert (x0, x1) == pytest.approx((-1.2, 1.2), abs=1e-6)  # the window's values are in -1..1
    hub.set_timestep(9)
    assert panel.target_line.isVisible() and panel.target_line.value() == pytest.approx(-0.5)
    assert panel.out_plot.getViewBox().viewRange()[0] == pytest.approx([x0, x1], abs=1e-6)


def test_inspector_regression_axis_covers_the_probes_output_range(qtbot, hub):
    """A regression probe declares the range of the whole signal (``Probe.output_range``): the value axis
    covers it even when the window and the outputs are small, so it does not jump between probes."""
    from visualizer.panels.inspector import InspectorPanel, nice_ceil

    panel = make(qtbot, InspectorPanel, hub)
    probe, _ = _sine_data()
    quiet = frozen_array(np.full((10, 1), -0.1))  # a window near zero
    plain = Probe(probe.experiment, 1, probe.input_labels, quiet, probe.layers,
                  frozen_array(np.full((10, 1), -0.05)), ("next value",), tuple([""] * 9 + ["-0.1"]))
    hub.push(plain)
    assert panel.out_plot.getViewBox().viewRange()[0] == pytest.approx([-nice_ceil(0.11), nice_ceil(0.11)])
    hub.experiment_changed.emit(None)  # a new run: the axis starts afresh (it otherwise only grows)
    hub.push(dataclasses.replace(plain, output_range=(-2.0, 2.0)))
    assert panel.out_plot.getViewBox().viewRange()[0] == pytest.approx([-2.5, 2.5])  # nice_ceil(1.1 * 2)


def test_inspector_uses_the_real_sine_output_range(qtbot, hub):
    from core.experiments import registry
    from visualizer.panels.inspector import InspectorPanel

    probe = registry.get("sine")(None, 0).probe()
    lo, hi = probe.output_range
    panel = make(qtbot, InspectorPanel, hub)
    hub.push(probe)
    x0, x1 = panel.out_plot.getViewBox().viewRange()[0]
    assert x0 <= lo and hi <= x1 and x1 == pytest.approx(-x0)


def test_inspector_small_states_stay_visible_on_the_fixed_scale(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    p = lstm_probe()
    tiny = {k: frozen_array(np.asarray(v) * (0.01 if k == "h" else 1)) for k, v in p.layers[0].states.items()}
    layer = LayerTrace(p.layers[0].name, "lstm", "tanh", tiny)
    hub.push(Probe(p.experiment, 1, p.input_labels, p.inputs, (layer,), p.outputs, p.output_labels,
                   p.target_labels, p.prediction_labels, p.correct))
    assert panel.state_plot.getViewBox().viewRange()[1][0] == pytest.approx(-1.1, abs=0.03)  # fixed scale (+5%)
    m = float(np.max(np.abs(tiny["h"][0])))
    assert f"max |h| = {m:.2g}" in panel.state_plot.titleLabel.text
    tx, ty = panel.state_tips.getData()  # a marker at each bar's tip
    np.testing.assert_allclose(ty, tiny["h"][0])


def test_inspector_short_dock_keeps_the_output(qtbot, hub):
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    hub.push(char_probe())
    assert panel.state_plot.isVisible() and panel.out_plot.isVisible()
    panel.resize(700, 280)
    qtbot.waitUntil(lambda: not panel.state_plot.isVisible(), timeout=2000)
    assert panel.out_plot.isVisible()
    qtbot.waitUntil(lambda: panel.out_plot.getViewBox().height() > 60, timeout=2000)  # it got the room
    # (issue 9: as many bars as have room for a label row each, so that the labels never overlap)
    from PySide6 import QtGui
    from visualizer.panels.hidden import font

    row_px = QtGui.QFontMetrics(font()).lineSpacing()
    qtbot.waitUntil(lambda: len(panel.output_bars()[1]) == panel.top_k(), timeout=2000)
    assert 1 <= len(panel.output_bars()[1]) <= 5
    assert len(panel.output_bars()[1]) * row_px <= panel.out_plot.getViewBox().height()
    panel.resize(700, 200)  # very short: fewer, still readable
    qtbot.waitUntil(lambda: len(panel.output_bars()[1]) == panel.top_k(), timeout=2000)
    assert len(panel.output_bars()[1]) * row_px <= max(panel.out_plot.getViewBox().height(), row_px)

    panel.resize(700, 600)
    qtbot.waitUntil(lambda: panel.state_plot.isVisible(), timeout=2000)
    qtbot.waitUntil(lambda: len(panel.output_bars()[1]) == 5, timeout=2000)


def test_inspector_model_without_hidden_layer(qtbot, hub):
    """iris (softmax regression) has no layers: no empty state plot, a sentence instead."""
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    p = char_probe()
    hub.push(Probe("iris", 1, ("flower",), frozen_array(np.ones((1, 4))), (), p.outputs[:1], p.output_labels,
                   (p.output_labels[0],), (p.output_labels[1],), frozen_array([False])))
    assert not panel.state_plot.isVisible() and panel.no_layer.isVisible() and not panel.selectors.isVisible()
    assert "no hidden layer" in panel.no_layer.text()
    assert len(panel.output_bars()[1]) == 5
    hub.push(p)  # a model with layers again
    assert panel.state_plot.isVisible() and not panel.no_layer.isVisible()


def test_sine_view_keeps_the_signal_range_when_the_forecast_diverges(qtbot, hub):
    from visualizer.panels.sine import SinePanel

    panel = make(qtbot, SinePanel, hub)
    probe, forecast = _sine_data()
    forecast = dataclasses.replace(forecast, forecast=frozen_array(np.linspace(0, 50, 50)))  # running away
    hub.push(probe, (forecast,))
    (x0, x1), (y0, y1) = panel.view_range()
    lo, hi = float(np.min(forecast.true)), float(np.max(forecast.true))
    assert lo - 0.3 * (hi - lo) < y0 < lo and hi < y1 < hi + 0.3 * (hi - lo)  # not up to 50
    assert x0 <= 100 - 0.1 and x1 >= forecast.x[-1]


def test_sine_snapshot_changes_curves_and_rmse(qtbot, hub):
    from visualizer.panels.sine import SinePanel

    panel = make(qtbot, SinePanel, hub)
    probe, forecast = _sine_data(0.0)
    hub.push(probe, (forecast,))
    _, y1 = panel.pred_curve.getData()
    assert "RMSE 0.01" in panel.plot.titleLabel.text
    _, forecast2 = _sine_data(0.3)
    hub.push(None, (forecast2,))  # a new forecast alone (no probe) redraws the curves
    _, y2 = panel.pred_curve.getData()
    np.testing.assert_allclose(y2 - y1, 0.3)
    assert "RMSE 0.31" in panel.plot.titleLabel.text
    fx, fy = panel.forecast_curve.getData()
    assert len(fx) == 50


def test_sine_marks_probe_window_and_selected_point(qtbot, hub):
    from visualizer.panels.sine import SinePanel

    panel = make(qtbot, SinePanel, hub)
    probe, forecast = _sine_data()
    hub.push(probe, (forecast,))
    lo, hi = panel.region.getRegion()
    assert lo < 100 - 0.01 * 10 + 0.01 and hi >= 100.0
    hub.set_timestep(3)
    x, y = panel.cursor_point()
    assert x == pytest.approx(100 - 0.01 * 7) and y == pytest.approx(probe.view(SeriesWindow).window[3])
    assert "predicted 0.4900" in panel.status.text() and "true 0.5000" in panel.status.text()
    panel.show_all.setChecked(False)  # zoom on the window
    xr = panel.plot.getViewBox().viewRange()[0]
    assert xr[0] < 99.9 and xr[1] < 101


# == text ===============================================================================================
def _char_lm_spec(**values):
    """char-lm's RunSpec (validated values; nothing is built: no corpus is read)."""
    return RunSpec.create("char-lm", values=values)


def _samples(*pairs, argmax="", prime=""):
    return TextSamples(samples=tuple(pairs), argmax=argmax, prime=prime)


def test_text_samples_follow_views(qtbot):
    from visualizer.panels.text import TextPanel

    hub = Hub(_char_lm_spec(temperatures=(0.5, 1.0), prime="Th", sample_length=50))
    panel = make(qtbot, TextPanel, hub)
    assert panel.temps_edit.text() == "0.5, 1" and panel.prime_edit.text() == "Th"
    assert panel.length_spin.value() == 50
    assert list(panel.boxes) == [0.5, 1.0]  # one box per configured temperature before any sample
    hub.push(None, (_samples((0.2, "aaa"), (0.6, "bbb"), (1.2, "ccc"), argmax="zzz", prime="Th"),))
    assert panel.sample_texts() == {0.2: "aaa", 0.6: "bbb", 1.2: "ccc"}
    assert list(panel.boxes) == [0.2, 0.6, 1.2]  # in the declared order
    assert panel.argmax_box.text == "zzz"
    hub.push(None, (_samples((0.7, "new"), argmax="y", prime=""),))
    assert panel.sample_texts() == {0.7: "new"}
    assert "new" in panel.boxes[0.7].edit.toPlainText()
    # a new run: the controls show its config, the old samples go
    hub.experiment_changed.emit(_char_lm_spec(temperatures=(0.3,), prime="A", sample_length=20))
    assert panel.temps_edit.text() == "0.3" and panel.prime_edit.text() == "A" and panel.length_spin.value() == 20
    assert panel.argmax_box.text == "" and hub.sent == []  # showing a config sends nothing back


def test_text_whitespace_heavy_argmax_is_visible(qtbot, hub):
    """A greedy sample stuck on spaces/newlines must not look empty: spaces show as ·, newlines as ⏎;
    ordinary samples keep their spaces (not collapsed)."""
    from visualizer.panels.text import TextPanel, whitespace_heavy

    assert whitespace_heavy("a    \n\n   ") and not whitespace_heavy("the cat sat")
    panel = make(qtbot, TextPanel, hub)
    hub.push(None, (_samples((0.5, "an  apple"), argmax="   \n\n    \n", prime="The"),))
    shown = panel.argmax_box.html()
    assert panel.argmax_box.whitespace_heavy
    assert shown.startswith("The") and shown.count("·") == 7 and shown.count("⏎") == 3
    assert "an  apple" in panel.boxes[0.5].html()  # two spaces kept


def test_a_sample_that_overflows_its_box_keeps_the_text_width(qtbot, hub):
    """A new sample longer than its box does not narrow the text (a scroll bar appearing made every line
    wrap again and the panel lay out again, at about every new sample)."""
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    hub.push(None, (_samples((0.5, "short"), argmax="a"),))
    qtbot.wait(20)
    box = panel.boxes[0.5]
    width = box.edit.viewport().width()
    hub.push(None, (_samples((0.5, "a long sample line that wraps\n" * 40), argmax="a"),))
    qtbot.wait(20)
    assert box.edit.verticalScrollBar().maximum() > 0  # (it does overflow: there is something to scroll)
    assert box.edit.viewport().width() == width


def _slider_index(lo, hi, value, steps=1000):
    """Where ``value`` sits on a log slider over [lo, hi] with ``steps`` steps."""
    return round(steps * math.log(value / lo) / math.log(hi / lo))


def test_text_controls_call_set_live_then_refresh(qtbot, hub):
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    panel.temps_edit.setText("0.3, 0.9")
    panel.temps_edit.editingFinished.emit()
    panel.prime_edit.setText("Once")
    panel.prime_edit.editingFinished.emit()
    panel.length_spin.setValue(80)
    # the one-temperature slider is logarithmic over the Param's range (0.01..5); not dragged: applies at once
    panel.temp_slider.setValue(_slider_index(0.01, 5.0, 1.5))
    t = float(panel.temp_value.text())
    assert t == pytest.approx(1.5, rel=0.01)
    assert hub.sent == [SetLive("temperatures", (0.3, 0.9)), Refresh(), SetLive("prime", "Once"), Refresh(),
                        SetLive("sample_length", 80), Refresh(), SetLive("temperatures", (t,)), Refresh()]
    assert panel.temps_edit.text() == panel.temp_value.text()  # the list now holds the slider's temperature
    qtbot.mouseClick(panel.regen_button, QtCore.Qt.MouseButton.LeftButton)
    assert hub.sent[-1] == Refresh() and len(hub.commands(Refresh)) == 5


def test_text_slider_applies_on_release_while_dragging(qtbot, hub):
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    panel.temp_slider.setSliderDown(True)  # the user drags
    for i in (300, 500, _slider_index(0.01, 5.0, 2.0)):
        panel.temp_slider.setValue(i)
    assert hub.sent == []  # nothing while dragging: the value is shown only
    t = float(panel.temp_value.text())
    assert t == pytest.approx(2.0, rel=0.01)
    panel.temp_slider.setSliderDown(False)  # released
    assert hub.sent == [SetLive("temperatures", (t,)), Refresh()]


def test_text_rejects_bad_temperatures(qtbot, hub):
    """Temperatures are parsed by the Param (commas, semicolons or spaces); a bad entry shows the Param's
    message (naming the field) under the controls and on the field, and sends nothing."""
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    panel.temps_edit.setText("0.2 0.6;1.2")  # spaces and semicolons are fine
    panel.temps_edit.editingFinished.emit()
    assert hub.sent == [SetLive("temperatures", (0.2, 0.6, 1.2)), Refresh()]
    for bad, what in (("0.2, -1", "-1"), ("0.2, hot", "'hot'"), ("", "at least one number")):
        del hub.sent[:]
        panel.temps_edit.setText(bad)
        panel.temps_edit.editingFinished.emit()
        assert hub.sent == [], bad
        text = panel.error_label.text()
        assert text.startswith("temperatures: ") and what in text, (bad, text)
        assert panel.error_label.isVisible() and panel.temps_field.property("invalid")
        assert text in panel.temps_field.toolTip()
    panel.temps_edit.setText("0.4")  # a good value clears the error
    panel.temps_edit.editingFinished.emit()
    assert hub.sent == [SetLive("temperatures", (0.4,)), Refresh()]
    assert not panel.error_label.isVisible() and not panel.temps_field.property("invalid")


def test_text_temperatures_use_the_experiments_param(qtbot):
    """char-lm declares temperatures in 0.01..5: the panel's field rejects values outside with the Param's
    own message (the settings form's), and follows a value the hub reports as applied."""
    from visualizer.panels.text import TextPanel

    spec = _char_lm_spec()
    param = spec.cls.param("temperatures")
    assert (param.type, param.low, param.high, param.live) == ("floats", 0.01, 5.0, True)
    hub = Hub(spec)
    panel = make(qtbot, TextPanel, hub)
    assert panel.temps_field.param == param
    for bad in ("0.5, 9", "0.001", "5.5"):
        with pytest.raises(ConfigError) as err:
            param.validate(bad)
        assert "[0.01, 5]" in str(err.value)
        panel.temps_edit.setText(bad)
        panel.temps_edit.editingFinished.emit()
        assert panel.error_label.text() == str(err.value), bad
        assert hub.sent == []
    panel.temps_edit.setText("0.01, 5")  # the ends of the range are accepted
    panel.temps_edit.editingFinished.emit()
    assert hub.sent == [SetLive("temperatures", (0.01, 5.0)), Refresh()] and not panel.error_label.isVisible()
    # the one-temperature slider spans the same range
    assert (panel.temp_field.param.low, panel.temp_field.param.high) == (0.01, 5.0)
    panel.temp_slider.setValue(panel.temp_slider.maximum())
    assert hub.sent[-2] == SetLive("temperatures", (5.0,))
    # a live change applied elsewhere (the settings form, a loaded checkpoint) shows, and sends nothing back
    del hub.sent[:]
    hub.live_param_changed.emit("temperatures", (0.3, 2.5), 120)
    assert panel.temps_edit.text() == "0.3, 2.5" and hub.sent == []
    hub.live_param_changed.emit("prime", "Wh", 121)
    hub.live_param_changed.emit("sample_length", 300, 122)
    hub.live_param_changed.emit("learning_rate", 0.1, 123)  # not a text control: ignored
    assert panel.prime_edit.text() == "Wh" and panel.length_spin.value() == 300 and hub.sent == []
    panel.temps_edit.editingFinished.emit()  # focus leaves the field unchanged: nothing is re-sent
    assert hub.sent == []


def test_text_refreshes_every_n_steps_while_visible(qtbot, hub):
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    panel.every_spin.setValue(100)
    for step in (40, 90, 120, 150, 230):
        hub.push(None, step=step)
    assert hub.sent == [Refresh(), Refresh()]  # at 120 and 230
    panel.every_spin.setValue(0)  # never
    hub.push(None, step=1000)
    assert len(hub.commands(Refresh)) == 2


def test_text_probe_line_highlights_selected_character(qtbot, hub):
    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    hub.push(char_probe("hello world"))
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
                  frozen_array([False, True, False, False]), views=(ProbeText(words, 2.0),))
    panel = make(qtbot, TextPanel, hub)
    hub.push(probe, (_samples((1.0, "on the mat"), argmax="the the", prime="cat"),))
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
                 views=(DigitRead(frozen_array(img), 3, int(preds[-1]), seed),))


def test_digits_image_rows_and_probabilities(qtbot, hub):
    from visualizer.panels.digits import DigitsPanel

    panel = make(qtbot, DigitsPanel, hub)
    p = _digit_probe(1)
    hub.push(p)
    np.testing.assert_allclose(panel.image.image, np.asarray(p.view(DigitRead).image), rtol=1e-6)
    np.testing.assert_allclose(panel.bar_heights(), np.asarray(p.outputs)[0])
    assert panel.marked_row() == 0
    hub.set_timestep(5)
    np.testing.assert_allclose(panel.bar_heights(), np.asarray(p.outputs)[5])
    assert panel.marked_row() == 5
    assert f"true 3 · predicted {p.view(DigitRead).prediction}" in panel.verdict.text()
    p2 = _digit_probe(2)
    hub.push(p2)
    np.testing.assert_allclose(panel.image.image, np.asarray(p2.view(DigitRead).image), rtol=1e-6)
    np.testing.assert_allclose(panel.bar_heights(), np.asarray(p2.outputs)[5])
    qtbot.mouseClick(panel.random_button, QtCore.Qt.MouseButton.LeftButton)
    assert hub.sent == [SetProbe.of(random=True), Refresh()]


def test_digits_image_is_large_with_square_pixels(qtbot, hub):
    from visualizer.panels.digits import DigitsPanel

    panel = make(qtbot, DigitsPanel, hub)
    hub.push(_digit_probe(1))
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
                views=(DigitRead(p.view(DigitRead).image, 3, 3, 0),))
    hub.push(mlp)
    assert panel.marked_row() is None and not panel.heat_plot.isVisible()
    assert "true 3 · predicted 3" in panel.verdict.text()
    np.testing.assert_allclose(panel.bar_heights(), np.asarray(p.outputs)[-1])


# == worked example ===============================================================================================
def test_worked_example_shows_the_seed_numbers(qtbot, hub, worked_exp):
    from visualizer.panels.worked import WorkedPanel

    panel = make(qtbot, WorkedPanel, hub)
    hub.push(worked_exp.probe())
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
    the banner says the weights moved and the seed columns keep the seed's values. The seed's numbers are
    the experiment's reference pass (WorkedNumbers.reference, core's seed_forward), not the panel's."""
    from core.experiments import registry
    from core.experiments.worked_example import seed_forward
    from visualizer.panels.worked import WorkedPanel

    pre, h, y = seed_forward([1.0, 2.0])
    np.testing.assert_allclose(np.ravel(y), [1.56128388, 2.72707101], atol=1e-8)
    exp = registry.get("worked-example")(None, 0)
    panel = make(qtbot, WorkedPanel, hub)
    probe = exp.probe()
    numbers = probe.view(WorkedNumbers)
    for got, want in zip(numbers.reference, seed_forward(numbers.x)):
        np.testing.assert_allclose(np.asarray(got).reshape(np.shape(want)), want, atol=1e-12)
    hub.push(probe)
    assert panel.seed_match is True and "seed" in panel.seed_label.text()
    assert panel.table.horizontalHeaderItem(3).text() == "seed t = 1"
    assert panel.table.item(5, 3).text() == "2.72707101"  # row y, seed t = 1
    for _ in range(3):
        exp.train_step()
    hub.push(exp.probe())
    assert panel.seed_match is False and "3 training steps" in panel.seed_label.text()
    assert panel.table.item(5, 3).text() == "2.72707101"
    assert panel.cell_text(1, "y") != "2.72707101"


def test_worked_example_without_a_reference_shows_no_seed_columns(qtbot, hub):
    """Shapes other than the seed's (no reference pass from core): the model's own columns only, no banner."""
    from core.experiments import registry
    from visualizer.panels.worked import WorkedPanel

    probe = registry.get("worked-example")(None, 0).probe()
    numbers = dataclasses.replace(probe.view(WorkedNumbers), reference=None)
    panel = make(qtbot, WorkedPanel, hub)
    hub.push(dataclasses.replace(probe, views=(numbers,)))
    assert panel.table.columnCount() == 2 and panel.seed_match is None and panel.seed_label.text() == ""
    assert panel.cell_text(1, "y") == "2.72707101"  # the model's own numbers are still shown


def test_worked_example_snapshot_changes_numbers(qtbot, hub):
    from core.experiments import registry
    from visualizer.panels.worked import WorkedPanel

    exp = registry.get("worked-example")(None, 0)
    panel = make(qtbot, WorkedPanel, hub)
    hub.push(exp.probe())
    before = panel.cell_text(1, "y")
    for _ in range(3):
        exp.train_step()
    hub.push(exp.probe())
    assert panel.cell_text(1, "y") != before
    assert "step 3" in panel.loss_label.text()


# == which panels an experiment gets ===================================================================
EXPECTED_PANELS = {
    # binary-addition: the order of its view_types (LayerStates and MarkedUnit before BitSum), the same as its
    # pre-refactor ``panels = ("loss", "hidden", "binary", "inspector")``
    "binary-addition": ["loss", "hidden", "binary", "inspector"],
    "sine": ["loss", "sine", "hidden", "inspector"],
    "char-lm": ["loss", "text", "hidden", "inspector"],
    "word-lm": ["loss", "text", "hidden", "inspector"],
    "digits-rnn": ["loss", "digits", "hidden", "inspector"],
    "mlp-digits": ["loss", "digits", "inspector"],
    "iris": ["loss", "inspector"],
    "worked-example": ["worked", "hidden", "inspector"],
}


@pytest.mark.parametrize("experiment_id", sorted(EXPECTED_PANELS))
def test_panels_for_maps_view_types_to_panels(experiment_id):
    from core.experiments import registry
    from visualizer.panels import panel_for, panels_for

    cls = registry.get(experiment_id)
    panels = panels_for(cls.view_types)
    assert [c.key for c in panels] == EXPECTED_PANELS[experiment_id]
    for vt in cls.view_types:  # every view type the experiment shows has a panel, and it is one of these
        assert panel_for(vt) in panels, vt.__name__


def test_every_view_type_has_exactly_one_panel():
    from core import views
    from visualizer.panels import panel_classes

    classes = panel_classes()
    assert len({c.key for c in classes}) == len(classes)  # dock names are unique
    kinds = [v for v in vars(views).values() if isinstance(v, type) and issubclass(v, View) and v is not View]
    for kind in kinds:
        owners = [c.key for c in classes if kind in c.draws]
        assert len(owners) == 1, (kind.__name__, owners)


# every view type, one instance each (what a Snapshot may carry)
def _one_of_each_view():
    probe, forecast = _sine_data()
    img = frozen_array(np.zeros((8, 8)))
    bits = frozen_array(np.zeros(8))
    return (MarkedUnit(0, 1, 0.9, "tracks the carry"), forecast, probe.view(SeriesWindow),
            _samples((0.5, "abc"), argmax="zzz", prime="T"), ProbeText("hello", 1.0), DigitRead(img, 3, 3, 0),
            BitSum(1, 2, 3, 3, bits, bits, bits, bits, bits),
            WorkedNumbers(*(frozen_array(np.zeros((2, 1))),) * 4, None, 0.0, ()))


@pytest.mark.parametrize("key", ["hidden", "inspector", "binary", "sine", "text", "digits", "worked"])
@pytest.mark.parametrize("shown", [True, False], ids=["shown", "hidden-then-shown"])
def test_a_panel_receives_only_the_view_types_it_draws(qtbot, key, shown):
    """Snapshot.views carries every kind of view; ``_on_view`` sees only those in the panel's ``draws``
    (also when they were kept while the panel was hidden), and the others change nothing."""
    from visualizer.panels import panel_classes

    cls = next(c for c in panel_classes() if c.key == key)
    hub = Hub()
    panel = make(qtbot, cls, hub, show=shown)
    seen = []
    panel._on_view = seen.append  # the base class dispatches through the instance
    views = _one_of_each_view()
    hub.push(None, views)
    if not shown:
        assert seen == []  # a hidden panel does no work ...
        panel.show()
        qtbot.waitExposed(panel)  # ... and gets what it draws when shown
    assert [type(v) for v in seen] == [type(v) for v in views if type(v) in cls.draws]
    assert panel.redraws == 0  # _on_view replaced: nothing else drew (no probe was sent)


def test_views_of_other_types_change_nothing(qtbot, hub):
    """A text panel sent a forecast and a bit sum keeps its samples; a sine panel sent samples keeps its curves."""
    from visualizer.panels.sine import SinePanel
    from visualizer.panels.text import TextPanel

    text, sine = make(qtbot, TextPanel, hub), make(qtbot, SinePanel, hub)
    probe, forecast = _sine_data()
    hub.push(probe, (forecast, _samples((0.5, "abc"), argmax="zzz", prime="T")))
    assert (text.redraws, sine.redraws) == (2, 2)  # each: the probe, and its own view (samples / forecast)
    others = tuple(v for v in _one_of_each_view() if type(v) not in (TextSamples, ProbeText, SeriesForecast,
                                                                       SeriesWindow))
    hub.push(None, others)
    assert (text.redraws, sine.redraws) == (2, 2)
    assert text.sample_texts() == {0.5: "abc"} and len(sine.true_curve.getData()[0]) == len(forecast.x)


# == nothing is cut off in a narrow dock ===============================================================
def _content_panels(qtbot, cls, hub):
    """key -> panel for the experiment class's panels (not the loss plot, which needs a metric history)."""
    from visualizer.panels import panels_for

    return {c.key: make(qtbot, c, hub) for c in panels_for(cls.view_types) if c.key != "loss"}


@pytest.mark.parametrize("experiment_id", ["binary-addition", "sine", "char-lm", "digits-rnn", "mlp-digits",
                                           "iris", "worked-example"])
def test_panels_fit_a_480_px_dock(qtbot, experiment_id):
    """With real probes and views, every content panel (and each of its plot grids, whose titles and axes set
    a minimum width) fits 480 px: the width of a side dock in a 1280 x 800 window."""
    import pyqtgraph as pg
    from core.experiments import registry

    cls = registry.get(experiment_id)
    exp = cls(None, 0)
    hub = Hub()
    panels = _content_panels(qtbot, cls, hub)
    for panel in panels.values():
        panel.resize(480, 420)
    hub.push(exp.probe(), exp.views())
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
    """The panels read the views the experiments really produce (no training: init, probe, views)."""
    from core.experiments import registry
    from visualizer.panels import panels_for

    cls = registry.get(experiment_id)
    exp = cls(None, 0)
    probe, views = exp.probe(), tuple(exp.views())
    # what each experiment emits: its probe's views and its own, all of types it declares
    for v in probe.views + views:
        assert type(v) in cls.view_types, (experiment_id, type(v).__name__)
    drawn = {vt for c in panels_for(cls.view_types) for vt in c.draws}
    assert set(cls.view_types) <= drawn
    hub = Hub()
    panels = _content_panels(qtbot, cls, hub)
    hub.push(probe, views)
    for t in range(probe.num_steps):
        hub.set_timestep(t)
    for name, panel in panels.items():
        assert panel.redraws >= 1, name
    by_type = {type(v): v for v in views}
    if "sine" in panels:
        x, _ = panels["sine"].true_curve.getData()
        assert len(x) == len(by_type[SeriesForecast].x) and panels["sine"].cursor_point() is not None
        assert probe.view(SeriesWindow) is not None and probe.output_range is not None
    if "text" in panels:
        assert set(panels["text"].sample_texts()) == {t for t, _ in by_type[TextSamples].samples}
        assert probe.view(ProbeText) is not None and panels["text"].probe_label.text()
    if "digits" in panels:
        np.testing.assert_allclose(panels["digits"].bar_heights(), np.asarray(probe.outputs)[-1], rtol=1e-6)
        assert f"true {probe.view(DigitRead).label}" in panels["digits"].verdict.text()
    if "binary" in panels:
        assert panels["binary"].values["a"].text() == f"= {probe.view(BitSum).a}"
    if "worked" in panels:
        assert panels["worked"].seed_match is True
    if "hidden" in panels:
        assert panels["hidden"].displayed().shape == np.asarray(probe.layers[0].states["h"]).T.shape
    if experiment_id == "iris":
        assert probe.views == () and views == ()  # iris has nothing but the loss and the inspector


def test_binary_board_fits_a_narrow_dock(qtbot, hub, binary_exp):
    """8 bits, the decimal values and the row titles fit the panel's minimum width (a 1280 px window)."""
    from visualizer.panels.binary import BinaryPanel, _prob

    assert [_prob(p) for p in (0.981, 0.004, 0.9999, 0.5)] == [".98", "0.0", "1.0", ".50"]
    panel = make(qtbot, BinaryPanel, hub)
    hub.push(binary_exp.probe(), binary_exp.views())
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
    hub.push(Probe(p.experiment, 1, p.input_labels, p.inputs, p.layers, frozen_array(flat), p.output_labels,
                   p.target_labels, p.prediction_labels, p.correct))
    x0, x1 = panel.out_plot.getViewBox().viewRange()[0]
    assert 0.0076 < x1 < 0.06
    hub.push(p)  # Dirichlet rows: some probability is large
    assert panel.out_plot.getViewBox().viewRange()[0][1] > 0.5


def test_binary_bit_columns_are_equally_wide(qtbot, hub, binary_exp):
    from visualizer.panels.binary import BinaryPanel

    panel = make(qtbot, BinaryPanel, hub)
    hub.push(binary_exp.probe(), binary_exp.views())
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
    hub.push(probe)
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
    hub.push(probe)
    colours = panel.label_colours("predicted")
    assert all(c != WRONG for c in colours[:-1])


def test_crowded_labels_never_cover_each_other(qtbot, hub):
    """Every k-th label, each starting at its column, the last one ending at the right edge: when that last
    one would then cover the one before it (seen at 720p: "-0.54-0.51"), it is hidden instead."""
    import dataclasses

    from visualizer.panels.hidden import HiddenStatePanel

    panel = make(qtbot, HiddenStatePanel, hub)
    for width in range(260, 720, 10):
        panel.resize(width, 500)
        qtbot.wait(20)
        probe = dataclasses.replace(lstm_probe(T=10, H=8), input_labels=tuple(f"-0.{50 + t}" for t in range(10)))
        hub.push(probe)
        panel._update_strides()
        layer = panel.label_layer
        col_px = max(panel.labels.getViewBox().width(), 1.0) / 10
        for row in panel._texts:
            spans = []
            for item in row:
                if not item.visible:
                    continue
                w = layer._metrics[int(item.bold)].horizontalAdvance(item.text) / col_px  # in columns
                left = item.pos[0] - item.anchor[0] * w
                spans.append((left, left + w))
            spans.sort()
            assert spans and all(a[1] <= b[0] + 1e-6 for a, b in zip(spans, spans[1:])), (width, spans)


def test_inspector_in_a_short_dock_keeps_its_lines_whole(qtbot, hub):
    """A short inspector (a 1280x720 window): the output plot takes what room there is (fewer bars), its
    axis label goes (it would be cut), and stays gone when a probe sets it again; tall again: it is back."""
    from visualizer.panels.inspector import InspectorPanel

    panel = make(qtbot, InspectorPanel, hub)
    hub.push(char_probe())
    axis = panel.out_plot.getAxis("bottom")
    panel.resize(360, 190)
    qtbot.waitUntil(lambda: not axis.label.isVisible(), timeout=2000)
    assert panel.height() == 190 and panel.minimumHeight() <= 190
    assert panel.out_plot.minimumHeight() == 90 and not panel.state_plot.isVisible()
    hub.push(char_probe())  # (pyqtgraph's setLabel shows a label again)
    hub.set_timestep(1)
    assert not axis.label.isVisible()
    panel.resize(700, 500)
    qtbot.waitUntil(lambda: axis.label.isVisible(), timeout=2000)
    assert panel.out_plot.minimumHeight() == 120


def test_text_controls_share_one_row_only_where_the_temperatures_and_prime_stay_readable(qtbot, hub):
    """At 850 px (the panel in a 1920x1080 window) one row squeezed the temperatures to "2, 0.6, 1.2" and
    the length to "length 20": the controls take two rows there, one from 960 px, and the length box
    always has room for "length 2000"."""
    from PySide6 import QtWidgets

    from visualizer.panels.text import TextPanel

    panel = make(qtbot, TextPanel, hub)
    spin = panel.length_spin
    need = spin.fontMetrics().horizontalAdvance("length 2000")
    for width, one_row in ((850, False), (1000, True)):
        panel.resize(width, 500)
        qtbot.waitUntil(lambda: panel.width() == width)
        direction = QtWidgets.QBoxLayout.Direction.LeftToRight if one_row else QtWidgets.QBoxLayout.Direction.TopToBottom
        assert panel.controls.direction() == direction
        qtbot.wait(20)
        assert spin.width() > need
        assert panel.temps_field.width() >= panel.temps_field.fontMetrics().horizontalAdvance("0.2, 0.6, 1.2")
