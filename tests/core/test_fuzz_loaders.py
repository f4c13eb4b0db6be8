"""Fuzzing the loaders: random bytes and mutated valid files end in a clear ValueError
(DataError, CheckpointError, ConfigError...) or a valid load, never another exception."""
import gzip
import os
import tempfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.checkpoint import load_checkpoint, save_checkpoint
from core.data.images import read_idx
from core.data.text import read_text_file
from core.data.words import load_ptb
from core.experiments.iris import Iris
from core.trainer import Trainer

FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_checkpoint() -> bytes:
    exp = Iris(seed=0)
    Trainer(exp).run(2)
    with tempfile.TemporaryDirectory() as d:
        return save_checkpoint(os.path.join(d, "ck.npz"), exp).read_bytes()


VALID = {
    "checkpoint": _valid_checkpoint(),
    "idx": (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (3, 4, 5)) + bytes(range(60)),
    "text": "The cat sat on the mat.\nA dog.\n".encode("utf-8"),
}
VALID["idx.gz"] = gzip.compress(VALID["idx"])


def mutated(kind: str):
    """A valid file of ``kind`` with some bytes replaced, cut short or extended."""
    base = VALID[kind]
    edits = st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)), min_size=1, max_size=8)
    return st.one_of(
        edits.map(lambda es: _apply(base, es)),
        st.integers(0, len(base) - 1).map(lambda n: base[:n]),
        st.binary(min_size=1, max_size=64).map(lambda tail: base + tail),
    )


def _apply(base: bytes, edits) -> bytes:
    b = bytearray(base)
    for i, v in edits:
        b[i] = v
    return bytes(b)


def _load_or_clear_error(fn):
    try:
        fn()
    except ValueError as e:  # DataError, CheckpointError, ConfigError are ValueErrors
        msg = str(e)
        assert msg and "\n" not in msg.strip(), repr(msg)


@FUZZ
@given(data=st.one_of(st.binary(max_size=512), mutated("checkpoint")))
def test_checkpoint_loader(tmp_path, data):
    p = tmp_path / "ck.npz"
    p.write_bytes(data)
    _load_or_clear_error(lambda: load_checkpoint(p))


@FUZZ
@given(data=st.one_of(st.binary(max_size=256), mutated("idx"), mutated("idx.gz")))
def test_idx_reader(tmp_path, data):
    p = tmp_path / "images-idx3-ubyte"
    p.write_bytes(data)
    try:
        a = read_idx(p)
    except ValueError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert a.dtype == np.uint8 and a.ndim in (1, 3)


@FUZZ
@given(train=st.one_of(st.binary(max_size=256), mutated("text")), valid=mutated("text"))
def test_ptb_folder(tmp_path, train, valid):
    d = tmp_path / "ptb"
    d.mkdir(exist_ok=True)
    (d / "ptb.train.txt").write_bytes(train)
    (d / "ptb.valid.txt").write_bytes(valid)
    (d / "ptb.test.txt").write_bytes(VALID["text"])
    _load_or_clear_error(lambda: load_ptb(d))


@FUZZ
@given(data=st.one_of(st.binary(max_size=256), mutated("text")))
def test_corpus_reader(tmp_path, data):
    p = tmp_path / "corpus.txt"
    p.write_bytes(data)
    try:
        text = read_text_file(p)
    except ValueError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert text and "\x00" not in text
