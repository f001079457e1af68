"""What the main window and the compare window do alike with their trainer: Train, Pause,
Step, the live learning rate and clipping, the task's length range, the error banner and the
layer chooser.

Both windows drive a controller with the same protocol (``state``, ``is_active()``,
``resume()``, ``pause()``, ``step(n)``, ``set_learning_rate``, ``set_clip``) and gate Train
and Step on the transport bar (their menu actions mirror its buttons), so the rules live
here once: a paused run resumes, a running one is left alone, anything else starts.
"""

from __future__ import annotations

from PySide6 import QtWidgets

from engines.tasks.registry import TASKS, length_range

RUNNING_STATES = ("running", "starting")


class TransportMixin:
    """Mixed into a window with ``controller``, ``transport``, ``setup_panel``,
    ``error_banner`` and ``_start(autostart) -> bool`` (builds and starts the run, says why
    not in the window)."""

    def train(self) -> None:
        """Start a run from the setup, or resume a paused one; continue a saved or loaded
        one from its step when the setup still fits it."""
        state = self.controller.state
        if state == "paused":
            self.controller.resume()
        elif state not in RUNNING_STATES and self.transport.toggle_button.isEnabled():
            self._start(autostart=True)

    def pause(self) -> None:
        if self.controller.state in RUNNING_STATES:
            self.controller.pause()

    def toggle_training(self) -> None:
        if self.controller.state in RUNNING_STATES:
            self.pause()
        else:
            self.train()

    def step(self) -> None:
        """One training step; starts a paused run first if there is none."""
        if not self.transport.step_button.isEnabled() or self.controller.state == "running":
            return
        if not self.controller.is_active() and not self._start(autostart=False):
            return
        self.controller.step(1)

    def _on_task_changed(self, name: str) -> None:
        if name in TASKS:
            lo, hi = length_range(name)
            self.setup_panel.set_length_range(lo, hi, TASKS[name].length_label)

    def _on_live_settings(self, values: dict) -> None:
        if self.controller.is_active():
            if "lr" in values:
                self.controller.set_learning_rate(values["lr"])
            if "clip" in values:
                self.controller.set_clip(values["clip"])

    def show_error(self, message: str) -> None:
        """Say what went wrong in the window (banner + status bar); nothing is lost."""
        self.error_banner.setText(message)
        self.error_banner.show()
        self.statusBar().showMessage(message.splitlines()[0], 15000)

    def hide_error(self) -> None:
        self.error_banner.hide()
        self.error_banner.clear()

    def _on_hover(self, view: str, unit: int, step: int, value: float) -> None:
        self.statusBar().showMessage(f"{view}: unit {unit}, step {step}, value {value:.4g}", 3000)


def fill_layer_combo(combo: QtWidgets.QComboBox, layers: int, current: int = 0) -> int:
    """List ``layers`` layers in ``combo`` ("1 of 3", …) with ``current`` (clamped) chosen,
    without emitting its change signal; returns the layer chosen, for the record's view."""
    current = min(max(0, current), layers - 1)
    combo.blockSignals(True)
    combo.clear()
    combo.addItems([f"{k + 1} of {layers}" for k in range(layers)])
    combo.setCurrentIndex(current)
    combo.blockSignals(False)
    combo.setEnabled(layers > 1)
    return current
