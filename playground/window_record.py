"""How the main window draws the run's record (``playground.experiment.Experiment``).

The record's events (``cleared``, ``metrics_added``, ``frame_added``, ``status_changed``) are
connected here to the views: the loss plot, the history slider, the dashboard and the docks.
Opening an experiment swaps the record and redraws everything from it; the views keep no
state of the run that the record does not hold. Also here: the untrained network shown at
step 0 before the first step, which goes into the record like any frame.
"""

from __future__ import annotations

from playground.experiment import Experiment
from playground.frames import dashboard_frame
from playground.trainer_process import TrainerUpdate


class WindowRecordMixin:
    """Mixed into ``MainWindow``: everything that reads the record to draw it."""

    # --- step 0 before the first step ----------------------------------------------------------
    def request_preview(self) -> None:
        """Show the untrained network soon (debounced: settings change in bursts)."""
        if self._preview_enabled:
            self._preview_timer.start()

    def _start_preview(self) -> None:
        exp = self.experiment
        if self.controller.is_active() or len(exp.metrics):
            return
        if exp.checkpoint is None:
            spec, weights = self.current_spec(), None
        elif len(exp.frames):
            return  # a reopened run shows its own frames
        else:  # loaded weights: show that network at step 0, not the last setup's
            spec, weights = exp.spec, exp.checkpoint
        try:
            spec.validate()
        except ValueError:
            return  # Train will say what is wrong
        self.preview.start(spec, autostart=False, resume=weights)

    def _on_preview(self, update: TrainerUpdate) -> None:
        self.preview.shutdown()
        exp = self.experiment
        if update.frame is None or self.controller.is_active() or len(exp.metrics):
            return
        if exp.checkpoint is None:
            exp.new_run(self.current_spec())
        elif len(exp.frames):
            return
        exp.info = update.info
        self._redraw()
        exp.add_frame(update.frame)

    # --- the record --------------------------------------------------------------------------
    @property
    def history(self):
        """The recorded probe frames (the record's; kept for scripts and tests)."""
        return self.experiment.frames

    def _bind(self, experiment: Experiment) -> None:
        events = experiment.events
        events.cleared.connect(self._redraw)
        events.metrics_added.connect(self._on_metrics_added)
        events.frame_added.connect(self._on_frame_added)
        events.status_changed.connect(self._on_status)

    def set_experiment(self, experiment: Experiment) -> None:
        """Show another record (an opened experiment): the views redraw from it."""
        self.controller.shutdown()
        self.experiment.events.disconnect_all()
        self.experiment = experiment
        self._bind(experiment)
        settings = experiment.settings
        self._on_task_changed(settings["task"])
        self.setup_panel.set_settings(settings)
        self.sequence_dock.restore(experiment.spec)
        self._redraw()
        self._set_state("idle")
        self.forgetting.ask_trainer()  # open: its page is computed on the opened weights

    def _redraw(self) -> None:
        """Draw everything from the record: loss history, baseline, layers, frames."""
        exp = self.experiment
        self._configure_views(exp.info.get("engine", {}).get("kind") or exp.settings["engine"])
        self._set_layers(exp.layers, exp.view.layer)
        loss = self.dashboard.loss_plot
        loss.clear()
        baseline = (exp.info.get("task") or {}).get("baseline_loss")
        if baseline is not None:
            loss.set_baseline(float(baseline), "baseline (no memory)")
        metrics = exp.metrics
        if len(metrics):
            loss.append_train(metrics.train_steps, metrics.train_losses)
        for step, value in zip(metrics.eval_steps, metrics.eval_losses, strict=True):
            loss.append_test(float(step), float(value))
        self.history_slider.set_count(len(exp.frames))
        self.forgetting.clear()
        self.forgetting.redraw()
        if exp.view.history_index >= 0 and len(exp.frames):
            self.history_slider.set_index(exp.view.history_index)
        self._show_history_frame(self.history_slider.index())
        self._configure_lab()
        self.gate_lab.restore(exp.view.interventions)
        if exp.view.unit is not None:
            self.dashboard.select_unit(exp.view.unit)
        self.dashboard.set_cursor(exp.view.cursor)
        self._on_status()

    def _on_metrics_added(self, steps, losses, eval_steps, eval_losses) -> None:
        if len(steps):
            self.dashboard.loss_plot.append_train(steps, losses)
        for step, loss in zip(eval_steps, eval_losses, strict=True):
            self.dashboard.loss_plot.append_test(float(step), float(loss))

    def _on_frame_added(self, index: int) -> None:
        if index == 0:
            self._configure_lab()
        self.history_slider.set_count(len(self.experiment.frames))
        self.forgetting.redraw()
        if self.history_slider.is_live():
            self._show_history_frame(len(self.experiment.frames) - 1)

    def _on_status(self) -> None:
        exp = self.experiment
        self.status_step.setText(f"step {exp.step}")
        self.status_rate.setText(f"{exp.steps_per_second:.0f} steps/s")
        if len(exp.metrics):
            self.status_loss.setText(f"loss {float(exp.metrics.train_losses[-1]):.4g}")
        if len(exp.metrics.eval_metrics):
            metric = exp.info.get("task", {}).get("metric", "metric")
            self.status_loss.setToolTip(f"test {metric}: {float(exp.metrics.eval_metrics[-1]):.4g}")
        self.status_device.setText(exp.device)

    def _show_history_frame(self, index: int) -> None:
        frames = self.experiment.frames
        if not len(frames) or index < 0:
            return
        index = min(max(index, 0), len(frames) - 1)
        frame, gradients = frames[index]
        names = self.experiment.info.get("input_names") or None
        layer = self.experiment.view.layer
        difference = self.gate_lab.difference_shown()
        self.dashboard.show_frame(
            dashboard_frame(frame, layer, 0, names, gradients, difference=difference)
        )
        self.gate_lab.show_frame_losses(frame)
        self.forgetting.show_index(index, live=self.history_slider.is_live())
        self.frame_shown.emit(frame.step)

    def redraw_frame(self) -> None:
        """Draw the frame on screen again (e.g. the gate lab's difference toggle changed)."""
        self._show_history_frame(self.history_slider.index())

    def _configure_lab(self) -> None:
        frames = self.experiment.frames
        steps = frames[len(frames) - 1][0].trace.steps if len(frames) else 0
        self.gate_lab.configure(self.experiment.settings, steps)

    def start_paused_for_lab(self) -> bool:
        """A paused trainer on the record's weights (or a fresh network) for the gate lab."""
        if self.controller.is_active():
            return True
        if self.controller.state == "error":
            self.show_error("Reset first: the last run diverged.")
            return False
        return self._start(autostart=False)

    def _on_history_index(self, index: int) -> None:
        live = index >= len(self.experiment.frames) - 1
        self.experiment.set_view(history_index=-1 if live else int(index))
        self._show_history_frame(index)

    def _on_history_live(self, live: bool) -> None:
        if live:
            self.experiment.set_view(history_index=-1)

    def _on_layer_changed(self, index: int) -> None:
        self.experiment.set_view(layer=max(0, index))
        self.forgetting.redraw()
        if len(self.experiment.frames):
            self._show_history_frame(self.history_slider.index())
