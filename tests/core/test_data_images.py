"""Digit data: the bundled 8x8 split, the IDX reader and the MNIST folder loader."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from core.data import DataError
from core.data.images import EpochBatcher, load_digits_split, load_mnist, read_idx


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x00000803 if arr.ndim == 3 else 0x00000801
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape) + arr.tobytes()


def images(n: int, r: int = 4, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, r, c), dtype=np.uint8)


def test_digits_split_is_fixed_stratified_and_scaled():
    d = load_digits_split()
    assert d.shape == (8, 8)
    assert len(d.y_train) + len(d.y_test) == 1797
    assert 0.19 < len(d.y_test) / 1797 < 0.21
    assert d.x_train.dtype == np.float32 and d.x_train.min() >= 0.0 and d.x_train.max() == 1.0
    # every class in the test set in proportion
    counts = np.bincount(d.y_test, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38
    again = load_digits_split()
    np.testing.assert_array_equal(d.y_test, again.y_test)
    np.testing.assert_array_equal(d.x_train, again.x_train)


def test_read_idx_raw_and_gzip(tmp_path):
    im = images(5)
    lab = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    (tmp_path / "im").write_bytes(idx_bytes(im))
    (tmp_path / "lab.gz").write_bytes(gzip.compress(idx_bytes(lab)))
    got = read_idx(tmp_path / "im")
    assert got.shape == (5, 4, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, im)
    np.testing.assert_array_equal(read_idx(tmp_path / "lab.gz"), lab)


def test_read_idx_wrong_magic_names_file(tmp_path):
    p = tmp_path / "bad-idx"
    p.write_bytes(idx_bytes(images(2), magic=0x00000804))
    with pytest.raises(DataError, match=r"bad-idx.*wrong magic number 0x00000804"):
        read_idx(p)


@pytest.mark.parametrize("cut", [3, 10, 20])
def test_read_idx_truncated_names_file(tmp_path, cut):
    raw = idx_bytes(images(2))  # 16-byte header + 24 bytes
    p = tmp_path / "short-idx3-ubyte"
    p.write_bytes(raw[: len(raw) - cut] if cut != 3 else raw[:3])
    with pytest.raises(DataError, match=r"short-idx3-ubyte.*truncated"):
        read_idx(p)


def test_read_idx_truncated_gzip_and_extra_bytes(tmp_path):
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress(idx_bytes(images(3)))[:-12])
    with pytest.raises(DataError, match=r"t\.gz"):
        read_idx(p)
    q = tmp_path / "long"
    q.write_bytes(idx_bytes(images(1)) + b"\x00\x01")
    with pytest.raises(DataError, match=r"long.*2 unexpected bytes"):
        read_idx(q)
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "nope")


def write_mnist(folder, n_train=6, n_test=4, gz=False):
    folder.mkdir(exist_ok=True)
    parts = {
        "train-images-idx3-ubyte": images(n_train, 5, 5, 1),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": images(n_test, 5, 5, 2),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) + 3) % 10,
    }
    for name, arr in parts.items():
        raw = idx_bytes(arr)
        (folder / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return parts


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_folder(tmp_path, gz):
    parts = write_mnist(tmp_path / "m", gz=gz)
    d = load_mnist(tmp_path / "m")
    assert d.shape == (5, 5) and d.x_train.shape == (6, 5, 5) and d.x_test.shape == (4, 5, 5)
    np.testing.assert_allclose(d.x_train * 255.0, parts["train-images-idx3-ubyte"], atol=1e-3)
    np.testing.assert_array_equal(d.y_test, parts["t10k-labels-idx1-ubyte"])


def test_load_mnist_missing_files_and_folder(tmp_path):
    write_mnist(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="missing MNIST file.*t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path / "m")
    with pytest.raises(DataError, match="folder not found"):
        load_mnist(tmp_path / "absent")


def test_load_mnist_label_count_mismatch(tmp_path):
    write_mnist(tmp_path / "m")
    (tmp_path / "m" / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.arange(5)))
    with pytest.raises(DataError, match="5 labels for 6 images"):
        load_mnist(tmp_path / "m")


def test_epoch_batcher_covers_each_example_once_per_epoch_and_resumes():
    b = EpochBatcher(25)
    rng = np.random.default_rng(0)
    batches = [b.next(10, rng) for _ in range(3)]
    assert [len(x) for x in batches] == [10, 10, 5]  # the remainder, as network.py
    assert sorted(np.concatenate(batches).tolist()) == list(range(25))
    state, rng_state = b.state(), rng.bit_generator.state
    ahead = [b.next(10, rng) for _ in range(4)]
    c = EpochBatcher(25)
    c.load_state(state)
    rng2 = np.random.default_rng(99)
    rng2.bit_generator.state = rng_state
    for want in ahead:
        np.testing.assert_array_equal(c.next(10, rng2), want)
    with pytest.raises(ValueError, match="permutation has shape"):
        EpochBatcher(3).load_state(state)


def test_typical_test_index_picks_the_example_nearest_its_class_mean():
    from core.data.images import ImageData

    x_train = np.stack([np.full((2, 2), v) for v in (0.0, 0.2, 1.0, 0.8)])
    y_train = np.array([0, 0, 3, 3])  # class 3's mean image is 0.9 everywhere
    x_test = np.stack([np.full((2, 2), v) for v in (0.1, 0.3, 0.95, 0.6)])
    y_test = np.array([0, 3, 3, 3])
    data = ImageData("toy", x_train, y_train, x_test, y_test)
    assert data.typical_test_index(3) == 2
    assert data.typical_test_index(0) == 0
    assert data.typical_test_index(7) == 0  # no such class: the first image
