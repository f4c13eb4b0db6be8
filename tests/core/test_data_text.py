"""Text and word loaders: contents, vocabularies, streams and every DataError."""
from __future__ import annotations

import numpy as np
import pytest

from core.data import DataError
from core.data.text import CharVocab, batchify, default_corpus, display_char, load_text, split_tail
from core.data.words import (EOS, UNK, WordVocab, default_word_data, load_ptb, read_ptb_file, tokenize)


# -- default corpus ------------------------------------------------------------------


def test_default_corpus_is_deterministic_python_documentation():
    text = default_corpus()
    assert len(text) > 100_000
    assert text == default_corpus()
    assert "assert" in text and "\n" in text
    assert 60 < len(set(text)) < 200


# -- load_text -----------------------------------------------------------------------


def test_load_text_reads_utf8_drops_bom_and_crlf(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("\ufeffhéllo\r\nwörld\n".encode("utf-8"))
    assert load_text(p) == "héllo\nwörld\n"
    assert load_text(str(p)) == "héllo\nwörld\n"


@pytest.mark.parametrize("case, content, needle", [
    ("missing", None, "does not exist"),
    ("directory", "dir", "is a directory"),
    ("empty", b"", "is empty"),
    ("blank", b" \n\n ", "is empty"),
    ("binary", b"abc\x00def", "binary"),
    ("latin1", "caf\xe9 au lait".encode("latin-1"), "not valid UTF-8"),
])
def test_load_text_errors_name_the_file(tmp_path, case, content, needle):
    p = tmp_path / f"{case}.txt"
    if content == "dir":
        p.mkdir()
    elif content is not None:
        p.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_text(p)
    msg = str(info.value)
    assert needle in msg and f"{case}.txt" in msg
    assert "\n" not in msg
    assert isinstance(info.value, ValueError)


# -- CharVocab -------------------------------------------------------------------------


def test_char_vocab_round_trip_sorted_ids():
    v = CharVocab("hello world\n")
    assert v.chars == tuple(sorted(set("hello world\n")))
    assert v.size == len(v) == 9
    ids = v.encode("low\nrod")
    assert ids.dtype == np.int64 and ids.shape == (7,)
    assert v.decode(ids) == "low\nrod"
    assert v.encode("").shape == (0,)


def test_char_vocab_unknown_characters_are_named():
    v = CharVocab("abc")
    with pytest.raises(ValueError) as info:
        v.encode("abzx€", "prime")
    msg = str(info.value)
    assert "prime" in msg and "'z'" in msg and "'x'" in msg and "'€'" in msg
    assert v.unknown("abzz") == ["z"]


def test_display_char_makes_whitespace_visible():
    assert display_char(" ") == "␣" and display_char("\n") == "⏎" and display_char("a") == "a"


# -- batchify / split ------------------------------------------------------------------


def test_batchify_cuts_contiguous_streams():
    s = batchify(np.arange(23), 4)  # (B, N) = (4, 5), 3 ids dropped
    assert s.shape == (4, 5)
    np.testing.assert_array_equal(s[1], np.arange(5, 10))
    with pytest.raises(ValueError, match="cannot fill"):
        batchify(np.arange(3), 4)
    with pytest.raises(ValueError, match="1-D"):
        batchify(np.zeros((2, 2), np.int64), 1)


def test_split_tail_keeps_both_sides():
    assert split_tail(100, 0.1) == 90
    assert split_tail(3, 0.01) == 2
    with pytest.raises(ValueError):
        split_tail(100, 1.5)


# -- words -------------------------------------------------------------------------------


def test_tokenize_lowercases_splits_punctuation_and_marks_lines():
    toks = tokenize("The cat's hat.\n\n  Two  words\n")
    assert toks == ["the", "cat's", "hat", ".", EOS, "two", "words", EOS]


def test_word_vocab_build_caps_and_maps_unknown_to_unk():
    toks = ["b", "a", "b", "c", "b", "a", EOS, UNK, "d"]
    v = WordVocab.build(toks, max_size=4)
    assert v.words == (UNK, EOS, "b", "a")  # by count, then alphabetically
    assert v.unk == 0 and v.eos == 1
    np.testing.assert_array_equal(v.encode(["a", "zzz", "c", EOS]), [3, 0, 0, 1])
    assert v.decode([2, 1]) == ["b", EOS]
    assert WordVocab.build(toks).size == 6  # unk, eos, a, b, c, d
    with pytest.raises(ValueError, match="vocab_size"):
        WordVocab.build(toks, max_size=2)


def _write_ptb(folder, skip=None):
    folder.mkdir(exist_ok=True)
    lines = {"train": " The cat sat\n the dog <unk> sat\n", "valid": " the cat\n", "test": " a dog\n"}
    for part, text in lines.items():
        if part != skip:
            (folder / f"ptb.{part}.txt").write_text(text)
    return folder


def test_load_ptb_reads_like_the_tf_reader(tmp_path):
    d = load_ptb(_write_ptb(tmp_path / "ptb"))
    assert d.train == ["the", "cat", "sat", EOS, "the", "dog", UNK, "sat", EOS]
    assert d.valid == ["the", "cat", EOS] and d.test == ["a", "dog", EOS]
    assert read_ptb_file(tmp_path / "ptb" / "ptb.valid.txt") == d.valid


def test_load_ptb_missing_file_or_folder_names_it(tmp_path):
    with pytest.raises(DataError, match="ptb.valid.txt"):
        load_ptb(_write_ptb(tmp_path / "p1", skip="valid"))
    with pytest.raises(DataError, match="nowhere"):
        load_ptb(tmp_path / "nowhere")
    bad = _write_ptb(tmp_path / "p2")
    (bad / "ptb.test.txt").write_bytes(b"\x00\x01")
    with pytest.raises(DataError, match="ptb.test.txt"):
        load_ptb(bad)


def test_default_word_data_splits_in_order():
    d = default_word_data()
    n = len(d.train) + len(d.valid) + len(d.test)
    assert len(d.train) > 0.75 * n and len(d.valid) > 0.05 * n and len(d.test) > 0.05 * n
    assert EOS in d.valid and all(t == t.lower() for t in d.train[:1000])
