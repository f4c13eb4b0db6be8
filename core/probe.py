"""Frozen dataclasses: what the panels draw.

A :class:`Probe` is a trace of the model on one fixed example: everything the
hidden-state heatmap, the timestep scrubber and the inspector need. Arrays are
copies (never views into the model) and are marked read-only, so a probe can
cross a thread boundary safely.

A :class:`Snapshot` is what a run (``core.run.Run``) hands out at most ~30
times a second: new metric points, the latest probe and the latest views.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, TypeVar

import numpy as np

from core.nn.cells import state_range, state_title
from core.views import View

V = TypeVar("V", bound=View)


def frozen_array(a: Any, dtype: Any = None) -> np.ndarray:
    """A read-only copy of ``a``."""
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class LayerTrace:
    """The per-timestep internals of one recurrent layer on the probe example.

    name:  display name, e.g. "layer 1 (lstm)".
    cell:  "rnn", "lstm", "gru" (or "dense" for non-recurrent models).
    activation: "tanh" or "sigmoid" — decides the colour scale of ``h``.
    states: name -> (T, H) array. Always has "h"; LSTM adds "c", "i", "f",
            "g", "o"; GRU adds "r", "z", "n". RNN may add "pre" (pre-activations).
    grad_norm: (T,) norm of dL/dh_t for this layer, or None if not computed.
    """

    name: str
    cell: str
    activation: str
    states: Mapping[str, np.ndarray]
    grad_norm: np.ndarray | None = None

    def value_range(self, key: str) -> tuple[float, float]:
        """Fixed colour scale for ``states[key]``, from the cell's descriptor (core.nn.cells)."""
        return state_range(self.cell, self.activation, key, self.states.get(key))

    def title(self, key: str) -> str:
        """Display title of ``states[key]`` ("input gate i"), from the cell's descriptor."""
        return state_title(self.cell, key, self.activation)


@dataclass(frozen=True)
class Probe:
    """The model's trace on one fixed example, T timesteps.

    input_labels:  T strings shown above the heatmap columns (bits "1/0",
                   characters, values "0.41", "row 3").
    inputs:        (T, D) the raw input vectors (for the inspector).
    layers:        one LayerTrace per recurrent layer (bottom first).
    outputs:       (T, K) model outputs per timestep (probabilities for
                   classifiers/LMs, raw values for regression). For models
                   that output only at the last step, earlier rows hold the
                   readout applied to each step's state (what the model
                   would say if stopped there) when available.
    output_labels: K names of output components (vocabulary, class names) or ().
    target_labels: T strings of the targets ("" where none).
    prediction_labels: T strings of the model's prediction per step.
    correct:       (T,) bool, True where prediction matches target (or None).
    views:         typed views of the probe example (core.views: BitSum,
                   DigitRead, SeriesWindow, ProbeText, WorkedNumbers).
    output_range:  fixed (lo, hi) for drawing regression outputs (e.g. the range
                   of the whole test signal), or None (probabilities: 0..1).
    """

    experiment: str
    step: int
    input_labels: tuple[str, ...]
    inputs: np.ndarray
    layers: tuple[LayerTrace, ...]
    outputs: np.ndarray
    output_labels: tuple[str, ...] = ()
    target_labels: tuple[str, ...] = ()
    prediction_labels: tuple[str, ...] = ()
    correct: np.ndarray | None = None
    views: tuple[View, ...] = ()
    output_range: tuple[float, float] | None = None

    @property
    def num_steps(self) -> int:
        return len(self.input_labels)

    def view(self, kind: type[V]) -> V | None:
        """The probe's view of type ``kind``, or None."""
        return next((v for v in self.views if isinstance(v, kind)), None)


@dataclass(frozen=True)
class Snapshot:
    """What the worker sends to the GUI (≤ 30 Hz).

    seq:      increasing sequence number; the GUI drops older ones.
    step:     training steps done so far.
    metrics:  name -> (steps array, values array) of points new since the last
              snapshot (training metrics, and evaluation metrics when evaluated).
    probe:    the latest Probe, or None if unchanged.
    views:    the experiment's slower views (``Experiment.views()``: samples,
              forecasts, marked units), or () if unchanged.
    steps_per_second: measured training speed.
    """

    seq: int
    step: int
    metrics: Mapping[str, tuple[np.ndarray, np.ndarray]]
    probe: Probe | None = None
    views: tuple[View, ...] = ()
    steps_per_second: float = 0.0
