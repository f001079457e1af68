"""The gradient flow over training: one row per recorded frame, one column per time step, colour
log10 ||dL/dh_t||.

Read top to bottom it shows training teach the network to carry the gradient back: an LSTM's
rows fill in towards the early, marked steps while a tanh RNN's stay dark there. A line marks
the frame the history slider shows (``set_index``), so scrubbing moves it; clicking a row
reports that frame (``frame_picked``). Rows are frames, not training steps (the recorded history
is thinned unevenly as it grows); the left axis labels them with their training steps.

The colour scale spans a fixed number of decades and moves only in whole decades when the
largest norm crosses a power of ten, so a colour means the same gradient from frame to frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.plot_support import LOG_FLOOR, ExplainedTitle
from widgets.time_cursor import TimeCursor

#: Decades of gradient norm the colour scale spans.
DECADES = 8
_MARKER_PEN = pg.mkPen((255, 255, 255), width=2)


class _StepAxis(pg.AxisItem):
    """Row indices labelled with the training steps of their frames."""

    def __init__(self) -> None:
        super().__init__("left")
        self.steps = np.zeros(0, dtype=np.int64)

    def tickStrings(self, values, scale, spacing):  # pyqtgraph override
        labels = []
        for value in values:
            row = round(value)
            inside = 0 <= row < self.steps.size and abs(value - row) < 1e-6
            labels.append(str(int(self.steps[row])) if inside else "")
        return labels

    def tickValues(self, minVal, maxVal, size):  # whole rows only
        levels = super().tickValues(minVal, maxVal, size)
        return [(max(spacing, 1.0), ticks) for spacing, ticks in levels]


class GradientHistoryView(ExplainedTitle, pg.GraphicsLayoutWidget):
    """Heatmap of log10 ||dL/dh_t|| with training (recorded frames) down, time across.

    Signals
    -------
    frame_picked(int)
        The user clicked the row of frame ``index``.
    cursor_moved(int)
        The user dragged the time cursor.
    """

    frame_picked = QtCore.Signal(int)
    cursor_moved = QtCore.Signal(int)
    EQUATION_VIEW = "gradient_history"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.step_axis = _StepAxis()
        self.plot_item: pg.PlotItem = self.addPlot(
            row=0, col=0, title="gradient flow over training", axisItems={"left": self.step_axis}
        )
        self.plot_item.setLabel("bottom", "time step")
        self.plot_item.setLabel("left", "training step")
        self.plot_item.invertY(True)  # training runs downwards
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.vb.setDefaultPadding(0.0)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image_item)
        self._levels = (-float(DECADES), 0.0)
        self.color_bar = pg.ColorBarItem(
            values=self._levels,
            colorMap=pg.colormap.get("inferno"),
            label="log10 ‖dL/dh_t‖",
            interactive=False,
            colorMapMenu=False,
            width=12,
        )
        self.color_bar.setImageItem(self.image_item)
        self.addItem(self.color_bar, row=0, col=1)
        self.marker = pg.InfiniteLine(pos=0, angle=0, pen=_MARKER_PEN, movable=False)
        self.marker.setZValue(40)
        self.marker.setVisible(False)
        self.plot_item.addItem(self.marker, ignoreBounds=True)
        self.cursor = TimeCursor(self)
        self.cursor_line = self.cursor.attach(self.plot_item)
        self.cursor.moved.connect(self.cursor_moved)

        self._rows = np.full((0, 0), np.nan, dtype=np.float32)  # capacity buffer
        self._steps = np.zeros(0, dtype=np.int64)
        self._count = 0
        self._width = 0
        self._index: int | None = None  # None: follow the newest frame
        self._shape: tuple[int, int] | None = None
        self.scene().sigMouseClicked.connect(self._on_clicked)
        self.set_engine_kind(None)

    # ------------------------------------------------------------------ data

    def set_history(self, steps: Sequence[int], norms: Sequence[np.ndarray | None]) -> None:
        """Replace the history: per recorded frame its training step and its ||dL/dh_t||
        over time (T,), or None for a frame without gradients (a blank row)."""
        if len(steps) != len(norms):
            raise ValueError(
                f"steps and norms must be as long, got {len(steps)} steps and {len(norms)} norms"
            )
        self._count = 0
        self._width = 0
        for step, values in zip(steps, norms, strict=True):
            self._add(step, values)
        self._show()

    def append(self, step: int, norms: np.ndarray | None) -> None:
        """Add the newest recorded frame: its training step and ||dL/dh_t|| (T,) or None.

        A frame longer than the others widens the image (earlier rows blank there)."""
        self._add(step, norms)
        self._show()

    def clear_data(self) -> None:
        self.set_history([], [])

    def count(self) -> int:
        """Rows (recorded frames) shown."""
        return self._count

    def steps(self) -> np.ndarray:
        return self._steps[: self._count].copy()

    def image(self) -> np.ndarray:
        """The shown (frames, time) array of log10 norms (NaN: no gradients)."""
        return self._rows[: self._count, : self._width]

    def levels(self) -> tuple[float, float]:
        return self._levels

    def _add(self, step: int, norms) -> None:
        values = None if norms is None else np.asarray(norms, dtype=np.float64).ravel()
        width = self._width if values is None else max(self._width, values.size)
        rows, capacity = self._rows.shape
        if self._count >= rows or width > capacity:
            grown = np.full(
                (max(2 * rows, self._count + 1, 16), max(capacity, width)), np.nan, np.float32
            )
            grown[:rows, :capacity] = self._rows
            self._rows = grown
            self._steps = np.resize(self._steps, grown.shape[0])
        row = self._rows[self._count]
        row[:] = np.nan
        if values is not None and values.size:
            with np.errstate(divide="ignore", invalid="ignore"):
                row[: values.size] = np.log10(np.where(values > LOG_FLOOR, values, LOG_FLOOR))
            row[: values.size][np.isnan(values)] = np.nan
        self._steps[self._count] = int(step)
        self._count += 1
        self._width = width

    # --------------------------------------------------------------- drawing

    def _show(self) -> None:
        self.step_axis.steps = self._steps[: self._count]
        if self._count == 0 or self._width == 0:
            self.image_item.clear()
            self._shape = None
            self.cursor.set_count(0)
            self._place_marker()
            return
        shown = self.image()
        self._update_levels(shown)
        self.image_item.setImage(shown, autoLevels=False, levels=self._levels)
        if self._shape != shown.shape:
            self._shape = shown.shape
            frames, steps = shown.shape
            self.image_item.setRect(QtCore.QRectF(-0.5, -0.5, steps, frames))
            self.plot_item.vb.setLimits(
                xMin=-0.5, xMax=steps - 0.5, yMin=-0.5, yMax=max(frames, 1) - 0.5
            )
            self.plot_item.vb.setRange(
                xRange=(-0.5, steps - 0.5), yRange=(-0.5, frames - 0.5), padding=0.0
            )
        self.cursor.set_count(self._width)
        self.step_axis.picture = None  # new steps: relabel
        self.step_axis.update()
        self._place_marker()

    def _update_levels(self, shown: np.ndarray) -> None:
        finite = shown[np.isfinite(shown)]
        if finite.size == 0:
            return
        top = float(math.ceil(float(finite.max())))
        if top != self._levels[1]:
            self._levels = (top - DECADES, top)
            self.color_bar.setLevels(self._levels)

    # ---------------------------------------------------------------- marker

    def set_index(self, index: int | None) -> None:
        """Mark frame ``index`` (the history slider's); None or -1 follows the newest."""
        self._index = None if index is None or index < 0 else int(index)
        self._place_marker()

    def index(self) -> int:
        """The marked frame (-1 when there is none)."""
        if self._count == 0:
            return -1
        return self._count - 1 if self._index is None else min(self._index, self._count - 1)

    def _place_marker(self) -> None:
        index = self.index()
        self.marker.setVisible(index >= 0)
        if index >= 0:
            self.marker.setValue(index)

    # ---------------------------------------------------------------- cursor

    def set_cursor(self, t: int) -> None:
        """Move the time cursor to step ``t`` without emitting ``cursor_moved``."""
        self.cursor.set_value(t)

    def cursor_value(self) -> int:
        return self.cursor.value()

    def row_at(self, scene_pos: QtCore.QPointF) -> int | None:
        """The frame index of the row under a scene position, None off the image."""
        if self._count == 0 or not self.plot_item.vb.sceneBoundingRect().contains(scene_pos):
            return None
        y = self.plot_item.vb.mapSceneToView(scene_pos).y()
        row = round(y)
        return row if 0 <= row < self._count else None

    def scene_pos_of(self, row: int, step: int = 0) -> QtCore.QPointF:
        """Scene position of the centre of cell (row, step) (for tests)."""
        return self.plot_item.vb.mapViewToScene(QtCore.QPointF(step, row))

    def _on_clicked(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        row = self.row_at(event.scenePos())
        if row is not None:
            self.frame_picked.emit(row)
