"""Text corpora for character language models.

* :func:`default_corpus` — the English text of Python's own bundled
  documentation (``pydoc_data.topics.topics``), so everything works offline.
* :func:`load_text` — any UTF-8 text file, with one clear :class:`DataError`
  line for a missing file, a directory, an empty, binary or non-UTF-8 file.
* :class:`CharVocab` — characters <-> integer ids.
* :func:`batchify` — a 1-D id sequence cut into ``B`` contiguous streams ``(B, N)``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Iterable

import numpy as np

from core.data import DataError


@lru_cache(maxsize=1)
def default_corpus() -> str:
    """Python's bundled documentation topics, joined in sorted-key order with blank lines.

    About 465,000 characters, ~100 distinct characters; identical on every run
    of a given Python version.
    """
    from pydoc_data.topics import topics  # a dict str -> str, shipped with CPython

    return "\n\n".join(topics[k].strip("\n") for k in sorted(topics)) + "\n"


def load_text(path: str | os.PathLike) -> str:
    """The contents of a UTF-8 text file (a BOM is dropped, ``\\r\\n`` becomes ``\\n``).

    Raises DataError (one line, naming the file) if the path is missing, is a
    directory, or the file is empty, binary (contains NUL bytes) or not UTF-8.
    """
    p = os.fspath(path)
    if not os.path.exists(p):
        raise DataError(f"text file {p!r} does not exist")
    if os.path.isdir(p):
        raise DataError(f"text file {p!r} is a directory; expected a UTF-8 text file")
    try:
        with open(p, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"text file {p!r} cannot be read: {e.strerror or e}") from None
    if not raw.strip():
        raise DataError(f"text file {p!r} is empty")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(f"text file {p!r} looks binary (NUL byte at offset {nul}); expected UTF-8 text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"text file {p!r} is not valid UTF-8 (bad byte at offset {e.start})") from None
    return text.replace("\r\n", "\n")


def display_char(c: str) -> str:
    """A visible label for one character: space '␣', newline '⏎', tab '⇥'."""
    return {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}.get(c, c)


class CharVocab:
    """Characters <-> ids, ids in sorted character order (deterministic)."""

    def __init__(self, text_or_chars: Iterable[str]):
        self.chars: tuple[str, ...] = tuple(sorted(set(text_or_chars)))
        if not self.chars:
            raise ValueError("CharVocab needs at least one character, got an empty text")
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.chars)}
        # Fast encoding: a lookup table over code points (ord) -> id, -1 = unknown.
        self._table = np.full(max(map(ord, self.chars)) + 1, -1, dtype=np.int64)
        for c, i in self.index.items():
            self._table[ord(c)] = i

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def unknown(self, text: str) -> list[str]:
        """Characters of ``text`` not in the vocabulary (sorted, unique)."""
        return sorted(set(text) - set(self.index))

    def encode(self, text: str, field: str = "text") -> np.ndarray:
        """``text`` -> (len,) int64 ids. Unknown characters raise ValueError naming them and ``field``."""
        if not text:
            return np.zeros(0, dtype=np.int64)
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)  # (len,)
        ok = codes < len(self._table)
        ids = np.full(codes.shape, -1, dtype=np.int64)
        ids[ok] = self._table[codes[ok]]
        if (ids < 0).any():
            bad = self.unknown(text)
            shown = ", ".join(repr(c) for c in bad[:20]) + (" ..." if len(bad) > 20 else "")
            raise ValueError(f"{field}: characters not in the vocabulary: {shown} "
                             f"(the model knows {self.size} characters of its corpus)")
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut a 1-D id sequence into ``batch_size`` contiguous streams: (B, N), N = len // B.

    The remainder (< B ids) is dropped. Stream b is ``ids[b*N:(b+1)*N]``, so
    reading columns left to right walks B distant parts of the text in parallel
    (the PTB reader's layout). Raises ValueError if there is less than one id per stream.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"batchify: ids must be 1-D, got shape {ids.shape}")
    if batch_size < 1:
        raise ValueError(f"batchify: batch_size must be >= 1, got {batch_size}")
    n = len(ids) // batch_size
    if n < 1:
        raise ValueError(f"batchify: {len(ids)} ids cannot fill {batch_size} streams")
    return ids[: n * batch_size].reshape(batch_size, n)  # (B, N)


def split_tail(n: int, fraction: float) -> int:
    """Index where the held-out tail of a sequence of length ``n`` starts (at least 1 item each side)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
    return min(max(1, int(round(n * (1.0 - fraction)))), n - 1)
