"""Headless ``rnnlab`` commands (no Qt): list, train, sample, eval.

    rnnlab list
    rnnlab train EXPERIMENT [--preset NAME] [--set KEY=VALUE ...] [--steps N] [--seed S] [--out DIR]
    rnnlab sample CHECKPOINT [--prime TEXT] [--temperature T ...] [--length N] [--seed S]
    rnnlab eval CHECKPOINT

``main(argv) -> int`` returns the exit code: 0 ok, 1 bad input/data/checkpoint,
2 bad command line, 3 training diverged (NaN/inf), 130 interrupted. Errors end
with ONE line on stderr, ``rnnlab: error: ...``; ``--debug`` shows tracebacks.

``train`` writes into DIR (default ``runs/<experiment>-<timestamp>``):

* ``metrics.csv``: ``step`` then one column per metric (training metrics and
  evaluation metrics under their history names, see core.trainer); one row per
  training step, streamed while training (full resolution); row ``0`` holds the
  evaluation before training; empty cells where a metric was not recorded.
  No timings, so the same seed/preset/steps give a byte-identical file.
* ``checkpoint.npz``: see core.checkpoint (written also when training diverges
  or is interrupted: the last good state).
* ``run.json``: experiment, preset, hyperparameters, seed, steps, wall_time
  (seconds), final (evaluate() metrics), status ("completed", "diverged",
  "interrupted") and error (message or null).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence, TextIO

import numpy as np

from core.config import ConfigError, parse_assignments
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


class MetricsCSV:
    """Streams full-resolution metric rows to a CSV file.

    Columns are ``step`` then metric names: those of the first row with step > 0
    (the training metrics) first, then the others in order of first appearance.
    The header is written once two rows are known (row 0, the evaluation before
    training, and row 1). A row is held back until the next one starts, so late
    values for the same step (a final evaluation) are merged in. If a new metric
    name appears after the header was written, the file is rewritten once with
    the wider header.
    """

    def __init__(self, path: Path):
        self.path = path
        self.columns: list[str] = []
        self._f: TextIO = open(path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._f, lineterminator="\n")
        self._header_written = False
        self._rows: list[tuple[int, dict[str, float]]] = []  # not yet written; the last one may still grow

    def add(self, step: int, values: dict[str, float]) -> None:
        if self._rows and self._rows[-1][0] == step:
            self._rows[-1][1].update(values)
            return
        self._rows.append((step, dict(values)))
        if len(self._rows) > 2 or (self._header_written and len(self._rows) > 1):
            self._flush(keep_last=True)

    def _flush(self, keep_last: bool) -> None:
        rows = self._rows[:-1] if keep_last else self._rows
        self._rows = self._rows[-1:] if keep_last else []
        if not rows:
            return
        if not self._header_written:
            known = rows + self._rows
            order = [v for s, v in known if s > 0] + [v for s, v in known if s <= 0]
            for v in order:
                self.columns += [k for k in v if k not in self.columns]
            self._writer.writerow(["step"] + self.columns)
            self._header_written = True
        for step, values in rows:
            new = [k for k in values if k not in self.columns]
            if new:
                self.columns += new
                self._rewrite()
            self._writer.writerow([step] + [_fmt_value(values[c]) if c in values else "" for c in self.columns])

    def _rewrite(self) -> None:
        """Rewrite the file with the current (wider) header; old rows get empty new cells."""
        self._f.close()
        with open(self.path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        self._f = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._f, lineterminator="\n")
        self._writer.writerow(["step"] + self.columns)
        width = len(self.columns) + 1
        for r in rows:
            self._writer.writerow(r + [""] * (width - len(r)))

    def close(self) -> None:
        self._flush(keep_last=False)
        if not self._header_written:
            self._writer.writerow(["step"] + self.columns)
            self._header_written = True
        self._f.close()


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


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.checkpoint import save_checkpoint
    from core.experiments import registry
    from core.experiments.common import TrainingDiverged
    from core.trainer import Trainer

    cls = registry.get(args.experiment)
    preset_name = args.preset or cls.default_preset
    config = cls.preset_config(preset_name)
    config.update(parse_assignments(args.set or []))
    for p in cls.hyperparams:  # files/folders given relative to here: store absolute, so checkpoints load anywhere
        if p.type == "path" and isinstance(config.get(p.name), str) and config[p.name].strip():
            config[p.name] = os.path.abspath(os.path.expanduser(config[p.name].strip()))
    steps = cls.presets[preset_name].steps if args.steps is None else args.steps
    if steps < 0:
        raise ConfigError(f"--steps: expected a non-negative integer, got {steps}")
    experiment = cls(config, seed=args.seed)  # validates every value
    out = Path(args.out) if args.out else _default_out(cls.id)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {str(out)!r} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)

    trainer = Trainer(experiment)
    log = MetricsCSV(out / "metrics.csv")
    status, error, code = "completed", None, 0
    bar = tqdm(total=steps, file=sys.stderr, unit="step", dynamic_ncols=True, disable=args.no_progress,
               desc=cls.id, leave=True)
    t0 = time.perf_counter()
    last_postfix = 0.0
    try:
        if experiment.step == 0:
            log.add(0, {trainer.eval_key(k): v for k, v in trainer.evaluate().items()})

        def progress(r) -> None:
            nonlocal last_postfix
            log.add(r.step, r.row)
            bar.update(1)
            now = time.perf_counter()
            if now - last_postfix > 0.25:
                last_postfix = now
                bar.set_postfix(loss=f"{r.metrics.get('loss', float('nan')):.4g}", refresh=False)

        with np.errstate(all="ignore"):  # divergence is caught by the guarded update, not by warnings
            trainer.run(steps, progress=progress)
    except TrainingDiverged as e:
        status, error, code = "diverged", _one_line(e), EXIT_DIVERGED
    except KeyboardInterrupt:
        status, error, code = "interrupted", "interrupted by the user", EXIT_INTERRUPTED
    finally:
        wall = time.perf_counter() - t0
        if trainer.last_metrics:
            bar.set_postfix(loss=f"{trainer.last_metrics.get('loss', float('nan')):.4g}", refresh=False)
        bar.close()
    with np.errstate(all="ignore"):
        final = trainer.final_eval()
    log.add(experiment.step, {trainer.eval_key(k): v for k, v in final.items()})
    log.close()
    save_checkpoint(out / "checkpoint.npz", experiment, trainer.history)
    run = {
        "experiment": cls.id,
        "preset": preset_name,
        "hyperparameters": experiment.config,
        "seed": experiment.seed,
        "steps": experiment.step,
        "steps_requested": steps,
        "wall_time": round(wall, 3),
        "final": final,
        "status": status,
        "error": error,
    }
    (out / "run.json").write_text(json.dumps(_json_safe(run), indent=2) + "\n", encoding="utf-8")
    if code:
        sys.stderr.write(f"{PROG}: error: {error} (saved what was trained to {out})\n")
        return code
    summary = ", ".join(f"{k} {v:.4g}" for k, v in final.items())
    sys.stdout.write(f"{cls.id}: {experiment.step} steps in {wall:.1f} s; {summary}\nwrote {out}\n")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from core.checkpoint import load_checkpoint

    if args.length < 1:
        raise ConfigError(f"--length: expected a positive integer, got {args.length}")
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


def build_parser() -> argparse.ArgumentParser:
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
    s.add_argument("experiment", metavar="EXPERIMENT", help="experiment id (see 'rnnlab list')")
    s.add_argument("--preset", help="preset name (default: the experiment's default preset)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override a hyperparameter (repeatable)")
    s.add_argument("--steps", type=int, help="training steps (default: the preset's length)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    s.add_argument("--out", help="output folder (default runs/<experiment>-<timestamp>)")
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
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rnnlab`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    limit_blas_threads()
    parser = build_parser()
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
        sys.stderr.write(f"{PROG}: error: {_one_line(e)}\n")
        return EXIT_ERROR
    except Exception as e:  # a bug: still one line, unless --debug
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"{PROG}: error: unexpected {type(e).__name__}: {_one_line(e)} "
                         f"(run again with --debug for the traceback)\n")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
