"""Unit finder: features per experiment, vectorised Pearson r, red/blue text data."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from core.analysis.units import (features_binary_addition, features_digits, features_for_probe, features_sine,
                                 features_text, features_words, find_units, pearson, probe_text_activation,
                                 surprise, text_activation)
from core.probe import LayerTrace


def test_binary_addition_features_by_hand():
    # 3 + 1 = 4, LSB first: a = 1 1 0 0, b = 1 0 0 0
    f = features_binary_addition([1, 1, 0, 0], [1, 0, 0, 0])
    np.testing.assert_array_equal(f["carry_in"], [0, 1, 1, 0])
    np.testing.assert_array_equal(f["carry_out"], [1, 1, 0, 0])
    np.testing.assert_array_equal(f["sum"], [0, 0, 1, 0])
    np.testing.assert_array_equal(f["a"], [1, 1, 0, 0])
    # batched (T, B): every column is its own addition
    a = np.array([[1, 0], [1, 1], [0, 1]])
    b = np.array([[1, 1], [0, 1], [0, 0]])
    fb = features_binary_addition(a, b)
    assert fb["sum"].shape == (3, 2)
    for j in range(2):
        val = sum(int(s) << t for t, s in enumerate(fb["sum"][:, j])) + (int(fb["carry_out"][-1, j]) << 3)
        assert val == sum(int(v) << t for t, v in enumerate(a[:, j])) + sum(int(v) << t for t, v in enumerate(b[:, j]))


@pytest.mark.parametrize("phi,amp,w", [(0.3, 1.0, 0.4), (2.5, 0.7, 1.1), (-1.0, 2.0, 0.15)])
def test_sine_phase_is_exact_for_a_clean_sine(phi, amp, w):
    t = np.arange(12)
    x = amp * np.sin(w * t + phi)
    f = features_sine(x)
    np.testing.assert_allclose(f["phase_sin"], np.sin(w * t + phi), atol=1e-9)
    np.testing.assert_allclose(f["phase_cos"], np.cos(w * t + phi), atol=1e-9)
    np.testing.assert_allclose(f["value"], x)
    np.testing.assert_allclose(f["slope"][1:-1], (x[2:] - x[:-2]) / 2)
    # with known times and period: the same phase
    g = features_sine(x, t=t, period=2 * np.pi / w)
    np.testing.assert_allclose(g["phase_sin"], np.sin(w * t + phi), atol=1e-9)


def test_text_features_by_hand():
    text = 'a("b")\n  xy'
    f = features_text(text)
    #            a  (  "  b  "  )  \n sp sp x  y
    np.testing.assert_array_equal(f["in_quotes"], [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["bracket_depth"], [0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["line_position"], [0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3])
    np.testing.assert_array_equal(f["indentation"], [0, 0, 0, 0, 0, 0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(f["after_newline"], [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(f["newline"], [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["is_letter"], [1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(f["is_punct"], [0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["is_space"], [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(f["word_position"], [1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2])
    assert features_text("x7")["is_digit"].tolist() == [0, 1]
    assert features_text(")")["bracket_depth"].tolist() == [0]  # never below 0


def test_word_features_by_hand():
    f = features_words(["the", "cat", "(", "N", ")", "<eos>", "<unk>", "ran"])
    np.testing.assert_array_equal(f["sentence_position"], [0, 1, 2, 3, 4, 5, 0, 1])
    np.testing.assert_array_equal(f["is_eos"], [0, 0, 0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(f["is_unk"], [0, 0, 0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(f["bracket_depth"], [0, 0, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["is_number"], [0, 0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(f["is_punct"], [0, 0, 1, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(f["word_length"], [3, 3, 1, 1, 1, 0, 0, 3])


def test_digit_features_by_hand():
    img = np.array([[0, 0, 0], [1, 0, 1], [0, 2, 2]], float)
    f = features_digits(img)
    np.testing.assert_array_equal(f["row"], [0, 1, 2])
    np.testing.assert_array_equal(f["ink"], [0, 2, 4])
    np.testing.assert_array_equal(f["ink_so_far"], [0, 2, 6])
    np.testing.assert_allclose(f["ink_centre"], [1.0, 1.0, 1.5])


def test_pearson_matches_corrcoef_and_is_nan_safe():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 4))
    X[:, 2] = 3.0  # constant unit
    F = np.stack([X[:, 0] * 2 + 1, -X[:, 1], np.ones(50)], axis=1)  # the last feature is constant
    r = pearson(X, F)
    assert r.shape == (3, 4)
    assert r[0, 0] == pytest.approx(1.0) and r[1, 1] == pytest.approx(-1.0)
    assert np.all(r[:, 2] == 0.0) and np.all(r[2] == 0.0) and np.isfinite(r).all()
    assert r[0, 3] == pytest.approx(np.corrcoef(X[:, 0], X[:, 3])[0, 1])


def test_find_units_finds_a_planted_carry_unit_in_the_right_layer_and_state():
    rng = np.random.default_rng(1)
    T = 40
    a, b = rng.integers(0, 2, T), rng.integers(0, 2, T)
    feats = features_binary_addition(a, b)
    layer0 = {"h": rng.standard_normal((T, 6))}
    layer1 = {"h": rng.standard_normal((T, 6)), "c": rng.standard_normal((T, 6))}
    layer1["c"][:, 4] = 0.9 * feats["carry_out"] + 0.01 * rng.standard_normal(T)
    layer1["h"][:, 0] = 0.5  # constant: r = 0
    table = find_units([layer0, layer1], feats, per_feature=3)
    best = table.best("carry_out")
    assert (best.layer, best.state, best.unit) == (1, "c", 4) and best.r > 0.99
    assert table.rows[0] == best  # the strongest correlation overall
    assert sum(r.feature == "carry_out" for r in table.rows) == 3
    assert all(abs(x.r) >= abs(y.r) for x, y in zip(table.rows, table.rows[1:]))
    assert table.correlations[(1, "h")].shape == (5, 6) and np.all(table.correlations[(1, "h")][:, 0] == 0)
    assert table.samples == T
    assert table.best("nope") is None
    only_h = find_units([layer0, layer1], feats, state_keys=["h"])
    assert all(r.state == "h" for r in only_h.rows)
    with pytest.raises(ValueError):
        find_units({"h": np.zeros((3, 2))}, {"x": np.zeros(4)})


def test_find_units_on_a_real_binary_addition_probe():
    from core.experiments.binary_addition import BinaryAddition
    exp = BinaryAddition(seed=0)
    probe = exp.probe()
    feats = features_for_probe(probe)
    assert set(feats) == {"a", "b", "carry_in", "carry_out", "sum"}
    a_bits, b_bits = probe.inputs[:, 0], probe.inputs[:, 1]  # (T, 2) input bits, LSB first
    np.testing.assert_array_equal(feats["a"], a_bits)
    np.testing.assert_array_equal(feats["sum"], (a_bits + b_bits + feats["carry_in"]) % 2)
    table = find_units(probe, feats)
    assert table.samples == probe.num_steps
    assert {r.feature for r in table.rows} <= set(feats)


def _text_probe():
    text = "ab\"c"
    labels = ("a", "b", "c", "\"")
    T = 4
    h = np.array([[0.1, -0.5], [0.2, 0.0], [0.9, 0.3], [-0.4, 0.2]])
    probs = np.full((T, 4), 0.1)
    probs[np.arange(T), [1, 3, 2, 0]] = 0.7
    # duck-typed: the analyses read only these fields (and the text from extras or views)
    return SimpleNamespace(experiment="char-lm", input_labels=tuple(text), inputs=np.eye(4)[[0, 1, 3, 2]],
                           layers=(LayerTrace("layer 1 (rnn)", "rnn", "tanh", {"h": h}),), outputs=probs,
                           output_labels=labels, target_labels=("b", "\"", "c", ""),
                           views=(SimpleNamespace(text=text, loss=0.0),))


def test_text_activation_and_surprise_by_hand():
    probe = _text_probe()
    ta = probe_text_activation(probe, 0, "h", 0)
    assert ta.chars == ("a", "b", "\"", "c")
    np.testing.assert_allclose(ta.activation, [0.1, 0.2, 0.9, -0.4])
    assert ta.value_range == (-1.0, 1.0)
    # targets b, ", c: p = 0.7, 0.7, 0.7 (the last step has no target: NaN)
    np.testing.assert_allclose(ta.surprise[:3], -np.log(0.7))
    assert np.isnan(ta.surprise[3])
    feats = features_for_probe(probe)
    np.testing.assert_array_equal(feats["in_quotes"], [0, 0, 1, 1])
    assert text_activation(["x"], [0.5]).surprise is None
    np.testing.assert_allclose(surprise([[0.25, 0.75]], [1]), [-np.log(0.75)])
    with pytest.raises(ValueError):
        text_activation(["x", "y"], [0.5])
