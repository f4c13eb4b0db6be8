"""Steps and wall time to each experiment's target, for every preset.

Run explicitly (not collected by pytest)::

    python tests/benchmarks/bench_experiments.py                 # every experiment, every preset
    python tests/benchmarks/bench_experiments.py --only iris --only sine
    python tests/benchmarks/bench_experiments.py --quick         # at most 300 steps per preset
    python tests/benchmarks/bench_experiments.py --max-seconds 60  # stop each preset after 60 s
    python tests/benchmarks/bench_experiments.py --only sine --repeat 5  # 5 runs per preset: median (min-max)
    python tests/benchmarks/bench_experiments.py --full-check 7  # binary-addition's full check: plain batch
                                                                 # vs prefix tree, 7 paired A B B A rounds
    python tests/benchmarks/bench_experiments.py --trask 7       # rnnlab train --preset trask vs the tutorial,
                                                                 # 7 paired whole-process rounds

For each preset the Trainer runs the preset's whole step budget (``--stop-at-target``:
until the target is reached, checked at evaluation points), then the final full
evaluation. 'eval %' is the share of that run's CPU time (``time.process_time``: the
process's own CPU seconds, so other processes on a shared machine do not inflate it; BLAS
runs on one thread) spent evaluating (the scheduled evaluations plus the final full one;
target <= 10%); 'wall %' is the same share of wall time. Prints one table
row per preset: steps and wall time to the target ("-" if not reached), the
final evaluation metrics, and any baselines the experiment reports in
``evaluate()`` (metric names containing "bigram", "unigram" or "baseline").
'time' is wall time to the target including evaluation; 'train' excludes the
time spent evaluating. Each preset is judged by its own target (Preset.target,
else the experiment's). With ``--repeat N`` every preset runs N times (same seed, so the
same steps and evaluations) and the table gives the eval share's median (min-max).
Timings are figures to read, never assertions.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import numpy as np  # noqa: E402

from core.runtime import limit_blas_threads  # noqa: E402

from core.experiments import registry  # noqa: E402
from core.experiments.common import TrainingDiverged  # noqa: E402
from core.trainer import Trainer  # noqa: E402

BASELINE_WORDS = ("bigram", "unigram", "baseline")


def bench_preset(cls, preset: str, steps: int, seed: int, max_seconds: float | None = None,
                 stop_at_target: bool = False) -> dict:
    """Train one preset; returns a dict of figures for the table."""
    t0 = time.perf_counter()
    exp = cls(cls.preset_config(preset), seed=seed)
    build = time.perf_counter() - t0
    trainer = Trainer(exp)
    target = cls.target_for(preset)
    eval_time = [0.0]
    eval_cpu = [0.0]
    n_evals = [0]

    depth = [0]

    def timed(fn):
        def timed_evaluate(*a, **k):  # evaluation is not training: time it separately
            depth[0] += 1
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                depth[0] -= 1
                if depth[0] == 0:  # a scheduled evaluation that escalates to the full one counts once
                    eval_time[0] += time.perf_counter() - t
                    eval_cpu[0] += time.process_time() - c
                    n_evals[0] += 1
        return timed_evaluate

    exp.evaluate = timed(exp.evaluate)
    if hasattr(exp, "evaluate_scheduled"):  # the cheaper evaluation the training schedule runs
        exp.evaluate_scheduled = timed(exp.evaluate_scheduled)
    hit: dict = {}

    def reached(r) -> bool:
        nonlocal status
        if not hit and r.eval is not None and target is not None and target.reached(r.eval):
            now = time.perf_counter()
            hit.update(step=r.step, time=now - t_train, train_time=now - t_train - eval_time[0])
            if stop_at_target:
                return True
        if max_seconds is not None and time.perf_counter() - t_train > max_seconds:
            status = f"stopped after {max_seconds:g} s"
            return True
        return False

    status = "ok"
    t_train = time.perf_counter()
    c_train = time.process_time()
    try:
        with np.errstate(all="ignore"):
            trainer.run(steps, callback=reached)
    except TrainingDiverged as e:
        status = f"diverged at step {e.step}"
    wall = time.perf_counter() - t_train
    t_final = time.perf_counter()
    with np.errstate(all="ignore"):
        final = trainer.final_eval()
    final_s = time.perf_counter() - t_final  # also counted in eval_s
    total = wall + final_s
    total_cpu = time.process_time() - c_train
    if not hit and target is not None and target.reached(final):  # reached on the final (full) evaluation
        hit.update(step=exp.step, time=total, train_time=total - eval_time[0])
    return {"experiment": cls.id, "preset": preset, "budget": steps, "steps": exp.step, "build_s": build,
            "eval_s": eval_time[0], "eval_cpu_s": eval_cpu[0], "cpu_s": total_cpu,
            "eval_share": eval_cpu[0] / total_cpu if total_cpu > 0 else float("nan"),
            "eval_wall_share": eval_time[0] / total if total > 0 else float("nan"),
            "n_evals": n_evals[0], "final_s": final_s,
            "wall_s": wall, "steps_per_s": exp.step / wall if wall > 0 else float("nan"),
            "target": "-" if target is None else f"{target.metric} {'>=' if target.mode == 'max' else '<='} {target.value:g}",
            "hit_step": hit.get("step"), "hit_time": hit.get("time"), "hit_train_time": hit.get("train_time"), "final": final, "status": status}


BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def blas_description() -> str:
    """The BLAS NumPy uses here, as threadpoolctl sees it under BLAS_ENV (in a child process, so the
    figure is what the timed processes get): library, kernel (architecture), version, threads."""
    import json
    import subprocess

    code = ("import json, numpy; from threadpoolctl import threadpool_info; "
            "print(json.dumps([i for i in threadpool_info() if i.get('user_api') == 'blas']))")
    try:
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **BLAS_ENV}, check=True,
                             capture_output=True, text=True).stdout
        info = json.loads(out)
    except Exception as e:  # threadpoolctl missing or broken: say so, still time
        return f"unknown ({type(e).__name__}: {e})"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')}, "
                     f"{i.get('num_threads')} thread(s)" for i in info) or "none found"


def bench_trask(rounds: int, iterations: int = 10_000) -> None:
    """End to end, as whole processes, paired and interleaved (A B, B A, A B, ...):
    ``rnnlab train binary-addition --preset trask`` (A, ours) against the iamtrask tutorial's own
    loop (trask_tutorial.py, B), ``iterations`` each, both with one BLAS thread (BLAS_ENV), output
    discarded. Prints every round's wall and CPU seconds and the ratio tutorial/ours (the speed-up;
    > 1: ours is faster), then its median with min and max. The target is a median wall speed-up
    >= 1.5. Wall time includes Python's start-up, imports, evaluations and writing the run folder."""
    import resource
    import statistics
    import subprocess
    import tempfile

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    out = os.path.join(tempfile.mkdtemp(prefix="bench_trask_"), "run")
    cmds = {"A": [sys.executable, "-m", "core.cli", "train", "binary-addition", "--preset", "trask",
                  "--steps", str(iterations), "--out", out, "--overwrite"],
            "B": [sys.executable, os.path.join(here, "trask_tutorial.py"), str(iterations)]}
    env = {**os.environ, **BLAS_ENV}
    print(f"trask: {iterations:,} iterations; threads: {', '.join(f'{k}={v}' for k, v in BLAS_ENV.items())}; "
          f"BLAS: {blas_description()}; cores: {os.cpu_count()}", flush=True)
    print(f"  A (ours):     {' '.join(cmds['A'][1:])}\n  B (tutorial): {' '.join(cmds['B'][1:])}", flush=True)

    def once(k: str) -> tuple[float, float]:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmds[k], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)

    once("A"), once("B")  # warm-up (file cache, .pyc), not counted
    walls, cpus = [], []
    for i in range(rounds):
        order = "AB" if i % 2 == 0 else "BA"
        got = {k: once(k) for k in order}
        walls.append(got["B"][0] / got["A"][0])
        cpus.append(got["B"][1] / got["A"][1])
        print(f"round {i + 1} ({order[0]} first): ours {got['A'][0]:.3f} s wall / {got['A'][1]:.3f} s cpu, "
              f"tutorial {got['B'][0]:.3f} s / {got['B'][1]:.3f} s: speed-up wall {walls[-1]:.2f}x, "
              f"cpu {cpus[-1]:.2f}x", flush=True)
    for name, r in (("wall", walls), ("cpu", cpus)):
        print(f"trask end to end, speed-up tutorial/ours ({name}): median {statistics.median(r):.2f}x "
              f"(min {min(r):.2f}x, max {max(r):.2f}x), {rounds} paired rounds; target >= 1.5x", flush=True)


def bench_full_check(rounds: int) -> None:
    """binary-addition's full check (all 16,384 pairs of 8 bits), two ways, in this process with one
    BLAS thread: A = the plain batch (``_evaluate_on``: every pair's 8 states), B = the prefix tree
    (``evaluate()``: each shared low-bit prefix's state once). Rounds alternate A B / B A; each
    timing is the CPU time of a block of calls (process_time). Prints every round, then the
    ratio A/B (the speed-up) as median (min, max). The metrics of both are compared once."""
    import statistics

    from core.experiments.binary_addition import BinaryAddition
    from core.trainer import Trainer as _Trainer

    exp = BinaryAddition(seed=0)
    _Trainer(exp, eval_every=0).run(200)  # a trained model (its outputs far from 0.5)
    fns = {"A": lambda: exp._evaluate_on(exp.eval_x, exp.eval_y, exp._eval_carry), "B": exp.evaluate}
    a, b = fns["A"](), fns["B"]()
    print(f"full check at step {exp.step}: plain {a}\n                        tree  {b}", flush=True)
    tree = exp._eval_tree
    print(f"states: plain {exp.bits * tree.n_pairs:,}, tree {tree.n_nodes:,} "
          f"({exp.bits * tree.n_pairs / tree.n_nodes:.2f}x fewer)", flush=True)

    def block(k: str, n: int = 20) -> float:
        c = time.process_time()
        for _ in range(n):
            fns[k]()
        return (time.process_time() - c) / n

    block("A", 3), block("B", 3)  # warm-up
    ratios = []
    for i in range(rounds):
        order = "AB" if i % 2 == 0 else "BA"
        got = {k: block(k) for k in order}
        ratios.append(got["A"] / got["B"])
        print(f"round {i + 1} ({order[0]} first): plain {1e3 * got['A']:.2f} ms, tree {1e3 * got['B']:.2f} ms "
              f"cpu per check: {ratios[-1]:.2f}x", flush=True)
    print(f"full check, speed-up plain/tree (cpu): median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x), {rounds} paired rounds", flush=True)


def _fmt_metrics(m: dict, baselines: bool) -> str:
    keys = [k for k in m if any(w in k for w in BASELINE_WORDS) == baselines]
    return ", ".join(f"{k}={m[k]:.4g}" for k in keys) or "-"


def _spread(values: list[float], scale: float = 100.0) -> str:
    """'median' or 'median (min-max)' of ``values`` times ``scale``."""
    import statistics

    v = [scale * x for x in values]
    if len(v) == 1:
        return f"{v[0]:.1f}"
    return f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", metavar="EXP", help="experiment id (repeatable)")
    ap.add_argument("--quick", action="store_true", help="cap every preset at 300 steps")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, help="stop a preset after this much training time")
    ap.add_argument("--stop-at-target", action="store_true",
                    help="stop a preset when its target is reached (default: train the whole budget, so the "
                         "eval share is the share of a whole run)")
    ap.add_argument("--repeat", type=int, default=1, metavar="N",
                    help="run every preset N times; the table shows the eval share's median (min-max)")
    ap.add_argument("--preset", action="append", metavar="NAME", help="only these presets (repeatable)")
    ap.add_argument("--trask", type=int, metavar="ROUNDS", nargs="?", const=7,
                    help="only the end-to-end pairing of --preset trask with the tutorial's loop (default 7 rounds)")
    ap.add_argument("--iterations", type=int, default=10_000, help="--trask: iterations of each (default 10,000)")
    ap.add_argument("--full-check", type=int, metavar="ROUNDS", nargs="?", const=7,
                    help="only binary-addition's full check, plain batch vs prefix tree (default 7 rounds)")
    args = ap.parse_args(argv)
    if args.trask:
        bench_trask(max(args.trask, 1), args.iterations)
        return 0
    if args.full_check:
        limit_blas_threads(1)
        bench_full_check(max(args.full_check, 1))
        return 0
    ids = args.only or registry.ids()
    unknown = [i for i in ids if i not in registry.ids()]
    if unknown:
        ap.error(f"unknown experiment(s) {', '.join(unknown)}; accepted: {', '.join(registry.ids())}")

    limit_blas_threads(1)
    rows = []
    for exp_id in ids:
        try:
            cls = registry.get(exp_id)
        except Exception as e:  # not written yet / broken: say so and go on
            print(f"{exp_id}: unavailable ({type(e).__name__}: {e})", flush=True)
            continue
        for preset, p in cls.presets.items():
            if args.preset and preset not in args.preset:
                continue
            steps = min(p.steps, 300) if args.quick else p.steps
            runs = []
            for _ in range(max(args.repeat, 1)):
                try:
                    r = bench_preset(cls, preset, steps, args.seed, args.max_seconds, args.stop_at_target)
                except ValueError as e:  # e.g. a preset needing data that is not on this machine
                    print(f"{exp_id}/{preset}: skipped ({e})", flush=True)
                    break
                except Exception as e:  # a bug in an experiment: report it, bench the others
                    print(f"{exp_id}/{preset}: FAILED ({type(e).__name__}: {e})", flush=True)
                    break
                runs.append(r)
                hit = "-" if r["hit_step"] is None else f"{r['hit_step']} steps / {r['hit_time']:.1f} s"
                print(f"{exp_id}/{preset}: {r['steps']}/{r['budget']} steps in {r['wall_s']:.1f} s "
                      f"({r['steps_per_s']:.0f} steps/s); eval {r['eval_cpu_s']:.3f} s cpu in {r['n_evals']} "
                      f"evaluations = {100 * r['eval_share']:.1f}% of the run's cpu "
                      f"({100 * r['eval_wall_share']:.1f}% of its wall; final full evaluation "
                      f"{1e3 * r['final_s']:.0f} ms); target {r['target']}: {hit}; {r['status']}", flush=True)
            if runs:
                r = dict(runs[len(runs) // 2])
                r["share_txt"] = _spread([x["eval_share"] for x in runs])
                r["wall_txt"] = _spread([x["eval_wall_share"] for x in runs])
                rows.append(r)

    print()
    head = f"{'experiment':16s} {'preset':13s} {'target':22s} {'to target':>10s} {'time':>8s} {'train':>7s} " \
           f"{'steps':>7s} {'steps/s':>8s} {'evals':>6s} {'eval % cpu':>17s} {'wall %':>17s}  final metrics | baselines"
    print(head)
    print("-" * len(head))
    for r in rows:
        to = "-" if r["hit_step"] is None else str(r["hit_step"])
        tt = "-" if r["hit_time"] is None else f"{r['hit_time']:.2f}s"
        tr = "-" if r["hit_train_time"] is None else f"{r['hit_train_time']:.2f}s"
        note = "" if r["status"] == "ok" else f" [{r['status']}]"
        print(f"{r['experiment']:16s} {r['preset']:13s} {r['target']:22s} {to:>10s} {tt:>8s} {tr:>7s} "
              f"{r['steps']:>7d} {r['steps_per_s']:>8.0f} {r['n_evals']:>6d} {r['share_txt']:>17s} "
              f"{r['wall_txt']:>17s}  {_fmt_metrics(r['final'], False)} | "
              f"{_fmt_metrics(r['final'], True)}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
