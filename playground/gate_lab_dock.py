"""The gate lab in the main window: the panel (``widgets.gate_lab_panel``) wired to the
trainer and the record.

The panel's interventions travel to the trainer as ``SetInterventions``; the trainer applies
them to the probe only (never to training or the weights), so the next frame carries the
altered run, the unaltered one (``ProbeFrame.reference``) and both probe losses, and the
window draws that frame from the record like any other. With no run alive (a reopened
experiment, loaded weights, a fresh setup) a paused trainer is started on the record's
weights, so "what if?" works at once; while training, the interventions follow the network
as it learns.
"""

from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from engines.commands import SetInterventions
from playground.dock_layout import keep_beside_dashboard
from widgets.gate_lab_panel import GateLabPanel


class GateLabDock(QtWidgets.QDockWidget):
    def __init__(self, window) -> None:
        super().__init__("Gate lab", window)
        self.setObjectName("gateLabDock")
        self.window_ = window
        self.panel = GateLabPanel()
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.panel)
        self.setWidget(scroll)
        self._sent: tuple = ()
        self.panel.interventions_changed.connect(self._on_interventions)
        self.panel.difference_toggled.connect(lambda _on: window.redraw_frame())
        self.panel.preset_requested.connect(self._on_preset)
        self.panel.selection_mode_toggled.connect(self._on_selection_mode)
        dashboard = window.dashboard
        for name, view in dashboard.heatmaps().items():
            self._wire_heatmap(name, view)
        window.controller.state_changed.connect(self._on_state)
        toggle = self.toggleViewAction()
        toggle.setShortcut(QtGui.QKeySequence("Ctrl+G"))
        toggle.setText("&Gate lab")
        keep_beside_dashboard(self, window)

    # --- what the window calls -------------------------------------------------------------
    def configure(self, settings: dict, steps: int) -> None:
        """Fit the controls to the engine being shown (``steps``: the probe's length)."""
        from widgets.dashboard import ENGINE_LAYOUTS

        gates, has_cell = ENGINE_LAYOUTS.get(
            str(settings["engine"]).lower(), ENGINE_LAYOUTS["lstm"]
        )
        self.panel.configure(
            gates, has_cell, int(settings["hidden"]), int(steps), int(settings["layers"])
        )
        for name, view in self.window_.dashboard.heatmaps().items():
            self._wire_heatmap(name, view)

    def show_frame_losses(self, frame) -> None:
        if frame is None or not getattr(frame, "interventions", ()):
            self.panel.set_losses(None, None)
            return
        self.panel.set_losses(frame.reference_loss, frame.probe_loss)

    def difference_shown(self) -> bool:
        return self.panel.difference_shown()

    def interventions(self) -> tuple:
        return self._sent

    # --- internals -------------------------------------------------------------------------
    def _wire_heatmap(self, name: str, view) -> None:
        if view.property("gate_lab_wired"):
            return
        view.setProperty("gate_lab_wired", True)
        view.region_selected.connect(
            lambda u0, u1, t0, t1, n=name: self.panel.set_region(u0, u1, t0, t1, view=n)
        )

    def _on_selection_mode(self, on: bool) -> None:
        for view in self.window_.dashboard.heatmaps().values():
            view.set_selection_mode(on)

    def restore(self, items) -> None:
        """Show a reopened experiment's interventions; they apply once a trainer runs."""
        self._sent = tuple(dict(item) for item in items)
        self.panel.set_interventions(list(self._sent))

    def _on_interventions(self, items: list) -> None:
        self._sent = tuple(items)
        window = self.window_
        window.experiment.set_view(interventions=self._sent)
        controller = window.controller
        if not controller.is_active():
            if not items:
                return
            if not window.start_paused_for_lab():
                return
        controller.send_command(SetInterventions(tuple(items)))

    def _on_state(self, state: str) -> None:
        # A new trainer starts without interventions: give it the ones the panel shows.
        if state in ("running", "paused") and self._sent:
            self.window_.controller.send_command(SetInterventions(self._sent))

    def _on_preset(self, name: str) -> None:
        if name != "memory_unit":
            return
        from engines.interventions import memory_unit

        shown = self.window_.experiment.shown_frame()
        if shown is None:
            self.window_.show_error("Train or Step first: the memory unit is found in a probe.")
            return
        frame = shown[0]
        layer = self.window_.experiment.view.layer
        trace = frame.reference if frame.reference is not None else frame.trace
        task = (self.window_.experiment.info.get("task") or {}).get("task")
        try:
            unit = memory_unit(trace, marked_steps(frame.inputs, task), layer=layer)
        except ValueError as error:
            self.window_.show_error(f"Cannot find the memory unit: {error}")
            return
        self.panel.silence_unit(unit, layer=layer)
        self.window_.statusBar().showMessage(
            f"Silenced unit {unit} of layer {layer + 1}: the largest change of the "
            + ("cell state" if trace.cell is not None else "hidden state")
            + " across the marked steps",
            8000,
        )


def marked_steps(inputs, task: str | None):
    """The steps that carry what must be remembered, as a (batch, time) mask: the adding
    problem's marker channel; for other tasks every step with a non-zero input (memory tasks
    show what is to be kept as input, and silence while it must be held)."""
    if task == "adding" and inputs.shape[-1] >= 2:
        return inputs[..., 1] > 0.5
    return (inputs != 0).any(axis=-1)
