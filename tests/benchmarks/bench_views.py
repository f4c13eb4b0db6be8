"""The live view's cost: ``views()`` (text samples) and ``probe()`` of each text experiment preset,
the current code against the code it replaced, paired and interleaved in one process (same model).

    python tests/benchmarks/bench_views.py [--rounds 9] [--steps 300] [--only char-lm:lstm]
    python tests/benchmarks/bench_views.py --check-base /tmp/vw-base   # also: same views as an old tree

Per preset: train ``--steps`` steps (seed 0), then ``--rounds`` rounds of old and new, in A B / B A
order by turn. "old" views() samples through ``_sample_rows_reference`` (the general forward, one
call per step: the implementation before the stepper, kept as the fallback); "old" probe() finds its
window and labels again (the cache cleared before each call, as every call did before). Each round
first checks that old and new return equal views. Times are the calling thread's CPU time
(``time.thread_time``: other processes on the shared machine do not count), one BLAS thread (set
and printed). Prints median (min-max) in ms, and the per-round ratio new / old. ``--check-base DIR``
runs DIR's code (e.g. a ``git worktree`` of the commit before) in a subprocess on the same preset,
seed and steps and compares its views() with this tree's. Figures to read, not assertions.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = ("char-lm:lstm", "char-lm:min-char-rnn", "word-lm:default", "word-lm:ptb-small")


def build(case: str, steps: int):
    from core.experiments import registry
    eid, preset = case.split(":")
    cls = registry.get(eid)
    exp = cls(cls.preset_config(preset), seed=0)
    for _ in range(steps):
        exp.train_step()
    return exp


def old_views(exp):
    exp._sample_rows = exp._sample_rows_reference  # an instance attribute: views() calls the old loop
    try:
        return exp.views()
    finally:
        del exp._sample_rows


def old_probe(exp):
    exp._probe_cache = None
    return exp.probe()


def timed(fn, exp):
    t = time.thread_time()
    out = fn(exp)
    return time.thread_time() - t, out


def fmt(xs: list[float], scale: float = 1e3) -> str:
    return f"{statistics.median(xs) * scale:7.2f} ({min(xs) * scale:.2f}-{max(xs) * scale:.2f})"


def views_text(case: str, steps: int) -> str:
    """This tree's views() of ``case`` after ``steps`` steps, as text (for --check-base)."""
    return repr(build(case, steps).views())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--steps", type=int, default=300, help="training steps before measuring")
    p.add_argument("--only", action="append", help="experiment:preset (repeatable)")
    p.add_argument("--check-base", metavar="DIR", help="compare views() with the code in DIR (a worktree)")
    p.add_argument("--views-text", metavar="CASE", help=argparse.SUPPRESS)  # the subprocess of --check-base
    a = p.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    import numpy  # noqa: F401  (loaded first, so that threadpoolctl finds its BLAS to limit)
    from core.runtime import blas_threads, limit_blas_threads
    limit_blas_threads(1)
    if a.views_text:
        print(json.dumps(views_text(a.views_text, a.steps)))
        return 0
    from threadpoolctl import threadpool_info
    pools = ", ".join(f"{i.get('internal_api')} {i.get('num_threads')}" for i in threadpool_info())
    print(f"BLAS threads: {blas_threads()} (threadpoolctl: {pools}); {a.rounds} rounds, {a.steps} steps; "
          f"thread CPU ms, median (min-max)")
    for case in a.only or CASES:
        exp = build(case, a.steps)
        if a.check_base:
            out = subprocess.run([sys.executable, str(Path(a.check_base) / "tests/benchmarks/bench_views.py"),
                                  "--views-text", case, "--steps", str(a.steps)],
                                 capture_output=True, text=True, cwd=a.check_base)
            if out.returncode:  # the base tree has no bench_views.py: import its code with ours
                code = (f"import sys, json; sys.path[:0] = [{a.check_base!r}, {str(ROOT / 'tests/benchmarks')!r}]; "
                        f"import bench_views as b; from core.runtime import limit_blas_threads as l; l(1); "
                        f"print(json.dumps(b.views_text({case!r}, {a.steps})))")
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     cwd=a.check_base)
            base = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else out.stderr[-500:]
            same = base == repr(exp.views())
            print(f"{case}: views() the same as {a.check_base}'s: {same}")
        tv = {"old": [], "new": []}
        tp = {"old": [], "new": []}
        for r in range(a.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            res = {}
            for k in order:
                dt, res[k] = timed(old_views if k == "old" else type(exp).views, exp)
                tv[k].append(dt)
            assert res["old"] == res["new"], f"{case}: views differ"
            for k in order:
                dt, res[k] = timed(old_probe if k == "old" else type(exp).probe, exp)
                tp[k].append(dt)
            assert repr(res["old"]) == repr(res["new"]), f"{case}: probes differ"
        rv = [n / o for n, o in zip(tv["new"], tv["old"])]
        rp = [n / o for n, o in zip(tp["new"], tp["old"])]
        print(f"{case:22s} views old {fmt(tv['old'])}  new {fmt(tv['new'])}  new/old {fmt(rv, 1)}")
        print(f"{'':22s} probe old {fmt(tp['old'])}  new {fmt(tp['new'])}  new/old {fmt(rp, 1)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
