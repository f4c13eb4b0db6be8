"""Start-up: launch to window shown, and ``rnnlab list`` against ``python -c "import numpy"``.

    python tests/benchmarks/bench_launch.py [--rounds 7]

Each round runs three fresh processes back to back, in an order that rotates from round to
round (paired, interleaved; the machine is shared):

* ``python -c "import numpy"`` — the floor any NumPy program pays;
* ``rnnlab list`` — the headless CLI's start-up (target: <= 2x the floor);
* ``rnnlab`` — the app on its default experiment; the time from spawning the process to the
  window being exposed and painted (the app prints ``time.monotonic()`` then, when
  ``RNNLAB_EXIT_WHEN_SHOWN`` is set, and quits; target: <= 1.5 s).

It needs a display (an X server such as Xvfb: ``DISPLAY``); without one the window is drawn
offscreen, which the output says. Bytecode caches are written and used (``PYTHONDONTWRITEBYTECODE``
is removed from the children's environment, as on a user's machine, and one warm-up round runs
first). Prints every round and the median with min and max; nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["OPENBLAS_NUM_THREADS"] = "1"
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def wall(cmd: list[str]) -> float:
    t0 = time.monotonic()
    subprocess.run(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - t0


def shown(cmd: list[str]) -> float:
    env = _env()
    env["RNNLAB_EXIT_WHEN_SHOWN"] = "1"
    t0 = time.monotonic()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("rnnlab-shown "):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"the window was not shown: {out.stderr[-800:]}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)
    rnnlab = shutil.which("rnnlab")
    base = [rnnlab] if rnnlab else [sys.executable, "-m", "visualizer.entry"]
    cases = {
        "import numpy": lambda: wall([sys.executable, "-c", "import numpy"]),
        "rnnlab list": lambda: wall(base + ["list"]),
        "window shown": lambda: shown(base),
    }
    env = _env()
    print(f"python {sys.version.split()[0]}; display: "
          f"{env.get('DISPLAY') or env.get('WAYLAND_DISPLAY') or 'none (offscreen)'}; OPENBLAS_NUM_THREADS=1")
    for f in cases.values():  # warm-up: bytecode caches, the disk cache
        f()
    names = list(cases)
    rows: dict[str, list[float]] = {n: [] for n in names}
    ratios = []
    for k in range(args.rounds):
        order = names[k % 3:] + names[:k % 3]
        t = {n: cases[n]() for n in order}
        for n in names:
            rows[n].append(t[n])
        ratios.append(t["rnnlab list"] / t["import numpy"])
        print(f"round {k + 1}: " + ", ".join(f"{n} {t[n]:.3f} s" for n in names)
              + f"; list / numpy {ratios[-1]:.2f}", flush=True)

    def mmm(v: list[float], fmt: str) -> str:
        return f"{format(statistics.median(v), fmt)} (min {format(min(v), fmt)}, max {format(max(v), fmt)})"

    print(f"over {args.rounds} rounds, median (min, max):")
    for n in names:
        print(f"  {n:<13} {mmm(rows[n], '.3f')} s")
    print(f"  rnnlab list / import numpy, paired per round: {mmm(ratios, '.2f')}  (target <= 2)")
    print(f"  launch to window shown: {mmm(rows['window shown'], '.2f')} s  (target <= 1.5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
