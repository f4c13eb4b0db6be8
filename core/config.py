"""Typed hyperparameter declarations.

Each experiment declares its hyperparameters once as a tuple of :class:`Param`.
The GUI form, the CLI ``--set key=value`` and the presets are all generated from
that one declaration.

* ``live`` parameters (learning rate, clipping, temperature, ...) can be changed
  on a running model via ``Experiment.set_live``.
* structural parameters (``live=False``: cell, hidden size, layers, ...) need a
  rebuild of the experiment.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping


class ConfigError(ValueError):
    """A hyperparameter value is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    type: one of ``int``, ``float``, ``bool``, ``str`` (``choices`` restricts a
    str), or ``path`` (a str naming a file or folder; "" means "use default").
    low/high: inclusive numeric range (None = unbounded).
    log: the GUI uses a log-scale slider.
    live: applied to the running model at once; else needs a rebuild.
    """

    name: str
    type: str
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    live: bool = False
    choices: tuple[str, ...] = ()
    choices_from: Any = None  # a callable giving the current choices (e.g. the registered cells), or None
    kind: str = ""  # for ``path``: "file" or "dir"

    def __post_init__(self) -> None:
        if self.type not in ("int", "float", "bool", "str", "path", "floats"):
            raise ValueError(f"Param {self.name!r}: unknown type {self.type!r}")

    # -- validation -------------------------------------------------------
    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this param's type, or raise ConfigError."""
        name = self.name
        t = self.type
        if t == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                return value.strip().lower() in ("1", "true", "yes", "on")
            if isinstance(value, (int,)) and value in (0, 1):
                return bool(value)
            raise ConfigError(f"{name}: expected true/false, got {value!r}")
        if t == "int":
            if isinstance(value, bool):
                raise ConfigError(f"{name}: expected an integer, got {value!r}")
            try:
                if isinstance(value, str):
                    v = int(value.strip())
                elif isinstance(value, float):
                    if not value.is_integer():
                        raise ValueError
                    v = int(value)
                else:
                    v = int(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
            self._check_range(v)
            return v
        if t == "float":
            if isinstance(value, bool):
                raise ConfigError(f"{name}: expected a number, got {value!r}")
            try:
                v = float(value.strip()) if isinstance(value, str) else float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{name}: expected a number, got {value!r}") from None
            if not math.isfinite(v):
                raise ConfigError(f"{name}: expected a finite number, got {value!r}")
            self._check_range(v)
            return v
        if t == "floats":
            if isinstance(value, str):
                parts = value.replace(";", " ").replace(",", " ").split()  # commas, semicolons or spaces
            else:
                parts = list(value)
            out = []
            for p in parts:
                try:
                    v = float(p)
                except (TypeError, ValueError):
                    raise ConfigError(f"{name}: {p!r} is not a number; expected numbers such as 0.2, 0.6, 1.2") from None
                if not math.isfinite(v):
                    raise ConfigError(f"{name}: expected finite numbers, got {value!r}")
                self._check_range(v)
                out.append(v)
            if not out:
                raise ConfigError(f"{name}: expected at least one number, got {value!r}")
            return tuple(out)
        # str / path
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected text, got {value!r}")
        allowed = self.options()
        if allowed and value not in allowed:
            raise ConfigError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def options(self) -> tuple[str, ...]:
        """The accepted values of a choice parameter, now (``choices_from()`` when given, else ``choices``)."""
        return tuple(self.choices_from()) if self.choices_from is not None else self.choices

    def _check_range(self, v: float) -> None:
        if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            raise ConfigError(f"{self.name}: {v!r} is out of range [{lo}, {hi}]")


def resolve(params: tuple[Param, ...], values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults overridden by ``values``, every value validated.

    Unknown keys raise ConfigError naming the key and the accepted keys.
    """
    by_name = {p.name: p for p in params}
    out = {p.name: p.default for p in params}
    for key, value in (values or {}).items():
        if key not in by_name:
            raise ConfigError(f"unknown hyperparameter {key!r}; accepted: {', '.join(sorted(by_name))}")
        out[key] = by_name[key].validate(value)
    return out


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``["lr=0.1", "cell=lstm"]`` -> ``{"lr": "0.1", "cell": "lstm"}`` (values stay strings)."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


# Shared declarations: same key, same meaning everywhere.
def learning_rate(default: float, low: float = 1e-5, high: float = 10.0) -> Param:
    return Param("learning_rate", "float", default, "Step size of the optimizer.", low, high, log=True, live=True)


def optimizer(default: str) -> Param:
    return Param("optimizer", "str", default, "Update rule (live: switching keeps the parameters, resets optimizer state).",
                 choices=("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"), live=True)


def clip(default: float) -> Param:
    return Param("clip", "float", default, "Gradient clipping: global-norm limit (0 = off).", 0.0, 1000.0, live=True)


def batch_size(default: int, high: int = 1024) -> Param:
    return Param("batch_size", "int", default, "Examples per training step.", 1, high)


def hidden_size(default: int, high: int = 1024) -> Param:
    return Param("hidden_size", "int", default, "Units per recurrent layer.", 1, high)


def num_layers(default: int, high: int = 3) -> Param:
    return Param("num_layers", "int", default, "Stacked recurrent layers.", 1, high)


def cell(default: str) -> Param:
    """The cell type; its choices are the cells registered in ``core.nn.cells`` (read when validating or
    drawing the form, so a cell registered later is offered too)."""
    from core.nn.cells import cell_names  # here, not at import: config stays light
    return Param("cell", "str", default, "Recurrent cell type.", choices=cell_names(), choices_from=cell_names)


def seq_len(default: int, low: int = 1, high: int = 400) -> Param:
    return Param("seq_len", "int", default, "Timesteps per training sequence (truncated BPTT length).", low, high)


def dropout(default: float) -> Param:
    return Param("dropout", "float", default, "Dropout probability between layers (0 = off).", 0.0, 0.9)


def temperature(default: float = 1.0) -> Param:
    return Param("temperature", "float", default, "Sampling temperature (> 0; small = greedy).", 0.01, 5.0, log=True, live=True)



def clip_mode(default: str = "norm") -> Param:
    return Param("clip_mode", "str", default, "How `clip` applies: 'norm' rescales all gradients to a global norm "
                 "(the PTB model's 5); 'value' clamps each entry to ±clip (min-char-rnn's ±5).",
                 choices=("norm", "value"), live=True)


def momentum(default: float = 0.9) -> Param:
    return Param("momentum", "float", default, "Momentum coefficient (momentum/nesterov optimizers).", 0.0, 0.999, live=True)
