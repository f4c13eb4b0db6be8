"""rnnlab sweep: trials are ordinary run folders, local processes and Ray give the same files,
re-running resumes, divergence and failures are recorded, Ctrl+C stops cleanly; the readers."""
import csv
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import core.cli as cli
from core import sweep
from core.experiments import registry
from core.history import MetricHistory

ROOT = Path(__file__).resolve().parents[2]
GRID = ["binary-addition", "--grid", "learning_rate=0.01,0.1", "--grid", "hidden_size=8,16", "--seeds", "2",
        "--steps", "60"]


def sweep_cli(capsys, *argv):
    code = cli.main(["sweep", *argv, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def csv_rows(folder):
    with open(Path(folder) / "sweep.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def trial_dirs(folder):
    return sorted(p for p in Path(folder).iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def grid_dir(tmp_path_factory):
    """The issue's 8-trial sweep (fewer steps), on 2 local worker processes."""
    out = tmp_path_factory.mktemp("sweep") / "grid"
    assert cli.main(["sweep", *GRID, "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    return out


# -- the plan -------------------------------------------------------------------------------------
def test_grid_plan_is_the_full_factorial_times_seeds_with_stable_readable_ids():
    plan = sweep.plan_sweep("binary-addition", grid=["learning_rate=0.01,0.1", "hidden_size=8,16"], seeds=2,
                            steps=60)
    assert len(plan.trials) == 8
    assert plan.swept == {"learning_rate": "grid", "hidden_size": "grid"}
    assert [(t.values["learning_rate"], t.values["hidden_size"], t.seed) for t in plan.trials[:3]] == \
        [(0.01, 8, 0), (0.01, 8, 1), (0.01, 16, 0)]
    t = plan.trials[0]
    assert t.id.startswith("learning_rate=0.01-hidden_size=8-s0-") and len(t.id.rsplit("-", 1)[1]) == 8
    assert t.sets == ("learning_rate=0.01", "hidden_size=8")
    again = sweep.plan_sweep("binary-addition", grid=["learning_rate=0.01,0.1", "hidden_size=8,16"], seeds=2,
                             steps=60)
    assert [x.id for x in again.trials] == [x.id for x in plan.trials]
    assert len({x.id for x in plan.trials}) == 8
    # the hash covers every setting: another --set, preset default spelled out, steps
    other = sweep.plan_sweep("binary-addition", sets=["batch_size=32"], grid=["learning_rate=0.01"], steps=60)
    same = sweep.plan_sweep("binary-addition", sets=["batch_size=64"], grid=["learning_rate=0.01"], steps=60)
    base = sweep.plan_sweep("binary-addition", grid=["learning_rate=0.01"], steps=60)
    longer = sweep.plan_sweep("binary-addition", grid=["learning_rate=0.01"], steps=61)
    assert other.trials[0].id != base.trials[0].id
    assert same.trials[0].id == base.trials[0].id  # 64 is the preset's own batch size: the same run
    assert longer.trials[0].id != base.trials[0].id


def test_random_search_draws_within_bounds_reproducibly():
    def plan(seed):
        return sweep.plan_sweep("binary-addition", sample=["learning_rate=log:0.001:0.3", "hidden_size=lin:4:32"],
                                trials=40, steps=10, sample_seed=seed)

    a, b, c = plan(0), plan(0), plan(1)
    assert a.swept == {"learning_rate": "log", "hidden_size": "lin"}
    lrs = [t.values["learning_rate"] for t in a.trials]
    hs = [t.values["hidden_size"] for t in a.trials]
    assert all(0.001 <= v <= 0.3 for v in lrs) and all(isinstance(h, int) and 4 <= h <= 32 for h in hs)
    assert sum(v < math.sqrt(0.001 * 0.3) for v in lrs) >= 10  # log-uniform: about half below the geometric mean
    assert [t.id for t in a.trials] == [t.id for t in b.trials]
    assert [t.values for t in a.trials] == [t.values for t in b.trials]
    assert [t.values for t in a.trials] != [t.values for t in c.trials]
    assert len({t.id for t in a.trials}) == len(a.trials)
    crossed = sweep.plan_sweep("binary-addition", grid=["hidden_size=8,16"], sample=["learning_rate=lin:0.01:0.1"],
                               trials=3, seeds=2, steps=10)
    assert len(crossed.trials) == 2 * 3 * 2


@pytest.mark.parametrize("kwargs, fragment", [
    ({"grid": ["nope=1,2"]}, "unknown hyperparameter 'nope'"),
    ({"grid": ["learning_rate=0.01,99"]}, "--grid learning_rate: 99.0 is out of range"),
    ({"sample": ["learning_rate=log:0:0.1"], "trials": 3}, "out of range"),
    ({"sample": ["learning_rate=lin:0.1:0.01"], "trials": 3}, "must be less than"),
    ({"sample": ["optimizer=lin:1:2"], "trials": 3}, "only numbers can be sampled"),
    ({"sample": ["learning_rate=log:0.01:0.1"]}, "--sample needs --trials"),
    ({"grid": ["learning_rate=0.1"], "sets": ["learning_rate=0.2"]}, "given twice"),
    ({"grid": ["learning_rate=0.1"], "seeds": 0}, "--seeds"),
])
def test_bad_sweeps_are_refused_before_anything_runs(kwargs, fragment):
    with pytest.raises(ValueError, match=None) as e:
        sweep.plan_sweep("binary-addition", **kwargs)
    assert fragment in str(e.value)


def test_main_metric_follows_target_then_declared_quality_then_val_loss():
    assert sweep.main_metric(registry.get("binary-addition"), None) == ("accuracy", "max")
    assert sweep.main_metric(registry.get("sine"), "seed") == ("rmse", "min")
    assert sweep.main_metric(registry.get("word-lm"), None) == ("val_perplexity", "min")
    from core.views import Metric, accuracy, loss

    class NoTarget:
        metrics = (loss("loss"), Metric("rmse", "quality", "lower"), accuracy())

        @classmethod
        def target_for(cls, preset):
            return None

    assert sweep.main_metric(NoTarget, None) == ("rmse", "min")
    NoTarget.metrics = (loss("loss"),)
    assert sweep.main_metric(NoTarget, None) == ("val_loss", "min")


# -- running ----------------------------------------------------------------------------------------
def test_grid_sweep_writes_eight_ordinary_run_folders_and_sweep_csv(grid_dir, capsys, tmp_path):
    dirs = trial_dirs(grid_dir)
    assert len(dirs) == 8 and not any(d.name.endswith(".partial") for d in dirs)
    for d in dirs:
        names = {p.name for p in d.iterdir()}
        assert {"checkpoint.npz", "metrics.csv", "run.json"} <= names <= set(cli.RUN_FILES)
        assert json.loads((d / "run.json").read_text())["status"] == "completed"
    rows = csv_rows(grid_dir)
    assert [r["trial"] for r in rows] == [t.id for t in sweep.plan_sweep(
        "binary-addition", grid=["learning_rate=0.01,0.1", "hidden_size=8,16"], seeds=2, steps=60).trials]
    assert list(rows[0])[:5] == ["trial", "status", "seed", "learning_rate", "hidden_size"]
    assert list(rows[0])[5:8] == ["steps", "wall_time", "accuracy"] and list(rows[0])[-1] == "message"
    assert all(r["status"] == "ok" and r["steps"] == "60" and float(r["wall_time"]) > 0 for r in rows)
    assert {(r["learning_rate"], r["hidden_size"], r["seed"]) for r in rows} == \
        {(lr, h, s) for lr in ("0.01", "0.1") for h in ("8", "16") for s in ("0", "1")}
    # a trial folder is exactly what rnnlab train writes for the same settings
    r = rows[5]
    code = cli.main(["train", "binary-addition", "--set", f"learning_rate={r['learning_rate']}", "--set",
                     f"hidden_size={r['hidden_size']}", "--seed", r["seed"], "--steps", "60", "--no-progress",
                     "--out", str(tmp_path / "single")])
    capsys.readouterr()
    assert code == 0
    trial = grid_dir / r["trial"]
    assert (tmp_path / "single" / "metrics.csv").read_bytes() == (trial / "metrics.csv").read_bytes()
    single, mine = (json.loads((p / "run.json").read_text()) for p in (tmp_path / "single", trial))
    for key in ("experiment", "preset", "hyperparameters", "seed", "steps", "final"):
        assert single[key] == mine[key]
    assert mine["out"] == str(trial.absolute())
    assert float(r["accuracy"]) == mine["final"]["accuracy"]


def test_second_identical_call_runs_nothing(grid_dir, capsys):
    before = {d.name: (d / "checkpoint.npz").stat().st_mtime_ns for d in trial_dirs(grid_dir)}
    rows = csv_rows(grid_dir)
    code, out, err = sweep_cli(capsys, *GRID, "--out", str(grid_dir))
    assert code == 0, err
    assert "8 already done" in out and "run now" not in out
    assert {d.name: (d / "checkpoint.npz").stat().st_mtime_ns for d in trial_dirs(grid_dir)} == before
    assert csv_rows(grid_dir) == rows


def test_ray_runs_the_same_trials_with_byte_identical_metrics(grid_dir, capsys, tmp_path):
    import ray

    out = tmp_path / "ray"
    env_before = {v: os.environ.get(v) for v in (*sweep.BLAS_ENV, *sweep.LOCAL_RAY_ENV)}
    code, text, err = sweep_cli(capsys, *GRID, "--out", str(out), "--ray", "--workers", "2")
    assert code == 0, err
    assert "on a local Ray instance (2 CPUs)" in text
    assert not ray.is_initialized()  # started and stopped by the sweep
    assert {v: os.environ.get(v) for v in env_before} == env_before
    assert [d.name for d in trial_dirs(out)] == [d.name for d in trial_dirs(grid_dir)]
    for d in trial_dirs(grid_dir):
        assert (out / d.name / "metrics.csv").read_bytes() == (d / "metrics.csv").read_bytes(), d.name
    strip = [{k: v for k, v in r.items() if k != "wall_time"} for r in csv_rows(grid_dir)]
    assert [{k: v for k, v in r.items() if k != "wall_time"} for r in csv_rows(out)] == strip


def test_diverging_trial_is_recorded_and_the_others_go_on(capsys, tmp_path):
    out = tmp_path / "div"
    code, text, err = sweep_cli(capsys, "sine", "--set", "optimizer=sgd", "--set", "clip=0", "--grid",
                                "learning_rate=0.01,10", "--steps", "30", "--out", str(out), "--workers", "2")
    assert code == 0, err
    rows = {r["learning_rate"]: r for r in csv_rows(out)}
    assert rows["0.01"]["status"] == "ok" and rows["0.01"]["steps"] == "30" and rows["0.01"]["message"] == ""
    bad = rows["10.0"]
    assert bad["status"] == "diverged" and int(bad["steps"]) < 30
    assert "became inf" in bad["message"] or "became nan" in bad["message"]
    assert json.loads((out / bad["trial"] / "run.json").read_text())["status"] == "diverged"
    assert "1 ok, 1 diverged, 0 failed" in text and "best trials by rmse (lower is better)" in text
    # finished, so the next call skips it too
    code, text, _ = sweep_cli(capsys, "sine", "--set", "optimizer=sgd", "--set", "clip=0", "--grid",
                              "learning_rate=0.01,10", "--steps", "30", "--out", str(out))
    assert code == 0 and "2 already done" in text


def test_failing_trial_is_recorded_with_its_message(capsys, tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 400, encoding="utf-8")
    out = tmp_path / "fail"
    missing = tmp_path / "missing.txt"
    code, text, err = sweep_cli(capsys, "char-lm", "--set", "hidden_size=8", "--set", "val_tokens=200",
                                "--grid", f"corpus={corpus},{missing}", "--steps", "3", "--out", str(out),
                                "--workers", "1")
    assert code == 1
    assert err.strip().splitlines()[-1] == f"rnnlab: error: 1 of 2 trials failed (their messages are in " \
                                           f"{out / 'sweep.csv'})"
    rows = {r["status"]: r for r in csv_rows(out)}
    assert set(rows) == {"ok", "failed"}
    assert "missing.txt" in rows["failed"]["message"] and "\n" not in rows["failed"]["message"]
    assert not (out / rows["failed"]["trial"]).exists()  # failed before its first step: nothing left behind


def test_ctrl_c_keeps_finished_trials_and_a_rerun_resumes_bit_identically(capsys, tmp_path):
    out = tmp_path / "int"
    argv = ["binary-addition", "--grid", "learning_rate=0.05,0.1", "--steps", "6000", "--checkpoint-every", "50",
            "--out", str(out), "--workers", "1", "--no-progress"]
    plan = sweep.plan_sweep("binary-addition", grid=["learning_rate=0.05,0.1"], steps=6000)
    second = out / (plan.trials[1].id + ".partial")
    # the child gets Ctrl+C's default handling whatever this process inherited (an ignored SIGINT is inherited)
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "sweep", *argv], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:  # until the second trial has trained a little
        run = sweep._read_json(second / "run.json")
        if run.get("steps", 0) >= 50:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)  # the driver only: it stops the worker's trial after its current step
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == cli.EXIT_INTERRUPTED, stderr
    assert "interrupted" in stdout and "1 not run" in stdout
    rows = csv_rows(out)
    assert [(r["trial"], r["status"]) for r in rows] == [(plan.trials[0].id, "ok")]
    assert json.loads((second / "run.json").read_text())["status"] == "interrupted"
    assert not (out / plan.trials[1].id).exists()

    code, text, err = sweep_cli(capsys, *argv[:-1])
    assert code == 0, err
    assert "1 run now" in text and "1 already done" in text and not second.exists()
    assert [r["status"] for r in csv_rows(out)] == ["ok", "ok"]
    code = cli.main(["train", "binary-addition", "--set", "learning_rate=0.1", "--steps", "6000", "--no-progress",
                     "--out", str(tmp_path / "straight")])
    capsys.readouterr()
    assert code == 0
    assert (out / plan.trials[1].id / "metrics.csv").read_bytes() == \
        (tmp_path / "straight" / "metrics.csv").read_bytes()


def test_run_trial_in_process_reports_failures_without_raising(tmp_path):
    task = {"id": "x", "experiment": "binary-addition", "preset": "default", "sets": ["bits=999"], "seed": 0,
            "steps": 5, "dir": str(tmp_path)}
    res = sweep.run_trial(task)
    assert res["status"] == "failed" and "bits" in res["message"]
    res = sweep.run_trial({**task, "sets": [], "ship": True})  # a cluster node: the files come back
    assert res["status"] == "ok" and {"checkpoint.npz", "metrics.csv", "run.json"} <= set(res["files"])
    assert not (tmp_path / "x").exists()


# -- command line -------------------------------------------------------------------------------
def test_ray_missing_is_one_clear_line(capsys, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    code, _, err = sweep_cli(capsys, "binary-addition", "--grid", "learning_rate=0.1", "--steps", "2", "--ray",
                             "--out", str(tmp_path / "r"))
    assert code == 1
    assert err.strip().splitlines() == ["rnnlab: error: --ray needs Ray, which is not installed: "
                                        "pip install 'rnnlab[ray]' (or pip install ray)"]


def test_command_line_errors_are_one_line(capsys, tmp_path):
    code, _, err = sweep_cli(capsys, "binary-addition", "--out", str(tmp_path / "a"))
    assert code == cli.EXIT_USAGE and "needs at least one --grid" in err and len(err.strip().splitlines()) == 1
    code, _, err = sweep_cli(capsys, "binary-addition", "--grid", "learning_rate=0.1")
    assert code == cli.EXIT_USAGE and "--out" in err
    code, _, err = sweep_cli(capsys, "binary-addition", "--grid", "learning_rate=0.1", "--workers", "0",
                             "--out", str(tmp_path / "b"))
    assert code == cli.EXIT_ERROR and "--workers" in err
    assert not (tmp_path / "b").exists()


# -- readers ----------------------------------------------------------------------------------
def test_read_sweep_and_read_run(grid_dir):
    info = sweep.read_sweep(grid_dir)
    assert (info.experiment, info.preset, info.metric, info.mode) == ("binary-addition", "default", "accuracy",
                                                                        "max")
    assert info.swept == {"learning_rate": "grid", "hidden_size": "grid"}
    assert len(info.trials) == 8
    row = info.trials[0]
    assert isinstance(row, sweep.TrialRow) and row.status == "ok" and row.steps == 60
    assert row.params == {"learning_rate": 0.01, "hidden_size": 8} and row.seed == 0
    assert set(row.final) >= {"accuracy", "val_loss"} and row.path == grid_dir / row.id
    best = info.best()
    assert len(best) == 8 and info.value(best[0]) == max(info.value(r) for r in info.trials)
    spec, history = sweep.read_run(row.path)
    assert spec["hyperparameters"]["hidden_size"] == 8 and spec["status"] == "completed"
    assert isinstance(history, MetricHistory) and "loss" in history.names()
    steps, values = history.arrays("loss")
    assert steps.tolist() == list(range(1, 61))
    series = sweep.read_metrics_csv(row.path / "metrics.csv")
    assert series["val_loss"][0][0] == 0 and series["accuracy"][1][-1] == row.final["accuracy"]
    with pytest.raises(ValueError):
        sweep.read_sweep(row.path)
    with pytest.raises(ValueError):
        sweep.read_run(grid_dir)


def test_read_sweep_knows_sampled_scales(capsys, tmp_path):
    out = tmp_path / "rs"
    code, _, err = sweep_cli(capsys, "binary-addition", "--sample", "learning_rate=log:0.001:0.3", "--trials", "2",
                             "--steps", "3", "--out", str(out), "--workers", "1", "--sample-seed", "5")
    assert code == 0, err
    info = sweep.read_sweep(out)
    assert info.swept == {"learning_rate": "log"}
    plan = sweep.plan_sweep("binary-addition", sample=["learning_rate=log:0.001:0.3"], trials=2, steps=3,
                            sample_seed=5)
    assert [(r.id, r.params["learning_rate"]) for r in info.trials] == \
        [(t.id, t.values["learning_rate"]) for t in plan.trials]
