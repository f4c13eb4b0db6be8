"""Headless ``rnnlab`` commands (no Qt): list, train, sample, eval.

    rnnlab list
    rnnlab train EXPERIMENT [--preset NAME] [--set KEY=VALUE ...] [--steps N] [--seed S] [--out DIR]
                            [--overwrite] [--checkpoint-every N]
    rnnlab train --resume RUN_DIR [--steps TOTAL] [--checkpoint-every N]
    rnnlab sample CHECKPOINT [--prime TEXT] [--temperature T ...] [--length N] [--seed S]
    rnnlab eval CHECKPOINT
    rnnlab sweep EXPERIMENT --grid KEY=V1,V2 [--sample KEY=log:LO:HI --trials N] [--seeds K] --out DIR
                 [--workers N] [--ray [ADDRESS]]          (see core.sweep)

``main(argv) -> int`` returns the exit code: 0 ok, 1 bad input/data/checkpoint,
2 bad command line, 3 training diverged (NaN/inf), 130 interrupted. Errors end
with ONE line on stderr, ``rnnlab: error: ...``; ``--debug`` shows tracebacks.

``train`` writes a run folder OUT (default ``runs/<experiment>-<timestamp>``):

* ``metrics.csv``: see core.csvlog; one row per training step, streamed while
  training; row ``0`` holds the evaluation before training. No timings, so the
  same seed/preset/steps give a byte-identical file, resumed or not.
* ``checkpoint.npz``: see core.checkpoint.
* ``run.json``: experiment, preset, hyperparameters, seed, steps,
  steps_requested, wall_time (seconds), final (evaluate() metrics), status
  ("running", "completed", "diverged", "interrupted", "failed"), error
  (message or null) and out (the folder the run is meant for).

Where a run lives
    While it trains, the run is written in the sibling folder ``OUT.partial``:
    a checkpoint at step 0 and then every ``--checkpoint-every`` steps
    (default: every 1000 steps or 5 minutes, whichever first), each preceded by
    an fsync of metrics.csv, so a run killed at any moment (even kill -9) can be
    continued with ``rnnlab train --resume OUT.partial``. When it completes,
    ``OUT.partial`` is renamed to ``OUT``; a run already in OUT (only with
    ``--overwrite``: otherwise such an OUT is refused before anything is done)
    is kept as ``OUT.prev``. A run that diverges is moved to OUT only if OUT
    held no run. Ctrl+C stops after the current step, saves it and exits 130
    naming the folder. A run that fails before its first step leaves nothing.

Resume
    ``--resume RUN_DIR`` rebuilds the experiment from ``RUN_DIR/checkpoint.npz``
    (its own settings: --preset/--set/--seed/--out cannot be given), cuts
    metrics.csv back to the checkpoint's step and trains to ``--steps`` in all
    (default: the run's ``steps_requested``). The result is identical, row for
    row and bit for bit, to a run that was never interrupted. A staged
    ``OUT.partial`` is renamed to OUT when it completes; any other run folder
    (a finished run extended with a larger --steps) continues in place.

Bounds
    Settings are checked against the memory available (core.memory) before a
    model is built; ``--steps`` and ``--checkpoint-every`` are at most 10^9,
    ``sample --length`` at most 100,000 tokens, ``--prime`` 10,000 characters.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from core.config import ConfigError, parse_assignments
from core.csvlog import MetricsCSV
from core.runtime import limit_blas_threads

PROG = "rnnlab"
EXIT_ERROR, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 2, 3, 130


class UsageError(Exception):
    """Bad command line (argparse error); reported as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print the usage block and exit
        raise UsageError(f"{message} (see '{self.prog} --help')")


# -- helpers -------------------------------------------------------------------


def _one_line(msg: object) -> str:
    return " ".join(str(msg).split()) or "unknown error"


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (np.floating, np.integer)):
        return _json_safe(v.item())
    if isinstance(v, tuple):
        return [_json_safe(x) for x in v]
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    return v


# -- commands ------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    from core.experiments import registry

    out = sys.stdout
    for exp_id in registry.ids():
        try:
            cls = registry.get(exp_id)
        except Exception as e:  # a module missing or broken must not hide the others
            out.write(f"{exp_id:16s} (unavailable: {_one_line(e)})\n")
            continue
        default = " [default]" if exp_id == registry.DEFAULT_EXPERIMENT else ""
        out.write(f"{exp_id:16s} {cls.description}{default}\n")
        for name, p in cls.presets.items():
            out.write(f"  --preset {name:12s} {p.description} ({p.steps} steps)\n")
    return 0


def _default_out(exp_id: str) -> Path:
    base = Path("runs") / f"{exp_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, i = base, 2
    while out.exists():
        out = base.with_name(f"{base.name}-{i}")
        i += 1
    return out


RUN_FILES = ("run.json", "checkpoint.npz", "metrics.csv", "events.jsonl")
MAX_STEPS = 10**9
MAX_SEED = 2**63 - 1
MAX_SAMPLE_LENGTH = 100_000
MAX_PRIME_CHARS = 10_000
MAX_TEMPERATURES = 16
AUTO_CHECKPOINT_STEPS = 1000  # --checkpoint-every default: every 1000 steps ...
AUTO_CHECKPOINT_SECONDS = 300.0  # ... or every 5 minutes, whichever comes first
PROGRESS_SECONDS = 0.1  # the progress bar is updated at most this often (not every step)


def _check_int(flag: str, value: int, low: int, high: int, what: str) -> int:
    """``value`` if ``low <= value <= high``, else ConfigError naming ``flag``, the value and the bound."""
    if value > high:
        raise ConfigError(f"{flag}: {value:,} is more than the limit of {high:,}")
    if value < low:
        raise ConfigError(f"{flag}: {value} is not {what}")
    return value


def _os_message(e: OSError, path: Path | str | None = None) -> str:
    """A plain sentence for an OSError: 'permission denied: runs/x' (no [Errno 13])."""
    what = (e.strerror or type(e).__name__).rstrip(".")
    where = path if path is not None else (e.filename or "")
    return f"{what[:1].lower()}{what[1:]}: {str(where)!r}" if where else what


def _holds_run(folder: Path) -> bool:
    return folder.is_dir() and any((folder / f).exists() for f in RUN_FILES)


def _only_run_files(folder: Path) -> bool:
    """True if ``folder`` holds nothing but files a run writes (its own, or leftovers of a killed save)."""
    try:
        return all(p.name in RUN_FILES or (p.name.startswith(".checkpoint.npz.") and p.name.endswith(".tmp"))
                   for p in folder.iterdir())
    except OSError:
        return False


def _sibling(folder: Path, suffix: str) -> Path:
    return folder.with_name(folder.name + suffix)


def _write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON atomically (temporary file beside it, then rename; usual file mode)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(_json_safe(data), indent=2) + "\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def _swap_in(stage: Path, out: Path) -> None:
    """Move the finished run in ``stage`` to ``out``. An earlier run in ``out`` becomes ``out.prev``
    (replacing an older ``.prev``); other files already in ``out`` are left as they are."""
    if out.is_dir() and _holds_run(out):
        prev = _sibling(out, ".prev")
        if prev.exists():
            shutil.rmtree(prev)
        os.rename(out, prev)
    if out.is_dir():  # an existing folder without a run: move the files in
        for f in stage.iterdir():
            os.replace(f, out / f.name)
        stage.rmdir()
    else:
        os.rename(stage, out)
    _fsync_dir(out.parent)


def _check_out(out: Path, overwrite: bool) -> Path:
    """Refuse ``--out`` folders that would clobber a run; returns the staging folder ``out.partial``."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {str(out)!r} is a file, not a folder")
    if _holds_run(out) and not overwrite:
        raise ConfigError(f"--out: {str(out)!r} already holds a run; continue it with --resume {out}, "
                          f"or add --overwrite to replace it (the old run is then kept as {out.name}.prev)")
    stage = _sibling(out, ".partial")
    if stage.exists():
        if not overwrite:
            raise ConfigError(f"--out: {str(stage)!r} holds an unfinished run; continue it with --resume {stage}, "
                              f"or add --overwrite to start again")
        if not (stage.is_dir() and _only_run_files(stage)):
            raise ConfigError(f"--out: {str(stage)!r} is in the way and holds other files; move it away")
    prev = _sibling(out, ".prev")
    if overwrite and _holds_run(out) and prev.exists() and not (prev.is_dir() and _only_run_files(prev)):
        raise ConfigError(f"--out: {str(prev)!r} (where the old run would be kept) holds other files; move it away")
    return stage


class _StopFlag:
    """SIGINT (Ctrl+C) sets ``requested`` instead of raising, so training stops after a finished step;
    a second Ctrl+C raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_StopFlag":
        try:
            self._old = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: Ctrl+C raises KeyboardInterrupt as usual
            self._old = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _explain_prime(cls: type, config: dict, user_keys: set[str], error: ConfigError) -> Exception:
    """word-lm on a PTB folder too small to hold the default prime: say it about the data."""
    folder = config.get("data_dir")
    if not (str(error).startswith("prime:") and "prime" not in user_keys and folder):
        return error
    from core.data.words import PTB_FILES, read_ptb_file

    try:
        words = read_ptb_file(os.path.join(folder, PTB_FILES[0]))
    except ValueError as e:
        return e
    from core.data import DataError

    return DataError(f"data_dir: {folder!r} holds too little text for a word model ({len(words):,} training "
                     f"words, {len(set(words)):,} distinct; not even the word the samples start from, "
                     f"{cls.param('prime').default!r}): give the folder of the full PTB files")


def _build(cls: type, config: dict, seed: int, user_keys: set[str]) -> Any:
    from core.memory import check_memory

    check_memory(cls, config)  # before anything big is allocated
    try:
        return cls(config, seed=seed)  # validates every value, loads the data
    except ConfigError as e:
        raise _explain_prime(cls, config, user_keys, e) from None


def cmd_train(args: argparse.Namespace) -> int:
    """``rnnlab train``: a new run (EXPERIMENT) or a continued one (``--resume RUN_DIR``)."""
    from core.experiments import registry

    if args.steps is not None:
        _check_int("--steps", args.steps, 0, MAX_STEPS, "a non-negative integer")
    if args.checkpoint_every is not None:
        _check_int("--checkpoint-every", args.checkpoint_every, 0, MAX_STEPS, "a non-negative number of steps")
    if args.resume is not None:
        return _resume(args)
    if args.experiment is None:
        raise UsageError("train needs an EXPERIMENT (see 'rnnlab list'), or --resume RUN_DIR")
    seed = 0 if args.seed is None else _check_int("--seed", args.seed, 0, MAX_SEED, "a non-negative integer")
    cls = registry.get(args.experiment)
    preset_name = args.preset or cls.default_preset
    config = cls.preset_config(preset_name)
    user = parse_assignments(args.set or [])
    config.update(user)
    for p in cls.hyperparams:  # files/folders given relative to here: store absolute, so checkpoints load anywhere
        if p.type == "path" and isinstance(config.get(p.name), str) and config[p.name].strip():
            config[p.name] = os.path.abspath(os.path.expanduser(config[p.name].strip()))
    steps = cls.presets[preset_name].steps if args.steps is None else args.steps
    out = Path(args.out) if args.out else _default_out(cls.id)
    stage = _check_out(out, args.overwrite)
    experiment = _build(cls, config, seed, set(user))
    if stage.exists():  # an unfinished earlier attempt, replaced as --overwrite asked
        shutil.rmtree(stage)
    try:
        stage.mkdir(parents=True)
    except OSError as e:
        raise ConfigError(f"--out: cannot create the run folder ({_os_message(e, stage)})") from None
    run = {"experiment": cls.id, "preset": preset_name, "out": str(out.absolute()), "wall_time": 0.0}
    return _train(experiment, None, stage, out, steps, args, run, new=True)


def _resume(args: argparse.Namespace) -> int:
    """``rnnlab train --resume RUN_DIR [--steps TOTAL]``."""
    from core.checkpoint import build_from, experiment_class, read_checkpoint

    for flag, given in (("--preset", args.preset), ("--set", args.set), ("--out", args.out),
                        ("--overwrite", args.overwrite), ("--seed", args.seed is not None)):
        if given:
            raise UsageError(f"{flag} cannot be combined with --resume: a run continues with its own settings")
    stage = Path(args.resume)
    if not stage.is_dir():
        raise ConfigError(f"--resume: {str(stage)!r} is not a run folder (expected the folder train --out wrote)")
    if not (stage / "checkpoint.npz").exists():
        raise ConfigError(f"--resume: {str(stage)!r} has no checkpoint.npz to continue from")
    run: dict = {}
    if (stage / "run.json").is_file():
        try:
            run = json.loads((stage / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise ConfigError(f"--resume: {str(stage / 'run.json')!r} is unreadable ({_one_line(e)})") from None
        if not isinstance(run, dict):
            raise ConfigError(f"--resume: {str(stage / 'run.json')!r} is not a run description")
    ck = read_checkpoint(stage / "checkpoint.npz")
    cls = experiment_class(ck)
    if args.experiment is not None and args.experiment != cls.id:
        raise ConfigError(f"--resume: {str(stage)!r} is a {cls.id} run, not {args.experiment}")
    experiment, history = build_from(ck)  # checks the memory it needs first
    preset = run.get("preset") if run.get("preset") in cls.presets else cls.default_preset
    steps = args.steps if args.steps is not None else run.get("steps_requested", cls.presets[preset].steps)
    if not isinstance(steps, int) or steps < experiment.step:
        raise ConfigError(f"--steps: {steps} is fewer than the {experiment.step} steps the run in "
                          f"{str(stage)!r} has done (--steps is the total to reach)")
    out = Path(run["out"]) if isinstance(run.get("out"), str) else stage
    if stage.name.endswith(".partial") and out.name + ".partial" == stage.name and out.parent.resolve() == \
            stage.parent.resolve():
        pass  # a staged run: swapped into ``out`` when it completes
    else:
        out = stage  # a finished run folder continues in place
    run = {"experiment": cls.id, "preset": preset, "out": str(out.absolute()),
           "wall_time": float(run.get("wall_time", 0.0) or 0.0)}
    return _train(experiment, history, stage, out, steps, args, run, new=False)


def _train(experiment: Any, history: Any, stage: Path, out: Path, steps: int, args: argparse.Namespace,
           run: dict, new: bool) -> int:
    """Train ``experiment`` to ``steps`` total steps in ``stage``; swap it into ``out`` when it completes."""
    from tqdm import tqdm

    from core.checkpoint import save_checkpoint
    from core.experiments.common import TrainingDiverged
    from core.trainer import Trainer

    cls = type(experiment)
    ck_path, csv_path = stage / "checkpoint.npz", stage / "metrics.csv"
    trainer = Trainer(experiment, history=history)
    from core.run_events import CliEvents

    events = CliEvents.open(stage, ck_path, experiment.step)  # events.jsonl: checkpoints saved, divergence
    every = args.checkpoint_every
    auto = every is None
    if auto:
        every = AUTO_CHECKPOINT_STEPS
    start_wall = run.pop("wall_time")
    first_step = experiment.step
    t0 = time.perf_counter()

    def describe(status: str, error: str | None, final: dict) -> dict:
        return {"experiment": cls.id, "preset": run["preset"], "hyperparameters": experiment.config,
                "seed": experiment.seed, "steps": experiment.step, "steps_requested": steps,
                "wall_time": round(start_wall + time.perf_counter() - t0, 3), "final": final,
                "status": status, "error": error, "out": run["out"]}

    try:
        if new:  # step 0: checkpoint first (so --resume works from the start), then the evaluation row
            save_checkpoint(ck_path, experiment, trainer.history, replay=events.saved(experiment.step))
            log = MetricsCSV(csv_path)
        elif experiment.step == 0:
            log = MetricsCSV(csv_path)
        else:
            log = MetricsCSV.resume(csv_path, experiment.step)
        _write_json(stage / "run.json", describe("running", None, {}))
    except OSError as e:
        if new:
            shutil.rmtree(stage, ignore_errors=True)
        raise ConfigError(f"cannot write the run ({_os_message(e)})") from None
    except BaseException:
        if new:
            shutil.rmtree(stage, ignore_errors=True)
        raise

    status, error, code = "completed", None, 0
    bar = tqdm(total=steps, initial=experiment.step, file=sys.stderr, unit="step", dynamic_ncols=True,
               disable=args.no_progress, desc=cls.id, leave=True)
    last_postfix = time.monotonic()
    bar_shown = experiment.step  # the step the bar shows
    last_save = (experiment.step, time.monotonic())

    def checkpoint() -> None:
        nonlocal last_save
        log.sync()  # every row up to this step is on disk before the checkpoint that points there
        save_checkpoint(ck_path, experiment, trainer.history, replay=events.saved(experiment.step))
        _write_json(stage / "run.json", describe("running", None, {}))
        last_save = (experiment.step, time.monotonic())

    try:
        with _StopFlag() as stop:
            if experiment.step == 0:
                log.add(0, {trainer.eval_key(k): v for k, v in trainer.evaluate().items()})

            def progress(r: Any) -> None:
                nonlocal last_postfix, bar_shown
                log.add(r.step, r.row)
                now = time.monotonic()
                if r.step < steps and every and (r.step % every == 0 or
                                                 (auto and now - last_save[1] >= AUTO_CHECKPOINT_SECONDS)):
                    checkpoint()
                if now - last_postfix >= PROGRESS_SECONDS:  # the bar moves on a timer, not every step
                    last_postfix = now
                    bar.set_postfix(loss=f"{r.metrics.get('loss', float('nan')):.4g}", refresh=False)
                    bar.update(r.step - bar_shown)
                    bar_shown = r.step

            with np.errstate(all="ignore"):  # divergence is caught by the guarded update, not by warnings
                if not stop.requested:
                    trainer.run(steps - experiment.step, progress=progress, callback=lambda r: stop.requested)
            if stop.requested:
                status, error, code = "interrupted", "interrupted by the user", EXIT_INTERRUPTED
    except TrainingDiverged as e:
        status, error, code = "diverged", _one_line(e), EXIT_DIVERGED
        events.add("diverged", error, experiment.step + 1)
    except BaseException as e:  # a second Ctrl+C mid-step, or a failure: keep the last checkpoint as it is
        bar.close()
        log.close()
        if last_save[0] == 0 and new:
            shutil.rmtree(stage, ignore_errors=True)  # nothing trained yet: leave nothing behind
            raise
        reason = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        _write_json(stage / "run.json", {**describe(reason, _one_line(e) or reason, {}), "steps": last_save[0]})
        if not isinstance(e, KeyboardInterrupt):
            raise
        sys.stderr.write(f"{PROG}: interrupted mid-step: the last checkpoint (step {last_save[0]}) is in {stage} "
                         f"(continue with: {PROG} train --resume {stage})\n")
        return EXIT_INTERRUPTED
    finally:
        if trainer.last_metrics:
            bar.set_postfix(loss=f"{trainer.last_metrics.get('loss', float('nan')):.4g}", refresh=False)
        bar.update(experiment.step - bar_shown)
        bar.close()

    try:
        if status == "interrupted":  # stopped after a finished step: save it; no final row, so --resume continues it
            log.close()
            save_checkpoint(ck_path, experiment, trainer.history, replay=events.saved(experiment.step))
            with np.errstate(all="ignore"):
                final = {k: float(v) for k, v in experiment.evaluate().items()}
            _write_json(stage / "run.json", describe(status, error, final))
            sys.stderr.write(f"{PROG}: interrupted at step {experiment.step}: saved in {stage} "
                             f"(continue with: {PROG} train --resume {stage})\n")
            return code
        with np.errstate(all="ignore"):
            final = trainer.final_eval()
        log.add(experiment.step, {trainer.eval_key(k): v for k, v in final.items()})
        log.close()
        save_checkpoint(ck_path, experiment, trainer.history, replay=events.saved(experiment.step))
        _write_json(stage / "run.json", describe(status, error, final))
        where = stage
        if stage != out and (status == "completed" or not _holds_run(out)):
            try:
                _swap_in(stage, out)
            except OSError as e:
                raise ConfigError(f"the run is complete in {str(stage)!r} but could not be moved to {str(out)!r} "
                                  f"({_os_message(e)})") from None
            where = out
        wall = time.perf_counter() - t0
        if code:
            kept = "" if where == out else f"; the earlier run in {out} is untouched"
            sys.stderr.write(f"{PROG}: error: {error} (saved what was trained to {where}{kept})\n")
            return code
        summary = ", ".join(f"{k} {v:.4g}" for k, v in final.items())
        done = "" if new else f" ({experiment.step - first_step} since the resume)"
        sys.stdout.write(f"{cls.id}: {experiment.step} steps{done} in {wall:.1f} s; {summary}\nwrote {where}\n")
        return 0
    finally:
        log.close()  # idempotent: rows held in memory are written whatever happened above


def cmd_sample(args: argparse.Namespace) -> int:
    from core.checkpoint import load_checkpoint

    _check_int("--length", args.length, 1, MAX_SAMPLE_LENGTH, "a positive integer")
    _check_int("--seed", args.seed, 0, MAX_SEED, "a non-negative integer")
    if len(args.prime) > MAX_PRIME_CHARS:
        raise ConfigError(f"--prime: {len(args.prime):,} characters is too long (at most {MAX_PRIME_CHARS:,})")
    if len(args.temperature or ()) > MAX_TEMPERATURES:
        raise ConfigError(f"--temperature: {len(args.temperature)} values is too many (at most {MAX_TEMPERATURES})")
    for t in args.temperature or ():
        if not (math.isfinite(t) and t > 0):
            raise ConfigError(f"--temperature: expected a number > 0, got {t}")
    experiment, _ = load_checkpoint(args.checkpoint)
    if not experiment.is_language_model:
        raise ConfigError(f"{args.checkpoint!r} holds the {experiment.id!r} experiment, which is not a language model; "
                          f"sample works with char-lm and word-lm checkpoints")
    temps = args.temperature or [float(experiment.config.get("temperature", 1.0))]
    for t in temps:
        text = experiment.sample(args.prime, float(t), args.length, np.random.default_rng(args.seed))
        if len(temps) > 1:
            sys.stdout.write(f"--- temperature {t:g} ---\n")
        sys.stdout.write(text + "\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from core.checkpoint import load_checkpoint

    experiment, _ = load_checkpoint(args.checkpoint)
    metrics = experiment.evaluate()
    sys.stdout.write(f"{experiment.id} at step {experiment.step} (seed {experiment.seed})\n")
    for k, v in metrics.items():
        sys.stdout.write(f"{k:16s} {float(v):.6g}\n")
    return 0


# -- entry point ---------------------------------------------------------------


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand word of ``argv`` (its first argument not starting with '-'), or None."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``rnnlab`` parser. Given the ``argv`` it will parse, subcommands that are not used
    there may be registered without their arguments (``train`` does not import core.sweep)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show full tracebacks on errors")
    p = _Parser(prog=PROG, description="RNN Lab, headless: train, sample and evaluate small recurrent networks. "
                "Run without arguments for the GUI.", parents=[common],
                epilog="The GUI: 'rnnlab' alone, 'rnnlab gui' or 'rnnlab screenshot'. "
                       "Exit codes: 0 ok, 1 error, 2 bad command line, 3 training diverged, 130 interrupted.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser("list", parents=[common], help="list experiments and their presets")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("train", parents=[common], help="train an experiment headless")
    s.add_argument("experiment", metavar="EXPERIMENT", nargs="?",
                   help="experiment id (see 'rnnlab list'); not needed with --resume")
    s.add_argument("--preset", help="preset name (default: the experiment's default preset)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a hyperparameter (repeatable)")
    s.add_argument("--steps", type=int, help="training steps in all (default: the preset's length; "
                   "with --resume: the run's own)")
    s.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    s.add_argument("--out", help="output folder (default runs/<experiment>-<timestamp>); written as OUT.partial "
                   "while training, renamed to OUT when the run completes")
    s.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out when this one completes (the old one is kept as OUT.prev)")
    s.add_argument("--checkpoint-every", type=int, metavar="N", default=None,
                   help=f"save a checkpoint every N steps (0 = only at the end; default every "
                        f"{AUTO_CHECKPOINT_STEPS} steps or {AUTO_CHECKPOINT_SECONDS / 60:g} minutes, whichever first)")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its checkpoint "
                   "(with --steps: the total to reach)")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", parents=[common], help="generate text from a language-model checkpoint")
    s.add_argument("checkpoint", metavar="CHECKPOINT")
    s.add_argument("--prime", default="", help="text to start from")
    s.add_argument("--temperature", type=float, nargs="+", metavar="T",
                   help="one or more sampling temperatures (default: the model's)")
    s.add_argument("--length", type=int, default=200, help="characters/words to generate (default 200)")
    s.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("eval", parents=[common], help="print a checkpoint's evaluation metrics")
    s.add_argument("checkpoint", metavar="CHECKPOINT")
    s.set_defaults(func=cmd_eval)

    if argv is not None and _command(argv) not in (None, "sweep"):
        sub.add_parser("sweep", add_help=False)  # named among the choices; core.sweep is not imported
    else:
        from core.sweep import add_parser as add_sweep_parser  # rnnlab sweep: core.sweep.cmd_sweep

        add_sweep_parser(sub, common)

    s = sub.add_parser("analyze", parents=[common], help="why the network works: units, spectra, gradient flow, memory")
    s.add_argument("path", metavar="RUN_DIR_OR_CHECKPOINT")
    s.add_argument("--json", nargs="?", const="-", metavar="FILE", help="write JSON (to FILE, default stdout)")
    s.set_defaults(func=lambda a: __import__("core.analysis.report", fromlist=["cmd_analyze"]).cmd_analyze(a))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rnnlab`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    limit_blas_threads()
    parser = build_parser(argv)
    try:
        args = parser.parse_args(argv)
        debug = getattr(args, "debug", False) or debug
        return int(args.func(args) or 0)
    except UsageError as e:
        sys.stderr.write(f"{PROG}: error: {_one_line(e)}\n")
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else (0 if e.code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: error: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `rnnlab list | head`: the reader left; stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again
        return 0
    except (ValueError, OSError) as e:
        if debug:
            traceback.print_exc()
        msg = _os_message(e) if isinstance(e, OSError) else e
        sys.stderr.write(f"{PROG}: error: {_one_line(msg)}\n")
        return EXIT_ERROR
    except Exception as e:  # a bug: still one line, unless --debug
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"{PROG}: error: unexpected {type(e).__name__}: {_one_line(e)} "
                         f"(run again with --debug for the traceback)\n")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
