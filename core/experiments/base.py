"""The Experiment interface: what the trainer, the CLI and the GUI rely on.

An experiment owns its data, model, optimizer and RNG. Everything random comes
from ``self.rng`` (a ``np.random.Generator`` seeded from the run's seed), so a
run is reproduced exactly from its seed, and resumed exactly from a checkpoint
(``state_dict`` holds parameters, optimizer state, RNG state and any cursor or
carried hidden state).

Subclasses declare, as class attributes:

* ``id``, ``title``, ``description``
* ``hyperparams``: tuple[Param, ...] — the one declaration of hyperparameters
* ``presets``: dict name -> Preset; must contain ``default_preset``
* ``view_types``: the kinds of view it shows, in display order (core.views; the GUI
  opens one panel per kind, core names no panel)
* ``metrics``: one core.views.Metric per metric it records (group, direction, unit,
  baseline); undeclared names are drawn as diagnostics
* ``eval_every``: default number of training steps between evaluations (the Trainer
  thins this schedule out in long runs, see core.trainer)
* ``target``: the goal metric (e.g. accuracy >= 1.0) used by benchmarks/tests
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import numpy as np

from core.config import ConfigError, Param, resolve
from core.probe import Probe
from core.views import LayerStates, Metric, MetricCurves, Outputs, View


@dataclass(frozen=True)
class Preset:
    """A named set of hyperparameter values, and how many steps it trains by default."""

    name: str
    description: str
    values: Mapping[str, Any] = field(default_factory=dict)
    steps: int = 1000
    target: "Target | None" = None  # overrides the experiment's target for this preset


@dataclass(frozen=True)
class Target:
    """A goal: ``metric`` compared with ``value`` (``"max"``: higher is better)."""

    metric: str
    value: float
    mode: str = "max"  # "max": reached when metric >= value; "min": when metric <= value

    def reached(self, metrics: Mapping[str, float]) -> bool:
        v = metrics.get(self.metric)
        if v is None or not np.isfinite(v):
            return False
        return v >= self.value if self.mode == "max" else v <= self.value


class Experiment(ABC):
    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    hyperparams: ClassVar[tuple[Param, ...]]
    presets: ClassVar[dict[str, Preset]]
    default_preset: ClassVar[str] = "default"
    view_types: ClassVar[tuple[type[View], ...]] = (MetricCurves, LayerStates, Outputs)
    metrics: ClassVar[tuple[Metric, ...]] = ()
    eval_every: ClassVar[int] = 100
    target: ClassVar[Target | None] = None
    is_language_model: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any] | None = None, seed: int = 0):
        """``config`` holds values for (some of) ``hyperparams``; they are validated.

        Raises ConfigError (a ValueError) naming the key, value and range.
        """
        self.config: dict[str, Any] = resolve(self.hyperparams, config)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.step = 0  # training steps done; train_step() increments it

    # -- class helpers ----------------------------------------------------
    @classmethod
    def param(cls, name: str) -> Param:
        for p in cls.hyperparams:
            if p.name == name:
                return p
        raise ConfigError(f"unknown hyperparameter {name!r} for {cls.id}; accepted: "
                          f"{', '.join(p.name for p in cls.hyperparams)}")

    @classmethod
    def preset_config(cls, preset: str | None) -> dict[str, Any]:
        """The preset's values (validated) as a config dict."""
        name = preset or cls.default_preset
        if name not in cls.presets:
            raise ConfigError(f"unknown preset {name!r} for {cls.id}; accepted: {', '.join(cls.presets)}")
        return resolve(cls.hyperparams, cls.presets[name].values)

    @classmethod
    def target_for(cls, preset: str | None) -> "Target | None":
        """The goal of ``preset`` (its own target, else the experiment's)."""
        p = cls.presets.get(preset or cls.default_preset)
        return p.target if p is not None and p.target is not None else cls.target

    # -- training -----------------------------------------------------------
    @abstractmethod
    def train_step(self) -> dict[str, float]:
        """One optimizer update. Returns training metrics, at least ``"loss"``.

        Must increment ``self.step``.
        """

    @abstractmethod
    def evaluate(self) -> dict[str, float]:
        """Held-out metrics, e.g. ``accuracy``, ``rmse``, ``val_loss``, ``val_perplexity``."""

    def evaluate_scheduled(self) -> dict[str, float]:
        """The evaluation the training schedule runs (core.trainer): ``evaluate()`` unless an
        experiment with a costly evaluation estimates the same metrics more cheaply (same
        names); the final evaluation of a run is always the full ``evaluate()``."""
        return self.evaluate()

    @abstractmethod
    def probe(self) -> Probe:
        """The model's trace on the fixed probe example (arrays copied)."""

    def views(self) -> tuple[View, ...]:
        """Views computed on their own, slower schedule (samples, forecasts, marked units): typed,
        frozen, arrays copied. May be slow-ish (≤ ~50 ms)."""
        return ()

    def set_probe_example(self, **kwargs: Any) -> None:
        """Change the probe example (e.g. binary addition: a=, b=; random=True)."""
        raise ConfigError(f"{self.id} has no adjustable probe example")

    def set_live(self, name: str, value: Any) -> None:
        """Apply a live hyperparameter to the running model (validated)."""
        p = self.param(name)
        if not p.live:
            raise ConfigError(f"{name} is structural: it needs a rebuild (Apply & restart)")
        self.config[name] = p.validate(value)
        self._apply_live(name, self.config[name])

    def _apply_live(self, name: str, value: Any) -> None:
        """Subclasses push a changed live value into optimizer/sampler."""

    # -- persistence ----------------------------------------------------------
    @abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat name -> array: ``param.<name>``, ``optim.<name>``, ``extra.<name>``.

        Together with the RNG state, config, seed and step this reproduces the run exactly.
        """

    @abstractmethod
    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Inverse of state_dict. Raises ValueError naming missing/extra/mis-shaped arrays."""

    # -- language models --------------------------------------------------
    def sample(self, prime: str, temperature: float, length: int, rng: np.random.Generator) -> str:
        raise ConfigError(f"{self.id} is not a language model: it cannot sample text")
