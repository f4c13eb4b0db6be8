"""char-lm: learning, min-char-rnn faithfulness, exact resume, probe, sampling and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from core import views as V
from core.config import ConfigError
from core.data import DataError
from core.experiments import registry
from core.experiments.char_lm import CharLM

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 60  # 2,700 characters, 29 distinct


def small(tmp_path, **over):
    """A fast config on a small repetitive corpus written to tmp_path."""
    p = tmp_path / "corpus.txt"
    if not p.exists():
        p.write_text(TEXT)
    cfg = {"corpus": str(p), "cell": "gru", "hidden_size": 32, "embedding_size": 16, "seq_len": 16,
           "batch_size": 8, "learning_rate": 0.01, "val_tokens": 200, "sample_length": 20,
           "temperatures": (0.5, 1.0)}
    cfg.update(over)
    return cfg


def test_registered_with_presets_and_panels():
    cls = registry.get("char-lm")
    assert cls is CharLM and cls.is_language_model
    assert set(cls.presets) >= {"default", "min-char-rnn", "lstm"}
    assert cls.view_types == (V.MetricCurves, V.TextSamples, V.ProbeText, V.LayerStates, V.Outputs)
    assert cls.target.metric == "val_loss" and cls.target.value == 1.5 and cls.target.mode == "min"
    for p in cls.hyperparams:
        assert p.help
    live = {p.name for p in cls.hyperparams if p.live}
    assert {"learning_rate", "clip", "temperatures", "prime", "sample_length"} <= live
    assert not {"cell", "hidden_size", "num_layers", "corpus", "batch_size"} & live


def test_lstm_preset_values():
    cfg = CharLM.preset_config("lstm")
    assert (cfg["cell"], cfg["hidden_size"], cfg["optimizer"]) == ("lstm", 128, "adam")
    assert cfg["batch_size"] > 1 and CharLM.presets["lstm"].steps == 2000


def test_learns_a_small_corpus_and_beats_the_bigram(tmp_path):
    exp = CharLM(small(tmp_path), seed=0)
    first = exp.train_step()["loss"]
    assert first == pytest.approx(math.log(exp.vocab_size), rel=0.2)
    for _ in range(249):
        m = exp.train_step()
    assert exp.step == 250
    ev = exp.evaluate()
    assert ev["val_loss"] < 0.6 < first
    assert ev["val_loss"] < 0.5 * ev["bigram_val_loss"]
    assert ev["val_perplexity"] == pytest.approx(math.exp(ev["val_loss"]))
    assert m["loss"] < 0.6


def test_min_char_rnn_preset_is_karpathys(tmp_path):
    cfg = CharLM.preset_config("min-char-rnn")
    assert (cfg["cell"], cfg["hidden_size"], cfg["seq_len"], cfg["batch_size"]) == ("rnn", 100, 25, 1)
    assert (cfg["optimizer"], cfg["learning_rate"], cfg["clip"], cfg["clip_mode"]) == ("adagrad", 0.1, 5.0, "value")
    assert cfg["embedding_size"] == 0 and cfg["loss_reduction"] == "sum"
    assert CharLM.presets["min-char-rnn"].steps == 20000
    cfg.update(corpus=str(tmp_path / "c.txt"), val_tokens=200, sample_length=10)
    (tmp_path / "c.txt").write_text(TEXT)
    exp = CharLM(cfg, seed=1)
    assert exp.embed is None  # one-hot input
    W = exp.params["rnn.Whh"]
    assert abs(W.std() - 0.01) < 0.002 and not exp.params["rnn.bh"].any() and not exp.params["out.b"].any()
    V = exp.vocab_size
    m = exp.train_step()
    # smooth_loss = 0.999 * (-log(1/V) * 25) + 0.001 * (loss summed over the 25 characters)
    assert m["smooth_loss"] == pytest.approx(0.999 * math.log(V) * 25 + 0.001 * m["loss"] * 25, rel=1e-6)
    # sequential walk: the cursor moves 25 characters a step, back to 0 (zero state) at the end
    n = len(exp._streams)
    steps_per_pass = (n - 27) // 25 + 1
    for _ in range(steps_per_pass - 1):
        exp.train_step()
    assert exp._cursor == 25 * steps_per_pass and exp._state is not None
    exp.train_step()
    assert exp._cursor == 25


def _run(exp, n):
    return [exp.train_step()["loss"] for _ in range(n)]


@pytest.mark.parametrize("over", [{"cell": "lstm", "num_layers": 2, "dropout": 0.3},
                                  {"cell": "rnn", "embedding_size": 0, "loss_reduction": "sum",
                                   "optimizer": "adagrad", "clip_mode": "value"}])
def test_exact_resume(tmp_path, over):
    cfg = small(tmp_path, **over)
    a = CharLM(cfg, seed=3)
    _run(a, 7)
    state = a.state_dict()
    rng_state = a.rng.bit_generator.state
    step = a.step
    expected = _run(a, 6)
    b = CharLM(cfg, seed=99)
    b.load_state_dict(state)
    b.rng.bit_generator.state = rng_state
    b.step = step
    assert _run(b, 6) == expected
    assert b._cursor == a._cursor


def test_resume_rejects_a_bad_carried_state(tmp_path):
    a = CharLM(small(tmp_path), seed=0)
    a.train_step()
    state = a.state_dict()
    state["extra.state"] = np.zeros((3, 3), np.float32)
    with pytest.raises(ValueError, match="shape"):
        CharLM(small(tmp_path), seed=0).load_state_dict(state)
    del state["extra.cursor"]
    with pytest.raises(ValueError, match="cursor"):
        CharLM(small(tmp_path), seed=0).load_state_dict(state)


def test_probe_evaluate_views_do_not_touch_training(tmp_path):
    exp = CharLM(small(tmp_path, cell="lstm", num_layers=2, dropout=0.2), seed=0)
    _run(exp, 3)
    before = exp.rng.bit_generator.state
    params = {k: v.copy() for k, v in exp.params.items()}
    probe = exp.probe()
    ev1, ex1 = exp.evaluate(), exp.views()
    assert exp.rng.bit_generator.state == before
    assert all(np.array_equal(params[k], v) for k, v in exp.params.items())
    assert exp.evaluate() == ev1 and exp.views() == ex1  # fixed sampling seed

    T = probe.num_steps
    assert T == 40 and probe.outputs.shape == (T, exp.vocab_size)
    np.testing.assert_allclose(probe.outputs.sum(axis=1), 1.0, rtol=1e-4)
    assert probe.output_labels[exp.vocab.index[" "]] == "␣"
    assert probe.output_labels[exp.vocab.index["\n"]] == "⏎"
    assert probe.input_labels[:4] == tuple("the") + ("␣",)  # the first full validation line
    assert probe.target_labels[:-1] == probe.input_labels[1:]
    assert probe.inputs.shape == (T, 16)
    assert len(probe.layers) == 2 and set(probe.layers[0].states) >= {"h", "c", "i", "f", "g", "o"}
    assert probe.layers[0].states["h"].shape == (T, 32) and probe.layers[1].grad_norm.shape == (T,)
    pred = probe.outputs.argmax(axis=1)
    np.testing.assert_array_equal(probe.correct, [probe.output_labels[i] == t for i, t in zip(pred, probe.target_labels)])

    (samples,) = ex1
    assert [t for t, _ in samples.samples] == [0.5, 1.0]
    assert all(len(s) == 20 for _, s in samples.samples) and len(samples.argmax) == 20


def test_sample_is_reproducible_and_checks_the_prime(tmp_path):
    exp = CharLM(small(tmp_path), seed=0)
    _run(exp, 100)
    s1 = exp.sample("the ", 0.5, 30, np.random.default_rng(5))
    assert len(s1) == 30 and set(s1) <= set(TEXT)
    assert s1 == exp.sample("the ", 0.5, 30, np.random.default_rng(5))
    with pytest.raises(ValueError) as info:
        exp.sample("THE Zoo", 1.0, 10, np.random.default_rng(0))
    assert "'T'" in str(info.value) and "'Z'" in str(info.value) and "prime" in str(info.value)
    with pytest.raises(ValueError, match="temperature"):
        exp.sample("the", 0.0, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="prime"):
        exp.set_live("prime", "Q?")
    assert exp.config["prime"] == ""  # unchanged
    exp.set_live("prime", "lazy ")
    assert exp.views()[0].prime == "lazy "
    with pytest.raises(ValueError, match="prime"):
        CharLM(small(tmp_path, prime="Xylophone"), seed=0)


def test_config_and_corpus_errors(tmp_path):
    with pytest.raises(ConfigError, match="hidden_size"):
        CharLM(small(tmp_path, hidden_size=0))
    with pytest.raises(ConfigError, match="cell"):
        CharLM(small(tmp_path, cell="transformer"))
    with pytest.raises(DataError, match="missing.txt"):
        CharLM({"corpus": str(tmp_path / "missing.txt")})
    (tmp_path / "tiny.txt").write_text("abcabc" * 10)
    with pytest.raises(ConfigError, match="too short"):
        CharLM({"corpus": str(tmp_path / "tiny.txt"), "batch_size": 8, "seq_len": 16})
    exp = CharLM(small(tmp_path), seed=0)
    with pytest.raises(ConfigError, match="structural"):
        exp.set_live("hidden_size", 8)
    exp.set_live("learning_rate", 0.5)
    assert exp.optimizer.lr == 0.5


def test_sum_reduction_scales_the_gradient_by_seq_len(tmp_path):
    """min-char-rnn differentiates the loss summed over its timesteps (mean over streams)."""
    deltas = {}
    for red in ("mean", "sum"):
        exp = CharLM(small(tmp_path, loss_reduction=red, optimizer="sgd", learning_rate=1e-3, clip=0.0,
                           batch_size=2), seed=4)
        before = exp.params["out.W"].copy()
        exp.train_step()
        deltas[red] = exp.params["out.W"] - before
    np.testing.assert_allclose(deltas["sum"], 16 * deltas["mean"], rtol=1e-2, atol=2e-6)  # float32 params


def test_default_corpus_prime_and_labels():
    exp = CharLM({"hidden_size": 8, "embedding_size": 4, "batch_size": 4, "val_tokens": 100,
                  "sample_length": 5, "temperatures": (1.0,)}, seed=0)
    assert exp.vocab_size > 60 and "\n" in exp.vocab.index
    (ex,) = exp.views()
    assert ex.prime == "The " and ex.samples[0][0] == 1.0 and len(ex.samples[0][1]) == 5
    ev = exp.evaluate()
    assert ev["val_loss"] == pytest.approx(math.log(exp.vocab_size), rel=0.1)
    assert 1.5 < ev["bigram_val_loss"] < 3.5
