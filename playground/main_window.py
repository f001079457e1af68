"""The main window: setup panel, transport, the live dashboard, history and status.

It wires widgets (numpy in, signals out) to the training controller (which owns the trainer
process). It never trains or probes itself, so the event loop stays free.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from engines.devices import available_devices
from engines.tasks.registry import TASKS, default_length, length_range
from playground.frames import FrameHistory, dashboard_frame
from playground.recent_files import RecentFiles
from playground.run_spec import RunSpec, merged_settings
from playground.sequence_dock import SequenceDock
from playground.trainer_process import TrainerUpdate
from playground.training_controller import TrainingController
from playground.window_menus import build_menus
from widgets.dashboard import ENGINE_LAYOUTS, Dashboard
from widgets.history_slider import HistorySlider
from widgets.setup_panel import SetupPanel
from widgets.transport_bar import TransportBar

ACTIVE_STATES = ("starting", "running", "paused")


class MainWindow(QtWidgets.QMainWindow):
    """One playground window. ``settings`` pre-fill the setup panel (launch options)."""

    run_state_changed = QtCore.Signal(str)
    frame_shown = QtCore.Signal(int)  # the training step of the frame now on screen

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Sequence Memory Playground")
        self.setAcceptDrops(True)
        self.controller = TrainingController(self)
        self.history = FrameHistory()
        self._info: dict = {}
        self._last_gradients = None
        self._last_update: TrainerUpdate | None = None
        self._layer = 0

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
        self._build_layout()
        self.sequence_dock = SequenceDock(self)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, self.sequence_dock)
        self.sequence_dock.hide()
        self.recent_files = RecentFiles()
        self.menus = build_menus(self)
        self._build_status_bar()
        self._connect()

        initial = merged_settings(settings)
        if "length" not in (settings or {}):
            initial["length"] = (
                initial["length"]
                if initial["task"] == "adding"
                else default_length(initial["task"])
            )
        self._on_task_changed(initial["task"])
        self.setup_panel.set_settings(initial)
        self._configure_views(initial["engine"])
        self._set_state("idle")

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
        column.addWidget(self.error_banner)
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
        self.transport.train_requested.connect(self.train)
        self.transport.pause_requested.connect(self.pause)
        self.transport.step_requested.connect(self.step)
        self.transport.reset_requested.connect(self.reset)
        self.setup_panel.task_changed.connect(self._on_task_changed)
        self.setup_panel.settings_changed.connect(self._on_settings_changed)
        self.setup_panel.live_settings_changed.connect(self._on_live_settings)
        self.history_slider.index_changed.connect(self._show_history_frame)
        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        self.dashboard.cell_hovered.connect(self._on_hover)

    # --- transport ---------------------------------------------------------------------------
    def train(self) -> None:
        """Start a run from the panel's settings, or resume a paused one."""
        if self.controller.state == "paused":
            self.controller.resume()
            return
        if self.controller.state in ("running", "starting"):
            return
        self._start(autostart=True)

    def pause(self) -> None:
        if self.controller.state == "running":
            self.controller.pause()

    def toggle_training(self) -> None:
        if self.controller.state == "running":
            self.pause()
        else:
            self.train()

    def step(self) -> None:
        """One training step; starts a paused run first if there is none."""
        if self.controller.state in ("running",):
            return
        if not self.controller.is_active() and not self._start(autostart=False):
            return
        self.controller.step(1)

    def reset(self) -> None:
        """Stop the run and forget it; the settings stay as they are."""
        self.controller.shutdown()
        self._clear_run_views()
        self._set_state("idle")

    def current_spec(self) -> RunSpec:
        return RunSpec(
            settings=self.setup_panel.settings(),
            sequence=self.sequence_dock.user_sequence(),
            probe_sequence=self.sequence_dock.probe_sequence(),
        )

    def _start(self, autostart: bool) -> bool:
        spec = self.current_spec()
        try:
            task = spec.validate()
        except ValueError as error:
            self.show_error(f"Cannot start training: {error}")
            return False
        self.hide_error()
        self._clear_run_views()
        self._configure_views(spec.settings["engine"])
        self._set_layers(int(spec.settings["layers"]))
        self.dashboard.loss_plot.set_baseline(task.baseline_loss, "baseline (no memory)")
        self.status_device.setText(str(spec.settings["device"]))
        self.controller.start(spec, autostart=autostart)
        return True

    # --- updates from the trainer ------------------------------------------------------------
    def _on_update(self, update: TrainerUpdate) -> None:
        self._last_update = update
        self._info = update.info or self._info
        if len(update.steps):
            self.dashboard.loss_plot.append_train(update.steps, update.losses)
        for step, loss in zip(update.eval_steps, update.eval_losses, strict=True):
            self.dashboard.loss_plot.append_test(float(step), float(loss))
        if update.frame is not None:
            if update.frame.gradients is not None:
                self._last_gradients = update.frame.gradients
            self.history.append(update.frame, self._last_gradients)
            self.history_slider.set_count(len(self.history))
            if self.history_slider.is_live():
                self._show_history_frame(len(self.history) - 1)
        self.status_step.setText(f"step {update.step}")
        self.status_rate.setText(f"{update.steps_per_second:.0f} steps/s")
        if len(update.losses):
            self.status_loss.setText(f"loss {float(update.losses[-1]):.4g}")
        if len(update.eval_metrics):
            metric = self._info.get("task", {}).get("metric", "metric")
            self.status_loss.setToolTip(f"test {metric}: {float(update.eval_metrics[-1]):.4g}")
        self.status_device.setText(update.device)
        if update.message and update.state != "error":
            self.statusBar().showMessage(update.message, 8000)

    def _show_history_frame(self, index: int) -> None:
        if not len(self.history):
            return
        index = min(max(index, 0), len(self.history) - 1)
        frame, gradients = self.history[index]
        names = self._info.get("input_names") or None
        self.dashboard.show_frame(dashboard_frame(frame, self._layer, 0, names, gradients))
        self.frame_shown.emit(frame.step)

    def _on_layer_changed(self, index: int) -> None:
        self._layer = max(0, index)
        if len(self.history):
            self._show_history_frame(self.history_slider.index())

    def _on_run_failed(self, message: str) -> None:
        self.show_error(message)

    def _on_hover(self, view: str, unit: int, step: int, value: float) -> None:
        self.statusBar().showMessage(f"{view}: unit {unit}, step {step}, value {value:.4g}", 3000)

    # --- settings ----------------------------------------------------------------------------
    def _on_task_changed(self, name: str) -> None:
        if name in TASKS:
            lo, hi = length_range(name)
            self.setup_panel.set_length_range(lo, hi, TASKS[name].length_label)

    def _on_settings_changed(self, settings: dict) -> None:
        if not self.controller.is_active():
            self._configure_views(settings.get("engine", "lstm"))

    def _on_live_settings(self, values: dict) -> None:
        if self.controller.is_active():
            if "lr" in values:
                self.controller.set_learning_rate(values["lr"])
            if "clip" in values:
                self.controller.set_clip(values["clip"])

    def _configure_views(self, engine: str) -> None:
        gates, has_cell = ENGINE_LAYOUTS.get(str(engine).lower(), ENGINE_LAYOUTS["lstm"])
        self.dashboard.configure(list(gates), has_cell)

    def _set_layers(self, layers: int) -> None:
        self.layer_combo.blockSignals(True)
        self.layer_combo.clear()
        self.layer_combo.addItems([f"{k + 1} of {layers}" for k in range(layers)])
        self.layer_combo.blockSignals(False)
        self.layer_combo.setEnabled(layers > 1)
        self._layer = 0

    def _clear_run_views(self) -> None:
        self.history.clear()
        self.history_slider.set_count(0)
        self._last_gradients = None
        self._last_update = None
        self.dashboard.loss_plot.clear()

    def _set_state(self, state: str) -> None:
        self.transport.set_state(state if state != "starting" else "running")
        self.setup_panel.set_training(state in ACTIVE_STATES)
        self.menus.set_state(state)
        self.run_state_changed.emit(state)

    # --- messages ----------------------------------------------------------------------------
    def show_error(self, message: str) -> None:
        """Say what went wrong in the window (banner + status bar); nothing is lost."""
        self.error_banner.setText(message)
        self.error_banner.show()
        self.statusBar().showMessage(message.splitlines()[0], 15000)

    def hide_error(self) -> None:
        self.error_banner.hide()
        self.error_banner.clear()

    # --- window ------------------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.controller.shutdown()
        super().closeEvent(event)

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        for path in paths:
            self.open_sequence_file(path)

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
