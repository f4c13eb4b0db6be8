"""Digits RNN: an LSTM reads a digit image row by row and classifies it after the last row.

Input (T = rows, B, D = columns); the readout is a Dense layer on the top
layer's last hidden state, trained with softmax cross-entropy. The probe
applies the readout to every step's state, so the digits panel shows the class
probabilities after each row (how the guess firms up while the image is read).

Data: scikit-learn's bundled 8x8 digits (fixed stratified 80/20 split) or
MNIST IDX files from ``data_dir`` (28 rows of 28 pixels). Epochs are
shuffled with ``self.rng``; the batch cursor is checkpointed.

Presets
    default  LSTM 64, batch 64, Adam 0.02, clip 5: >= 97% test accuracy on the
             8x8 digits in ~250-350 steps.
    seed     the seed's MNIST LSTM (aymericdamien's TensorFlow recurrent_network.py):
             LSTM 128, batch 128, Adam 0.001, 10,000 training steps.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from core import losses
from core.config import batch_size, cell, clip, hidden_size, learning_rate, momentum, num_layers, optimizer
from core.data.images import EpochBatcher, load_images
from core.experiments.base import Preset, Target
from core.experiments.common import NeuralExperiment, build_optimizer, layer_traces
from core.experiments.mlp_digits import CLASSES, _probe_index, data_dir_param
from core.nn.dense import Dense, softmax
from core.nn.module import prefixed
from core.nn.recurrent import make_recurrent
from core import views as V
from core.probe import Probe, frozen_array


class DigitsRNN(NeuralExperiment):
    id = "digits-rnn"
    title = "Digits, row by row (LSTM)"
    description = "An LSTM reads a digit image one row per timestep and names the digit at the end."
    hyperparams = (
        cell("lstm"),
        hidden_size(64),
        num_layers(1),
        batch_size(64),
        optimizer("adam"),
        learning_rate(0.02),
        momentum(0.9),
        clip(5.0),
        data_dir_param(),
    )
    presets = {
        "default": Preset("default", "LSTM 64 over the 8 rows of the 8x8 digits, Adam 0.02, batch 64.", {},
                          steps=1500),
        "seed": Preset("seed", "The seed's MNIST LSTM tutorial: hidden 128, batch 128, Adam 0.001, "
                       "10,000 steps (give data_dir for MNIST).",
                       {"hidden_size": 128, "batch_size": 128, "learning_rate": 0.001, "clip": 0.0},
                       steps=10_000),
    }
    view_types = (V.MetricCurves, V.DigitRead, V.LayerStates, V.Outputs)
    metrics = (V.loss("loss"), V.loss("val_loss"), V.accuracy("accuracy"), V.accuracy("train_accuracy"))
    eval_every = 50
    target = Target("accuracy", 0.97, "max")

    def __init__(self, config: Mapping[str, Any] | None = None, seed: int = 0):
        super().__init__(config, seed)
        c = self.config
        self.data = load_images(c["data_dir"])
        R, C = self.data.shape
        self.rnn = make_recurrent(c["cell"], C, c["hidden_size"], c["num_layers"], rng=self.rng)
        self.out = Dense(c["hidden_size"], 10, self.rng)
        self.params = {**prefixed("rnn", self.rnn.params), **prefixed("out", self.out.params)}
        self.optimizer = build_optimizer(c)
        # time-major copies: (R, N, C)
        self.train_seq = np.ascontiguousarray(self.data.x_train.transpose(1, 0, 2))
        self.test_seq = np.ascontiguousarray(self.data.x_test.transpose(1, 0, 2))
        self.batcher = EpochBatcher(len(self.data.y_train))
        self.probe_index = self.data.typical_test_index()  # a clear "3", not whatever comes first

    def _forward(self, x: np.ndarray):
        """x (T, B, C) -> logits (B, 10) from the last step, hidden (T, B, H), caches."""
        h, _, rcache = self.rnn.forward(x)  # (T, B, H)
        logits, ocache = self.out.forward(h[-1])  # (B, 10)
        return logits, h, (rcache, ocache)

    def _loss_and_grads(self, x: np.ndarray, labels: np.ndarray):
        logits, h, (rcache, ocache) = self._forward(x)
        loss, dlogits, probs = losses.softmax_cross_entropy(logits, labels)
        dh_top, ograds = self.out.backward(dlogits, ocache)  # (B, H)
        dy = np.zeros_like(h)  # (T, B, H): loss at the last step only
        dy[-1] = dh_top
        _, _, rgrads, dh_norms = self.rnn.backward(dy, rcache, need_dx=False)
        grads = {**prefixed("rnn", rgrads), **prefixed("out", ograds)}
        return loss, grads, probs, h, rcache, dh_norms

    def train_step(self) -> dict[str, float]:
        idx = self.batcher.next(self.config["batch_size"], self.rng)
        labels = self.data.y_train[idx]
        loss, grads, probs, *_ = self._loss_and_grads(self.train_seq[:, idx], labels)
        self.update(loss, grads)
        return {"loss": loss, "train_accuracy": float(np.mean(probs.argmax(axis=1) == labels))}

    def evaluate(self) -> dict[str, float]:
        logits, _, _ = self._forward(self.test_seq)
        loss, _, probs = losses.softmax_cross_entropy(logits, self.data.y_test)
        return {"accuracy": float(np.mean(probs.argmax(axis=1) == self.data.y_test)), "val_loss": loss}

    def set_probe_example(self, index: int | None = None, random: bool = False, **kwargs: Any) -> None:
        """Probe test image ``index`` (or a random one)."""
        self.probe_index = _probe_index(self, index, random, kwargs)

    def probe(self) -> Probe:
        i = self.probe_index
        x = self.test_seq[:, i: i + 1]  # (T, 1, C)
        label = int(self.data.y_test[i])
        _, _, _, h, rcache, dh_norms = self._loss_and_grads(x, np.array([label]))
        step_logits, _ = self.out.forward(h[:, 0, :])  # (T, 10): readout after every row
        probs = softmax(step_logits)
        preds = probs.argmax(axis=1)
        T = x.shape[0]
        return Probe(
            experiment=self.id, step=self.step,
            input_labels=tuple(f"row {t}" for t in range(T)), inputs=frozen_array(x[:, 0, :]),
            layers=layer_traces(self.rnn, rcache, self.config["cell"], "tanh", dh_norms),
            outputs=frozen_array(probs), output_labels=CLASSES,
            target_labels=tuple([""] * (T - 1) + [str(label)]),
            prediction_labels=tuple(str(p) for p in preds),
            correct=frozen_array(preds == label),
            views=(V.DigitRead(frozen_array(self.data.x_test[i]), label, int(preds[-1]), i),),
        )

    def extra_state(self) -> dict[str, np.ndarray]:
        return {f"batcher.{k}": v for k, v in self.batcher.state().items()}

    def load_extra_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.batcher.load_state({k.split(".", 1)[1]: v for k, v in state.items() if k.startswith("batcher.")})


EXPERIMENT = DigitsRNN
