"""Why the gradient vanishes, as a lecturer draws it: the step Jacobians ds_t/ds_{t-1}.

Left: the largest singular value of each step's Jacobian over time, with a line at 1 -- below
it every step shrinks the gradient passing back through it. Right: the norm of the product of
Jacobians, ||ds_{T-1}/ds_{T-1-d}||, against the distance d on a log axis, with a line at 1 --
a straight falling line is the geometric decay of Pascanu et al. (2013). Numbers come in as
numpy (``engines.live_analysis``: ``singular_values`` and ``product_norms`` of one layer);
curves are updated in place, peak-downsampled and clipped to the view like the dashboard's
line plots (``widgets.downsampling``), so 100,000 steps paint in milliseconds.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.downsampling import add_curve, configure_plot
from widgets.plot_support import (
    LOG_FLOOR,
    ExplainedTitle,
    ViewRange,
    finite_bounds,
    set_curve_data,
    time_range,
)
from widgets.time_cursor import TimeCursor

_LARGEST_PEN = pg.mkPen((240, 160, 60), width=2)
_OTHER_PEN = pg.mkPen((240, 160, 60, 90), width=1)
_PRODUCT_PEN = pg.mkPen((240, 90, 90), width=2)
_ONE_PEN = pg.mkPen((200, 200, 200, 160), width=1, style=QtCore.Qt.PenStyle.DashLine)


def _plot(title: str, xlabel: str, ylabel: str) -> pg.PlotWidget:
    widget = pg.PlotWidget()
    item = widget.getPlotItem()
    item.setTitle(title)
    item.setLabel("bottom", xlabel)
    item.setLabel("left", ylabel)
    item.getAxis("left").enableAutoSIPrefix(False)
    configure_plot(item)
    return widget


class JacobianView(ExplainedTitle, QtWidgets.QWidget):
    """Largest singular value per step and product norm against distance, for one layer.

    Signals
    -------
    cursor_moved(int)
        The user dragged the time cursor on the per-step plot.
    """

    cursor_moved = QtCore.Signal(int)
    EQUATION_VIEW = "jacobians"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps_widget = _plot("largest singular value of ∂s_t/∂s_t−1", "time step", "σ_max")
        self.steps_plot: pg.PlotItem = self.steps_widget.getPlotItem()
        self.distance_widget = _plot(
            "‖∂s_T−1 / ∂s_T−1−d‖ against the distance d", "distance d (steps back)", "norm"
        )
        self.distance_plot: pg.PlotItem = self.distance_widget.getPlotItem()
        self.distance_plot.setLogMode(y=True)
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.steps_widget, 1)
        layout.addWidget(self.distance_widget, 1)

        # Per step: sigma_1 bold, further singular values (if any) faint; a line at 1.
        self.singular_curves: list[pg.PlotDataItem] = [
            add_curve(self.steps_plot, pen=_LARGEST_PEN, connect="finite")
        ]
        self.steps_one_line = pg.InfiniteLine(pos=1.0, angle=0, pen=_ONE_PEN, movable=False)
        self.steps_plot.addItem(self.steps_one_line, ignoreBounds=True)
        self.cursor = TimeCursor(self)
        self.cursor_line = self.cursor.attach(self.steps_plot)
        self.cursor.moved.connect(self.cursor_moved)
        self.steps_range = ViewRange(self.steps_plot, refresh=self._fit_steps)

        # Per distance, on a log axis: the line at 1 sits at log10(1) = 0.
        self.product_curve = add_curve(self.distance_plot, pen=_PRODUCT_PEN, connect="finite")
        self.distance_one_line = pg.InfiniteLine(pos=0.0, angle=0, pen=_ONE_PEN, movable=False)
        self.distance_plot.addItem(self.distance_one_line, ignoreBounds=True)
        self.distance_range = ViewRange(
            self.distance_plot, refresh=self._fit_distance, log_aware=(False, True)
        )
        self._singular: np.ndarray | None = None  # (T, k)
        self._products: np.ndarray | None = None  # (D,), floored for the log axis
        self.set_engine_kind(None)

    def title_plots(self) -> list[pg.PlotItem]:
        return [self.steps_plot, self.distance_plot]

    # ------------------------------------------------------------------ data

    def set_data(
        self, singular_values: np.ndarray | None, product_norms: np.ndarray | None
    ) -> None:
        """Show one layer's analysis: ``singular_values`` (T,) or (T, k), largest first per
        step; ``product_norms`` (D,), entry d - 1 at distance d. ``None`` clears a plot.

        Zeros (a product that vanished entirely) are drawn at :data:`LOG_FLOOR` on the log
        axis; NaN leaves a gap.
        """
        self._set_singular(singular_values)
        self._set_products(product_norms)

    def singular_values(self) -> np.ndarray | None:
        """The (T, k) values last shown (None when empty)."""
        return self._singular

    def product_norms(self) -> np.ndarray | None:
        """The (D,) values last shown, zeros floored (None when empty)."""
        return self._products

    def clear_data(self) -> None:
        self.set_data(None, None)

    def _set_singular(self, values) -> None:
        if values is None or np.size(values) == 0:
            self._singular = None
            for curve in self.singular_curves:
                curve.setData([], [])
            self.cursor.set_count(0)
            return
        array = np.asarray(values, dtype=np.float64)
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(f"singular_values must be (time,) or (time, k), got {array.shape}")
        self._singular = array
        steps, count = array.shape
        while len(self.singular_curves) < count:
            self.singular_curves.append(
                add_curve(self.steps_plot, pen=_OTHER_PEN, connect="finite")
            )
        x = np.arange(steps)
        for index, curve in enumerate(self.singular_curves):
            if index < count:
                set_curve_data(curve, x, array[:, index])
            else:
                curve.setData([], [])
        self.cursor.set_count(steps)
        self._fit_steps()

    def _set_products(self, values) -> None:
        if values is None or np.size(values) == 0:
            self._products = None
            self.product_curve.setData([], [])
            return
        array = np.asarray(values, dtype=np.float64).ravel()
        with np.errstate(invalid="ignore"):
            floored = np.where(
                array > LOG_FLOOR, array, np.where(np.isnan(array), np.nan, LOG_FLOOR)
            )
        self._products = floored
        set_curve_data(self.product_curve, np.arange(1, floored.size + 1), floored)
        self._fit_distance()

    # ---------------------------------------------------------------- ranges

    def _fit_steps(self) -> None:
        if self._singular is None:
            return
        time_range(self.steps_range, self._singular.shape[0])
        bounds = finite_bounds(self._singular, np.array([0.0, 1.0]))  # 0 and the line at 1
        self.steps_range.fit_y(bounds)

    def _fit_distance(self) -> None:
        if self._products is None:
            return
        self.distance_range.set_x(1.0, float(max(self._products.size, 2)))
        bounds = finite_bounds(self._products, np.array([1.0]))
        if bounds is not None:  # whole decades: the range moves when a power of ten is crossed
            self.distance_range.fit_y((math.log10(bounds[0]), math.log10(bounds[1])), step=1.0)

    # ---------------------------------------------------------------- cursor

    def set_cursor(self, t: int) -> None:
        """Move the time cursor to step ``t`` without emitting ``cursor_moved``."""
        self.cursor.set_value(t)

    def cursor_value(self) -> int:
        return self.cursor.value()
