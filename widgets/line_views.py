"""Line plots of the training dashboard: loss history, gradient flow through time, one unit.

Every plot keeps its curve items for life and feeds them with ``setData``; nothing is rebuilt
per frame. The time-based plots (:class:`GradientFlowPlot`, :class:`UnitPlot`) carry the shared
time cursor and report drags as ``cursor_moved(int)``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.time_cursor import TimeCursor

#: Stand-in for zero (and negative) magnitudes on a log axis: small enough to read as
#: "vanished", large enough that log10 stays finite.
LOG_FLOOR = 1e-12

SERIES_COLORS: dict[str, tuple[int, int, int]] = {
    "hidden": (230, 230, 230),
    "cell": (255, 160, 60),
    "input": (80, 170, 255),
    "forget": (240, 80, 80),
    "candidate": (190, 120, 255),
    "output": (90, 210, 120),
    "reset": (240, 80, 80),
    "update": (80, 170, 255),
    "preactivation": (190, 120, 255),
}


def series_color(name: str, index: int) -> tuple[int, int, int] | pg.QtGui.QColor:
    """A stable colour for a named series, else the ``index``-th of a cycling palette."""
    return SERIES_COLORS.get(name.lower(), pg.intColor(index, hues=9, values=1, maxValue=230))


class SeriesBuffer:
    """Append-only (x, y) history in preallocated numpy buffers that double when full.

    Past ``max_points`` the history is thinned to every second point, so memory stays bounded
    on endless runs while the overall shape of the curve survives.
    """

    def __init__(self, capacity: int = 1024, max_points: int = 200_000) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._n = 0
        self.max_points = int(max_points)

    def __len__(self) -> int:
        return self._n

    def extend(self, x: np.ndarray, y: np.ndarray) -> None:
        x = np.atleast_1d(np.asarray(x, dtype=np.float64)).ravel()
        y = np.atleast_1d(np.asarray(y, dtype=np.float64)).ravel()
        if x.shape != y.shape:
            raise ValueError(
                f"steps and values must have the same length, got {x.size} and {y.size}"
            )
        k = x.size
        if self._n + k > self.max_points:
            self._thin()
        if self._n + k > self._x.size:
            capacity = max(2 * self._x.size, self._n + k)
            self._x = np.resize(self._x, capacity)
            self._y = np.resize(self._y, capacity)
        self._x[self._n : self._n + k] = x
        self._y[self._n : self._n + k] = y
        self._n += k

    def _thin(self) -> None:
        kept = (self._n + 1) // 2
        self._x[:kept] = self._x[: self._n : 2]
        self._y[:kept] = self._y[: self._n : 2]
        self._n = kept

    def clear(self) -> None:
        self._n = 0

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """Views on the filled part (valid until the next ``extend``)."""
        return self._x[: self._n], self._y[: self._n]


def _configure_curve(curve: pg.PlotDataItem) -> None:
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)


class LossPlot(pg.PlotWidget):
    """Train loss per step, test loss at evaluation steps, and a labelled baseline."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, max_points: int = 200_000):
        super().__init__(parent)
        # PlotWidget binds plotItem.clear onto the instance; this class's clear() must win.
        del self.clear
        self.plot_item: pg.PlotItem = self.getPlotItem()
        self.plot_item.setTitle("loss")
        self.plot_item.setLabel("bottom", "training step")
        self.plot_item.setLabel("left", "loss")
        self.plot_item.showGrid(x=True, y=True, alpha=0.2)
        self.plot_item.addLegend(offset=(-10, 10), brush=(0, 0, 0, 150))
        self._train = SeriesBuffer(max_points=max_points)
        self._test = SeriesBuffer(max_points=max_points)
        self.train_curve = self.plot_item.plot(pen=pg.mkPen((90, 170, 255), width=1), name="train")
        self.test_curve = self.plot_item.plot(
            pen=pg.mkPen((255, 150, 50), width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=(255, 150, 50),
            name="test",
        )
        _configure_curve(self.train_curve)
        _configure_curve(self.test_curve)
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

    def append_train(self, steps: np.ndarray, losses: np.ndarray) -> None:
        """Add train losses (arrays or scalars) measured at ``steps``."""
        self._train.extend(steps, losses)
        self.train_curve.setData(*self._train.data())

    def append_test(self, step: float, loss: float) -> None:
        self._test.extend(step, loss)
        self.test_curve.setData(*self._test.data())

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

    def baseline(self) -> float | None:
        return self._baseline

    def set_log_y(self, on: bool) -> None:
        self._log_y = bool(on)
        self.plot_item.setLogMode(y=self._log_y)
        self._place_baseline()

    def is_log_y(self) -> bool:
        return self._log_y

    def clear(self) -> None:
        """Forget the history (a new run); the baseline stays."""
        self._train.clear()
        self._test.clear()
        self.train_curve.setData([], [])
        self.test_curve.setData([], [])

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


class _TimePlot(pg.PlotWidget):
    """A plot over time steps with the shared time cursor."""

    cursor_moved = QtCore.Signal(int)

    def __init__(self, title: str, ylabel: str, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.plot_item: pg.PlotItem = self.getPlotItem()
        self.plot_item.setTitle(title)
        self.plot_item.setLabel("bottom", "time step")
        self.plot_item.setLabel("left", ylabel)
        self.plot_item.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.plot_item.addLegend(offset=(-10, 10), brush=(0, 0, 0, 150), colCount=3)
        self.cursor = TimeCursor(self)
        self.cursor_line = self.cursor.attach(self.plot_item)
        self.cursor.moved.connect(self.cursor_moved)

    def set_cursor(self, t: int) -> None:
        """Move the time cursor to step ``t`` without emitting ``cursor_moved``."""
        self.cursor.set_value(t)

    def cursor_value(self) -> int:
        return self.cursor.value()


class GradientFlowPlot(_TimePlot):
    """‖dL/dh_t‖ and ‖dL/dx_t‖ per time step: where the gradient vanishes or explodes."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("gradient flow", "gradient norm", parent)
        self.grad_h_curve = self.plot_item.plot(
            pen=pg.mkPen((240, 90, 90), width=2), name="‖dL/dh_t‖", connect="finite"
        )
        self.grad_x_curve = self.plot_item.plot(
            pen=pg.mkPen((90, 170, 255), width=1), name="‖dL/dx_t‖", connect="finite"
        )
        self._log_y = True
        self.plot_item.setLogMode(y=True)
        # Norms span many decades: plain powers of ten read better than an SI scale factor.
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)

    @staticmethod
    def _floored(values: np.ndarray) -> np.ndarray:
        """Zeros and negatives to :data:`LOG_FLOOR`; NaN stays a gap."""
        values = np.asarray(values, dtype=np.float64).ravel()
        with np.errstate(invalid="ignore"):
            return np.where(
                values > LOG_FLOOR, values, np.where(np.isnan(values), np.nan, LOG_FLOOR)
            )

    def set_data(self, grad_h: np.ndarray | None, grad_x: np.ndarray | None = None) -> None:
        """Show the per-step norms; ``None`` clears a curve."""
        count = 0
        for curve, values in ((self.grad_h_curve, grad_h), (self.grad_x_curve, grad_x)):
            if values is None or np.size(values) == 0:
                curve.setData([], [])
                continue
            y = self._floored(values)
            curve.setData(np.arange(y.size), y)
            count = max(count, y.size)
        self.cursor.set_count(count)

    def set_log_y(self, on: bool) -> None:
        self._log_y = bool(on)
        self.plot_item.setLogMode(y=self._log_y)

    def is_log_y(self) -> bool:
        return self._log_y


class UnitPlot(_TimePlot):
    """Hidden state, cell state and gates of one unit over time."""

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
        self.plot_item.setTitle(
            "unit: none selected (click a heatmap)" if self._unit is None else f"unit {self._unit}"
        )
        count = 0
        shown = []
        for name, values in series.items():
            if values is None:
                continue
            y = np.asarray(values, dtype=np.float64).ravel()
            curve = self.curves.get(name)
            if curve is None:
                color = series_color(name, len(self.curves))
                width = 2 if name in ("hidden", "cell") else 1
                curve = self.plot_item.plot(pen=pg.mkPen(color, width=width), connect="finite")
                self.curves[name] = curve
            curve.setData(np.arange(y.size), y)
            curve.setVisible(True)
            shown.append(name)
            count = max(count, y.size)
        for name, curve in self.curves.items():
            if name not in shown:
                curve.setData([], [])
                curve.setVisible(False)
        if shown != self._shown:
            # Legend entries change only when the set of series does (engine switch), not per frame.
            self.legend.clear()
            for name in shown:
                self.legend.addItem(self.curves[name], name)
            self._shown = shown
        self.cursor.set_count(count)

    def shown_series(self) -> list[str]:
        return list(self._shown)
