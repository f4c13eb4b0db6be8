"""All experiments, by id. Each module defines ``EXPERIMENT`` (an Experiment subclass)."""
from __future__ import annotations

import importlib

from core.config import ConfigError
from core.experiments.base import Experiment

_MODULES = {
    "binary-addition": "core.experiments.binary_addition",
    "sine": "core.experiments.sine",
    "char-lm": "core.experiments.char_lm",
    "word-lm": "core.experiments.word_lm",
    "digits-rnn": "core.experiments.digits_rnn",
    "mlp-digits": "core.experiments.mlp_digits",
    "iris": "core.experiments.iris",
    "worked-example": "core.experiments.worked_example",
}

DEFAULT_EXPERIMENT = "binary-addition"


def ids() -> list[str]:
    return list(_MODULES)


def get(experiment_id: str) -> type[Experiment]:
    if experiment_id not in _MODULES:
        raise ConfigError(f"unknown experiment {experiment_id!r}; accepted: {', '.join(_MODULES)}")
    cls = importlib.import_module(_MODULES[experiment_id]).EXPERIMENT
    assert cls.id == experiment_id, (cls.id, experiment_id)
    return cls


def all_experiments() -> list[type[Experiment]]:
    return [get(i) for i in _MODULES]
