"""Every view of a comparison, drawn from its record (``playground.comparison.Comparison``).

Top: the shared probe sequence, one loss chart with a curve per engine and the baseline, and
the gradient flow overlaid per engine. Below: a column of state and gate heatmaps per engine.
Everything is on one time cursor (drag it in any view, or Left/Right, Shift for 10,
Home/End) and one history slider whose positions are training steps: each engine shows its
frame of the same step. The record's events tell the views what changed; the views never
own any of it (napari's split: the model here, its Qt view in this module).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtWidgets

from playground.compare_spec import CompareSpec
from playground.comparison import Comparison
from playground.frames import dashboard_frame
from playground.transport import fill_layer_combo
from widgets.compare_plots import CompareGradientPlot, CompareLossPlot, engine_color
from widgets.dashboard import ENGINE_LAYOUTS
from widgets.engine_column import EngineColumn
from widgets.history_slider import HistorySlider
from widgets.sequence_plot import SequencePlot


class CompareViews(QtWidgets.QWidget):
    """The views of one comparison record.

    Parameters
    ----------
    parameter_counts:
        ``spec -> [count or None per engine]``, for the columns' titles (the window knows
        the task's sizes before any trainer has said what it built).

    Signals
    -------
    frames_shown(int)
        Every engine's frame of this training step is on screen.
    cell_hovered(str, int, int, float)
        View name, unit, step and value under the mouse in a heatmap.
    """

    frames_shown = QtCore.Signal(int)
    cell_hovered = QtCore.Signal(str, int, int, float)

    def __init__(self, parameter_counts: Callable[[CompareSpec], list], parent=None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)  # arrow keys move the cursor
        self._parameter_counts = parameter_counts
        self.comparison = Comparison()
        self.sequence_plot = SequencePlot()
        self.loss_plot = CompareLossPlot()
        self.gradient_plot = CompareGradientPlot()
        self.history_slider = HistorySlider()
        self.layer_combo = QtWidgets.QComboBox()
        self.layer_combo.setToolTip("Which layer the heatmaps and gradient flow show")
        self.columns: list[EngineColumn] = []
        self._labels: list[str] = []
        self.columns_box = QtWidgets.QWidget()
        self.columns_layout = QtWidgets.QHBoxLayout(self.columns_box)
        self.columns_layout.setContentsMargins(0, 0, 0, 0)
        plots = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        for view in (self.sequence_plot, self.loss_plot, self.gradient_plot):
            view.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            plots.addWidget(view)
        plots.setMinimumHeight(200)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(plots)
        splitter.addWidget(self.columns_box)
        splitter.setSizes([260, 640])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.history_slider)
        self.history_slider.index_changed.connect(self._on_history_index)
        self.history_slider.live_changed.connect(self._on_history_live)
        self.layer_combo.currentIndexChanged.connect(
            lambda index: self.comparison.set_view(layer=max(0, index))
        )
        for view in (self.sequence_plot, self.gradient_plot):
            view.cursor_moved.connect(self.set_cursor)

    # --- the record --------------------------------------------------------------------------
    def bind(self, comparison: Comparison) -> None:
        """Draw ``comparison`` from now on (the previous record's events are let go)."""
        self.comparison.events.disconnect_all()
        self.comparison = comparison
        events = comparison.events
        events.cleared.connect(self.redraw)
        events.metrics_added.connect(self.loss_plot.append)
        events.frames_added.connect(self._on_frames_added)
        events.view_changed.connect(self._on_view_changed)
        self.redraw()

    def redraw(self, spec: CompareSpec | None = None) -> None:
        """Draw everything from the record: columns, curves, baseline, layers, frames.
        ``spec`` lays the views out for a comparison the record does not hold yet."""
        comparison = self.comparison
        spec = comparison.spec or spec
        if spec is None:
            return
        labels = spec.engine_labels()
        self._labels = labels
        self._build_columns(spec, labels)
        self.loss_plot.set_engines(labels)
        self.gradient_plot.set_engines(labels)
        self.loss_plot.set_baseline(self._baseline(spec), "baseline (no memory)")
        for index, exp in enumerate(comparison.experiments):
            metrics = exp.metrics
            self.loss_plot.append(
                index,
                metrics.train_steps,
                metrics.train_losses,
                metrics.eval_steps,
                metrics.eval_losses,
            )
        self._set_layers(max(int(s.settings["layers"]) for s in spec.specs), comparison.view.layer)
        self.history_slider.set_count(comparison.history_length())
        if comparison.view.history_index >= 0 and comparison.history_length():
            self.history_slider.set_index(comparison.view.history_index)
        self.show_history_frame(self.history_slider.index())

    def _baseline(self, spec: CompareSpec) -> float | None:
        for exp in self.comparison.experiments:
            baseline = (exp.info.get("task") or {}).get("baseline_loss")
            if baseline is not None:
                return float(baseline)
        try:
            return float(spec.specs[0].build_task().baseline_loss)
        except ValueError:
            return None

    def _build_columns(self, spec: CompareSpec, labels: list[str]) -> None:
        """One column of heatmaps per engine, titled with its name, size and weights seed."""
        while len(self.columns) > len(spec.specs):
            column = self.columns.pop()
            self.columns_layout.removeWidget(column)
            column.deleteLater()
        while len(self.columns) < len(spec.specs):
            column = EngineColumn(color=engine_color(len(self.columns)))
            column.cursor_moved.connect(self.set_cursor)
            column.cell_hovered.connect(self.cell_hovered)
            self.columns.append(column)
            self.columns_layout.addWidget(column, 1)
        counts = self._parameter_counts(spec)
        for column, run, label, seed, count in zip(
            self.columns, spec.specs, labels, spec.weights_seeds, counts, strict=True
        ):
            gates, has_cell = ENGINE_LAYOUTS[str(run.settings["engine"])]
            column.configure(list(gates), has_cell)
            size = "" if count is None else f"{count:,} parameters · "
            column.set_title(
                f"{label}\n{size}weights seed {seed}",
                f"hidden {run.settings['hidden']}, {run.settings['layers']} layer(s), "
                f"init {run.settings['init']}",
            )

    # --- frames and history ------------------------------------------------------------------
    def _on_frames_added(self) -> None:
        self.history_slider.set_count(self.comparison.history_length())
        if self.history_slider.is_live():
            self.show_history_frame(self.comparison.history_length() - 1)

    def show_history_frame(self, index: int) -> None:
        """Every engine's frame at the history position ``index``, on one cursor."""
        comparison = self.comparison
        if index < 0 or not comparison.history_length():
            return
        layer = comparison.view.layer
        step = None
        shown = comparison.frames_at(index)
        predictions = []
        for engine, (column, each) in enumerate(zip(self.columns, shown, strict=False)):
            if each is None:
                column.show_frame(None)
                self.gradient_plot.set_engine_data(engine, None)
                predictions.append(None)
                continue
            frame, gradients = each
            names = comparison.experiments[engine].info.get("input_names") or None
            drawn = dashboard_frame(frame, layer, 0, names, gradients)
            column.show_frame(drawn)
            self.gradient_plot.set_engine_data(engine, drawn["grad_h"])
            predictions.append(drawn["prediction"])
            if step is None:  # the probe inputs are the same for all: drawn once
                step = frame.step
                self.sequence_plot.set_data(
                    drawn["inputs"], drawn["targets"], None, drawn["target_mask"], names
                )
        # Every engine's prediction over the shared target, in the engine's colour.
        labels = self._labels[: len(predictions)]
        labels += [f"engine {i + 1}" for i in range(len(labels), len(predictions))]
        self.sequence_plot.set_compared_predictions(
            predictions, labels, [engine_color(i) for i in range(len(predictions))]
        )
        self._apply_cursor()
        if step is not None:
            self.frames_shown.emit(step)

    def _on_history_index(self, index: int) -> None:
        live = index >= self.comparison.history_length() - 1
        self.comparison.set_view(history_index=-1 if live else int(index))
        self.show_history_frame(index)

    def _on_history_live(self, live: bool) -> None:
        if live:
            self.comparison.set_view(history_index=-1)

    def _on_view_changed(self, name: str) -> None:
        if name == "cursor":
            self._apply_cursor()
        elif name == "layer":
            self.show_history_frame(self.history_slider.index())

    def _set_layers(self, layers: int, current: int = 0) -> None:
        self.comparison.set_view(layer=fill_layer_combo(self.layer_combo, layers, current))

    # --- the time cursor ---------------------------------------------------------------------
    def cursor(self) -> int:
        return self.comparison.view.cursor

    def steps(self) -> int:
        """Time steps of the probe sequence on screen (0 before the first frame)."""
        return self.sequence_plot.cursor.count() or self.gradient_plot.cursor.count()

    def set_cursor(self, t: int) -> None:
        """Put every view's cursor on step ``t`` (clamped), as a drag would."""
        steps = self.steps()
        t = int(t) if not steps else min(max(0, int(t)), steps - 1)
        self.comparison.set_view(cursor=max(0, t))

    def _apply_cursor(self) -> None:
        t = self.comparison.view.cursor
        self.sequence_plot.set_cursor(t)
        self.gradient_plot.set_cursor(t)
        for column in self.columns:
            column.set_cursor(t)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        big = 10 if event.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier else 1
        t, steps = self.cursor(), self.steps()
        moves = {
            QtCore.Qt.Key.Key_Left: t - big,
            QtCore.Qt.Key.Key_Right: t + big,
            QtCore.Qt.Key.Key_Home: 0,
            QtCore.Qt.Key.Key_End: steps - 1,
        }
        if event.key() not in moves or not steps:
            super().keyPressEvent(event)
            return
        event.accept()
        self.set_cursor(moves[event.key()])
