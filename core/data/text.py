"""Text corpora for character language models.

* :func:`default_corpus` — the English text of Python's own bundled
  documentation (``pydoc_data.topics.topics``), so everything works offline.
* :func:`read_text_file` (alias ``load_text``) — any UTF-8 text file, with one
  clear :class:`CorpusError` line for a missing file, a directory, a FIFO or
  device, an empty, binary, non-UTF-8 or too large (> :data:`MAX_TEXT_BYTES`) file;
  :func:`check_corpus` — the same checks, for callers that only validate.
* :class:`CharVocab` — characters <-> integer ids.
* :func:`batchify` — a 1-D id sequence cut into ``B`` contiguous streams ``(B, N)``.
"""
from __future__ import annotations

import os
import stat
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


MAX_TEXT_BYTES = 64 * 2**20
"""Largest corpus file read (64 MiB): training keeps ~20 bytes per character in memory."""


class CorpusError(DataError):
    """A text file cannot be a corpus: missing, not a regular file, empty, binary, not UTF-8 or too large."""


def _describe_size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def _read_regular_file(path: str, what: str, limit: int, error: type[DataError] = DataError) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes; else ``error``.

    FIFOs, devices and sockets are refused from ``os.stat`` before opening, and
    again from ``fstat`` of the opened descriptor (opened non-blocking, so a path
    swapped for a FIFO in between cannot block). Never reads more than
    ``limit + 1`` bytes.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(f"{what} {path!r} does not exist") from None
    except OSError as e:
        raise error(f"{what} {path!r} cannot be read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{what} {path!r} is a directory; expected a file")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{what} {path!r} is not a regular file (a FIFO, device or socket); expected a file")
    if st.st_size > limit:
        raise error(f"{what} {path!r} is too large: {_describe_size(st.st_size)}, "
                    f"the limit is {_describe_size(limit)}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise error(f"{what} {path!r} cannot be read: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise error(f"{what} {path!r} is not a regular file (a FIFO, device or socket); expected a file")
        try:
            raw = f.read(limit + 1)
        except OSError as e:
            raise error(f"{what} {path!r} cannot be read: {e.strerror or e}") from None
    if len(raw) > limit:  # grew since the stat
        raise error(f"{what} {path!r} is too large: more than {_describe_size(limit)}, the limit")
    return raw


def _decode_corpus(p: str, raw: bytes) -> str:
    if not raw.strip():
        raise CorpusError(f"text file {p!r} is empty; expected a UTF-8 text file")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise CorpusError(f"text file {p!r} looks binary (NUL byte at offset {nul}); expected UTF-8 text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(f"text file {p!r} is not valid UTF-8 (bad byte at offset {e.start}); "
                          f"save it as UTF-8") from None
    return text.replace("\r\n", "\n")


def read_text_file(path: str | os.PathLike, limit: int | None = None) -> str:
    """The contents of a UTF-8 text file (a BOM is dropped, ``\\r\\n`` becomes ``\\n``).

    Raises :class:`CorpusError` (a DataError, so a ValueError) with one line naming
    the file if it is missing, a directory, not a regular file (FIFO, device...),
    larger than ``limit`` bytes (default :data:`MAX_TEXT_BYTES`), empty, binary
    (contains NUL bytes) or not UTF-8 (with the byte offset). Never blocks on a
    FIFO and never reads more than ``limit + 1`` bytes.
    """
    p = os.fspath(path)
    raw = _read_regular_file(p, "text file", MAX_TEXT_BYTES if limit is None else limit, CorpusError)
    return _decode_corpus(p, raw)


def check_corpus(path: str | os.PathLike) -> None:
    """Raise :class:`CorpusError` with one clear line if ``path`` cannot be a corpus; else return None.

    The one check the CLI (through :func:`read_text_file`) and the GUI share:
    missing, not a regular file, empty, binary (NUL bytes), not UTF-8 (byte
    offset) or larger than :data:`MAX_TEXT_BYTES`.
    """
    read_text_file(path)


load_text = read_text_file  # the historical name, used by the experiments


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
