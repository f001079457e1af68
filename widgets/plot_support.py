"""Shared pieces of the line plots: colours, growing series buffers, and view ranges that are
set from code with hysteresis (pyqtgraph's auto-range runs during paint and forces a second
paint, so the plots never use it while data stream in)."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pyqtgraph as pg

# Re-exported: the loss plot configures its curves from here.
from widgets.downsampling import configure_curve as configure_curve
from widgets.downsampling import redownsample_on_resize
from widgets.equations import view_tooltip

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


class ExplainedTitle:
    """The equation behind a view as its title's tooltip (``widgets.equations``), following the
    engine kind shown (:meth:`set_engine_kind`).

    ``EQUATION_VIEW`` names the view in :data:`widgets.equations.VIEW_EQUATIONS`; a view of
    several plots (``title_plots``) carries the same tooltip on each of their titles. Call
    ``set_engine_kind(None)`` once the plots exist: kind-independent texts show from the start.
    """

    EQUATION_VIEW = ""

    def title_plots(self) -> list[pg.PlotItem]:
        """The plots whose titles carry the tooltip."""
        return [self.plot_item]

    def set_engine_kind(self, kind: str | None) -> None:
        """Show the equations of engine ``kind`` (``lstm``, ``gru``, ``rnn``; None: unknown)."""
        self._engine_kind = kind
        text = view_tooltip(kind, self.EQUATION_VIEW)
        for item in self.title_plots():
            if item.titleLabel.toolTip() != text:
                item.titleLabel.setToolTip(text)

    def engine_kind(self) -> str | None:
        return getattr(self, "_engine_kind", None)

    def title_tooltip(self) -> str:
        """The tooltip on the view's title (rich text)."""
        return self.title_plots()[0].titleLabel.toolTip()


#: What an empty view shows on an axis: a plain 0..1 until data say otherwise.
EMPTY_RANGE = (0.0, 1.0)


def plain_axes(plot_item: pg.PlotItem) -> None:
    """No SI scale factor on the left and bottom axes.

    pyqtgraph labels a range within ±1 in thousandths ("unit (x0.001)", ticks -400..400) and
    appends the factor to the label, where a rotated label clips it; steps, units and values
    read better as they are.
    """
    for name in ("left", "bottom"):
        plot_item.getAxis(name).enableAutoSIPrefix(False)


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
    if old.shape != new.shape:
        return False
    if old.dtype == new.dtype and old.dtype.kind == "f":
        # The same bits (NaN included): one integer comparison, where ``equal_nan`` costs
        # three passes (100,000 steps x 10 curves every frame add up).
        as_int = np.dtype(f"i{old.dtype.itemsize}")
        return bool(np.array_equal(old.view(as_int), new.view(as_int)))
    return bool(np.array_equal(old, new, equal_nan=True))


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

    Without data an axis shows its ``empty`` range (``None``: leave that axis alone, e.g. an
    x axis linked to another plot's), so a view before the first frame reads 0..1 rather
    than whatever pyqtgraph's bounds of nothing give.
    """

    def __init__(
        self,
        plot_item: pg.PlotItem,
        margin: float = 0.08,
        slack: float = 0.5,
        refresh=None,
        log_aware: tuple[bool, bool] = (False, False),
        empty: tuple[tuple[float, float] | None, tuple[float, float] | None] = (
            EMPTY_RANGE,
            EMPTY_RANGE,
        ),
    ) -> None:
        self.plot_item = plot_item
        self.vb: pg.ViewBox = plot_item.vb
        self.margin = float(margin)
        self.slack = float(slack)
        self._refresh = refresh
        self._log_aware = tuple(bool(a) for a in log_aware)
        self._empty = list(empty)
        self._empty_shown = [False, False]
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
        redownsample_on_resize(self.vb)
        plain_axes(plot_item)
        self.show_empty()

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
        self._empty_shown = [False, False]
        for axis in (0, 1):
            self.vb.enableAutoRange(axis=axis, enable=self._left_to_pyqtgraph(axis))
        self._update_buttons()
        if self._refresh is not None:
            self._refresh()
        for axis in (0, 1):
            if self._set[axis] is None:  # no data to fit
                self.show_empty(axis)

    def set_empty(self, axis: int, value: tuple[float, float] | None) -> None:
        """The range ``axis`` shows without data (in log10 units on a log-aware log axis)."""
        if value != self._empty[axis]:
            self._empty[axis] = value
            self._empty_shown[axis] = False

    def fitted(self, axis: int) -> bool:
        """Whether ``axis`` shows a range fitted to data (not the empty one, not the user's)."""
        return self._set[axis] is not None

    def show_empty(self, axis: int | None = None) -> None:
        """Show the empty range on ``axis`` (both when ``None``) while this object manages it.

        It is not remembered as a fitted range: the first data are fitted whatever they hold.
        Showing it again costs nothing (no range change, no repaint).
        """
        for a in (0, 1) if axis is None else (axis,):
            if self._empty[a] is None or self._empty_shown[a] or not self.managed(a):
                continue
            self._set[a] = None
            self._empty_shown[a] = True
            lo, hi = self._empty[a]
            if a == 0:
                self.vb.setXRange(lo, hi, padding=0.0)
            else:
                self.vb.setYRange(lo, hi, padding=0.0)
        self.vb.updateMatrix()

    def set_x(self, lo: float, hi: float, padding: float = 0.02) -> None:
        """Show exactly ``lo .. hi`` (padded) on x; nothing happens if that is already shown."""
        self._apply(0, (float(lo), float(hi)), padding)

    def fit_y(self, bounds: tuple[float, float] | None, step: float | None = None) -> None:
        """Make the y range hold ``bounds`` = (data min, data max), with hysteresis.

        ``step`` rounds a new range outwards to multiples of it (whole decades on a log axis).
        ``None`` (no finite data) shows the empty range.
        """
        if bounds is None:
            self.show_empty(1)
            return
        if not self.managed(1):
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
        self._empty_shown[axis] = False
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


def time_range(view_range: ViewRange, steps: int) -> None:
    """Pin a time plot's x range to steps ``0 .. steps - 1`` (no-op while unchanged); no
    steps show the empty range."""
    if steps > 0:
        view_range.set_x(0.0, float(max(steps - 1, 1)), padding=0.02)
    else:
        view_range.show_empty(0)


class LogYToggle:
    """``set_log_y``/``is_log_y`` for a plot whose ``_on_log_mode`` re-fits it; the plot's own
    context-menu check box and the app's menu both end up in ``_on_log_mode``."""

    def set_log_y(self, on: bool) -> None:
        on = bool(on)
        if on != self.plot_item.ctrl.logYCheck.isChecked():
            self.plot_item.setLogMode(y=on)  # the check box's signal calls _on_log_mode
        if on != self._log_y:
            self._on_log_mode()

    def is_log_y(self) -> bool:
        return self._log_y
