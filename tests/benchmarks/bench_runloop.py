"""Worker efficiency: training steps per CPU-second of the training thread when the GUI's run loop
drives it, over a bare ``Trainer.step()`` loop (issue 14). Qt-free; figures to read, not assertions.

    python tests/benchmarks/bench_runloop.py [--rounds 6] [--only char-lm] [--steps N] [--warm N]

Per case, one model is first trained ``--warm`` steps (bare, unmeasured) so that the measured stretch is
the steady state (keyframes every 100+ steps, snapshots every 500, the thinned evaluation schedule), not
the dense start. Each round copies it exactly (core.runs.clone_experiment) twice and trains both copies
``--steps`` further steps, the same steps on the same data:

* A: ``Trainer.step()`` in a bare loop;
* B: a ``core.runs.RunSet`` driven like ``visualizer.worker``: ``advance(0.015)`` (less when a frame is due
  sooner), then a frame when
  ``visualizer.pacing.FramePacer`` (Qt-free) says so, with the probe/views it asks for (no GUI here, so
  its drawing costs are 0 and frames come at the fastest rates the pacer allows: the worker's worst case).

The machine is shared and noisy, so A and B take turns in blocks of ~0.25 s of training (A B, B A, ...)
within each round, and B's clocks skip A's blocks (its frame rates per training second stay the
worker's). Ratio of a round: (B steps per thread-CPU-second) / (A steps per thread-CPU-second), the share
of the training thread's CPU that goes to training. One BLAS thread. Prints the median ratio with min and
max, then a breakdown from one extra instrumented B run (time.thread_time around the training steps,
Run._record and frames; those clock reads cost a little themselves).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# experiment, preset, warm-up steps, measured steps (~3-4 s of training each), steps per block (~0.25 s)
CASES = (("binary-addition", None, 3000, 16000, 1000), ("char-lm", "lstm", 1000, 320, 20))
CHUNK_SECONDS = 0.015  # visualizer.worker.CHUNK_SECONDS (not imported: that module needs Qt)


def warmed(spec, steps: int):
    """(experiment, history) after ``steps`` bare training steps."""
    from core.trainer import Trainer

    exp = spec.build()
    trainer = Trainer(exp)
    for _ in range(steps):
        trainer.step()
    return exp, trainer.history


def copy_of(spec, exp, history):
    from core.history import MetricHistory
    from core.runs import clone_experiment

    return clone_experiment(exp, spec), MetricHistory.from_arrays(history.to_arrays())


class Bare:
    """A: a bare Trainer loop on a copy of the model."""

    def __init__(self, spec, exp, history):
        from core.trainer import Trainer

        exp, history = copy_of(spec, exp, history)
        self.trainer = Trainer(exp, history=history)
        self.cpu = 0.0
        self.steps = 0

    @property
    def step(self) -> int:
        return self.trainer.experiment.step

    def train_to(self, target: int) -> None:
        c0 = time.thread_time()
        while self.trainer.experiment.step < target:
            self.trainer.step()
            self.steps += 1
        self.cpu += time.thread_time() - c0


class Driven:
    """B: a RunSet on a copy of the model, driven like visualizer.worker (advance, then a frame when the
    pacer says so). Its clocks (the Run's, the pacer's) skip the time spent in other blocks, so that its
    frame rates per training second are the worker's. ``parts``: thread CPU per part is added to it."""

    def __init__(self, spec, exp, history, parts: dict | None = None):
        from core.run import Play, Run
        from core.runs import RunSet
        from visualizer.pacing import FramePacer

        self.away = 0.0  # wall seconds spent outside train_to (the other copy's blocks)
        self._left = None
        exp, history = copy_of(spec, exp, history)
        self.runs = RunSet(spec, clock=self.clock)
        self.runs.runs[self.runs.selected] = self.run = Run(spec, experiment=exp, history=history, clock=self.clock)
        self.parts = parts
        if parts is not None:
            _instrument(self.run, parts)
        self.pacer = FramePacer()
        self.runs.apply(Play())
        self.cpu = 0.0
        self.steps = 0

    def clock(self) -> float:
        return time.perf_counter() - self.away

    @property
    def step(self) -> int:
        return self.run.step

    def train_to(self, target: int) -> None:
        if self._left is not None:
            self.away += time.perf_counter() - self._left
        runs, run, pacer, parts = self.runs, self.run, self.pacer, self.parts
        n0 = run.step
        c0 = time.thread_time()
        while run.step < target:
            runs.wait_time()
            runs.advance(min(CHUNK_SECONDS, max(pacer.due_in(self.clock(), run.cap_binding), 0.0)))
            now = self.clock()
            d = pacer.decide(now, training=runs.training, new_points=runs.has_new_points(), step=run.step,
                             cap_binding=run.cap_binding, forced=runs.wants("probe") or runs.wants("views"))
            if d.emit:
                f0 = time.thread_time() if parts is not None else 0.0
                runs.frame(probe=d.probe, views=d.views)
                if parts is not None:
                    parts["frames"] = parts.get("frames", 0.0) + time.thread_time() - f0
                pacer.sent(now, step=run.step, probe_seconds=runs.probe_seconds, views_seconds=runs.views_seconds)
        cpu = time.thread_time() - c0
        self.cpu += cpu
        self.steps += run.step - n0
        if parts is not None:
            parts["total"] = parts.get("total", 0.0) + cpu
        self._left = time.perf_counter()


def _instrument(run, parts: dict) -> None:
    """Thread CPU of the training steps and of Run._record (watchdog, keyframes, snapshots) into ``parts``."""
    step, record = run.trainer.step, run._record

    def timed_step():
        t = time.thread_time()
        try:
            return step()
        finally:
            parts["steps"] = parts.get("steps", 0.0) + time.thread_time() - t

    def timed_record(result):
        t = time.thread_time()
        try:
            return record(result)
        finally:
            parts["record"] = parts.get("record", 0.0) + time.thread_time() - t

    run.trainer.step, run._record = timed_step, timed_record


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--only", default=None, help="one experiment id")
    p.add_argument("--steps", type=int, default=None, help="measured steps per round (default: per case)")
    p.add_argument("--block", type=int, default=None, help="steps per turn (default: per case)")
    p.add_argument("--warm", type=int, default=None, help="warm-up steps (default: per case)")
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_info

    from core.runtime import limit_blas_threads

    limit_blas_threads(1)
    import numpy as np

    np.ones((64, 64)) @ np.ones((64, 64))  # load the BLAS before asking which it is
    blas = [f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} threads={i.get('num_threads')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    print("BLAS:", "; ".join(blas), flush=True)
    from core.run import RunSpec

    np.seterr(all="ignore")  # as the worker does
    for exp_id, preset, warm, steps, block in [c for c in CASES if args.only in (None, c[0])]:
        warm = args.warm if args.warm is not None else warm
        steps = args.steps if args.steps is not None else steps
        block = args.block if args.block is not None else block
        spec = RunSpec.create(exp_id, preset)
        exp, history = warmed(spec, warm)
        name = f"{exp_id}" + (f" --preset {preset}" if preset else "")
        ratios = []
        for r in range(args.rounds):
            a, b = Bare(spec, exp, history), Driven(spec, exp, history)
            for i, target in enumerate(range(warm + block, warm + steps + 1, block)):
                for side in (a, b) if (i + r) % 2 == 0 else (b, a):
                    side.train_to(max(target, a.step, b.step))  # B overshoots a chunk: A follows it
            rate_a, rate_b = a.steps / a.cpu, b.steps / b.cpu
            ratios.append(rate_b / rate_a)
            run = b.run
            print(f"  {name} round {r + 1}: bare {rate_a:8.1f} steps/CPU-s  run loop {rate_b:8.1f}  "
                  f"ratio {ratios[-1]:.3f}  ({a.steps} / {b.steps} steps, {len(run.keyframes.steps())} keyframes "
                  f"(every {run.keyframes.every}), {len(run.snapshots.steps())} snapshots)", flush=True)
        print(f"{name}: run loop / bare = median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, "
              f"max {max(ratios):.3f}) over {len(ratios)} paired rounds, steps {warm}..{warm + steps}", flush=True)
        parts: dict = {}
        d = Driven(spec, exp, history, parts)
        d.train_to(warm + steps)
        n, cpu = d.steps, d.cpu
        other = parts["total"] - parts.get("steps", 0) - parts.get("record", 0) - parts.get("frames", 0)
        share = {k: 100 * v / parts["total"] for k, v in (("steps", parts.get("steps", 0)),
                                                          ("record", parts.get("record", 0)),
                                                          ("frames", parts.get("frames", 0)), ("other", other))}
        print(f"  breakdown (instrumented run, thread CPU {cpu:.2f} s, {n} steps, "
              f"{1e6 * cpu / n:.0f} us/step): steps {share['steps']:.1f}%, record (watchdog, keyframes, "
              f"snapshots) {share['record']:.1f}%, frames {share['frames']:.1f}%, other (advance loop, "
              f"pacer) {share['other']:.1f}%", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
