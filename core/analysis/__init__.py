"""Why the network works: analyses of a recurrent layer, pure NumPy (float64), no Qt.

Each analysis is a function of parameters (NumPy arrays) and of a probe trace (arrays) that
returns a small frozen dataclass a panel can draw. Shapes are time-major: a trace state is
(T, H) for the probe's single example. Weights come through one adapter, so the parameter
spelling of ``core.nn`` (``Wxh``/``Wx``, ``Whh``/``Wh``, ``bh``/``b``) does not matter:

    cells.recurrent_weights(layer)        -> RecurrentWeights (cell, activation, Wh, Wx, b, bhn)
    cells.model_weights(model)            -> [RecurrentWeights] per layer, bottom first; the same
                                             order as ``Probe.layers`` / ``model.trace(cache)``

What each function answers (costs measured on 2 cores are in each docstring):

units (Karpathy et al. 2015; the unit finder)
    features_binary_addition(a_bits, b_bits), features_sine(values, t=None, period=None),
    features_text(text), features_words(tokens), features_digits(rows), features_for_probe(probe)
        -> {name: (T,)}: interpretable quantities per timestep (carry, phase, inside quotes, ...).
    find_units(states, features, per_feature=5) -> UnitTable
        Which unit of which state (h, c, gates) of which layer tracks which feature (Pearson r)?
    probe_text_activation(probe, layer, state, unit) / text_activation(...) -> TextActivation
        Red/blue text: one unit's value per character, and the model's surprise -log p(next).

gradient_flow
    gradient_flow(W, states, t_end=None, max_lag=None, norm="fro") -> GradientFlow
        How much does h_t still influence h_T?  ||dh_T/dh_t|| against the lag (exact Jacobians).
    itemized_bptt(W, states, dy, max_lag=None) -> ItemizedBPTT
        How much of dL/dWhh comes from errors k steps later?  (sums to the layer's own gradient)

spectrum (Pascanu et al. 2013)
    recurrent_spectrum(W) / model_spectra(model) -> RecurrentSpectrum
        Singular values, eigenvalues (with the unit circle), spectral radius per gate block;
        for the RNN, does sigma_max < 1/gamma (tanh 1, sigmoid 4) force gradients to vanish?

saturation (Karpathy, Johnson & Fei-Fei 2015, Fig. 3)
    gate_saturation(states, low=0.1, high=0.9) -> GateSaturation
        Per gate unit: how often is it shut (< 0.1) or open (> 0.9)?

memory (Madsen, Distill 2019)
    connectivity(model, x, readout=None, t_out=None, output_index=None, unit=None) -> Connectivity
        How strongly does the output at t_out depend on the input at t_in?
    connectivity_from_grad(grad_fn, t_out) -> Connectivity   (any model, given its gradients)

fixed_points (Sussillo & Barak 2013)
    starts_from_trace(states, n=8) -> (n, state size) initial states the network visits
    find_fixed_points(W, starts, x=None, max_iter=200) -> FixedPoints
        Where does the state stop moving under a constant input, and is it an attractor,
        a saddle or a repeller (eigenvalues of dF/ds)?
"""
from core.analysis.cells import RecurrentWeights, model_weights, recurrent_weights
from core.analysis.fixed_points import FixedPoint, FixedPoints, find_fixed_points, starts_from_trace, step_map
from core.analysis.gradient_flow import GradientFlow, ItemizedBPTT, gradient_flow, itemized_bptt
from core.analysis.memory import Connectivity, connectivity, connectivity_from_grad
from core.analysis.saturation import GateSaturation, gate_saturation
from core.analysis.spectrum import RecurrentSpectrum, SpectrumBlock, model_spectra, recurrent_spectrum
from core.analysis.units import (TextActivation, UnitMatch, UnitTable, features_binary_addition, features_digits,
                                 features_for_probe, features_sine, features_text, features_words, find_units,
                                 pearson, probe_text_activation, surprise, text_activation)

__all__ = [
    "RecurrentWeights", "model_weights", "recurrent_weights",
    "FixedPoint", "FixedPoints", "find_fixed_points", "starts_from_trace", "step_map",
    "GradientFlow", "ItemizedBPTT", "gradient_flow", "itemized_bptt",
    "Connectivity", "connectivity", "connectivity_from_grad",
    "GateSaturation", "gate_saturation",
    "RecurrentSpectrum", "SpectrumBlock", "model_spectra", "recurrent_spectrum",
    "TextActivation", "UnitMatch", "UnitTable", "features_binary_addition", "features_digits",
    "features_for_probe", "features_sine", "features_text", "features_words", "find_units", "pearson",
    "probe_text_activation", "surprise", "text_activation",
]
