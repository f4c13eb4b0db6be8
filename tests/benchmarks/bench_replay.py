"""Keyframe recording cost: headless steps/s with keyframes and snapshots on (the default schedule)
against off, paired and interleaved (A B B A ...), one BLAS thread.

    python tests/benchmarks/bench_replay.py [--rounds 6] [--seconds 3] [--only binary-addition]

Prints, per experiment, the median ratio (on / off) with min and max over the rounds, the keyframes
kept and their memory. Figures to read, not assertions.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

CASES = (("binary-addition", None), ("sine", None), ("char-lm", "lstm"))


def speed(experiment: str, preset: str | None, seconds: float, keyframes: bool) -> tuple[float, object]:
    from core.run import Play, Run, RunSpec

    run = Run(RunSpec.create(experiment, preset))
    if not keyframes:
        run.keyframes.due = lambda step: False
        run.snapshots.due = lambda step: False
    run.apply(Play())
    run.advance(0.2)  # warm-up
    n0, t0 = run.step, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        run.advance(0.05)
    return (run.step - n0) / (time.perf_counter() - t0), run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--only", default=None)
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_info

    from core.runtime import limit_blas_threads

    limit_blas_threads(1)
    import numpy as np

    np.ones((64, 64)) @ np.ones((64, 64))  # load the BLAS before asking which it is
    blas = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} threads={i.get('num_threads')}"
            for i in threadpool_info()]
    print("BLAS:", "; ".join(blas))
    for exp, preset in [c for c in CASES if args.only in (None, c[0])]:
        ratios, kept = [], None
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            res = {}
            for on in order:
                res[on], run = speed(exp, preset, args.seconds, on)
                if on:
                    kept = run
            ratios.append(res[True] / res[False])
            print(f"  {exp:<16} round {r + 1}: on {res[True]:8.1f} steps/s  off {res[False]:8.1f}  "
                  f"ratio {ratios[-1]:.3f}", flush=True)
        print(f"{exp:<16} keyframes on/off: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
              f"max {max(ratios):.3f}) over {len(ratios)} rounds; {len(kept.keyframes.steps())} keyframes, "
              f"{kept.keyframes.nbytes / 2**20:.1f} MiB; {len(kept.snapshots.steps())} snapshots", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
