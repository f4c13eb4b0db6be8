"""Hyperparameter sweeps (``rnnlab sweep``) and the readers of run and sweep folders.

    rnnlab sweep EXPERIMENT [--preset P] [--set KEY=VALUE ...]
                 --grid KEY=V1,V2,... [--grid ...]           # full factorial
                 [--sample KEY=log:LO:HI --trials N]         # random search (log or lin), --sample-seed S
                 [--seeds K] [--steps S] --out DIR
                 [--workers N] [--ray [ADDRESS]]

A sweep is a list of trials: every combination of the ``--grid`` values, times
``--trials`` random draws of the ``--sample`` keys (if any), times the seeds
``0 .. K-1``. Each trial is an ordinary run, trained by the same code as
``rnnlab train`` (``core.cli.cmd_train``) into ``DIR/<trial-id>/`` (staged in
``DIR/<trial-id>.partial`` while it trains): ``checkpoint.npz``,
``metrics.csv``, ``run.json``. So ``rnnlab train --resume``, ``eval`` and the
GUI's File > Open read a trial like any run. Besides the trials, ``DIR`` holds

* ``sweep.json``: the sweep's definition (experiment, preset, ``set``,
  ``grid``, ``sample``, ``trials``, ``sample_seed``, ``seeds``, ``steps``),
  ``swept`` (name -> ``"grid"``, ``"log"`` or ``"lin"``), the main ``metric``
  and its ``mode`` (``"max"``/``"min"``), and ``plan``: every trial's id,
  swept values and seed;
* ``sweep.csv``: one row per finished trial, in plan order, written atomically
  after each trial: ``trial, status, seed, <swept keys>, <--set keys>, steps,
  wall_time, <final metrics: the main metric first>, message``. ``status`` is
  ``ok``, ``diverged`` or ``failed``; ``steps`` the steps trained (a diverged
  trial: the last good step); ``wall_time`` seconds of training (run.json's);
  final metrics are the evaluation at the end (run.json ``final``); numbers as
  ``repr(float)``; an empty cell where a value is missing. Interrupted and
  pending trials have no row.

Trial ids are stable: ``<swept values>-s<seed>-<hash>``, e.g.
``learning_rate=0.01-hidden_size=8-s0-3f2a1c9b``; the hash (8 hex digits of a
SHA-256) covers the experiment, preset, every resolved hyperparameter, seed and
steps, so the same settings always get the same folder, and different ones
never share one.

Running it again resumes: trials whose ``run.json`` says ``completed`` or
``diverged`` are skipped; an interrupted trial continues from its last
checkpoint (bit-identical to an uninterrupted run, see ``rnnlab train
--resume``); a failed one is tried again. Ctrl+C stops the running trials after
their current step (saved for the next call) and leaves ``sweep.csv`` listing
the finished ones.

Executors: local worker processes (spawn, one BLAS thread each, ``--workers``
defaults to the CPUs this process may use), or Ray tasks (``--ray``: a local
Ray instance on 127.0.0.1, started and stopped here; ``--ray ADDRESS``: an
existing cluster, whose nodes get this ``core`` package through the runtime
environment and send the trial's files back to the driver). A trial's
``metrics.csv`` is the same, byte for byte, whatever the executor.

Readers (no Qt; used by the GUI's File > Open run / Open sweep)::

    info = read_sweep(DIR)       # SweepInfo(trials=[TrialRow...], swept={name: kind}, metric, mode, ...)
    spec, history = read_run(RUN_DIR)   # run.json as a dict, metrics.csv as a core.history.MetricHistory
    series = read_metrics_csv(PATH)     # {name: (steps, values)} at full resolution
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import itertools
import json
import math
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from core.config import ConfigError, resolve

__all__ = ["Trial", "SweepPlan", "plan_sweep", "run_sweep", "run_trial", "main_metric", "trial_id",
           "SweepInfo", "TrialRow", "read_sweep", "read_run", "read_metrics_csv", "SweepResult",
           "SWEEP_CSV", "SWEEP_JSON", "BLAS_ENV"]

SWEEP_CSV, SWEEP_JSON = "sweep.csv", "sweep.json"
MAX_TRIALS = 10_000
MAX_SEEDS = 1000
FINISHED = {"completed": "ok", "diverged": "diverged"}  # run.json status -> sweep status
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "RNNLAB_BLAS_THREADS")
# a local Ray instance (--ray alone): Ray's node address is the loopback one, so its servers listen on
# 127.0.0.1 only; no usage statistics are sent
LOCAL_RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
TOP_TRIALS, TOP_SETTINGS = 8, 5


# -- the plan ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trial:
    """One run of a sweep. ``sets``: the ``--set KEY=VALUE`` strings ``rnnlab train`` gets (the
    sweep's --set, then the swept values); ``values``: the swept values, validated."""

    id: str
    experiment: str
    preset: str
    sets: tuple[str, ...]
    values: Mapping[str, Any]
    seed: int
    steps: int


@dataclass
class SweepPlan:
    experiment: str
    preset: str
    fixed: dict[str, Any]  # the --set values, validated
    swept: dict[str, str]  # name -> "grid" | "log" | "lin", in command-line order
    trials: list[Trial]
    metric: str
    mode: str  # "max" | "min"
    steps: int
    definition: dict = field(default_factory=dict)  # what sweep.json records of the command


def main_metric(cls: type, preset: str | None) -> tuple[str, str]:
    """The metric a sweep ranks trials by, and ``"max"``/``"min"``: the preset's or experiment's
    Target; else the first declared quality metric with a direction; else ``val_loss`` (min)."""
    target = cls.target_for(preset)
    if target is not None:
        return target.metric, ("min" if target.mode == "min" else "max")
    for m in getattr(cls, "metrics", ()):
        if m.group == "quality" and m.direction in ("lower", "higher"):
            return m.name, ("min" if m.direction == "lower" else "max")
    return "val_loss", "min"


def _fmt(v: Any) -> str:
    """A value as a --set string / CSV cell: floats with repr (round-trips), bools lower case."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (tuple, list)):
        return " ".join(_fmt(x) for x in v)
    return str(v)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return _fmt(v)


def trial_id(experiment: str, preset: str, config: Mapping[str, Any], seed: int, steps: int,
             values: Mapping[str, Any]) -> str:
    """``<swept values>-s<seed>-<hash>``: readable, and stable for the same settings (see module doc)."""
    key = json.dumps({"experiment": experiment, "preset": preset, "config": {k: config[k] for k in sorted(config)},
                      "seed": seed, "steps": steps}, sort_keys=True, default=_fmt)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]
    readable = "-".join(f"{k}={_short(v)}" for k, v in values.items())
    readable = re.sub(r"[^A-Za-z0-9._=+-]+", "_", readable)[:80]
    return f"{readable}-s{seed}-{digest}" if readable else f"s{seed}-{digest}"


def _split_values(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _parse_sample(spec: str, param: Any) -> tuple[str, float, float]:
    parts = spec.split(":")
    if len(parts) != 3 or parts[0] not in ("log", "lin"):
        raise ConfigError(f"--sample {param.name}: expected log:LOW:HIGH or lin:LOW:HIGH, got {spec!r}")
    if param.type not in ("int", "float"):
        raise ConfigError(f"--sample {param.name}: only numbers can be sampled ({param.name} is {param.type}); "
                          f"use --grid")
    try:
        lo, hi = float(param.validate(parts[1])), float(param.validate(parts[2]))
    except ConfigError as e:
        raise ConfigError(f"--sample {e}") from None
    if not lo < hi:
        raise ConfigError(f"--sample {param.name}: LOW {parts[1]} must be less than HIGH {parts[2]}")
    if parts[0] == "log" and lo <= 0:
        raise ConfigError(f"--sample {param.name}: a log range needs LOW > 0, got {parts[1]}")
    return parts[0], lo, hi


def _draw(rng: np.random.Generator, param: Any, scale: str, lo: float, hi: float) -> Any:
    u = float(rng.random())
    v = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if scale == "log" else lo + u * (hi - lo)
    if param.type == "int":
        return int(min(max(round(v), math.ceil(lo)), math.floor(hi)))
    return min(max(float(f"{v:.4g}"), lo), hi)  # 4 significant digits: readable values and ids


def plan_sweep(experiment: str, preset: str | None = None, sets: Sequence[str] = (), grid: Sequence[str] = (),
               sample: Sequence[str] = (), trials: int | None = None, seeds: int = 1, steps: int | None = None,
               sample_seed: int = 0) -> SweepPlan:
    """The trials of a sweep (validated: a bad key or value raises ConfigError naming it, before anything runs).

    ``sets``/``grid``/``sample`` are the command-line strings (``KEY=VALUE``, ``KEY=V1,V2``,
    ``KEY=log:LO:HI``). Order: grid combinations (the first --grid varies slowest), then random
    draws, then seeds.
    """
    from core.config import parse_assignments
    from core.experiments import registry

    cls = registry.get(experiment)
    preset = preset or cls.default_preset
    base = cls.preset_config(preset)
    user = parse_assignments(list(sets))
    fixed = resolve(cls.hyperparams, {**base, **user})
    fixed = {k: fixed[k] for k in user}
    grid_values: dict[str, list[tuple[str, Any]]] = {}
    for item in grid:
        if "=" not in item:
            raise ConfigError(f"--grid expects KEY=V1,V2,..., got {item!r}")
        key, text = (s.strip() for s in item.split("=", 1))
        param = cls.param(key)
        if key in grid_values or key in user:
            raise ConfigError(f"--grid {key}: given twice (in --set or another --grid)")
        vals: list[tuple[str, Any]] = []
        for tok in _split_values(text):
            try:
                v = param.validate(tok)
            except ConfigError as e:
                raise ConfigError(f"--grid {e}") from None
            if all(v != old for _, old in vals):
                vals.append((tok, v))
        if not vals:
            raise ConfigError(f"--grid {key}: no values (expected {key}=V1,V2,...)")
        grid_values[key] = vals
    sample_specs: dict[str, tuple[Any, str, float, float]] = {}
    for item in sample:
        if "=" not in item:
            raise ConfigError(f"--sample expects KEY=log:LOW:HIGH or KEY=lin:LOW:HIGH, got {item!r}")
        key, text = (s.strip() for s in item.split("=", 1))
        param = cls.param(key)
        if key in grid_values or key in user or key in sample_specs:
            raise ConfigError(f"--sample {key}: given twice (in --set, --grid or another --sample)")
        sample_specs[key] = (param, *_parse_sample(text, param))
    if sample_specs and trials is None:
        raise ConfigError("--sample needs --trials N (how many random draws)")
    if trials is not None and not sample_specs:
        raise ConfigError("--trials is the number of random draws of --sample: give a --sample KEY=log:LOW:HIGH")
    if trials is not None and not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(f"--trials: {trials} is not between 1 and {MAX_TRIALS:,}")
    if not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"--seeds: {seeds} is not between 1 and {MAX_SEEDS}")
    if steps is None:
        steps = cls.presets[preset].steps
    if not 0 <= steps <= 10**9:
        raise ConfigError(f"--steps: {steps} is not between 0 and 1,000,000,000")
    n = math.prod(len(v) for v in grid_values.values()) * (trials or 1) * seeds
    if n > MAX_TRIALS:
        raise ConfigError(f"the sweep has {n:,} trials, more than the limit of {MAX_TRIALS:,}")

    rng = np.random.default_rng(sample_seed)
    draws = [{k: _draw(rng, p, scale, lo, hi) for k, (p, scale, lo, hi) in sample_specs.items()}
             for _ in range(trials or 0)] or [{}]
    swept = {**{k: "grid" for k in grid_values}, **{k: s[1] for k, s in sample_specs.items()}}
    out: list[Trial] = []
    seen: set[str] = set()
    for combo in itertools.product(*grid_values.values()):
        for draw in draws:
            strings = {k: tok for k, (tok, _) in zip(grid_values, combo)}
            strings.update({k: _fmt(v) for k, v in draw.items()})
            values = {k: v for k, (_, v) in zip(grid_values, combo)}
            values.update(draw)
            config = resolve(cls.hyperparams, {**base, **user, **values})
            for p in cls.hyperparams:  # as cmd_train stores them: absolute paths
                if p.type == "path" and isinstance(config.get(p.name), str) and config[p.name].strip():
                    config[p.name] = os.path.abspath(os.path.expanduser(config[p.name].strip()))
            for seed in range(seeds):
                tid = trial_id(cls.id, preset, config, seed, steps, values)
                if tid in seen:  # two random draws that rounded to the same values
                    continue
                seen.add(tid)
                sets_ = tuple(list(sets) + [f"{k}={s}" for k, s in strings.items()])
                out.append(Trial(tid, cls.id, preset, sets_, values, seed, steps))
    metric, mode = main_metric(cls, preset)
    definition = {"experiment": cls.id, "preset": preset, "set": {k: _fmt(v) for k, v in fixed.items()},
                  "grid": {k: [tok for tok, _ in v] for k, v in grid_values.items()},
                  "sample": {k: {"scale": s[1], "low": s[2], "high": s[3]} for k, s in sample_specs.items()},
                  "trials": trials, "sample_seed": sample_seed, "seeds": seeds, "steps": steps}
    return SweepPlan(cls.id, preset, fixed, swept, out, metric, mode, steps, definition)


# -- one trial (runs in a worker process or a Ray task) -----------------------------------------
def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def finished_status(folder: Path) -> str | None:
    """``"ok"``/``"diverged"`` if ``folder`` holds a finished run (its run.json says so), else None."""
    return FINISHED.get(_read_json(folder / "run.json").get("status")) if folder.is_dir() else None


def _result(tid: str, status: str, run: Mapping[str, Any], message: str = "") -> dict:
    final = run.get("final") if isinstance(run.get("final"), dict) else {}
    return {"id": tid, "status": status, "message": message or (run.get("error") or ""),
            "steps": run.get("steps"), "wall_time": run.get("wall_time"),
            "final": {k: (float("nan") if v is None else float(v)) for k, v in final.items()
                      if v is None or isinstance(v, (int, float))},
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


def _one_thread() -> None:
    for var in BLAS_ENV:
        os.environ[var] = "1"
    from core.runtime import limit_blas_threads

    limit_blas_threads(1)


def run_trial(task: Mapping[str, Any]) -> dict:
    """Train one trial as ``rnnlab train`` would; returns its result (status ok / diverged / failed /
    interrupted, message, steps, wall_time, final metrics). ``task``: the Trial's fields plus ``dir``
    (the sweep folder), ``checkpoint_every`` and ``ship`` (train in a temporary folder and return
    the run's files as ``files``: for cluster nodes that do not share the driver's disk)."""
    from core import cli

    _one_thread()
    tid = task["id"]
    tmp = Path(tempfile.mkdtemp(prefix="rnnlab-trial-")) if task.get("ship") else None
    out = (tmp if tmp is not None else Path(task["dir"])) / tid
    stage = out.with_name(out.name + ".partial")
    message, code = "", None
    buf = io.StringIO()
    try:
        if finished_status(out) is None:
            ns = argparse.Namespace(experiment=task["experiment"], preset=task["preset"], set=list(task["sets"]),
                                    steps=task["steps"], seed=task["seed"], out=str(out), overwrite=False,
                                    checkpoint_every=task.get("checkpoint_every"), resume=None, no_progress=True)
            if out.exists():  # our own folder of an unfinished attempt
                shutil.rmtree(out)
            resume = False
            if (stage / "checkpoint.npz").is_file():
                try:
                    from core.checkpoint import read_checkpoint

                    read_checkpoint(stage / "checkpoint.npz")
                    resume = True
                except Exception:  # noqa: BLE001 - unreadable: train it again
                    pass
            if not resume and stage.exists():
                shutil.rmtree(stage)
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
                if resume:
                    ns = argparse.Namespace(experiment=None, preset=None, set=None, steps=task["steps"], seed=None,
                                            out=None, overwrite=False, checkpoint_every=task.get("checkpoint_every"),
                                            resume=str(stage), no_progress=True)
                    code = cli._resume(ns)
                else:
                    code = cli.cmd_train(ns)
    except KeyboardInterrupt:
        code = cli.EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - recorded as a failed trial; the sweep goes on
        message = cli._one_line(cli._os_message(e) if isinstance(e, OSError) else e)
        if not isinstance(e, ValueError):
            message = f"{type(e).__name__}: {message}"
    try:
        status = finished_status(out)
        if status is None and (stage / "run.json").is_file() and finished_status(stage) is not None:
            os.rename(stage, out)  # finished in a stage it could not swap (a moved sweep folder)
            status = finished_status(out)
        if status is not None:
            res = _result(tid, status, _read_json(out / "run.json"))
            if tmp is not None:
                res["files"] = {f: (out / f).read_bytes() for f in cli.RUN_FILES if (out / f).is_file()}
            return res
        run = _read_json(stage / "run.json")
        if code == cli.EXIT_INTERRUPTED or run.get("status") == "interrupted":
            return _result(tid, "interrupted", run, "interrupted")
        if not message:
            lines = [l for l in buf.getvalue().splitlines() if l.strip()]
            message = run.get("error") or (lines[-1] if lines else f"exit code {code}")
        return _result(tid, "failed", run, message)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


# -- executors -----------------------------------------------------------------------------------
def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _worker_init() -> None:
    """Local worker process: its own process group (Ctrl+C reaches it once, forwarded by the driver);
    SIGINT ignored between trials (during a trial the CLI's handler stops after the current step)."""
    try:
        os.setpgrp()
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _one_thread()


class _LocalExecutor:
    def __init__(self, workers: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.capacity = workers
        saved = {v: os.environ.get(v) for v in BLAS_ENV}
        os.environ.update({v: "1" for v in BLAS_ENV})  # children start with one BLAS thread
        try:
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_worker_init)
        finally:
            for v, old in saved.items():
                if old is None:
                    os.environ.pop(v, None)
                else:
                    os.environ[v] = old
        self.name = f"{workers} local worker process{'es' if workers > 1 else ''}"

    def submit(self, task: dict) -> Any:
        return self.pool.submit(run_trial, task)

    def wait(self, handles: list, timeout: float) -> list[tuple[Any, dict | BaseException]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for h in done:
            try:
                out.append((h, h.result()))
            except BaseException as e:  # noqa: BLE001 - a worker that died
                out.append((h, e))
        return out

    def interrupt(self, handles: list) -> None:
        for h in handles:
            h.cancel()
        for p in list(getattr(self.pool, "_processes", {}).values()):
            try:
                os.kill(p.pid, signal.SIGINT)  # stops its trial after the current step (saved)
            except (OSError, AttributeError):
                pass

    def kill(self) -> None:
        for p in list(getattr(self.pool, "_processes", {}).values()):
            try:
                p.terminate()
            except (OSError, AttributeError):
                pass

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _RayExecutor:
    """Trials as Ray tasks (one CPU each). ``address`` None: a local instance on this machine only."""

    def __init__(self, address: str | None, workers: int | None):
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise ConfigError("--ray needs Ray, which is not installed: pip install 'rnnlab[ray]' "
                              "(or pip install ray)")
        self.local = address is None
        self._env = {v: os.environ.get(v) for v in (*BLAS_ENV, *LOCAL_RAY_ENV)}
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves this machine
        if self.local:  # before Ray is imported: every Ray server of this instance binds to 127.0.0.1 only
            os.environ.update(LOCAL_RAY_ENV)
            os.environ.update({v: "1" for v in BLAS_ENV})  # the local workers inherit it
        import ray
        from ray._private import ray_constants

        self.ray = ray
        self._cluster_flag = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
        core_dir = str(Path(__file__).resolve().parent)
        try:
            if self.local:
                ray_constants.ENABLE_RAY_CLUSTER = False  # read at start-up (Ray may have been imported before)
                # address "local": a new instance, even if a cluster started by `ray start` runs here
                self.capacity = workers or default_workers()
                ray.init(address="local", num_cpus=self.capacity, include_dashboard=False,
                         object_store_memory=100 * 1024 * 1024, log_to_driver=False, configure_logging=False)
                self.name = f"a local Ray instance ({self.capacity} CPUs)"
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False,
                         runtime_env={"py_modules": [core_dir], "env_vars": {v: "1" for v in BLAS_ENV}})
                cpus = int(ray.cluster_resources().get("CPU", 1))
                self.capacity = workers or max(1, cpus)
                self.name = f"the Ray cluster at {address} ({cpus} CPUs)"
        except BaseException:
            self._restore()
            raise
        self.remote = ray.remote(num_cpus=1, max_retries=0)(run_trial)

    def submit(self, task: dict) -> Any:
        return self.remote.remote({**task, "ship": not self.local})

    def wait(self, handles: list, timeout: float) -> list[tuple[Any, dict | BaseException]]:
        ready, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        out = []
        for h in ready:
            try:
                out.append((h, self.ray.get(h)))
            except BaseException as e:  # noqa: BLE001 - a task that raised or was cancelled
                out.append((h, e))
        return out

    def interrupt(self, handles: list) -> None:
        for h in handles:
            try:
                self.ray.cancel(h)  # KeyboardInterrupt in the task: the CLI code saves its last checkpoint
            except Exception:  # noqa: BLE001
                pass

    def kill(self) -> None:
        pass

    def close(self) -> None:
        try:
            self.ray.shutdown()
        finally:
            self._restore()

    def _restore(self) -> None:
        for v, old in self._env.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
        if self._cluster_flag is not None:
            from ray._private import ray_constants

            ray_constants.ENABLE_RAY_CLUSTER = self._cluster_flag


# -- the sweep ------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    plan: SweepPlan
    results: dict[str, dict]  # trial id -> result of the finished trials (ok / diverged / failed)
    ran: int  # trials run by this call
    skipped: int  # trials already finished before this call
    interrupted: bool
    seconds: float
    executor: str


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return _fmt(v)


def sweep_csv_bytes(plan: SweepPlan, results: Mapping[str, dict]) -> bytes:
    """sweep.csv (see the module doc) for the finished trials in ``results``."""
    rows = [(t, results[t.id]) for t in plan.trials if t.id in results]
    metrics: list[str] = [plan.metric]
    for _, r in rows:
        metrics += [k for k in r.get("final", {}) if k not in metrics]
    swept, fixed = list(plan.swept), [k for k in plan.fixed if k not in plan.swept]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["trial", "status", "seed", *swept, *fixed, "steps", "wall_time", *metrics, "message"])
    for t, r in rows:
        final = r.get("final", {})
        w.writerow([t.id, r["status"], t.seed, *(_cell(t.values[k]) for k in swept),
                    *(_cell(plan.fixed[k]) for k in fixed), _cell(r.get("steps")), _cell(r.get("wall_time")),
                    *(_cell(final.get(k)) for k in metrics), r.get("message") or ""])
    return buf.getvalue().encode("utf-8")


def _install_shipped(folder: Path, tid: str, files: Mapping[str, bytes]) -> None:
    """Write a trial trained on another node (its files) into ``folder/tid`` (staged, then renamed)."""
    out = folder / tid
    stage = folder / f"{tid}.partial"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    for name, data in files.items():
        if name == "run.json":
            run = json.loads(data.decode("utf-8"))
            run["out"] = str(out.absolute())
            data = (json.dumps(run, indent=2) + "\n").encode("utf-8")
        _write_atomic(stage / name, data)
    if out.exists():
        shutil.rmtree(out)
    os.rename(stage, out)


def run_sweep(plan: SweepPlan, folder: str | os.PathLike, workers: int | None = None,
              ray: str | None | bool = False, checkpoint_every: int | None = None, progress: bool = True,
              on_result: Callable[[dict], None] | None = None) -> SweepResult:
    """Run the trials of ``plan`` not yet finished in ``folder``. ``ray``: False (local processes),
    None or True (a local Ray instance), or a cluster address. Ctrl+C (KeyboardInterrupt) stops
    cleanly: the result says ``interrupted``."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out: {str(folder)!r} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out: cannot create the sweep folder ({e.strerror}: {str(folder)!r})") from None
    doc = {**plan.definition, "swept": plan.swept, "metric": plan.metric, "mode": plan.mode,
           "plan": [{"id": t.id, "seed": t.seed, "values": {k: _fmt(v) if isinstance(v, tuple) else v
                                                             for k, v in t.values.items()}} for t in plan.trials]}
    _write_atomic(folder / SWEEP_JSON, (json.dumps(doc, indent=2) + "\n").encode("utf-8"))

    results: dict[str, dict] = {}
    todo: list[Trial] = []
    for t in plan.trials:
        status = finished_status(folder / t.id)
        if status is not None:
            results[t.id] = _result(t.id, status, _read_json(folder / t.id / "run.json"))
        else:
            todo.append(t)
    skipped = len(results)

    def save_csv() -> None:
        _write_atomic(folder / SWEEP_CSV, sweep_csv_bytes(plan, results))

    save_csv()
    interrupted = False
    name = "nothing to run"
    if todo:
        if ray is False:
            n = min(workers or default_workers(), len(todo))
            executor: Any = _LocalExecutor(n)
        else:
            executor = _RayExecutor(None if ray in (None, True) else str(ray), workers)
        name = executor.name
        bar = tqdm(total=len(plan.trials), initial=skipped, unit="trial", file=sys.stderr, dynamic_ncols=True,
                   disable=not progress, desc=f"sweep {plan.experiment}", leave=True)
        queue = list(todo)
        running: dict[Any, Trial] = {}

        def take(handle: Any, res: dict | BaseException) -> None:
            trial = running.pop(handle)
            if isinstance(res, BaseException):
                if interrupted:
                    return
                res = {"id": trial.id, "status": "failed", "message": f"the worker died ({type(res).__name__}: "
                       f"{' '.join(str(res).split())})", "final": {}}
            if res.get("status") == "interrupted":
                return
            files = res.pop("files", None)
            if files:
                _install_shipped(folder, trial.id, files)
            results[trial.id] = res
            save_csv()
            bar.update(1)
            if on_result is not None:
                on_result(res)

        def task_of(t: Trial) -> dict:
            return {"id": t.id, "experiment": t.experiment, "preset": t.preset, "sets": list(t.sets),
                    "seed": t.seed, "steps": t.steps, "dir": str(folder.absolute()),
                    "checkpoint_every": checkpoint_every}

        try:
            try:
                while queue or running:
                    while queue and len(running) < executor.capacity:
                        t = queue.pop(0)
                        running[executor.submit(task_of(t))] = t
                    for h, res in executor.wait(list(running), 0.25):
                        take(h, res)
            except KeyboardInterrupt:
                interrupted = True
                bar.write(f"rnnlab: interrupted: stopping {len(running)} running trial(s) after their current step "
                          f"(Ctrl+C again to stop at once)", file=sys.stderr)
                executor.interrupt(list(running))
                try:
                    deadline = time.monotonic() + 60
                    while running and time.monotonic() < deadline:
                        for h, res in executor.wait(list(running), 0.25):
                            take(h, res)
                except KeyboardInterrupt:
                    executor.kill()
        finally:
            bar.close()
            executor.close()
    return SweepResult(plan, results, len(results) - skipped, skipped, interrupted, time.perf_counter() - t0, name)


# -- summary ------------------------------------------------------------------------------------
def rank_key(final: Mapping[str, float], trial: str, metric: str, mode: str) -> tuple:
    """Sort key, best first: the main metric, then val_loss (lower), then the trial id."""
    def val(name: str, sign: float) -> float:
        v = final.get(name)
        return sign * v if v is not None and math.isfinite(v) else math.inf

    return val(metric, -1.0 if mode == "max" else 1.0), val("val_loss", 1.0), trial


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]


def _num(v: Any) -> str:
    return "-" if v is None else (f"{v:.4g}" if isinstance(v, float) else _fmt(v))


def summary(result: SweepResult, folder: str | os.PathLike) -> str:
    """The one-screen text printed at the end of ``rnnlab sweep``."""
    plan, res = result.plan, result.results
    counts = {s: sum(r["status"] == s for r in res.values()) for s in ("ok", "diverged", "failed")}
    pending = len(plan.trials) - len(res)
    n = len(plan.trials)
    lines = [f"sweep {plan.experiment} ({plan.preset}): {n} trial{'s' if n != 1 else ''}: {counts['ok']} ok, "
             f"{counts['diverged']} diverged, {counts['failed']} failed"
             + (f", {pending} not run" if pending else "")
             + (f"; {result.ran} run now on {result.executor}" if result.ran or result.interrupted else "")
             + f"; {result.skipped} already done; {result.seconds:.1f} s"]
    better = "higher" if plan.mode == "max" else "lower"
    by_id = {t.id: t for t in plan.trials}
    ranked = sorted((r for r in res.values() if r["status"] == "ok"),
                    key=lambda r: rank_key(r.get("final", {}), r["id"], plan.metric, plan.mode))
    swept = list(plan.swept)
    if ranked:
        lines.append(f"best trials by {plan.metric} ({better} is better):")
        rows = [[str(i), _num(r["final"].get(plan.metric)), *(_num(by_id[r["id"]].values[k]) for k in swept),
                 str(by_id[r["id"]].seed), _num(r.get("steps")), f"{r.get('wall_time') or 0:.1f}", r["id"]]
                for i, r in enumerate(ranked[:TOP_TRIALS], 1)]
        lines += _table(["#", plan.metric, *swept, "seed", "steps", "time_s", "trial"], rows)
    seeds = plan.definition.get("seeds", 1)
    if ranked and seeds > 1 and swept:
        groups: dict[tuple, list[float]] = {}
        for t in plan.trials:
            r = res.get(t.id)
            if r is None:
                continue
            v = r.get("final", {}).get(plan.metric)
            ok = r["status"] == "ok" and v is not None and math.isfinite(v)
            groups.setdefault(tuple(_fmt(t.values[k]) for k in swept), []).append(v if ok else math.nan)
        scored = []
        for key, vals in groups.items():
            good = [v for v in vals if math.isfinite(v)]
            if good:
                mean = sum(good) / len(good)
                scored.append(((-mean if plan.mode == "max" else mean), key, mean, len(good), len(vals)))
        scored.sort()
        lines.append(f"best settings by mean {plan.metric} over seeds:")
        lines += _table(["#", f"mean {plan.metric}", *swept, "seeds ok"],
                        [[str(i), f"{m:.4g}", *key, f"{n}/{of}"] for i, (_, key, m, n, of) in
                         enumerate(scored[:TOP_SETTINGS], 1)])
    bad = [r for t in plan.trials if (r := res.get(t.id)) is not None and r["status"] != "ok"]
    for r in bad[:3]:
        lines.append(f"{r['status']}: {r['id']}: {r.get('message') or ''}"[:160])
    if len(bad) > 3:
        lines.append(f"... and {len(bad) - 3} more not ok (see sweep.csv)")
    if result.interrupted:
        lines.append(f"interrupted: run the same command again to finish the {pending} remaining trial(s)")
    lines.append(f"wrote {Path(folder) / SWEEP_CSV}")
    return "\n".join(lines) + "\n"


# -- readers (for the GUI and scripts) -----------------------------------------------------------
@dataclass(frozen=True)
class TrialRow:
    """One row of sweep.csv. ``params``: the swept and --set values (numbers as int/float);
    ``final``: the final metrics; ``path``: the trial's run folder (``read_run(path)``)."""

    id: str
    status: str  # "ok" | "diverged" | "failed"
    seed: int
    params: dict[str, Any]
    steps: int | None
    wall_time: float | None
    final: dict[str, float]
    message: str
    path: Path


@dataclass(frozen=True)
class SweepInfo:
    """A sweep folder: its rows, what was swept (name -> "grid" | "log" | "lin"), the main metric
    and whether higher (``"max"``) or lower (``"min"``) is better."""

    folder: Path
    experiment: str
    preset: str
    trials: list[TrialRow]
    swept: dict[str, str]
    metric: str
    mode: str
    definition: dict

    def value(self, row: TrialRow) -> float:
        """The main metric of ``row`` (nan if missing)."""
        return row.final.get(self.metric, math.nan)

    def best(self, n: int | None = None) -> list[TrialRow]:
        """The ``ok`` trials, best first by the main metric."""
        ok = [r for r in self.trials if r.status == "ok" and math.isfinite(self.value(r))]
        ok.sort(key=lambda r: rank_key(r.final, r.id, self.metric, self.mode))
        return ok[:n] if n is not None else ok


def _parse_cell(s: str) -> Any:
    if s == "":
        return None
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(s, s)


def read_sweep(folder: str | os.PathLike) -> SweepInfo:
    """Read ``folder/sweep.csv`` (and ``sweep.json``). Raises ValueError if it is not a sweep folder."""
    folder = Path(folder)
    path = folder / SWEEP_CSV
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{str(folder)!r} is not a sweep folder (no readable {SWEEP_CSV}: {e})") from None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:3] != ["trial", "status", "seed"] or "wall_time" not in rows[0]:
        raise ValueError(f"{str(path)!r} is not a sweep.csv written by rnnlab sweep")
    header = rows[0]
    i_steps, i_wall = header.index("steps"), header.index("wall_time")
    params, metrics = header[3:i_steps], header[i_wall + 1:-1]
    doc = _read_json(folder / SWEEP_JSON)
    trials = []
    for r in rows[1:]:
        if len(r) != len(header):
            continue
        cells = dict(zip(header, r))
        final = {}
        for k in metrics:
            v = _parse_cell(cells[k])
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                final[k] = float(v)
        steps, wall = _parse_cell(cells["steps"]), _parse_cell(cells["wall_time"])
        trials.append(TrialRow(cells["trial"], cells["status"], int(cells["seed"]),
                               {k: _parse_cell(cells[k]) for k in params},
                               steps if isinstance(steps, int) else None,
                               float(wall) if isinstance(wall, (int, float)) else None,
                               final, cells["message"], folder / cells["trial"]))
    swept = doc.get("swept") if isinstance(doc.get("swept"), dict) else {k: "grid" for k in params}
    metric = doc.get("metric") or (metrics[0] if metrics else "val_loss")
    mode = doc.get("mode") if doc.get("mode") in ("max", "min") else "min"
    definition = {k: v for k, v in doc.items() if k not in ("plan",)}
    return SweepInfo(folder, str(doc.get("experiment", "")), str(doc.get("preset", "")), trials, dict(swept),
                     metric, mode, definition)


def read_metrics_csv(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A metrics.csv (core.csvlog's format) as ``{name: (steps, values)}``, every point, float64."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:1] != ["step"]:
        raise ValueError(f"{str(path)!r} is not a metrics.csv written by rnnlab (no 'step' header)")
    names = rows[0][1:]
    pts: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in names}
    for r in rows[1:]:
        if not r:
            continue
        step = float(r[0])
        for n, cell in zip(names, r[1:]):
            if cell != "":
                pts[n][0].append(step)
                pts[n][1].append(float(cell))
    return {n: (np.asarray(s, dtype=np.float64), np.asarray(v, dtype=np.float64)) for n, (s, v) in pts.items()}


def read_run(folder: str | os.PathLike) -> tuple[dict, Any]:
    """A run folder (``rnnlab train`` or a sweep trial): its run.json (``{}`` if missing) and its
    metrics.csv as a ``core.history.MetricHistory`` (in the file's column order)."""
    from core.history import MetricHistory

    folder = Path(folder)
    if not (folder / "metrics.csv").is_file():
        raise ValueError(f"{str(folder)!r} is not a run folder (no metrics.csv)")
    history = MetricHistory()
    for name, (steps, values) in read_metrics_csv(folder / "metrics.csv").items():
        history.series(name).extend(steps.tolist(), values.tolist())
    return _read_json(folder / "run.json"), history


# -- the command -------------------------------------------------------------------------------
def cmd_sweep(args: argparse.Namespace) -> int:
    """``rnnlab sweep`` (see the module doc). Exit 0 when every trial finished (ok or diverged),
    1 if some failed, 130 if interrupted."""
    from core import cli

    if args.steps is not None:
        cli._check_int("--steps", args.steps, 0, cli.MAX_STEPS, "a non-negative integer")
    if args.workers is not None:
        cli._check_int("--workers", args.workers, 1, 1024, "a positive number of processes")
    if args.checkpoint_every is not None:
        cli._check_int("--checkpoint-every", args.checkpoint_every, 0, cli.MAX_STEPS, "a non-negative number of steps")
    cli._check_int("--sample-seed", args.sample_seed, 0, cli.MAX_SEED, "a non-negative integer")
    if not args.grid and not args.sample:
        raise cli.UsageError("sweep needs at least one --grid KEY=V1,V2,... or --sample KEY=log:LOW:HIGH")
    plan = plan_sweep(args.experiment, args.preset, args.set or [], args.grid or [], args.sample or [],
                      args.trials, args.seeds, args.steps, args.sample_seed)
    ray = False if args.ray is False else args.ray
    result = run_sweep(plan, args.out, args.workers, ray, args.checkpoint_every, progress=not args.no_progress)
    sys.stdout.write(summary(result, args.out))
    if result.interrupted:
        return cli.EXIT_INTERRUPTED
    failed = sum(r["status"] == "failed" for r in result.results.values())
    if failed:
        sys.stderr.write(f"{cli.PROG}: error: {failed} of {len(plan.trials)} trials failed "
                         f"(their messages are in {Path(args.out) / SWEEP_CSV})\n")
        return cli.EXIT_ERROR
    return 0


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``sweep`` to the CLI's subcommands."""
    s = sub.add_parser("sweep", parents=[common], help="train many runs: a grid or random search of hyperparameters")
    s.add_argument("experiment", metavar="EXPERIMENT", help="experiment id (see 'rnnlab list')")
    s.add_argument("--preset", help="preset name (default: the experiment's default preset)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="a hyperparameter every trial shares (repeatable)")
    s.add_argument("--grid", action="append", metavar="KEY=V1,V2,...", default=[],
                   help="values to try (repeatable: every combination is a trial)")
    s.add_argument("--sample", action="append", metavar="KEY=log:LOW:HIGH", default=[],
                   help="random search: draw KEY log- or lin-uniformly in [LOW, HIGH] (lin:LOW:HIGH) for each of "
                        "--trials draws (repeatable)")
    s.add_argument("--trials", type=int, metavar="N", help="random draws of the --sample keys")
    s.add_argument("--sample-seed", type=int, default=0, metavar="S", help="seed of the random draws (default 0)")
    s.add_argument("--seeds", type=int, default=1, metavar="K", help="train every setting with seeds 0..K-1 "
                   "(default 1)")
    s.add_argument("--steps", type=int, help="training steps per trial (default: the preset's length)")
    s.add_argument("--out", required=True, metavar="DIR", help="sweep folder: one run folder per trial, "
                   "sweep.csv and sweep.json; the same command again resumes")
    s.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: the number of "
                   "CPUs); with --ray: trials in flight")
    s.add_argument("--ray", nargs="?", const=True, default=False, metavar="ADDRESS",
                   help="run the trials as Ray tasks: alone, on a local Ray instance (started and stopped here); "
                        "with ADDRESS (host:port or 'auto'), on that cluster")
    s.add_argument("--checkpoint-every", type=int, metavar="N", default=None,
                   help="checkpoint each trial every N steps (default as rnnlab train)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)
