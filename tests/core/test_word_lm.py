"""word-lm: PTB files from a folder, learning vs a unigram model, presets, resume and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core.config import ConfigError
from core.data import DataError
from core.data.words import EOS, UNK
from core.experiments import registry
from core.experiments.word_lm import WordLM

SENTENCES = ["the cat sat on the mat", "a dog ate the bone", "the bird sang a song",
             "my cat likes the sun", "a <unk> saw the dog"]


def write_ptb(folder, repeats=(120, 12, 6)):
    """Tiny PTB-style files: one sentence per line, leading space as in the real files."""
    folder.mkdir(exist_ok=True)
    for part, n in zip(("train", "valid", "test"), repeats):
        lines = [f" {SENTENCES[i % len(SENTENCES)]} " for i in range(n * len(SENTENCES))]
        (folder / f"ptb.{part}.txt").write_text("\n".join(lines) + "\n")
    return str(folder)


def small(tmp_path, **over):
    cfg = {"data_dir": write_ptb(tmp_path / "ptb"), "num_layers": 1, "hidden_size": 32, "seq_len": 10,
           "batch_size": 8, "dropout": 0.0, "optimizer": "adam", "learning_rate": 0.01, "val_tokens": 300,
           "sample_length": 8, "prime": "the cat"}
    cfg.update(over)
    return cfg


def test_registered_and_presets():
    cls = registry.get("word-lm")
    assert cls is WordLM and cls.is_language_model
    ptb = WordLM.preset_config("ptb-small")
    assert (ptb["num_layers"], ptb["hidden_size"], ptb["dropout"], ptb["optimizer"], ptb["learning_rate"]) == \
        (2, 200, 0.5, "sgd", 1.0)
    assert (ptb["clip"], ptb["clip_mode"], ptb["batch_size"], ptb["seq_len"], ptb["init_scale"]) == \
        (5.0, "norm", 20, 35, 0.1)
    assert WordLM.preset_config("default")["hidden_size"] < 200
    assert all(p.help for p in cls.hyperparams)


def test_ptb_folder_vocab_and_learning_beats_unigram(tmp_path):
    exp = WordLM(small(tmp_path), seed=0)
    words = set(" ".join(SENTENCES).split()) - {UNK}
    assert exp.vocab_size == len(words) + 2 and exp.vocab.words[:2] == (UNK, EOS)
    assert exp.train_ids[:7].tolist() == exp.vocab.encode(["the", "cat", "sat", "on", "the", "mat", EOS]).tolist()
    start = exp.evaluate()
    assert start["val_loss"] == pytest.approx(math.log(exp.vocab_size), rel=0.1)
    for _ in range(150):
        exp.train_step()
    ev = exp.evaluate()
    assert ev["val_perplexity"] < 0.5 * ev["unigram_val_perplexity"]
    assert ev["val_perplexity"] == pytest.approx(math.exp(ev["val_loss"]))


def test_embedding_is_hidden_size_and_init_is_uniform(tmp_path):
    exp = WordLM(small(tmp_path, num_layers=2, init_scale=0.05), seed=0)
    assert exp.params["embed.E"].shape == (exp.vocab_size, 32)
    for a in exp.params.values():
        assert np.abs(a).max() <= 0.05
    assert np.abs(exp.params["embed.E"]).max() > 0.04


def test_vocab_size_caps_the_vocabulary(tmp_path):
    exp = WordLM(small(tmp_path, vocab_size=5), seed=0)
    assert exp.vocab.words == (UNK, EOS, "the", "a", "cat")
    assert (exp.train_ids == exp.vocab.unk).mean() > 0.3


def test_exact_resume_with_dropout(tmp_path):
    cfg = small(tmp_path, num_layers=2, dropout=0.5, optimizer="sgd", learning_rate=1.0)
    a = WordLM(cfg, seed=1)
    for _ in range(5):
        a.train_step()
    state, rng_state, step = a.state_dict(), a.rng.bit_generator.state, a.step
    expected = [a.train_step()["loss"] for _ in range(5)]
    b = WordLM(cfg, seed=2)
    b.load_state_dict(state)
    b.rng.bit_generator.state = rng_state
    b.step = step
    assert [b.train_step()["loss"] for _ in range(5)] == expected


def test_probe_sampling_and_prime_errors(tmp_path):
    exp = WordLM(small(tmp_path), seed=0)
    for _ in range(30):
        exp.train_step()
    before = exp.rng.bit_generator.state
    probe = exp.probe()
    (ex,) = exp.views()
    assert exp.rng.bit_generator.state == before
    assert probe.num_steps == 30 and probe.outputs.shape == (30, exp.vocab_size)
    assert probe.input_labels[:3] == ("the", "cat", "sat") and probe.output_labels[1] == EOS
    np.testing.assert_allclose(probe.outputs.sum(axis=1), 1.0, rtol=1e-4)
    assert ex.prime == "the cat" and isinstance(ex.argmax, str)
    assert all(len(s.split()) <= 8 for _, s in ex.samples)
    s = exp.sample("a dog", 1.0, 12, np.random.default_rng(0))
    assert s == exp.sample("a dog", 1.0, 12, np.random.default_rng(0))
    with pytest.raises(ValueError, match="'zebra'"):
        exp.sample("the zebra", 1.0, 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="prime"):
        exp.set_live("prime", "unicorns")
    with pytest.raises(ValueError, match="prime"):
        WordLM(small(tmp_path, prime="giraffe"))


def test_data_errors(tmp_path):
    with pytest.raises(DataError, match="ptb.train.txt"):
        folder = tmp_path / "half"
        folder.mkdir()
        (folder / "ptb.valid.txt").write_text("a b\n")
        WordLM({"data_dir": str(folder)})
    with pytest.raises(DataError, match="no_such_dir"):
        WordLM({"data_dir": str(tmp_path / "no_such_dir")})
    with pytest.raises(ConfigError, match="too short"):
        WordLM(small(tmp_path, batch_size=200, seq_len=35))
    with pytest.raises(ConfigError, match="vocab_size"):
        WordLM(small(tmp_path, vocab_size=1))
