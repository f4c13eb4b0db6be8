"""Per-panel GUI cost on real probes: handler times and paint (grab) times, offscreen.

python tests/benchmarks/bench_panels.py  -> prints median ms per handler and per paint for each panel.
"""
import os, sys, time, statistics
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, _ROOT)
sys.path.insert(0, os.path.join(_ROOT, "tests", "visualizer"))
import pyqtgraph as pg
from PySide6 import QtWidgets
app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
from test_panels import Hub  # the stand-in hub
from core.experiments import registry
from visualizer.panels import panel_class

SIZES = {"hidden": (720, 420), "inspector": (720, 420), "text": (720, 420), "binary": (720, 320),
         "sine": (720, 420), "digits": (720, 420), "worked": (720, 420)}

def ms(f, n=15):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)

for exp_id, preset in [("binary-addition", None), ("char-lm", "lstm"), ("sine", None), ("digits-rnn", None), ("worked-example", None), ("word-lm", None)]:
    cls = registry.get(exp_id)
    exp = cls(cls.preset_config(preset) if preset else None, 0)
    for _ in range(5):
        exp.train_step()
    probes = []
    for _ in range(3):
        exp.train_step(); probes.append(exp.probe())
    extras = exp.extras()
    hub = Hub()
    for name in [n for n in cls.panels if n != "loss"]:
        panel = panel_class(name)(hub)
        panel.resize(*SIZES.get(name, (720, 420))); panel.show()
        for _ in range(5): app.processEvents()
        hub.send(probes[0], extras); app.processEvents()
        i = [0]
        def on_probe():
            i[0] += 1; panel._on_probe(probes[i[0] % 3])
        def on_extras():
            panel._on_extras(extras)
        T = probes[0].num_steps
        def on_t():
            i[0] += 1; panel._on_timestep(i[0] % T)
        def paint():
            panel.grab()
        def probe_and_paint():
            i[0] += 1; panel._on_probe(probes[i[0] % 3]); panel.grab()
        r = dict(probe=ms(on_probe), extras=ms(on_extras), timestep=ms(on_t), paint=ms(paint),
                 probe_paint=ms(probe_and_paint))
        print(f"{exp_id:16s} {name:10s} " + "  ".join(f"{k} {v:6.2f}" for k, v in r.items()), flush=True)
        panel.close(); panel.deleteLater(); app.processEvents()
