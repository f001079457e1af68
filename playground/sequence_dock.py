"""The "Your sequence" dock: draw or load a sequence, then train on it or watch it as the
probe. It connects the canvas (widgets) and the loaders (playground.files) to the window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from playground.files import SequenceData, SequenceLoadError, load_sequence
from playground.run_spec import UserSequence
from widgets.sequence_canvas import PRESETS, SequenceCanvas


def display_name(char: str) -> str:
    """Visible labels for whitespace symbols on the canvas's symbol axis."""
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(char, char)


class SequenceDock(QtWidgets.QDockWidget):
    """Holds the user's sequence. Loading a bad file leaves the current one untouched."""

    sequence_loaded = QtCore.Signal(str)  # the file's name

    def __init__(self, window: QtWidgets.QMainWindow) -> None:
        super().__init__("Your sequence", window)
        self.setObjectName("sequenceDock")
        self._window = window
        self._alphabet: tuple[str, ...] = ()
        self._loading = False
        self.source = "drawing"
        self.canvas = SequenceCanvas(n_steps=100, n_channels=1)
        self.steps_spin = QtWidgets.QSpinBox()
        self.steps_spin.setRange(2, 5000)
        self.steps_spin.setValue(100)
        self.channels_spin = QtWidgets.QSpinBox()
        self.channels_spin.setRange(1, 8)
        self.channel_spin = QtWidgets.QSpinBox()
        self.channel_spin.setRange(0, 0)
        self.symbols_spin = QtWidgets.QSpinBox()
        self.symbols_spin.setRange(0, 64)
        self.symbols_spin.setSpecialValueText("off")
        self.symbols_spin.setToolTip(
            "Symbol mode: click each step to one of K symbols (off: draw values)"
        )
        self.preset_combo = QtWidgets.QComboBox()
        self.preset_combo.addItem("preset…", None)
        for name in PRESETS:
            self.preset_combo.addItem(name, name)
        self.erase_check = QtWidgets.QCheckBox("erase")
        clear_button = QtWidgets.QPushButton("Clear")
        undo_button = QtWidgets.QPushButton("Undo")
        redo_button = QtWidgets.QPushButton("Redo")
        self.use_check = QtWidgets.QCheckBox("Train on this sequence (instead of the task)")
        self.objective_combo = QtWidgets.QComboBox()
        self.objective_combo.addItem("predict the next value", "next")
        self.objective_combo.addItem("reproduce it after a delay", "recall")
        self.delay_spin = QtWidgets.QSpinBox()
        self.delay_spin.setRange(0, 10_000)
        self.delay_spin.setValue(20)
        self.probe_check = QtWidgets.QCheckBox("Show it as the probe while a task trains")
        self.probe_check.setToolTip(
            "Used when its channel count matches the task's inputs (e.g. waveform: 1 channel)"
        )
        self.source_label = QtWidgets.QLabel("drawing")

        tools = QtWidgets.QHBoxLayout()
        for label, widget in (
            ("steps", self.steps_spin),
            ("channels", self.channels_spin),
            ("draw channel", self.channel_spin),
            ("symbols", self.symbols_spin),
        ):
            tools.addWidget(QtWidgets.QLabel(label))
            tools.addWidget(widget)
        tools.addWidget(self.preset_combo)
        tools.addWidget(self.erase_check)
        for button in (clear_button, undo_button, redo_button):
            tools.addWidget(button)
        tools.addStretch(1)
        use = QtWidgets.QHBoxLayout()
        use.addWidget(self.use_check)
        use.addWidget(self.objective_combo)
        use.addWidget(QtWidgets.QLabel("delay"))
        use.addWidget(self.delay_spin)
        use.addWidget(self.probe_check)
        use.addStretch(1)
        use.addWidget(self.source_label)
        body = QtWidgets.QWidget()
        column = QtWidgets.QVBoxLayout(body)
        column.addLayout(tools)
        column.addWidget(self.canvas, 1)
        column.addLayout(use)
        self.setWidget(body)

        self.steps_spin.editingFinished.connect(
            lambda: self.canvas.set_length(self.steps_spin.value())
        )
        self.channels_spin.valueChanged.connect(self._on_channels)
        self.channel_spin.valueChanged.connect(self.canvas.set_current_channel)
        self.symbols_spin.valueChanged.connect(self._on_symbols)
        self.preset_combo.activated.connect(self._on_preset)
        self.erase_check.toggled.connect(self.canvas.set_erase_mode)
        clear_button.clicked.connect(self.canvas.clear)
        undo_button.clicked.connect(self.canvas.undo)
        redo_button.clicked.connect(self.canvas.redo)
        self.canvas.sequence_changed.connect(self._on_edited)

    # --- what the window asks for ------------------------------------------------------------
    def user_sequence(self) -> UserSequence | None:
        """The sequence to train on, when "train on this sequence" is checked."""
        if not self.use_check.isChecked():
            return None
        return self._as_user_sequence()

    def probe_sequence(self) -> UserSequence | None:
        return self._as_user_sequence() if self.probe_check.isChecked() else None

    def _as_user_sequence(self) -> UserSequence:
        array = self.canvas.sequence()
        objective = self.objective_combo.currentData()
        if array.ndim == 1:
            k = max(self.canvas.symbol_count, int(array.max()) + 1)
            return UserSequence(
                symbols=array.astype(np.int64),
                n_symbols=k,
                alphabet=self._alphabet,
                objective=objective,
                delay=self.delay_spin.value(),
                source=self.source,
            )
        return UserSequence(
            values=array.astype(np.float32),
            objective=objective,
            delay=self.delay_spin.value(),
            source=self.source,
        )

    # --- loading -----------------------------------------------------------------------------
    def open_file(self, path: str) -> bool:
        """Load ``path`` into the canvas; a bad file is reported and changes nothing."""
        try:
            data = load_sequence(path)
        except SequenceLoadError as error:
            self._window.show_error(str(error))
            return False
        self.show_sequence(data)
        self.sequence_loaded.emit(Path(path).name)
        self._window.hide_error()
        self._window.statusBar().showMessage(
            f"Loaded {Path(path).name}: {data.length} steps"
            + (f" ({data.note})" if data.note else ""),
            8000,
        )
        return True

    def show_sequence(self, data: SequenceData) -> None:
        self._loading = True
        try:
            widgets = (self.steps_spin, self.channels_spin, self.symbols_spin)
            for spin in widgets:
                spin.blockSignals(True)
            if data.is_symbolic:
                k = len(data.alphabet)
                self.symbols_spin.setMaximum(max(64, k))
                self.symbols_spin.setValue(k)
                self.canvas.set_sequence(np.asarray(data.symbols, dtype=np.int64))
                self.canvas.set_symbol_mode(k, tuple(display_name(c) for c in data.alphabet))
            else:
                self.symbols_spin.setValue(0)
                self.channels_spin.setMaximum(max(8, data.n_channels))
                self.channels_spin.setValue(data.n_channels)
                self.canvas.set_sequence(np.asarray(data.values, dtype=np.float32))
            self.steps_spin.setMaximum(max(5000, data.length))
            self.steps_spin.setValue(data.length)
            for spin in widgets:
                spin.blockSignals(False)
            self.channel_spin.setRange(0, max(0, self.canvas.n_channels - 1))
        finally:
            self._loading = False
        self.source = data.source
        self._alphabet = tuple(data.alphabet) if data.is_symbolic else ()
        self.source_label.setText(Path(data.source).name)

    def restore(self, spec) -> None:
        """Show an opened experiment's own sequence (to train on, or as the probe) and set
        the check boxes to match; an experiment without one unchecks them."""
        from playground.files import SequenceData

        seq = spec.sequence or spec.probe_sequence
        self.use_check.setChecked(spec.sequence is not None)
        self.probe_check.setChecked(spec.sequence is None and spec.probe_sequence is not None)
        if seq is None:
            return
        if seq.symbols is not None:
            alphabet = seq.alphabet or tuple(str(i) for i in range(seq.n_symbols))
            data = SequenceData(symbols=seq.symbols, alphabet=alphabet, source=seq.source)
        else:
            data = SequenceData(values=seq.values, source=seq.source)
        self.show_sequence(data)
        index = self.objective_combo.findData(seq.objective)
        if index >= 0:
            self.objective_combo.setCurrentIndex(index)
        self.delay_spin.setValue(seq.delay)
        self.show()

    # --- edits -------------------------------------------------------------------------------
    def _on_channels(self, n: int) -> None:
        self.canvas.set_channels(n)
        self.channel_spin.setRange(0, n - 1)

    def _on_symbols(self, k: int) -> None:
        self._alphabet = ()
        self.canvas.set_symbol_mode(k)

    def _on_preset(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name:
            self.canvas.apply_preset(name)
        self.preset_combo.setCurrentIndex(0)

    def _on_edited(self) -> None:
        if not self._loading and self.source != "drawing":
            self.source = "drawing"
            self.source_label.setText("drawing (edited)")
