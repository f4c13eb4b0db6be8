"""Movies of training time: GIF and MP4 from the window, `rnnlab movie` for an experiment and a saved run,
and its one-line errors."""
from __future__ import annotations

import numpy as np
import pytest

imageio = pytest.importorskip("imageio")

from fakes import FakeExperiment  # noqa: E402
from core.views import LayerStates, MetricCurves, Outputs  # noqa: E402


class ShownFake(FakeExperiment):
    id = "fake-movie"
    view_types = (MetricCurves, LayerStates, Outputs)


def _frames(path):
    import imageio.v3 as iio

    return iio.imread(str(path), index=None)


def _distinct(frames) -> int:
    return sum(1 for i, f in enumerate(frames) if i == 0 or not np.array_equal(f, frames[i - 1]))


@pytest.fixture
def window(qtbot, app_setup):
    from visualizer.main_window import MainWindow

    w = MainWindow(ShownFake)
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.session.latest_probe is not None, timeout=10000)
    yield w
    w.close()


def test_export_movie_from_the_window_writes_a_gif_with_the_step_burnt_in(window, qtbot, tmp_path):
    s = window.session
    s.set_speed_cap(None)
    s.step_n(40)
    qtbot.waitUntil(lambda: s.step >= 40 and s.state == "paused", timeout=10000)
    n_kf = len(s.keyframes())
    assert n_kf >= 20
    frames, distinct = window.replay.export_movie(tmp_path / "fake.gif", fps=10)
    assert frames == n_kf + 1  # every keyframe, then the present
    assert distinct == frames
    read = _frames(tmp_path / "fake.gif")
    assert len(read) == frames and _distinct(read) == frames
    assert read.shape[2] == 1280 and read.shape[1] > 720  # the window under a header band
    assert s.replay_step is None  # back to live afterwards
    # one panel only
    frames, _ = window.replay.export_movie(tmp_path / "hidden.gif", panel="hidden", fps=10)
    read = _frames(tmp_path / "hidden.gif")
    assert len(read) == frames and read.shape[2] == window.docks["hidden"].width()


def test_burn_in_draws_the_step_above_the_frame(qapp):
    from PySide6 import QtGui

    from visualizer.movie import burn_in, qimage_to_array

    img = QtGui.QImage(400, 100, QtGui.QImage.Format.Format_RGB32)
    img.fill(QtGui.QColor(0, 0, 0))
    out = qimage_to_array(burn_in(img, "RNN Lab — Fake", ["step 1,234", "loss 0.5"]))
    assert out.shape[1] == 400 and out.shape[0] > 100
    band = out[: out.shape[0] - 100]
    assert band.max() > 200  # text was painted in the band
    assert np.all(out[-100:] == 0)  # the frame itself is untouched


def test_export_movie_errors_go_to_the_message_bar(window, qtbot, tmp_path):
    window.replay.export_movie(tmp_path / "movie.avi")
    assert "must end in .gif or .mp4" in window.message_bar.text()
    window.replay.export_movie(tmp_path / "no" / "such" / "movie.gif")
    assert "does not exist" in window.message_bar.text()


def test_rnnlab_movie_sine_writes_a_valid_mp4(tmp_path, qapp, capsys):
    pytest.importorskip("imageio_ffmpeg")
    from visualizer.app import main

    out = tmp_path / "sine.mp4"
    assert main(["movie", "sine", "--steps", "40", "--size", "1100x700", "--fps", "8", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"saved {out}" in printed
    import imageio.v2 as iio2

    reader = iio2.get_reader(str(out), format="FFMPEG")
    meta = reader.get_meta_data()
    frames = [f for f in reader]
    reader.close()
    assert meta["fps"] == pytest.approx(8.0)
    assert len(frames) >= 20  # 1, 2, ..., 38 on the dense early schedule, then the present
    assert frames[0].shape[1] == 1100 and frames[0].shape[0] % 2 == 0
    assert _distinct(frames) >= 20
    with open(out, "rb") as f:
        assert f.read(12)[4:8] == b"ftyp"  # an MP4 container


def test_rnnlab_movie_of_a_saved_run(tmp_path, qapp, capsys):
    from core.run import Run, RunSpec, Save, Step
    from visualizer.app import main

    run = Run(RunSpec.create("binary-addition"))
    run.keyframe_share = 1e9  # every scheduled keyframe
    run.apply(Step(30))
    while run.training:
        run.advance(0.05)
    ck = tmp_path / "ba.npz"
    run.apply(Save(str(ck)))
    n = len(run.keyframes.steps())
    assert n >= 15
    out = tmp_path / "saved.gif"
    assert main(["movie", str(ck), "--panel", "hidden", "--out", str(out)]) == 0
    read = _frames(out)
    assert len(read) == n + 1 and _distinct(read) >= n


def test_rnnlab_movie_errors_are_one_line(tmp_path, qapp, capsys, monkeypatch):
    from visualizer.app import main

    def err(argv):
        code = main(argv)
        lines = capsys.readouterr().err.strip().splitlines()
        assert code != 0 and len(lines) == 1 and "Traceback" not in lines[0], lines
        return lines[0]

    assert "must end in .gif or .mp4" in err(["movie", "binary-addition", "--out", str(tmp_path / "a.txt")])
    assert "does not exist" in err(["movie", "binary-addition", "--out", str(tmp_path / "nope" / "a.gif")])
    (tmp_path / "d.gif").mkdir()
    assert "is a folder" in err(["movie", "binary-addition", "--out", str(tmp_path / "d.gif")])
    line = err(["movie", "binary-addition", "--steps", "3", "--panel", "heatmap", "--out", str(tmp_path / "a.gif")])
    assert "unknown panel 'heatmap'" in line and "loss, binary, hidden, inspector" in line
    assert "unknown experiment" in err(["movie", "nonesuch", "--out", str(tmp_path / "a.gif")])
    # a run folder written by `rnnlab train` has no keyframes
    import tqdm

    from core.cli import main as cli_main

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)  # no monitor thread left behind

    assert cli_main(["train", "binary-addition", "--steps", "5", "--out", str(tmp_path / "ba"), "--no-progress"]) == 0
    capsys.readouterr()
    assert "has no keyframes" in err(["movie", str(tmp_path / "ba"), "--out", str(tmp_path / "a.gif")])
    # missing packages
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.startswith("imageio") else
                        real(name, *a))
    line = err(["movie", "sine", "--out", str(tmp_path / "a.mp4")])
    assert "imageio" in line and "pip install" in line


def test_movie_is_a_gui_command():
    from visualizer.entry import GUI_COMMANDS

    assert "movie" in GUI_COMMANDS
