"""Shared machinery for neural experiments: guarded updates, state dicts, probe traces."""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from core import optim
from core.experiments.base import Experiment
from core.nn.module import load_state_dict as _load_into
from core.probe import LayerTrace, frozen_array


class TrainingDiverged(ArithmeticError):
    """The loss or the gradients became NaN/inf; parameters were left untouched."""

    def __init__(self, step: int, what: str, value: float):
        self.step = step
        super().__init__(
            f"{what} became {value} at step {step}: training stopped and the last good parameters "
            f"were kept. Try a lower learning_rate or gradient clipping (clip)."
        )


def build_optimizer(config: Mapping[str, Any]) -> optim.Optimizer:
    """The optimizer named by ``config["optimizer"]`` with its learning rate (and momentum)."""
    kw = {}
    if config["optimizer"] in ("momentum", "nesterov") and "momentum" in config:
        kw["momentum"] = config["momentum"]
    return optim.make_optimizer(config["optimizer"], config["learning_rate"], **kw)


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    total = 0.0
    vdot = np.vdot
    for g in grads.values():
        total += float(vdot(g, g))
    return math.sqrt(total)  # nan/inf stay nan/inf


class NeuralExperiment(Experiment):
    """An experiment whose model is ``self.params`` (flat dict of live arrays) trained by ``self.optimizer``.

    Subclasses set ``self.params`` and call ``self.optimizer = build_optimizer(self.config)``
    in ``__init__``; in ``train_step`` they compute ``loss, grads`` and call
    ``self.update(loss, grads)``. They may override ``extra_state`` /
    ``load_extra_state`` for anything else a resumed run needs (data cursor,
    carried hidden state).
    """

    params: dict[str, np.ndarray]
    optimizer: optim.Optimizer

    def update(self, loss: float, grads: dict[str, np.ndarray]) -> float:
        """Clip and apply ``grads``; returns the gradient norm before clipping.

        Raises TrainingDiverged (and leaves the parameters untouched) when the loss
        or the gradient norm is not finite. Increments ``self.step``.
        """
        step = self.step + 1
        if not math.isfinite(loss):
            raise TrainingDiverged(step, "the loss", float(loss))
        config = self.config
        clip = float(config.get("clip", 0.0) or 0.0)
        mode = config.get("clip_mode", "norm") if clip > 0 else "norm"
        if clip > 0 and mode == "norm":
            norm = float(optim.clip_by_global_norm(grads, clip))
        else:
            norm = global_norm(grads)
        if not math.isfinite(norm):
            raise TrainingDiverged(step, "the gradient norm", norm)
        if clip > 0 and mode == "value":
            optim.clip_by_value(grads, clip)
        self.optimizer.step(self.params, grads)
        self.step = step
        return norm

    def _apply_live(self, name: str, value: Any) -> None:
        if name == "learning_rate":
            self.optimizer.set(lr=value)
        elif name == "optimizer":
            self.optimizer = build_optimizer(self.config)
        elif name == "momentum" and self.config.get("optimizer") in ("momentum", "nesterov"):
            self.optimizer.set(momentum=value)
        # clip, clip_mode, temperature, ... are read from self.config when used.

    # -- persistence ------------------------------------------------------------
    def extra_state(self) -> dict[str, np.ndarray]:
        return {}

    def load_extra_state(self, state: Mapping[str, np.ndarray]) -> None:
        if state:
            raise ValueError(f"checkpoint has unexpected extra state: {', '.join(sorted(state))}")

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {f"param.{k}": np.array(v, copy=True) for k, v in self.params.items()}
        out.update({f"optim.{k}": np.array(v, copy=True) for k, v in self.optimizer.state_dict().items()})
        out.update({f"extra.{k}": np.array(v, copy=True) for k, v in self.extra_state().items()})
        return out

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        groups: dict[str, dict[str, np.ndarray]] = {"param": {}, "optim": {}, "extra": {}}
        for k, v in state.items():
            head, _, rest = k.partition(".")
            if head not in groups or not rest:
                raise ValueError(f"checkpoint has an unexpected array {k!r} (expected param.*, optim.*, extra.*)")
            groups[head][rest] = v
        # validate everything before changing anything
        _check_same(self.params, groups["param"], "checkpoint parameters")
        self.optimizer.load_state_dict(groups["optim"])
        _load_into(self.params, groups["param"], "checkpoint parameters")
        self.load_extra_state(groups["extra"])


def _check_same(params: Mapping[str, np.ndarray], state: Mapping[str, np.ndarray], what: str) -> None:
    missing = sorted(set(params) - set(state))
    extra = sorted(set(state) - set(params))
    if missing or extra:
        raise ValueError(f"{what} do not match the model: missing {missing}, unexpected {extra}")
    for k, v in params.items():
        if np.shape(state[k]) != v.shape:
            raise ValueError(f"{what}: {k} has shape {np.shape(state[k])}, the model expects {v.shape}")


def layer_traces(layer: Any, cache: Any, cell: str, activation: str = "tanh",
                 dh_norms: np.ndarray | None = None, example: int = 0) -> tuple[LayerTrace, ...]:
    """LayerTraces for batch element ``example`` from a recurrent layer's ``trace(cache)``.

    ``dh_norms``: (L, T) from backward, or None.
    """
    out = []
    for i, states in enumerate(layer.trace(cache)):
        st = {k: frozen_array(v[:, example, :]) for k, v in states.items()}  # (T, H) each
        gn = None if dh_norms is None or i >= len(dh_norms) else frozen_array(dh_norms[i])
        out.append(LayerTrace(f"layer {i + 1} ({cell})", cell, activation, st, gn))
    return tuple(out)
