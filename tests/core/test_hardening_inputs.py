"""Hardening of inputs: no file hangs, exhausts memory or loads unchecked; bounds and messages.

Each test names the issue item it covers ("Hardening: no input hangs, exhausts memory or clobbers a run").
"""
import gzip
import os
import stat
import threading
import zipfile

import numpy as np
import pytest

import core.checkpoint as ckmod
import core.cli as cli
import core.memory as memory
from core.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from core.config import ConfigError
from core.data import DataError
from core.data.images import read_idx
from core.data.text import CorpusError, check_corpus, read_text_file
from core.experiments import registry
from core.experiments.char_lm import CharLM
from core.experiments.iris import Iris
from core.trainer import Trainer

HUGE_CHAR_LM = {"hidden_size": 1024, "batch_size": 512, "seq_len": 400, "num_layers": 3}


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *fragments):
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 1, err
    assert lines[0].startswith("rnnlab: error: ") and "Traceback" not in err and "[Errno" not in err
    for f in fragments:
        assert f in lines[0], lines[0]


def returns_promptly(fn, timeout=10.0):
    """Run fn() in a daemon thread; fail (instead of hanging the suite) if it blocks."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "the loader blocked (opened a FIFO?)"
    return result


# -- item 1: FIFOs and devices are never opened ----------------------------------------------------

@pytest.mark.parametrize("loader, match", [
    (check_corpus, "not a regular file"),
    (read_text_file, "not a regular file"),
    (read_idx, "not a regular file"),
    (read_checkpoint, "FIFO"),
])
def test_a_fifo_is_refused_without_blocking(tmp_path, loader, match):
    fifo = tmp_path / "corpus.fifo"
    os.mkfifo(fifo)
    result = returns_promptly(lambda: loader(fifo))
    assert isinstance(result.get("error"), ValueError), result
    assert match in str(result["error"]) and "corpus.fifo" in str(result["error"])


@pytest.mark.parametrize("loader", [check_corpus, read_idx, read_checkpoint])
def test_dev_zero_is_refused_before_reading(loader):
    result = returns_promptly(lambda: loader("/dev/zero"))
    assert isinstance(result.get("error"), ValueError) and "/dev/zero" in str(result["error"])


def test_cli_train_with_a_fifo_corpus_is_one_line(capsys, tmp_path):
    fifo = tmp_path / "c.fifo"
    os.mkfifo(fifo)
    result = returns_promptly(lambda: run(capsys, "train", "char-lm", "--set", f"corpus={fifo}",
                                          "--out", str(tmp_path / "o"), "--no-progress"))
    one_line_error(*result["value"][::2], "c.fifo", "not a regular file")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def test_corpus_checks_name_the_problem(tmp_path, monkeypatch):
    cases = {"empty.txt": (b"  \n", "empty"), "bin.txt": (b"ab\x00c", "NUL byte at offset 2"),
             "latin.txt": ("caf\u00e9".encode("latin-1"), "offset 3"), "ok.txt": ("h\u00e9llo\r\n".encode(), None)}
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        if message is None:
            check_corpus(tmp_path / name)
            assert read_text_file(tmp_path / name) == "h\u00e9llo\n"
        else:
            with pytest.raises(CorpusError, match=message):
                check_corpus(tmp_path / name)
    with pytest.raises(CorpusError, match="does not exist"):
        check_corpus(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match="directory"):
        check_corpus(tmp_path)
    monkeypatch.setattr("core.data.text.MAX_TEXT_BYTES", 100)
    (tmp_path / "big.txt").write_text("x" * 101)
    with pytest.raises(CorpusError, match="too large: 101 bytes, the limit is 100 bytes"):
        check_corpus(tmp_path / "big.txt")
    assert issubclass(CorpusError, DataError) and issubclass(CorpusError, ValueError)


# -- item 4: IDX headers whose sizes overflow int64 ------------------------------------------------

def test_idx_header_that_overflows_int64_gives_a_positive_size_and_the_limit(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes((0x803).to_bytes(4, "big") + b"\xff\xff\xff\xff" * 3 + b"\x00" * 16)
    with pytest.raises(DataError) as e:
        read_idx(p)
    msg = str(e.value)
    assert "-" not in msg.split(":", 1)[1].replace("idx3-ubyte", "") and "limit" in msg
    assert f"{(2**32 - 1) ** 3:,}" in msg


# -- item 5: decompression bombs -------------------------------------------------------------------

def _gzip_stream(path, head: bytes, zeros: int, chunk=1 << 20):
    """gzip of head + ``zeros`` zero bytes, compressed chunk by chunk (small file, large content)."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz:
        gz.write(head)
        block = bytes(chunk)
        for _ in range(zeros // chunk):
            gz.write(block)


def test_gz_idx_that_inflates_far_past_its_header_stops_at_the_header_size(tmp_path, monkeypatch):
    p = tmp_path / "labels.gz"
    head = (0x801).to_bytes(4, "big") + (1000).to_bytes(4, "big")
    _gzip_stream(p, head, 64 << 20)  # 64 MiB of zeros in ~64 KiB
    assert p.stat().st_size < 1 << 20
    reads = []
    real = gzip.GzipFile.read
    monkeypatch.setattr(gzip.GzipFile, "read", lambda self, n=-1: reads.append(n) or real(self, n))
    with pytest.raises(DataError, match="unexpected data after the 1000 bytes"):
        read_idx(p)
    assert all(0 <= n <= 1001 for n in reads)  # never "read everything"


def test_gz_idx_whose_header_claims_more_than_the_limit_is_refused_before_inflating(tmp_path):
    p = tmp_path / "images.gz"
    head = (0x803).to_bytes(4, "big") + (10**6).to_bytes(4, "big") + (1000).to_bytes(4, "big") * 2
    _gzip_stream(p, head, 0)
    with pytest.raises(DataError, match="limit"):
        read_idx(p)


def _npz_with_member(path, name, header_shape, payload: bytes, compress=True):
    """An .npz whose member ``name`` has a .npy header claiming ``header_shape`` float64."""
    hdr = {"descr": "<f8", "fortran_order": False, "shape": header_shape}
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, hdr)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        z.writestr(name, buf.getvalue() + payload)


def test_npz_member_whose_header_claims_gigabytes_is_refused_from_the_header(tmp_path):
    p = tmp_path / "claims.npz"
    _npz_with_member(p, "state/param.W.npy", (3 * 2**27,), b"\x00" * 64)  # claims 3 GiB, holds 64 bytes
    with pytest.raises(CheckpointError, match="declares shape"):
        read_checkpoint(p)


def test_npz_bomb_is_refused_before_any_member_is_read(tmp_path, monkeypatch):
    p = tmp_path / "bomb.npz"
    n = 48 << 20  # 48 MiB of zeros: compresses to ~50 KiB
    hdr = {"descr": "<f8", "fortran_order": False, "shape": (n // 8,)}
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("state/param.W.npy", "w", force_zip64=True) as m:
            np.lib.format.write_array_header_1_0(m, hdr)
            block = bytes(1 << 20)
            for _ in range(n >> 20):
                m.write(block)
    assert p.stat().st_size < 1 << 20
    monkeypatch.setattr(ckmod, "MAX_CHECKPOINT_BYTES", 16 << 20)
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: pytest.fail("a member was read"))
    with pytest.raises(CheckpointError, match="too large to load.*16 MiB|too large to load"):
        read_checkpoint(p)


def test_npz_with_a_pickled_member_is_refused_and_never_unpickled(tmp_path):
    p = tmp_path / "pickle.npz"
    import io
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("format.npy", buf.getvalue())
    with pytest.raises(CheckpointError, match="Python objects"):
        read_checkpoint(p)


# -- item 3: sample length and other CLI bounds ---------------------------------------------------

@pytest.mark.parametrize("argv, fragments", [
    (["sample", "x.npz", "--length", "1000000000"], ["--length", "1,000,000,000", "limit of 100,000"]),
    (["sample", "x.npz", "--length", "0"], ["--length", "0 is not a positive integer"]),
    (["sample", "x.npz", "--prime", "a" * 20000], ["--prime", "at most 10,000"]),
    (["sample", "x.npz", "--seed", "-3"], ["--seed: -3 is not a non-negative integer"]),
    (["train", "iris", "--seed", "-1"], ["--seed: -1 is not a non-negative integer"]),
    (["train", "iris", "--steps", "10000000000"], ["--steps", "limit of 1,000,000,000"]),
    (["train", "iris", "--checkpoint-every", "-5"], ["--checkpoint-every"]),
])
def test_bounds_name_the_flag_and_the_bound(capsys, tmp_path, monkeypatch, argv, fragments):
    monkeypatch.chdir(tmp_path)
    one_line_error(*run(capsys, *argv)[::2], *fragments)
    assert not (tmp_path / "runs").exists()


# -- item 6: memory ---------------------------------------------------------------------------------

def test_memory_estimate_refuses_the_huge_char_lm_config():
    est = memory.estimate_memory(CharLM, HUGE_CHAR_LM)
    assert est.total > 3.92 * 2**30 and est.largest == "activations"
    with pytest.raises(ConfigError) as e:
        memory.check_memory(CharLM, HUGE_CHAR_LM, available=16 * 2**30)
    msg = str(e.value)
    for part in ("hidden_size=1024", "batch_size=512", "seq_len=400", "num_layers=3", "16.0 GiB available"):
        assert part in msg, msg
    assert "\n" not in msg


def test_every_preset_fits_in_two_gib():
    for exp_id in registry.ids():
        cls = registry.get(exp_id)
        for name, preset in cls.presets.items():
            est = memory.check_memory(cls, preset.values, available=2 * 2**30)
            assert 0 < est.total < 2 * 2**30, (exp_id, name)
    assert memory.available_memory() is None or memory.available_memory() > 0


def test_cli_refuses_a_run_that_would_not_fit_before_building_it(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_memory", lambda: 8 * 2**30)
    monkeypatch.setattr(CharLM, "__init__", lambda *a, **k: pytest.fail("the model was built"))
    argv = ["train", "char-lm", "--out", str(tmp_path / "o"), "--no-progress"]
    for k, v in HUGE_CHAR_LM.items():
        argv += ["--set", f"{k}={v}"]
    one_line_error(*run(capsys, *argv)[::2], "hidden_size=1024", "GiB", "available")
    assert not any(tmp_path.iterdir())


# -- items 8 and 10: checkpoints: modes, stale temporaries, NaN weights ---------------------------

def test_checkpoint_mode_follows_the_umask_and_stale_temporaries_are_removed(tmp_path):
    stale = tmp_path / ".checkpoint.npz.abc123.tmp"
    stale.write_bytes(b"half a save")
    other = tmp_path / ".other.npz.x.tmp"
    other.write_bytes(b"not ours")
    old = os.umask(0o022)
    try:
        save_checkpoint(tmp_path / "checkpoint.npz", Iris(seed=1))
        assert stat.S_IMODE((tmp_path / "checkpoint.npz").stat().st_mode) == 0o644
        os.umask(0o027)
        save_checkpoint(tmp_path / "checkpoint.npz", Iris(seed=1))
        assert stat.S_IMODE((tmp_path / "checkpoint.npz").stat().st_mode) == 0o640
    finally:
        os.umask(old)
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.npz.x.tmp", "checkpoint.npz"]


def test_all_run_files_are_0644(capsys, tmp_path):
    old = os.umask(0o022)
    try:
        assert run(capsys, "train", "iris", "--steps", "5", "--out", str(tmp_path / "r"), "--no-progress")[0] == 0
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "r").iterdir()}
    assert modes == {"checkpoint.npz": 0o644, "metrics.csv": 0o644, "run.json": 0o644, "events.jsonl": 0o644}


def test_nan_weights_are_never_saved_and_never_loaded(capsys, tmp_path):
    exp = Iris(seed=0)
    Trainer(exp).run(2)
    good = save_checkpoint(tmp_path / "good.npz", exp)
    key = next(k for k in exp.params)
    exp.params[key][0, 0] = np.nan
    with pytest.raises(CheckpointError, match=f"refusing to save.*param.{key}.*NaN"):
        save_checkpoint(tmp_path / "bad.npz", exp)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.npz"]
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    arrays[f"state/param.{key}"] = arrays[f"state/param.{key}"].copy()
    arrays[f"state/param.{key}"][0, 0] = np.inf
    np.savez(tmp_path / "inf.npz", **arrays)
    with pytest.raises(CheckpointError, match=f"param.{key} holds 1 NaN/inf value"):
        load_checkpoint(tmp_path / "inf.npz")
    one_line_error(*run(capsys, "eval", str(tmp_path / "inf.npz"))[::2], "NaN/inf", "inf.npz")


# -- item 10: messages ----------------------------------------------------------------------------

def test_tiny_ptb_folder_is_reported_as_too_little_data_not_as_a_prime(capsys, tmp_path):
    d = tmp_path / "ptb"
    d.mkdir()
    for part in ("train", "valid", "test"):
        (d / f"ptb.{part}.txt").write_text(" a b c\n d e\n")
    code, _, err = run(capsys, "train", "word-lm", "--set", f"data_dir={d}", "--out", str(tmp_path / "o"),
                       "--no-progress")
    one_line_error(code, err, "data_dir", "too little text", "7 training words, 6 distinct")
    assert "prime:" not in err


def test_out_errors_are_plain_sentences_naming_the_path(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    one_line_error(*run(capsys, "train", "iris", "--out", str(tmp_path / "file"), "--no-progress")[::2],
                   "--out", "is a file, not a folder")
    one_line_error(*run(capsys, "train", "iris", "--out", str(tmp_path / "file" / "sub"), "--no-progress")[::2],
                   "--out: cannot create the run folder", "not a directory", "sub.partial")
