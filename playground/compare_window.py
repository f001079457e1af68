"""Compare engines: two or three engines learning the same sequences side by side.

The window drives a ``CompareController`` (the engines in lockstep in one trainer process)
and puts its updates into a ``playground.comparison.Comparison`` (one record per engine, one
cursor, one history), which ``CompareViews`` draws. The shared settings (task, data seed,
optimizer, learning rate, batch, clipping) come from the single run's setup panel with its
engine rows hidden; each engine's own settings, weights seed and parameter count from an
``EngineSetup``, with ready-made comparisons and "match parameter counts". Train, Pause,
Step, Reset, the learning rate and clipping apply to every engine.

Opened from the main window (Training ▸ Compare Engines…) as ``CompareWindow(settings)``;
``open_comparison(path)`` shows a saved comparison.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from engines.tasks.registry import TASKS
from playground import compare_files
from playground.compare_controller import CompareController
from playground.compare_spec import (
    ENGINE_KEYS,
    PRESETS,
    CompareSpec,
    engine_parameters,
    match_hidden_sizes,
)
from playground.compare_views import CompareViews
from playground.comparison import Comparison
from playground.run_spec import RunSpec, merged_settings
from playground.transport import TransportMixin
from widgets.engine_setup import EngineSetup
from widgets.setup_panel import SetupPanel
from widgets.transport_bar import TransportBar

ACTIVE_STATES = ("starting", "running", "paused")
#: Settings that may differ between a saved comparison and the setup that continues it.
CONTINUABLE_CHANGES = ("lr", "clip", "device")
DEFAULT_PRESET = "RNN vs LSTM vs GRU"


class CompareWindow(TransportMixin, QtWidgets.QMainWindow):
    """The compare window. ``settings`` (the main window's setup, or launch options) fill the
    shared settings and the engines' defaults (hidden size, layers, init, forget bias); the
    engines start as RNN, LSTM and GRU with weights seeds seed, seed + 1, seed + 2.

    Signals
    -------
    run_state_changed(str)
    comparison_saved(str), comparison_opened(str)
        The folder.

    ``views.frames_shown(int)`` reports each set of frames drawn (the training step).
    """

    run_state_changed = QtCore.Signal(str)
    comparison_saved = QtCore.Signal(str)
    comparison_opened = QtCore.Signal(str)

    def __init__(self, settings: dict | None = None, parent=None, preview: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare engines — Sequence Memory Playground")
        self.controller = CompareController(self)
        # Before the first step: the untrained engines on the probe sequence (step 0), from
        # a short-lived paused trainer, as in the main window.
        self._preview_enabled = bool(preview)
        self.preview = CompareController(self)
        self.preview.update_received.connect(self._on_preview)
        self._preview_timer = QtCore.QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(300)  # settings change in bursts
        self._preview_timer.timeout.connect(self._start_preview)
        self.comparison = Comparison()
        self._sizes: dict[tuple, tuple[int, int] | None] = {}
        self._seed: int | None = None
        self.setup_panel = SetupPanel([(name, TASKS[name].title) for name in TASKS])
        self.engine_setup = EngineSetup(PRESETS)
        self.transport = TransportBar()
        self.views = CompareViews(self._parameter_counts)
        self.error_banner = QtWidgets.QLabel()
        self.error_banner.setWordWrap(True)
        self.error_banner.setStyleSheet(
            "QLabel { background: #fde2e1; color: #8a1c14; padding: 6px; }"
        )
        self.error_banner.hide()
        self._build_layout()
        self._build_actions()
        self._connect()

        common = merged_settings(settings)
        self._on_task_changed(common["task"])
        self.setup_panel.set_settings(common)
        engines = [{**{k: common[k] for k in ENGINE_KEYS}, **e} for e in PRESETS[DEFAULT_PRESET]]
        self.engine_setup.set_engines(engines, [int(common["seed"]) + i for i in range(3)])
        self.views.bind(self.comparison)
        self._set_state("idle")
        self.request_preview()

    # --- layout ------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        panel = self.setup_panel
        own = (
            panel.engine_combo,
            panel.layers_spin,
            panel.hidden_spin,
            panel.init_combo,
            panel.forget_bias_spin,
        )
        for field in own:  # each engine's own settings live in the engine rows
            panel.layout().setRowVisible(field, False)
        panel.seed_spin.setToolTip("The data seed: every engine's batches, held-out and probe sets")
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.transport)
        top.addStretch(1)
        top.addWidget(QtWidgets.QLabel("layer"))
        top.addWidget(self.views.layer_combo)
        central = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(central)
        column.setContentsMargins(4, 4, 4, 4)
        column.addLayout(top)
        column.addWidget(self.engine_setup)
        column.addWidget(self.error_banner)
        column.addWidget(self.views, 1)
        self.setCentralWidget(central)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(panel)
        dock = QtWidgets.QDockWidget("Shared settings", self)
        dock.setObjectName("compareSetupDock")
        dock.setWidget(scroll)
        dock.setFeatures(QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        bar = self.statusBar()
        self.status_step = QtWidgets.QLabel("step 0")
        self.status_rate = QtWidgets.QLabel("0 steps/s")
        for label in (self.status_step, self.status_rate):
            label.setMinimumWidth(90)
            bar.addPermanentWidget(label)
        self.resize(1600, 1000)

    def _build_actions(self) -> None:
        def action(menu, text, shortcut, slot):
            made = QtGui.QAction(text, self)
            made.setShortcut(QtGui.QKeySequence(shortcut))
            made.triggered.connect(slot)
            menu.addAction(made)
            return made

        files = self.menuBar().addMenu("&File")
        action(files, "&Open Comparison…", "Ctrl+O", self._open_dialog)
        action(files, "&Save Comparison", "Ctrl+S", lambda: self.save_comparison())
        action(
            files, "Save Comparison &As…", "Ctrl+Shift+S", lambda: self.save_comparison(ask=True)
        )
        files.addSeparator()
        action(files, "&Close", "Ctrl+W", self.close)
        # Quit from here too, as from the main window: every window closes, none waits.
        action(files, "&Quit", "Ctrl+Q", QtWidgets.QApplication.closeAllWindows)
        training = self.menuBar().addMenu("&Training")
        self.train_action = action(training, "&Train", "Space", self.toggle_training)
        self.step_action = action(training, "&Step", "F10", self.step)
        self.reset_action = action(training, "&Reset", "Ctrl+R", self.reset)
        training.addSeparator()
        self.match_action = action(
            training, "&Match Parameter Counts", "Ctrl+M", self.match_parameter_counts
        )

    def _connect(self) -> None:
        c = self.controller
        c.update_received.connect(self._on_update)
        c.state_changed.connect(self._set_state)
        c.run_failed.connect(self.show_error)
        self.transport.train_requested.connect(self.train)
        self.transport.pause_requested.connect(self.pause)
        self.transport.step_requested.connect(self.step)
        self.transport.reset_requested.connect(self.reset)
        self.setup_panel.task_changed.connect(self._on_task_changed)
        self.setup_panel.settings_changed.connect(lambda _settings: self._on_setup_changed())
        self.setup_panel.live_settings_changed.connect(self._on_live_settings)
        self.engine_setup.engines_changed.connect(self._on_setup_changed)
        self.engine_setup.match_requested.connect(self.match_parameter_counts)
        self.views.cell_hovered.connect(self._on_hover)

    # --- the record --------------------------------------------------------------------------
    def set_comparison(self, comparison: Comparison) -> None:
        """Show another record (an opened comparison): its settings fill the setup and
        every view redraws from it."""
        self.controller.shutdown()
        self.comparison.events.status_changed.disconnect(self._on_status)
        self.comparison = comparison
        spec = comparison.spec
        self._on_task_changed(spec.specs[0].settings["task"])
        self._seed = spec.data_seed  # the saved weights seeds stay
        self.setup_panel.set_settings(spec.specs[0].settings)
        self.engine_setup.set_engines(spec.engines(), list(spec.weights_seeds))
        self.views.bind(comparison)
        self._set_state("idle")

    @property
    def comparison(self) -> Comparison:
        return self._comparison

    @comparison.setter
    def comparison(self, comparison: Comparison) -> None:
        self._comparison = comparison
        comparison.events.status_changed.connect(self._on_status)

    # --- transport (train, pause, toggle_training, step: playground.transport) ---------------
    def current_spec(self) -> CompareSpec:
        return CompareSpec.from_settings(
            self.setup_panel.settings(),
            self.engine_setup.engines(),
            self.engine_setup.weights_seeds(),
        )

    def reset(self) -> None:
        """Stop and forget the comparison; the settings stay. Returns at once."""
        self.controller.shutdown()
        self.comparison.new_run(self.current_spec())
        self.hide_error()
        self._set_state("idle")
        self.request_preview()

    # --- step 0 before the first step ----------------------------------------------------------
    def request_preview(self) -> None:
        if self._preview_enabled:
            self._preview_timer.start()

    def _started(self) -> bool:
        """Trained, or holding weights to continue from: no preview then."""
        comparison = self.comparison
        trained = any(len(e.metrics) for e in comparison.experiments)
        return trained or comparison.checkpoints() is not None or self.controller.is_active()

    def _start_preview(self) -> None:
        if self._started():
            return
        spec = self.current_spec()
        try:
            spec.validate()
        except ValueError:
            return  # Train will say what is wrong
        self.preview.start(spec, autostart=False)

    def _on_preview(self, update) -> None:
        self.preview.shutdown()
        if self._started():
            return
        spec = self.current_spec()
        if any(len(e.frames) for e in self.comparison.experiments) or self.comparison.spec != spec:
            self.comparison.new_run(spec)  # an older preview's frames go
        self.comparison.add_preview(update)

    def can_continue(self, spec: CompareSpec) -> bool:
        """The record holds every engine's weights at one step, and ``spec`` trains the same
        engines from the same weights seeds on the same data."""
        held = self.comparison
        if held.checkpoints() is None or held.state == "error" or held.spec is None:
            return False

        def fixed(compared: CompareSpec) -> list[dict]:
            return [
                {k: v for k, v in run.settings.items() if k not in CONTINUABLE_CHANGES}
                for run in compared.specs
            ]

        return fixed(spec) == fixed(held.spec) and spec.weights_seeds == held.spec.weights_seeds

    def _start(self, autostart: bool) -> bool:
        self._preview_timer.stop()
        self.preview.shutdown()
        spec = self.current_spec()
        try:
            spec.validate()
        except ValueError as error:
            self.show_error(f"Cannot start the comparison: {error}")
            return False
        self.hide_error()
        resume = None
        if self.can_continue(spec):
            resume = self.comparison.checkpoints()
            self.comparison.spec = spec
            for exp, run in zip(self.comparison.experiments, spec.specs, strict=True):
                exp.spec = run
        else:
            self.comparison.new_run(spec)
        self.controller.start(spec, autostart=autostart, resume=resume)
        return True

    def _on_update(self, update) -> None:
        self.comparison.apply_update(update)
        if update.message and update.state != "error":
            self.statusBar().showMessage(update.message, 8000)

    def _on_status(self) -> None:
        comparison = self.comparison
        self.status_step.setText(f"step {comparison.step}")
        self.status_rate.setText(f"{comparison.steps_per_second:.0f} steps/s")

    def _set_state(self, state: str) -> None:
        self.transport.set_state({"starting": "running", "stopped": "finished"}.get(state, state))
        active = state in ACTIVE_STATES
        self.setup_panel.set_training(active)
        self.engine_setup.set_training(active)
        self.train_action.setText("&Pause" if state in ("running", "starting") else "&Train")
        self.train_action.setEnabled(self.transport.toggle_button.isEnabled())
        self.step_action.setEnabled(self.transport.step_button.isEnabled())
        self.match_action.setEnabled(not active)
        self.comparison.set_state(state)
        self.run_state_changed.emit(state)

    # --- settings ----------------------------------------------------------------------------
    def _on_setup_changed(self) -> None:
        """A new data seed gives new weights seeds (seed + i); the parameter counts follow
        the setup, and so do the views while nothing is recorded."""
        seed = int(self.setup_panel.settings()["seed"])
        if self._seed is not None and seed != self._seed and not self.controller.is_active():
            self._seed = seed
            count = self.engine_setup.count()
            self.engine_setup.set_weights_seeds([seed + i for i in range(count)])
            return  # set_weights_seeds comes back here
        self._seed = seed
        spec = self.current_spec()
        self.engine_setup.set_parameter_counts(self._parameter_counts(spec))
        if not self._started():
            self.comparison.new_run(spec)  # the views follow the setup, a preview soon after
            self.request_preview()

    def _task_sizes(self, settings: dict) -> tuple[int, int] | None:
        """(inputs, outputs) of the task, or None when it cannot be built with ``settings``."""
        key = (settings["task"], int(settings["length"]))
        if key not in self._sizes:
            try:
                task = RunSpec(settings=settings).build_task()
                self._sizes[key] = (task.input_size, task.output_size)
            except ValueError:
                self._sizes[key] = None
        return self._sizes[key]

    def _parameter_counts(self, spec: CompareSpec) -> list[int | None]:
        sizes = self._task_sizes(spec.specs[0].settings)
        if sizes is None:
            return [None] * len(spec.specs)
        return [engine_parameters(engine, *sizes) for engine in spec.engines()]

    def match_parameter_counts(self) -> bool:
        """Hidden sizes that bring the engines within 5 % of the first one's parameters."""
        if self.controller.is_active():
            return False
        sizes = self._task_sizes(self.setup_panel.settings())
        engines = self.engine_setup.engines()
        try:
            if sizes is None:
                raise ValueError("the task cannot be built with these settings")
            hidden = match_hidden_sizes(engines, *sizes)
        except ValueError as error:
            self.show_error(f"Cannot match the parameter counts: {error}")
            return False
        self.hide_error()
        matched = [{**engine, "hidden": h} for engine, h in zip(engines, hidden, strict=True)]
        self.engine_setup.set_engines(matched, self.engine_setup.weights_seeds())
        return True

    # --- files -------------------------------------------------------------------------------
    def save_comparison(self, path=None, ask: bool = False):
        """Save to ``path`` (default: the folder it came from; a dialog asks when there is
        none or ``ask``). Returns the save job; ``comparison_saved`` says when it is done."""
        if path is None and not ask:
            path = self.comparison.path
        return compare_files.save_comparison(self, path)

    def _open_dialog(self) -> bool:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open comparison (a folder)")
        return bool(path) and self.open_comparison(path)

    def open_comparison(self, path) -> bool:
        """Show the comparison saved in ``path``; a bad folder is refused with a message and
        changes nothing."""
        comparison = compare_files.read_comparison(self, path)
        if comparison is None:
            return False
        self.hide_error()
        self.set_comparison(comparison)
        if comparison.notes:
            self.statusBar().showMessage("; ".join(comparison.notes), 15000)
        self.setWindowTitle(f"Compare engines — {comparison.path.name}")
        self.comparison_opened.emit(str(path))
        return True

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Close at once: the trainer is stopped by the controller's reaper thread."""
        self._preview_timer.stop()
        self.preview.shutdown()
        self.controller.shutdown()
        super().closeEvent(event)
