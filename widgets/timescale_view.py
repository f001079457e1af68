"""How long each unit remembers: memory timescales tau = 1 / (1 - mean keep gate), sorted, on a
log axis -- and for the tanh RNN, which has no gates, the spectral radius of W_hh over training.

A gated unit keeping a fraction f of its state per step forgets over about 1 / (1 - f) steps;
bars above the sequence-length line (``set_horizon``) belong to units that can carry something
from the start of the sequence to its end. The RNN's memory is governed by the largest
|eigenvalue| of W_hh instead: near 1 it remembers, above 1 its states (and gradients) explode.
Values come in as numpy (``engines.live_analysis``: ``timescales`` of one layer, or its
``spectral_radius``); items are updated in place.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.plot_support import (
    ExplainedTitle,
    SeriesBuffer,
    ViewRange,
    finite_bounds,
    set_curve_data,
)

_BAR_BRUSH = pg.mkBrush(80, 170, 255, 200)
_HORIZON_PEN = pg.mkPen((240, 160, 60), width=1, style=QtCore.Qt.PenStyle.DashLine)
_ONE_PEN = pg.mkPen((200, 200, 200, 160), width=1, style=QtCore.Qt.PenStyle.DashLine)
_RADIUS_PEN = pg.mkPen((190, 120, 255), width=2)


class TimescaleView(ExplainedTitle, QtWidgets.QWidget):
    """Sorted timescale bars (LSTM, GRU) or the spectral radius over training (RNN).

    ``show_timescales`` and ``append_spectral_radius`` switch between the two pages; the
    one shown is :meth:`mode`. The title's equation follows :meth:`set_engine_kind` (the
    forget gate, the update gate, or the spectral radius).
    """

    EQUATION_VIEW = "timescales"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.stack = QtWidgets.QStackedWidget()
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        # Timescales: bars drawn in log10 units on an axis that labels them as powers of ten
        # (BarGraphItem does not follow a plot's log mode).
        self.bars_widget = pg.PlotWidget()
        self.bars_plot: pg.PlotItem = self.bars_widget.getPlotItem()
        self.bars_plot.setTitle("memory timescales τ = 1 / (1 − mean keep gate)")
        self.bars_plot.setLabel("bottom", "units, longest memory first")
        self.bars_plot.setLabel("left", "τ (steps)")
        self.bars_plot.getAxis("left").setLogMode(False, True)
        self.bars_plot.setMenuEnabled(False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, y0=0.0, brush=_BAR_BRUSH)
        self.bars_plot.addItem(self.bars)
        self.horizon_line = pg.InfiniteLine(
            pos=0.0,
            angle=0,
            pen=_HORIZON_PEN,
            movable=False,
            label="sequence length",
            labelOpts={"position": 0.85, "color": (240, 160, 60)},
        )
        self.horizon_line.setVisible(False)
        self.bars_plot.addItem(self.horizon_line, ignoreBounds=True)
        self.bars_range = ViewRange(self.bars_plot, refresh=self._fit_bars)
        self.stack.addWidget(self.bars_widget)

        # Spectral radius over training, with the edge of stability at 1.
        self.radius_widget = pg.PlotWidget()
        self.radius_plot: pg.PlotItem = self.radius_widget.getPlotItem()
        self.radius_plot.setTitle("spectral radius of W_hh over training")
        self.radius_plot.setLabel("bottom", "training step")
        self.radius_plot.setLabel("left", "max |eigenvalue|")
        self.radius_plot.getAxis("left").enableAutoSIPrefix(False)
        self.radius_curve = self.radius_plot.plot(pen=_RADIUS_PEN, symbol=None)
        self.radius_one_line = pg.InfiniteLine(pos=1.0, angle=0, pen=_ONE_PEN, movable=False)
        self.radius_plot.addItem(self.radius_one_line, ignoreBounds=True)
        self.radius_range = ViewRange(self.radius_plot, refresh=self._fit_radius)
        self.stack.addWidget(self.radius_widget)

        self._timescales: np.ndarray | None = None  # sorted, longest first
        self._units: np.ndarray | None = None
        self._horizon: int | None = None
        self._radius = SeriesBuffer()
        self.set_engine_kind(None)

    def title_plots(self) -> list[pg.PlotItem]:
        return [self.bars_plot, self.radius_plot]

    def mode(self) -> str:
        """ "timescales" or "spectral_radius": the page shown."""
        return "timescales" if self.stack.currentWidget() is self.bars_widget else "spectral_radius"

    # ------------------------------------------------------------ timescales

    def show_timescales(self, timescales: np.ndarray | None) -> None:
        """Show one layer's timescales (H,) in unit order, as bars sorted longest first;
        ``None`` clears them."""
        self.stack.setCurrentWidget(self.bars_widget)
        if timescales is None or np.size(timescales) == 0:
            self._timescales = self._units = None
            self.bars.setOpts(x=[], height=[])
            return
        values = np.asarray(timescales, dtype=np.float64).ravel()
        order = np.argsort(-values, kind="stable")
        self._units = order
        self._timescales = values[order]
        heights = np.log10(np.clip(self._timescales, 1.0, None))  # tau >= 1 by definition
        self.bars.setOpts(x=np.arange(values.size), height=heights, width=0.8)
        self._fit_bars()

    def timescales(self) -> np.ndarray | None:
        """The sorted timescales shown (longest first)."""
        return self._timescales

    def units(self) -> np.ndarray | None:
        """The unit of each bar."""
        return self._units

    def bar_heights(self) -> np.ndarray:
        """log10 of each bar's timescale, as drawn."""
        heights = self.bars.opts.get("height")
        return np.asarray([] if heights is None else heights, dtype=np.float64)

    def set_horizon(self, steps: int | None) -> None:
        """Draw the sequence length as a line among the bars (None hides it)."""
        self._horizon = None if steps is None or steps < 1 else int(steps)
        self.horizon_line.setVisible(self._horizon is not None)
        if self._horizon is not None:
            self.horizon_line.setValue(math.log10(self._horizon))
        self._fit_bars()

    def _fit_bars(self) -> None:
        if self._timescales is None:
            return
        count = self._timescales.size
        self.bars_range.set_x(-0.6, count - 0.4, padding=0.0)
        top = float(np.log10(max(self._timescales[0], 1.0)))
        if self._horizon is not None:
            top = max(top, math.log10(self._horizon))
        self.bars_range.fit_y((0.0, max(top, 1.0)), step=1.0)  # whole decades, from tau = 1

    # ------------------------------------------------------- spectral radius

    def append_spectral_radius(self, step: int, radius: float) -> None:
        """Add one point of the RNN's spectral radius at training ``step``."""
        self.stack.setCurrentWidget(self.radius_widget)
        self._radius.extend(np.array([float(step)]), np.array([float(radius)]))
        self._show_radius()

    def set_spectral_radius_history(self, steps, radii) -> None:
        """Replace the whole curve (a new run, or a history scrubbed back)."""
        self.stack.setCurrentWidget(self.radius_widget)
        self._radius.clear()
        if np.size(steps):
            self._radius.extend(np.asarray(steps, dtype=np.float64), np.asarray(radii))
        self._show_radius()

    def spectral_radius_data(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._radius.data()
        return x.copy(), y.copy()

    def _show_radius(self) -> None:
        x, y = self._radius.data()
        if x.size == 0:
            self.radius_curve.setData([], [])
            return
        set_curve_data(self.radius_curve, x, y)
        self._fit_radius()

    def _fit_radius(self) -> None:
        x, y = self._radius.data()
        if x.size == 0:
            return
        self.radius_range.set_x(float(x[0]), float(max(x[-1], x[0] + 1)))
        self.radius_range.fit_y(finite_bounds(y, np.array([1.0])))

    def clear_data(self) -> None:
        self.set_spectral_radius_history([], [])
        self.show_timescales(None)
