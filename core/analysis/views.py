"""Typed views of the live analyses (``core.analysis.live.Analyst``): frozen dataclasses, arrays read-only.

One view type per analysis *kind* (the strings of ``core.run.Watch`` / ``Analyze``):

    "units"        UnitsView          unit finder table + one passage coloured by the units (text: surprise)
    "gradients"    GradientsView      ||dh_T/dh_t|| against the lag per layer; itemized BPTT of the top layer
    "spectrum"     SpectrumView       sigma_max / spectral radius per layer over training; eigenvalues now
    "saturation"   SaturationView     per gate unit: fraction of steps < 0.1 and > 0.9
    "memory"       MemoryView         Madsen connectivity (T x T) and the memory horizon (background)
    "fixed_points" FixedPointsView    fixed/slow points on a 2-D PCA of the trajectories (on demand)

Every view carries ``step`` (the training step its numbers belong to) and ``status``: "ok", "computing"
(a background job is under way: ``note`` says since when), "unavailable" (``note`` says why: no recurrent
layer, no gates, ...) or "error" (``note`` holds the message).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.views import View

KINDS = ("units", "gradients", "spectrum", "saturation", "memory", "fixed_points")


@dataclass(frozen=True)
class UnitsView(View):
    """The unit finder over a long probe.

    rows:     (feature, layer, state, unit, r) sorted by |r| descending (the best few units per feature).
    samples:  number of (timestep, lane) samples correlated.
    source:   what the long probe is ("8 passages x 128 characters of held-out text").
    layer_names: one per layer, bottom first.
    chars:    display tokens of the passage shown (text experiments), or () for the others.
    units:    (layer, state, unit) of each row of ``activations`` (the distinct units of ``rows``).
    activations: (len(units), S) their values over the S displayed steps.
    value_ranges: (lo, hi) per entry of ``units`` (the state's fixed colour scale).
    surprise: (S,) -log p(actual next token) in nats (NaN where unknown), text experiments only.
    features: (name, (S,) values) over the displayed steps, for the line plot of non-text experiments.
    breaks:   displayed step indices where a new lane (an independent sequence from a zero state) starts.
    """

    step: int
    status: str
    note: str
    rows: tuple[tuple[str, int, str, int, float], ...] = ()
    samples: int = 0
    source: str = ""
    layer_names: tuple[str, ...] = ()
    chars: tuple[str, ...] = ()
    units: tuple[tuple[int, str, int], ...] = ()
    activations: np.ndarray | None = None
    value_ranges: tuple[tuple[float, float], ...] = ()
    surprise: np.ndarray | None = None
    features: tuple[tuple[str, np.ndarray], ...] = ()
    breaks: tuple[int, ...] = ()


@dataclass(frozen=True)
class GradientsView(View):
    """Gradient flow over lags.

    layers:  (name, cell, lags (K,), norm (K,) mean over lanes of ||dh_T/dh_{T-k}||_F) per layer.
    cell_norm: per layer the LSTM's ||dh_T/dc_{T-k}|| (K,) or None.
    itemized: for the top layer (lags (K,), ||G_k||_F (K,), cosine (K,)) of the itemized BPTT on the
             probe's own loss, or None when the probe has no per-step error signal.
    itemized_note: what the itemized loss is.
    """

    step: int
    status: str
    note: str
    layers: tuple[tuple[str, str, np.ndarray, np.ndarray], ...] = ()
    cell_norm: tuple[np.ndarray | None, ...] = ()
    itemized: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    itemized_note: str = ""


@dataclass(frozen=True)
class SpectrumView(View):
    """Spectrum of the recurrent weights, per layer, now and over training.

    names:   layer names, bottom first. cells: their cell types.
    sigma_max, spectral_radius: (L,) now (gated cells: sigma_max of the whole (H, G*H) matrix, the
             radius the largest over the gate blocks).
    bound:   per layer the Pascanu bound 1/gamma (tanh 1, sigmoid 4) or None for gated cells.
    eigenvalues: per layer ((block name, (H,) complex), ...) — RNN ("hh",), LSTM i f g o, GRU r z n.
    history_steps: (N,) training steps; history_sigma, history_radius: (N, L).
    clip_steps: training steps at which the gradient norm exceeded the clipping threshold (when known).
    """

    step: int
    status: str
    note: str
    names: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()
    sigma_max: np.ndarray | None = None
    spectral_radius: np.ndarray | None = None
    bound: tuple[float | None, ...] = ()
    eigenvalues: tuple[tuple[tuple[str, np.ndarray], ...], ...] = ()
    history_steps: np.ndarray | None = None
    history_sigma: np.ndarray | None = None
    history_radius: np.ndarray | None = None
    clip_steps: np.ndarray | None = None


@dataclass(frozen=True)
class SaturationView(View):
    """Gate saturation per layer: ((layer name, gates, left {gate: (H,)}, right {gate: (H,)}), ...)."""

    step: int
    status: str
    note: str
    layers: tuple[tuple[str, tuple[str, ...], tuple[np.ndarray, ...], tuple[np.ndarray, ...]], ...] = ()
    samples: int = 0


@dataclass(frozen=True)
class MemoryView(View):
    """Madsen connectivity of one probe sequence and the memory horizon.

    matrix:   (n, T) ||d s_{t_out} / d x_{t_in}|| for the rows t_out (0 above the diagonal).
    t_out:    (n,) output steps. labels: T input labels.
    profile:  (K,) mean over rows of the influence at lag k relative to lag 0 (the nearest input).
    horizon:  the first lag at which ``profile`` falls below 10%, or None (never within the probe).
    """

    step: int
    status: str
    note: str
    matrix: np.ndarray | None = None
    t_out: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    profile: np.ndarray | None = None
    horizon: int | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class FixedPointsView(View):
    """Fixed and slow points of the bottom layer under a constant input, on a 2-D PCA of its trajectories.

    trajectories: ((T, 2) projected trajectory, ...) of the probe lanes.
    points:   (P, 2) projected fixed/slow points. q: (P,). stable: (P,) bool. unstable_dims: (P,) int.
    eigenvalues: (P, k) complex, the k leading eigenvalues of dF/ds at each point.
    explained: (2,) fraction of the variance of the trajectories on the two axes.
    input_note: which constant input x* was used.
    """

    step: int
    status: str
    note: str
    layer: str = ""
    trajectories: tuple[np.ndarray, ...] = ()
    points: np.ndarray | None = None
    q: np.ndarray | None = None
    stable: np.ndarray | None = None
    unstable_dims: np.ndarray | None = None
    eigenvalues: np.ndarray | None = None
    explained: np.ndarray | None = None
    input_note: str = ""
    seconds: float = 0.0


VIEW_OF_KIND: dict[str, type[View]] = {"units": UnitsView, "gradients": GradientsView, "spectrum": SpectrumView,
                                       "saturation": SaturationView, "memory": MemoryView,
                                       "fixed_points": FixedPointsView}
