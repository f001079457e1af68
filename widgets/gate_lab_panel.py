"""The gate lab: ask "what if?" of the gates -- clamp one, silence units, replace a bias.

The panel holds a list of interventions as plain dicts (the engines' ``to_dict`` form, see
``widgets.gate_lab_values``) and says so through ``interventions_changed`` whenever the list or
the selected entry changes; the controller sends them to the trainer, which applies them to
the probe only. The controls edit the selected entry live, so dragging the value slider shows
its consequence at once; ``Add`` starts a new entry like the one shown (the controls then
edit the new one), and the presets add theirs. Units are typed
("0-3, 7") or dragged out on a heatmap (``set_region``), steps are a range along time.

Signals
-------
interventions_changed(list)
    The interventions now wanted, as dicts (empty: none). Throttled to ~30 a second while a
    slider is dragged; the first change of a burst goes out at once.
difference_toggled(bool)
    Show the altered run minus the unaltered one.
preset_requested(str)
    A preset that needs the run's data ("memory_unit": which unit holds the memory); the
    controller answers with ``silence_unit(unit)``.
selection_mode_toggled(bool)
    "Select on heatmaps" toggled: heatmaps should select regions with a plain drag.
"""

from __future__ import annotations

import copy

from PySide6 import QtCore, QtWidgets
from superqt import QLabeledDoubleSlider, QLabeledRangeSlider
from superqt.utils import qthrottled

from widgets.equations import intervention_equation, kind_for_gates
from widgets.gate_lab_values import (
    ACTIONS,
    BIAS_RANGE,
    CLAMP_RANGES,
    PRESETS,
    describe,
    format_units,
    parse_units,
)

_HORIZONTAL = QtCore.Qt.Orientation.Horizontal


class GateLabPanel(QtWidgets.QWidget):
    """Controls for interventions on one engine (see :meth:`configure`)."""

    interventions_changed = QtCore.Signal(list)
    difference_toggled = QtCore.Signal(bool)
    preset_requested = QtCore.Signal(str)
    selection_mode_toggled = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self._kind: str | None = None
        self._gate_names: list[str] = []
        self._has_cell = False
        self._hidden = 1
        self._steps = 0
        self._layers = 1
        self._items: list[dict] = []
        self._loading = False  # controls being filled from code: no edits, no emission
        self._emit = qthrottled(self._emit_now, timeout=33, leading=True)

        self.action_combo = QtWidgets.QComboBox()
        for action, text in ACTIONS.items():
            self.action_combo.addItem(text, action)
        self.gate_combo = QtWidgets.QComboBox()
        self.value_slider = QLabeledDoubleSlider(_HORIZONTAL)
        self.value_slider.setDecimals(2)
        self.value_slider.setSingleStep(0.01)
        self.units_edit = QtWidgets.QLineEdit("all")
        self.units_edit.setPlaceholderText("all, or e.g. 0-3, 7")
        self.units_edit.setToolTip("Units: all, a list like 0-3, 7, or Shift+drag on a heatmap")
        self.units_error = QtWidgets.QLabel("")
        self.units_error.setStyleSheet("color: #d9534f;")
        self.every_step_check = QtWidgets.QCheckBox("every step")
        self.every_step_check.setChecked(True)
        self.steps_slider = QLabeledRangeSlider(_HORIZONTAL)
        self.steps_slider.setEnabled(False)
        self.layer_combo = QtWidgets.QComboBox()

        self.add_button = QtWidgets.QPushButton("Add")
        self.add_button.setToolTip("A new intervention like the one shown; the controls edit it")
        self.remove_button = QtWidgets.QPushButton("Remove")
        self.clear_button = QtWidgets.QPushButton("Clear")
        self.clear_button.setToolTip("Remove every intervention: back to the network as it is")
        self.list_widget = QtWidgets.QListWidget()
        self.list_widget.setMinimumHeight(70)
        self.pick_button = QtWidgets.QPushButton("Select on heatmaps")
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("Drag a units × steps rectangle on any heatmap")
        self.difference_check = QtWidgets.QCheckBox("Show difference (altered − original)")
        self.equation_label = QtWidgets.QLabel("")
        self.equation_label.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.equation_label.setWordWrap(True)
        self.loss_label = QtWidgets.QLabel("probe loss —")

        self.preset_buttons: dict[str, QtWidgets.QPushButton] = {}
        presets_box = QtWidgets.QGroupBox("Classic questions")
        presets_layout = QtWidgets.QVBoxLayout(presets_box)
        for name, (_kind, text, _item) in PRESETS.items():
            button = QtWidgets.QPushButton(text)
            button.clicked.connect(lambda _=False, n=name: self.apply_preset(n))
            self.preset_buttons[name] = button
            presets_layout.addWidget(button)

        form = QtWidgets.QFormLayout()
        form.addRow("Do", self.action_combo)
        form.addRow("Gate", self.gate_combo)
        form.addRow("Value", self.value_slider)
        form.addRow("Units", self.units_edit)
        form.addRow("", self.units_error)
        steps_row = QtWidgets.QHBoxLayout()
        steps_row.addWidget(self.every_step_check)
        steps_row.addWidget(self.steps_slider, 1)
        form.addRow("Steps", steps_row)
        form.addRow("Layer", self.layer_combo)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.clear_button):
            buttons.addWidget(button)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.equation_label)
        layout.addLayout(buttons)
        layout.addWidget(self.list_widget, 1)
        layout.addWidget(self.pick_button)
        layout.addWidget(presets_box)
        layout.addWidget(self.difference_check)
        layout.addWidget(self.loss_label)

        self.action_combo.currentIndexChanged.connect(self._on_action_changed)
        self.gate_combo.currentIndexChanged.connect(self._on_gate_changed)
        self.value_slider.valueChanged.connect(self._on_controls_changed)
        self.units_edit.textChanged.connect(self._on_controls_changed)
        self.every_step_check.toggled.connect(self._on_every_step_toggled)
        self.steps_slider.valueChanged.connect(self._on_controls_changed)
        self.layer_combo.currentIndexChanged.connect(self._on_controls_changed)
        self.add_button.clicked.connect(self.add_current)
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(self.clear)
        self.list_widget.currentRowChanged.connect(self._on_row_changed)
        self.pick_button.toggled.connect(self.selection_mode_toggled)
        self.difference_check.toggled.connect(self.difference_toggled)
        self.configure(["input", "forget", "candidate", "output"], True, 1, 0, 1)

    # ------------------------------------------------------------------ structure

    def configure(
        self, gate_names, has_cell: bool, hidden_size: int, steps: int, layers: int = 1
    ) -> None:
        """Fit the controls to an engine: its gates (PyTorch's order), cell state, units, the
        probe's length and the layers. A different engine clears the interventions (and says
        so); a new probe length keeps them (steps past the end apply nowhere)."""
        kind = kind_for_gates(gate_names)
        same_engine = (kind, int(hidden_size), int(layers)) == (
            self._kind,
            self._hidden,
            self._layers,
        )
        self._kind, self._gate_names, self._has_cell = kind, list(gate_names), bool(has_cell)
        self._hidden, self._steps, self._layers = max(1, int(hidden_size)), int(steps), int(layers)
        self._loading = True
        try:
            gate = self.gate_combo.currentData()
            self.gate_combo.clear()
            for name in self._gate_names:
                self.gate_combo.addItem(name, name)
            if gate in self._gate_names:
                self.gate_combo.setCurrentIndex(self._gate_names.index(gate))
            layer = self.layer_combo.currentData()
            self.layer_combo.clear()
            self.layer_combo.addItem("every layer", None)
            for k in range(self._layers):
                self.layer_combo.addItem(f"layer {k + 1}", k)
            if layer is not None and layer < self._layers:
                self.layer_combo.setCurrentIndex(layer + 1)
            last = max(0, self._steps - 1)
            low, high = self.steps_slider.value()
            self.steps_slider.setRange(0, last)
            self.steps_slider.setValue((min(low, last), min(high, last)))
            self.steps_slider.setEnabled(self._steps > 0 and not self.every_step_check.isChecked())
            for name, button in self.preset_buttons.items():
                button.setVisible(PRESETS[name][0] in (None, kind))
            self._fit_value_range()
        finally:
            self._loading = False
        if not same_engine and self._items:
            self._set_items([], emit=True)
        self._show_equation()

    def kind(self) -> str | None:
        return self._kind

    # ------------------------------------------------------------------ the list

    def interventions(self) -> list[dict]:
        """The interventions now wanted, as the engines' dicts."""
        return copy.deepcopy(self._items)

    def set_interventions(self, items: list[dict]) -> None:
        """Show ``items`` (e.g. from a reopened experiment) without emitting."""
        self._set_items([dict(item) for item in items], emit=False)

    def add_current(self) -> dict | None:
        """Add what the controls say as a new entry and select it; None when a control is
        not valid (the units text says why)."""
        item = self.current_item()
        if item is None:
            return None
        self._append(item)
        return item

    def remove_selected(self) -> None:
        row = self.list_widget.currentRow()
        if 0 <= row < len(self._items):
            self._set_items(self._items[:row] + self._items[row + 1 :], emit=True)

    def clear(self) -> None:
        """Remove every intervention, in one click."""
        self._set_items([], emit=bool(self._items))

    def silence_unit(self, unit: int, layer: int | None = None) -> None:
        """Add ``Ablate([unit])`` (the answer to the "memory_unit" preset)."""
        if not 0 <= int(unit) < self._hidden:
            raise ValueError(f"unit must be from 0 to {self._hidden - 1}, got {unit!r}")
        self._append({"type": "ablate", "units": [int(unit)], "steps": None, "layer": layer})

    def apply_preset(self, name: str) -> None:
        """One of ``PRESETS``: added as a new entry, or asked of the controller."""
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
        kind, _text, item = PRESETS[name]
        if kind is not None and kind != self._kind:
            raise ValueError(f"preset {name!r} is for the {kind.upper()}")
        if item is None:
            self.preset_requested.emit(name)
            return
        self._append({"type": "clamp", **item, "units": None, "steps": None, "layer": None})

    # ------------------------------------------------------------------ regions, losses

    def set_region(
        self, unit_lo: int, unit_hi: int, step_lo: int, step_hi: int, view: str | None = None
    ) -> None:
        """Units and steps dragged out on a heatmap (inclusive), from ``region_selected``;
        ``view`` (the heatmap's name) picks its gate when it is one. Edits the selected
        entry, or sets up the next ``Add``."""
        self._loading = True
        try:
            if view in self._gate_names:
                self.gate_combo.setCurrentIndex(self._gate_names.index(view))
            self.units_edit.setText(format_units(list(range(unit_lo, unit_hi + 1)), self._hidden))
            every = step_lo <= 0 and step_hi >= self._steps - 1
            self.every_step_check.setChecked(every)
            self.steps_slider.setValue((step_lo, step_hi))
        finally:
            self._loading = False
        self._on_controls_changed()

    def set_losses(self, before: float | None, after: float | None) -> None:
        """The probe loss of the unaltered and the altered run."""
        if before is None and after is None:
            self.loss_label.setText("probe loss —")
            return
        text = "—" if before is None else f"{before:.4g}"
        self.loss_label.setText(f"probe loss {text} → {'—' if after is None else f'{after:.4g}'}")

    def difference_shown(self) -> bool:
        return self.difference_check.isChecked()

    def equation_text(self) -> str:
        return self.equation_label.text()

    # ------------------------------------------------------------------ controls

    def current_item(self) -> dict | None:
        """What the controls describe, as a dict; None (and a message) when invalid."""
        try:
            units = parse_units(self.units_edit.text(), self._hidden)
        except ValueError as error:
            self.units_error.setText(str(error))
            return None
        self.units_error.setText("")
        action = self.action_combo.currentData()
        layer = self.layer_combo.currentData()
        if action == "set_bias":
            return self._gated("set_bias", units=units, layer=layer)
        steps = None
        if not self.every_step_check.isChecked() and self._steps:
            low, high = (int(v) for v in self.steps_slider.value())
            steps = {"start": low, "stop": high + 1}
        if action == "ablate":
            return {"type": "ablate", "units": units, "steps": steps, "layer": layer}
        return self._gated("clamp", units=units, steps=steps, layer=layer)

    def _gated(self, action: str, **where) -> dict:
        item = {"type": action, "gate": self.gate_combo.currentData()}
        item["value"] = round(float(self.value_slider.value()), 4)
        return {**item, **where}

    def _fit_value_range(self) -> None:
        action = self.action_combo.currentData()
        gate = self.gate_combo.currentData()
        low, high = BIAS_RANGE if action == "set_bias" else CLAMP_RANGES.get(gate, (-1.0, 1.0))
        value = self.value_slider.value()
        self.value_slider.setRange(low, high)
        self.value_slider.setValue(min(max(value, low), high))
        self.gate_combo.setEnabled(action != "ablate")
        self.value_slider.setEnabled(action != "ablate")
        steps_apply = action != "set_bias"
        self.every_step_check.setEnabled(steps_apply)
        self.steps_slider.setEnabled(
            steps_apply and self._steps > 0 and not self.every_step_check.isChecked()
        )

    def _on_action_changed(self) -> None:
        was_loading, self._loading = self._loading, True
        self._fit_value_range()
        self._loading = was_loading
        self._on_controls_changed()

    def _on_gate_changed(self) -> None:
        self._on_action_changed()

    def _on_every_step_toggled(self, checked: bool) -> None:
        self.steps_slider.setEnabled(not checked and self._steps > 0)
        self._on_controls_changed()

    def _on_controls_changed(self, *_args) -> None:
        if self._loading:
            return
        self._show_equation()
        row = self.list_widget.currentRow()
        if not 0 <= row < len(self._items):
            self.current_item()  # validate the units text, so the message shows at once
            return
        item = self.current_item()
        if item is None or item == self._items[row]:
            return
        self._items[row] = item
        self.list_widget.item(row).setText(describe(item))
        self._emit()

    def _on_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._items):
            self._load(self._items[row])
        self.remove_button.setEnabled(0 <= row < len(self._items))

    def _load(self, item: dict) -> None:
        """Fill the controls from an entry without editing it."""
        self._loading = True
        try:
            self.action_combo.setCurrentIndex(list(ACTIONS).index(item["type"]))
            if item.get("gate") in self._gate_names:
                self.gate_combo.setCurrentIndex(self._gate_names.index(item["gate"]))
            self._fit_value_range()
            if "value" in item:
                self.value_slider.setValue(float(item["value"]))
            self.units_edit.setText(format_units(item.get("units"), self._hidden))
            steps = item.get("steps")
            self.every_step_check.setChecked(steps is None)
            if isinstance(steps, dict):
                stop = self._steps if steps.get("stop") is None else steps["stop"]
                self.steps_slider.setValue((steps.get("start", 0), stop - 1))
            elif steps:
                self.steps_slider.setValue((min(steps), max(steps)))
            layer = item.get("layer")
            self.layer_combo.setCurrentIndex(0 if layer is None else int(layer) + 1)
            self._fit_value_range()
        finally:
            self._loading = False
        self._show_equation()

    def _show_equation(self) -> None:
        action = self.action_combo.currentData()
        self.equation_label.setText(
            intervention_equation(
                self._kind or "",
                action,
                self.gate_combo.currentData(),
                float(self.value_slider.value()),
            )
        )

    # ------------------------------------------------------------------ internal

    def _append(self, item: dict) -> None:
        self._set_items([*self._items, item], emit=True, select=len(self._items))

    def _set_items(self, items: list[dict], emit: bool, select: int | None = None) -> None:
        self._items = items
        self.list_widget.blockSignals(True)
        self.list_widget.clear()
        for item in items:
            self.list_widget.addItem(describe(item))
        self.list_widget.blockSignals(False)
        if select is not None:
            self.list_widget.setCurrentRow(select)
        else:
            self.remove_button.setEnabled(False)
        if emit:
            self._emit()

    def _emit_now(self) -> None:
        self.interventions_changed.emit(self.interventions())
