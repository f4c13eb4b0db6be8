"""GUI performance: event-loop delay while training, and windowed vs headless training speed.

Run explicitly (not collected by pytest)::

    python tests/benchmarks/bench_gui.py                 # binary-addition + char-lm/lstm, 10 s each
    python tests/benchmarks/bench_gui.py --seconds 5 --only binary-addition

For each (experiment, preset) it prints

* headless steps/s: a Trainer in this process, no Qt (half ``--seconds`` before the window
  run and half after, averaged: the machine is shared);
* windowed steps/s: the RNN Lab window (offscreen if there is no display) playing at
  full speed for the same wall time, all panels visible and drawing;
* the ratio (target >= 85%);
* event-loop delay while training: a QTimer asks to fire every 10 ms; lateness of
  each firing (p50 / p99 / max; target p99 < 50 ms);
* panel frames per second: fps = all frames (the loss curve and the step counter redraw on each;
  target >= 10), heavy = frames that carried a probe/views (heatmaps, inspector, samples
  redraw; target >= 4);
* the GUI thread's share of the CPU time used by both threads (GUI + worker). With one
  GIL the two mostly take turns, so on a busy machine this share is the steadier figure:
  windowed speed is roughly headless speed x (1 - share).

Both runs use ``--blas-threads`` BLAS threads (default 1, as the app does: see
``core.runtime.limit_blas_threads``). Timings are figures to read, not assertions.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

CASES = (("binary-addition", None), ("char-lm", "lstm"))


def headless(experiment: str, preset: str | None, seconds: float, seed: int = 0) -> tuple[int, float, float]:
    """Steps, wall seconds and process CPU seconds of a Trainer running alone."""
    from core.experiments import registry
    from core.trainer import Trainer

    cls = registry.get(experiment)
    trainer = Trainer(cls(cls.preset_config(preset), seed))
    trainer.step()  # warm-up (first-step allocations)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        trainer.step()
        n += 1
    return n, time.perf_counter() - t0, time.process_time() - c0


def windowed(experiment: str, preset: str | None, seconds: float, seed: int = 0,
             blas_threads: int | None = None) -> dict[str, float]:
    import numpy as np
    from PySide6 import QtCore

    from visualizer.app import application, limit_blas_threads
    from visualizer.app import _wait
    from visualizer.main_window import MainWindow

    app = application()
    if blas_threads is not None:
        limit_blas_threads(blas_threads)  # application() applies the app's default (1)
    w = MainWindow(experiment, preset=preset, seed=seed)
    w.resize(1600, 1000)
    w.show()
    s = w.session
    _wait(app, lambda: s.state in ("idle", "paused"), time.monotonic() + 120)
    s.step_n(1)  # warm-up, like the headless run
    _wait(app, lambda: s.step >= 1, time.monotonic() + 120)

    lateness: list[float] = []
    expected = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - expected[0]))
        expected[0] = now + 0.010

    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.setInterval(10)
    timer.timeout.connect(tick)

    worker = s._worker
    _wait(app, lambda: worker.thread_ident is not None and worker.runs is not None, time.monotonic() + 60)
    worker_clock = time.pthread_getcpuclockid(worker.thread_ident)  # the training thread's CPU time
    start_step = worker.runs.run.step
    worker_cpu0 = time.clock_gettime(worker_clock)
    gui_cpu0 = time.thread_time()
    cpu0 = time.process_time()
    frames0, heavy0 = s.frames, s.heavy_frames
    s.set_speed_cap(None)  # the window's default is a cap (see visualizer.widgets.transport.DEFAULT_SPEED)
    s.pause_at_goal = False  # train flat out past the preset's length (the window pauses there by default)
    s.play()
    expected[0] = time.perf_counter() + 0.010
    timer.start()
    t0 = time.perf_counter()
    loop = QtCore.QEventLoop()  # the real event loop, as in the app (no polling)
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    elapsed = time.perf_counter() - t0
    timer.stop()
    gui_cpu = time.thread_time() - gui_cpu0
    cpu = time.process_time() - cpu0
    worker_cpu = time.clock_gettime(worker_clock) - worker_cpu0
    steps = worker.runs.run.step - start_step
    frames = s.frames - frames0
    heavy = s.heavy_frames - heavy0
    s.pause()
    w.close()
    app.processEvents()
    lat = np.array(lateness[1:]) * 1000 if len(lateness) > 1 else np.zeros(1)
    return {"steps": steps, "elapsed": elapsed, "p50": float(np.percentile(lat, 50)),
            "p99": float(np.percentile(lat, 99)), "max": float(lat.max()), "fps": frames / elapsed, "heavy_fps": heavy / elapsed,
            "gui_share": gui_cpu / max(gui_cpu + worker_cpu, 1e-9), "cpu": cpu}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--only", default=None, help="one experiment id")
    p.add_argument("--rounds", type=int, default=1,
                   help="repeat headless/window/headless this many times and print the median ratio "
                        "(the machine's own noise is often larger than the effect measured)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads for both runs (default 1, as the app uses: see core.runtime.limit_blas_threads)")
    args = p.parse_args(argv)
    from visualizer.app import limit_blas_threads

    limit_blas_threads(args.blas_threads)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    cases = [c for c in CASES if args.only in (None, c[0])] or [(args.only, None)]
    print("ratio: windowed / headless steps per wall second (noisy on a shared machine: headless is run\n"
          "before and after the window and averaged); per CPU s: the same per CPU second of the process.")
    print(f"{'experiment':<24} {'headless/s':>11} {'window/s':>10} {'ratio':>7} {'per CPU s':>10} "
          f"{'loop p50':>9} {'p99':>7} {'max':>7} {'fps':>5} {'heavy':>6} {'GUI CPU share':>14}")
    for exp, preset in cases:
        ratios = []
        for _ in range(max(1, args.rounds)):
            a = headless(exp, preset, args.seconds / 2)
            r = windowed(exp, preset, args.seconds, blas_threads=args.blas_threads)
            b = headless(exp, preset, args.seconds / 2)
            hs, ws = (a[0] + b[0]) / (a[1] + b[1]), r["steps"] / r["elapsed"]
            hc, wc = (a[0] + b[0]) / max(a[2] + b[2], 1e-9), r["steps"] / max(r["cpu"], 1e-9)
            ratios.append(ws / hs)
            name = exp + (f"/{preset}" if preset else "")
            print(f"{name:<24} {hs:>11.1f} {ws:>10.1f} {ws / hs:>6.0%} {wc / hc:>9.0%} "
                  f"{r['p50']:>7.1f}ms {r['p99']:>5.1f}ms {r['max']:>5.0f}ms {r['fps']:>5.1f} {r['heavy_fps']:>6.1f} "
                  f"{r['gui_share']:>13.0%}", flush=True)
        if len(ratios) > 1:
            print(f"{'':<24} median ratio over {len(ratios)} rounds: {sorted(ratios)[len(ratios) // 2]:.0%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
