"""Sampling: frequencies match the softmax, greedy limit, top-k, validation, reproducibility."""
import numpy as np
import pytest

from core.sampling import (sample_index, sample_indices, sample_sequence, softmax_with_temperature)

LOGITS = np.array([2.0, 0.5, -1.0, 1.0, 0.0])


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def _assert_frequencies(draws, p, n):
    counts = np.bincount(draws, minlength=len(p))
    std = np.sqrt(n * p * (1 - p))  # binomial std per class
    assert np.all(np.abs(counts - n * p) <= 5 * std + 1), (counts, n * p)


@pytest.mark.parametrize("T", [1.0, 0.5, 2.0])
def test_batched_frequencies_match_softmax(T):
    n = 200_000
    draws = sample_indices(np.tile(LOGITS, (n, 1)), T, np.random.default_rng(0))
    assert draws.shape == (n,)
    _assert_frequencies(draws, _softmax(LOGITS / T), n)


def test_single_draw_frequencies_match_softmax():
    rng = np.random.default_rng(1)
    n = 20_000
    draws = np.array([sample_index(LOGITS, 1.0, rng) for _ in range(n)])
    _assert_frequencies(draws, _softmax(LOGITS), n)


def test_single_and_batched_draws_agree():
    a = [sample_index(LOGITS, 0.8, np.random.default_rng(s)) for s in range(50)]
    b = [int(sample_indices(LOGITS[None], 0.8, np.random.default_rng(s))[0]) for s in range(50)]
    assert a == b and len(set(a)) > 1


def test_softmax_with_temperature():
    np.testing.assert_allclose(softmax_with_temperature(LOGITS, 1.0), _softmax(LOGITS), rtol=1e-12)
    np.testing.assert_allclose(softmax_with_temperature(LOGITS, 0.5), _softmax(LOGITS * 2), rtol=1e-12)
    p = softmax_with_temperature(np.array([[1e4, 0.0], [0.0, 1.0]], np.float32), 0.01)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(-1), 1.0)
    np.testing.assert_array_equal(softmax_with_temperature(LOGITS, 1e-9), [1, 0, 0, 0, 0])
    pk = softmax_with_temperature(LOGITS, 1.0, top_k=2)
    np.testing.assert_allclose(pk, [_softmax(np.array([2.0, 1.0]))[0], 0, 0, _softmax(np.array([2.0, 1.0]))[1], 0])


@pytest.mark.parametrize("T", [1e-7, 1e-12, 1e-300, 5e-324])
def test_tiny_temperature_returns_argmax(T):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((50, 30))
    assert all(sample_index(row, T, rng) == int(np.argmax(row)) for row in logits)
    np.testing.assert_array_equal(sample_indices(logits, T, rng), np.argmax(logits, axis=1))
    # nearly tied logits still give exactly the argmax
    close = np.array([0.0, 1.0, 1.0 - 1e-12, -3.0])
    assert sample_index(close, T, rng) == 1


@pytest.mark.parametrize("T", [0, 0.0, -1.0, float("nan"), float("inf"), -float("inf"), None, "1.0"])
def test_bad_temperature_names_the_value(T):
    rng = np.random.default_rng(0)
    words = f"temperature must be a finite number > 0, got {T!r}"
    for call in (lambda: sample_index(LOGITS, T, rng), lambda: softmax_with_temperature(LOGITS, T),
                 lambda: sample_indices(LOGITS[None], T, rng),
                 lambda: sample_sequence(lambda i, s: (LOGITS, s), None, 0, 3, T, rng)):
        with pytest.raises(ValueError, match=__import__("re").escape(words)):
            call()


def test_top_k_never_leaves_the_top_k():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((2000, 12))
    for k in (1, 3, 7):
        draws = sample_indices(logits, 3.0, rng, top_k=k)  # hot temperature: would spread widely
        ranks = np.argsort(np.argsort(-logits, axis=1), axis=1)
        assert np.all(ranks[np.arange(len(draws)), draws] < k)
    single = {sample_index(LOGITS, 5.0, rng, top_k=2) for _ in range(300)}
    assert single == {0, 3}
    assert np.array_equal(sample_indices(logits, 1.0, np.random.default_rng(9), top_k=100),
                          sample_indices(logits, 1.0, np.random.default_rng(9)))


def test_same_seed_same_draws():
    a = sample_indices(np.tile(LOGITS, (100, 1)), 1.0, np.random.default_rng(42))
    b = sample_indices(np.tile(LOGITS, (100, 1)), 1.0, np.random.default_rng(42))
    c = sample_indices(np.tile(LOGITS, (100, 1)), 1.0, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_zero_probability_is_never_drawn():
    logits = np.array([0.0, -800.0, 0.0, -800.0])  # exp underflows to exactly 0
    draws = sample_indices(np.tile(logits, (5000, 1)), 1.0, np.random.default_rng(4))
    assert set(np.unique(draws)) == {0, 2}


def test_sample_sequence_feeds_back_and_threads_state():
    seen = []

    def step(index, state):  # a "model" that always predicts index + 1 (mod 5), counting calls in state
        seen.append(index)
        logits = np.full(5, -50.0)
        logits[(index + 1) % 5] = 50.0
        return logits, state + 1

    out = sample_sequence(step, 0, 2, 6, 1.0, np.random.default_rng(0))
    assert out == [3, 4, 0, 1, 2, 3]
    assert seen == [2, 3, 4, 0, 1, 2]
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    flat = lambda i, s: (LOGITS, s)
    assert sample_sequence(flat, None, 0, 40, 1.0, rng_a) == sample_sequence(flat, None, 0, 40, 1.0, rng_b)
    assert sample_sequence(flat, None, 0, 0, 1.0, rng_a) == []
    assert set(sample_sequence(flat, None, 0, 100, 1.0, rng_a, top_k=1)) == {0}


@pytest.mark.parametrize("call, words", [
    (lambda r: sample_index(np.array([1.0, np.nan]), 1.0, r), "logits contain NaN or inf"),
    (lambda r: sample_index(np.zeros((2, 3)), 1.0, r), r"logits must have shape \(V,\)"),
    (lambda r: sample_index(np.zeros(0), 1.0, r), "V >= 1"),
    (lambda r: sample_index(LOGITS, 1.0, r, top_k=0), "top_k must be a positive integer or None, got 0"),
    (lambda r: sample_index(LOGITS, 1.0, 123), "rng must be a np.random.Generator"),
    (lambda r: sample_sequence(lambda i, s: (LOGITS, s), None, 0, -1, 1.0, r), "length must be a non-negative"),
])
def test_bad_arguments(call, words):
    with pytest.raises(ValueError, match=words):
        call(np.random.default_rng(0))
