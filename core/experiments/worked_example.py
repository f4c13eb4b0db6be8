"""Worked example: the seed's 2-step RNN forward pass, number by number.

A 2-unit tanh RNN with fixed weights reads the inputs 1 then 2 from a zero state::

    pre_t = x_t @ Wxh + h_{t-1} @ Whh + bh     Wxh = [[0.5, 0.6]], Whh = [[0.1, 0.2], [0.3, 0.4]], bh = [0.1, -0.1]
    h_t   = tanh(pre_t)
    y_t   = h_t @ Why + by                     Why = [[1.0], [2.0]], by = [0.1]

    pre  [0.6, 0.5]            -> [1.2923401, 1.39225678]
    h    [0.53704957, 0.46211716] -> [0.85973818, 0.88366641]
    y    1.56128388            -> 2.72707101

At step 0 the probe shows exactly these numbers. Training (plain SGD on the
squared error against ``targets``) then moves the weights, so the transport
buttons do something and the "worked" panel shows every number change.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from core import config as C
from core.config import ConfigError, Param
from core.experiments.base import Preset, Target
from core.experiments.common import NeuralExperiment, build_optimizer, layer_traces
from core.losses import mse
from core.nn.dense import Dense
from core.nn.module import prefixed
from core.nn.rnn import RNN
from core import views as V
from core.probe import Probe, frozen_array
from core.views import Metric

# The seed's fixed weights (row-vector convention: h @ Whh).
WXH = [[0.5, 0.6]]
WHH = [[0.1, 0.2], [0.3, 0.4]]
BH = [0.1, -0.1]
WHY = [[1.0], [2.0]]
BY = [0.1]
INPUTS = (1.0, 2.0)
# The seed's results for INPUTS (float64).
EXPECTED_PRE = [[0.6, 0.5], [1.2923401, 1.39225678]]
EXPECTED_H = [[0.53704957, 0.46211716], [0.85973818, 0.88366641]]
EXPECTED_Y = [1.56128388, 2.72707101]


class WorkedExample(NeuralExperiment):
    id = "worked-example"
    title = "Worked example (2-step RNN)"
    description = ("The seed's hand-checked forward pass: a 2-unit tanh RNN reads 1 then 2; "
                   "every pre-activation, state and output shown, then fitted to targets with SGD.")
    hyperparams = (
        C.learning_rate(0.1, high=2.0),
        C.optimizer("sgd"),
        C.momentum(0.9),
        Param("inputs", "floats", INPUTS, "The input sequence x_1, x_2, ... (comma-separated numbers).",
              -10.0, 10.0),
        Param("targets", "floats", (0.5, -0.5), "Target outputs y_1, y_2, ..., one per input (squared error).",
              -10.0, 10.0),
        C.clip(0.0),
    )
    presets = {
        "default": Preset("default", "The seed's weights and inputs 1, 2; SGD fits the outputs to 0.5, -0.5.",
                          {}, steps=200),
    }
    view_types = (V.WorkedNumbers, V.LayerStates, V.Outputs)
    metrics = (V.loss("loss"), Metric("mse", "quality", "lower"))
    eval_every = 10
    target = Target("mse", 1e-3, "min")

    def __init__(self, config: Mapping[str, Any] | None = None, seed: int = 0):
        super().__init__(config, seed)
        xs, ts = self.config["inputs"], self.config["targets"]
        if len(ts) != len(xs):
            raise ConfigError(f"targets: expected {len(xs)} numbers (one per input), got {len(ts)}: "
                              f"{', '.join(map(str, ts))}")
        self.rnn = RNN(1, 2, self.rng, activation="tanh", dtype=np.float64)
        self.out = Dense(2, 1, self.rng, dtype=np.float64)
        for arr, value in ((self.rnn.params["Wxh"], WXH), (self.rnn.params["Whh"], WHH),
                           (self.rnn.params["bh"], BH), (self.out.params["W"], WHY), (self.out.params["b"], BY)):
            arr[...] = value  # the seed's fixed weights (no randomness)
        self.x = np.asarray(xs, dtype=np.float64).reshape(-1, 1, 1)  # (T, 1, 1)
        self.t = np.asarray(ts, dtype=np.float64).reshape(-1, 1, 1)  # (T, 1, 1)
        # flat live dict: "rnn.Wxh", "rnn.Whh", "rnn.bh", "out.W", "out.b"
        self.params = {**prefixed("rnn", self.rnn.params), **prefixed("out", self.out.params)}
        self.optimizer = build_optimizer(self.config)

    def _forward_backward(self):
        """-> (loss, grads, y (T, 1, 1), cache, dh_norms (1, T))."""
        h, _, cache = self.rnn.forward(self.x)  # (T, 1, 2)
        y, ocache = self.out.forward(h)  # (T, 1, 1)
        loss, dy = mse(y, self.t)
        dh, ograds = self.out.backward(dy, ocache)  # (T, 1, 2)
        _, _, rgrads, dh_norms = self.rnn.backward(dh, cache)
        grads = {**prefixed("rnn", rgrads), **prefixed("out", ograds)}
        return loss, grads, y, cache, dh_norms

    def train_step(self) -> dict[str, float]:
        loss, grads, _, _, _ = self._forward_backward()
        norm = self.update(loss, grads)
        return {"loss": loss, "grad_norm": norm}

    def evaluate(self) -> dict[str, float]:
        h, _, _ = self.rnn.forward(self.x)
        y, _ = self.out.forward(h)  # (T, 1, 1)
        out = {"mse": mse(y, self.t)[0]}
        out.update({f"y{i + 1}": float(v) for i, v in enumerate(y.ravel())})
        return out

    def probe(self) -> Probe:
        loss, _, y, cache, dh_norms = self._forward_backward()
        traces = layer_traces(self.rnn, cache, "rnn", "tanh", dh_norms)
        st = traces[0].states
        ys = y[:, 0, 0]  # (T,)
        ts = self.t[:, 0, 0]
        xs = self.x[:, 0, 0]
        return Probe(
            experiment=self.id, step=self.step,
            input_labels=tuple(f"x={v:g}" for v in xs),
            inputs=frozen_array(self.x[:, 0, :]),  # (T, 1)
            layers=traces,
            outputs=frozen_array(y[:, 0, :]),  # (T, 1)
            output_labels=("y",),
            target_labels=tuple(f"{v:g}" for v in ts),
            prediction_labels=tuple(f"{v:.4f}" for v in ys),
            correct=None,
            views=(V.WorkedNumbers(
                x=frozen_array(self.x[:, 0, :]), pre=frozen_array(st["pre"]), h=frozen_array(st["h"]),
                y=frozen_array(y[:, 0, :]), targets=frozen_array(self.t[:, 0, :]), loss=float(loss),
                weights=(("Wxh", frozen_array(self.rnn.params["Wxh"])), ("Whh", frozen_array(self.rnn.params["Whh"])),
                         ("bh", frozen_array(self.rnn.params["bh"])), ("Why", frozen_array(self.out.params["W"])),
                         ("by", frozen_array(self.out.params["b"]))),
                reference=tuple(frozen_array(a) for a in seed_forward(xs))),),
        )


def seed_forward(x: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's forward pass with its fixed weights on inputs ``x`` (T,): pre (T, H), h (T, H), y (T, 1)."""
    Wxh, Whh, bh = np.asarray(WXH), np.asarray(WHH), np.asarray(BH)  # (1, H) (H, H) (H,)
    Why, by = np.asarray(WHY), np.asarray(BY)  # (H, 1) (1,)
    h = np.zeros(Whh.shape[0])  # (H,)
    pre, hs = [], []
    for xt in np.asarray(x, dtype=np.float64).reshape(-1):  # the recurrence, as in the seed
        p = xt * Wxh[0] + h @ Whh + bh  # (H,)
        h = np.tanh(p)
        pre.append(p)
        hs.append(h)
    H = np.asarray(hs).reshape(-1, Whh.shape[0])  # (T, H)
    return np.asarray(pre).reshape(H.shape), H, H @ Why + by


EXPERIMENT = WorkedExample
