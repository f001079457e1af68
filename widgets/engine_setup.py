"""The engines of a comparison: two or three rows of engine settings, each with its weights
seed and parameter count, ready-made comparisons, and "match parameter counts".

Values leave as plain dicts (:meth:`EngineSetup.engines`, keys as in the setup panel:
``engine``, ``layers``, ``hidden``, ``init``, ``forget_bias``) and a list of weights seeds;
the parameter counts come in from the caller, which knows the task's sizes.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from resources.default_settings import DEFAULT_SETTINGS
from widgets.compare_plots import engine_color
from widgets.setup_panel import ENGINES, INITS, SetupPanel

MIN_ENGINES, MAX_ENGINES = 2, 3
COLUMNS = ("engine", "layers", "hidden", "init", "forget bias", "weights seed", "parameters")


class _EngineRow:
    """The widgets of one engine's row."""

    def __init__(self) -> None:
        self.kind = SetupPanel._combo(ENGINES)
        self.layers = SetupPanel._spin(1, 4)
        self.hidden = SetupPanel._spin(1, 1024)
        self.init = SetupPanel._combo(INITS)
        self.forget_bias = QtWidgets.QDoubleSpinBox()
        self.forget_bias.setRange(-10.0, 10.0)
        self.forget_bias.setDecimals(2)
        self.forget_bias.setSingleStep(0.5)
        self.forget_bias.setKeyboardTracking(False)
        self.forget_bias.setToolTip("Initial bias of the LSTM forget gate (LSTM only).")
        self.seed = SetupPanel._spin(0, 2**31 - 1)
        self.seed.setToolTip(
            "Seed of this engine's initial weights; the batches, held-out and probe sets come "
            "from the shared data seed."
        )
        self.parameters = QtWidgets.QLabel("–")
        self.parameters.setAlignment(
            QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
        )

    def widgets(self) -> list[QtWidgets.QWidget]:
        return [
            self.kind,
            self.layers,
            self.hidden,
            self.init,
            self.forget_bias,
            self.seed,
            self.parameters,
        ]

    def values(self) -> dict:
        return {
            "engine": self.kind.currentData(),
            "layers": self.layers.value(),
            "hidden": self.hidden.value(),
            "init": self.init.currentData(),
            "forget_bias": float(self.forget_bias.value()),
        }

    def set_values(self, values: dict) -> None:
        for key, combo in (("engine", self.kind), ("init", self.init)):
            if key in values:
                index = combo.findData(str(values[key]).lower())
                if index >= 0:
                    combo.setCurrentIndex(index)
        for key, spin in (("layers", self.layers), ("hidden", self.hidden)):
            if key in values:
                spin.setValue(int(values[key]))
        if "forget_bias" in values:
            self.forget_bias.setValue(float(values["forget_bias"]))


class EngineSetup(QtWidgets.QWidget):
    """Rows of engine settings.

    Parameters
    ----------
    presets:
        Ready-made comparisons, name -> one dict of engine settings per engine, merged over
        the first row's current settings when chosen.

    Signals
    -------
    engines_changed()
        A row, its weights seed or the number of engines changed (by the user or in code).
    match_requested()
        "Match parameter counts" was pressed.
    """

    engines_changed = QtCore.Signal()
    match_requested = QtCore.Signal()

    def __init__(self, presets: dict[str, tuple[dict, ...]] | None = None, parent=None) -> None:
        super().__init__(parent)
        self._presets = dict(presets or {})
        self._rows: list[_EngineRow] = []
        self._updating = False
        self._training = False
        self.grid = QtWidgets.QGridLayout()
        for column, name in enumerate(COLUMNS):
            self.grid.addWidget(QtWidgets.QLabel(name), 0, column + 1)
        self.preset_combo = QtWidgets.QComboBox()
        self.preset_combo.addItem("choose a comparison…", None)
        for name in self._presets:
            self.preset_combo.addItem(name, name)
        self.add_button = QtWidgets.QPushButton("Add engine")
        self.remove_button = QtWidgets.QPushButton("Remove engine")
        self.match_button = QtWidgets.QPushButton("Match parameter counts")
        self.match_button.setToolTip(
            "Pick the other engines' hidden sizes so their parameter counts come within 5 % "
            "of the first engine's."
        )
        buttons = QtWidgets.QHBoxLayout()
        for widget in (self.preset_combo, self.add_button, self.remove_button, self.match_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.grid)
        layout.addLayout(buttons)
        self.preset_combo.activated.connect(self._on_preset)
        self.add_button.clicked.connect(self.add_engine)
        self.remove_button.clicked.connect(self.remove_engine)
        self.match_button.clicked.connect(self.match_requested)
        for _ in range(MIN_ENGINES):
            self._add_row()
        self._update_enabled()

    # ---------------------------------------------------------------- public

    def count(self) -> int:
        return len(self._rows)

    def engines(self) -> list[dict]:
        return [row.values() for row in self._rows]

    def weights_seeds(self) -> list[int]:
        return [row.seed.value() for row in self._rows]

    def set_engines(self, engines: list[dict], weights_seeds: list[int] | None = None) -> None:
        """Show ``engines`` (2 or 3 dicts of engine settings; missing keys keep the row's
        value) and their weights seeds. Emits ``engines_changed`` once."""
        if not MIN_ENGINES <= len(engines) <= MAX_ENGINES:
            raise ValueError(f"engines must hold 2 or 3 engines, got {len(engines)}")
        if weights_seeds is not None and len(weights_seeds) != len(engines):
            raise ValueError(
                f"weights_seeds must hold one seed per engine ({len(engines)}), got "
                f"{len(weights_seeds)}"
            )
        self._updating = True
        try:
            while len(self._rows) < len(engines):
                self._add_row()
            while len(self._rows) > len(engines):
                self._remove_row()
            for index, (row, values) in enumerate(zip(self._rows, engines, strict=True)):
                row.set_values(values)
                if weights_seeds is not None:
                    row.seed.setValue(int(weights_seeds[index]))
        finally:
            self._updating = False
        self._changed()

    def set_weights_seeds(self, seeds: list[int]) -> None:
        self.set_engines(self.engines(), list(seeds))

    def set_parameter_counts(self, counts: list[int | None]) -> None:
        """Show each engine's parameter count, and how far it is from the first engine's."""
        reference = counts[0] if counts else None
        for index, (row, count) in enumerate(zip(self._rows, counts, strict=False)):
            if count is None:
                row.parameters.setText("–")
                continue
            text = f"{count:,}"
            if index and reference:
                text += f" ({100 * (count - reference) / reference:+.1f} %)"
            row.parameters.setText(text)

    def parameter_texts(self) -> list[str]:
        return [row.parameters.text() for row in self._rows]

    def add_engine(self) -> None:
        if len(self._rows) < MAX_ENGINES:
            self._add_row(self._rows[-1].values() if self._rows else None)
            self._changed()

    def remove_engine(self) -> None:
        if len(self._rows) > MIN_ENGINES:
            self._remove_row()
            self._changed()

    def apply_preset(self, name: str) -> None:
        """The preset's engines over the first row's current settings."""
        base = self._rows[0].values()
        engines = [{**base, **engine} for engine in self._presets[name]]
        self.set_engines(engines, self._seeds_for(len(engines)))

    def set_training(self, running: bool) -> None:
        """Lock the rows while a comparison trains."""
        self._training = bool(running)
        self._update_enabled()

    # -------------------------------------------------------------- internal

    def _seeds_for(self, count: int) -> list[int]:
        seeds = self.weights_seeds()
        step = seeds[-1] + 1 if seeds else 0
        return (seeds + list(range(step, step + count)))[:count]

    def _add_row(self, values: dict | None = None) -> None:
        row = _EngineRow()
        number = len(self._rows) + 1
        label = QtWidgets.QLabel(f"{number}")
        red, green, blue = engine_color(number - 1)  # the colour of its curves and column
        label.setStyleSheet(f"QLabel {{ border-left: 6px solid rgb({red}, {green}, {blue}); }}")
        self.grid.addWidget(label, number, 0)
        for column, widget in enumerate(row.widgets()):
            self.grid.addWidget(widget, number, column + 1)
        row.seed.setValue(self._rows[-1].seed.value() + 1 if self._rows else 0)
        row.set_values(values or DEFAULT_SETTINGS)
        for combo in (row.kind, row.init):
            combo.currentIndexChanged.connect(self._changed)
        for spin in (row.layers, row.hidden, row.seed, row.forget_bias):
            spin.valueChanged.connect(self._changed)
        self._rows.append(row)

    def _remove_row(self) -> None:
        row = self._rows.pop()
        number = len(self._rows) + 1
        label = self.grid.itemAtPosition(number, 0)
        for widget in [label.widget() if label else None, *row.widgets()]:
            if widget is not None:
                self.grid.removeWidget(widget)
                widget.setParent(None)
                widget.deleteLater()

    def _on_preset(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name is not None:
            self.apply_preset(name)
        self.preset_combo.setCurrentIndex(0)

    def _changed(self, *_args) -> None:
        self._update_enabled()
        if not self._updating:
            self.engines_changed.emit()

    def _update_enabled(self) -> None:
        free = not self._training
        for row in self._rows:
            for widget in row.widgets()[:-1]:
                widget.setEnabled(free)
            row.forget_bias.setEnabled(free and row.kind.currentData() == "lstm")
        self.preset_combo.setEnabled(free)
        self.add_button.setEnabled(free and len(self._rows) < MAX_ENGINES)
        self.remove_button.setEnabled(free and len(self._rows) > MIN_ENGINES)
        self.match_button.setEnabled(free)
