"""pytest-qt setup for the GUI tests: offscreen Qt, and no thread may outlive its test."""
from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported anywhere

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so tests can `import fakes`

import pytest  # noqa: E402
from PySide6 import QtCore  # noqa: E402
import pyqtgraph as pg  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)  # as visualizer.app.configure does

_started_qthreads: "weakref.WeakSet[QtCore.QThread]" = weakref.WeakSet()
_orig_start = QtCore.QThread.start


def _tracking_start(self: QtCore.QThread, *args: object) -> None:
    _started_qthreads.add(self)
    return _orig_start(self, *args)


QtCore.QThread.start = _tracking_start  # record every QThread a test starts


@pytest.fixture(autouse=True)
def no_thread_left_running(request: pytest.FixtureRequest):
    """Fail a test that leaves a QThread or a Python thread running (napari's dangling-thread check)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while True:
        qthreads = [t for t in list(_started_qthreads) if t.isRunning()]
        pythreads = [t for t in threading.enumerate() if t not in before and t.is_alive()
                     and not isinstance(t, threading._DummyThread)]
        if not qthreads and not pythreads:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    pytest.fail(f"test left threads running: QThreads {qthreads}, Python threads {pythreads}")


@pytest.fixture
def make_session(qtbot):
    """Factory for TrainingSessions on the fake (or a given) experiment, shut down after the test."""
    from fakes import fake_spec
    from visualizer.session import TrainingSession

    sessions = []

    def make(info=None, start=True, **config):
        s = TrainingSession(info or fake_spec(**config), start=start)
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        assert s.shutdown(2.0), "worker thread did not stop"


@pytest.fixture
def app_setup(qapp):
    """The application-wide pyqtgraph/Qt setup the real app uses."""
    from visualizer.app import configure

    configure(qapp)
    return qapp
