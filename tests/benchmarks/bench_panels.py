"""Per-panel GUI cost on real probes and views: handler times and paint (grab) times, offscreen.

python tests/benchmarks/bench_panels.py              -> median ms per handler and per paint for each content
                                                       panel of each experiment (a few seconds)
python tests/benchmarks/bench_panels.py -n 30 -e sine  -> more repeats, one experiment

Columns: probe (``_on_probe`` with one of 3 probes), view (``_on_view`` of each view the panel draws, "-" when
the experiment emits none for it), timestep (``_on_timestep``), paint (``grab``), probe_paint (both): each
"median/p90" ms. Sizes are what a panel gets in a 1600x1000 window.

The loss panel (every experiment has one) is measured with 10^4, 10^5 and 10^6 training steps already in
the run: a real TrainingSession (without a worker) holds the bounded MetricHistory the app keeps, filled
with a loss point per step and evaluation points every 25 steps; then each frame is one snapshot of 250 new
steps through the session (history + ``_on_metrics``), timed alone ("metrics") and with the repaint
("frame" = metrics + grab). Target: redraw <= 3 ms median per visible panel.

The panels the window docks besides the content panels (``--docked``, on by default without -e): the Runs
list (``update`` = one ``runs_changed`` of 4 runs whose step and metric moved, as while training), the
Events list (the same signal; its list changes only when an event is added), the analysis tabs (``view`` =
``_on_view`` of a fresh binary-addition analysis view of their kind, as the Analyst sends them every few
seconds while the tab is shown) and the Sweep panel (built once from a finished sweep: no per-frame work,
paint only). Columns: update/view, paint, frame (both).
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


def times(f, n: int) -> list[float]:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t0) * 1e3)
    return ts


def p90(ts: list[float]) -> float:
    return statistics.quantiles(ts, n=10, method="inclusive")[-1] if len(ts) > 1 else ts[0]


def ms(f, n: int) -> str:
    ts = times(f, n)
    return f"{statistics.median(ts):6.2f}/{p90(ts):6.2f}"


LOSS_SIZE = (1100, 430)  # the loss dock in a 1600x1000 window
LOSS_POINTS = (10_000, 100_000, 1_000_000)


def bench_loss(app, n: int) -> None:
    """The loss panel on a run of 10^4 / 10^5 / 10^6 steps (module doc)."""
    import numpy as np

    from core.experiments import registry
    from core.probe import Snapshot
    from core.run import RunSpec
    from visualizer.panels.loss import LossPanel
    from visualizer.session import TrainingSession

    cls = registry.get("binary-addition")
    evals = ("accuracy", "bit_accuracy", "val_loss", "carry_corr")
    for total in LOSS_POINTS:
        hub = TrainingSession(RunSpec.create(cls), start=False)
        rng = np.random.default_rng(0)
        steps = np.arange(1, total + 1, dtype=np.int64)
        loss = 1.0 / np.sqrt(steps) + 0.05 * rng.random(total)
        hub.history.series("loss").extend(steps, loss)
        hub.history.series("train_accuracy").extend(steps, 1.0 - loss / 2)
        es = steps[24::25]
        for k in evals:
            hub.history.series(k).extend(es, 1.0 - 1.0 / np.sqrt(es))
        panel = LossPanel(hub)
        panel.resize(*LOSS_SIZE)
        panel.show()
        for _ in range(5):
            app.processEvents()
        panel.redraw()
        app.processEvents()
        state = {"step": total, "seq": 0}

        def frame_metrics():
            s0 = state["step"]
            st = np.arange(s0 + 1, s0 + 251, dtype=np.int64)
            m = {"loss": (st, 1.0 / np.sqrt(st)), "train_accuracy": (st, 1.0 - 0.5 / np.sqrt(st))}
            ev = st[st % 25 == 0]
            for k in evals:
                m[k] = (ev, 1.0 - 1.0 / np.sqrt(ev))
            state["step"] = s0 + 250
            state["seq"] += 1
            hub._on_worker_snapshot(Snapshot(state["seq"], state["step"], m))

        def frame():
            frame_metrics()
            panel.grab()

        held = len(hub.history.series("loss"))
        drawn = max(panel.drawn_points().values() or [0])
        print(f"{'loss':16s} {f'{total:>9,d} steps':10s} metrics {ms(frame_metrics, n)}  paint "
              f"{ms(panel.grab, n)}  frame {ms(frame, n)}   (history holds {held:,} loss points, "
              f"drawn {drawn:,})", flush=True)
        panel.close()
        panel.deleteLater()
        app.processEvents()


def bench_docked(app, n: int) -> None:
    """Runs, Events, the analysis tabs and the Sweep panel (module doc)."""
    import dataclasses
    import types

    from PySide6 import QtCore

    from core.analysis.live import Analyst, wait_for
    from core.replay import RunEvent
    from core.run import RunSpec
    from core.runs import RunInfo
    from visualizer.panels.analysis import ANALYSIS_PANELS
    from visualizer.panels.events import EventsPanel
    from visualizer.panels.runs import RunsPanel
    from visualizer.panels.sweep import SweepPanel

    def show(panel, size):
        panel.resize(*size)
        panel.show()
        for _ in range(5):
            app.processEvents()

    def row(name, update, panel):
        def frame():
            update()
            panel.grab()
        cells = f"update {ms(update, n)}  " if update is not None else f"update {'-':>13s}  "
        cells += f"paint {ms(panel.grab, n)}  frame {ms(frame if update else panel.grab, n)}"
        print(f"{'docked':16s} {name:10s} {cells}", flush=True)
        panel.close()
        panel.deleteLater()
        app.processEvents()

    # the Runs and Events lists: runs_changed once per frame while 4 runs train
    class RunsHub(QtCore.QObject):
        runs_changed = QtCore.Signal(object)
        snapshot_ready = QtCore.Signal(object)
        timestep_changed = QtCore.Signal(int)
        experiment_changed = QtCore.Signal(object)

        def __init__(self):
            super().__init__()
            spec = RunSpec.create("binary-addition", seed=0)
            events = tuple(RunEvent(50 * k, "note", f"note {k}") for k in range(30))
            self.runs = tuple(RunInfo(i, f"run {i}", "binary-addition", spec, 1000, "running", True,
                                      parent=1 if i > 1 else None, fork_step=500 if i > 1 else None,
                                      differs=(("learning_rate", 0.01 * i),) if i > 1 else (),
                                      metric="accuracy", value=0.5, events=events) for i in range(1, 5))
            self.hidden_runs, self.selected, self.compare, self.timestep = set(), 1, None, 0

        def run_info(self, run):
            return next((r for r in self.runs if r.id == run), None)

        def tick(self):
            self.runs = tuple(dataclasses.replace(r, step=r.step + 250, value=min(1.0, r.value + 0.001))
                              for r in self.runs)
            self.runs_changed.emit(self.runs)

    hub = RunsHub()
    for cls in (RunsPanel, EventsPanel):
        panel = cls(hub)
        show(panel, (420, 300))
        hub.tick()
        app.processEvents()
        row(cls.__name__.removesuffix("Panel").lower(), hub.tick, panel)

    # the analysis tabs: a fresh view of their kind each time
    from test_analysis_panels import Hub as AnalysisHub  # the stand-in hub of the analysis panel tests

    exp = RunSpec.create("binary-addition", seed=0).build()
    for _ in range(150):
        exp.train_step()
    analyst = Analyst(background=False)
    kinds = ("units", "gradients", "spectrum", "saturation")
    got = wait_for(analyst, exp, kinds, list(kinds))
    analyst.request("fixed_points", exp)
    got.update(wait_for(analyst, exp, (), ["fixed_points"]))
    analyst.request("memory", exp)
    try:
        got.update(wait_for(analyst, exp, (), ["memory"], timeout=60))
    except TimeoutError:
        pass
    for cls in ANALYSIS_PANELS:
        view = got.get(cls.kind)
        panel = cls(AnalysisHub())
        show(panel, (720, 420))
        if view is None:
            row(cls.kind, None, panel)
            continue
        panel._on_view(view)
        app.processEvents()
        row(cls.kind, lambda p=panel, v=view: p._on_view(v), panel)

    # the Sweep panel: static
    trials = [types.SimpleNamespace(id=f"t{k}", status="ok", params={"learning_rate": 10 ** (-3 + k / 4),
                                                                      "hidden_size": 4 + k}, value=k / 12)
              for k in range(12)]
    sweep = types.SimpleNamespace(experiment="binary-addition", trials=trials, metric="accuracy", mode="max",
                                  swept={"learning_rate": "log", "hidden_size": "linear"},
                                  value=lambda t: t.value)
    panel = SweepPanel(hub, sweep)
    show(panel, (720, 420))
    row("sweep", None, panel)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--repeat", type=int, default=7, help="timings per handler (median; default 7)")
    ap.add_argument("-e", "--experiment", action="append", choices=[e for e, _ in RUNS],
                    help="only this experiment (repeatable; default: all of them)")
    ap.add_argument("--train", type=int, default=5, help="training steps before probing (default 5)")
    ap.add_argument("--loss", action="store_true", help="the loss panel too when -e is given")
    ap.add_argument("--docked", action="store_true", help="the docked panels too when -e is given")
    args = ap.parse_args(argv)

    import pyqtgraph as pg
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    from core.experiments import registry
    from test_panels import Hub  # the stand-in hub of the panel tests
    from visualizer.panels import panels_for

    n = max(1, args.repeat)
    print("ms median/p90 per call; QT_QPA_PLATFORM =", os.environ.get("QT_QPA_PLATFORM"), flush=True)
    if not args.experiment or args.loss:
        bench_loss(app, max(n, 20))
    if not args.experiment or args.docked:
        bench_docked(app, n)
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
                continue  # measured by bench_loss, with a run's worth of history
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
            cells = "  ".join(f"{k} {v}" if v is not None else f"{k} {'-':>13s}" for k, v in r.items())
            print(f"{exp_id:16s} {panel_cls.key:10s} {cells}", flush=True)
            panel.close()
            panel.deleteLater()
            app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
