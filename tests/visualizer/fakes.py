"""A tiny fake Experiment for GUI tests (no neural network, no data files).

It implements the Experiment interface with a 2-layer "recurrent" trace of
random-but-deterministic numbers, a loss that decreases with the step, a live
``learning_rate`` and a structural ``hidden_size``. It is fast (microseconds per
step), so worker tests finish quickly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from core.config import ConfigError, Param
from core.experiments.base import Experiment, Preset
from core.experiments.common import TrainingDiverged
from core.probe import LayerTrace, Probe, frozen_array
from core.run import RunSpec
from core.views import MetricCurves, View, Metric


@dataclass(frozen=True)
class FakeNote(View):
    """The fake experiment's own view: which probe example, at which step (what tests observe)."""

    step: int
    example: int
    learning_rate: float  # what the model's optimizer holds


class FakeExperiment(Experiment):
    id = "fake"
    title = "Fake experiment"
    description = "A stand-in experiment for GUI tests."
    hyperparams = (
        Param("learning_rate", "float", 0.1, "Step size of the optimizer.", 1e-5, 10.0, log=True, live=True),
        Param("hidden_size", "int", 4, "Units per recurrent layer.", 1, 64),
        Param("seq_len", "int", 6, "Timesteps of the probe example.", 1, 50),
        Param("cell", "str", "rnn", "Recurrent cell type.", choices=("rnn", "lstm", "gru")),
        Param("use_bias", "bool", True, "A bool parameter (structural).", live=False),
        Param("clip", "float", 0.0, "Gradient clipping (live).", 0.0, 100.0, live=True),
        Param("temperatures", "floats", (0.5, 1.0), "Sampling temperatures (live).", 0.01, 5.0, live=True),
        Param("corpus", "path", "", "A text file (empty = built-in).", kind="file"),
        Param("diverge_at", "int", 0, "Raise TrainingDiverged at this step (0 = never).", 0, 10**9, live=True),
        Param("fail_at", "int", 0, "Raise RuntimeError at this step (0 = never).", 0, 10**9, live=True),
        Param("broken_probe", "bool", False, "probe() raises (a bug in an experiment).", live=True),
    )
    presets = {
        "default": Preset("default", "Small and fast.", {}, steps=100),
        "big": Preset("big", "Wider hidden layer.", {"hidden_size": 8, "learning_rate": 0.05}, steps=200),
    }
    view_types = (MetricCurves,)
    metrics = (Metric("loss", "loss"), Metric("val_loss", "loss"), Metric("accuracy", "quality", "higher"),
               Metric("val_perplexity", "quality", "lower"), Metric("smooth_loss", "diagnostic"),
               Metric("bigram_val_loss", "loss", baseline_of="val_loss"))
    eval_every = 10

    def __init__(self, config: Mapping[str, Any] | None = None, seed: int = 0):
        super().__init__(config, seed)
        corpus = self.config["corpus"]
        if corpus:
            with open(corpus, "rb") as f:
                raw = f.read()
            if not raw.strip():
                raise ConfigError(f"corpus: {corpus!r} is empty; expected a UTF-8 text file")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ConfigError(f"corpus: {corpus!r} is not UTF-8 text") from None
        h = self.config["hidden_size"]
        self.weights = {"W": self.rng.normal(size=(h, h)) * 0.1}
        self.lr = self.config["learning_rate"]  # what a real optimizer would hold
        self.example = 0

    def train_step(self) -> dict[str, float]:
        step = self.step + 1
        if self.config["diverge_at"] and step >= self.config["diverge_at"]:
            raise TrainingDiverged(step, "the loss", float("nan"))
        if self.config["fail_at"] and step >= self.config["fail_at"]:
            raise RuntimeError(f"fake failure at step {step}")
        self.step = step
        noise = float(self.rng.normal()) * 0.01
        return {"loss": 2.0 / (1.0 + 0.05 * step) + noise}

    def evaluate(self) -> dict[str, float]:
        return {"val_loss": 2.1 / (1.0 + 0.05 * self.step), "accuracy": min(1.0, self.step / 200.0)}

    def probe(self) -> Probe:
        if self.config["broken_probe"]:
            raise IndexError("fake probe bug")
        T, H = self.config["seq_len"], self.config["hidden_size"]
        g = np.random.default_rng(1000 * self.example + self.step)  # deterministic per (example, step)
        layers = tuple(
            LayerTrace(f"layer {i + 1} (rnn)", "rnn", "tanh", {"h": frozen_array(np.tanh(g.normal(size=(T, H))))})
            for i in range(2)
        )
        out = g.random(size=(T, 2))
        return Probe(
            experiment=self.id, step=self.step,
            input_labels=tuple(str(i % 2) for i in range(T)),
            inputs=frozen_array(g.random(size=(T, 2))),
            layers=layers,
            outputs=frozen_array(out / out.sum(axis=1, keepdims=True)),
            output_labels=("0", "1"),
            views=(FakeNote(self.step, self.example, self.lr),),
        )

    def views(self) -> tuple[View, ...]:
        return (FakeNote(self.step, self.example, self.lr),)

    def set_probe_example(self, **kwargs: Any) -> None:
        self.example = int(kwargs.get("example", self.example + 1))

    def _apply_live(self, name: str, value: Any) -> None:
        if name == "learning_rate":
            self.lr = value

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"param.W": self.weights["W"].copy()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        w = np.asarray(state["param.W"])
        if w.shape != self.weights["W"].shape:
            raise ValueError(f"param.W has shape {w.shape}, the model expects {self.weights['W'].shape}")
        self.weights["W"] = w.copy()


def fake_spec(**config: Any) -> RunSpec:
    """A RunSpec for the fake experiment."""
    return RunSpec.create(FakeExperiment, values=config)
