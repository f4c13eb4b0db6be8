"""`rnnlab screenshot`, the entry point's Qt-free CLI path, and every experiment's view drawing data."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtGui

from core.experiments import registry

ROOT = Path(__file__).resolve().parents[2]


def _pixels(image: QtGui.QImage) -> np.ndarray:
    img = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    return np.frombuffer(img.constBits(), dtype=np.uint32, count=img.width() * img.height()).copy()


def test_cli_subcommands_do_not_import_qt():
    code = ("import sys; from visualizer.entry import main; rc = main(['list']); "
            "assert 'PySide6' not in sys.modules and 'pyqtgraph' not in sys.modules, 'Qt imported'; sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "binary-addition" in r.stdout


def test_the_launch_benchmark_hook_reports_the_shown_window_and_quits(tmp_path):
    import os
    import time

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", RNNLAB_EXIT_WHEN_SHOWN="1",
               XDG_CONFIG_HOME=str(tmp_path))  # (no settings of the user's read or written)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "visualizer.entry"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    shown = [float(line.split()[1]) for line in r.stdout.splitlines() if line.startswith("rnnlab-shown ")]
    assert len(shown) == 1 and t0 < shown[0] < time.monotonic()


def test_rnnlab_without_arguments_opens_binary_addition(qapp, app_setup, monkeypatch):
    from PySide6 import QtWidgets

    from visualizer.entry import main
    from visualizer.main_window import MainWindow

    seen = []

    def fake_exec(*args):  # instead of blocking in the event loop: look at the window, close it
        (window,) = [w for w in QtWidgets.QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen.append((window.windowTitle(), window.session.spec.id, window.session.state))
        window.close()
        return 0

    monkeypatch.setattr(QtWidgets.QApplication, "exec", fake_exec)
    assert main([]) == 0
    title, exp, state = seen[0]
    assert title.startswith("RNN Lab") and exp == "binary-addition" and state in ("idle", "stopped")


def test_screenshot_command_saves_the_window(qapp, app_setup, tmp_path):
    from visualizer.entry import main

    out = tmp_path / "shots" / "worked.png"
    assert main(["screenshot", "worked-example", "--steps", "5", "--size", "1200x800", "--out", str(out)]) == 0
    image = QtGui.QImage(str(out))
    assert (image.width(), image.height()) == (1200, 800)
    assert np.unique(_pixels(image)).size > 500  # a real picture, not a blank window


def test_screenshot_of_unknown_experiment_is_one_clear_error(qapp, app_setup, tmp_path, capsys):
    from visualizer.entry import main

    assert main(["screenshot", "nope", "--out", str(tmp_path / "x.png")]) != 0
    err = capsys.readouterr().err
    assert "nope" in err and "binary-addition" in err and "Traceback" not in err


@pytest.mark.parametrize("experiment", registry.ids())
def test_every_experiment_view_draws_its_panels(experiment, qtbot, app_setup):
    """Each panel, after a few training steps, looks different from the same panel that never got data."""
    from visualizer.main_window import MainWindow
    from visualizer.session import TrainingSession

    w = MainWindow(experiment)
    qtbot.addWidget(w)
    w.resize(1500, 950)
    w.show()
    try:
        s = w.session
        qtbot.waitUntil(lambda: s.state in ("idle", "paused") or w.message_bar.kind == "error", timeout=60000)
        assert w.message_bar.kind != "error", w.message_bar.text()
        s.step_n(3)
        qtbot.waitUntil(lambda: s.step >= 3 or w.message_bar.kind == "error", timeout=60000)
        assert w.message_bar.kind != "error", w.message_bar.text()
        frames = s.frames
        s.refresh()
        qtbot.waitUntil(lambda: s.frames > frames, timeout=30000)
        qtbot.wait(50)
        blank_hub = TrainingSession(s.spec, start=False)
        for name, panel in w.panels.items():
            assert hasattr(panel, "session"), f"{name}: placeholder instead of a panel: {panel.text()}"
            blank = type(panel)(blank_hub)
            qtbot.addWidget(blank)
            blank.resize(panel.size())
            blank.show()
            qtbot.waitExposed(blank)
            a, b = _pixels(panel.grab().toImage()), _pixels(blank.grab().toImage())
            changed = float(np.mean(a != b)) if a.shape == b.shape else 1.0
            assert changed > 0.005, f"{experiment}: the {name} panel shows no data ({changed:.2%} pixels differ)"
            blank.close()
    finally:
        w.close()
    assert not w.session.running
