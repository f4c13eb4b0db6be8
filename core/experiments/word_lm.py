"""word-lm: a word language model in the Penn Treebank setup (Zaremba et al., 2014).

Model: Embedding (size = hidden_size) -> dropout -> LSTM stack with dropout
between layers -> dropout -> Dense over the vocabulary, trained on
``batch_size`` contiguous streams of ``seq_len`` words with the state carried
across batches (truncated BPTT), SGD and global-norm clipping. The shared
machinery (streams, carried state, evaluation, probe, sampling, exact resume)
is :class:`core.experiments.char_lm.StreamLM`.

Data: with ``data_dir`` the three PTB files (``ptb.train.txt``,
``ptb.valid.txt``, ``ptb.test.txt``), read as the TensorFlow PTB reader does
(lowercase, every newline is ``<eos>``). Without it, Python's bundled
documentation split into words and punctuation, one ``<eos>`` per line, the
first 80% for training, the next 10% for validation. Either way the
vocabulary is the ``vocab_size`` most frequent training words, ``<unk>`` and
``<eos>`` included; other words become ``<unk>``.

Evaluation scores a bounded slice (``val_tokens`` words as a few windows
spread over the validation text) and reports a unigram model (add-one
smoothing on the training counts) beside it as ``unigram_val_perplexity``.

Presets:

* ``ptb-small`` — as the issue states it: 2-layer LSTM, hidden 200,
  embedding 200, dropout 0.5, SGD lr 1.0, global-norm clip 5, batch 20, 35
  steps, all weights U(-0.1, 0.1). (TensorFlow's ``SmallConfig`` differs in
  two values — 20 steps and no dropout — and also halves the learning rate
  every epoch after the 4th, which is not modelled here.) 13 epochs of PTB
  (929k training words / (20 * 35) ≈ 1,327 steps per epoch) ≈ 17,000 steps.
* ``default`` — smaller and faster so it visibly learns within a minute on a
  CPU: 1 layer of 128, vocabulary 2,000, dropout 0.3, Adam 0.003, 20 x 20
  windows; on the default corpus it passes the target (validation perplexity
  60; the unigram model scores ~155) in ~500 steps and reaches ~44 by 1,000.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from core import config as C
from core.config import ConfigError, Param
from core.data.words import EOS, WordVocab, default_word_data, load_ptb, tokenize
from core.experiments.base import Preset, Target
from core import views as V
from core.experiments.char_lm import LM_VIEWS, StreamLM, _dropout_param, sampling_params


class WordLM(StreamLM):
    id = "word-lm"
    title = "Word language model (PTB)"
    description = ("Predicts the next word with a stacked LSTM, the Penn Treebank setup of Zaremba et al. "
                   "(PTB files from a folder, or Python's documentation as words).")
    view_types = LM_VIEWS
    metrics = (V.loss("loss", "nats/word"), V.loss("val_loss", "nats/word"),
               V.Metric("val_perplexity", "quality", "lower"),
               V.Metric("unigram_val_loss", "loss", "lower", "nats/word", baseline_of="val_loss",
                        title="unigram model (val)"),
               V.Metric("unigram_val_perplexity", "quality", "lower", baseline_of="val_perplexity",
                        title="unigram perplexity"))
    eval_every = 100
    probe_len = 30
    eval_stream_len = 200
    target = Target("val_perplexity", 60.0, "min")  # the default preset on the default corpus

    hyperparams = (
        Param("data_dir", "path", "", "Folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt "
              "(\"\" = Python's bundled documentation as words).", kind="dir"),
        Param("vocab_size", "int", 10000, "Most frequent training words kept (with <unk> and <eos>); "
              "the rest become <unk>.", 3, 100_000, log=True),
        C.cell("lstm"),
        C.num_layers(2),
        C.hidden_size(200),
        C.seq_len(35),
        C.batch_size(20, high=512),
        _dropout_param(0.5),
        C.optimizer("sgd"),
        C.learning_rate(1.0),
        C.momentum(0.9),
        C.clip(5.0),
        C.clip_mode("norm"),
        Param("init_scale", "float", 0.1, "Every weight starts ~ U(-init_scale, init_scale), as the PTB model "
              "(0 = the layers' default init).", 0.0, 1.0),
        Param("val_tokens", "int", 2000, "Words of the validation text scored by each evaluation.", 100, 1_000_000,
              log=True),
        *sampling_params("the", 40),
    )

    presets = {
        "default": Preset("default", "1-layer LSTM 128, vocabulary 2,000, Adam: learns visibly within a minute.", {
            "vocab_size": 2000, "cell": "lstm", "num_layers": 1, "hidden_size": 128, "seq_len": 20,
            "batch_size": 20, "dropout": 0.3, "optimizer": "adam", "learning_rate": 0.003, "clip": 5.0,
            "clip_mode": "norm", "init_scale": 0.1,
        }, 1500),
        "ptb-small": Preset("ptb-small", "Zaremba et al.'s PTB model: 2 x LSTM 200, dropout 0.5, SGD 1.0, "
                            "clip 5, batch 20 x 35 steps. vocab_size 10,000 is a cap: without PTB files "
                            "(data_dir) the documentation stands in, and it has only ~3,300 distinct words, "
                            "so the model chooses among those.", {

                                "vocab_size": 10000, "cell": "lstm", "num_layers": 2, "hidden_size": 200,
                                "seq_len": 35, "batch_size": 20, "dropout": 0.5, "optimizer": "sgd",
                                "learning_rate": 1.0, "clip": 5.0, "clip_mode": "norm", "init_scale": 0.1,
                            }, 17000),
    }

    def _load_data(self) -> None:
        folder = self.config["data_dir"]
        data = load_ptb(folder) if folder else default_word_data()
        self.is_ptb = bool(folder)
        self.source = data.source
        self.vocab = WordVocab.build(data.train, self.config["vocab_size"])
        self.vocab_size = self.vocab.size
        self.train_ids = self.vocab.encode(data.train)
        self.val_ids = self.vocab.encode(data.valid)
        self.test_ids = self.vocab.encode(data.test)
        self._encode_prime(self.config["prime"])  # fail early on a prime the vocabulary cannot say
        counts = np.bincount(self.train_ids, minlength=self.vocab_size).astype(np.float64) + 1.0  # add-one
        self._unigram_logp = np.log(counts / counts.sum())  # (V,)

    def _embedding_size(self) -> int:
        return self.config["hidden_size"]  # Zaremba: embedding size = hidden size

    def _init_params(self) -> None:
        s = self.config["init_scale"]
        if s > 0:
            for a in self.params.values():
                a[...] = self.rng.uniform(-s, s, a.shape)

    def _baseline(self) -> dict[str, float]:
        loss = float(-self._unigram_logp[self._val_y].mean())
        return {"unigram_val_loss": loss, "unigram_val_perplexity": float(math.exp(loss))}

    def _label(self, token: int) -> str:
        return self.vocab.words[int(token)]

    def _prime_tokens(self, prime: str) -> list[str]:
        if self.is_ptb:
            return prime.lower().split()
        return [t for t in tokenize(prime) if t != EOS]

    def _encode_prime(self, prime: str) -> np.ndarray:
        toks = self._prime_tokens(prime) or [EOS]
        unknown = sorted({t for t in toks if t not in self.vocab.index})
        if unknown:
            shown = ", ".join(repr(t) for t in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
            raise ConfigError(f"prime: words not in the vocabulary: {shown} "
                              f"(the model knows the {self.vocab_size} most frequent words of its corpus)")
        return self.vocab.encode(toks)

    def _decode(self, ids: Sequence[int]) -> str:
        """Words joined by spaces, ``<eos>`` as a line break."""
        lines, line = [], []
        for w in self.vocab.decode(ids):
            if w == EOS:
                lines.append(" ".join(line))
                line = []
            else:
                line.append(w)
        return "\n".join(lines + [" ".join(line)])


EXPERIMENT = WordLM
