"""The experiment set-up form: task, model, device, optimiser and seed.

Values leave the panel as one plain dict (:meth:`SetupPanel.settings`) so the controller never
reads a widget. Engine, optimiser and initialisation travel as lower-case identifiers
(``"lstm"``, ``"adam"``, ``"orthogonal"``); :meth:`SetupPanel.set_settings` accepts any case.
While a run is active only the learning rate and gradient clipping stay editable: they are the
settings a running optimiser can take without restarting (``live_settings_changed``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from resources.default_settings import DEFAULT_SETTINGS

ENGINES = (("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU"))
OPTIMIZERS = (("adam", "Adam"), ("sgd", "SGD"), ("rmsprop", "RMSprop"))
INITS = (
    ("default", "default"),
    ("orthogonal", "orthogonal"),
    ("identity", "identity"),
    ("chrono", "chrono (LSTM/GRU)"),
)

DEFAULTS = DEFAULT_SETTINGS

#: Settings a running trainer accepts between steps.
LIVE_KEYS = ("lr", "clip")


class LogSpinBox(QtWidgets.QDoubleSpinBox):
    """A positive number spin box that steps along 1-2-5 decades and reads ``5e-3``.

    Learning rates span orders of magnitude; linear steps of 0.001 are useless at 1e-5 and
    tedious at 0.5.
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(1e-7, 10.0)
        self.setKeyboardTracking(False)

    def stepBy(self, steps: int) -> None:
        value = self.value()
        exponent = math.floor(math.log10(value))
        mantissa = value / 10**exponent
        ladder = (1.0, 2.0, 5.0)
        # Position on the ladder (index 0..2) of the largest rung <= mantissa, tolerant to rounding.
        rung = max(i for i, m in enumerate(ladder) if m <= mantissa * (1 + 1e-9))
        on_rung = math.isclose(mantissa, ladder[rung], rel_tol=1e-9)
        if steps < 0 and not on_rung:
            steps += 1  # first step down lands on the rung just below
        position = exponent * 3 + rung + steps
        exponent, rung = divmod(position, 3)
        self.setValue(float(f"{ladder[rung] * 10**exponent:.12g}"))

    def textFromValue(self, value: float) -> str:
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            partial = all(c in "0123456789.eE+-" for c in stripped)
            state = (
                QtGui.QValidator.State.Intermediate if partial else QtGui.QValidator.State.Invalid
            )
            return state, text, pos
        if self.minimum() <= value <= self.maximum():
            return QtGui.QValidator.State.Acceptable, text, pos
        return QtGui.QValidator.State.Intermediate, text, pos


class SetupPanel(QtWidgets.QWidget):
    """Form for a run's configuration.

    Parameters
    ----------
    tasks:
        ``(name, title)`` pairs: ``name`` is what :meth:`settings` reports, ``title`` is shown.

    Signals
    -------
    settings_changed(dict)
        Any field changed (by the user, or once per :meth:`set_settings` call).
    live_settings_changed(dict)
        The learning rate or clipping changed: ``{"lr": ..., "clip": ...}``.
    task_changed(str)
        The task changed, so the caller can set its length range.
    """

    settings_changed = QtCore.Signal(dict)
    live_settings_changed = QtCore.Signal(dict)
    task_changed = QtCore.Signal(str)

    def __init__(
        self, tasks: Sequence[tuple[str, str]], parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._running = False
        self._updating = False
        form = QtWidgets.QFormLayout(self)
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.task_combo = QtWidgets.QComboBox()
        for name, title in tasks:
            self.task_combo.addItem(title, name)
        self.length_spin = QtWidgets.QSpinBox()
        self.length_spin.setRange(1, 100_000)
        self.length_label = QtWidgets.QLabel("length")
        self.engine_combo = self._combo(ENGINES)
        self.layers_spin = self._spin(1, 4)
        self.hidden_spin = self._spin(1, 1024)
        self.device_combo = QtWidgets.QComboBox()
        self.optimizer_combo = self._combo(OPTIMIZERS)
        self.lr_spin = LogSpinBox()
        self.batch_spin = self._spin(1, 65_536)
        self.clip_spin = QtWidgets.QDoubleSpinBox()
        self.clip_spin.setRange(0.0, 1000.0)
        self.clip_spin.setDecimals(3)
        self.clip_spin.setSingleStep(0.1)
        self.clip_spin.setSpecialValueText("off")
        self.clip_spin.setKeyboardTracking(False)
        self.init_combo = self._combo(INITS)
        self.forget_bias_spin = QtWidgets.QDoubleSpinBox()
        self.forget_bias_spin.setRange(-10.0, 10.0)
        self.forget_bias_spin.setDecimals(2)
        self.forget_bias_spin.setSingleStep(0.5)
        self.seed_spin = self._spin(0, 2**31 - 1)

        form.addRow("task", self.task_combo)
        form.addRow(self.length_label, self.length_spin)
        form.addRow("engine", self.engine_combo)
        form.addRow("layers", self.layers_spin)
        form.addRow("hidden size", self.hidden_spin)
        form.addRow("device", self.device_combo)
        form.addRow("optimizer", self.optimizer_combo)
        form.addRow("learning rate", self.lr_spin)
        form.addRow("batch size", self.batch_spin)
        form.addRow("gradient clipping", self.clip_spin)
        form.addRow("initialisation", self.init_combo)
        form.addRow("forget-gate bias", self.forget_bias_spin)
        form.addRow("seed", self.seed_spin)
        self.lr_spin.setToolTip("Can be changed while training runs.")
        self.clip_spin.setToolTip(
            "Maximum gradient norm; 0 turns clipping off. Live while training."
        )
        self.forget_bias_spin.setToolTip("Initial bias of the LSTM forget gate (LSTM only).")

        self._fields: dict[str, QtWidgets.QWidget] = {
            "task": self.task_combo,
            "length": self.length_spin,
            "engine": self.engine_combo,
            "layers": self.layers_spin,
            "hidden": self.hidden_spin,
            "device": self.device_combo,
            "optimizer": self.optimizer_combo,
            "lr": self.lr_spin,
            "batch": self.batch_spin,
            "clip": self.clip_spin,
            "init": self.init_combo,
            "forget_bias": self.forget_bias_spin,
            "seed": self.seed_spin,
        }
        self.set_devices([("cpu", "CPU", True, "")])
        self._updating = True
        self._apply(DEFAULTS)
        self._updating = False
        self._update_enabled()

        for key in ("task", "engine", "device", "optimizer", "init"):
            self._fields[key].currentIndexChanged.connect(self._on_changed)
        for key in ("length", "layers", "hidden", "batch", "seed", "forget_bias"):
            self._fields[key].valueChanged.connect(self._on_changed)
        self.lr_spin.valueChanged.connect(self._on_live_changed)
        self.clip_spin.valueChanged.connect(self._on_live_changed)
        self.task_combo.currentIndexChanged.connect(
            lambda _i: self.task_changed.emit(self.task_combo.currentData())
        )

    # ------------------------------------------------------------- building

    @staticmethod
    def _combo(items: Iterable[tuple[str, str]]) -> QtWidgets.QComboBox:
        combo = QtWidgets.QComboBox()
        for name, label in items:
            combo.addItem(label, name)
        return combo

    @staticmethod
    def _spin(lo: int, hi: int) -> QtWidgets.QSpinBox:
        spin = QtWidgets.QSpinBox()
        spin.setRange(lo, hi)
        spin.setKeyboardTracking(False)
        return spin

    # ---------------------------------------------------------------- public

    def set_devices(self, devices: Sequence[tuple[str, str, bool, str]]) -> None:
        """Offer ``(name, label, available, reason)`` devices; unavailable ones are greyed out
        with ``reason`` as their tooltip. Keeps the current device if it is still available."""
        current = self.device_combo.currentData()
        was_updating, self._updating = self._updating, True
        self.device_combo.clear()
        model = self.device_combo.model()
        for name, label, available, reason in devices:
            self.device_combo.addItem(label, name)
            item = model.item(self.device_combo.count() - 1)
            if not available:
                item.setFlags(item.flags() & ~QtCore.Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip(reason or "not available")
            elif reason:
                item.setToolTip(reason)
        index = self._available_index(current)
        if index < 0:
            index = self._available_index(None)
        self.device_combo.setCurrentIndex(index)
        self._updating = was_updating
        if not self._updating and self.device_combo.currentData() != current:
            self.settings_changed.emit(self.settings())

    def device_available(self, name: str) -> bool:
        index = self.device_combo.findData(name)
        if index < 0:
            return False
        item = self.device_combo.model().item(index)
        return bool(item.flags() & QtCore.Qt.ItemFlag.ItemIsEnabled)

    def set_length_range(self, lo: int, hi: int, label: str | None = None) -> None:
        """Allowed sequence length (or delay) for the current task; ``label`` renames the row."""
        if lo > hi:
            raise ValueError(f"lo must not exceed hi, got lo={lo}, hi={hi}")
        before = self.length_spin.value()
        self.length_spin.blockSignals(True)
        self.length_spin.setRange(int(lo), int(hi))
        self.length_spin.blockSignals(False)
        if label is not None:
            self.length_label.setText(label)
        if self.length_spin.value() != before and not self._updating:
            self.settings_changed.emit(self.settings())

    def settings(self) -> dict:
        """The form as plain Python values (keys as in :data:`DEFAULTS`)."""
        return {
            "task": self.task_combo.currentData(),
            "length": self.length_spin.value(),
            "engine": self.engine_combo.currentData(),
            "layers": self.layers_spin.value(),
            "hidden": self.hidden_spin.value(),
            "device": self.device_combo.currentData(),
            "optimizer": self.optimizer_combo.currentData(),
            "lr": float(self.lr_spin.value()),
            "batch": self.batch_spin.value(),
            "clip": float(self.clip_spin.value()),
            "init": self.init_combo.currentData(),
            "forget_bias": float(self.forget_bias_spin.value()),
            "seed": self.seed_spin.value(),
        }

    def live_settings(self) -> dict:
        return {key: self.settings()[key] for key in LIVE_KEYS}

    def set_settings(self, values: dict) -> None:
        """Apply a (partial) settings dict; unknown keys and unknown choices are ignored.

        Emits ``settings_changed`` once if anything changed (and ``live_settings_changed`` if
        the learning rate or clipping did).
        """
        before = self.settings()
        self._updating = True
        try:
            self._apply(values)
        finally:
            self._updating = False
        self._update_enabled()
        after = self.settings()
        if after != before:
            if any(after[k] != before[k] for k in LIVE_KEYS):
                self.live_settings_changed.emit(self.live_settings())
            self.settings_changed.emit(after)
            if after["task"] != before["task"]:
                self.task_changed.emit(after["task"])

    def set_training(self, running: bool) -> None:
        """Lock the structural fields while a run is active; lr and clip stay editable."""
        self._running = bool(running)
        self._update_enabled()

    def is_training(self) -> bool:
        return self._running

    # ------------------------------------------------------------- internal

    def _available_index(self, name: str | None) -> int:
        model = self.device_combo.model()
        for i in range(self.device_combo.count()):
            enabled = bool(model.item(i).flags() & QtCore.Qt.ItemFlag.ItemIsEnabled)
            if enabled and (name is None or self.device_combo.itemData(i) == name):
                return i
        return -1

    def _apply(self, values: dict) -> None:
        for key, value in values.items():
            widget = self._fields.get(key)
            if widget is None or value is None:
                continue
            if isinstance(widget, QtWidgets.QComboBox):
                index = self._find_choice(widget, value)
                if index >= 0 and (
                    widget is not self.device_combo or self.device_available(widget.itemData(index))
                ):
                    widget.setCurrentIndex(index)
            elif isinstance(widget, QtWidgets.QSpinBox):
                widget.setValue(int(value))
            else:
                widget.setValue(float(value))

    @staticmethod
    def _find_choice(combo: QtWidgets.QComboBox, value: object) -> int:
        index = combo.findData(value)
        if index >= 0 or not isinstance(value, str):
            return index
        wanted = value.lower()
        for i in range(combo.count()):
            if str(combo.itemData(i)).lower() == wanted or combo.itemText(i).lower() == wanted:
                return i
        return -1

    def _update_enabled(self) -> None:
        for key, widget in self._fields.items():
            widget.setEnabled(key in LIVE_KEYS or not self._running)
        is_lstm = self.engine_combo.currentData() == "lstm"
        self.forget_bias_spin.setEnabled(is_lstm and not self._running)

    def _on_changed(self, *_args) -> None:
        self._update_enabled()
        if not self._updating:
            self.settings_changed.emit(self.settings())

    def _on_live_changed(self, *_args) -> None:
        if not self._updating:
            self.live_settings_changed.emit(self.live_settings())
            self.settings_changed.emit(self.settings())
