"""Hardening of runs: --out never clobbers a run, --overwrite swaps in on success only,
periodic checkpoints survive kill -9 / Ctrl+C and --resume continues bit-identically;
one CSV format for the CLI and the GUI."""
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import core.cli as cli
from core.checkpoint import load_checkpoint
from core.csvlog import MetricsCSV, write_metrics_csv
from core.history import MetricHistory

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def lm_args(tmp_path):
    """A small char-lm with dropout (draws from the RNG every step) on a tiny corpus."""
    corpus = tmp_path / "c.txt"
    if not corpus.exists():
        corpus.write_text("the quick brown fox jumps over the lazy dog. " * 200, encoding="utf-8")
    return ["char-lm", "--set", f"corpus={corpus}", "--set", "hidden_size=12", "--set", "seq_len=8",
            "--set", "batch_size=4", "--set", "dropout=0.2", "--set", "embedding_size=8", "--no-progress"]


def assert_same_run(a: Path, b: Path):
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    ea, ha = load_checkpoint(a / "checkpoint.npz")
    eb, hb = load_checkpoint(b / "checkpoint.npz")
    sa, sb = ea.state_dict(), eb.state_dict()
    assert ea.step == eb.step and sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    assert ea.rng.bit_generator.state == eb.rng.bit_generator.state
    for name in ha.names():
        for x, y in zip(ha.arrays(name), hb.arrays(name)):
            np.testing.assert_array_equal(x, y)


# -- item 7: --out never clobbers; --overwrite swaps in on success ---------------------------------

def test_out_holding_a_run_is_refused_without_overwrite(capsys, tmp_path):
    r = tmp_path / "r"
    assert run(capsys, "train", "iris", "--steps", "5", "--out", str(r), "--no-progress")[0] == 0
    before = digest(r)
    code, _, err = run(capsys, "train", "iris", "--steps", "7", "--out", str(r), "--no-progress")
    assert code == 1 and "already holds a run" in err and "--overwrite" in err and "--resume" in err
    assert digest(r) == before and sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_overwrite_swaps_the_new_run_in_and_keeps_the_old_as_prev(capsys, tmp_path):
    r = tmp_path / "r"
    assert run(capsys, "train", "iris", "--steps", "5", "--out", str(r), "--no-progress")[0] == 0
    first = digest(r)
    assert run(capsys, "train", "iris", "--steps", "8", "--out", str(r), "--overwrite", "--no-progress")[0] == 0
    assert digest(tmp_path / "r.prev") == first
    assert json.loads((r / "run.json").read_text())["steps"] == 8
    second = digest(r)
    assert run(capsys, "train", "iris", "--steps", "9", "--out", str(r), "--overwrite", "--no-progress")[0] == 0
    assert digest(tmp_path / "r.prev") == second  # the older .prev is replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "r.prev"]


def test_a_failing_overwrite_leaves_the_old_run_untouched(capsys, tmp_path):
    r = tmp_path / "r"
    assert run(capsys, "train", "iris", "--steps", "5", "--out", str(r), "--no-progress")[0] == 0
    before = digest(r)
    # bad input: nothing written at all
    code, _, err = run(capsys, "train", "char-lm", "--set", f"corpus={tmp_path / 'none.txt'}", "--out", str(r),
                       "--overwrite", "--no-progress")
    assert code == 1 and "none.txt" in err
    assert digest(r) == before and sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    # a run that diverges: kept aside in r.partial, the old run stays in r
    code, _, err = run(capsys, "train", "iris", "--set", "learning_rate=10", "--set", "weight_decay=1",
                       "--steps", "1000", "--out", str(r), "--overwrite", "--no-progress")
    assert code == cli.EXIT_DIVERGED and "r.partial" in err and "untouched" in err
    assert digest(r) == before
    assert json.loads((tmp_path / "r.partial" / "run.json").read_text())["status"] == "diverged"


def test_an_error_mid_run_keeps_the_old_run_and_the_last_checkpoint(capsys, tmp_path, monkeypatch):
    r = tmp_path / "r"
    assert run(capsys, "train", "iris", "--steps", "5", "--out", str(r), "--no-progress")[0] == 0
    before = digest(r)
    from core.experiments.iris import Iris
    real = Iris.train_step

    def boom(self):
        if self.step == 12:
            raise RuntimeError("disk on fire")
        return real(self)

    monkeypatch.setattr(Iris, "train_step", boom)
    code, _, err = run(capsys, "train", "iris", "--steps", "30", "--out", str(r), "--overwrite",
                       "--checkpoint-every", "10", "--no-progress")
    assert code == 1 and "disk on fire" in err
    assert digest(r) == before
    stage = tmp_path / "r.partial"
    assert json.loads((stage / "run.json").read_text())["status"] == "failed"
    assert load_checkpoint(stage / "checkpoint.npz")[0].step == 10
    assert not list(stage.glob(".*.tmp"))


# -- item 11: periodic checkpoints and --resume ----------------------------------------------------

def _start(tmp_path, argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "core.cli", "train", *argv], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(proc, stage: Path, past: int, timeout=120.0) -> None:
    """Until run.json in ``stage`` reports a checkpoint past step ``past`` (fails if the process ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if json.loads((stage / "run.json").read_text())["steps"] > past:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no checkpoint appeared")


@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT"])
def test_killed_run_resumes_to_the_same_metrics_and_parameters(capsys, tmp_path, how):
    args = lm_args(tmp_path)
    stage = tmp_path / "killed.partial"
    proc = _start(tmp_path, [*args, "--steps", "1000000", "--checkpoint-every", "25", "--out", "killed"])
    try:
        _wait_for_checkpoint(proc, stage, 50)
        proc.send_signal(getattr(signal, how))
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if how == "SIGINT":
        assert proc.returncode == cli.EXIT_INTERRUPTED
        (line,) = err.strip().splitlines()[-1:]
        assert "interrupted at step" in line and f"--resume {stage.name}" in line
        assert json.loads((stage / "run.json").read_text())["status"] == "interrupted"
    else:
        assert proc.returncode == -signal.SIGKILL
    done = load_checkpoint(stage / "checkpoint.npz")[0].step
    with open(stage / "metrics.csv") as f:
        assert int(list(csv.reader(f))[-1][0]) >= done  # rows past the checkpoint may be there: cut on resume
    total = done + 37
    code, out, err = run(capsys, "train", "--resume", str(stage), "--steps", str(total), "--no-progress")
    assert code == 0, err
    assert not stage.exists() and (tmp_path / "killed" / "checkpoint.npz").is_file()
    code, _, err = run(capsys, "train", *args, "--steps", str(total), "--out", str(tmp_path / "straight"))
    assert code == 0, err
    assert_same_run(tmp_path / "killed", tmp_path / "straight")


def test_resume_extends_a_finished_run_in_place_and_checks_its_arguments(capsys, tmp_path):
    r = tmp_path / "r"
    assert run(capsys, "train", "iris", "--preset", "minibatch", "--steps", "20", "--out", str(r),
               "--checkpoint-every", "7", "--no-progress")[0] == 0
    code, _, err = run(capsys, "train", "--resume", str(r), "--steps", "10")
    assert code == 1 and "--steps: 10 is fewer than the 20 steps" in err
    code, _, err = run(capsys, "train", "--resume", str(r), "--set", "learning_rate=1")
    assert code == 2 and "--set cannot be combined with --resume" in err
    code, _, err = run(capsys, "train", "--resume", str(tmp_path / "nowhere"))
    assert code == 1 and "is not a run folder" in err
    code, out, err = run(capsys, "train", "--resume", str(r), "--steps", "20", "--no-progress")
    assert code == 0 and "20 steps (0 since the resume)" in out
    with open(r / "metrics.csv") as f:
        assert [int(row[0]) for row in list(csv.reader(f))[1:]] == list(range(21))


def test_resume_refuses_a_metrics_file_that_stops_before_the_checkpoint(capsys, tmp_path):
    r = tmp_path / "r"
    assert run(capsys, "train", "iris", "--steps", "10", "--out", str(r), "--no-progress")[0] == 0
    lines = (r / "metrics.csv").read_text().splitlines(keepends=True)
    (r / "metrics.csv").write_text("".join(lines[:5]))
    code, _, err = run(capsys, "train", "--resume", str(r), "--steps", "12", "--no-progress")
    assert code == 1 and "ends at step 3" in err and "step 10" in err


# -- one CSV writer --------------------------------------------------------------------------------

def test_history_export_and_streamed_csv_share_one_format(tmp_path):
    rows = [(0, {"accuracy": 0.5, "val_loss": 1.25}), (1, {"loss": 0.75, "grad_norm": 3.0}),
            (2, {"loss": float("nan"), "grad_norm": 2.0, "accuracy": 0.625, "val_loss": 1.0}),
            (2_000_000, {"loss": 0.1, "grad_norm": 1e-9})]
    log = MetricsCSV(tmp_path / "stream.csv")
    history = MetricHistory()
    for step, values in rows:
        log.add(step, values)
        history.record(step, values)
    log.close()
    write_metrics_csv(tmp_path / "export.csv", history)
    text = (tmp_path / "stream.csv").read_text()
    assert text == (tmp_path / "export.csv").read_text()
    assert text.splitlines() == ["step,loss,grad_norm,accuracy,val_loss", "0,,,0.5,1.25", "1,0.75,3.0,,",
                                 "2,nan,2.0,0.625,1.0", "2000000,0.1,1e-09,,"]


def test_streamed_csv_resume_cuts_rows_after_the_step_and_reopens_the_last_row(tmp_path):
    p = tmp_path / "m.csv"
    log = MetricsCSV(p)
    for step in range(6):
        log.add(step, {"loss": step / 4})
    log.close()
    log = MetricsCSV.resume(p, 3)
    log.add(3, {"accuracy": 1.0})  # merged into row 3, widening the header
    log.add(4, {"loss": 9.0})
    log.close()
    assert p.read_text().splitlines() == ["step,loss,accuracy", "0,0.0,", "1,0.25,", "2,0.5,", "3,0.75,1.0",
                                          "4,9.0,"]
    with pytest.raises(ValueError, match="ends at step 4"):
        MetricsCSV.resume(p, 5)
