"""Spectrum of the recurrence and gate saturation on hand-checkable cases."""
from __future__ import annotations

import numpy as np
import pytest

from core.analysis.cells import RecurrentWeights, recurrent_weights
from core.analysis.gradient_flow import gradient_flow
from core.analysis.saturation import gate_saturation
from core.analysis.spectrum import model_spectra, recurrent_spectrum
from core.nn.recurrent import make_recurrent


def test_rnn_spectrum_of_a_rotation_times_scale():
    th = 0.3
    R = 0.8 * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    sp = recurrent_spectrum(RecurrentWeights("rnn", "tanh", R))
    b = sp.block("hh")
    assert b.sigma_max == pytest.approx(0.8) and b.spectral_radius == pytest.approx(0.8)
    np.testing.assert_allclose(sorted(b.eigenvalues, key=np.imag), [0.8 * np.exp(-1j * th), 0.8 * np.exp(1j * th)])
    assert sp.gamma == 1.0 and sp.vanishing_bound == 1.0 and sp.vanishing_guaranteed is True


def test_non_normal_matrix_sigma_exceeds_radius_and_sigmoid_bound_is_four():
    W = np.array([[0.5, 3.0], [0.0, 0.5]])  # eigenvalues 0.5, sigma_max ~ 3.08
    sp = recurrent_spectrum(RecurrentWeights("rnn", "sigmoid", W))
    b = sp.block("hh")
    assert b.spectral_radius == pytest.approx(0.5)
    assert b.sigma_max == pytest.approx(np.linalg.norm(W, 2))
    assert sp.vanishing_bound == 4.0 and sp.vanishing_guaranteed is True  # 3.08 < 4
    assert recurrent_spectrum(RecurrentWeights("rnn", "tanh", W)).vanishing_guaranteed is False


def test_pascanu_bound_holds_for_every_step_of_a_trace():
    """sigma_max < 1: every step's Jacobian shrinks, so ||dh_T/dh_t||_2 <= sigma_max^k."""
    layer = make_recurrent("rnn", 2, 6, rng=np.random.default_rng(0), dtype=np.float64)
    W = layer.params["Whh"] if "Whh" in layer.params else layer.params["Wh"]
    W[...] *= 0.9 / np.linalg.norm(W, 2)
    x = np.random.default_rng(1).standard_normal((30, 1, 2))
    _, _, cache = layer.forward(x)
    st = {k: v[:, 0] for k, v in layer.trace(cache)[0].items()}
    w = recurrent_weights(layer)
    sp = recurrent_spectrum(w)
    gf = gradient_flow(w, st, norm="spectral")
    assert np.all(gf.norm <= sp.block("hh").sigma_max ** gf.lags * (1 + 1e-12))


def test_gated_spectra_have_a_block_per_gate_and_no_bound():
    model = make_recurrent("lstm", 3, 4, num_layers=2, rng=np.random.default_rng(2), dtype=np.float64)
    sps = model_spectra(model)
    assert len(sps) == 2
    sp = sps[0]
    assert [b.name for b in sp.blocks] == ["i", "f", "g", "o", "all"]
    assert sp.vanishing_bound is None and sp.vanishing_guaranteed is None
    Wh = recurrent_weights(model.layers[0]).Wh
    assert sp.block("f").sigma_max == pytest.approx(np.linalg.norm(Wh[:, 4:8], 2))
    assert sp.block("all").sigma_max == pytest.approx(np.linalg.norm(Wh, 2))
    assert np.isnan(sp.block("all").spectral_radius) and sp.block("all").eigenvalues is None
    gru = model_spectra(make_recurrent("gru", 3, 4, rng=np.random.default_rng(3), dtype=np.float64))[0]
    assert [b.name for b in gru.blocks] == ["r", "z", "n", "all"]
    assert gru.block("n").eigenvalues.shape == (4,)


def test_gate_saturation_counts_by_hand():
    f = np.array([[0.05, 0.5], [0.95, 0.5], [0.05, 0.99], [0.5, 0.99]])  # (T=4, H=2)
    i = np.full((4, 2), 0.5)
    sat = gate_saturation({"h": np.zeros((4, 2)), "f": f, "i": i, "g": np.zeros((4, 2))})
    assert sat.gates == ("i", "f") and sat.samples == 4
    np.testing.assert_allclose(sat.left["f"], [0.5, 0.0])
    np.testing.assert_allclose(sat.right["f"], [0.25, 0.5])
    np.testing.assert_allclose(sat.left["i"], [0, 0])
    # batch axis counts as samples; explicit gates and thresholds
    sat2 = gate_saturation({"z": np.stack([f, f], axis=1)}, gates=["z"], low=0.2, high=0.6)
    assert sat2.samples == 8
    np.testing.assert_allclose(sat2.right["z"], [0.25, 0.5])
    with pytest.raises(ValueError):
        gate_saturation({"h": f})


def test_gate_saturation_reads_a_layer_trace():
    from core.probe import LayerTrace
    tr = LayerTrace("layer 1 (gru)", "gru", "tanh", {"h": np.zeros((3, 1)), "r": np.array([[0.0], [1.0], [0.5]]),
                                                      "z": np.array([[1.0], [1.0], [1.0]]), "n": np.zeros((3, 1))})
    sat = gate_saturation(tr)
    assert sat.gates == ("r", "z")
    assert sat.left["r"][0] == pytest.approx(1 / 3) and sat.right["z"][0] == 1.0
