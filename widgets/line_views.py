"""Line plots of the training dashboard: loss history, gradient flow through time, one unit.

Every plot keeps its curve items for life and feeds them with ``setData``; nothing is rebuilt
per frame. The time-based plots (:class:`GradientFlowPlot`, :class:`UnitPlot`) carry the shared
time cursor and report drags as ``cursor_moved(int)``.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.time_cursor import TimeCursor

#: Stand-in for zero (and negative) magnitudes on a log axis: small enough to read as
#: "vanished", large enough that log10 stays finite.
LOG_FLOOR = 1e-12

#: Opacity of the loss plot's horizontal grid (the only plot with a grid).
LOSS_GRID_ALPHA = 0.15

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


def finite_bounds(*arrays: np.ndarray | None) -> tuple[float, float] | None:
    """``(min, max)`` over the finite values of ``arrays``; ``None`` when there are none."""
    lo, hi = math.inf, -math.inf
    for array in arrays:
        if array is None or np.size(array) == 0:
            continue
        values = np.asarray(array)
        a, b = float(np.min(values)), float(np.max(values))
        if not (math.isfinite(a) and math.isfinite(b)):  # NaN or inf inside: the slow path
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            a, b = float(values.min()), float(values.max())
        lo, hi = min(lo, a), max(hi, b)
    return (lo, hi) if lo <= hi else None


def set_curve_data(curve: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
    """``setData`` that spares pyqtgraph its finite check when the drawn values are all finite
    (on a log axis: all positive), and breaks the line at gaps otherwise."""
    y = np.asarray(y)
    with np.errstate(invalid="ignore"):
        finite = bool(np.isfinite(y).all()) and (
            not curve.opts["logMode"][1] or bool((y > 0).all())
        )
    if finite:
        curve.setData(x, y, connect="all", skipFiniteCheck=True)
    else:
        curve.setData(x, y, connect="finite", skipFiniteCheck=False)


def refresh_curves(curves) -> None:
    """Re-apply each curve's data (after a log toggle changed which values are drawable)."""
    for curve in curves:
        x, y = curve.getOriginalDataset()
        if y is not None:
            set_curve_data(curve, x, y)


def same_data(old: np.ndarray | None, new: np.ndarray | None) -> bool:
    """Whether ``new`` holds exactly ``old`` (NaN equal to NaN): the curve need not be re-set."""
    if old is None or new is None:
        return old is None and new is None
    return old.shape == new.shape and bool(np.array_equal(old, new, equal_nan=True))


def nice_ceil(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is >= ``value`` (at least 1)."""
    if not value > 1.0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1.0, 2.0, 5.0):
        if factor * power >= value:
            return factor * power
    return 10.0 * power


class ViewRange:
    """The ranges of one plot, set from code instead of by pyqtgraph's auto-range.

    pyqtgraph's auto-range recomputes the data bounds while the plot paints and, when they
    moved, changes the range then, which repaints the axes and the whole plot a second time;
    with data that wobble every frame, the axes are rebuilt on every frame. Here the views hand
    their data bounds over when the data change, and a range changes only when the data leave
    it or fill less than ``slack`` of it (and then with a ``margin`` to spare), so most frames
    leave the axes alone.

    A range the user set with the mouse stays until the plot's auto-range button ("A", shown
    only then) is clicked. An axis switched to a log scale from the plot's menu is left to
    pyqtgraph's auto-range unless ``log_aware`` says the view hands over log10 bounds for it.
    Owners call :meth:`reset` after a log toggle.
    """

    def __init__(
        self,
        plot_item: pg.PlotItem,
        margin: float = 0.08,
        slack: float = 0.5,
        refresh=None,
        log_aware: tuple[bool, bool] = (False, False),
    ) -> None:
        self.plot_item = plot_item
        self.vb: pg.ViewBox = plot_item.vb
        self.margin = float(margin)
        self.slack = float(slack)
        self._refresh = refresh
        self._log_aware = tuple(bool(a) for a in log_aware)
        self._log_checks = (plot_item.ctrl.logXCheck, plot_item.ctrl.logYCheck)
        self._auto = [True, True]
        self._set: list[tuple[float, float] | None] = [None, None]
        self.vb.disableAutoRange()
        self.vb.sigRangeChangedManually.connect(self._on_manual)
        plot_item.autoBtn.clicked.connect(lambda *_: self.reset())
        plot_item.updateButtons = self._update_buttons  # PlotItem calls it on hover and state
        # A new range can need wider tick labels, which lays the plot out again after the
        # paint. Axes that never give space back relayout a few times per run instead of on
        # every wobble, and a resized view applies its transform at once rather than in the
        # next paint (which would move the items mid-paint and paint once more).
        for name in ("left", "bottom"):
            plot_item.getAxis(name).setStyle(autoReduceTextSpace=False)
        self.vb.sigResized.connect(lambda vb: vb.updateMatrix())

    def managed(self, axis: int) -> bool:
        """Whether this object (not the user, not pyqtgraph) sets the range of ``axis``."""
        return (
            self._auto[axis]
            and not self._left_to_pyqtgraph(axis)
            and not (self.vb.autoRangeEnabled()[axis])
        )

    def reset(self) -> None:
        """Take the ranges back (after the auto-range button, a log toggle, a new run)."""
        self._auto = [True, True]
        self._set = [None, None]
        for axis in (0, 1):
            self.vb.enableAutoRange(axis=axis, enable=self._left_to_pyqtgraph(axis))
        self._update_buttons()
        if self._refresh is not None:
            self._refresh()

    def set_x(self, lo: float, hi: float, padding: float = 0.02) -> None:
        """Show exactly ``lo .. hi`` (padded) on x; nothing happens if that is already shown."""
        self._apply(0, (float(lo), float(hi)), padding)

    def fit_y(self, bounds: tuple[float, float] | None, step: float | None = None) -> None:
        """Make the y range hold ``bounds`` = (data min, data max), with hysteresis.

        ``step`` rounds a new range outwards to multiples of it (whole decades on a log axis).
        """
        if bounds is None or not self.managed(1):
            return
        lo, hi = bounds
        current = self._set[1]
        if (
            current is not None
            and current[0] <= lo
            and hi <= current[1]
            and hi - lo >= self.slack * (current[1] - current[0])
        ):
            return
        span = hi - lo
        if span <= 0.0:  # one value: a band around it, relative unless it is zero
            half = 0.1 * abs(lo) if lo != 0.0 else 0.5
            lo, hi = lo - half, hi + half
        else:
            lo, hi = lo - self.margin * span, hi + self.margin * span
        if step:
            lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
        self._apply(1, (lo, hi), 0.0)

    def _left_to_pyqtgraph(self, axis: int) -> bool:
        return self._log_checks[axis].isChecked() and not self._log_aware[axis]

    def _apply(self, axis: int, value: tuple[float, float], padding: float) -> None:
        if not self.managed(axis) or self._set[axis] == value:
            return
        if not (math.isfinite(value[0]) and math.isfinite(value[1])):
            return
        self._set[axis] = value
        lo, hi = value
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        if axis == 0:
            self.vb.setXRange(lo, hi, padding=padding)
        else:
            self.vb.setYRange(lo, hi, padding=padding)
        # pyqtgraph would apply the new transform while painting, which moves the items in
        # the middle of the paint and makes Qt paint the whole view a second time: do it now.
        self.vb.updateMatrix()

    def _on_manual(self, mask) -> None:
        for axis, changed in enumerate(mask[:2]):
            if changed:
                self._auto[axis] = False
        self._update_buttons()

    def _update_buttons(self) -> None:
        item = self.plot_item
        with contextlib.suppress(RuntimeError):  # the plot is being deleted
            item.autoBtn.setVisible(
                item._exportOpts is False  # as PlotItem.updateButtons reads it
                and item.mouseHovering
                and not item.buttonsHidden
                and not all(self._auto)
            )


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


class LossPlot(pg.PlotWidget):
    """Train loss per step, test loss at evaluation steps, and a labelled baseline.

    The ranges are kept by :class:`ViewRange`: x grows in jumps to the next 1-2-5 step past
    1.5 times the history, y grows when a loss leaves it (in whole decades on the log scale)
    and is refitted when the scale changes, so appending losses does not rebuild the axes on
    every update.
    """

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
        self.view_range = ViewRange(
            self.plot_item, margin=0.05, slack=0.0, refresh=self._refit, log_aware=(False, True)
        )
        # The plot's own context menu toggles the log scales too: follow it whichever way.
        self.plot_item.ctrl.logXCheck.toggled.connect(self._on_log_mode)
        self.plot_item.ctrl.logYCheck.toggled.connect(self._on_log_mode)

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

    def set_log_y(self, on: bool) -> None:
        on = bool(on)
        if on != self.plot_item.ctrl.logYCheck.isChecked():
            self.plot_item.setLogMode(y=on)  # the check box's signal calls _on_log_mode
        if on != self._log_y:
            self._on_log_mode()

    def is_log_y(self) -> bool:
        return self._log_y

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
        refresh_curves((self.train_curve, self.test_curve))
        self.view_range.reset()  # pyqtgraph switched auto-range on: take the ranges back

    def _refit(self) -> None:
        if self._x_range is not None:
            self.view_range.set_x(*self._x_range, padding=0.02)
        self._update_range()

    def _update_range(self) -> None:
        firsts = [buf.data()[0][0] for buf in (self._train, self._test) if len(buf)]
        if firsts:
            lo = float(min(firsts))
            last = float(max(buf.data()[0][-1] for buf in (self._train, self._test) if len(buf)))
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


def time_range(view_range: ViewRange, steps: int) -> None:
    """Pin a time plot's x range to steps ``0 .. steps - 1`` (no-op while unchanged)."""
    if steps > 0:
        view_range.set_x(0.0, float(max(steps - 1, 1)), padding=0.02)


class _TimePlot(pg.PlotWidget):
    """A plot over time steps with the shared time cursor.

    No grid (it would repaint the axes across the plot on every frame); the x range is the
    time steps and the y range follows the data with hysteresis (:class:`ViewRange`).
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


class GradientFlowPlot(_TimePlot):
    """‖dL/dh_t‖ and ‖dL/dx_t‖ per time step: where the gradient vanishes or explodes."""

    _LOG_AWARE_Y = True

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__("gradient flow", "gradient norm", parent)
        self.grad_h_curve = self.plot_item.plot(
            pen=pg.mkPen((240, 90, 90), width=2), name="‖dL/dh_t‖", connect="finite"
        )
        self.grad_x_curve = self.plot_item.plot(
            pen=pg.mkPen((90, 170, 255), width=1), name="‖dL/dx_t‖", connect="finite"
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

    def set_log_y(self, on: bool) -> None:
        on = bool(on)
        if on != self.plot_item.ctrl.logYCheck.isChecked():
            self.plot_item.setLogMode(y=on)  # the check box's signal calls _on_log_mode
        if on != self._log_y:
            self._on_log_mode()

    def is_log_y(self) -> bool:
        return self._log_y

    def _curves(self) -> list[pg.PlotDataItem]:
        return [self.grad_h_curve, self.grad_x_curve]

    def _on_log_mode(self, *_) -> None:
        self._log_y = self.plot_item.ctrl.logYCheck.isChecked()
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
                curve = self.plot_item.plot(pen=pg.mkPen(color, width=width), connect="finite")
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
