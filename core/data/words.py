"""Word corpora for word language models (the Penn Treebank setup).

* :func:`load_ptb` — ``ptb.train.txt`` / ``ptb.valid.txt`` / ``ptb.test.txt``
  from a folder, read as the TensorFlow PTB reader does: lowercase words,
  every newline becomes ``<eos>``.
* :func:`tokenize` — any text as words: lowercased, words (letters, digits,
  ``_``) and single punctuation characters; one ``<eos>`` per non-empty line.
* :class:`WordVocab` — the most frequent words plus ``<unk>`` and ``<eos>``.
* :func:`default_word_data` — the default corpus (Python's documentation)
  split into train / valid / test token lists.
* :func:`batchify` (from :mod:`core.data.text`) — ids into ``(B, N)`` streams.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from core.data import DataError
from core.data.text import batchify, default_corpus, load_text

__all__ = ["EOS", "UNK", "PTB_FILES", "WordVocab", "WordData", "tokenize", "read_ptb_file",
           "load_ptb", "default_word_data", "batchify"]

EOS = "<eos>"
UNK = "<unk>"
PTB_FILES = ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|_+[^\W_]*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lowercased words and punctuation marks, ``<eos>`` after every non-empty line."""
    out: list[str] = []
    for line in text.lower().split("\n"):
        words = _WORD.findall(line)
        if words:
            out.extend(words)
            out.append(EOS)
    return out


def read_ptb_file(path: str | os.PathLike) -> list[str]:
    """One PTB file as tokens: lowercase, whitespace-split, ``<eos>`` for every newline."""
    text = load_text(path)  # DataError for missing / empty / binary / non-UTF-8
    return text.lower().replace("\n", f" {EOS} ").split()


@dataclass(frozen=True)
class WordData:
    """Token lists of a word corpus and where they came from."""

    train: list[str]
    valid: list[str]
    test: list[str]
    source: str


def load_ptb(folder: str | os.PathLike) -> WordData:
    """The three PTB files from ``folder``. A missing folder or file raises DataError naming it."""
    d = os.fspath(folder)
    if not os.path.isdir(d):
        raise DataError(f"PTB data folder {d!r} does not exist or is not a folder "
                        f"(expected {', '.join(PTB_FILES)} inside)")
    for name in PTB_FILES:
        if not os.path.lexists(os.path.join(d, name)):  # a FIFO or folder is refused by read_ptb_file
            raise DataError(f"PTB data folder {d!r} has no {name} (expected {', '.join(PTB_FILES)})")
    train, valid, test = (read_ptb_file(os.path.join(d, n)) for n in PTB_FILES)
    return WordData(train, valid, test, f"PTB ({d})")


def default_word_data(valid_fraction: float = 0.1, test_fraction: float = 0.1) -> WordData:
    """The default corpus tokenized, split by position: train head, then valid, then test tail."""
    toks = tokenize(default_corpus())
    n = len(toks)
    n_test = int(n * test_fraction)
    n_valid = int(n * valid_fraction)
    a, b = n - n_valid - n_test, n - n_test
    return WordData(toks[:a], toks[a:b], toks[b:], "Python documentation (pydoc_data.topics)")


class WordVocab:
    """Words <-> ids: ``<unk>`` = 0, ``<eos>`` = 1, then words by decreasing count (ties alphabetical)."""

    def __init__(self, words: Sequence[str]):
        if len(set(words)) != len(words):
            raise ValueError("WordVocab: duplicate words")
        self.words: tuple[str, ...] = tuple(words)
        self.index: dict[str, int] = {w: i for i, w in enumerate(self.words)}
        if UNK not in self.index or EOS not in self.index:
            raise ValueError(f"WordVocab must contain {UNK!r} and {EOS!r}")
        self.unk = self.index[UNK]
        self.eos = self.index[EOS]

    @classmethod
    def build(cls, tokens: Iterable[str], max_size: int | None = None) -> "WordVocab":
        """The ``max_size`` most frequent tokens (counting ``<unk>`` and ``<eos>``); None = all."""
        counts = Counter(tokens)
        counts.pop(UNK, None)
        counts.pop(EOS, None)
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        if max_size is not None:
            if max_size < 3:
                raise ValueError(f"vocab_size must be >= 3 (<unk>, <eos> and one word), got {max_size}")
            ranked = ranked[: max_size - 2]
        return cls([UNK, EOS] + ranked)

    @property
    def size(self) -> int:
        return len(self.words)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Tokens -> (len,) int64 ids; unknown words map to ``<unk>``."""
        idx, unk = self.index, self.unk
        return np.fromiter((idx.get(t, unk) for t in tokens), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.words[int(i)] for i in ids]
