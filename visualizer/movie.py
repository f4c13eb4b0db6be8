"""Movies of training time: the replay of a run's keyframes as an animated GIF or an MP4.

Each keyframe is put on every panel (``session.show_keyframe_now``), the whole window or one
panel is grabbed, a header band with the experiment, the training step and the main metric is
painted above it with QPainter, and the frame goes to the encoder: Pillow for GIF (frames kept
quantized to 256 colours, 1 byte a pixel), imageio with imageio-ffmpeg (H.264, yuv420p) for MP4.
``pip install "rnnlab[movie]"`` installs them.

* :func:`check_output` — the output's format, or one clear line (:class:`MovieError`) naming what is
  wrong: an unknown extension, a missing package, an unwritable path.
* :func:`record` — render ``keyframes`` (default: the selected run's) of a window to a file.
* :func:`render_headless` — ``rnnlab movie``: train an experiment offscreen (or load a saved run)
  and record it.
"""
from __future__ import annotations

import importlib.util
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

FORMATS = (".gif", ".mp4")
DEFAULT_FPS = 5.0
HOLD_LAST_SECONDS = 2.0  # the last frame (the present) stays this long in a GIF


class MovieError(ValueError):
    """A movie cannot be made; the message is one line for the user."""


def check_output(path: str | os.PathLike) -> str:
    """"gif" or "mp4" for ``path``; raises MovieError when the extension, the packages or the folder are wrong."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in FORMATS:
        raise MovieError(f"--out: {str(p)!r} must end in .gif or .mp4")
    missing = [name for name, mod in (("imageio", "imageio"), ("pillow", "PIL")) if importlib.util.find_spec(mod) is None]
    if ext == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        missing.append("imageio-ffmpeg")
    if missing:
        raise MovieError(f"movies need {', '.join(missing)}: pip install \"rnnlab[movie]\" "
                         f"(or pip install {' '.join(missing)})")
    if ext == ".mp4":
        try:
            import imageio_ffmpeg

            imageio_ffmpeg.get_ffmpeg_exe()
        except Exception as exc:  # noqa: BLE001 — a broken ffmpeg install, said in one line
            raise MovieError(f"MP4 needs ffmpeg (imageio-ffmpeg could not find it: {exc}); "
                             f"write a .gif instead") from None
    folder = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise MovieError(f"--out: {str(p)!r} is a folder; give a file name ending in {ext}")
    if not folder.is_dir():
        raise MovieError(f"--out: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise MovieError(f"--out: {str(p)!r} is not writable")
    return ext[1:]


class Encoder:
    """Frames (H, W, 3) uint8 in, a GIF or MP4 out. Frames are cropped to the first frame's size (even
    sizes for MP4)."""

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FPS):
        self.path = Path(path)
        self.kind = check_output(self.path)
        self.fps = float(fps)
        self.frames = 0
        self.distinct = 0
        self._last: np.ndarray | None = None
        self._size: tuple[int, int] | None = None
        self._gif: list = []
        self._writer: Any = None

    def append(self, frame: np.ndarray) -> None:
        if self._size is None:
            h, w = frame.shape[:2]
            if self.kind == "mp4":
                h, w = h - h % 2, w - w % 2
            self._size = (h, w)
        h, w = self._size
        frame = np.ascontiguousarray(_fit(frame, h, w))
        if self._last is None or not np.array_equal(frame, self._last):
            self.distinct += 1
        self._last = frame
        self.frames += 1
        if self.kind == "gif":
            from PIL import Image

            img = Image.fromarray(frame, "RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE,
                                                         dither=Image.Dither.NONE)
            self._gif.append(img)
        else:
            if self._writer is None:
                import imageio.v2 as iio

                self._writer = iio.get_writer(str(self.path), format="FFMPEG", mode="I", fps=self.fps,
                                              codec="libx264", quality=8, macro_block_size=2,
                                              pixelformat="yuv420p", ffmpeg_log_level="error")
            self._writer.append_data(frame)

    def close(self) -> None:
        if self.kind == "gif":
            if not self._gif:
                return
            ms = max(20, int(round(1000.0 / self.fps)))
            durations = [ms] * len(self._gif)
            durations[-1] = max(ms, int(HOLD_LAST_SECONDS * 1000))
            first, rest = self._gif[0], self._gif[1:]
            try:
                first.save(str(self.path), save_all=True, append_images=rest, duration=durations, loop=0,
                           optimize=False, disposal=1)
            except OSError as exc:
                raise MovieError(f"could not write {self.path}: {exc}") from None
            self._gif = []
        elif self._writer is not None:
            self._writer.close()
            self._writer = None

    def abort(self) -> None:
        self._gif = []
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
        try:
            self.path.unlink()
        except OSError:
            pass


def _fit(frame: np.ndarray, h: int, w: int) -> np.ndarray:
    """``frame`` cropped or padded (black) to h x w."""
    out = frame[:h, :w]
    if out.shape[0] == h and out.shape[1] == w:
        return out
    pad = np.zeros((h, w, 3), np.uint8)
    pad[:out.shape[0], :out.shape[1]] = out
    return pad


def qimage_to_array(image: QtGui.QImage) -> np.ndarray:
    """(H, W, 3) uint8 RGB copy of ``image``."""
    img = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    buf = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)
    return buf[:, :w * 3].reshape(h, w, 3).copy()


def burn_in(image: QtGui.QImage | QtGui.QPixmap, title: str, lines: Iterable[str]) -> QtGui.QImage:
    """``image`` under a dark header band: ``title`` bold on the left, ``lines`` (step, metrics) after it."""
    if isinstance(image, QtGui.QPixmap):
        image = image.toImage()
    w = image.width()
    font = QtGui.QFont()
    font.setPixelSize(max(14, min(22, w // 60)))
    bold = QtGui.QFont(font)
    bold.setBold(True)
    band = QtGui.QFontMetrics(bold).height() + 12
    out = QtGui.QImage(w, image.height() + band, QtGui.QImage.Format.Format_RGB32)
    out.fill(QtGui.QColor(18, 18, 20))
    p = QtGui.QPainter(out)
    p.setRenderHint(QtGui.QPainter.RenderHint.TextAntialiasing)
    x = 10
    p.setFont(bold)
    p.setPen(QtGui.QColor(0, 229, 255))
    p.drawText(QtCore.QRect(x, 0, w - 20, band), int(QtCore.Qt.AlignmentFlag.AlignVCenter), title)
    x += QtGui.QFontMetrics(bold).horizontalAdvance(title) + 16
    p.setFont(font)
    p.setPen(QtGui.QColor(235, 235, 235))
    p.drawText(QtCore.QRect(x, 0, max(w - x - 10, 10), band), int(QtCore.Qt.AlignmentFlag.AlignVCenter),
               "   ·   ".join(lines))
    p.drawImage(0, band, image)
    p.end()
    return out


def metric_at(session: Any, name: str, step: int, row: dict | None = None) -> float | None:
    """``name``'s value at training step ``step``: from the keyframe's row, else the newest recorded at or
    before it in the session's history."""
    if row and name in row and row[name] is not None and math.isfinite(float(row[name])):
        return float(row[name])
    history = session.history
    if name not in history:
        return None
    steps, values = history.arrays(name)
    i = int(np.searchsorted(steps, step, side="right")) - 1
    return float(values[i]) if i >= 0 and math.isfinite(float(values[i])) else None


def frame_lines(session: Any, step: int, row: dict | None = None, live: bool = False) -> list[str]:
    """The burnt-in text: the step and the main metric (and the loss)."""
    from core.runs import main_metric

    spec = session.spec
    main = main_metric(spec.cls, spec.preset)
    out = [f"step {step:,}" + (" (now)" if live else "")]
    for name in dict.fromkeys([main, "loss"]):
        v = metric_at(session, name, step, row)
        if v is not None:
            out.append(f"{name} {v:.4g}")
    return out


def _settle(app: QtWidgets.QApplication, rounds: int = 3) -> None:
    for _ in range(rounds):
        app.processEvents()


def target_widget(window: Any, panel: str | None) -> QtWidgets.QWidget:
    """The window, or the dock of panel ``panel`` (MovieError listing the panel keys when unknown)."""
    if panel in (None, "", "window"):
        return window
    if panel not in window.docks:
        raise MovieError(f"--panel: unknown panel {panel!r}; this experiment has: {', '.join(window.docks)}")
    return window.docks[panel]


def record(window: Any, path: str | os.PathLike, panel: str | None = None, fps: float = DEFAULT_FPS,
           keyframes: list | None = None, progress: Callable[[int, int], bool] | None = None,
           include_now: bool = True) -> tuple[int, int]:
    """Write the replay of ``keyframes`` (default: the selected run's) of ``window`` (or one panel) to ``path``;
    with ``include_now`` the present (the live panels) closes the movie. ``progress(done, total)`` returning
    False cancels (the file is removed). Returns (frames written, distinct frames). Raises MovieError."""
    app = QtWidgets.QApplication.instance()
    session = window.session
    check_output(path)
    widget = target_widget(window, panel)
    if keyframes is None:
        keyframes = session.keyframes()
    if not keyframes:
        raise MovieError("this run has no keyframes yet: train a few steps first")
    if not math.isfinite(fps) or not 0.1 <= fps <= 60:
        raise MovieError(f"--fps: {fps!r} must be between 0.1 and 60")
    enc = Encoder(path, fps)
    title = f"RNN Lab — {session.spec.cls.title}"
    was_replaying = session.replay_step
    total = len(keyframes) + (1 if include_now else 0)
    try:
        for i, kf in enumerate(keyframes):
            if progress is not None and progress(i, total) is False:
                enc.abort()
                return 0, 0
            session.show_keyframe_now(kf)
            _settle(app)
            img = burn_in(widget.grab(), title, frame_lines(session, kf.step, dict(kf.metrics)))
            enc.append(qimage_to_array(img))
        if include_now:
            session.replay_step = None
            session.replay_keyframe = None
            session.replay_changed.emit(None)
            frames = session.frames
            session.refresh()
            deadline = time.monotonic() + 10
            while session.frames == frames and time.monotonic() < deadline:
                app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
            _settle(app)
            img = burn_in(widget.grab(), title, frame_lines(session, session.step, None, live=True))
            enc.append(qimage_to_array(img))
        if progress is not None:
            progress(total, total)
        enc.close()
    except MovieError:
        enc.abort()
        raise
    except OSError as exc:
        enc.abort()
        raise MovieError(f"could not write {path}: {exc}") from None
    finally:
        if was_replaying is not None and include_now:
            session.show_keyframe(was_replaying)
    return enc.frames, enc.distinct


# -- rnnlab movie --------------------------------------------------------------------------------------
def render_headless(source: str, out: str, preset: str | None = None, sets: list[str] | None = None,
                    seed: int = 0, steps: int = 400, panel: str | None = None, fps: float = DEFAULT_FPS,
                    size: tuple[int, int] = (1280, 800), timeout: float = 600.0) -> tuple[Path, int, int]:
    """Train ``source`` (an experiment id) offscreen for ``steps`` steps, or load ``source`` (a run folder or a
    checkpoint), and record its keyframes to ``out``. Returns (path, frames, distinct frames)."""
    from core.config import parse_assignments
    from core.run import RunSpec
    from visualizer.main_window import MainWindow

    check_output(out)
    if not math.isfinite(fps) or not 0.1 <= fps <= 60:
        raise MovieError(f"--fps: {fps!r} must be between 0.1 and 60")
    src = Path(source)
    saved = src.exists()
    keyframes = None
    if saved:
        from core.checkpoint import load_replay, read_checkpoint

        ck_path = src / "checkpoint.npz" if src.is_dir() else src
        if not ck_path.is_file():
            raise MovieError(f"{source!r}: no checkpoint.npz in this folder")
        if preset or sets:
            raise MovieError("--preset and --set apply to a new run, not to a saved one")
        _, store = load_replay(read_checkpoint(str(ck_path)))
        keyframes = list(store.frames.values())
        if not keyframes:
            raise MovieError(f"{source!r} has no keyframes (runs trained by `rnnlab train` record none); "
                             f"save a run from the window, or make the movie with `rnnlab movie EXPERIMENT --steps N`")
        spec = None
    else:
        if steps < 1:
            raise MovieError(f"--steps: {steps!r} must be at least 1")
        spec = RunSpec.create(source, preset, seed, values=parse_assignments(sets or []) or None)
    app = QtWidgets.QApplication.instance()  # made and configured by visualizer.app (rnnlab movie)
    if app is None:
        raise MovieError("no QApplication: run `rnnlab movie` (visualizer.app makes one)")
    window = MainWindow(spec.cls if spec is not None else None, preset=spec.preset if spec else None,
                        seed=spec.seed if spec else 0)
    window.resize(*size)
    window.show()
    try:
        s = window.session
        deadline = time.monotonic() + timeout
        failed = lambda: window.message_bar.kind == "error"  # noqa: E731
        _wait(app, lambda: s.latest_probe is not None or failed(), deadline)  # the worker's first frame
        if saved:
            s.load(str(ck_path))
            _wait(app, lambda: s.selected != 1 or failed(), deadline)
            _wait(app, lambda: s.latest_probe is not None or failed(), deadline)
        elif dict(spec.config) != dict(s.spec.config):
            s.restart(spec)
            _wait(app, lambda: s.selected != 1 or failed(), deadline)
            _wait(app, lambda: s.latest_probe is not None or failed(), deadline)
        if failed():
            raise MovieError(window.message_bar.label.text().lstrip("⚠ "))
        target_widget(window, panel)  # a bad --panel fails before training
        if not saved:
            _record_every_keyframe(s)
            s.set_speed_cap(None)
            s.step_n(steps)
            _wait(app, lambda: s.step >= steps or failed(), deadline)
            _wait(app, lambda: s.state != "running" or failed(), deadline)
        for _ in range(5):
            app.processEvents()
        frames, distinct = record(window, out, panel=panel, fps=fps, keyframes=keyframes)
        return Path(out), frames, distinct
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def _wait(app: QtWidgets.QApplication, done: Callable[[], bool], deadline: float) -> None:
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for the training worker")
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.005)


def _record_every_keyframe(session: Any) -> None:
    """A movie wants every scheduled keyframe: lift the selected run's keyframe time budget (the window's
    runs keep theirs: there keyframes may take about 1% of the training time)."""
    runs = getattr(session._worker, "runs", None)
    run = None if runs is None else runs.runs.get(session.selected)
    if run is None or not hasattr(run, "keyframe_share"):
        raise MovieError("the training worker is not ready (no run to record)")
    run.keyframe_share = 1e9
