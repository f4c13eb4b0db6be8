"""rnnlab sweep: local worker processes (2 vs 1) and the cost of Ray.

Run explicitly (not collected by pytest)::

    python tests/benchmarks/bench_sweep.py                 # 5 rounds workers 2 vs 1, 3 rounds Ray vs local
    python tests/benchmarks/bench_sweep.py --rounds 7 --ray-rounds 3 --steps 300

The sweep is the issue's: binary-addition, --grid learning_rate=0.01,0.1 --grid hidden_size=8,16
--seeds 2 (8 trials), --steps 300. Every measurement is one whole ``core.sweep.run_sweep`` call
into a fresh folder (process pool or Ray start-up and shut-down included), as a user waits for it.

(a) ``--workers 2`` vs ``--workers 1``: paired rounds, interleaved A,B,B,A (A = 1 worker,
    B = 2 workers); a round's ratio is mean(A) / mean(B), the speed-up of 2 workers. Printed:
    median ratio with min and max over rounds, and the median wall times.
(b) Ray (a local instance, 2 CPUs) vs local processes (2 workers), interleaved A,B,B,A
    (A = local, B = Ray). Printed: the median extra wall time of a Ray sweep, the time of a bare
    ``ray.init`` + ``ray.shutdown`` (measured alone, same settings), and the overhead per trial
    once start-up is taken away: (Ray - local - start/stop) / 8.

Figures to read on a shared, noisy machine; never assertions.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

from core.runtime import limit_blas_threads  # noqa: E402
from core.sweep import plan_sweep, run_sweep  # noqa: E402

GRID = ["learning_rate=0.01,0.1", "hidden_size=8,16"]


def timed_sweep(plan, workers: int, ray: bool = False) -> float:
    folder = tempfile.mkdtemp(prefix="bench-sweep-")
    try:
        t0 = time.perf_counter()
        res = run_sweep(plan, folder, workers=workers, ray=True if ray else False, progress=False)
        dt = time.perf_counter() - t0
        assert res.ran == len(plan.trials) and all(r["status"] == "ok" for r in res.results.values())
        return dt
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ray_start_stop(cpus: int) -> float:
    from core.sweep import _RayExecutor

    t0 = time.perf_counter()
    ex = _RayExecutor(None, cpus)
    ex.close()
    return time.perf_counter() - t0


def abba(a, b, rounds: int) -> tuple[list[float], list[float], list[float]]:
    """Paired rounds A,B,B,A; returns the per-round ratios mean(A)/mean(B) and all A and B times."""
    ratios, ta, tb = [], [], []
    for r in range(rounds):
        a1 = a()
        b1 = b()
        b2 = b()
        a2 = a()
        ta += [a1, a2]
        tb += [b1, b2]
        ratios.append((a1 + a2) / (b1 + b2))
        print(f"  round {r + 1}: A {a1:.2f} s, {a2:.2f} s   B {b1:.2f} s, {b2:.2f} s   ratio A/B {ratios[-1]:.2f}",
              flush=True)
    return ratios, ta, tb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="ABBA rounds for workers 2 vs 1 (default 5)")
    ap.add_argument("--ray-rounds", type=int, default=3, help="ABBA rounds for Ray vs local (default 3; 0 = skip)")
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    limit_blas_threads(1)
    plan = plan_sweep("binary-addition", grid=GRID, seeds=2, steps=args.steps)
    n = len(plan.trials)
    print(f"binary-addition sweep: {n} trials of {args.steps} steps; cpus available: "
          f"{len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.2f}", flush=True)

    print(f"(a) workers 1 (A) vs workers 2 (B), {args.rounds} rounds A,B,B,A", flush=True)
    ratios, ta, tb = abba(lambda: timed_sweep(plan, 1), lambda: timed_sweep(plan, 2), args.rounds)
    print(f"  speed-up of --workers 2 over --workers 1: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}); median wall time 1 worker {statistics.median(ta):.2f} s, "
          f"2 workers {statistics.median(tb):.2f} s", flush=True)

    if args.ray_rounds:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("(b) skipped: Ray is not installed (pip install 'rnnlab[ray]')")
            return
        print(f"(b) local processes (A) vs a local Ray instance (B), 2 workers/CPUs, {args.ray_rounds} rounds "
              f"A,B,B,A", flush=True)
        ratios, ta, tb = abba(lambda: timed_sweep(plan, 2), lambda: timed_sweep(plan, 2, ray=True), args.ray_rounds)
        startstop = [ray_start_stop(2) for _ in range(3)]
        extra = statistics.median(b - a for a, b in zip(ta, tb))
        ss = statistics.median(startstop)
        slow = [1 / r for r in ratios]  # Ray's wall time over the local one's, per round
        print(f"  Ray sweep / local sweep: median {statistics.median(slow):.2f}x "
              f"(min {min(slow):.2f}, max {max(slow):.2f}); median extra wall time {extra:.2f} s "
              f"for {n} trials", flush=True)
        print(f"  bare local Ray start + stop: median {ss:.2f} s (min {min(startstop):.2f}, max {max(startstop):.2f})")
        print(f"  Ray overhead per trial, start/stop taken away: {(extra - ss) / n * 1000:.0f} ms "
              f"(all included: {extra / n * 1000:.0f} ms)", flush=True)


if __name__ == "__main__":
    main()
