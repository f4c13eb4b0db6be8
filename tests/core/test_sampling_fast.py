"""The live samples' fast path (core.sampling.make_stepper, RowSampler; StreamLM._sample_rows):
the same values to the bit and the same tokens as the general forward it replaces."""
from __future__ import annotations

import numpy as np
import pytest

from core.experiments.char_lm import CharLM
from core.experiments.word_lm import WordLM
from core.nn.recurrent import make_recurrent
from core.sampling import RowSampler, make_stepper, sample_indices

TEXT = "the quick brown fox jumps over the lazy dog.\n" * 60


def _run_both(model, x, prime=3):
    """Steps x[prime:] through the stepper and through model.forward(T=1), from the state after x[:prime];
    asserts every output and the final state are equal to the bit."""
    _, h, _ = model.forward(x[:prime], None, train=False)
    step = make_stepper(model, h, x.shape[1])
    assert step is not None
    for t in range(prime, len(x)):
        y_ref, h, _ = model.forward(x[t:t + 1], h, train=False)
        y = step(x[t:t + 1])
        assert y.shape == y_ref.shape and y.dtype == y_ref.dtype
        assert np.array_equal(y, y_ref), (t, np.abs(y - y_ref).max())


@pytest.mark.parametrize("cell,D,H,B,layers", [
    ("lstm", 32, 128, 4, 1), ("lstm", 32, 48, 1, 1), ("lstm", 97, 256, 4, 1), ("lstm", 16, 64, 3, 2),
    ("gru", 32, 128, 4, 1), ("gru", 32, 512, 4, 1), ("gru", 20, 40, 2, 3),
    ("rnn", 97, 100, 4, 1), ("rnn", 16, 64, 1, 2),
])
def test_stepper_matches_the_general_forward_bit_for_bit(cell, D, H, B, layers):
    # (lstm H=256 B=4 and gru H=512 take the row / column blocks of OpenBLAS's small kernel, where present)
    rng = np.random.default_rng(0)
    model = make_recurrent(cell, D, H, layers, rng=rng, dropout=0.3 if layers > 1 else 0.0)
    x = rng.standard_normal((12, B, D)).astype(np.float32)
    _run_both(model, x)


def test_stepper_declines_what_it_does_not_replicate():
    rng = np.random.default_rng(0)
    sig = make_recurrent("rnn", 16, 8, rng=rng, activation="sigmoid")
    narrow = make_recurrent("rnn", 4, 8, rng=rng)  # the augmented path
    bi = make_recurrent("lstm", 16, 8, rng=rng, bidirectional=True)
    two = make_recurrent("rnn", 16, 8, 2, rng=rng, activation="sigmoid")
    for m in (sig, narrow, bi, two):
        x = rng.standard_normal((2, 3, m.input_size)).astype(np.float32)
        assert make_stepper(m, m.forward(x, None, train=False)[1], 3) is None


def test_generator_draws_in_one_call_as_in_many():
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    bulk = a.random((50, 4))
    assert np.array_equal(bulk, np.stack([b.random((4,)) for _ in range(50)]))
    assert a.random() == b.random()


def test_row_sampler_draws_as_sample_indices():
    rng = np.random.default_rng(1)
    temps = [0.2, 1.0, 3.0, 0.0, 0.7]
    scale = np.array([0.2, 1.0, 3.0, 1.0, 0.7])[:, None]
    greedy = np.array([False, False, False, True, False])
    draw = RowSampler(temps, 30)
    u_all = np.random.default_rng(9).random((300, 5))
    ref_rng = np.random.default_rng(9)
    seen = set()
    for t in range(300):
        logits = (rng.standard_normal((5, 30)) * 3).astype(np.float32)
        last = logits.astype(np.float64)
        ref = sample_indices(last / scale, 1.0, ref_rng)
        ref[greedy] = last[greedy].argmax(axis=-1)
        got = draw(logits, u_all[t])
        assert got.tolist() == ref.tolist()
        seen.update(got[:3].tolist())
    assert len(seen) > 20
    draw.check()


def test_row_sampler_refuses_nan_logits():
    draw = RowSampler([1.0, 0.5], 4)
    draw(np.zeros((2, 4), np.float32), np.array([0.1, 0.9]))
    draw.check()
    draw(np.array([[0.0, np.nan, 1.0, 2.0], [0.0, 0.0, 0.0, 0.0]], np.float32), np.array([0.1, 0.9]))
    draw(np.zeros((2, 4), np.float32), np.array([0.1, 0.9]))
    with pytest.raises(ValueError, match="NaN or inf"):
        draw.check()


def _char(tmp_path, **over):
    p = tmp_path / "corpus.txt"
    p.write_text(TEXT)
    cfg = {"corpus": str(p), "cell": "lstm", "hidden_size": 32, "embedding_size": 16, "seq_len": 16,
           "batch_size": 8, "learning_rate": 0.01, "val_tokens": 200, "sample_length": 60,
           "temperatures": (0.3, 1.0, 2.5)}
    cfg.update(over)
    return CharLM(cfg, seed=0)


@pytest.mark.parametrize("over", [
    {}, {"cell": "gru"}, {"cell": "rnn", "embedding_size": 0, "hidden_size": 40},
    {"num_layers": 2}, {"embedding_size": 0}, {"cell": "rnn", "embedding_size": 4},
])
def test_char_lm_samples_are_those_of_the_general_forward(tmp_path, over):
    exp = _char(tmp_path, **over)
    for _ in range(30):
        exp.train_step()
    temps = [0.3, 1.0, 2.5, 0.0]
    for length in (1, 2, 60):
        fast = exp._sample_rows("the ", temps, length, np.random.default_rng(3))
        ref = exp._sample_rows_reference("the ", temps, length, np.random.default_rng(3))
        assert fast == ref
    assert len(set(fast[2])) > 3  # the hot row really samples
    # sample() with one temperature (a batch of 1) and its rng left where the reference leaves it
    a, b = np.random.default_rng(8), np.random.default_rng(8)
    s = exp.sample("lazy ", 0.8, 40, a)
    assert s == exp._decode(exp._sample_rows_reference("lazy ", [0.8], 40, b)[0])
    assert a.random() == b.random()


def test_word_lm_samples_are_those_of_the_general_forward(tmp_path):
    folder = tmp_path / "ptb"
    folder.mkdir()
    lines = [" the cat sat on the mat ", " a dog ate the bone ", " the bird sang a song "] * 80
    for part in ("train", "valid", "test"):
        (folder / f"ptb.{part}.txt").write_text("\n".join(lines) + "\n")
    exp = WordLM({"data_dir": str(folder), "num_layers": 2, "hidden_size": 32, "seq_len": 10, "batch_size": 8,
                  "dropout": 0.5, "optimizer": "adam", "learning_rate": 0.01, "val_tokens": 300,
                  "sample_length": 30, "prime": "the cat"}, seed=0)
    for _ in range(20):
        exp.train_step()
    temps = [0.5, 1.0, 0.0]
    assert exp._sample_rows("the cat", temps, 30, np.random.default_rng(2)) == \
        exp._sample_rows_reference("the cat", temps, 30, np.random.default_rng(2))


def test_probe_window_and_labels_are_found_once(tmp_path):
    exp = _char(tmp_path)
    p1 = exp.probe()
    assert exp._probe_cache is not None
    w, labels = exp._probe_cache
    assert np.array_equal(w, exp._probe_window())
    assert labels == tuple(exp._label(t) for t in range(exp.vocab_size))
    exp.train_step()
    p2 = exp.probe()
    assert p2.input_labels == p1.input_labels == tuple(exp._label(t) for t in w[:-1])
    assert p2.target_labels == tuple(exp._label(t) for t in w[1:])
    assert p2.output_labels == labels
