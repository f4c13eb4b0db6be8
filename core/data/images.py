"""Digit images: scikit-learn's bundled 8x8 digits, MNIST IDX files, and an epoch batcher.

Images are float32 arrays (N, R, C) scaled to [0, 1]; labels int64 (N,).
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
import math
import os
import stat
import zlib
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from core.data import DataError

IDX_IMAGES = 0x00000803  # unsigned bytes, 3 dims (N, rows, cols)
IDX_LABELS = 0x00000801  # unsigned bytes, 1 dim (N,)
_IDX_NDIM = {IDX_IMAGES: 3, IDX_LABELS: 1}

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class ImageData:
    """A train/test split of images (N, R, C) in [0, 1] with labels (N,)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int = 10

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of one image."""
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def typical_test_index(self, label: int = 3) -> int:
        """The test image of class ``label`` closest to that class's mean training image:
        a clear example to show by default (the first test image may be an odd one)."""
        mask = self.y_test == label
        if not mask.any():
            return 0
        mean = self.x_train[self.y_train == label].mean(axis=0) if (self.y_train == label).any() else 0.0
        idx = np.flatnonzero(mask)
        d = ((self.x_test[idx] - mean) ** 2).reshape(len(idx), -1).sum(axis=1)
        return int(idx[int(np.argmin(d))])


def load_digits_split(test_fraction: float = 0.2, split_seed: int = 0) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1,797 images), scaled from 0..16 to [0, 1].

    The split is stratified and fixed: per class, a ``split_seed`` permutation puts
    ``round(test_fraction * n_class)`` images in the test set (0.2 -> 1,437 / 360).
    It does not depend on the run's seed.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    raw = _bundled_digits()  # (1797, 65): 64 pixels 0..16, then the label
    images = (raw[:, :64] / 16.0).astype(np.float32).reshape(-1, 8, 8)  # (N, 8, 8)
    labels = raw[:, 64].astype(np.int64)
    rng = np.random.default_rng(split_seed)
    test_idx = []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        test_idx.append(idx[: int(round(test_fraction * len(idx)))])
    test = np.zeros(len(labels), dtype=bool)
    test[np.concatenate(test_idx)] = True
    return ImageData("digits 8x8", images[~test], labels[~test], images[test], labels[test])


@functools.lru_cache(maxsize=1)
def _bundled_digits() -> np.ndarray:
    """The 8x8 digits file that ships inside scikit-learn (sklearn/datasets/data/digits.csv.gz),
    read directly: importing sklearn.datasets takes seconds, this takes milliseconds."""
    spec = importlib.util.find_spec("sklearn")
    path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz") if spec else ""
    if path and os.path.isfile(path):
        raw = np.loadtxt(path, delimiter=",", dtype=np.float32)
    else:  # layout changed: use the public loader
        from sklearn.datasets import load_digits

        d = load_digits()
        raw = np.column_stack([d.data, d.target]).astype(np.float32)
    if raw.shape != (1797, 65):
        raise DataError(f"{path or 'sklearn digits'}: expected 1797 rows of 64 pixels + label, got {raw.shape}")
    raw.setflags(write=False)
    return raw


MAX_IDX_BYTES = 256 * 2**20
"""Largest IDX data read (256 MiB after decompression; MNIST's training images are 45 MiB)."""


def _idx_header(head: bytes, path: str) -> tuple[int, tuple[int, ...]]:
    """(header length, dims) from the first bytes of an IDX file; DataError if malformed."""
    if len(head) < 4:
        raise DataError(f"{path}: truncated: {len(head)} bytes, too short for an IDX header")
    magic = int.from_bytes(head[:4], "big")
    if magic not in _IDX_NDIM:
        raise DataError(f"{path}: wrong magic number 0x{magic:08x}; expected 0x{IDX_IMAGES:08x} (images) "
                        f"or 0x{IDX_LABELS:08x} (labels): not an MNIST IDX file")
    ndim = _IDX_NDIM[magic]
    header = 4 + 4 * ndim
    if len(head) < header:
        raise DataError(f"{path}: truncated header: {len(head)} bytes, expected at least {header}")
    dims = tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if ndim == 3 and (dims[1] == 0 or dims[2] == 0):
        raise DataError(f"{path}: bad image size {dims[1]}x{dims[2]}")
    size = math.prod(dims)  # Python ints: no overflow
    if size > MAX_IDX_BYTES:
        raise DataError(f"{path}: header says {'x'.join(map(str, dims))} = {size:,} bytes of data, "
                        f"more than the {MAX_IDX_BYTES // 2**20} MiB limit")
    return header, dims


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes (raw or gzip-compressed), as uint8.

    Images (magic 0x00000803) -> (N, rows, cols); labels (magic 0x00000801) -> (N,).
    Raises DataError naming the file when it is missing, not a regular file, not
    IDX (wrong magic number), truncated, longer than its header says, or when the
    header announces more than :data:`MAX_IDX_BYTES` of data. The header is
    checked before the data is read; gzip data is decompressed as a stream and
    never beyond what the header announces (plus one byte to detect extra data).
    """
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: not a regular file (a folder, FIFO or device); expected an IDX file")
    if st.st_size > MAX_IDX_BYTES + 16:
        raise DataError(f"{path}: {st.st_size:,} bytes, more than the {MAX_IDX_BYTES // 2**20} MiB limit")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise DataError(f"{path}: not a regular file (a folder, FIFO or device); expected an IDX file")
            gz = f.read(2) == b"\x1f\x8b"  # gzip magic, whatever the file is called
            f.seek(0)
            stream = gzip.GzipFile(fileobj=f, mode="rb") if gz else f
            head = stream.read(4)
            if len(head) == 4 and int.from_bytes(head, "big") in _IDX_NDIM:
                head += stream.read(4 * _IDX_NDIM[int.from_bytes(head, "big")])
            header, dims = _idx_header(head, path)
            size = math.prod(dims)
            data = stream.read(size + 1)  # bounded: one byte more tells whether there is extra data
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, OSError) and not gz:
            raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
        raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None
    if len(data) < size:
        raise DataError(f"{path}: truncated: header says {'x'.join(map(str, dims))} = {size} bytes of data, "
                        f"found {len(data)}")
    if len(data) > size:
        extra = "unexpected data" if gz else f"{st.st_size - header - size} unexpected bytes"
        raise DataError(f"{path}: {extra} after the {size} bytes the header announces")
    return np.frombuffer(data, dtype=np.uint8, count=size).reshape(dims).copy()


def _find(folder: str, stem: str) -> str | None:
    """The file for ``stem`` in ``folder``: raw or .gz, with '-' or '.' before 'idx'."""
    alt = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", alt, alt + ".gz"):
        p = os.path.join(folder, name)
        if os.path.lexists(p) and not os.path.isdir(p):  # FIFOs etc. are refused by read_idx
            return p
    return None


def load_mnist(folder: str | os.PathLike) -> ImageData:
    """MNIST (or any IDX digits set in the same layout) from ``folder``.

    Needs train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    t10k-labels-idx1-ubyte (each raw or .gz). Pixels are scaled from 0..255 to [0, 1].
    Raises DataError for a missing folder/file or a malformed file.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise DataError(f"{folder}: MNIST folder not found")
    paths: dict[str, str] = {}
    missing = []
    for key, stem in MNIST_FILES.items():
        p = _find(folder, stem)
        if p is None:
            missing.append(stem)
        else:
            paths[key] = p
    if missing:
        raise DataError(f"{folder}: missing MNIST file(s) {', '.join(missing)} (raw or .gz)")
    arrays = {k: read_idx(p) for k, p in paths.items()}
    _check_pair(arrays, paths, "train")
    _check_pair(arrays, paths, "test")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(f"{paths['test_images']}: images are {arrays['test_images'].shape[1:]}, "
                        f"the training images are {arrays['train_images'].shape[1:]}")
    scale = np.float32(1.0 / 255.0)
    return ImageData("MNIST", arrays["train_images"].astype(np.float32) * scale,
                     arrays["train_labels"].astype(np.int64),
                     arrays["test_images"].astype(np.float32) * scale,
                     arrays["test_labels"].astype(np.int64))


def _check_pair(arrays: Mapping[str, np.ndarray], paths: Mapping[str, str], split: str) -> None:
    im, lab = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    if im.ndim != 3:
        raise DataError(f"{paths[f'{split}_images']}: expected an images file (magic 0x{IDX_IMAGES:08x}), "
                        f"got a labels file")
    if lab.ndim != 1:
        raise DataError(f"{paths[f'{split}_labels']}: expected a labels file (magic 0x{IDX_LABELS:08x}), "
                        f"got an images file")
    if len(im) != len(lab):
        raise DataError(f"{paths[f'{split}_labels']}: {len(lab)} labels for {len(im)} images")
    if len(lab) == 0:
        raise DataError(f"{paths[f'{split}_images']}: no images")
    if lab.max() > 9:
        raise DataError(f"{paths[f'{split}_labels']}: label {int(lab.max())} is not a digit 0-9")


def load_images(data_dir: str = "") -> ImageData:
    """MNIST from ``data_dir`` when given, else the bundled 8x8 digits."""
    return load_mnist(data_dir) if data_dir else load_digits_split()


class EpochBatcher:
    """Mini-batches over ``n`` examples, epoch by epoch (Nielsen's SGD loop).

    Each epoch is a fresh permutation drawn from the caller's rng; the last
    batch of an epoch holds the remainder (may be smaller), as in network.py.
    ``state()`` / ``load_state()`` make a resumed run draw the same batches.
    """

    def __init__(self, n: int):
        self.n = int(n)
        self.perm = np.arange(self.n, dtype=np.int64)
        self.cursor = self.n  # exhausted: the first call shuffles
        self.epoch = 0

    def next(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Indices (<= batch_size,) of the next mini-batch."""
        if self.cursor >= self.n:
            self.perm = rng.permutation(self.n).astype(np.int64)
            self.cursor = 0
            self.epoch += 1
        idx = self.perm[self.cursor: self.cursor + batch_size]
        self.cursor += len(idx)
        return idx

    def state(self) -> dict[str, np.ndarray]:
        return {"perm": self.perm.copy(), "cursor": np.array(self.cursor), "epoch": np.array(self.epoch)}

    def load_state(self, state: Mapping[str, np.ndarray]) -> None:
        missing = {"perm", "cursor", "epoch"} - set(state)
        if missing:
            raise ValueError(f"checkpoint is missing batcher state: {', '.join(sorted(missing))}")
        perm = np.asarray(state["perm"], dtype=np.int64)
        if perm.shape != (self.n,):
            raise ValueError(f"checkpoint batcher permutation has shape {perm.shape}, expected ({self.n},)")
        self.perm = perm.copy()
        self.cursor = int(state["cursor"])
        self.epoch = int(state["epoch"])
