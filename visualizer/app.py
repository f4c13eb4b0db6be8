"""The QApplication, the GUI's ``main`` (``rnnlab``, ``rnnlab gui``, ``rnnlab screenshot``) and the
screenshot harness. Imports the window lazily (the window never imports this module).

Nothing Qt is created at import time: ``main()`` builds the application.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from core.runtime import limit_blas_threads


STYLE = Path(__file__).resolve().parent.parent / "resources" / "style.qss"
SWITCH_INTERVAL = float(os.environ.get("RNNLAB_SWITCH_INTERVAL", "0"))  # seconds; 0 = Python's default
BASE_POINT_SIZE = 11  # big, readable: this is used in front of a class
SETTINGS_ORG, SETTINGS_APP = "RNN Lab", "rnnlab"  # QSettings of `rnnlab gui` (layout, window geometry)


def ui_scale(screen: QtGui.QScreen | None) -> float:
    """Font scale for a screen's available height (logical pixels): a little smaller on 720p so that the
    panels fit, larger on 1440p and up so that text is not tiny (1.0 on 1080p)."""
    if screen is None:
        return 1.0
    h = screen.availableGeometry().height()
    return 0.9 if h < 800 else 1.0 if h < 1250 else 1.25 if h < 1700 else 1.5

_configured = False
def configure(app: QtWidgets.QApplication) -> None:
    """One-time application setup: pyqtgraph options, dark Fusion palette, fonts, style sheet."""
    global _configured
    if _configured:
        return
    _configured = True
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
    app.setApplicationName("RNN Lab")
    app.setStyle("Fusion")
    app.setPalette(_dark_palette())
    from visualizer.panels import hidden

    scale = ui_scale(app.primaryScreen())
    hidden.set_font_scale(scale)  # the panels' fonts (visualizer.panels.hidden.font)
    font = app.font()
    font.setPointSizeF(BASE_POINT_SIZE * scale)
    app.setFont(font)
    if STYLE.is_file():
        style = STYLE.read_text(encoding="utf-8")
        if scale != 1.0:  # the style sheet's point sizes follow the scale
            import re

            style = re.sub(r"(\d+(?:\.\d+)?)pt", lambda m: f"{float(m.group(1)) * scale:.1f}pt", style)
        app.setStyleSheet(style)



def _dark_palette() -> QtGui.QPalette:
    """A dark theme matching pyqtgraph's default black plot background."""
    p = QtGui.QPalette()
    C = QtGui.QColor  # noqa: N806
    roles = QtGui.QPalette.ColorRole
    p.setColor(roles.Window, C(37, 37, 40))
    p.setColor(roles.WindowText, C(230, 230, 230))
    p.setColor(roles.Base, C(25, 25, 28))
    p.setColor(roles.AlternateBase, C(45, 45, 50))
    p.setColor(roles.ToolTipBase, C(255, 255, 220))
    p.setColor(roles.ToolTipText, C(0, 0, 0))
    p.setColor(roles.Text, C(230, 230, 230))
    p.setColor(roles.Button, C(50, 50, 55))
    p.setColor(roles.ButtonText, C(230, 230, 230))
    p.setColor(roles.BrightText, C(255, 80, 80))
    p.setColor(roles.Highlight, C(42, 130, 218))
    p.setColor(roles.HighlightedText, C(255, 255, 255))
    p.setColor(roles.Link, C(100, 170, 255))
    p.setColor(roles.PlaceholderText, C(140, 140, 140))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(QtGui.QPalette.ColorGroup.Disabled, role, C(120, 120, 120))
    return p


def has_display() -> bool:
    """False on a Linux machine without X11/Wayland (and no explicit QT_QPA_PLATFORM)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def application(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The QApplication (created if needed; offscreen when there is no display) and configured."""
    if not has_display():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv if argv is not None else ["rnnlab"])
    configure(app)
    limit_blas_threads()
    if SWITCH_INTERVAL:
        # One GIL, two busy threads: Python hands the GIL over every switch interval (default 5 ms).
        # The GUI thread re-acquires it after every Qt call it makes, so a short interval keeps it lively.
        sys.setswitchinterval(SWITCH_INTERVAL)
    return app


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rnnlab", description="RNN Lab: watch small recurrent networks learn.")
    sub = p.add_subparsers(dest="command")
    g = sub.add_parser("gui", help="open the window (the default)")
    g.add_argument("experiment", nargs="?", default=None)
    g.add_argument("--preset", default=None)
    g.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("screenshot", help="train N steps and save the window as a PNG")
    s.add_argument("experiment")
    s.add_argument("--preset", default=None)
    s.add_argument("--steps", type=int, default=200)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--size", default="1600x1000", help="window size WxH (default 1600x1000)")
    s.add_argument("--out", required=True)
    m = sub.add_parser("movie", help="replay a run's keyframes as an animated GIF or MP4 (trains it first)")
    m.add_argument("source", metavar="EXPERIMENT_OR_RUN", help="an experiment id, or a run folder / checkpoint")
    m.add_argument("--preset", default=None)
    m.add_argument("--set", action="append", metavar="KEY=VALUE", default=[])
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--steps", type=int, default=400, help="training steps (a new run; default 400)")
    m.add_argument("--panel", default=None, help="record one panel (its key, e.g. hidden) instead of the window")
    m.add_argument("--fps", type=float, default=5.0, help="keyframes per second of movie (default 5)")
    m.add_argument("--size", default="1280x800", help="window size WxH (default 1280x800)")
    m.add_argument("--out", required=True, help="FILE.gif or FILE.mp4")
    return p


def main(argv: list[str] | None = None) -> int:
    """``rnnlab [gui [EXPERIMENT] [--preset P]]`` or ``rnnlab screenshot EXPERIMENT --out FILE.png``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv or ["gui"])
    if args.command == "movie":
        return _movie(args)
    if args.command == "screenshot":
        size = _size(args.size, "1600x1000")
        if size is None:
            return 2
        app = application()
        try:
            path = screenshot(args.experiment, args.out, preset=args.preset, steps=args.steps, seed=args.seed,
                              size=size)
        except (ValueError, OSError, TimeoutError) as exc:
            print(f"rnnlab: error: {exc}", file=sys.stderr)
            return 1
        finally:
            app.processEvents()
        print(f"saved {path}")
        return 0
    from visualizer.main_window import MainWindow

    if not has_display():
        print("rnnlab: error: no display (DISPLAY/WAYLAND_DISPLAY unset): the window cannot be shown. "
              "Use `rnnlab screenshot EXPERIMENT --out FILE.png`, or `rnnlab train` for headless training.",
              file=sys.stderr)
        return 2
    app = application()
    try:
        # the user's layout and window geometry are remembered here (tests never pass settings)
        window = MainWindow(args.experiment, preset=args.preset, seed=args.seed,
                            settings=QtCore.QSettings(SETTINGS_ORG, SETTINGS_APP))
    except ValueError as exc:
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return 2
    window.show()
    if os.environ.get("RNNLAB_EXIT_WHEN_SHOWN"):  # tests/benchmarks/bench_launch.py: launch to window shown
        _exit_when_shown(app, window)
    code = app.exec()
    # the event loop can end without the window closing (app.quit(): the launch hook, a session's end). Stop
    # the training thread, then delete the window here, while the application lives: left to Python's
    # teardown, its widgets and scenes were destroyed in no set order (a segfault at exit, ~1 run in 6 of
    # the launch hook). After a close the shutdown does nothing.
    window.shutdown()
    window.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, int(QtCore.QEvent.Type.DeferredDelete))
    return code


class _ShownProbe(QtCore.QObject):
    """Prints ``rnnlab-shown <time.monotonic()>`` once the window is exposed and painted, then quits."""

    def __init__(self, app: QtWidgets.QApplication):
        super().__init__(app)
        self.app = app
        self.done = False

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802 (Qt name)
        if not self.done and event.type() == QtCore.QEvent.Type.Expose and obj.isExposed():
            self.done = True  # the expose paints the window; the zero timer runs after that paint
            QtCore.QTimer.singleShot(0, self, self._report)
        return False

    def _report(self) -> None:
        print(f"rnnlab-shown {time.monotonic():.6f}", flush=True)
        self.app.quit()


def _exit_when_shown(app: QtWidgets.QApplication, window: QtWidgets.QWidget) -> None:
    handle = window.windowHandle()
    if handle is None:
        QtCore.QTimer.singleShot(0, app.quit)
        return
    handle.installEventFilter(_ShownProbe(app))


def _size(text: str, example: str) -> tuple[int, int] | None:
    """``"1280x720"`` -> (1280, 720); a one-line error on stderr and None for anything else."""
    try:
        w, h = (int(x) for x in text.lower().split("x"))
        if w > 0 and h > 0:
            return w, h
    except ValueError:
        pass
    print(f"rnnlab: error: --size: {text!r} is not WxH (e.g. {example})", file=sys.stderr)
    return None


def _movie(args: argparse.Namespace) -> int:
    """``rnnlab movie``: offscreen (unless QT_QPA_PLATFORM says otherwise); errors are one line."""
    size = _size(args.size, "1280x800")
    if size is None:
        return 2
    from visualizer.movie import MovieError, check_output

    try:
        check_output(args.out)  # before anything is trained
    except MovieError as exc:
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = application()
    from visualizer.movie import render_headless

    t0 = time.perf_counter()
    try:
        path, frames, distinct = render_headless(args.source, args.out, preset=args.preset, sets=args.set,
                                                 seed=args.seed, steps=args.steps, panel=args.panel, fps=args.fps,
                                                 size=size)
    except (ValueError, OSError, TimeoutError) as exc:
        print(f"rnnlab: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    finally:
        app.processEvents()
    print(f"saved {path} ({frames} frames, {distinct} distinct, {time.perf_counter() - t0:.1f} s)")
    return 0


def screenshot(experiment: str | type, out: str | Path, preset: str | None = None, steps: int = 200,
               seed: int = 0, size: tuple[int, int] = (1600, 1000), timeout: float = 120.0) -> Path:
    """Open the window offscreen-capable, train ``steps`` steps through the worker, save a PNG of the window."""
    from visualizer.main_window import MainWindow

    app = application()
    window = MainWindow(experiment, preset=preset, seed=seed)
    window.resize(*size)
    window.show()
    try:
        s = window.session
        deadline = time.monotonic() + timeout
        _wait(app, lambda: s.state in ("idle", "paused") or window.message_bar.kind == "error", deadline)
        if window.message_bar.kind == "error":
            raise ValueError(window.message_bar.label.text().lstrip("⚠ "))
        if steps > 0:
            s.set_speed_cap(None)  # as fast as possible (the window's default speed is a cap)
            s.step_n(steps)
            _wait(app, lambda: s.step >= steps or window.message_bar.kind == "error", deadline)
        frames = s.frames
        s.refresh()
        _wait(app, lambda: s.frames > frames, deadline)
        for _ in range(5):  # let panels lay out and paint
            app.processEvents()
            time.sleep(0.02)
        window._update_stats()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(out)):
            raise OSError(f"could not write {out}")
        return out
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def _wait(app: QtWidgets.QApplication, done: Any, deadline: float) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for the training worker")
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)


if __name__ == "__main__":
    sys.exit(main())
