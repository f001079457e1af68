"""The main window: setup panel, transport, the live dashboard, history and status.

It draws the run's record (``playground.experiment.Experiment``) and wires widgets (numpy in,
signals out) to the training controller (which owns the trainer process). Trainer updates go
into the record; the views are told by the record's events and draw from it, so nothing of a
run lives only in a widget. It never trains or probes itself, so the event loop stays free.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6 import QtCore, QtGui, QtWidgets

from engines.devices import available_devices
from engines.tasks.registry import TASKS, default_length
from playground.experiment import Experiment
from playground.forgetting_dock import ForgettingDock
from playground.gate_lab_dock import GateLabDock
from playground.recent_files import EXPERIMENTS_KEY, RecentFiles
from playground.run_spec import RunSpec, merged_settings, same_sequence
from playground.sequence_dock import SequenceDock
from playground.trainer_process import TrainerUpdate
from playground.training_controller import TrainingController
from playground.transport import TransportMixin, fill_layer_combo
from playground.window_menus import build_menus
from playground.window_record import WindowRecordMixin
from widgets.dashboard import ENGINE_LAYOUTS, Dashboard
from widgets.history_slider import HistorySlider
from widgets.setup_panel import SetupPanel
from widgets.transport_bar import TransportBar

ACTIVE_STATES = ("starting", "running", "paused")
#: Settings that may differ between a saved run and the setup that continues it.
CONTINUABLE_CHANGES = ("lr", "clip", "device")


class MainWindow(TransportMixin, WindowRecordMixin, QtWidgets.QMainWindow):
    """One playground window. ``settings`` pre-fill the setup panel (launch options);
    ``preferences`` (a ``playground.preferences.Preferences``) makes the window remember its
    setup, geometry and toggles across sessions — tests leave it out. ``preview``: before
    the first step, show the untrained network on the probe sequence (step 0), computed by a
    short-lived paused trainer, so a newcomer sees what the views are for."""

    run_state_changed = QtCore.Signal(str)
    frame_shown = QtCore.Signal(int)  # the training step of the frame now on screen
    experiment_saved = QtCore.Signal(str)  # the folder
    experiment_opened = QtCore.Signal(str)

    def __init__(self, settings: dict | None = None, preferences=None, preview=False) -> None:
        super().__init__()
        self.setWindowTitle("Sequence Memory Playground")
        self.setAcceptDrops(True)
        self.controller = TrainingController(self)
        self.preview = TrainingController(self)
        self.preview.update_received.connect(self._on_preview)
        self._preview_timer = QtCore.QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(400)
        self._preview_timer.timeout.connect(self._start_preview)
        self._preview_enabled = bool(preview)
        self.preferences = preferences
        self.experiment = Experiment()
        self._last_update: TrainerUpdate | None = None

        self.setup_panel = SetupPanel([(name, TASKS[name].title) for name in TASKS])
        self.setup_panel.set_devices(
            [(d.name, d.label, d.available, d.reason) for d in available_devices()]
        )
        self.transport = TransportBar()
        self.dashboard = Dashboard()
        self.history_slider = HistorySlider()
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.setToolTip("Which layer the views show")
        self.error_banner = QtWidgets.QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setObjectName("errorBanner")
        self.error_banner.setStyleSheet(
            "QLabel#errorBanner { background: #fde2e1; color: #8a1c14; padding: 6px; }"
        )
        self.error_banner.hide()
        self.stop_trainer_button = QtWidgets.QPushButton("Stop the trainer")
        self.stop_trainer_button.setToolTip("End the trainer process that stopped answering")
        self.stop_trainer_button.hide()
        self._build_layout()
        self.sequence_dock = SequenceDock(self)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, self.sequence_dock)
        self.sequence_dock.hide()
        store = preferences.settings if preferences is not None else None
        self.recent_files = RecentFiles(store)
        self.recent_experiments = RecentFiles(store, key=EXPERIMENTS_KEY)
        self.menus = build_menus(self)
        self.gate_lab = GateLabDock(self)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, self.gate_lab)
        self.gate_lab.hide()
        self.menus.view_menu.addAction(self.gate_lab.toggleViewAction())
        self.forgetting = ForgettingDock(self)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, self.forgetting)
        self.forgetting.hide()
        self.menus.view_menu.addAction(self.forgetting.toggleViewAction())
        self._build_status_bar()
        self._connect()

        initial = merged_settings(settings)
        if preferences is not None:
            initial = merged_settings({**preferences.last_setup(), **(settings or {})})
        if "length" not in (settings or {}) and preferences is None:
            initial["length"] = (
                initial["length"]
                if initial["task"] == "adding"
                else default_length(initial["task"])
            )
        self._on_task_changed(initial["task"])
        self.setup_panel.set_settings(initial)
        self._configure_views(initial["engine"])
        self._bind(self.experiment)
        self._set_state("idle")
        if preferences is not None:
            preferences.restore_window(self)
        self.request_preview()

    # --- layout ------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        central = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(central)
        column.setContentsMargins(4, 4, 4, 4)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.transport)
        top.addStretch(1)
        top.addWidget(QtWidgets.QLabel("layer"))
        top.addWidget(self.layer_combo)
        column.addLayout(top)
        banner = QtWidgets.QHBoxLayout()
        banner.addWidget(self.error_banner, 1)
        banner.addWidget(self.stop_trainer_button)
        column.addLayout(banner)
        column.addWidget(self.dashboard, 1)
        column.addWidget(self.history_slider)
        self.setCentralWidget(central)

        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.setup_panel)
        self.setup_dock = QtWidgets.QDockWidget("Setup", self)
        self.setup_dock.setObjectName("setupDock")
        self.setup_dock.setWidget(scroll)
        self.setup_dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, self.setup_dock)
        self.resize(1500, 950)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_step = QtWidgets.QLabel("step 0")
        self.status_rate = QtWidgets.QLabel("0 steps/s")
        self.status_loss = QtWidgets.QLabel("loss –")
        self.status_device = QtWidgets.QLabel("cpu")
        for label in (self.status_step, self.status_rate, self.status_loss, self.status_device):
            label.setMinimumWidth(90)
            bar.addPermanentWidget(label)

    def _connect(self) -> None:
        c = self.controller
        c.update_received.connect(self._on_update)
        c.state_changed.connect(self._set_state)
        c.run_failed.connect(self._on_run_failed)
        c.responsiveness_changed.connect(self._on_responsiveness)
        # The buttons trigger the same actions as the menus and shortcuts: one enabled state.
        self.transport.toggle_button.clicked.disconnect()
        self.transport.toggle_button.clicked.connect(self.menus.train_action.trigger)
        self.transport.step_button.clicked.disconnect()
        self.transport.step_button.clicked.connect(self.menus.step_action.trigger)
        self.transport.reset_button.clicked.disconnect()
        self.transport.reset_button.clicked.connect(self.menus.reset_action.trigger)
        self.stop_trainer_button.clicked.connect(self.stop_frozen_trainer)
        self.setup_panel.task_changed.connect(self._on_task_changed)
        self.setup_panel.settings_changed.connect(self._on_settings_changed)
        self.setup_panel.live_settings_changed.connect(self._on_live_settings)
        self.history_slider.index_changed.connect(self._on_history_index)
        self.history_slider.live_changed.connect(self._on_history_live)
        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        self.dashboard.cell_hovered.connect(self._on_hover)
        self.dashboard.cursor_moved.connect(lambda t: self.experiment.set_view(cursor=int(t)))
        self.dashboard.unit_selected.connect(lambda u: self.experiment.set_view(unit=u))

    # --- transport (train, pause, toggle_training, step: playground.transport) ---------------
    def reset(self) -> None:
        """Stop the run and forget it; the settings stay as they are. Returns at once."""
        self.controller.shutdown()
        self.experiment.new_run(self.current_spec())
        self.hide_error()
        self._set_state("idle")
        self.request_preview()

    def stop_frozen_trainer(self) -> None:
        """End a trainer that stopped answering and keep the record: its curves and frames
        stay, and Save keeps them with the last saved weights (the frozen trainer's own are
        out of reach). Like a trainer that vanished, Reset comes before training again."""
        message = (
            "The trainer was not answering and was stopped. The record so far is kept: "
            "Save keeps it with the last saved weights; Reset to train again."
        )
        self.controller.shutdown(_next_state="error")
        self.stop_trainer_button.hide()
        self.experiment.message = message
        self.show_error(message)

    def current_spec(self) -> RunSpec:
        return RunSpec(
            settings=self.setup_panel.settings(),
            sequence=self.sequence_dock.user_sequence(),
            probe_sequence=self.sequence_dock.probe_sequence(),
        )

    def can_continue(self, spec: RunSpec) -> bool:
        """The record holds weights that this setup can continue from."""
        exp = self.experiment
        if exp.checkpoint is None or exp.state in ("error",):
            return False
        fixed = {k: v for k, v in spec.settings.items() if k not in CONTINUABLE_CHANGES}
        saved = {k: v for k, v in exp.settings.items() if k not in CONTINUABLE_CHANGES}
        same_data = same_sequence(spec.sequence, exp.spec.sequence)
        return fixed == saved and same_data

    def continued_spec(self, spec: RunSpec) -> RunSpec:
        """The record's own run with what may change when it continues (``spec``'s learning
        rate, clipping, device and probe sequence): everything else the record says about the
        run stays — what the setup panel does not show (a command-line run's evaluation
        interval and task options, a sequence's training window) included."""
        run = self.experiment.spec
        settings = {**run.settings, **{k: spec.settings[k] for k in CONTINUABLE_CHANGES}}
        return replace(run, settings=settings, probe_sequence=spec.probe_sequence)

    def _start(self, autostart: bool) -> bool:
        self._preview_timer.stop()
        self.preview.shutdown()
        spec = self.current_spec()
        continuing = self.can_continue(spec)
        if continuing:
            spec = self.continued_spec(spec)
        try:
            task = spec.validate()
        except ValueError as error:
            self.show_error(f"Cannot start training: {error}")
            return False
        self.hide_error()
        resume = None
        if continuing:
            resume = self.experiment.checkpoint
            self.experiment.continue_run(spec)
        else:
            self.experiment.new_run(spec)
        self._configure_views(spec.settings["engine"])
        self._set_layers(int(spec.settings["layers"]), self.experiment.view.layer)
        self.dashboard.loss_plot.set_baseline(task.baseline_loss, "baseline (no memory)")
        self.status_device.setText(str(spec.settings["device"]))
        self.controller.start(spec, autostart=autostart, resume=resume)
        if self.preferences is not None:
            self.preferences.save_setup(spec.settings)
        return True

    # --- updates from the trainer ------------------------------------------------------------
    def _on_update(self, update: TrainerUpdate) -> None:
        self._last_update = update
        self.experiment.apply_update(update)
        if update.message and update.state != "error":
            self.statusBar().showMessage(update.message, 8000)

    def _on_run_failed(self, message: str) -> None:
        # Kept with the record: a save after a vanished trainer says why its weights are
        # older than its curves (they are the last checkpoint's; training continues there).
        if not self.experiment.message:
            self.experiment.message = message
        self.show_error(message)

    def _on_responsiveness(self, responsive: bool) -> None:
        self.stop_trainer_button.setVisible(not responsive)
        if responsive:
            if self.error_banner.text().startswith("The trainer is not answering"):
                self.hide_error()
            return
        self.status_rate.setText("not answering")
        self.show_error(
            "The trainer is not answering: it may be stuck or frozen. Wait, or stop it "
            "(the record so far is kept)."
        )

    # --- settings ----------------------------------------------------------------------------
    def _on_settings_changed(self, settings: dict) -> None:
        if not self.controller.is_active():
            self._configure_views(settings.get("engine", "lstm"))
            if not len(self.experiment.metrics) and self.experiment.checkpoint is None:
                self.request_preview()

    def _configure_views(self, engine: str) -> None:
        from playground.figure_dialogs import connect_view_exports

        gates, has_cell = ENGINE_LAYOUTS.get(str(engine).lower(), ENGINE_LAYOUTS["lstm"])
        self.dashboard.configure(list(gates), has_cell)
        connect_view_exports(self)  # new heatmaps get their context-menu exports too

    def _set_layers(self, layers: int, current: int = 0) -> None:
        self.experiment.set_view(layer=fill_layer_combo(self.layer_combo, layers, current))

    def _set_state(self, state: str) -> None:
        self.transport.set_state(state if state != "starting" else "running")
        self.setup_panel.set_training(state in ACTIVE_STATES)
        self.menus.set_state(state, self.transport)
        self.experiment.set_state(state)
        self.run_state_changed.emit(state)

    # --- window ------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Close at once: the record is kept as the last experiment (written off this thread
        while the trainer writes its weights there), the trainer is stopped by a reaper."""
        from playground.last_experiment import keep_last_experiment

        save_to = None
        if self.preferences is not None:
            save_to = keep_last_experiment(self, self.preferences.last_experiment_folder())
            self.preferences.save_window(self)
        self._preview_timer.stop()
        self.preview.shutdown()
        self.controller.shutdown(save_to=save_to)
        for compare in getattr(self, "compare_windows", []):
            compare.close()  # each stops its own trainer, off this thread
        horizon = getattr(self, "horizon_dialog", None)
        if horizon is not None:
            horizon.close()  # a running sweep is cancelled: its runs stay resumable
        job = getattr(self, "animation_job", None)
        if job is not None and job.is_running():
            job.cancel()  # a cancelled render leaves no file
        renderer = getattr(self, "figure_renderer", None)
        if renderer is not None:
            renderer.close()
            self.figure_renderer = None
        super().closeEvent(event)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802
        from playground.experiment_files import open_path

        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        for path in paths:
            open_path(self, path)

    def open_sequence_file(self, path: str) -> bool:
        """Load a sequence file into the sequence dock; a bad file changes nothing."""
        loaded = self.sequence_dock.open_file(path)
        if loaded:
            self.sequence_dock.show()
            self.recent_files.add(path)
            self.menus.refresh_recent(self)
        return loaded

    def current_frame(self) -> dict | None:
        return self.dashboard.frame()
