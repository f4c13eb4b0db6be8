"""Sine: predict the next value of a series from the previous ``window`` values.

Data (core.data.sine): the signal sampled 0.01 apart; the first 10,000 points
train, the 1,000 points after them test. The model is a stacked recurrent
network (2-layer LSTM, hidden 30) whose top state at the last step goes
through a linear readout; the loss is the mean squared error.

``window_as`` decides how the window reaches the network:
    "timesteps"  (T=window, B, 1): one value per step, so the hidden-state
                 heatmap has one column per past value (the default preset).
    "features"   (T=1, B, window): the whole window as ONE timestep of
                 ``window`` features. This is what the TensorFlow tutorial's
                 code does (its ``generate_data`` builds X as
                 ``[seq[i:i+TIMESTEPS]]``, shape (N, 1, 10), and feeds it to
                 ``dynamic_rnn`` batch-major), although its comments speak of
                 10 timesteps. The ``seed`` preset keeps that quirk.

Presets
    default  timesteps, 2-layer LSTM 30, batch 32, Adam 0.03 with a cosine decay
             to 1% over 3,000 steps: test RMSE <= 0.001.
    seed     the TensorFlow tutorial (HIDDEN_SIZE 30, NUM_LAYERS 2, TIMESTEPS 10,
             BATCH_SIZE 32, Adagrad lr 0.1, 3,000 TRAINING_STEPS, MSE, linear
             readout of the last output, BasicLSTMCell's forget_bias 1.0 as a
             +1 forget-gate bias at init). Differences we keep on purpose: the
             tutorial samples with ``np.linspace(0, 100, 10000)`` (spacing
             0.010001) and restarts its test series at t = 100; we sample at
             exactly 0.01 and test on the 1,000 points that follow the training
             points (windows may reach back into training inputs). TF's Glorot
             init is replaced by the layers' PyTorch-style init.

Metrics: ``rmse`` (one-step predictions on the test points, against the clean
signal), ``val_loss`` (their MSE) and ``forecast_rmse`` (free-running forecast,
predictions fed back, over ``forecast_steps`` points after the training data).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from core import losses
from core.config import (Param, batch_size, cell, clip, hidden_size, learning_rate, momentum, num_layers,
                         optimizer)
from core.data.sine import SIGNALS, make_sine_data
from core.experiments.base import Preset, Target
from core.views import Metric
from core.experiments.common import NeuralExperiment, build_optimizer, layer_traces
from core.nn.dense import Dense
from core.nn.module import prefixed
from core.nn.recurrent import make_recurrent
from core.probe import Probe, frozen_array
from core import views as V


class Sine(NeuralExperiment):
    id = "sine"
    title = "Sine prediction"
    description = "An LSTM predicts the next point of a sine wave from the previous 10 points."
    hyperparams = (
        Param("window", "int", 10, "Past values the model sees to predict the next one.", 1, 100),
        Param("window_as", "str", "timesteps", "'timesteps': the window is T steps of 1 value; 'features': "
              "ONE step of T values (the TensorFlow tutorial's quirk).", choices=("timesteps", "features")),
        Param("signal", "str", "sine", "The series: 'sine' = sin(t); 'sum' = a sum of three sines.",
              choices=SIGNALS),
        Param("noise", "float", 0.0, "Std of Gaussian noise added to the observed series (the test RMSE is "
              "measured against the clean signal).", 0.0, 1.0),
        cell("lstm"),
        hidden_size(30, high=256),
        num_layers(2),
        batch_size(32),
        optimizer("adam"),
        learning_rate(0.03),
        momentum(0.9),
        Param("lr_schedule", "str", "cosine", "'constant', or 'cosine': decay learning_rate to 1% over "
              "decay_steps, then hold.", choices=("constant", "cosine"), live=True),
        Param("decay_steps", "int", 3000, "Length of the cosine learning-rate decay (steps).", 1, 1_000_000,
              live=True),
        clip(5.0),
        Param("forget_bias", "float", 0.0, "Added to the LSTM forget-gate bias at init (TensorFlow's "
              "BasicLSTMCell uses 1.0).", 0.0, 5.0),
        Param("forecast_steps", "int", 100, "Points of the free-running forecast (predictions fed back; "
              "each costs one forward pass).", 1, 1000, live=True),
    )
    presets = {
        "default": Preset("default", "10 timesteps of one value, 2-layer LSTM 30, batch 32, Adam 0.03 with "
                          "cosine decay: test RMSE <= 0.001 in 3,000 steps.", {}, steps=3000),
        "seed": Preset("seed", "The TensorFlow tutorial: the window as ONE timestep of 10 features, 2-layer "
                       "LSTM 30, batch 32, Adagrad 0.1, 3,000 steps, forget bias 1.",
                       {"window_as": "features", "optimizer": "adagrad", "learning_rate": 0.1,
                        "lr_schedule": "constant", "clip": 0.0, "forget_bias": 1.0}, steps=3000,
                       target=Target("rmse", 0.01, "min")),
    }
    view_types = (V.MetricCurves, V.SeriesForecast, V.SeriesWindow, V.LayerStates, V.Outputs)
    metrics = (V.loss("loss"), V.loss("val_loss"), Metric("rmse", "quality", "lower"),
               V.diagnostic("forecast_rmse", "lower"))
    # an evaluation (1,000 one-step predictions and a 100-point free-running forecast, 100 forward passes one
    # after another) costs ~20 training steps of either preset: every 150 steps (13 evaluations in 3,000) made it
    # 8-10% of a run (the seed preset 9.9-10.1%), every 250 (10 evaluations) ~8%
    eval_every = 250
    target = Target("rmse", 0.001, "min")

    def __init__(self, config: Mapping[str, Any] | None = None, seed: int = 0):
        super().__init__(config, seed)
        c = self.config
        self.window = c["window"]
        self.data = make_sine_data(c["window"], kind=c["signal"], noise=c["noise"], rng=self.rng)
        self.train_x, self.train_y = self.data.train()  # (N, W), (N,)
        self.test_x, self.test_y, self.test_t = self.data.test()  # (1000, W), (1000,), (1000,)
        D = 1 if c["window_as"] == "timesteps" else self.window
        self.rnn = make_recurrent(c["cell"], D, c["hidden_size"], c["num_layers"], rng=self.rng)
        self.out = Dense(c["hidden_size"], 1, self.rng)
        if c["forget_bias"] and c["cell"] == "lstm":
            _add_forget_bias(self.rnn.params, c["hidden_size"], c["forget_bias"])
        self.params = {**prefixed("rnn", self.rnn.params), **prefixed("out", self.out.params)}
        self.optimizer = build_optimizer(c)
        self._set_lr()
        self._views_cache: tuple[int, V.SeriesForecast] | None = None

    # -- model ------------------------------------------------------------------------
    def _seq(self, windows: np.ndarray) -> np.ndarray:
        """Windows (B, W) -> network input: (W, B, 1) for timesteps, (1, B, W) for features."""
        if self.config["window_as"] == "timesteps":
            return np.ascontiguousarray(windows.T[:, :, None])  # (T=W, B, 1)
        return windows[None, :, :]  # (1, B, W)

    def _forward(self, windows: np.ndarray):
        """Windows (B, W) -> predictions (B,), top hidden states (T, B, H), caches."""
        h, _, rcache = self.rnn.forward(self._seq(windows))  # (T, B, H)
        pred, ocache = self.out.forward(h[-1])  # (B, 1)
        return pred[:, 0], h, (rcache, ocache)

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """One-step predictions (B,) for windows (B, W)."""
        return self._forward(windows)[0]

    def _set_lr(self) -> None:
        lr = self.config["learning_rate"]
        if self.config["lr_schedule"] == "cosine":
            frac = min(self.step / self.config["decay_steps"], 1.0)
            lr *= 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * frac))
        self.optimizer.set(lr=lr)

    def _apply_live(self, name: str, value: Any) -> None:
        super()._apply_live(name, value)
        self._views_cache = None
        if name in ("learning_rate", "lr_schedule", "decay_steps", "optimizer"):
            self._set_lr()

    def train_step(self) -> dict[str, float]:
        idx = self.rng.integers(0, len(self.train_y), size=self.config["batch_size"])
        xb, yb = self.train_x[idx], self.train_y[idx]  # (B, W), (B,)
        pred, h, (rcache, ocache) = self._forward(xb)
        loss, dpred = losses.mse(pred, yb)  # dpred (B,)
        dh_top, ograds = self.out.backward(dpred[:, None], ocache)  # (B, H)
        dy = np.zeros_like(h)  # (T, B, H): loss on the last step only
        dy[-1] = dh_top
        _, _, rgrads, _ = self.rnn.backward(dy, rcache, need_dx=False)
        grads = {**prefixed("rnn", rgrads), **prefixed("out", ograds)}
        self._set_lr()
        self.update(loss, grads)
        return {"loss": loss}

    def evaluate(self) -> dict[str, float]:
        f = self.series_forecast()
        return {"rmse": f.rmse, "val_loss": f.rmse ** 2, "forecast_rmse": f.forecast_rmse}

    def forecast(self, steps: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Free-running forecast after the training points: t (S,), forecast (S,), clean truth (S,).

        Starts from the last ``window`` observed training values; each prediction
        becomes the newest input of the next window.
        """
        S = min(steps or self.config["forecast_steps"], self.data.n_test)
        n0 = self.data.n_train
        buf = np.empty(self.window + S, dtype=self.data.observed.dtype)
        buf[: self.window] = self.data.observed[n0 - self.window: n0]
        for i in range(S):
            buf[self.window + i] = self.predict(buf[None, i: i + self.window])[0]
        return (self.data.t[n0: n0 + S], buf[self.window:].astype(np.float64),
                self.data.clean[n0: n0 + S].astype(np.float64))

    # -- display ----------------------------------------------------------------------
    def probe(self) -> Probe:
        """The first test window: inputs, hidden states, and the readout applied to every step."""
        xw = self.test_x[:1]  # (1, W)
        target = float(self.test_y[0])
        pred, h, (rcache, ocache) = self._forward(xw)
        loss_grad = 2.0 * (pred - target)  # d(mse)/dpred, B = 1
        dh_top, _ = self.out.backward(loss_grad[:, None].astype(h.dtype), ocache)
        dy = np.zeros_like(h)
        dy[-1] = dh_top
        _, _, _, dh_norms = self.rnn.backward(dy, rcache, need_dx=False)
        per_step, _ = self.out.forward(h[:, 0, :])  # (T, 1): what the model would say after each step
        seq = self._seq(xw)[:, 0, :]  # (T, D)
        T = seq.shape[0]
        if self.config["window_as"] == "timesteps":
            labels = tuple(f"{v:.2f}" for v in seq[:, 0])
        else:
            labels = (f"x[t-{self.window}..t-1]",)
        targets = tuple([""] * (T - 1) + [f"{target:.3f}"])
        return Probe(
            experiment=self.id, step=self.step, input_labels=labels, inputs=frozen_array(seq),
            layers=layer_traces(self.rnn, rcache, self.config["cell"], "tanh", dh_norms),
            outputs=frozen_array(per_step), output_labels=("next value",),
            target_labels=targets, prediction_labels=tuple(f"{v:.3f}" for v in per_step[:, 0]),
            correct=None,
            views=(V.SeriesWindow(frozen_array(xw[0]), float(self.test_t[0]), target, float(pred[0])),),
            output_range=(float(np.min(self.test_y)), float(np.max(self.test_y))),
        )

    def series_forecast(self) -> V.SeriesForecast:
        """Test-range predictions and the free-running forecast (computed once per training step;
        ``evaluate`` reads the same numbers)."""
        if self._views_cache is not None and self._views_cache[0] == self.step:
            return self._views_cache[1]
        pred = self.predict(self.test_x)  # (1000,)
        ft, forecast, ftruth = self.forecast()
        err = pred.astype(np.float64) - self.test_y
        out = V.SeriesForecast(x=frozen_array(self.test_t), true=frozen_array(self.test_y), pred=frozen_array(pred),
                               forecast_x=frozen_array(ft), forecast=frozen_array(forecast),
                               rmse=float(np.sqrt(np.mean(err * err))),
                               forecast_rmse=float(np.sqrt(np.mean((forecast - ftruth) ** 2))))
        self._views_cache = (self.step, out)
        return out

    def views(self) -> tuple[V.View, ...]:
        return (self.series_forecast(),)

    def load_extra_state(self, state: Mapping[str, np.ndarray]) -> None:
        super().load_extra_state(state)
        self._views_cache = None  # new parameters: recompute predictions


def _add_forget_bias(params: dict[str, np.ndarray], H: int, value: float) -> None:
    """Add ``value`` to the forget-gate slice [H:2H] of every layer's input bias (gate order i, f, g, o).

    With two bias vectors per layer (PyTorch's b_ih and b_hh) only the first gets it.
    """
    seen_layers = set()
    for name in sorted(params):
        arr = params[name]
        leaf = name.split(".")[-1]
        layer = name.rsplit(".", 1)[0] if "." in name else ""
        if arr.ndim == 1 and arr.shape[0] == 4 * H and leaf.startswith("b") and layer not in seen_layers:
            arr[H: 2 * H] += value
            seen_layers.add(layer)


EXPERIMENT = Sine
