"""Line plots of the time axis: gradient flow through time and one unit's state and gates.

Every plot keeps its curve items for life and feeds them with ``setData``; nothing is rebuilt
per frame. They carry the shared time cursor and report drags as ``cursor_moved(int)``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.downsampling import add_curve, configure_plot
from widgets.plot_support import (
    EMPTY_RANGE,
    LOG_FLOOR,
    ExplainedTitle,
    LogYToggle,
    ViewRange,
    finite_bounds,
    refresh_curves,
    same_data,
    series_color,
    set_curve_data,
    time_range,
)
from widgets.time_cursor import TimeCursor


class _TimePlot(ExplainedTitle, pg.PlotWidget):
    """A plot over time steps with the shared time cursor.

    No grid (it would repaint the axes across the plot on every frame); the x range is the
    time steps and the y range follows the data with hysteresis (:class:`ViewRange`).
    Curves are peak-downsampled and clipped to the view (``add_curve``): a probe of
    100,000 steps paints in milliseconds, not in a quarter of a second per curve.
    """

    cursor_moved = QtCore.Signal(int)
    #: Whether :meth:`_fit_y` hands over log10 bounds on a log y scale.
    _LOG_AWARE_Y = False

    def __init__(self, title: str, ylabel: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.plot_item: pg.PlotItem = self.getPlotItem()
        self.plot_item.setTitle(title)
        self.plot_item.setLabel("bottom", "time step")
        self.plot_item.setLabel("left", ylabel)
        # An SI scale factor would be appended to the rotated label, where it is clipped.
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)
        configure_plot(self.plot_item)
        self.legend = self.plot_item.addLegend(offset=(-10, 10), brush=(0, 0, 0, 150), colCount=3)
        self.cursor = TimeCursor(self)
        self.cursor_line = self.cursor.attach(self.plot_item)
        self.cursor.moved.connect(self.cursor_moved)
        self._steps = 0
        self.view_range = ViewRange(
            self.plot_item, refresh=self._refit, log_aware=(False, self._LOG_AWARE_Y)
        )
        self.plot_item.ctrl.logXCheck.toggled.connect(self._on_log_mode)
        self.plot_item.ctrl.logYCheck.toggled.connect(self._on_log_mode)
        self.set_engine_kind(None)

    def set_cursor(self, t: int) -> None:
        """Move the time cursor to step ``t`` without emitting ``cursor_moved``."""
        self.cursor.set_value(t)

    def cursor_value(self) -> int:
        return self.cursor.value()

    def _curves(self) -> list[pg.PlotDataItem]:
        raise NotImplementedError

    def _on_log_mode(self, *_) -> None:
        refresh_curves(self._curves())
        self.view_range.reset()

    def _refit(self) -> None:
        time_range(self.view_range, self._steps)
        self._fit_y()

    def _fit_y(self) -> None:
        arrays = [c.getOriginalDataset()[1] for c in self._curves() if c.isVisible()]
        self.view_range.fit_y(finite_bounds(*arrays))


class GradientFlowPlot(LogYToggle, _TimePlot):
    """‖dL/dh_t‖ and ‖dL/dx_t‖ per time step: where the gradient vanishes or explodes."""

    _LOG_AWARE_Y = True
    EQUATION_VIEW = "gradient"

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("gradient flow", "gradient norm", parent)
        self.grad_h_curve = add_curve(
            self.plot_item, pen=pg.mkPen((240, 90, 90), width=2), name="‖dL/dh_t‖", connect="finite"
        )
        self.grad_x_curve = add_curve(
            self.plot_item,
            pen=pg.mkPen((90, 170, 255), width=1),
            name="‖dL/dx_t‖",
            connect="finite",
        )
        self._log_y = False
        self._shown: dict[str, np.ndarray | None] = {"h": None, "x": None}
        self.set_log_y(True)

    @staticmethod
    def _floored(values: np.ndarray) -> np.ndarray:
        """Zeros and negatives to :data:`LOG_FLOOR`; NaN stays a gap."""
        values = np.asarray(values, dtype=np.float64).ravel()
        with np.errstate(invalid="ignore"):
            return np.where(
                values > LOG_FLOOR, values, np.where(np.isnan(values), np.nan, LOG_FLOOR)
            )

    def set_data(self, grad_h: np.ndarray | None, grad_x: np.ndarray | None = None) -> None:
        """Show the per-step norms; ``None`` clears a curve.

        Gradients are probed less often than frames are drawn: unchanged norms are not re-set.
        """
        count = 0
        changed = False
        for key, curve, values in (
            ("h", self.grad_h_curve, grad_h),
            ("x", self.grad_x_curve, grad_x),
        ):
            y = None if values is None or np.size(values) == 0 else self._floored(values)
            if y is not None:
                count = max(count, y.size)
            if same_data(self._shown[key], y):
                continue
            changed = True
            self._shown[key] = y
            if y is None:
                curve.setData([], [])
            else:
                set_curve_data(curve, np.arange(y.size), y)
        self.cursor.set_count(count)
        self._steps = count
        time_range(self.view_range, count)
        if changed:
            self._fit_y()

    def _curves(self) -> list[pg.PlotDataItem]:
        return [self.grad_h_curve, self.grad_x_curve]

    def _on_log_mode(self, *_) -> None:
        self._log_y = self.plot_item.ctrl.logYCheck.isChecked()
        # Empty and logarithmic: 1e-4 .. 1, where gradient norms usually live (not 1 .. 10).
        self.view_range.set_empty(1, (-4.0, 0.0) if self._log_y else EMPTY_RANGE)
        super()._on_log_mode()

    def _fit_y(self) -> None:
        arrays = [a for a in self._shown.values() if a is not None]
        if not self._log_y:
            self.view_range.fit_y(finite_bounds(*arrays))
            return
        bounds = finite_bounds(*arrays)  # floored: all positive
        if bounds is not None:
            # Whole decades: the range moves only when the norms cross a power of ten.
            bounds = (math.log10(bounds[0]), math.log10(bounds[1]))
        self.view_range.fit_y(bounds, step=1.0)


class UnitPlot(_TimePlot):
    """Hidden state, cell state and gates of one unit over time."""

    EQUATION_VIEW = "unit"

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("unit: none selected (click a heatmap)", "value", parent)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._shown: list[str] = []
        self._unit: int | None = None

    def unit(self) -> int | None:
        return self._unit

    def set_unit(self, unit: int | None, series: dict[str, np.ndarray] | None = None) -> None:
        """Show ``series`` (name -> values over time) for ``unit``; ``None`` clears the plot."""
        series = {} if unit is None or series is None else series
        self._unit = None if unit is None else int(unit)
        title = (
            "unit: none selected (click a heatmap)" if self._unit is None else f"unit {self._unit}"
        )
        if title != self.plot_item.titleLabel.text:
            self.plot_item.setTitle(title)
        count = 0
        shown = []
        arrays = []
        for name, values in series.items():
            if values is None:
                continue
            y = np.asarray(values, dtype=np.float64).ravel()
            curve = self.curves.get(name)
            if curve is None:
                color = series_color(name, len(self.curves))
                width = 2 if name in ("hidden", "cell") else 1
                curve = add_curve(
                    self.plot_item, pen=pg.mkPen(color, width=width), connect="finite"
                )
                self.curves[name] = curve
            set_curve_data(curve, np.arange(y.size), y)
            curve.setVisible(True)
            shown.append(name)
            arrays.append(y)
            count = max(count, y.size)
        for name, curve in self.curves.items():
            if name not in shown and curve.isVisible():
                curve.setData([], [])
                curve.setVisible(False)
        if shown != self._shown:
            # Legend entries change only when the set of series does (engine switch), not per frame.
            self.legend.clear()
            for name in shown:
                self.legend.addItem(self.curves[name], name)
            self._shown = shown
        self.cursor.set_count(count)
        self._steps = count
        time_range(self.view_range, count)
        self.view_range.fit_y(finite_bounds(*arrays))

    def shown_series(self) -> list[str]:
        return list(self._shown)

    def _curves(self) -> list[pg.PlotDataItem]:
        return list(self.curves.values())
