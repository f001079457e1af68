"""Draw your own input sequence with the mouse: continuous curves, or symbols picked by row.

The canvas owns a plain numpy array and edits it in place; the plot items only mirror it
(``setData``), so a stroke costs one small array write and one redraw of the curve under the pen.
Mouse events are taken from the PlotWidget's viewport by an event filter before pyqtgraph's scene
sees them, so drawing never pans or zooms the view.

Long sequences (the loaders accept 100,000 steps of 64 channels) are drawn peak-downsampled and
clipped to the view: one min-to-max stroke per pixel column, so a repaint stays in milliseconds.
The wheel zooms the time axis (the middle button pans it); zoomed in to fewer steps than pixels,
every sample is drawn as it is. Edits always write the canvas's own array at the steps under the
pointer, never the downsampled picture.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QKeySequence, QMouseEvent, QShortcut
from PySide6.QtWidgets import QVBoxLayout, QWidget

from widgets.downsampling import add_curve, configure_plot
from widgets.plot_support import plain_axes

PRESETS = ("sine", "square", "spikes", "noise")
MAX_CHANNELS = 64
_HISTORY_BYTES = 64 * 2**20  # undo keeps whole arrays; cap the memory, not the count
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_PRESS = (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick)
_PAD = 0.02  # of the length, either side of the time axis
MIN_VISIBLE_STEPS = 10  # the wheel zooms in no further than this


class SequenceCanvas(QWidget):
    """A freehand editor for one sequence of ``n_steps`` steps.

    Continuous mode: ``n_channels`` curves within ``value_range``; the left button draws on
    ``current_channel``, the right button (or the left one in erase mode) sets steps back to the
    blank value 0. Symbol mode (``set_symbol_mode(k)``): each step holds one of ``k`` symbols,
    drawn as markers on rows 0..k-1; clicking or dragging picks the row nearest the pointer.
    Every stroke, click, ``clear`` and preset is one undo step (Ctrl+Z, Ctrl+Shift+Z).
    """

    sequence_changed = Signal()

    def __init__(self, n_steps: int = 100, n_channels: int = 1, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget(parent=self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self._plot = self.plot_widget.getPlotItem()
        self._view = self._plot.getViewBox()
        self._plot.setMenuEnabled(False)
        self._plot.hideButtons()
        # The wheel zooms time only; left and right buttons never reach pyqtgraph (eventFilter).
        self._view.setMouseEnabled(x=True, y=False)
        self._view.disableAutoRange()
        self._thick = True  # the current channel's wide pen, only where samples are apart
        self._view.sigXRangeChanged.connect(self._on_zoom)
        self._view.sigResized.connect(self._on_zoom)
        self._plot.showGrid(x=True, y=True, alpha=0.25)
        for name in ("left", "bottom"):
            # Grid lines at the major and minor ticks, not pyqtgraph's third, finest level:
            # its dense full-height lines cost about as much to paint as a long curve each.
            self._plot.getAxis(name).setStyle(maxTickLevel=1)
        self._plot.setLabel("bottom", "time step")
        plain_axes(self._plot)
        configure_plot(self._plot)
        self._markers = add_curve(
            self._plot, pen=None, symbol="s", symbolSize=7, symbolBrush=_PALETTE[0]
        )
        self._curves: list[pg.PlotDataItem] = []
        self._shown_steps = np.arange(0)  # x of every curve; replaced when the length changes

        self._values = np.zeros((n_steps, n_channels), dtype=np.float32)
        self._symbols = np.zeros(n_steps, dtype=np.int64)
        self._k_symbols = 0
        self._symbol_names: tuple[str, ...] = ()
        self._range = (-1.0, 1.0)
        self._channel = 0
        self._erase_mode = False
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._stroke: tuple[Qt.MouseButton, bool, float, float, np.ndarray] | None = None

        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.plot_widget.viewport().installEventFilter(self)
        for keys, slot in (("Ctrl+Z", self.undo), ("Ctrl+Shift+Z", self.redo)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._reshape(n_steps, n_channels)

    # --- shape and mode -------------------------------------------------------------------

    @property
    def n_steps(self) -> int:
        return len(self._symbols)

    @property
    def n_channels(self) -> int:
        return self._values.shape[1]

    @property
    def symbol_count(self) -> int:
        """Number of symbols in symbol mode, 0 in continuous mode."""
        return self._k_symbols

    @property
    def value_range(self) -> tuple[float, float]:
        return self._range

    @property
    def current_channel(self) -> int:
        return self._channel

    @property
    def erase_mode(self) -> bool:
        return self._erase_mode

    def set_erase_mode(self, on: bool) -> None:
        self._erase_mode = bool(on)

    def set_current_channel(self, channel: int) -> None:
        if not 0 <= channel < self.n_channels:
            raise ValueError(f"channel must be in 0..{self.n_channels - 1}, got {channel}")
        self._channel = channel
        self._style_curves()

    def set_length(self, n_steps: int) -> None:
        """Keep what is drawn up to ``n_steps``, pad with blanks; clears the undo history."""
        self._reshape(n_steps, self.n_channels)
        self.sequence_changed.emit()

    def set_channels(self, n_channels: int) -> None:
        """Keep the first channels, add blank ones; clears the undo history."""
        self._reshape(self.n_steps, n_channels)
        self.sequence_changed.emit()

    def set_value_range(self, low: float, high: float) -> None:
        """Range of continuous values; new strokes are clamped to it, drawn values are kept."""
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"value range needs finite low < high, got ({low}, {high})")
        self._range = (float(low), float(high))
        self._update_view()

    def set_symbol_mode(self, k_symbols: int, names: tuple[str, ...] | None = None) -> None:
        """Switch to ``k_symbols`` symbols (0 switches back to continuous values); ``names`` label
        the rows. Symbols already drawn are kept where they still fit; clears the undo history."""
        if k_symbols < 0 or (names is not None and len(names) != k_symbols):
            raise ValueError(f"need k_symbols >= 0 and one name per symbol, got {k_symbols}")
        self._k_symbols = int(k_symbols)
        self._symbol_names = tuple(names) if names else tuple(str(i) for i in range(k_symbols))
        if k_symbols:
            np.clip(self._symbols, 0, k_symbols - 1, out=self._symbols)
        self._forget_history()
        self._update_view()
        self._refresh()
        self.sequence_changed.emit()

    def _reshape(self, n_steps: int, n_channels: int) -> None:
        if n_steps < 1 or not 1 <= n_channels <= MAX_CHANNELS:
            raise ValueError(
                f"need n_steps >= 1 and 1..{MAX_CHANNELS} channels, got {n_steps}, {n_channels}"
            )
        values = np.zeros((n_steps, n_channels), dtype=np.float32)
        t, c = min(n_steps, self.n_steps), min(n_channels, self.n_channels)
        values[:t, :c] = self._values[:t, :c]
        symbols = np.zeros(n_steps, dtype=np.int64)
        symbols[:t] = self._symbols[:t]
        self._values, self._symbols = values, symbols
        self._channel = min(self._channel, n_channels - 1)
        while len(self._curves) < n_channels:
            self._curves.append(add_curve(self._plot))
        while len(self._curves) > n_channels:
            self._plot.removeItem(self._curves.pop())
        self._forget_history()
        self._update_view(whole_length=n_steps != len(self._shown_steps))
        self._style_curves()
        self._refresh()

    def _update_view(self, whole_length: bool = False) -> None:
        """Fit the value axis; ``whole_length`` also shows every step (after a new length),
        otherwise the time axis keeps the user's zoom."""
        if self._k_symbols:
            y_range = (-0.5, self._k_symbols - 0.5)
            ticks = [list(enumerate(self._symbol_names))]
        else:
            y_range, ticks = self._range, None
        self._plot.getAxis("left").setTicks(ticks)
        if whole_length:
            self._shown_steps = np.arange(self.n_steps)
            lo, hi = self._time_limits()
            self._view.setLimits(
                xMin=lo, xMax=hi, minXRange=min(MIN_VISIBLE_STEPS, self.n_steps) - 1 + 1e-9
            )
            self._view.setXRange(lo, hi, padding=0.0)
        self._view.setYRange(*y_range, padding=0.02)

    def _time_limits(self) -> tuple[float, float]:
        pad = _PAD * self.n_steps
        return -0.5 - pad, self.n_steps - 0.5 + pad

    # --- zoom -----------------------------------------------------------------------------

    def visible_steps(self) -> tuple[int, int]:
        """First and last step (inclusive) at least half in view."""
        (lo, hi), _ = self._view.viewRange()
        last = self.n_steps - 1
        return int(np.clip(np.ceil(lo), 0, last)), int(np.clip(np.floor(hi), 0, last))

    def show_steps(self, first: int, last: int) -> None:
        """Zoom the time axis to steps ``first .. last`` (clamped to the sequence)."""
        end = self.n_steps - 1
        first, last = sorted((int(np.clip(first, 0, end)), int(np.clip(last, 0, end))))
        self._view.setXRange(first - 0.5, last + 0.5, padding=0.0)
        self._view.updateMatrix()  # now, not in the next paint (which would paint twice)

    def show_all_steps(self) -> None:
        """Zoom out to the whole sequence."""
        self._view.setXRange(*self._time_limits(), padding=0.0)
        self._view.updateMatrix()

    def _zoomed_in(self) -> bool:
        """Whether fewer steps than pixel columns are in view (every sample drawn as is)."""
        (lo, hi), _ = self._view.viewRange()
        return hi - lo <= max(self._view.width(), 1.0)

    def _on_zoom(self, *_) -> None:
        if self._zoomed_in() != self._thick:
            self._style_curves()

    def _style_curves(self) -> None:
        # A wide pen costs several times a 1-px line to paint: over a downsampled long
        # sequence (a band of min-to-max strokes) the current channel stands out by being
        # opaque and on top, and gets its wide pen once the samples are apart.
        self._thick = self._zoomed_in()
        for i, curve in enumerate(self._curves):
            color = pg.mkColor(_PALETTE[i % len(_PALETTE)])
            if i != self._channel:
                color.setAlpha(110)
            width = (3 if self._thick else 1) if i == self._channel else 1
            curve.setPen(pg.mkPen(color, width=width))
            curve.setZValue(1 if i == self._channel else 0)

    # --- the sequence ---------------------------------------------------------------------

    def sequence(self) -> np.ndarray:
        """A copy: (T, channels) float32, or (T,) int64 symbol indices in symbol mode."""
        return (self._symbols if self._k_symbols else self._values).copy()

    def set_sequence(self, array: np.ndarray) -> None:
        """Show a loaded sequence. A 1-D integer array is symbols (switches to symbol mode with
        enough symbols); anything else is continuous values (T,) or (T, channels), and the value
        range widens to hold them. Shows every step; clears the undo history."""
        array = np.asarray(array)
        if array.ndim not in (1, 2) or len(array) < 1:
            raise ValueError(f"expected (T,) or (T, channels), got shape {array.shape}")
        if array.ndim == 1 and array.dtype.kind in "iu":
            if array.min() < 0:
                raise ValueError("symbol indices must be >= 0")
            k = max(self._k_symbols, int(array.max()) + 1)
            self._reshape(len(array), self.n_channels)
            self._symbols[:] = array
            self.show_all_steps()
            self.set_symbol_mode(k, self._symbol_names if k == self._k_symbols else None)
            return
        values = np.asarray(array, dtype=np.float32).reshape(len(array), -1)
        if not np.isfinite(values).all():
            raise ValueError("values must be finite")
        self._k_symbols = 0
        low, high = self._range
        self._range = (min(low, float(values.min())), max(high, float(values.max())))
        self._reshape(*values.shape)
        self._values[:] = values
        self.show_all_steps()
        self._refresh()
        self.sequence_changed.emit()

    def clear(self) -> None:
        """Blank every channel (or every symbol) as one undo step."""
        self._edit(lambda target: target.fill(0), whole=True)

    def apply_preset(self, name: str, seed: int = 0) -> None:
        """Fill the current channel (or the symbols) with a named shape; ``seed`` makes the random
        ones ("spikes", "noise") reproducible."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        n, rng = self.n_steps, np.random.default_rng(seed)
        wave = np.sin(2 * np.pi * 3 * np.arange(n) / n)  # three periods over the length
        unit = {  # shapes in -1..1, mapped to the value range or the symbol rows below
            "sine": lambda: 0.8 * wave,
            "square": lambda: np.where(wave >= 0, 0.8, -0.8),
            "spikes": lambda: _spikes(n, rng),
            "noise": lambda: np.clip(0.4 * rng.standard_normal(n), -1, 1),
        }[name]()

        def fill(target: np.ndarray) -> None:
            if self._k_symbols:
                target[:] = np.rint((unit + 1) / 2 * (self._k_symbols - 1))
            else:
                low, high = self._range
                target[:] = (low + high) / 2 + unit * (high - low) / 2

        self._edit(fill)

    # --- undo -----------------------------------------------------------------------------

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> None:
        self._swap(self._undo, self._redo)

    def redo(self) -> None:
        self._swap(self._redo, self._undo)

    def _swap(self, source: list[np.ndarray], sink: list[np.ndarray]) -> None:
        if self._stroke is not None or not source:
            return
        current = self._array()
        sink.append(current.copy())
        current[:] = source.pop()
        self._refresh()
        self.sequence_changed.emit()

    def _forget_history(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._stroke = None

    def _commit(self, before: np.ndarray) -> None:
        """Record ``before`` as one undo step if the edit changed anything, then announce it."""
        if np.array_equal(before, self._array()):
            return
        self._undo.append(before)
        self._redo.clear()
        while len(self._undo) > 1 and sum(a.nbytes for a in self._undo) > _HISTORY_BYTES:
            self._undo.pop(0)
        self.sequence_changed.emit()

    def _edit(self, change, whole: bool = False) -> None:
        target = self._array()
        before = target.copy()
        change(target if self._k_symbols or whole else target[:, self._channel])
        self._refresh()
        self._commit(before)

    def _array(self) -> np.ndarray:
        return self._symbols if self._k_symbols else self._values

    # --- drawing --------------------------------------------------------------------------

    def data_to_viewport_pos(self, step: float, value: float) -> QPoint:
        """Pixel position in ``plot_widget.viewport()`` (where mouse events go) of a data point."""
        scene = self._view.mapViewToScene(QPointF(step, value))
        return self.plot_widget.mapFromScene(scene)

    def data_to_widget_pos(self, step: float, value: float) -> QPoint:
        """Pixel position of a data point in this widget's coordinates."""
        return self.plot_widget.viewport().mapTo(self, self.data_to_viewport_pos(step, value))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (*_PRESS, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease):
            return super().eventFilter(watched, event)
        assert isinstance(event, QMouseEvent)
        point = self._view.mapSceneToView(self.plot_widget.mapToScene(event.position().toPoint()))
        x, y = point.x(), point.y()
        if kind in _PRESS:
            button = event.button()
            if button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
                return False
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            if (
                self._stroke is not None
            ):  # a second button mid-stroke: keep the first as its own step
                self._commit(self._stroke[4])
            erase = button == Qt.MouseButton.RightButton or self._erase_mode
            self._stroke = (button, erase, x, y, self._array().copy())
            self._paint(x, y, x, y, erase)
            return True
        if self._stroke is None:
            return False  # plain hover: let pyqtgraph see it
        button, erase, x0, y0, before = self._stroke
        if kind == QEvent.Type.MouseMove:
            self._paint(x0, y0, x, y, erase)
            self._stroke = (button, erase, x, y, before)
        elif event.button() == button:
            self._paint(x0, y0, x, y, erase)
            self._stroke = None
            self._commit(before)
        return True

    def _paint(self, x0: float, y0: float, x1: float, y1: float, erase: bool) -> None:
        """Set every step between two pointer samples, interpolating linearly, so a fast stroke
        (few, far-apart samples) leaves no holes."""
        last = self.n_steps - 1
        a, b = sorted((int(np.clip(round(x0), 0, last)), int(np.clip(round(x1), 0, last))))
        steps = np.arange(a, b + 1)
        if x1 == x0:
            ys = np.full(len(steps), y1)
        else:
            ys = y0 + np.clip((steps - x0) / (x1 - x0), 0, 1) * (y1 - y0)
        if self._k_symbols:
            self._symbols[steps] = 0 if erase else np.clip(np.rint(ys), 0, self._k_symbols - 1)
        else:
            low, high = self._range
            self._values[steps, self._channel] = 0 if erase else np.clip(ys, low, high)
        self._refresh(only_current=True)

    def _refresh(self, only_current: bool = False) -> None:
        steps = self._shown_steps
        symbolic = bool(self._k_symbols)
        self._markers.setVisible(symbolic)
        if symbolic:
            self._markers.setData(steps, self._symbols)
        for i, curve in enumerate(self._curves):
            curve.setVisible(not symbolic)
            if not symbolic and (i == self._channel or not only_current):
                curve.setData(steps, self._values[:, i])


def _spikes(n: int, rng: np.random.Generator) -> np.ndarray:
    """A quiet line with a few isolated spikes: the events a memory task asks to recall."""
    unit = np.zeros(n)
    unit[rng.choice(n, size=max(1, n // 15), replace=False)] = 0.9
    return unit
