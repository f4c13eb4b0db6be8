"""Spectrum of the recurrence: singular values and eigenvalues of the recurrent weights.

Pascanu, Mikolov & Bengio (2013), "On the difficulty of training recurrent neural networks":
for h_t = act(W h_{t-1} + ...) with |act'| <= gamma, ||dh_t/dh_{t-1}|| <= sigma_max(W) gamma,
so sigma_max(W) < 1/gamma is *sufficient* for the gradients to vanish exponentially with the
lag. tanh: gamma = 1, bound 1; sigmoid: gamma = 1/4, bound 4. (The converse is not a theorem:
sigma_max > 1/gamma is only necessary for exploding gradients.) The bound does not apply to
LSTM/GRU, whose additive state path (c_t = f c_{t-1} + ..., h_t = z h_{t-1} + ...) is not a
product of W with a bounded derivative; there ``vanishing_bound`` is None.

``core.nn`` uses the row convention (a = h @ Whh); the column-convention matrix is Whh^T,
which has the same singular values and eigenvalues.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.analysis.cells import RecurrentWeights, model_weights

GAMMA = {"tanh": 1.0, "sigmoid": 0.25}


@dataclass(frozen=True)
class SpectrumBlock:
    """One block of the recurrent weights.

    name:            "hh" (RNN), a gate "i"/"f"/"g"/"o" (LSTM) or "r"/"z"/"n" (GRU), or "all"
                     (the whole (H, G*H) matrix of a gated cell).
    singular_values: (min(H, G*H),) descending.
    sigma_max:       the largest singular value (the operator 2-norm).
    spectral_radius: max |eigenvalue| (NaN for the non-square "all").
    eigenvalues:     (H,) complex, for plotting against the unit circle (None for "all").
    """

    name: str
    singular_values: np.ndarray
    sigma_max: float
    spectral_radius: float
    eigenvalues: np.ndarray | None


@dataclass(frozen=True)
class RecurrentSpectrum:
    """The spectrum of one layer's recurrent weights.

    cell, activation: of the layer.
    blocks:  tuple of :class:`SpectrumBlock`: RNN ("hh",); LSTM ("i", "f", "g", "o", "all");
             GRU ("r", "z", "n", "all").
    gamma:   bound on |act'| of the RNN (1 tanh, 1/4 sigmoid), None for gated cells.
    vanishing_bound: 1 / gamma (Pascanu et al. 2013), None for gated cells.
    vanishing_guaranteed: sigma_max(Whh) < vanishing_bound (gradients must vanish), None for
             gated cells.
    """

    cell: str
    activation: str
    blocks: tuple[SpectrumBlock, ...]
    gamma: float | None
    vanishing_bound: float | None
    vanishing_guaranteed: bool | None

    def block(self, name: str) -> SpectrumBlock:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no block {name!r}; blocks are {[b.name for b in self.blocks]}")


def _block(name: str, M: np.ndarray) -> SpectrumBlock:
    s = np.linalg.svd(M, compute_uv=False)
    if M.shape[0] == M.shape[1]:
        ev = np.linalg.eigvals(M.T)
        return SpectrumBlock(name, s, float(s[0]), float(np.max(np.abs(ev))), ev)
    return SpectrumBlock(name, s, float(s[0]), float("nan"), None)


def recurrent_spectrum(W: RecurrentWeights) -> RecurrentSpectrum:
    """Singular values, eigenvalues and the Pascanu bound of one layer's recurrent weights.

    W: :func:`core.analysis.cells.recurrent_weights` of the layer (Wh (H, G*H)).
    Cost: one SVD + one eigendecomposition per (H, H) block. Measured (2 cores): H=64 rnn 2 ms,
    lstm 4 ms, gru 3 ms; H=256 rnn 30 ms, lstm 0.14 s, gru 0.16 s. Weights change slowly:
    recompute every few hundred steps, not every frame.
    """
    if W.cell == "rnn":
        blocks = (_block("hh", W.Wh),)
        gamma = GAMMA[W.activation]
        return RecurrentSpectrum(W.cell, W.activation, blocks, gamma, 1.0 / gamma,
                                 bool(blocks[0].sigma_max < 1.0 / gamma))
    blocks = tuple(_block(g, W.block(g)) for g in W.gates) + (_block("all", W.Wh),)
    return RecurrentSpectrum(W.cell, W.activation, blocks, None, None, None)


def model_spectra(model: Any) -> list[RecurrentSpectrum]:
    """:func:`recurrent_spectrum` of every recurrent layer of a ``core.nn`` model, bottom first."""
    return [recurrent_spectrum(w) for w in model_weights(model)]
