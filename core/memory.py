"""How much memory a run will need, estimated from its settings before anything is built.

    est = estimate_memory(cls, config)    # MemoryEstimate: total bytes, parts, the settings behind them
    check_memory(cls, config)             # ConfigError if est.total > available_memory()
    available_memory()                    # bytes the system can give (MemAvailable), or None

The CLI calls :func:`check_memory` before it builds a model, and so should the
GUI before (re)building one: settings inside the declared ranges can still ask
for more memory than the machine has (char-lm with hidden_size=1024,
batch_size=512, seq_len=400, num_layers=3 needs tens of GiB), and NumPy would
then fail with a bare MemoryError mid-way, or the system would start swapping.

The estimate is cheap (arithmetic on the config; for char-lm the size of the
corpus file) and deliberately on the high side. It counts, in bytes of the
model's dtype (float32 for the language models, float64 otherwise):

* parameters, their gradients (one copy per thread) and the optimizer's state
  (Adam 2 copies, momentum / Adagrad / RMSprop 1, SGD 0);
* activations kept for backpropagation through time: per layer about
  ``seq_len x batch_size x (k x hidden_size + input size)`` with k = 2 (rnn),
  7 (gru), 8 (lstm), plus the backward pass's work arrays for one layer
  (k = 3 / 11 / 11) and the output logits ``seq_len x batch_size x V``
  three times (logits, probabilities, their gradient);
* the evaluation's forward pass over ``val_tokens`` (language models) or the
  test set, when that is larger than the training step's;
* the data: ~24 bytes per corpus byte for char-lm and word-lm, 9 bytes per
  MNIST pixel.

For char-lm with a corpus file the vocabulary is taken as at most 256
characters; for word-lm as ``vocab_size`` words.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.config import ConfigError, resolve

__all__ = ["MemoryEstimate", "estimate_memory", "available_memory", "check_memory", "format_bytes"]

GiB = 2**30
_FORWARD = {"rnn": 2, "gru": 7, "lstm": 8}  # arrays of hidden_size kept per timestep and layer
_BACKWARD = {"rnn": 3, "gru": 11, "lstm": 11}  # work arrays of hidden_size per timestep (one layer)
_GATES = {"rnn": 1, "gru": 3, "lstm": 4}
_OPTIM_COPIES = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2}
_MNIST_PIXELS = 70_000 * 784
_BYTES_PER_CORPUS_BYTE = 24  # text, ids (int64), streams (int64)
_DRIVERS = {
    "activations": ("seq_len", "batch_size", "hidden_size", "num_layers"),
    "logits": ("seq_len", "batch_size", "vocab_size"),
    "evaluation": ("val_tokens", "hidden_size", "num_layers", "vocab_size"),
    "parameters": ("hidden_size", "num_layers", "vocab_size", "embedding_size", "threads"),
    "data": ("corpus", "data_dir"),
}
_PART_NAMES = {
    "activations": "activations kept for backpropagation through time",
    "logits": "output logits",
    "evaluation": "the evaluation pass",
    "parameters": "parameters, gradients and optimizer state",
    "data": "the data",
}


def format_bytes(n: float) -> str:
    """``3.9 GiB``, ``120 MiB``, ``512 KiB``."""
    for unit, size in (("GiB", GiB), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory of a run: ``total`` bytes, split in ``parts`` (name -> bytes)."""

    total: int
    parts: dict[str, int] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def largest(self) -> str:
        """Name of the largest part."""
        return max(self.parts, key=self.parts.get) if self.parts else ""

    def drivers(self) -> list[str]:
        """``key=value`` of the settings behind the largest part (those present in the config)."""
        keys = _DRIVERS.get(self.largest, ())
        if self.largest == "logits" and "vocab_size" not in self.config:
            keys = ("seq_len", "batch_size")
        return [f"{k}={self.config[k]}" for k in keys if k in self.config and self.config[k] not in ("", None)]


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation: /proc/meminfo MemAvailable (Linux),
    else free physical pages from ``os.sysconf``; None if neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _recurrent(cell: str, T: int, B: int, D: int, H: int, L: int, dropout: bool) -> int:
    """Values (not bytes) a recurrent stack keeps for backward plus one layer's backward work arrays."""
    k = _FORWARD.get(cell, 8)
    kept = sum(T * B * (k * H + (D if l == 0 else H) + (H if dropout else 0)) for l in range(L))
    return kept + T * B * (_BACKWARD.get(cell, 11) * H + max(D, H))


def _recurrent_params(cell: str, D: int, H: int, L: int) -> int:
    g = _GATES.get(cell, 4)
    return sum(g * H * ((D if l == 0 else H) + H + 2) for l in range(L))


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size if path else 0
    except OSError:
        return 0


def _folder_size(path: str) -> int:
    try:
        return sum(_file_size(os.path.join(path, n)) for n in os.listdir(path)) if path else 0
    except OSError:
        return 0


def estimate_memory(cls: type, config: Mapping[str, Any] | None = None) -> MemoryEstimate:
    """The estimated peak memory of training ``cls`` (an Experiment class) with ``config``.

    ``config`` holds values for some of the hyperparameters (a preset's values,
    ``--set`` overrides...); the others take their defaults. Raises ConfigError
    for values the experiment would refuse. Builds nothing and reads no data.
    """
    cfg = resolve(cls.hyperparams, config)
    exp_id = getattr(cls, "id", "")
    H = int(cfg.get("hidden_size", 0))
    L = int(cfg.get("num_layers", 1))
    B = int(cfg.get("batch_size", 1))
    cell = str(cfg.get("cell", "lstm"))
    threads = int(cfg.get("threads", 1))
    optim_copies = _OPTIM_COPIES.get(str(cfg.get("optimizer", "adam")), 2)
    parts: dict[str, int] = {}
    if getattr(cls, "is_language_model", False):
        nbytes = 4  # float32
        T = int(cfg["seq_len"])
        corpus = str(cfg.get("corpus", "") or "")
        data_dir = str(cfg.get("data_dir", "") or "")
        if "vocab_size" in cfg:  # word-lm: embedding size = hidden size
            V, E = int(cfg["vocab_size"]), H
            data = _folder_size(data_dir) if data_dir else 5_000_000
        else:
            size = _file_size(corpus)
            V = min(256, max(size, 2)) if corpus else 160
            E = int(cfg.get("embedding_size", 0))
            data = size if corpus else 500_000
        D = E or V
        params = (V * E) + _recurrent_params(cell, D, H, L) + H * V + V
        parts["parameters"] = params * nbytes * (1 + threads + optim_copies)
        dropout = float(cfg.get("dropout", 0.0)) > 0
        parts["activations"] = (T * B * D + _recurrent(cell, T, B, D, H, L, dropout)) * nbytes
        parts["logits"] = 3 * T * B * V * nbytes
        N = int(cfg.get("val_tokens", 0))
        ev = (N * D + _recurrent(cell, N, 1, D, H, L, False) + 3 * N * V) * nbytes
        parts["evaluation"] = max(0, ev - parts["activations"] - parts["logits"])
        parts["data"] = data * _BYTES_PER_CORPUS_BYTE
    else:
        nbytes = 8  # float64 (the small experiments)
        data_dir = str(cfg.get("data_dir", "") or "")
        mnist = bool(data_dir) and exp_id in ("digits-rnn", "mlp-digits")
        rows, cols = (28, 28) if mnist else (8, 8)
        T = {"binary-addition": int(cfg.get("bits", 8)), "sine": int(cfg.get("window", 10)),
             "digits-rnn": rows}.get(exp_id, int(cfg.get("seq_len", 1)))
        D = cols if exp_id == "digits-rnn" else (rows * cols if exp_id == "mlp-digits" else 2)
        params = _recurrent_params(cell, D, H, L) + H * 10 + 10 if H else 1000
        parts["parameters"] = params * nbytes * (1 + threads + optim_copies)
        if H:
            parts["activations"] = (T * B * D + _recurrent(cell, T, B, D, H, L, False)) * nbytes
            N = 10_000 if mnist else 360  # the test set, evaluated in one pass
            ev = (T * N * D + _recurrent(cell, T, N, D, H, L, False)) * nbytes
            parts["evaluation"] = max(0, ev - parts["activations"])
        parts["data"] = _MNIST_PIXELS * 9 if mnist else 0
    parts = {k: int(v) for k, v in parts.items()}
    return MemoryEstimate(sum(parts.values()), parts, cfg)


def check_memory(cls: type, config: Mapping[str, Any] | None = None,
                 available: int | None = None) -> MemoryEstimate:
    """Raise ConfigError if training ``cls`` with ``config`` would need more memory than is available.

    ``available`` defaults to :func:`available_memory` (no check when unknown).
    The message is one line naming the settings behind the largest part, the
    estimate and the memory available. Returns the estimate otherwise.
    """
    est = estimate_memory(cls, config)
    if available is None:
        available = available_memory()
    if available is not None and est.total > available:
        drivers = est.drivers()
        names = ", ".join(d.split("=")[0] for d in drivers)
        raise ConfigError(
            f"{', '.join(drivers) or 'these settings'}: training would need about {format_bytes(est.total)} "
            f"of memory ({_PART_NAMES.get(est.largest, est.largest)}: {format_bytes(est.parts[est.largest])}), "
            f"more than the {format_bytes(available)} available; lower {names or 'them'}")
    return est
