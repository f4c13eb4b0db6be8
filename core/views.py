"""Typed views: what an experiment shows, as frozen data, and how its metrics read.

An experiment declares, beside its hyperparameters,

* ``view_types``: the kinds of view it shows, in display order. The GUI opens one
  panel per kind (a panel registers for the view types it draws); core never names
  a panel. Three kinds are generic and carry no data of their own:
  :class:`MetricCurves` (the run's metric history), :class:`LayerStates` (the
  probe's per-layer states: the heatmap) and :class:`Outputs` (the probe's inputs
  and outputs at one timestep: the inspector). The others are frozen dataclasses
  the experiment emits: with the probe (``Probe.views``: views of the probe example,
  e.g. :class:`BitSum`) or on their own slower schedule (``Experiment.views()``: e.g.
  :class:`TextSamples`, :class:`SeriesForecast`).
* ``metrics``: one :class:`Metric` per history name — its group (which plot), its
  direction (lower or higher is better), unit and the metric it is a baseline for.

Arrays in views are read-only copies (``core.probe.frozen_array``), so a view can
cross a thread boundary and be kept as a keyframe.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


class View:
    """Base class of every view type (a marker: subclasses are frozen dataclasses)."""


# -- generic kinds (no data of their own) ------------------------------------------------
class MetricCurves(View):
    """The run's metric history (points arrive in ``Snapshot.metrics``; meanings in ``metrics``)."""


class LayerStates(View):
    """The probe's recurrent layers: states (h, c, gates) per timestep (``Probe.layers``)."""


class Outputs(View):
    """The probe's input and output at the selected timestep (``Probe.inputs``/``outputs``)."""


# -- emitted with the probe ----------------------------------------------------------------
@dataclass(frozen=True)
class BitSum(View):
    """Binary addition of the probe pair, LSB first: every array is (T,) over bit positions.

    carry: the true carry *out of* step t. pred_bits: the model's sum bits.
    """

    a: int
    b: int
    true_sum: int
    pred_sum: int
    carry: np.ndarray  # (T,)
    a_bits: np.ndarray  # (T,)
    b_bits: np.ndarray  # (T,)
    sum_bits: np.ndarray  # (T,)
    pred_bits: np.ndarray  # (T,)


@dataclass(frozen=True)
class SeriesWindow(View):
    """A regression probe: the input ``window`` (W,) ending just before time ``t``, its target and
    the model's prediction."""

    window: np.ndarray  # (W,)
    t: float
    target: float
    prediction: float


@dataclass(frozen=True)
class ProbeText(View):
    """A language model's probe text (one entry per timestep) and its mean loss (nats/token)."""

    text: str | tuple[str, ...]
    loss: float


@dataclass(frozen=True)
class DigitRead(View):
    """A classified image: ``image`` (R, C) in [0, 1], its label, the prediction and the test index."""

    image: np.ndarray  # (R, C)
    label: int
    prediction: int
    index: int


@dataclass(frozen=True)
class WorkedNumbers(View):
    """Every number of a small tanh RNN's forward pass, and the same pass with reference weights.

    x (T, D), pre and h (T, H), y (T, K), targets (T, K) or None; ``weights``: (name, array) pairs
    in display order; ``reference``: the reference pass ``(pre, h, y)`` on the same inputs (the
    tutorial's published numbers), or None when the shapes differ from the reference's.
    """

    x: np.ndarray
    pre: np.ndarray
    h: np.ndarray
    y: np.ndarray
    targets: np.ndarray | None
    loss: float
    weights: tuple[tuple[str, np.ndarray], ...]
    reference: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


# -- emitted on their own schedule (Experiment.views()) -------------------------------------
@dataclass(frozen=True)
class MarkedUnit(View):
    """One hidden unit worth pointing at (e.g. the unit that tracks the carry) and why."""

    layer: int
    unit: int
    score: float
    label: str  # e.g. "tracks the carry"


@dataclass(frozen=True)
class SeriesForecast(View):
    """Predictions over a test range: x, true, pred (N,); a free-running forecast (S,); RMSEs."""

    x: np.ndarray
    true: np.ndarray
    pred: np.ndarray
    forecast_x: np.ndarray
    forecast: np.ndarray
    rmse: float
    forecast_rmse: float


@dataclass(frozen=True)
class TextSamples(View):
    """Continuations of ``prime`` at several temperatures, and the argmax (greedy) one."""

    samples: tuple[tuple[float, str], ...]  # (temperature, text) in the declared order
    argmax: str
    prime: str


# -- metric declarations ---------------------------------------------------------------------
GROUPS = ("loss", "quality", "diagnostic")


@dataclass(frozen=True)
class Metric:
    """What a history name means.

    group: "loss" (the losses plot), "quality" (headline metrics: accuracy, perplexity, RMSE) or
    "diagnostic" (shown on request). direction: "lower" or "higher" is better ("" = neither).
    unit: shown on the axis ("nats/char", "%"...; "" none). baseline_of: the metric this one is a
    reference for (drawn dashed beside it), or "".
    """

    name: str
    group: str
    direction: str = "lower"
    unit: str = ""
    baseline_of: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"Metric {self.name!r}: group {self.group!r} is not one of {', '.join(GROUPS)}")
        if self.direction not in ("lower", "higher", ""):
            raise ValueError(f"Metric {self.name!r}: direction {self.direction!r} is not lower/higher/''")

    @property
    def label(self) -> str:
        return self.title or self.name.replace("_", " ")


def loss(name: str = "loss", unit: str = "", title: str = "") -> Metric:
    return Metric(name, "loss", "lower", unit, title=title)


def accuracy(name: str = "accuracy") -> Metric:
    return Metric(name, "quality", "higher")


def diagnostic(name: str, direction: str = "") -> Metric:
    return Metric(name, "diagnostic", direction)


COMMON_METRICS = (diagnostic("grad_norm"),)


def metric_table(declared: Sequence[Metric]) -> Mapping[str, Metric]:
    """name -> Metric, with the metrics every run may record (``grad_norm``) added."""
    out = {m.name: m for m in COMMON_METRICS}
    out.update({m.name: m for m in declared})
    return out


def describe(name: str, declared: Mapping[str, Metric]) -> Metric:
    """The declaration of history name ``name``. ``eval_<name>`` (an evaluation metric renamed because a
    training metric has its name) reads as ``<name>``; an undeclared name is a diagnostic."""
    m = declared.get(name)
    if m is None and name.startswith("eval_"):
        base = declared.get(name[5:])
        if base is not None:
            m = Metric(name, base.group, base.direction, base.unit, base.baseline_of, "held-out " + base.label)
    return m if m is not None else Metric(name, "diagnostic", "")
