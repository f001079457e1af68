"""The live training dashboard: every view of one probe frame, on one shared time cursor.

Layout, top to bottom: the probe sequence; the heatmaps (hidden state, cell state, one per gate);
loss, gradient flow and the selected unit side by side. Which heatmaps exist depends on the
engine (:meth:`Dashboard.configure`). A frame is a dict of plain numpy values
(:meth:`Dashboard.show_frame`); the dashboard never sees an engine.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.equations import kind_for_gates, view_tooltip
from widgets.heatmap_view import HEATMAP_STYLES, HeatmapView
from widgets.line_views import GradientFlowPlot, UnitPlot
from widgets.loss_plot import LossPlot
from widgets.sequence_plot import SequencePlot

#: Gate name -> heatmap style. Sigmoid gates live in 0..1; the tanh candidate in -1..1; the
#: plain RNN's pre-activation is unbounded, shown over -3..3.
GATE_STYLES: dict[str, str] = {
    "input": "gate",
    "forget": "gate",
    "output": "gate",
    "reset": "gate",
    "update": "gate",
    "candidate": "state",
    "preactivation": "preactivation",
}

#: The LSTM cell state is not squashed; a wider band than h_t keeps it readable.
CELL_LEVELS = (-3.0, 3.0)

#: Gate lists and cell flags of the engines, for callers that configure by engine name.
ENGINE_LAYOUTS: dict[str, tuple[list[str], bool]] = {
    "lstm": (["input", "forget", "candidate", "output"], True),
    "gru": (["reset", "update", "candidate"], False),
    "rnn": (["preactivation"], False),
}


class Dashboard(QtWidgets.QWidget):
    """All training views, wired to one time cursor and one selected unit.

    Signals
    -------
    cursor_moved(int)
        The user moved the time cursor (drag in any view, or arrow keys).
    unit_selected(int)
        The user clicked a unit in a heatmap.
    cell_hovered(str, int, int, float)
        View name, unit, step and value under the mouse in a heatmap.
    engine_kind_changed(str)
        The views now show another engine kind (``lstm``, ``gru``, ``rnn``; "" unknown):
        views elsewhere (the "why it forgets" dock) follow it with their titles' equations.
    """

    cursor_moved = QtCore.Signal(int)
    unit_selected = QtCore.Signal(int)
    cell_hovered = QtCore.Signal(str, int, int, float)
    engine_kind_changed = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self._frame: dict | None = None
        self._steps = 0
        self._cursor = 0
        self._unit: int | None = None
        self._gate_names: list[str] = []
        self._has_cell = False
        self._kind: str | None = None
        self._reference_curves: list = []
        self._difference = False

        self.step_label = QtWidgets.QLabel("no frame yet")
        self.sequence_plot = SequencePlot()
        state_levels, state_cmap = HEATMAP_STYLES["state"]
        self.hidden_view = HeatmapView("hidden state h_t", state_levels, state_cmap)
        self.cell_view = HeatmapView("cell state c_t", CELL_LEVELS, state_cmap)
        self.gate_views: dict[str, HeatmapView] = {}
        self.loss_plot = LossPlot()
        self.gradient_plot = GradientFlowPlot()
        self.unit_plot = UnitPlot()

        self._heatmap_box = QtWidgets.QWidget()
        self._heatmap_grid = QtWidgets.QGridLayout(self._heatmap_box)
        self._heatmap_grid.setContentsMargins(0, 0, 0, 0)
        self._heatmap_grid.setSpacing(4)
        bottom = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        for view in (self.loss_plot, self.gradient_plot, self.unit_plot):
            bottom.addWidget(view)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(self.sequence_plot)
        splitter.addWidget(self._heatmap_box)
        splitter.addWidget(bottom)
        # Heatmaps would take all the height they are offered; the line plots need enough
        # to stay legible, so they get a floor and the heatmaps the rest.
        self.sequence_plot.setMinimumHeight(250)
        bottom.setMinimumHeight(190)
        self._heatmap_box.setMinimumHeight(240)
        for i, stretch in enumerate((3, 5, 3)):
            splitter.setStretchFactor(i, stretch)
        splitter.setSizes([260, 480, 240])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.step_label)
        layout.addWidget(splitter, 1)

        for view in (self.sequence_plot, self.gradient_plot, self.unit_plot):
            self._wire_time_view(view)
        self._wire_heatmap("hidden", self.hidden_view)
        self._wire_heatmap("cell", self.cell_view)
        self.loss_plot.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.configure(*ENGINE_LAYOUTS["lstm"])

    # ----------------------------------------------------------- structure

    def configure(self, gate_names: list[str], has_cell: bool) -> None:
        """Show the heatmaps of one engine kind: hidden state, cell state if ``has_cell``, and
        one heatmap per gate (created on first use, hidden while another engine is shown)."""
        self._gate_names = list(gate_names)
        self._has_cell = bool(has_cell)
        for name in self._gate_names:
            if name not in self.gate_views:
                levels, cmap = HEATMAP_STYLES[GATE_STYLES.get(name, "state")]
                view = HeatmapView(
                    f"{name} gate" if GATE_STYLES.get(name) == "gate" else name, levels, cmap
                )
                self.gate_views[name] = view
                self._wire_heatmap(name, view)
        while self._heatmap_grid.count():
            self._heatmap_grid.takeAt(0)
        shown = self._active_heatmaps()
        kind = kind_for_gates(self._gate_names)
        for name, view in shown.items():  # the equation behind each view, on its title
            view.set_title_tooltip(view_tooltip(kind, name))
        for view in (self.sequence_plot, self.loss_plot, self.gradient_plot, self.unit_plot):
            view.set_engine_kind(kind)
        changed = kind != self._kind
        self._kind = kind
        columns = 3 if len(shown) > 4 else 2
        for i, view in enumerate(shown.values()):
            self._heatmap_grid.addWidget(view, i // columns, i % columns)
        for view in [self.hidden_view, self.cell_view, *self.gate_views.values()]:
            visible = view in shown.values()
            view.setVisible(visible)
            view.set_data(None)
        self._frame = None
        self._set_unit(None)
        if changed:
            self.engine_kind_changed.emit(kind or "")

    def engine_kind(self) -> str | None:
        """The engine kind the views show (``lstm``, ``gru``, ``rnn``), None if unknown."""
        return self._kind

    def gate_names(self) -> list[str]:
        return list(self._gate_names)

    def has_cell(self) -> bool:
        return self._has_cell

    def heatmaps(self) -> dict[str, HeatmapView]:
        """The heatmaps of the current engine, by name (``hidden``, ``cell``, gate names)."""
        return self._active_heatmaps()

    def views(self) -> dict[str, QtWidgets.QWidget]:
        """Every active view by name: ``sequence``, the heatmaps, ``loss``, ``gradient``,
        ``unit``."""
        return {
            "sequence": self.sequence_plot,
            **self._active_heatmaps(),
            "loss": self.loss_plot,
            "gradient": self.gradient_plot,
            "unit": self.unit_plot,
        }

    # -------------------------------------------------------------- frames

    def show_frame(self, frame: dict) -> None:
        """Show one probe frame in every view.

        ``frame`` holds plain values: ``inputs`` (T, C), ``input_names``, ``targets`` (T, K) or
        None, ``prediction`` (T, K), ``target_mask`` (T,) bool or None, ``hidden`` (H, T),
        ``cell`` (H, T) or None, ``gates`` {name: (H, T)}, ``grad_h`` (T,) or None, ``grad_x``
        (T,) or None, ``step`` int. Gates or a cell state that differ from the configured
        engine reconfigure the heatmaps first.
        """
        gates = frame.get("gates") or {}
        has_cell = frame.get("cell") is not None
        if list(gates) != self._gate_names or has_cell != self._has_cell:
            self.configure(list(gates), has_cell)
        self._frame = frame
        self.sequence_plot.set_data(
            frame.get("inputs"),
            frame.get("targets"),
            frame.get("prediction"),
            frame.get("target_mask"),
            frame.get("input_names"),
        )
        self.hidden_view.set_data(frame.get("hidden"))
        if self._has_cell:
            self.cell_view.set_data(frame.get("cell"))
        for name in self._gate_names:
            self.gate_views[name].set_data(gates.get(name))
        self.gradient_plot.set_data(frame.get("grad_h"), frame.get("grad_x"))
        self._show_reference_prediction(frame.get("reference_prediction"))
        self._show_difference_levels(bool(frame.get("difference")))

        hidden = frame.get("hidden")
        self._steps = 0 if hidden is None else int(np.shape(hidden)[1])
        if not self._steps and frame.get("inputs") is not None:
            self._steps = int(np.shape(frame["inputs"])[0])
        step = frame.get("step")
        self.step_label.setText("no frame yet" if step is None else f"training step {int(step)}")
        self.set_cursor(self._cursor)
        units = 0 if hidden is None else int(np.shape(hidden)[0])
        self._set_unit(self._unit if self._unit is not None and self._unit < units else None)

    def frame(self) -> dict | None:
        return self._frame

    def reference_curves(self) -> list:
        """The dashed "before the intervention" prediction curves (gate lab)."""
        return self._reference_curves

    def _show_reference_prediction(self, prediction) -> None:
        """Overlay the unaltered run's prediction (dashed) on the altered one's."""
        plot = self.sequence_plot.output_plot
        columns = 0 if prediction is None else np.asarray(prediction).reshape(len(prediction), -1)
        wanted = 0 if prediction is None else columns.shape[1]
        while len(self._reference_curves) < wanted:
            curve = plot.plot(
                pen=pg.mkPen((230, 230, 230), width=1, style=QtCore.Qt.PenStyle.DashLine)
            )
            curve.setZValue(-5)
            self._reference_curves.append(curve)
        for k, curve in enumerate(self._reference_curves):
            if k < wanted:
                curve.setData(np.arange(len(columns)), columns[:, k])
                curve.setVisible(True)
            else:
                curve.setVisible(False)

    def _show_difference_levels(self, difference: bool) -> None:
        """A difference (altered minus unaltered) is signed: every heatmap shows -1..1."""
        if difference == self._difference:
            return
        self._difference = difference
        views = {"hidden": self.hidden_view, "cell": self.cell_view, **self.gate_views}
        for name, view in views.items():
            if difference:
                view.set_levels((-1.0, 1.0))
            elif name == "cell":
                view.set_levels(CELL_LEVELS)
            else:
                style = "state" if name == "hidden" else GATE_STYLES.get(name, "state")
                view.set_levels(HEATMAP_STYLES[style][0])

    # -------------------------------------------------------------- cursor

    def cursor(self) -> int:
        return self._cursor

    def set_cursor(self, t: int) -> None:
        """Put every view's time cursor on step ``t`` (clamped); does not emit."""
        t = int(t)
        if self._steps:
            t = min(max(0, t), self._steps - 1)
        self._cursor = max(0, t)
        for view in self._time_views():
            view.set_cursor(self._cursor)

    def keyPressEvent(self, event) -> None:  # Qt override
        key = event.key()
        big = event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier
        moves = {
            QtCore.Qt.Key.Key_Left: self._cursor - (10 if big else 1),
            QtCore.Qt.Key.Key_Right: self._cursor + (10 if big else 1),
            QtCore.Qt.Key.Key_Home: 0,
            QtCore.Qt.Key.Key_End: self._steps - 1,
        }
        if key not in moves or not self._steps:
            super().keyPressEvent(event)
            return
        event.accept()
        self._on_cursor_moved(moves[key])

    # ---------------------------------------------------------------- unit

    def selected_unit(self) -> int | None:
        return self._unit

    def select_unit(self, unit: int | None) -> None:
        """Highlight ``unit`` in every heatmap and plot its traces from the current frame."""
        self._set_unit(unit)

    # ------------------------------------------------------------ internal

    def _active_heatmaps(self) -> dict[str, HeatmapView]:
        views = {"hidden": self.hidden_view}
        if self._has_cell:
            views["cell"] = self.cell_view
        views.update((name, self.gate_views[name]) for name in self._gate_names)
        return views

    def _time_views(self) -> list:
        return [
            self.sequence_plot,
            *self._active_heatmaps().values(),
            self.gradient_plot,
            self.unit_plot,
        ]

    def _wire_time_view(self, view: QtWidgets.QWidget) -> None:
        # Keys go to the dashboard: a click in a plot focuses the dashboard, not the plot.
        view.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        view.cursor_moved.connect(self._on_cursor_moved)

    def _wire_heatmap(self, name: str, view: HeatmapView) -> None:
        self._wire_time_view(view)
        view.unit_clicked.connect(self._on_unit_clicked)
        view.hovered.connect(
            lambda unit, step, value, n=name: self.cell_hovered.emit(n, unit, step, value)
        )

    def _on_cursor_moved(self, t: int) -> None:
        before = self._cursor
        self.set_cursor(t)
        if self._cursor != before:
            self.cursor_moved.emit(self._cursor)

    def _on_unit_clicked(self, unit: int) -> None:
        self._set_unit(unit)
        self.unit_selected.emit(unit)

    def _set_unit(self, unit: int | None) -> None:
        self._unit = None if unit is None else int(unit)
        for view in self._active_heatmaps().values():
            view.highlight_unit(self._unit)
        frame = self._frame
        if self._unit is None or frame is None or frame.get("hidden") is None:
            self.unit_plot.set_unit(None)
            return
        u = self._unit
        series = {"hidden": np.asarray(frame["hidden"])[u]}
        if frame.get("cell") is not None:
            series["cell"] = np.asarray(frame["cell"])[u]
        for name, values in (frame.get("gates") or {}).items():
            series[name] = np.asarray(values)[u]
        self.unit_plot.set_unit(u, series)
        self.unit_plot.set_cursor(self._cursor)
