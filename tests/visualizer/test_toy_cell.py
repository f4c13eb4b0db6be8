"""A new cell is one file: a toy cell registered from this test alone appears in the settings form's
choices and in the heatmap's state list, with its own titles and colour ranges."""
from __future__ import annotations

import numpy as np
import pytest

from core import config
from core.nn.cells import CellSpec, StateSpec, register_cell, unregister_cell
from core.nn.rnn import RNN
from core.probe import LayerTrace, Probe, Snapshot, frozen_array
from fakes import fake_spec


class ToyLayer(RNN):
    """Stands in for a new cell's layer class (the GUI never builds it)."""

    cell = "toy"


TOY = CellSpec("toy", "toy cell", ToyLayer,
               (StateSpec("h", "hidden state h", -1.0, 1.0), StateSpec("m", "memory gate m", 0.0, 1.0),
                StateSpec("s", "scratch s")))


@pytest.fixture
def toy():
    register_cell(TOY)
    yield TOY
    unregister_cell("toy")


def test_the_form_offers_a_registered_cell(qtbot, app_setup, toy):
    from visualizer.widgets.param_form import ParamForm

    param = config.cell("rnn")
    form = ParamForm((param,), {"cell": "rnn"})
    qtbot.addWidget(form)
    combo = form.fields["cell"].combo
    assert [combo.itemText(i) for i in range(combo.count())][-1] == "toy"
    assert param.validate("toy") == "toy"
    unregister_cell("toy")
    with pytest.raises(config.ConfigError, match="not one of rnn, lstm, gru"):
        param.validate("toy")  # the same Param follows the registry
    register_cell(TOY)


def test_the_heatmap_lists_the_toy_cells_states(qtbot, app_setup, toy):
    from visualizer.panels.hidden import HiddenStatePanel
    from visualizer.session import TrainingSession

    hub = TrainingSession(fake_spec(), start=False)
    panel = HiddenStatePanel(hub)
    qtbot.addWidget(panel)
    panel.resize(600, 400)
    panel.show()
    qtbot.waitExposed(panel)
    T, H = 5, 3
    g = np.random.default_rng(0)
    states = {"h": frozen_array(np.tanh(g.normal(size=(T, H)))), "m": frozen_array(g.random((T, H))),
              "s": frozen_array(3 * g.normal(size=(T, H)))}
    probe = Probe("fake", 1, tuple("abcde"), frozen_array(np.zeros((T, 1))),
                  (LayerTrace("layer 1 (toy)", "toy", "tanh", states),), frozen_array(np.zeros((T, 1))))
    hub._on_worker_snapshot(Snapshot(1, 1, {}, probe))
    combo = panel.state_combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["hidden state h", "memory gate m", "scratch s"]
    panel.select(0, "m")
    assert panel.levels == (0.0, 1.0)  # the declared range
    panel.select(0, "s")
    lo, hi = panel.levels
    assert hi == pytest.approx(float(np.abs(states["s"]).max()), rel=1e-6) and lo == -hi  # symmetric, from the data
