"""The headless CLI: list, train (files, determinism), eval, sample, and one-line errors."""
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core.cli as cli
from core.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rnnlab: error: ") and "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]


def test_list_shows_every_experiment_and_preset(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert any(l.startswith("iris ") and "softmax" in l for l in lines)
    assert any(l.startswith("binary-addition ") and "[default]" in l for l in lines)
    assert any("--preset minibatch" in l and "(300 steps)" in l for l in lines)
    assert any(l.startswith("worked-example ") for l in lines)


def test_train_writes_csv_checkpoint_and_run_json_deterministically(capsys, tmp_path):
    outs = []
    for name in ("a", "b"):
        code, out, err = run(capsys, "train", "iris", "--preset", "minibatch", "--steps", "25", "--seed", "3",
                             "--set", "learning_rate=0.07", "--out", str(tmp_path / name))
        assert code == 0, err
        assert "25 steps" in out
        outs.append(tmp_path / name)
    a, b = outs
    assert (a / "metrics.csv").read_bytes() == (b / "metrics.csv").read_bytes()
    with open(a / "metrics.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "loss", "train_accuracy", "grad_norm", "accuracy", "val_loss"]
    assert [int(r[0]) for r in rows[1:]] == list(range(0, 26))  # step 0 = evaluation before training
    assert rows[1][1] == "" and rows[1][4] != ""                  # no training metrics at step 0
    assert rows[2][4] == "" and rows[11][4] != ""                 # evaluated every 10 steps...
    assert rows[-1][4] != ""                                      # ...and at the end
    run_json = json.loads((a / "run.json").read_text())
    assert run_json["experiment"] == "iris" and run_json["preset"] == "minibatch"
    assert run_json["hyperparameters"]["learning_rate"] == 0.07 and run_json["hyperparameters"]["batch_size"] == 16
    assert run_json["seed"] == 3 and run_json["steps"] == 25 and run_json["status"] == "completed"
    assert run_json["wall_time"] >= 0 and set(run_json["final"]) == {"accuracy", "val_loss"}
    assert float(rows[-1][4]) == run_json["final"]["accuracy"]
    exp, history = load_checkpoint(a / "checkpoint.npz")
    assert exp.step == 25 and exp.config["learning_rate"] == 0.07
    np.testing.assert_array_equal(history.arrays("loss")[1], [float(r[1]) for r in rows[2:]])


def test_train_steps_default_to_the_preset_and_out_defaults_to_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "train", "worked-example", "--no-progress")
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("worked-example-")
    assert json.loads((run_dir / "run.json").read_text())["steps"] == 200  # the preset's length


def test_eval_prints_metrics(capsys, tmp_path):
    assert run(capsys, "train", "iris", "--steps", "30", "--out", str(tmp_path / "r"), "--no-progress")[0] == 0
    code, out, err = run(capsys, "eval", str(tmp_path / "r" / "checkpoint.npz"))
    assert code == 0, err
    assert "iris at step 30" in out and "accuracy" in out and "val_loss" in out


def test_sample_from_a_language_model_checkpoint(capsys, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat. " * 30, encoding="utf-8")
    code, _, err = run(capsys, "train", "char-lm", "--steps", "2", "--set", f"corpus={corpus}", "--set", "hidden_size=8",
                       "--set", "seq_len=8", "--set", "batch_size=2", "--out", str(tmp_path / "lm"), "--no-progress")
    assert code == 0, err
    ck = str(tmp_path / "lm" / "checkpoint.npz")
    code, out, err = run(capsys, "sample", ck, "--temperature", "0.5", "1.0", "--length", "20", "--seed", "1")
    assert code == 0, err
    assert "--- temperature 0.5 ---" in out and "--- temperature 1 ---" in out
    assert run(capsys, "sample", ck, "--length", "20", "--seed", "1")[1] == \
        run(capsys, "sample", ck, "--length", "20", "--seed", "1")[1]
    assert_one_line_error(*run(capsys, "sample", ck, "--temperature", "0")[::2], "--temperature", "> 0")


def test_sample_refuses_non_language_models(capsys, tmp_path):
    run(capsys, "train", "iris", "--steps", "1", "--out", str(tmp_path / "r"), "--no-progress")
    code, _, err = run(capsys, "sample", str(tmp_path / "r" / "checkpoint.npz"))
    assert_one_line_error(code, err, "'iris'", "not a language model")


@pytest.mark.parametrize("argv, fragments", [
    (["train", "nope"], ["unknown experiment 'nope'", "iris"]),
    (["train", "iris", "--preset", "fast"], ["unknown preset 'fast'", "minibatch"]),
    (["train", "iris", "--set", "hidden=3"], ["unknown hyperparameter 'hidden'", "learning_rate"]),
    (["train", "iris", "--set", "learning_rate=fast"], ["learning_rate", "expected a number", "'fast'"]),
    (["train", "iris", "--set", "learning_rate=100"], ["learning_rate", "out of range"]),
    (["train", "iris", "--set", "optimizer=sgdd"], ["optimizer", "'sgdd'", "adam"]),
    (["train", "iris", "--set", "learning_rate"], ["KEY=VALUE"]),
    (["train", "iris", "--steps", "-1"], ["--steps"]),
    (["train", "iris", "--steps", "ten"], ["--steps", "invalid int value"]),
    (["train"], ["EXPERIMENT"]),
    (["frobnicate"], ["invalid choice"]),
    (["eval", "missing.npz"], ["missing.npz", "does not exist"]),
])
def test_bad_input_gives_one_error_line(capsys, tmp_path, monkeypatch, argv, fragments):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv, "--no-progress") if argv[:1] == ["train"] and len(argv) > 1 else \
        run(capsys, *argv)
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "runs").exists()  # nothing written for bad input


def test_data_errors_are_one_line(capsys, tmp_path):
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"ab\x00\xff\xfe")
    latin = tmp_path / "l.txt"
    latin.write_bytes("caf\u00e9 ".encode("latin-1") * 20)
    empty = tmp_path / "e.txt"
    empty.write_text("")
    for corpus in (binary, latin, empty, tmp_path / "none.txt"):
        code, _, err = run(capsys, "train", "char-lm", "--set", f"corpus={corpus}", "--out", str(tmp_path / "o"))
        assert_one_line_error(code, err, corpus.name)
    mnist = tmp_path / "mnist"
    mnist.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (mnist / name).write_bytes(b"\x00\x00\x09\x99" + b"\x00" * 12)
    code, _, err = run(capsys, "train", "digits-rnn", "--set", f"data_dir={mnist}", "--out", str(tmp_path / "o"))
    assert_one_line_error(code, err, "magic")


def test_corrupt_and_mismatched_checkpoints_are_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04garbage")
    assert_one_line_error(*run(capsys, "eval", str(bad))[::2], "bad.npz", "corrupt or truncated")
    text = tmp_path / "t.npz"
    text.write_text("not a checkpoint")
    assert_one_line_error(*run(capsys, "eval", str(text))[::2], "not an .npz archive")


def test_divergence_exits_nonzero_names_the_step_and_keeps_what_was_trained(capsys, tmp_path):
    out = tmp_path / "d"
    code, _, err = run(capsys, "train", "iris", "--set", "learning_rate=10", "--set", "weight_decay=1",
                       "--steps", "1000", "--out", str(out), "--no-progress")
    assert code == cli.EXIT_DIVERGED
    assert_one_line_error(code, err, "at step", "learning_rate")
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["status"] == "diverged" and "at step" in run_json["error"]
    exp, _ = load_checkpoint(out / "checkpoint.npz")
    assert exp.step == run_json["steps"] < 1000
    assert all(np.isfinite(v).all() for v in exp.params.values())
    with open(out / "metrics.csv") as f:
        assert int(list(csv.reader(f))[-1][0]) == exp.step


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("kaput")

    monkeypatch.setattr(cli, "cmd_list", boom)
    code, _, err = run(capsys, "list")
    assert_one_line_error(code, err, "RuntimeError: kaput", "--debug")
    code, _, err = run(capsys, "--debug", "list")
    assert code != 0 and "Traceback" in err and "kaput" in err


def test_python_dash_m_core_cli_runs_headless_without_qt(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = ("import sys, runpy; sys.argv = ['core.cli'] + sys.argv[1:]; "
            "import core.cli; rc = core.cli.main(sys.argv[1:]); "
            "assert not any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules), 'Qt imported'; sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code, "train", "iris", "--steps", "3", "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "r" / "checkpoint.npz").is_file()
    p = subprocess.run([sys.executable, "-m", "core.cli", "train", "no-such"], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "unknown experiment 'no-such'" in p.stderr


def test_train_the_default_experiment_binary_addition_is_reproducible(capsys, tmp_path):
    for name in ("a", "b"):
        code, _, err = run(capsys, "train", "binary-addition", "--steps", "20", "--seed", "5",
                           "--out", str(tmp_path / name), "--no-progress")
        assert code == 0, err
    assert (tmp_path / "a" / "metrics.csv").read_bytes() == (tmp_path / "b" / "metrics.csv").read_bytes()
    header = (tmp_path / "a" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["step", "loss"] and "accuracy" in header and "bit_accuracy" in header
    code, out, err = run(capsys, "eval", str(tmp_path / "a" / "checkpoint.npz"))
    assert code == 0 and "binary-addition at step 20" in out and "bit_accuracy" in out
    code, _, err = run(capsys, "train", "binary-addition", "--set", "hidden_size=0", "--no-progress")
    assert_one_line_error(code, err, "hidden_size", "out of range")


def test_relative_corpus_path_is_stored_absolute_so_the_checkpoint_loads_elsewhere(capsys, tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "c.txt").write_text("abcabcabd " * 40, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "data")
    code, _, err = run(capsys, "train", "char-lm", "--steps", "1", "--set", "corpus=c.txt", "--set", "hidden_size=4",
                       "--set", "seq_len=4", "--set", "batch_size=2", "--out", str(tmp_path / "lm"), "--no-progress")
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    run_json = json.loads((tmp_path / "lm" / "run.json").read_text())
    assert run_json["hyperparameters"]["corpus"] == str(tmp_path / "data" / "c.txt")
    code, out, err = run(capsys, "sample", str(tmp_path / "lm" / "checkpoint.npz"), "--length", "5")
    assert code == 0, err


def test_list_into_a_closed_pipe_ends_quietly():
    """`rnnlab list | head -1`: the reader has gone away; no error line, exit 0."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: every write fails with EPIPE
    try:
        proc = subprocess.run([sys.executable, "-m", "core.cli", "list"], stdout=write_end,
                              stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write_end)
    assert proc.returncode == 0
    assert b"error" not in proc.stderr, proc.stderr
