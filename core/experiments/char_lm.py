"""char-lm: a character language model, and the stream-LM machinery word-lm shares.

Model (time-major, ``V`` = vocabulary size)::

    ids (T, B) -> one-hot (T, B, V) or Embedding (T, B, E) -> [dropout]
               -> recurrent stack (rnn / lstm / gru, 1-3 layers) (T, B, H) -> [dropout]
               -> Dense (T, B, V) logits, all timesteps in one matmul -> softmax cross-entropy

Training walks the training text as ``B`` contiguous streams (the PTB
reader's layout, :func:`core.data.text.batchify`) in windows of ``seq_len``,
carrying the recurrent state from one window to the next (truncated BPTT).
When the next window would run off the end (min-char-rnn's test
``p + seq_len + 1 >= len``) the cursor returns to 0 and the state to zeros.
With ``batch_size = 1`` this is exactly min-char-rnn's sequential walk.

Held-out data is the last ``val_fraction`` of the corpus. ``evaluate`` scores
a fixed, bounded slice of it (``val_tokens`` characters: windows of 500
spread evenly over the held-out text, each read from zero state) so it costs
tens of milliseconds, and reports a
bigram model (add-one smoothing, fitted on the training text) on the same
characters as ``bigram_val_loss``.

Presets:

* ``min-char-rnn`` — Karpathy's gist: tanh RNN, hidden 100, one-hot input,
  25 steps, batch 1, weights N(0, 0.01²) and zero biases, Adagrad 0.1, every
  gradient clamped to ±5, gradient of the loss *summed* over the 25 steps
  (``loss_reduction = "sum"``); ``smooth_loss`` is his smoothed per-sequence
  sum (0.999 / 0.001, starting at ``-log(1/V) * seq_len``). Differences: the
  last 10% of the text is held out for validation, float32, and the gist
  loops forever — the preset trains 20,000 steps (~500,000 characters, about
  one pass over the default corpus).
* ``lstm`` — LSTM 128 on a 32-d embedding, 32 streams x 32 steps, Adam
  0.008, global-norm clip 5: val_loss 1.34 nats/char after 2,000 steps on
  the default corpus (seed 0; the bigram model scores 2.31), ~63 steps/s.
  Sample lines continue ``prime`` ("" = "The " when the corpus can spell it).

``threads`` (default 1) > 1 runs each training step's forward, loss and backward on
that many slices of the streams in threads (core.nn.parallel; gradients summed, the
same losses to float rounding). 'lstm' preset, 2 cores (bench_engine.py ``--only lm``):
x1.15-1.45 vs threads=1 when both cores are idle (2 BLAS threads do x1.3 there), ~x0.75
when another process holds a core (where 2 BLAS threads fall 5-30x). Opt-in only: the
GUI already runs two threads.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Sequence

import numpy as np

from core import config as C
from core.config import ConfigError, Param
from core.data.text import CharVocab, batchify, default_corpus, display_char, load_text, split_tail
from core.experiments.base import Preset, Target
from core.experiments.common import NeuralExperiment, build_optimizer, layer_traces
from core.losses import softmax_cross_entropy
from core.nn.dense import Dense
from core.nn.dropout import Dropout
from core.nn.embedding import Embedding
from core.nn.module import prefixed
from core.nn.parallel import ChunkRunner, chunk_rngs, join_state, split_state, sum_grads
from core.nn.recurrent import make_recurrent
from core.probe import Probe, frozen_array
from core import views as V
from core.sampling import RowSampler, make_stepper, sample_indices

SAMPLE_SEED = 1234  # views() samples with this fixed seed: they change only when the model does
SMOOTHING = 0.999  # min-char-rnn's smooth_loss decay


def _dropout_param(default: float) -> Param:
    return dataclasses.replace(
        C.dropout(default),
        help="Dropout probability on the input vectors, between layers and before the output layer "
             "(Zaremba et al.); 0 = off.")


def sampling_params(prime: str, length: int) -> tuple[Param, ...]:
    """The live sampling controls shared by the language models."""
    return (
        Param("temperatures", "floats", (0.2, 0.6, 1.2),
              "Temperatures of the sample lines shown while training (comma-separated; an argmax line is added).",
              0.01, 5.0, live=True),
        Param("prime", "str", prime, "Text the samples start from (\"\" = \"The \" if the corpus has those "
              "letters, else a line break).", live=True),
        Param("sample_length", "int", length, "Length of each sample line.", 1, 2000, live=True),
    )


def _flatten_state(state: Any, prefix: str = "state") -> dict[str, np.ndarray]:
    """A nested list/tuple of arrays -> {"state.0.1": array, ...}."""
    if isinstance(state, np.ndarray):
        return {prefix: state}
    out: dict[str, np.ndarray] = {}
    for i, s in enumerate(state):
        out.update(_flatten_state(s, f"{prefix}.{i}"))
    return out


def _unflatten_state(template: Any, flat: Mapping[str, np.ndarray], prefix: str = "state") -> Any:
    """Inverse of :func:`_flatten_state`, shaped like ``template`` (checks shapes)."""
    if isinstance(template, np.ndarray):
        if prefix not in flat:
            raise ValueError(f"checkpoint is missing the carried hidden state {prefix!r}")
        a = np.asarray(flat[prefix])
        if a.shape != template.shape:
            raise ValueError(f"checkpoint state {prefix!r} has shape {a.shape}, the model expects {template.shape}")
        return a.astype(template.dtype, copy=True)
    parts = [_unflatten_state(t, flat, f"{prefix}.{i}") for i, t in enumerate(template)]
    return tuple(parts) if isinstance(template, tuple) else parts


LM_VIEWS = (V.MetricCurves, V.TextSamples, V.ProbeText, V.LayerStates, V.Outputs)


class StreamLM(NeuralExperiment):
    """A recurrent language model trained on ``B`` contiguous token streams with carried state.

    Subclasses load the data in ``_load_data`` (setting ``self.vocab_size``,
    ``self.train_ids``, ``self.val_ids``) and say how tokens are shown and
    encoded (``_label``, ``_encode_prime``, ``_decode``).
    """

    is_language_model = True
    dtype = np.float32
    probe_len = 40  # tokens in the probe window
    eval_stream_len = 500  # validation streams are this long (few streams: little warm-up from zero state)

    # -- construction ---------------------------------------------------------------
    def __init__(self, config: Mapping[str, Any] | None = None, seed: int = 0):
        super().__init__(config, seed)
        cfg = self.config
        self._load_data()
        B, T = cfg["batch_size"], cfg["seq_len"]
        n = len(self.train_ids) // B
        if n < T + 2:
            raise ConfigError(
                f"seq_len: the training text ({len(self.train_ids)} tokens) is too short for batch_size={B} "
                f"streams of seq_len={T}: need at least {(T + 2) * B} tokens; use a longer corpus or smaller values")
        if len(self.val_ids) < 2:
            raise ConfigError(f"the validation text has {len(self.val_ids)} tokens; need at least 2 "
                              f"(a longer corpus, or a larger val_fraction)")
        self._streams = np.ascontiguousarray(batchify(self.train_ids, B).T)  # (N, B)
        self._build_model()
        # threads > 1: each training step runs forward + loss + backward on slices of the streams
        # in that many threads (core.nn.parallel); evaluation, probe and sampling stay serial
        self._runner = ChunkRunner(cfg.get("threads", 1))
        self.optimizer = build_optimizer(cfg)
        self._cursor = 0
        self._state: Any = None  # carried recurrent state, None = zeros
        self._smooth = -math.log(1.0 / self.vocab_size) * T  # min-char-rnn's smooth_loss start
        self._probe_cache: tuple[np.ndarray, tuple[str, ...]] | None = None  # see _probe_tokens
        self._prepare_eval()

    def _build_model(self) -> None:
        cfg, rng, V = self.config, self.rng, self.vocab_size
        E = self._embedding_size()
        self.embed = Embedding(V, E, rng, self.dtype) if E else None
        self._eye = None if E else np.eye(V, dtype=self.dtype)  # one-hot rows, (V, V)
        D = E or V
        self.rnn = make_recurrent(cfg["cell"], D, cfg["hidden_size"], cfg["num_layers"], rng=rng,
                                  dropout=cfg["dropout"], dtype=self.dtype)
        self.out = Dense(cfg["hidden_size"], V, rng, self.dtype)
        self.drop = Dropout(cfg["dropout"])
        self.params = {**(prefixed("embed", self.embed.params) if self.embed else {}),
                       **prefixed("rnn", self.rnn.params), **prefixed("out", self.out.params)}
        self._init_params()
        self._state_template = self.rnn.forward(self._inputs(np.zeros((1, cfg["batch_size"]), np.int64)),
                                                train=False)[1]

    def _embedding_size(self) -> int:
        return self.config["embedding_size"]

    def _init_params(self) -> None:
        """Hook: re-initialise ``self.params`` in place (presets that follow a paper's init)."""

    # -- hooks for subclasses -----------------------------------------------------
    def _load_data(self) -> None:
        raise NotImplementedError

    def _label(self, token: int) -> str:
        raise NotImplementedError

    def _encode_prime(self, prime: str) -> np.ndarray:
        raise NotImplementedError

    def _decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    # -- model ------------------------------------------------------------------------
    def _inputs(self, ids: np.ndarray) -> np.ndarray:
        """ids (T, B) -> input vectors (T, B, D) (embedding rows or one-hot rows)."""
        return self.embed.params["E"][ids] if self.embed else self._eye[ids]

    def _forward(self, ids: np.ndarray, h0: Any, train: bool,
                 rng: np.random.Generator | None = None) -> tuple[np.ndarray, Any, tuple]:
        """ids (T, B) -> (logits (T, B, V), h_last, caches). Dropout draws from ``rng`` (default
        self.rng) when training."""
        rng = (self.rng if rng is None else rng) if train else None
        x = self._inputs(ids)  # (T, B, D)
        x, m_in = self.drop.forward(x, rng, train)
        y, h_last, rcache = self.rnn.forward(x, h0, rng=rng, train=train)  # (T, B, H)
        y, m_out = self.drop.forward(y, rng, train)
        logits, ocache = self.out.forward(y)  # (T, B, V)
        return logits, h_last, (ids, m_in, rcache, m_out, ocache)

    def _backward(self, dlogits: np.ndarray, caches: tuple) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """dlogits (T, B, V) -> (grads keyed like self.params, dh_norms (L, T))."""
        ids, m_in, rcache, m_out, ocache = caches
        dy, g_out = self.out.backward(dlogits, ocache)  # (T, B, H)
        dy, _ = self.drop.backward(dy, m_out)
        dx, _, g_rnn, dh_norms = self.rnn.backward(dy, rcache, None, need_dx=self.embed is not None)
        grads = {**prefixed("rnn", g_rnn), **prefixed("out", g_out)}
        if self.embed is not None:
            dx, _ = self.drop.backward(dx, m_in)
            grads.update(prefixed("embed", self.embed.backward(dx, ids)[1]))
        return grads, dh_norms

    # -- training ----------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        T = self.config["seq_len"]
        if self._cursor + T + 1 >= len(self._streams):  # min-char-rnn: back to the start, zero state
            self._cursor, self._state = 0, None
        p = self._cursor
        x = self._streams[p:p + T]  # (T, B)
        y = self._streams[p + 1:p + T + 1]  # (T, B)
        B = x.shape[1]
        summed = self.config.get("loss_reduction", "mean") == "sum"
        slices = self._runner.slices(B)  # one slice unless threads > 1
        states = split_state(self._state, slices)
        rngs = [self.rng] * len(slices)
        if len(slices) > 1 and self.config.get("dropout", 0.0) > 0:
            rngs = chunk_rngs(self.rng, len(slices))  # one Generator shared by threads: any order

        def part(k: int, s: slice) -> tuple[float, float, dict[str, np.ndarray], Any]:
            """Streams s: (share of the loss, of the sequence loss, gradients, h_last)."""
            logits, h_last, caches = self._forward(x[:, s], states[k], train=True, rng=rngs[k])
            if summed:  # sum over time, mean over all B streams
                total, dlogits, _ = softmax_cross_entropy(logits, y[:, s], reduction="sum")
                seq_loss = total / B
                dlogits /= B
                loss = total / (T * B)
            else:
                loss, dlogits, _ = softmax_cross_entropy(logits, y[:, s])
                if s.stop - s.start != B:  # this slice's share of the mean over all streams
                    share = (s.stop - s.start) / B
                    loss *= share
                    dlogits *= share
                seq_loss = loss * T
            return loss, seq_loss, self._backward(dlogits, caches)[0], h_last

        parts = self._runner.map(part, slices)
        loss, seq_loss = sum(q[0] for q in parts), sum(q[1] for q in parts)
        grads = sum_grads([q[2] for q in parts])
        h_last = join_state([q[3] for q in parts])
        norm = self.update(loss, grads)
        self._cursor, self._state = p + T, h_last
        self._smooth = SMOOTHING * self._smooth + (1 - SMOOTHING) * seq_loss
        metrics = {"loss": float(loss), "grad_norm": norm}
        if "loss_reduction" in self.config:  # char-lm: min-char-rnn's smoothed per-sequence loss
            metrics["smooth_loss"] = float(self._smooth)
        return metrics

    # -- evaluation ---------------------------------------------------------------------
    def _prepare_eval(self) -> None:
        """The fixed validation slice: ``val_tokens`` tokens as Bv windows of ``eval_stream_len``
        spread evenly over the held-out text (a sample of all of it, not just its first pages).
        Inputs and targets (n, Bv)."""
        V = len(self.val_ids)
        L = min(self.config["val_tokens"], V - 1)
        Bv = max(1, L // self.eval_stream_len)
        n = L // Bv
        starts = np.linspace(0, V - n - 1, Bv).astype(np.int64)  # (Bv,)
        idx = starts[None, :] + np.arange(n)[:, None]  # (n, Bv)
        self._val_x = self.val_ids[idx]  # (n, Bv)
        self._val_y = self.val_ids[idx + 1]  # (n, Bv)

    def evaluate(self) -> dict[str, float]:
        """``val_loss`` (nats/token) and ``val_perplexity`` on the fixed validation slice, plus the baseline."""
        logits, _, _ = self._forward(self._val_x, None, train=False)  # (n, Bv, V)
        val_loss = _mean_nll(logits, self._val_y)
        out = {"val_loss": val_loss, "val_perplexity": float(math.exp(min(val_loss, 700.0)))}
        out.update(self._baseline())
        return out

    def _baseline(self) -> dict[str, float]:
        return {}

    # -- probe ---------------------------------------------------------------------------
    def _probe_window(self) -> np.ndarray:
        """probe_len + 1 validation tokens (inputs and the next-token targets)."""
        return self.val_ids[: self.probe_len + 1]

    def _probe_tokens(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """The probe window and every token's label, found once: both depend only on the data
        (char-lm's window search decodes candidate lines: ~60% of a probe's cost when repeated)."""
        if self._probe_cache is None:
            self._probe_cache = (self._probe_window(), tuple(self._label(t) for t in range(self.vocab_size)))
        return self._probe_cache

    def probe(self) -> Probe:
        w, labels = self._probe_tokens()
        x, y = w[:-1, None], w[1:, None]  # (T, 1)
        logits, _, caches = self._forward(x, None, train=False)  # (T, 1, V)
        _, dlogits, probs = softmax_cross_entropy(logits, y)
        _, dh_norms = self._backward(dlogits, caches)
        pred = probs[:, 0].argmax(axis=-1)  # (T,)
        cell = self.config["cell"]
        return Probe(
            experiment=self.id, step=self.step,
            input_labels=tuple(labels[t] for t in w[:-1]),
            inputs=frozen_array(self._inputs(x)[:, 0]),  # (T, D)
            layers=layer_traces(self.rnn, caches[2], cell, "tanh", dh_norms),
            outputs=frozen_array(probs[:, 0]),  # (T, V)
            output_labels=labels,
            target_labels=tuple(labels[t] for t in w[1:]),
            prediction_labels=tuple(labels[t] for t in pred),
            correct=frozen_array(pred == w[1:]),
            views=(V.ProbeText(self._decode(w[:-1]), float(_mean_nll(logits, y))),),
        )

    # -- sampling ------------------------------------------------------------------------
    def _sample_rows(self, prime: str, temperatures: Sequence[float], length: int,
                     rng: np.random.Generator) -> list[list[int]]:
        """One continuation of ``prime`` per temperature (0 = argmax), all rows in one batch.

        Row r divides its logits by temperatures[r]; one uniform draw per row and step. The prime
        runs through the general forward once; then each step runs the recurrent model through a
        stepper (core.sampling.make_stepper: weights prepared once, no caches) and the Dense layer
        and the draw into buffers: the same tokens as :meth:`_sample_rows_reference` (the same
        values to the bit, tested), at ~1/4 of its cost (char-lm 'lstm', tests/benchmarks/bench_views.py).
        """
        ids = self._encode_prime(prime)  # (P,)
        R = len(temperatures)
        logits, h, _ = self._forward(np.repeat(ids[:, None], R, axis=1), None, train=False)  # (P, R, V)
        step = make_stepper(self.rnn, h, R) if length > 1 else None
        if step is None and length > 1:  # a model the steppers do not know: the general forward
            return self._sample_rows_reference(prime, temperatures, length, rng, (logits, h))
        draw = RowSampler(temperatures, self.vocab_size)
        u = rng.random((length, R))  # the same numbers as one rng.random((R,)) per step
        W, b = self.out.params["W"], self.out.params["b"]
        out = np.empty((R, self.vocab_size), logits.dtype)  # the Dense layer's logits (R, V)
        rows = np.empty((length, R), dtype=np.int64)
        last = logits[-1]
        H = W.shape[0]
        for t in range(length):
            nxt = draw(last, u[t])
            rows[t] = nxt
            if t + 1 < length:
                y = step(self._inputs(nxt[None, :]))  # (1, R, H)
                np.matmul(y.reshape(R, H), W, out=out)  # as Dense.forward: x.reshape(-1, H) @ W, += b
                np.add(out, b, out=out)
                last = out
        draw.check()
        return [list(rows[:, r]) for r in range(R)]

    def _sample_rows_reference(self, prime: str, temperatures: Sequence[float], length: int,
                               rng: np.random.Generator, primed: tuple | None = None) -> list[list[int]]:
        """:meth:`_sample_rows` through the general forward, one call per step (the implementation
        before the stepper): the fallback for models without a stepper, and the reference the
        tests and tests/benchmarks/bench_views.py compare the fast path to. ``primed``: the
        prime's (logits, h_last) when already computed."""
        ids = self._encode_prime(prime)  # (P,)
        R = len(temperatures)
        if primed is None:
            primed = self._forward(np.repeat(ids[:, None], R, axis=1), None, train=False)[:2]  # (P, R, V)
        logits, h = primed
        last = logits[-1].astype(np.float64)  # (R, V)
        temps = np.asarray(temperatures, dtype=np.float64)
        greedy = temps <= 0
        scale = np.where(greedy, 1.0, temps)[:, None]  # (R, 1)
        rows = np.zeros((length, R), dtype=np.int64)
        for t in range(length):
            nxt = sample_indices(last / scale, 1.0, rng)  # (R,)
            nxt[greedy] = last[greedy].argmax(axis=-1)
            rows[t] = nxt
            logits, h, _ = self._forward(nxt[None, :], h, train=False)  # (1, R, V)
            last = logits[0].astype(np.float64)
        return [list(rows[:, r]) for r in range(R)]

    def sample(self, prime: str, temperature: float, length: int, rng: np.random.Generator) -> str:
        """``length`` tokens continuing ``prime`` at ``temperature`` (the prime is not repeated).

        Unknown characters in ``prime`` raise ValueError naming them.
        """
        t = float(temperature)
        if not (math.isfinite(t) and t > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        if isinstance(length, bool) or int(length) != length or length < 0:
            raise ValueError(f"length must be a non-negative integer, got {length!r}")
        if length == 0:
            self._encode_prime(prime)
            return ""
        return self._decode(self._sample_rows(prime, [t], int(length), rng)[0])

    def views(self) -> tuple[V.View, ...]:
        """Samples at the ``temperatures`` and an argmax line, from a fixed seed (they change only
        when the model does). Samples continue the prime (which is not repeated in them)."""
        temps = list(self.config["temperatures"])
        prime = self.config["prime"] or self._decode(self._encode_prime(""))
        rows = self._sample_rows(prime, temps + [0.0], self.config["sample_length"],
                                 np.random.default_rng(SAMPLE_SEED))
        return (V.TextSamples(tuple((float(t), self._decode(r)) for t, r in zip(temps, rows)),
                              self._decode(rows[-1]), prime),)

    def set_live(self, name: str, value: Any) -> None:
        if name == "prime":
            self._encode_prime(self.param("prime").validate(value))  # unknown tokens: ValueError, nothing changed
        super().set_live(name, value)

    # -- persistence ----------------------------------------------------------------------
    def extra_state(self) -> dict[str, np.ndarray]:
        out = {"cursor": np.array(self._cursor, dtype=np.int64),
               "smooth_loss": np.array(self._smooth, dtype=np.float64),
               "has_state": np.array(self._state is not None)}
        if self._state is not None:
            out.update(_flatten_state(self._state))
        return out

    def load_extra_state(self, state: Mapping[str, np.ndarray]) -> None:
        for key in ("cursor", "smooth_loss", "has_state"):
            if key not in state:
                raise ValueError(f"checkpoint is missing extra.{key} (the data cursor / carried state)")
        cursor = int(state["cursor"])
        if not 0 <= cursor < len(self._streams):
            raise ValueError(f"checkpoint cursor {cursor} is outside the training streams (0..{len(self._streams) - 1})")
        carried = _unflatten_state(self._state_template, state) if bool(state["has_state"]) else None
        self._cursor, self._smooth, self._state = cursor, float(state["smooth_loss"]), carried


def _mean_nll(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean -log softmax(logits)[target]; logits (..., V), targets (...)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=-1))  # (...)
    picked = np.take_along_axis(z, targets[..., None], axis=-1)[..., 0]  # (...)
    return float(np.mean(lse - picked, dtype=np.float64))


class CharLM(StreamLM):
    id = "char-lm"
    title = "Character language model"
    description = ("Predicts the next character of a text (Python's own documentation by default, or any "
                   "UTF-8 file) with an RNN, LSTM or GRU, and writes new text at several temperatures.")
    view_types = LM_VIEWS
    metrics = (V.loss("loss", "nats/char"), V.loss("val_loss", "nats/char"),
               V.Metric("val_perplexity", "quality", "lower"),
               V.Metric("bigram_val_loss", "loss", "lower", "nats/char", baseline_of="val_loss",
                        title="bigram model (val)"),
               V.diagnostic("smooth_loss", "lower"))
    eval_every = 100
    target = Target("val_loss", 1.5, "min")

    hyperparams = (
        Param("corpus", "path", "", "UTF-8 text file to learn (\"\" = Python's bundled documentation).",
              kind="file"),
        C.cell("lstm"),
        C.num_layers(1),
        C.hidden_size(128),
        Param("embedding_size", "int", 32, "Size of the learned character vectors (0 = one-hot input).", 0, 512),
        C.seq_len(32),
        C.batch_size(32, high=512),
        Param("threads", "int", 1, "Threads that each train on a slice of the streams (2 uses both cores: "
              "faster for large models on an idle machine, slower when the cores are busy).", 1, 4),
        _dropout_param(0.0),
        C.optimizer("adam"),
        C.learning_rate(0.008),
        C.momentum(0.9),
        C.clip(5.0),
        C.clip_mode("norm"),
        Param("loss_reduction", "str", "mean",
              "Gradient of the mean loss per character, or of the sum over the seq_len steps "
              "(min-char-rnn). The reported loss is always nats/char.", choices=("mean", "sum"), live=True),
        Param("init_std", "float", 0.0, "Initial weights ~ N(0, init_std²) with zero biases, as min-char-rnn "
              "(0 = the layers' default init).", 0.0, 1.0),
        Param("val_fraction", "float", 0.1, "Fraction of the corpus (its tail) held out for validation.", 0.01, 0.5),
        Param("val_tokens", "int", 10000, "Characters of the held-out text scored by each evaluation.", 100, 1_000_000,
              log=True),
        *sampling_params("", 200),
    )

    presets = {
        "default": Preset("default", "LSTM 128 on Python's documentation (same as 'lstm').", {}, 5000),
        "lstm": Preset("lstm", "LSTM 128, 32 streams x 32 characters, Adam: val_loss <= 1.5 nats/char "
                       "in 2,000 steps.", {
                           "cell": "lstm", "num_layers": 1, "hidden_size": 128, "embedding_size": 32,
                           "seq_len": 32, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.008,
                           "clip": 5.0, "clip_mode": "norm", "loss_reduction": "mean", "init_std": 0.0,
                       }, 2000),
        "min-char-rnn": Preset("min-char-rnn", "Karpathy's min-char-rnn: tanh RNN 100, one-hot, 25 steps, "
                               "batch 1, Adagrad 0.1, gradients clamped to ±5. It reads the corpus in order, so "
                               "for the first ~3,000 steps it fits the few pages it has read and is over-confident "
                               "elsewhere: validation loss 6-7 nats (perplexity up to ~1,000, worse than uniform's "
                               "103) while the training loss is ~3. Not a bug: it falls below uniform once the "
                               "model has read more.", {

                                   "cell": "rnn", "num_layers": 1, "hidden_size": 100, "embedding_size": 0,
                                   "seq_len": 25, "batch_size": 1, "optimizer": "adagrad", "learning_rate": 0.1,
                                   "clip": 5.0, "clip_mode": "value", "loss_reduction": "sum", "init_std": 0.01,
                                   "dropout": 0.0,
                               }, 20000),
    }

    def _load_data(self) -> None:
        path = self.config["corpus"]
        text = load_text(path) if path else default_corpus()
        self.text = text
        self.vocab = CharVocab(text)
        self.vocab_size = self.vocab.size
        ids = self.vocab.encode(text, "corpus")
        split = split_tail(len(ids), self.config["val_fraction"])
        self.train_ids, self.val_ids = ids[:split], ids[split:]
        self._encode_prime(self.config["prime"])  # fail early on a prime the corpus cannot spell
        V = self.vocab_size
        counts = np.bincount(self.train_ids[:-1] * V + self.train_ids[1:], minlength=V * V)
        counts = counts.reshape(V, V).astype(np.float64) + 1.0  # add-one smoothing
        self._bigram_logp = np.log(counts / counts.sum(axis=1, keepdims=True))  # (V, V)

    def _init_params(self) -> None:
        std = self.config["init_std"]
        if std > 0:
            for a in self.params.values():
                a[...] = self.rng.standard_normal(a.shape) * std if a.ndim >= 2 else 0.0

    def _baseline(self) -> dict[str, float]:
        return {"bigram_val_loss": float(-self._bigram_logp[self._val_x, self._val_y].mean())}

    def _probe_window(self) -> np.ndarray:
        """probe_len + 1 characters of validation text starting a line of prose: the first
        line start whose window is mostly letters (so the heatmap shows words, not the
        indentation of code samples); else the first line start; else the start."""
        n = self.probe_len + 1
        head = self.val_ids[: 50_000]
        nl = self.vocab.index.get("\n")
        starts = np.flatnonzero(head == nl) + 1 if nl is not None else np.zeros(0, np.int64)
        starts = [int(s) for s in starts if s + n <= len(self.val_ids)]
        for s in starts:
            text = self.vocab.decode(self.val_ids[s: s + n])
            if text[0].isalpha() and "\n" not in text and sum(c.isalpha() for c in text) >= 0.75 * n:
                return self.val_ids[s: s + n]
        s = starts[0] if starts else 0
        return self.val_ids[s: s + n]

    def _label(self, token: int) -> str:
        return display_char(self.vocab.chars[int(token)])

    def _encode_prime(self, prime: str) -> np.ndarray:
        if not prime:  # "The " where the corpus can spell it, else the start of a line
            prime = next(p for p in ("The ", "\n", self.text[0]) if not self.vocab.unknown(p))
        return self.vocab.encode(prime, "prime")

    def _decode(self, ids: Sequence[int]) -> str:
        return self.vocab.decode(ids)


EXPERIMENT = CharLM
