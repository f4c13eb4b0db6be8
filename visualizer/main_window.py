"""The RNN Lab window: settings dock, transport toolbar, panel docks, menus, status bar.

Layout::

    ┌ menu: File  View  Help ─────────────────────────────────────────────┐
    │ toolbar: ▶ Play  Step  [100] Step N  ⟲ Reset  Speed [max]           │
    ├──────────────┬──────────────────────────────────────────────────────┤
    │ Settings     │ message bar (errors, hints; non-modal)                │
    │ experiment ▾ │ ┌ panel docks (one per view type, 2 columns) ──────┐ │
    │ preset ▾     │ │ loss            │ hidden                           │ │
    │ seed [0]     │ │ binary / text   │ inspector                        │ │
    │ live params  │ └──────────────────────────────────────────────────┘ │
    │ structure    │ timestep scrubber                                     │
    │ [Apply & restart]                                                    │
    ├──────────────┴──────────────────────────────────────────────────────┤
    │ status: state · step · steps/s · panel fps                            │
    └──────────────────────────────────────────────────────────────────────┘

Dialogs only collect file names; every action has a method taking the path
directly (``save_checkpoint(path)``, ``load_checkpoint(path)``, ``open_corpus(path)``,
``export_png(path)``, ``export_csv(path)``) so tests never block on a dialog.
Errors go to the non-modal message bar.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from core.csvlog import write_metrics_csv
from core.data.text import check_corpus
from core.experiments import registry
from core.run import RunSpec
from visualizer.panels import panels_for
from visualizer.panels.analysis import install_analysis_docks
from visualizer.session import TrainingSession
from visualizer.widgets import opaque, set_text
from visualizer.widgets.param_form import ParamForm
from visualizer.widgets.transport import Transport

PROGRESS_INTERVAL = 0.25  # seconds between progress-bar updates while training
STATUS_INTERVAL_MS = 500
SCREEN_FRACTION = 0.9  # the window opens at most this much of the available screen
MIN_WINDOW = (1000, 560)  # usable from 1280x720 up: this fits a 1280x720 screen with a panel or taskbar
MAX_PANEL_MIN_HEIGHT = 230  # px: a panel may not claim more, so that default proportions can apply
CHECKPOINT_FILTER = "RNN Lab checkpoint (*.npz)"


class MessageBar(QtWidgets.QFrame):
    """A non-modal, dismissable message line (error / warning / info)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.label = QtWidgets.QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QtWidgets.QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.addWidget(self.label, 1)
        lay.addWidget(close)
        self.kind = ""
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        icon = {"error": "⚠", "warning": "⚠", "info": "ℹ"}.get(kind, "")
        self.label.setText(f"{icon}  {text}")
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class MainWindow(QtWidgets.QMainWindow):
    """``MainWindow(experiment=None (binary addition) | id | Experiment class, preset=None, seed=0)``."""

    def __init__(self, experiment: str | type | None = None, preset: str | None = None, seed: int = 0,
                 parent: QtWidgets.QWidget | None = None, settings: QtCore.QSettings | None = None):
        """``settings``: where the layout and window geometry are remembered (None: nothing is read or
        written, e.g. in tests and screenshots; ``rnnlab gui`` passes the user's QSettings)."""
        super().__init__(parent)
        spec = RunSpec.create(experiment, preset, seed)
        self.setWindowTitle(f"RNN Lab — {spec.cls.title}")
        self.settings = settings
        self.setObjectName("rnnlabMainWindow")
        self.setMinimumSize(*MIN_WINDOW)
        self.resize(*default_size(self.screen()))
        self.session = TrainingSession(spec, parent=self, start=False)
        self.session.pause_at_goal = True  # Play trains up to the preset's length, then pauses
        self._goal_noted = False
        self._shown_step = 0  # the step the counter and the progress bar last showed
        self._cls: type | None = None
        self.panels: dict[str, QtWidgets.QWidget] = {}
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        self.form: ParamForm | None = None
        self._closing = False
        self._dock_heights: dict[str, float] = {}
        self._user_arranged = False  # set when the user moves a splitter: then sizes are theirs

        self.message_bar = MessageBar()
        self.panel_area = QtWidgets.QMainWindow()  # holds the panel docks; nested in the central widget
        self.panel_area.setWindowFlags(QtCore.Qt.WindowType.Widget)
        self.panel_area.setDockNestingEnabled(True)
        self.panel_area.installEventFilter(self)
        self.panel_area.setDockOptions(QtWidgets.QMainWindow.DockOption.AnimatedDocks
                                       | QtWidgets.QMainWindow.DockOption.AllowNestedDocks)
        central = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.message_bar)
        lay.addWidget(self.panel_area, 1)
        self.scrubber = self._make_scrubber()
        if self.scrubber is not None:
            lay.addWidget(self.scrubber)
        self.setCentralWidget(central)

        self.transport = Transport(self.session, self)
        self.transport.reset_requested.connect(self.reset)
        self.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, self.transport)

        self._build_settings_dock()
        self._build_runs_dock()
        self._build_status_bar()
        self._build_menus()
        from visualizer.replay_ui import install_replay

        self.replay = install_replay(self)  # training-time scrubber, Events list, rewind/branch, movies

        s = self.session
        s.experiment_changed.connect(self._on_experiment)
        s.errored.connect(self._on_error)
        s.message.connect(self._on_message)
        s.state_changed.connect(self._on_state)
        s.live_param_changed.connect(self._on_live_param)
        s.snapshot_ready.connect(self._on_snapshot)  # the step counter follows every frame
        self._install_experiment(spec)  # panels exist before the first snapshot arrives
        self._restore_window()
        s.start()
        self._progress_t = -1e9
        self._stats_timer = QtCore.QTimer(self)
        self._stats_timer.setInterval(STATUS_INTERVAL_MS)
        self._stats_timer.timeout.connect(self._update_stats)
        self._stats_timer.start()
        self._stats_t = time.perf_counter()
        self._stats_frames = 0
        # Space must play at once: the first focus goes to the panels, not to the toolbar's Step N box
        # (a text field keeps Space for itself)
        self.panel_area.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.panel_area.setFocus()

    # -- construction -------------------------------------------------------------------
    def _make_scrubber(self) -> QtWidgets.QWidget | None:
        try:
            from visualizer.widgets.scrubber import TimestepScrubber
        except ImportError:
            return None
        scrubber = TimestepScrubber(self.session)
        for action in scrubber.actions():  # Left/Right/Home/End work wherever focus is in the window
            self.addAction(action)
        return scrubber

    def _build_settings_dock(self) -> None:
        box = QtWidgets.QWidget()
        box.setObjectName("settings")
        lay = QtWidgets.QVBoxLayout(box)
        lay.setContentsMargins(8, 8, 8, 8)
        top = QtWidgets.QFormLayout()
        self.experiment_combo = QtWidgets.QComboBox()
        for exp_id in registry.ids():
            try:
                title = registry.get(exp_id).title
            except Exception:  # a module still being written: list it, fail on selection
                title = exp_id
            self.experiment_combo.addItem(title, exp_id)
        self.experiment_combo.activated.connect(self._on_pick_experiment)
        self.preset_combo = QtWidgets.QComboBox()
        for combo in (self.experiment_combo, self.preset_combo):  # long titles must not widen the column
            combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.preset_combo.activated.connect(self._on_pick_preset)
        self.seed_spin = QtWidgets.QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip("Random seed: the same seed and settings reproduce a run exactly")
        self.seed_spin.valueChanged.connect(lambda _: self._update_apply())
        top.addRow("Experiment", self.experiment_combo)
        top.addRow("Preset", self.preset_combo)
        top.addRow("Seed", self.seed_spin)
        lay.addLayout(top)
        self.description = QtWidgets.QLabel()
        self.description.setWordWrap(True)
        self.description.setObjectName("description")
        lay.addWidget(self.description)
        self.form_scroll = QtWidgets.QScrollArea()
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        lay.addWidget(self.form_scroll, 1)
        self.apply_button = QtWidgets.QPushButton("Apply && restart")
        self.apply_button.setObjectName("applyButton")
        self.apply_button.setToolTip("Rebuild the model with the pending settings (●) and the seed")
        self.apply_button.clicked.connect(self.apply_and_restart)
        lay.addWidget(self.apply_button)
        self.settings_dock = QtWidgets.QDockWidget("Settings", self)
        self.settings_dock.setObjectName("settingsDock")
        self.settings_dock.setWidget(box)
        self.settings_dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
                                       | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.settings_dock.setMinimumWidth(250)

        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, self.settings_dock)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        # progress toward the preset's length (Preset.steps): Play pauses there, Play again goes on
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("presetProgress")
        self.progress.setMaximumWidth(260)
        self.progress.setMinimumWidth(160)
        self.progress.setTextVisible(True)
        bar.addPermanentWidget(self.progress)
        self.state_label = QtWidgets.QLabel("idle")
        self.step_label = QtWidgets.QLabel("step 0")
        self.speed_label = QtWidgets.QLabel("0 steps/s")
        self.fps_label = QtWidgets.QLabel("0 fps")
        self.fps_label.setToolTip("Panel redraws per second")
        fm = self.fontMetrics()
        self._permanent = [self.progress]  # (what a message's room is measured against)
        for w, widest in ((self.state_label, "running"), (self.step_label, "step 10,000,000"),
                          (self.speed_label, "100,000 steps/s"), (self.fps_label, "100 fps")):
            # a fixed size, wide enough for what they will show: a new text (several times a second) then
            # repaints the label only; a label whose size may change re-lays out the whole window
            w.setFixedSize(max(110, fm.horizontalAdvance(widest) + 12), w.sizeHint().height())
            bar.addPermanentWidget(w)
            self._permanent.append(w)
        opaque(bar, *self._permanent)  # (new texts several times a second while training)
        bar.messageChanged.connect(lambda text: text or bar.setToolTip(""))  # (a message gone: its tooltip too)

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file = menu.addMenu("&File")
        self.save_action = self._action(file, "Save checkpoint…", "Ctrl+S", self._ask_save)
        self.load_action = self._action(file, "Load checkpoint…", "Ctrl+O", self._ask_load)
        file.addSeparator()
        self.corpus_action = self._action(file, "Open text file as corpus…", None, self._ask_corpus)
        file.addSeparator()
        self._action(file, "Export panels as PNG…", None, self._ask_png)
        self._action(file, "Export metrics as CSV…", None, self._ask_csv)
        file.addSeparator()
        self._action(file, "Open run folder…", None, self._ask_open_run)
        self._action(file, "Open sweep…", None, self._ask_open_sweep)
        file.addSeparator()
        self._action(file, "Quit", "Ctrl+Q", self.close)
        self.view_menu = menu.addMenu("&View")
        self.reset_layout_action = QtGui.QAction("Reset layout", self)
        self.reset_layout_action.setToolTip("Back to the default arrangement of the panels and the window size")
        self.reset_layout_action.triggered.connect(self.reset_layout)
        run = menu.addMenu("&Run")
        for a in (self.transport.play_action, self.transport.step_action, self.transport.step_n_action,
                  self.transport.reset_action):
            run.addAction(a)
        run.addSeparator()
        self.fork_action = self._action(run, "Fork with the settings' values", "Ctrl+K", self.fork_from_form)
        self.fork_action.setToolTip("A copy of the shown run with the settings' current values, trained side by side")
        help_ = menu.addMenu("&Help")
        self.keys_action = self._action(help_, "Keyboard shortcuts", "F1", self._show_keys)
        self.shortcut_sheet: QtWidgets.QDialog | None = None

    def _action(self, menu: QtWidgets.QMenu, text: str, shortcut: str | None, slot: Any) -> QtGui.QAction:
        a = QtGui.QAction(text, self)
        if shortcut:
            a.setShortcut(QtGui.QKeySequence(shortcut))
        a.triggered.connect(slot)
        menu.addAction(a)
        self.addAction(a)
        return a

    # -- runs ---------------------------------------------------------------------------------
    def _build_runs_dock(self) -> None:
        from visualizer.panels.runs import RunsPanel

        self.runs_panel = RunsPanel(self.session)
        self.runs_panel.fork_requested.connect(self.fork_from_form)
        self.runs_panel.save_requested.connect(self._ask_save_run)
        self.runs_dock = QtWidgets.QDockWidget("Runs", self)
        self.runs_dock.setObjectName("runsDock")
        self.runs_dock.setWidget(self.runs_panel)
        self.runs_dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
                                   | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, self.runs_dock)
        self.splitDockWidget(self.settings_dock, self.runs_dock, QtCore.Qt.Orientation.Vertical)
        self.resizeDocks([self.settings_dock, self.runs_dock], [3, 1], QtCore.Qt.Orientation.Vertical)
        self.compare_docks: list[QtWidgets.QDockWidget] = []
        self._compare_hub = None
        self.session.runs_changed.connect(self._on_runs)

    def fork_from_form(self) -> None:
        """Fork the shown run with the settings form's current values (those that differ from the run's)."""
        spec = self.session.spec
        try:
            values = self.form.values() if self.form is not None else {}
        except ValueError as exc:
            self._on_error(str(exc))
            return
        changed = {k: v for k, v in values.items() if spec.config.get(k) != v}
        self.session.fork(**changed)

    def open_run(self, path: str | Path) -> None:
        """Add a run folder written by ``rnnlab train`` (its checkpoint.npz) or a checkpoint file to the runs."""
        path = Path(path)
        self.session.load(str(path / "checkpoint.npz" if path.is_dir() else path))

    def open_sweep(self, folder: str | Path) -> int:
        """Add every trial of a sweep folder (``rnnlab sweep --out``) that has a checkpoint to the runs, and
        dock a chart of each swept hyperparameter against the final metric; returns how many runs."""
        from core.sweep import read_sweep
        from visualizer.panels.sweep import SweepPanel

        try:
            sweep = read_sweep(folder)
        except ValueError as exc:
            self._on_error(str(exc))
            return 0
        trials = [t.path / "checkpoint.npz" for t in sweep.trials if (t.path / "checkpoint.npz").is_file()]
        for path in trials:
            self.session.load(str(path))
        dock = QtWidgets.QDockWidget(f"Sweep — {Path(folder).name}", self.panel_area)
        dock.setObjectName(f"sweep-{Path(folder).name}")
        dock.setWidget(SweepPanel(self.session, sweep))
        beside = self.docks.get("loss") or next(iter(self.docks.values()), None)
        if beside is not None:  # a tab beside the loss plots: the panels keep their room
            self.panel_area.tabifyDockWidget(beside, dock)
        else:
            self.panel_area.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        dock.show()
        dock.raise_()
        self.sweep_docks = getattr(self, "sweep_docks", []) + [dock]
        self._on_message(f"Opened {len(trials)} runs of the sweep {Path(folder).name}")
        return len(trials)

    def _ask_open_run(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a run folder (rnnlab train --out)")
        if path:
            self.open_run(path)

    def _ask_open_sweep(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a sweep folder (rnnlab sweep --out)")
        if path:
            self.open_sweep(path)

    def _ask_save_run(self, run: int) -> None:
        if run != self.session.selected:
            self.session.select_run(run)
        self._ask_save()

    def _on_runs(self, runs: Any) -> None:
        """Open or close the compare docks when the compared run changes."""
        compare = self.session.compare
        current = None if self._compare_hub is None else self._compare_hub.run
        if compare == current:
            return
        for dock in self.compare_docks:
            self.panel_area.removeDockWidget(dock)
            dock.deleteLater()
        self.compare_docks = []
        if self._compare_hub is not None:
            self._compare_hub.close()
            self._compare_hub = None
        info = self.session.run_info(compare) if compare is not None else None
        if info is None:
            return
        from visualizer.compare import CompareHub
        from visualizer.panels.runs import run_color

        hub = self._compare_hub = CompareHub(self.session, compare, self)
        for key, cls in ((c.key, c) for c in panels_for(info.spec.cls.view_types)):
            if key in ("loss", "inspector", "worked") or key not in self.docks:
                continue
            panel = cls(hub)
            dock = QtWidgets.QDockWidget(f"{getattr(panel, 'title', key)} — {info.name}", self.panel_area)
            dock.setObjectName(f"compare-{key}")
            dock.setWidget(panel)
            dock.setStyleSheet(f"QDockWidget::title {{ border-bottom: 2px solid {run_color(compare)}; }}")
            self.panel_area.splitDockWidget(self.docks[key], dock, QtCore.Qt.Orientation.Horizontal)
            self.compare_docks.append(dock)
        self.session.refresh()

    # -- experiment / panels ------------------------------------------------------------
    def _install_experiment(self, spec: RunSpec) -> None:
        """Show ``spec``: rebuild panels and form when the experiment class changed, else refresh values."""
        cls = spec.cls
        if cls is not self._cls:
            self._cls = cls
            self._build_panels(cls)
            self._build_form(cls, spec.config)
            self.setWindowTitle(f"RNN Lab — {cls.title}")
            self.corpus_action.setEnabled(any(p.name == "corpus" for p in cls.hyperparams))
        else:
            self.form.set_values(spec.config)
        preset = cls.presets.get(spec.preset) if spec.preset else None  # the preset's own note, on screen
        self.description.setText(getattr(cls, "description", "") + (f"\n\nPreset “{spec.preset}”: "
                                                                    f"{preset.description}" if preset else ""))
        self._goal_noted = False
        self._shown_step = 0
        self._update_progress()
        self._sync_pickers(spec)

    def _sync_pickers(self, spec: RunSpec) -> None:
        cls = spec.cls
        i = self.experiment_combo.findData(cls.id)
        if i < 0:
            self.experiment_combo.addItem(cls.title, cls.id)
            i = self.experiment_combo.count() - 1
        self.experiment_combo.setCurrentIndex(i)
        self.preset_combo.clear()
        for name, preset in cls.presets.items():
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, preset.description,
                                          QtCore.Qt.ItemDataRole.ToolTipRole)
        if spec.preset is None:
            self.preset_combo.addItem("(checkpoint)", None)
            self.preset_combo.setCurrentIndex(self.preset_combo.count() - 1)
        else:
            self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData(spec.preset)))
        self.seed_spin.blockSignals(True)
        self.seed_spin.setValue(int(spec.seed))
        self.seed_spin.blockSignals(False)
        self._update_apply()

    def _build_form(self, cls: type, config: dict) -> None:
        self.form = ParamForm(cls.hyperparams, config)
        self.form.live_changed.connect(self.session.set_live)
        self.form.pending_changed.connect(lambda _: self._update_apply())
        self.form.invalid.connect(lambda msg: self.message_bar.show_message(msg, "warning"))
        self.form_scroll.setWidget(self.form)  # deletes the previous form

    def _build_panels(self, cls: type) -> None:
        for dock in self.docks.values():
            self.panel_area.removeDockWidget(dock)
            dock.deleteLater()
        self.docks.clear()
        self.panels.clear()
        self.view_menu.clear()
        classes = {c.key: c for c in panels_for(cls.view_types)}
        names = list(classes)
        left_names, right_names, heights = dock_columns(names)
        for col, column in enumerate((left_names, right_names)):
            previous: QtWidgets.QDockWidget | None = None
            for name in column:
                panel = self._make_panel(classes[name])
                if panel.minimumHeight() > MAX_PANEL_MIN_HEIGHT:  # the heatmap needs the height more
                    panel.setMinimumHeight(MAX_PANEL_MIN_HEIGHT)
                title = str(getattr(panel, "title", name)).replace("&", "&&")  # no mnemonics in titles
                dock = QtWidgets.QDockWidget(title, self.panel_area)
                dock.setObjectName(f"panel-{name}")
                dock.setWidget(panel)
                dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
                                 | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
                                 | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable)
                if previous is None:
                    area = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea if col == 0 else \
                        QtCore.Qt.DockWidgetArea.RightDockWidgetArea
                    self.panel_area.addDockWidget(area, dock)
                else:
                    self.panel_area.splitDockWidget(previous, dock, QtCore.Qt.Orientation.Vertical)
                previous = dock
                dock.dockLocationChanged.connect(self._on_dock_moved)
                dock.topLevelChanged.connect(self._on_dock_moved)
                self.panels[name] = panel
                self.docks[name] = dock
        for name in names:  # View menu in the experiment's order
            self.view_menu.addAction(self.docks[name].toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.settings_dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.view_menu.addAction(self.reset_layout_action)
        install_analysis_docks(self, cls)  # hidden "why it works" docks for recurrent models (View menu)
        self._dock_heights = heights
        self._user_arranged = False  # new panels: the default arrangement again
        self._default_panel_state = self.panel_area.saveState()
        self._restore_panels(cls.id)
        self._size_docks()

    def _size_docks(self) -> None:
        """Default proportions: columns ~55:45, the hidden-state heatmap the tallest panel of its column."""
        if self._user_arranged:
            return
        self.resizeDocks([self.settings_dock], [max(250, min(330, self.width() // 5))], QtCore.Qt.Orientation.Horizontal)
        area = self.panel_area
        w = max(area.width(), 800)
        h = max(area.height(), 500)
        cols = [[n for n in col if n in self.docks] for col in self._dock_columns()]
        if all(cols):
            area.resizeDocks([self.docks[cols[0][0]], self.docks[cols[1][0]]],
                             [int(w * 0.55), int(w * 0.45)], QtCore.Qt.Orientation.Horizontal)
        for col in cols:
            if len(col) > 1:
                area.resizeDocks([self.docks[n] for n in col],
                                 [int(h * self._dock_heights.get(n, 1.0) / sum(self._dock_heights.get(m, 1.0)
                                                                              for m in col)) for n in col],
                                 QtCore.Qt.Orientation.Vertical)

    def _on_dock_moved(self, *_: Any) -> None:
        if self.isVisible():
            self._user_arranged = True

    def _dock_columns(self) -> tuple[list[str], list[str]]:
        left, right, _ = dock_columns(list(self.docks))
        return left, right

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if not self._user_arranged:  # keep the default proportions until the user drags a separator
            QtCore.QTimer.singleShot(0, self, self._size_docks)

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        if obj is self.panel_area and event.type() == QtCore.QEvent.Type.MouseButtonPress:
            self._user_arranged = True  # a press on the panel area itself is on a dock separator
        return super().eventFilter(obj, event)

    def _make_panel(self, cls: type) -> QtWidgets.QWidget:
        try:
            return cls(self.session)
        except Exception as exc:  # a broken panel: keep the app usable
            name = cls.key
            label = QtWidgets.QLabel(f"The {name!r} panel is not available:\n{type(exc).__name__}: {exc}")
            label.setWordWrap(True)
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            label.title = name
            return label

    # -- user actions ---------------------------------------------------------------------------
    def _on_pick_experiment(self, index: int) -> None:
        exp_id = self.experiment_combo.itemData(index)
        if self._cls is not None and exp_id == self._cls.id:
            return
        self.switch_experiment(exp_id)

    def _on_pick_preset(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name is not None:
            self.switch_experiment(self._cls, preset=name)

    def switch_experiment(self, experiment: str | type, preset: str | None = None) -> None:
        """Rebuild on another experiment (or preset) with the seed field's seed."""
        try:
            spec = RunSpec.create(experiment, preset, self.seed_spin.value())
        except Exception as exc:  # e.g. a module that does not import
            self._on_error(f"Cannot open {experiment}: {exc}")
            return
        self.session.restart(spec)

    def form_spec(self) -> RunSpec:
        """The run the settings describe: the form's values (pending structural edits included), the seed.
        Raises ConfigError naming a bad field."""
        return self.session.spec.replace(values=self.form.values(), seed=self.seed_spin.value())

    def apply_and_restart(self) -> None:
        """Rebuild the model with the form's values (pending structural edits included) and the seed."""
        try:
            spec = self.form_spec()
        except ValueError as exc:
            self._on_error(str(exc))
            return
        self.session.restart(spec)

    def reset(self) -> None:
        """Restart the run from scratch: applied settings, the seed field's seed."""
        self.session.restart(self.session.spec.replace(seed=self.seed_spin.value()))

    def _update_apply(self) -> None:
        pending = bool(self.form and self.form.pending()) or self.seed_spin.value() != self.session.spec.seed
        self.apply_button.setProperty("pending", pending)
        self.apply_button.style().unpolish(self.apply_button)
        self.apply_button.style().polish(self.apply_button)

    # files
    def save_checkpoint(self, path: str | Path) -> None:
        self.session.save(str(path))

    def load_checkpoint(self, path: str | Path) -> None:
        self.session.load(str(path))

    def open_corpus(self, path: str | Path) -> bool:
        """Use a text file as the corpus (restarts). Bad files are reported; nothing changes then."""
        spec = self.session.spec
        if not any(p.name == "corpus" for p in spec.cls.hyperparams):
            self._on_error(f"{spec.cls.title} does not train on a text corpus; open a language model first.")
            return False
        try:
            check_corpus(path)
        except ValueError as exc:
            self._on_error(str(exc))
            return False
        self.session.restart(spec.replace(values={"corpus": str(path)}, seed=self.seed_spin.value()))
        return True

    def export_png(self, path: str | Path) -> None:
        """Save the visible panels as one PNG, under a header: experiment, preset, seed, step and settings."""
        if not export_image(self.panel_area.grab(), self.export_header()).save(str(path)):
            self._on_error(f"Could not write {path}")
        else:
            self._on_message(f"Saved panels to {path}")

    def export_csv(self, path: str | Path) -> None:
        """The metric history as CSV: a ``step`` column, one column per metric (empty where not recorded)."""
        try:
            write_metrics_csv(path, self.session.history)
        except OSError as exc:
            self._on_error(f"Could not write {path}: {exc}")
        else:
            self._on_message(f"Saved metrics to {path}")

    def _ask_save(self) -> None:
        name = f"{self.session.spec.id}-step{self.session.step}.npz"
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save checkpoint", name, CHECKPOINT_FILTER)
        if path:
            self.save_checkpoint(path)

    def _ask_load(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load checkpoint", "", CHECKPOINT_FILTER)
        if path:
            self.load_checkpoint(path)

    def _ask_corpus(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a text file as the corpus", "",
                                                        "Text files (*.txt);;All files (*)")
        if path:
            self.open_corpus(path)

    def _ask_png(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export panels", "rnnlab.png", "PNG image (*.png)")
        if path:
            self.export_png(path)

    def _ask_csv(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export metrics", "metrics.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_header(self) -> list[str]:
        """The lines written above an exported PNG."""
        spec = self.session.spec
        from visualizer.widgets.param_form import format_value

        values = ", ".join(f"{k}={format_value(v)}" for k, v in spec.config.items() if format_value(v) != "")
        return [f"RNN Lab — {spec.cls.title} · preset {spec.preset or '(checkpoint)'} · seed {spec.seed} · "
                f"step {self.session.step:,}", values]

    def _show_keys(self) -> None:
        """F1: a sheet listing every keyboard shortcut of the window (Esc closes it)."""
        from visualizer.widgets.shortcuts import ShortcutSheet

        if self.shortcut_sheet is None:
            self.shortcut_sheet = ShortcutSheet(self)
        self.shortcut_sheet.refresh()
        self.shortcut_sheet.show()
        self.shortcut_sheet.raise_()
        self.shortcut_sheet.activateWindow()

    # -- layout: default size, remembered arrangement ---------------------------------------------
    def _restore_window(self) -> None:
        """Window geometry and docks from ``settings`` (when given and still fitting this screen)."""
        self._center()
        if self.settings is None:
            return
        geo = self.settings.value("window/geometry")
        state = self.settings.value("window/state")
        if geo is not None and self.restoreGeometry(geo) and not fits_screen(self.frameGeometry(), self.screen()):
            self.resize(*default_size(self.screen()))  # saved on a larger screen
            self._center()
        if state is not None:
            self.restoreState(state)

    def _center(self) -> None:
        screen = self.screen()
        if screen is not None:
            avail = screen.availableGeometry()
            self.move(avail.x() + (avail.width() - self.width()) // 2, avail.y() + (avail.height() - self.height()) // 2)

    def _restore_panels(self, exp_id: str) -> None:
        if self.settings is None:
            return
        state = self.settings.value(f"layout/{exp_id}")
        if state is not None and self.panel_area.restoreState(state):
            self._user_arranged = True

    def save_layout(self) -> None:
        """Remember the window geometry and this experiment's panel arrangement (in ``settings``)."""
        if self.settings is None or self._cls is None:
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        if self._user_arranged:
            self.settings.setValue(f"layout/{self._cls.id}", self.panel_area.saveState())
        else:
            self.settings.remove(f"layout/{self._cls.id}")
        self.settings.sync()

    def reset_layout(self) -> None:
        """View ▸ Reset layout: the default panel arrangement, settings dock and window size."""
        if self.settings is not None:
            self.settings.remove("layout")
            self.settings.remove("window")
        self.panel_area.restoreState(self._default_panel_state)
        for dock in list(self.docks.values()) + [self.settings_dock]:
            dock.setFloating(False)
            dock.show()
        if not self.isMaximized() and not self.isFullScreen():
            self.resize(*default_size(self.screen()))
            self._center()
        self._user_arranged = False
        self._size_docks()
        QtCore.QTimer.singleShot(0, self, self._size_docks)

    def _update_progress(self) -> None:
        goal, step = self.session.goal, self.session.step
        if self.progress.isVisibleTo(self) != bool(goal):
            self.progress.setVisible(bool(goal))
        if not goal:
            return
        # (only what changed: every setter repaints the bar, and a frame comes several times a second)
        if self.progress.maximum() != goal:
            self.progress.setRange(0, goal)
            self.progress.setToolTip(f"The preset trains {goal:,} steps: Play pauses there; Play again goes on")
        value = min(step, goal)
        text = f"{value:,} / {goal:,} steps" if step < goal else f"preset length {goal:,} reached"
        if self.progress.value() != value or self.progress.format() != text:
            self.progress.setValue(value)
            self.progress.setFormat(text)
        if step >= goal and self.session.state == "paused" and not self._goal_noted:
            self._goal_noted = True
            self._on_message(f"Reached the preset's length ({goal:,} steps): training paused. "
                             f"Press Play to go on.")

    # -- session signals -------------------------------------------------------------------------
    def _on_experiment(self, spec: RunSpec) -> None:
        self._install_experiment(spec)
        self.message_bar.hide()  # a new model loaded or built: an earlier error no longer applies
        self.message_bar.kind = ""

    def _on_live_param(self, name: str, value: Any, step: int) -> None:
        if self.form is not None:
            self.form.show_value(name, value)  # e.g. temperatures changed from the text panel

    def _on_error(self, message: str) -> None:
        self.message_bar.show_message(message, "error")
        self._sync_pickers(self.session.spec)  # a failed switch leaves the pickers on the running experiment

    def _on_message(self, message: str) -> None:
        """A message in the status bar for 6 s, elided (…) to the room the permanent widgets leave it (one
        line: Qt would cut it mid-letter); the whole text is the bar's tooltip meanwhile."""
        bar = self.statusBar()
        room = bar.width() - sum(w.width() + 6 for w in self._permanent if w.isVisible()) - 24
        shown = bar.fontMetrics().elidedText(message, QtCore.Qt.TextElideMode.ElideRight, max(room, 60))
        bar.setToolTip(message if shown != message else "")
        bar.showMessage(shown, 6000)

    def _on_state(self, state: str) -> None:
        self.state_label.setText(state)
        if state != "running":  # stopped (a pause, the preset's length): the counter and the bar show where, at once
            self._show_step(time.perf_counter())
        if state == "running" and self.message_bar.kind == "error":
            self.message_bar.hide()
            self.message_bar.kind = ""

    def _on_snapshot(self, snap: Any) -> None:
        # the step counter and the progress bar (which repaints itself and the status bar under it at
        # once on every new value) follow a few times a second while training: enough to read them; a
        # Step, a pause and the preset's goal show at once
        now = time.perf_counter()
        goal, step = self.session.goal, self.session.step
        reached = bool(goal) and self._shown_step < goal <= step  # (once: not every frame past the goal)
        if now - self._progress_t >= PROGRESS_INTERVAL or self.session.state != "running" or reached:
            self._show_step(now)

    def _show_step(self, now: float) -> None:
        """The step counter and the progress bar at the session's step (the present, also while replaying)."""
        self._progress_t = now
        self._shown_step = self.session.step
        set_text(self.step_label, f"step {self.session.step:,}")
        self._update_progress()

    def _update_stats(self) -> None:
        s = self.session
        now = time.perf_counter()
        fps = (s.frames - self._stats_frames) / max(now - self._stats_t, 1e-9)
        self._stats_t, self._stats_frames = now, s.frames
        set_text(self.step_label, f"step {s.step:,}")
        set_text(self.speed_label, f"{s.steps_per_second:,.0f} steps/s")
        set_text(self.fps_label, f"{fps:.0f} fps")
        if now - self._progress_t >= PROGRESS_INTERVAL:  # (catches up with a snapshot the throttle skipped;
            self._update_progress()  # not right after the frames' own update: each repaints the status bar)

    # -- closing -------------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        self.save_layout()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the worker thread (within a second)."""
        self._stats_timer.stop()
        if not self.session.shutdown(1.0):
            self.session.shutdown(5.0)  # a very slow step: wait a bit more rather than crash



def dock_columns(names: list[str]) -> tuple[list[str], list[str], dict[str, float]]:
    """Default arrangement of an experiment's panels: (left column, right column, relative heights).

    The hidden-state heatmap is what students watch: it goes top right and gets ~58% of
    that column, the inspector below it. The loss curves and the experiment's own panel
    (binary sums, generated text, sine, digits) share the left column.
    """
    right = [n for n in ("hidden", "inspector") if n in names]
    left = [n for n in names if n not in right]
    if not left or not right:  # e.g. loss + inspector only: split in two halves
        half = (len(names) + 1) // 2
        left, right = names[:half], names[half:]
    heights = {"hidden": 1.4, "inspector": 1.0, "loss": 1.0}
    if "worked" in left and len(left) == 1:
        heights = {"hidden": 1.0, "inspector": 1.0}
    # the experiment's own panel gets the room it needs: sample boxes of several lines, a large digit
    heights.update({"text": 2.0, "digits": 1.6, "binary": 1.1, "sine": 1.3})
    return left, right, {n: heights.get(n, 1.1) for n in names}


def default_size(screen: QtGui.QScreen | None) -> tuple[int, int]:
    """The window's first size: 90% of the available screen (1500 x 950 when the screen is unknown)."""
    if screen is None:
        return 1500, 950
    avail = screen.availableGeometry()
    return (max(MIN_WINDOW[0], min(int(avail.width() * SCREEN_FRACTION), avail.width())),
            max(MIN_WINDOW[1], min(int(avail.height() * SCREEN_FRACTION), avail.height())))


def fits_screen(frame: QtCore.QRect, screen: QtGui.QScreen | None) -> bool:
    return screen is None or screen.availableGeometry().contains(frame)


def export_image(panels: QtGui.QPixmap, lines: list[str]) -> QtGui.QImage:
    """``panels`` under a dark header of ``lines`` (the first bold), wrapped to the image's width."""
    width = max(panels.width(), 600)
    font = QtGui.QFont()
    font.setPointSize(11)
    bold = QtGui.QFont(font)
    bold.setBold(True)
    flags = int(QtCore.Qt.TextFlag.TextWordWrap)
    rects = [QtGui.QFontMetrics(f).boundingRect(QtCore.QRect(0, 0, width - 20, 2000), flags, line)
             for f, line in zip([bold] + [font] * len(lines), lines)]
    head = sum(r.height() for r in rects) + 8 * (len(lines) + 1)
    img = QtGui.QImage(width, panels.height() + head, QtGui.QImage.Format.Format_RGB32)
    img.fill(QtGui.QColor(30, 30, 33))
    p = QtGui.QPainter(img)
    p.setPen(QtGui.QColor(230, 230, 230))
    y = 8
    for f, line, r in zip([bold] + [font] * len(lines), lines, rects):
        p.setFont(f)
        p.drawText(QtCore.QRect(10, y, width - 20, r.height()), flags, line)
        y += r.height() + 8
    p.drawPixmap(0, head, panels)
    p.end()
    return img

