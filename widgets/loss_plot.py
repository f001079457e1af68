"""The loss history: train and test loss with the task's no-memory baseline, linear or log."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.plot_support import (
    LOG_FLOOR,
    ExplainedTitle,
    LogYToggle,
    SeriesBuffer,
    ViewRange,
    configure_curve,
    finite_bounds,
    nice_ceil,
    refresh_curves,
    set_curve_data,
)

#: Opacity of the loss plot's horizontal grid (the only plot with a grid).
LOSS_GRID_ALPHA = 0.15


class HorizontalGrid(pg.GraphicsObject):
    """Faint horizontal lines at the ticks of a plot's left axis (log scale included).

    pyqtgraph's own grid is drawn by the axis, which then spans the plot and has to repaint
    itself, tick labels and all, whenever any curve in it changes; this item paints only
    its lines.
    """

    def __init__(self, axis: pg.AxisItem, alpha: float) -> None:
        super().__init__()
        self._axis = axis
        self._pens = [pg.mkPen(255, 255, 255, round(255 * a)) for a in (alpha, alpha / 2)]
        self.setZValue(-100)  # under the curves
        self.setAcceptedMouseButtons(QtCore.Qt.MouseButton.NoButton)

    def boundingRect(self) -> QtCore.QRectF:
        view = self.viewRect()
        return QtCore.QRectF() if view is None else view

    def viewTransformChanged(self) -> None:
        super().viewTransformChanged()
        self.prepareGeometryChange()

    def paint(self, painter, *args) -> None:
        view, box = self.viewRect(), self.getViewBox()
        if view is None or box is None or box.height() <= 0:
            return
        lo, hi = sorted((view.top(), view.bottom()))
        levels = self._axis.tickValues(lo, hi, box.height())
        for (_, values), pen in zip(levels, self._pens, strict=False):  # major, then minor
            painter.setPen(pen)
            for v in values:
                painter.drawLine(QtCore.QPointF(view.left(), v), QtCore.QPointF(view.right(), v))


class _Extent:
    """Running min / max / smallest positive value of an append-only series."""

    __slots__ = ("hi", "lo", "lo_positive")

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.lo = math.inf
        self.hi = -math.inf
        self.lo_positive = math.inf

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        bounds = finite_bounds(values)
        if bounds is None:
            return
        self.lo, self.hi = min(self.lo, bounds[0]), max(self.hi, bounds[1])
        if bounds[0] > 0.0:
            self.lo_positive = min(self.lo_positive, bounds[0])
        else:
            with np.errstate(invalid="ignore"):
                positive = values[values > 0.0]
            positive = positive[np.isfinite(positive)]
            if positive.size:
                self.lo_positive = min(self.lo_positive, float(positive.min()))


class LossPlot(ExplainedTitle, LogYToggle, pg.PlotWidget):
    """Train loss per step, test loss at evaluation steps, and a labelled baseline.

    The ranges are kept by :class:`ViewRange`: x grows in jumps to the next 1-2-5 step past
    1.5 times the history, y grows when a loss leaves it (in whole decades on the log scale)
    and is refitted when the scale changes, so appending losses does not rebuild the axes on
    every update.
    """

    EQUATION_VIEW = "loss"

    def __init__(self, parent: QtWidgets.QWidget | None = None, max_points: int = 200_000):
        super().__init__(parent)
        # PlotWidget binds plotItem.clear onto the instance; this class's clear() must win.
        del self.clear
        self.plot_item: pg.PlotItem = self.getPlotItem()
        self.plot_item.setTitle("loss")
        self.plot_item.setLabel("bottom", "training step")
        self.plot_item.setLabel("left", "loss")
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)
        # Reading loss levels wants a grid; pyqtgraph's (showGrid) costs a repaint of the axis
        # and its labels on every update, this one only its lines.
        self.grid = HorizontalGrid(self.plot_item.getAxis("left"), LOSS_GRID_ALPHA)
        self.plot_item.addItem(self.grid, ignoreBounds=True)
        self.plot_item.addLegend(offset=(-10, 10), brush=(0, 0, 0, 150))
        self._train = SeriesBuffer(max_points=max_points)
        self._test = SeriesBuffer(max_points=max_points)
        self._extent = _Extent()
        self._x_range: tuple[float, float] | None = None
        self.train_curve = self.plot_item.plot(pen=pg.mkPen((90, 170, 255), width=1), name="train")
        self.test_curve = self.plot_item.plot(
            pen=pg.mkPen((255, 150, 50), width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=(255, 150, 50),
            name="test",
        )
        configure_curve(self.train_curve)
        configure_curve(self.test_curve)
        self.baseline_line = pg.InfiniteLine(
            pos=0.0,
            angle=0,
            movable=False,
            pen=pg.mkPen((200, 200, 200), width=1, style=QtCore.Qt.PenStyle.DashLine),
            label="",
            labelOpts={"position": 0.05, "anchors": [(0, 1), (0, 1)], "color": (200, 200, 200)},
        )
        self.baseline_line.setVisible(False)
        self.plot_item.addItem(self.baseline_line)
        self._baseline: float | None = None
        self._log_y = False
        self.view_range = ViewRange(
            self.plot_item, margin=0.05, slack=0.0, refresh=self._refit, log_aware=(False, True)
        )
        # The plot's own context menu toggles the log scales too: follow it whichever way.
        self.plot_item.ctrl.logXCheck.toggled.connect(self._on_log_mode)
        self.plot_item.ctrl.logYCheck.toggled.connect(self._on_log_mode)
        self.set_engine_kind(None)

    def append_train(self, steps: np.ndarray, losses: np.ndarray) -> None:
        """Add train losses (arrays or scalars) measured at ``steps``."""
        self._train.extend(steps, losses)
        self._extent.add(losses)
        set_curve_data(self.train_curve, *self._train.data())
        self._update_range()

    def append_test(self, step: float, loss: float) -> None:
        self._test.extend(step, loss)
        self._extent.add(loss)
        set_curve_data(self.test_curve, *self._test.data())
        self._update_range()

    def train_data(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the full train history (not downsampled)."""
        x, y = self._train.data()
        return x.copy(), y.copy()

    def test_data(self) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._test.data()
        return x.copy(), y.copy()

    def set_baseline(self, value: float | None, label: str = "") -> None:
        """Dashed horizontal reference (e.g. the loss of always predicting the mean).

        ``None`` hides it.
        """
        if value is None or not math.isfinite(value):
            self._baseline = None
            self.baseline_line.setVisible(False)
            return
        self._baseline = float(value)
        # InfLineLabel formats its text with str.format: escape braces in the caller's label.
        self.baseline_line.label.setFormat(label.replace("{", "{{").replace("}", "}}"))
        self._place_baseline()
        self._update_range()

    def baseline(self) -> float | None:
        return self._baseline

    def clear(self) -> None:
        """Forget the history (a new run); the baseline stays."""
        self._train.clear()
        self._test.clear()
        self._extent.clear()
        self._x_range = None
        self.train_curve.setData([], [])
        self.test_curve.setData([], [])
        self.view_range.reset()

    def _on_log_mode(self, *_) -> None:
        self._log_y = self.plot_item.ctrl.logYCheck.isChecked()
        self._place_baseline()
        refresh_curves(self._curves())
        self.view_range.reset()  # pyqtgraph switched auto-range on: take the ranges back

    def _curves(self) -> tuple:
        """The curves the log toggle re-draws (a plot of several runs has more)."""
        return (self.train_curve, self.test_curve)

    def _buffers(self) -> tuple[SeriesBuffer, ...]:
        """The series whose steps set the x range."""
        return (self._train, self._test)

    def _refit(self) -> None:
        if self._x_range is not None:
            self.view_range.set_x(*self._x_range, padding=0.02)
        self._update_range()

    def _update_range(self) -> None:
        buffers = self._buffers()
        firsts = [buf.data()[0][0] for buf in buffers if len(buf)]
        if firsts:
            lo = float(min(firsts))
            last = float(max(buf.data()[0][-1] for buf in buffers if len(buf)))
            if self._x_range is None or lo != self._x_range[0] or last > self._x_range[1]:
                self._x_range = (lo, lo + nice_ceil(1.5 * (last - lo)))
                self.view_range.set_x(*self._x_range, padding=0.02)
        extent, baseline = self._extent, self._baseline
        if self._log_y:
            lo, hi = extent.lo_positive, extent.hi
            if baseline is not None and baseline > 0:
                lo, hi = min(lo, baseline), max(hi, baseline)
            if 0 < lo <= hi < math.inf:
                # Whole decades: a log axis labels only powers of ten.
                self.view_range.fit_y((math.log10(lo), math.log10(hi)), step=1.0)
        else:
            lo, hi = extent.lo, extent.hi
            if baseline is not None:
                lo, hi = min(lo, baseline), max(hi, baseline)
            if lo <= hi:
                self.view_range.fit_y((lo, hi))

    def _place_baseline(self) -> None:
        if self._baseline is None:
            return
        self.baseline_line.setVisible(True)  # first: a hidden label does not re-render its text
        if self._log_y:
            # Lines live in view coordinates, which are log10 of the data on a log axis.
            self.baseline_line.setValue(math.log10(max(self._baseline, LOG_FLOOR)))
        else:
            self.baseline_line.setValue(self._baseline)
        self.baseline_line.label.valueChanged()  # re-render the text even if the value is unchanged
