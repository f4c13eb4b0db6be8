"""Per-panel GUI cost on real probes and views: handler times and paint (grab) times, offscreen.

python tests/benchmarks/bench_panels.py              -> median ms per handler and per paint for each content
                                                       panel of each experiment (a few seconds)
python tests/benchmarks/bench_panels.py -n 30 -e sine  -> more repeats, one experiment

Columns: probe (``_on_probe`` with one of 3 probes), view (``_on_view`` of each view the panel draws, "-" when
the experiment emits none for it), timestep (``_on_timestep``), paint (``grab``), probe_paint (both).
The loss panel is not measured here (tests/benchmarks/bench_gui.py covers it).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, _ROOT)
sys.path.insert(0, os.path.join(_ROOT, "tests", "visualizer"))

RUNS = [("binary-addition", None), ("char-lm", "lstm"), ("sine", None), ("digits-rnn", None),
        ("worked-example", None), ("word-lm", None)]
SIZES = {"hidden": (720, 420), "inspector": (720, 420), "text": (720, 420), "binary": (720, 320),
         "sine": (720, 420), "digits": (720, 420), "worked": (720, 420)}


def ms(f, n: int) -> float:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--repeat", type=int, default=7, help="timings per handler (median; default 7)")
    ap.add_argument("-e", "--experiment", action="append", choices=[e for e, _ in RUNS],
                    help="only this experiment (repeatable; default: all of them)")
    ap.add_argument("--train", type=int, default=5, help="training steps before probing (default 5)")
    args = ap.parse_args(argv)

    import pyqtgraph as pg
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    from core.experiments import registry
    from test_panels import Hub  # the stand-in hub of the panel tests
    from visualizer.panels import panels_for

    n = max(1, args.repeat)
    for exp_id, preset in RUNS:
        if args.experiment and exp_id not in args.experiment:
            continue
        cls = registry.get(exp_id)
        exp = cls(cls.preset_config(preset) if preset else None, 0)
        for _ in range(args.train):
            exp.train_step()
        probes = []
        for _ in range(3):
            exp.train_step()
            probes.append(exp.probe())
        views = tuple(exp.views()) + probes[0].views
        hub = Hub()
        for panel_cls in panels_for(cls.view_types):
            if panel_cls.key == "loss":
                continue
            panel = panel_cls(hub)
            panel.resize(*SIZES.get(panel_cls.key, (720, 420)))
            panel.show()
            for _ in range(5):
                app.processEvents()
            hub.push(probes[0], views)
            app.processEvents()
            mine = [v for v in views if type(v) in panel_cls.draws]
            i = [0]

            def on_probe():
                i[0] += 1
                panel._on_probe(probes[i[0] % 3])

            def on_view():
                for v in mine:
                    panel._on_view(v)

            T = max(probes[0].num_steps, 1)

            def on_t():
                i[0] += 1
                panel._on_timestep(i[0] % T)

            def paint():
                panel.grab()

            def probe_and_paint():
                on_probe()
                panel.grab()

            r = dict(probe=ms(on_probe, n), view=ms(on_view, n) if mine else None, timestep=ms(on_t, n),
                     paint=ms(paint, n), probe_paint=ms(probe_and_paint, n))
            cells = "  ".join(f"{k} {v:6.2f}" if v is not None else f"{k} {'-':>6s}" for k, v in r.items())
            print(f"{exp_id:16s} {panel_cls.key:10s} {cells}", flush=True)
            panel.close()
            panel.deleteLater()
            app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
