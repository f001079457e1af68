"""The probe sequence: input channels on top, target and prediction below, on one time axis.

Kept generic on purpose: every task reaches this view as curves — regression targets as values,
classification as class indices or probabilities converted to floats by the caller. Targets are
drawn only where the task scores them (``target_mask``), with markers when those steps are few
(the adding task scores a single step).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.downsampling import PeakCurve, configure_curve, configure_plot
from widgets.plot_support import (
    ExplainedTitle,
    ViewRange,
    finite_bounds,
    refresh_curves,
    same_data,
    series_color,
    set_curve_data,
    time_range,
)
from widgets.time_cursor import TimeCursor

#: Up to this many scored steps the targets get markers; beyond it a line reads better.
MARKER_LIMIT = 64


def _as_2d(name: str, array: np.ndarray | None, steps: int | None) -> np.ndarray | None:
    if array is None:
        return None
    data = np.asarray(array, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise ValueError(f"{name} must have shape (T, channels), got shape {data.shape}")
    if steps is not None and data.shape[0] != steps:
        raise ValueError(f"{name} has {data.shape[0]} time steps, inputs have {steps}")
    return data


class SequencePlot(ExplainedTitle, pg.GraphicsLayoutWidget):
    """Inputs, targets and predictions of the probe sequence, sharing the time cursor.

    Drawn every frame, so kept cheap: no grid (it repaints the axes across the plot on every
    change), ranges set from the data with hysteresis instead of pyqtgraph's auto-range
    (:class:`~widgets.line_views.ViewRange`), and curves whose values did not change (the
    probe inputs and targets are the same batch every frame) are not re-set. Every curve is
    peak-downsampled and clipped to the view, so 100,000 steps paint in milliseconds per
    channel instead of 150 ms.
    """

    cursor_moved = QtCore.Signal(int)
    EQUATION_VIEW = "sequence"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.input_plot: pg.PlotItem = self.addPlot(row=0, col=0, title="probe sequence: inputs")
        self.input_plot.setLabel("left", "input")
        self.input_legend = self.input_plot.addLegend(
            offset=(-10, 5), colCount=4, brush=(0, 0, 0, 150)
        )
        self.output_plot: pg.PlotItem = self.addPlot(row=1, col=0, title="target and prediction")
        self.output_plot.setLabel("left", "output")
        self.output_plot.setLabel("bottom", "time step")
        self.output_plot.setXLink(self.input_plot)
        for plot in (self.input_plot, self.output_plot):
            configure_plot(plot)
            # An SI scale factor would be appended to the rotated label, where it is clipped.
            plot.getAxis("left").enableAutoSIPrefix(False)
        self.output_legend = self.output_plot.addLegend(
            offset=(-10, 5), colCount=4, brush=(0, 0, 0, 150)
        )

        self.input_curves: list[pg.PlotDataItem] = []
        self.target_curves: list[pg.PlotDataItem] = []
        self.prediction_curves: list[pg.PlotDataItem] = []
        # The compare window's: one list of curves (one per output channel) per engine.
        self.compared_curves: list[list[pg.PlotDataItem]] = []
        self._compared_labels: list[str] = []
        self._input_labels: list[str] = []
        self._output_labels: list[tuple[str, int, str]] = []
        self._shown: dict[pg.PlotDataItem, np.ndarray | None] = {}
        self._steps = 0
        self.input_range = ViewRange(self.input_plot, refresh=self._refit)
        # The output plot's x axis follows the input plot's (setXLink): only y is its own.
        self.output_range = ViewRange(
            self.output_plot, refresh=self._refit, empty=(None, (0.0, 1.0))
        )
        # A log scale from a plot's own menu: redraw with gaps where log10 is undefined, and
        # leave that axis to pyqtgraph's auto-range (ViewRange.reset).
        for plot, view_range, curves in (
            (self.input_plot, self.input_range, lambda: self.input_curves),
            (
                self.output_plot,
                self.output_range,
                lambda: self.target_curves + self.prediction_curves + self._compared(),
            ),
        ):
            for check in (plot.ctrl.logXCheck, plot.ctrl.logYCheck):
                check.toggled.connect(
                    lambda *_, c=curves, r=view_range: (refresh_curves(c()), r.reset())
                )

        self.cursor = TimeCursor(self)
        self.cursor.attach(self.input_plot)
        self.cursor.attach(self.output_plot)
        self.cursor.moved.connect(self.cursor_moved)
        self.set_engine_kind(None)

    def title_plots(self) -> list[pg.PlotItem]:
        return [self.input_plot, self.output_plot]

    # ------------------------------------------------------------------ data

    def set_data(
        self,
        inputs: np.ndarray | None,
        targets: np.ndarray | None = None,
        prediction: np.ndarray | None = None,
        target_mask: np.ndarray | None = None,
        channel_names: Sequence[str] | None = None,
    ) -> None:
        """Show one sequence; arrays are ``(T, C)`` / ``(T, K)`` (1-D means one channel)."""
        x_in = _as_2d("inputs", inputs, None)
        steps = None if x_in is None else x_in.shape[0]
        y_true = _as_2d("targets", targets, steps)
        y_pred = _as_2d("prediction", prediction, steps)
        if steps is None:
            steps = next((a.shape[0] for a in (y_true, y_pred) if a is not None), 0)
        t = np.arange(steps)

        channels = 0 if x_in is None else x_in.shape[1]
        names = list(channel_names or [])
        names += [f"x{i}" for i in range(len(names), channels)]
        self._fill(self.input_plot, self.input_curves, channels, self._input_curve)
        inputs_changed = False
        for i in range(channels):
            inputs_changed |= self._put(self.input_curves[i], t, x_in[:, i])

        mask = None
        if target_mask is not None and y_true is not None:
            mask = np.asarray(target_mask, dtype=bool).ravel()
            if mask.size != steps:
                raise ValueError(f"target_mask has {mask.size} steps, the sequence has {steps}")
        k_true = 0 if y_true is None else y_true.shape[1]
        k_pred = 0 if y_pred is None else y_pred.shape[1]
        self._fill(self.output_plot, self.target_curves, k_true, self._target_curve)
        self._fill(self.output_plot, self.prediction_curves, k_pred, self._prediction_curve)
        scored = steps if mask is None else int(mask.sum())
        symbol = "o" if scored <= MARKER_LIMIT else None
        outputs_changed = False
        for k in range(k_true):
            y = y_true[:, k] if mask is None else np.where(mask, y_true[:, k], np.nan)
            curve = self.target_curves[k]
            if curve.opts["symbol"] != symbol:  # rebuilds the scatter: only on a real change
                curve.setSymbol(symbol)
            outputs_changed |= self._put(curve, t, y, scored=mask)
        for k in range(k_pred):
            outputs_changed |= self._put(self.prediction_curves[k], t, y_pred[:, k])

        self._update_legends(names[:channels], k_true, k_pred)
        self.cursor.set_count(steps)
        self._steps = steps
        time_range(self.input_range, steps)
        # Nothing to show (a cleared view) fits None: the empty range, at no cost once shown.
        if inputs_changed or not channels:
            self.input_range.fit_y(finite_bounds(x_in))
        if outputs_changed or not (k_true or k_pred):
            self.output_range.fit_y(self._output_bounds())

    def set_compared_predictions(
        self,
        predictions: Sequence[np.ndarray | None],
        labels: Sequence[str],
        colors: Sequence,
    ) -> None:
        """The predictions of several engines on the same probe sequence (the compare window):
        each ``(T, K)`` array (or None) drawn in its engine's colour, every output channel,
        with its label in the legend once. Empty lists remove them."""
        if not len(predictions) == len(labels) == len(colors):
            raise ValueError("predictions, labels and colors must have one entry per engine")
        changed = False
        while len(self.compared_curves) > len(predictions):
            for curve in self.compared_curves.pop():
                self.output_plot.removeItem(curve)
                self._shown.pop(curve, None)
            changed = True
        for engine, (values, color) in enumerate(zip(predictions, colors, strict=True)):
            if engine == len(self.compared_curves):
                self.compared_curves.append([])
            pool = self.compared_curves[engine]
            y = _as_2d("prediction", values, None)
            channels = 0 if y is None else y.shape[1]
            self._fill(
                self.output_plot,
                pool,
                channels,
                lambda _k, c=color: PeakCurve(pen=pg.mkPen(c, width=2), connect="finite"),
            )
            for k in range(channels):
                pool[k].setPen(pg.mkPen(color, width=2))
                changed |= self._put(pool[k], np.arange(y.shape[0]), y[:, k])
        if list(labels) != self._compared_labels:
            self._compared_labels = list(labels)
            self._output_labels = None  # rebuild the legend with the engines
            self._update_legends(
                self._input_labels,
                sum(c.isVisible() for c in self.target_curves),
                sum(c.isVisible() for c in self.prediction_curves),
            )
        if changed:
            self.output_range.fit_y(self._output_bounds())

    def clear_data(self) -> None:
        self.set_data(None)
        self.set_compared_predictions([], [], [])

    # ---------------------------------------------------------------- cursor

    def set_cursor(self, t: int) -> None:
        """Move the time cursor to step ``t`` without emitting ``cursor_moved``."""
        self.cursor.set_value(t)

    def cursor_value(self) -> int:
        return self.cursor.value()

    # -------------------------------------------------------------- helpers

    def _fill(self, plot: pg.PlotItem, pool: list[pg.PlotDataItem], needed: int, make) -> None:
        """Grow ``pool`` to ``needed`` curves (reusing old ones); blank and hide the rest."""
        while len(pool) < needed:
            curve = make(len(pool))
            plot.addItem(curve)
            configure_curve(curve)  # after addItem, which applies the plot's defaults
            pool.append(curve)
            self._shown[curve] = None
        for i, curve in enumerate(pool):
            curve.setVisible(i < needed)
            if i >= needed:
                self._put(curve, None, None)

    def _put(
        self,
        curve: pg.PlotDataItem,
        t: np.ndarray | None,
        y: np.ndarray | None,
        scored: np.ndarray | None = None,
    ) -> bool:
        """Give ``curve`` the values ``y`` over ``t`` unless it shows them already; True if set.

        With ``scored`` (a mask) only those steps are handed to the curve, joined where they
        are consecutive. NaN gaps would do the same at full zoom, but peak downsampling takes
        each bin's min and max, and one NaN in a bin blanks it: a lone scored step of a long
        sequence would vanish.
        """
        if same_data(self._shown.get(curve), y):
            return False
        if y is None:
            self._shown[curve] = None
            curve.setData([], [])
        else:
            y = np.array(y, dtype=np.float64)  # a copy: the caller may reuse its buffers
            self._shown[curve] = y
            if scored is None:
                set_curve_data(curve, t, y)
            else:
                steps = t[scored]
                joined = np.zeros(steps.size, dtype=bool)
                joined[:-1] = np.diff(steps) == 1
                curve.setData(steps, y[scored], connect=joined)
        return True

    def _compared(self) -> list[pg.PlotDataItem]:
        return [curve for pool in self.compared_curves for curve in pool]

    def _output_bounds(self) -> tuple[float, float] | None:
        every = self.target_curves + self.prediction_curves + self._compared()
        curves = [c for c in every if c.isVisible()]
        return finite_bounds(*(self._shown.get(c) for c in curves))

    def _refit(self) -> None:
        time_range(self.input_range, self._steps)
        visible = [self._shown.get(c) for c in self.input_curves if c.isVisible()]
        self.input_range.fit_y(finite_bounds(*visible))
        self.output_range.fit_y(self._output_bounds())

    @staticmethod
    def _input_curve(i: int) -> pg.PlotDataItem:
        return PeakCurve(pen=pg.mkPen(series_color("", i), width=1), connect="finite")

    @staticmethod
    def _target_curve(k: int) -> pg.PlotDataItem:
        color = series_color("", k + 3)
        return PeakCurve(
            pen=pg.mkPen(color, width=1, style=QtCore.Qt.PenStyle.DashLine),
            symbolBrush=color,
            symbolPen=None,
            symbolSize=6,
            connect="finite",
        )

    @staticmethod
    def _prediction_curve(k: int) -> pg.PlotDataItem:
        return PeakCurve(pen=pg.mkPen(series_color("", k + 3), width=2), connect="finite")

    def _update_legends(self, input_names: list[str], k_true: int, k_pred: int) -> None:
        if input_names != self._input_labels:
            self.input_legend.clear()
            for i, name in enumerate(input_names):
                self.input_legend.addItem(self.input_curves[i], name)
            self._input_labels = input_names
        labels: list[tuple[str, int, str]] = []
        for kind, count in (("target", k_true), ("prediction", k_pred)):
            labels += [(kind, k, kind if count == 1 else f"{kind} {k}") for k in range(count)]
        labels += [
            ("compared", engine, label)
            for engine, label in enumerate(self._compared_labels)
            if engine < len(self.compared_curves) and self.compared_curves[engine]
        ]
        if labels != self._output_labels:
            self.output_legend.clear()
            for kind, k, label in labels:
                if kind == "compared":
                    self.output_legend.addItem(self.compared_curves[k][0], label)
                    continue
                pool = self.target_curves if kind == "target" else self.prediction_curves
                self.output_legend.addItem(pool[k], label)
            self._output_labels = labels
