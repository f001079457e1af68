"""A units × time heatmap (hidden state, cell state or one gate) with a fixed colour scale.

The levels are fixed at construction on purpose: a gate's 0.3 must look the same on step 10 and
step 10,000, so the colours never rescale to the data. Rows are units (unit 0 at the top), columns
are time steps; column ``t`` is centred on x = t so the shared time cursor sits on its middle.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.plot_support import EMPTY_RANGE, plain_axes
from widgets.time_cursor import TimeCursor

#: Level ranges and colour maps for what the dashboard shows: sigmoid gates live in 0..1
#: (sequential map), tanh states and candidates in -1..1 and raw pre-activations in a wider
#: symmetric band (diverging, white at 0).
HEATMAP_STYLES: dict[str, tuple[tuple[float, float], str]] = {
    "gate": ((0.0, 1.0), "viridis"),
    "state": ((-1.0, 1.0), "CET-D1"),
    "preactivation": ((-3.0, 3.0), "CET-D1"),
}

_HIGHLIGHT_BRUSH = pg.mkBrush(255, 255, 255, 50)
_HIGHLIGHT_PEN = pg.mkPen(255, 255, 255, 200, width=1)
_REGION_PEN = pg.mkPen(255, 255, 255, 230, width=2, style=QtCore.Qt.PenStyle.DashLine)
_REGION_BRUSH = pg.mkBrush(255, 255, 255, 40)


class _RegionViewBox(pg.ViewBox):
    """A ViewBox whose left drags select a region instead of panning, with Shift held or in
    selection mode (the image fills the view, so panning has nothing to show anyway)."""

    def __init__(self, on_drag) -> None:
        super().__init__()
        self._on_drag = on_drag
        self.selecting = False

    def mouseDragEvent(self, ev, axis=None) -> None:  # pyqtgraph override
        shift = bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
        if ev.button() == QtCore.Qt.MouseButton.LeftButton and (self.selecting or shift):
            ev.accept()
            self._on_drag(ev)
            return
        super().mouseDragEvent(ev, axis)


class HeatmapView(pg.GraphicsLayoutWidget):
    """Heatmap of an ``(units, time)`` array with a time cursor, hover read-out and unit picking.

    Parameters
    ----------
    title:
        Shown above the plot.
    levels:
        ``(low, high)`` of the colour scale; never changes afterwards.
    colormap:
        A pyqtgraph colour map name (``"viridis"``, ``"CET-D1"``) or a :class:`pg.ColorMap`.
    """

    cursor_moved = QtCore.Signal(int)
    hovered = QtCore.Signal(int, int, float)
    unit_clicked = QtCore.Signal(int)
    #: A units x steps rectangle dragged out with Shift held (or in selection mode):
    #: first unit, last unit, first step, last step, all inclusive.
    region_selected = QtCore.Signal(int, int, int, int)

    def __init__(
        self,
        title: str = "",
        levels: tuple[float, float] = (0.0, 1.0),
        colormap: str | pg.ColorMap = "viridis",
        parent: QtWidgets.QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        low, high = (float(levels[0]), float(levels[1]))
        if not low < high:
            raise ValueError(f"levels must be (low, high) with low < high, got {levels!r}")
        self._levels = (low, high)
        self._data: np.ndarray | None = None
        self._highlighted: int | None = None

        self._drag_start: tuple[int, int] | None = None
        self._region: tuple[int, int, int, int] | None = None
        self.plot_item: pg.PlotItem = self.addPlot(
            row=0, col=0, title=title, viewBox=_RegionViewBox(self._on_region_drag)
        )
        self.plot_item.setLabel("bottom", "time step")
        self.plot_item.setLabel("left", "unit")
        self.plot_item.invertY(True)
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.vb.setDefaultPadding(0.0)
        # Empty, the bounds of nothing (-0.5..0.5) read as "-400..400 (x0.001)": show 0..1
        # until the first frame, and never an SI factor (one unit spans -0.5..0.5 too).
        plain_axes(self.plot_item)
        self.plot_item.vb.setRange(xRange=EMPTY_RANGE, yRange=EMPTY_RANGE, padding=0.0)

        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image_item)

        cmap = pg.colormap.get(colormap) if isinstance(colormap, str) else colormap
        self.color_bar = pg.ColorBarItem(
            values=self._levels,
            colorMap=cmap,
            interactive=False,
            colorMapMenu=False,
            width=12,
        )
        self.color_bar.setImageItem(self.image_item)
        self.addItem(self.color_bar, row=0, col=1)

        self.highlight_item = pg.LinearRegionItem(
            values=(0, 1),
            orientation="horizontal",
            movable=False,
            brush=_HIGHLIGHT_BRUSH,
            pen=_HIGHLIGHT_PEN,
        )
        self.highlight_item.setZValue(40)
        self.highlight_item.setVisible(False)
        self.plot_item.addItem(self.highlight_item, ignoreBounds=True)

        self.region_item = QtWidgets.QGraphicsRectItem()
        self.region_item.setPen(_REGION_PEN)
        self.region_item.setBrush(_REGION_BRUSH)
        self.region_item.setZValue(45)
        self.region_item.setVisible(False)
        self.plot_item.addItem(self.region_item, ignoreBounds=True)

        self.cursor = TimeCursor(self)
        self.cursor_line = self.cursor.attach(self.plot_item)
        self.cursor.moved.connect(self.cursor_moved)

        self.info_label = pg.LabelItem("", justify="left", size="8pt")
        self.addItem(self.info_label, row=1, col=0, colspan=2)

        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # ------------------------------------------------------------------ data

    def levels(self) -> tuple[float, float]:
        return self._levels

    def set_levels(self, levels: tuple[float, float]) -> None:
        """Fixed colour levels (e.g. -1..1 while a difference is shown); redraws in place."""
        low, high = float(levels[0]), float(levels[1])
        if not low < high:
            raise ValueError(f"levels must be (low, high) with low < high, got {levels!r}")
        if (low, high) == self._levels:
            return
        self._levels = (low, high)
        self.color_bar.setLevels((low, high))
        if self._data is not None:
            self.image_item.setLevels(self._levels)

    def data(self) -> np.ndarray | None:
        """The array last given to :meth:`set_data` (``None`` when empty)."""
        return self._data

    def set_data(self, array: np.ndarray | None) -> None:
        """Show ``array`` of shape ``(units, time)`` in place; ``None`` or empty clears the view.

        NaN cells are drawn blank; ±inf saturate at the level ends.
        """
        if array is None or np.size(array) == 0:
            self._data = None
            self.image_item.clear()
            self.cursor.set_count(0)
            self.info_label.setText("")
            return
        data = np.asarray(array)
        if data.ndim != 2:
            raise ValueError(f"array must have shape (units, time), got shape {data.shape}")
        if not np.issubdtype(data.dtype, np.floating):
            data = data.astype(np.float32)
        self._data = data
        shown = data
        if not np.isfinite(data).all():
            # Keep NaN (transparent) but pin ±inf to the level ends so the lookup cannot overflow.
            shown = np.clip(data, self._levels[0], self._levels[1])
        old_shape = self.image_item.image.shape if self.image_item.image is not None else None
        self.image_item.setImage(shown, autoLevels=False, levels=self._levels)
        units, steps = data.shape
        if old_shape != data.shape:
            self.image_item.setRect(QtCore.QRectF(-0.5, -0.5, steps, units))
            self.plot_item.vb.setLimits(xMin=-0.5, xMax=steps - 0.5, yMin=-0.5, yMax=units - 0.5)
            self.plot_item.vb.autoRange(padding=0.0)
        self.cursor.set_count(steps)
        if self._highlighted is not None:
            self.highlight_unit(self._highlighted)

    # ---------------------------------------------------------------- cursor

    def set_cursor(self, t: int) -> None:
        """Move the time cursor to step ``t`` without emitting ``cursor_moved``."""
        self.cursor.set_value(t)

    def cursor_value(self) -> int:
        return self.cursor.value()

    # ------------------------------------------------------------ highlight

    def highlight_unit(self, unit: int | None) -> None:
        """Mark row ``unit``; ``None`` or a negative unit removes the mark."""
        if unit is None or unit < 0:
            self._highlighted = None
            self.highlight_item.setVisible(False)
            return
        self._highlighted = int(unit)
        self.highlight_item.setRegion((unit - 0.5, unit + 0.5))
        units = 0 if self._data is None else self._data.shape[0]
        self.highlight_item.setVisible(unit < units)

    def highlighted_unit(self) -> int | None:
        return self._highlighted

    # ----------------------------------------------------------- title tooltip

    def set_title_tooltip(self, text: str) -> None:
        """Tooltip of the title (rich text allowed): the view's equation, from widgets.equations."""
        self.plot_item.titleLabel.setToolTip(text)

    def title_tooltip(self) -> str:
        return self.plot_item.titleLabel.toolTip()

    # ---------------------------------------------------------- region select

    def set_selection_mode(self, on: bool) -> None:
        """While on, a plain left drag selects a region (Shift+drag always does)."""
        self.plot_item.vb.selecting = bool(on)

    def selection_mode(self) -> bool:
        return self.plot_item.vb.selecting

    def show_region(self, region: tuple[int, int, int, int] | None) -> None:
        """Outline ``(unit_lo, unit_hi, step_lo, step_hi)`` (inclusive); None removes it."""
        self._region = None if region is None else tuple(int(v) for v in region)
        if self._region is None:
            self.region_item.setVisible(False)
            return
        unit_lo, unit_hi, step_lo, step_hi = self._region
        self.region_item.setRect(
            QtCore.QRectF(
                step_lo - 0.5, unit_lo - 0.5, step_hi - step_lo + 1, unit_hi - unit_lo + 1
            )
        )
        self.region_item.setVisible(True)

    def region(self) -> tuple[int, int, int, int] | None:
        """The outlined region, ``(unit_lo, unit_hi, step_lo, step_hi)`` inclusive."""
        return self._region

    def _clamped_cell(self, scene_pos: QtCore.QPointF) -> tuple[int, int] | None:
        """The cell under ``scene_pos``, or the nearest one when the drag leaves the image."""
        if self._data is None:
            return None
        local = self.image_item.mapFromScene(scene_pos)
        x, y = local.x(), local.y()
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        units, steps = self._data.shape
        return min(max(math.floor(y), 0), units - 1), min(max(math.floor(x), 0), steps - 1)

    def _on_region_drag(self, ev) -> None:
        if ev.isStart():
            self._drag_start = self.cell_at(ev.buttonDownScenePos())
        if self._drag_start is None:
            return
        here = self._clamped_cell(ev.scenePos())
        if here is None:
            return
        (u0, s0), (u1, s1) = self._drag_start, here
        region = (min(u0, u1), max(u0, u1), min(s0, s1), max(s0, s1))
        self.show_region(region)
        if ev.isFinish():
            self._drag_start = None
            self.region_selected.emit(*region)

    # ----------------------------------------------------------- hover/click

    def cell_at(self, scene_pos: QtCore.QPointF) -> tuple[int, int] | None:
        """``(unit, step)`` of the cell under a scene position, or ``None`` off the image."""
        if self._data is None:
            return None
        if not self.plot_item.vb.sceneBoundingRect().contains(scene_pos):
            return None
        local = self.image_item.mapFromScene(scene_pos)
        x, y = local.x(), local.y()
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        step, unit = math.floor(x), math.floor(y)
        units, steps = self._data.shape
        if 0 <= unit < units and 0 <= step < steps:
            return unit, step
        return None

    def scene_pos_of(self, unit: int, step: int) -> QtCore.QPointF:
        """Scene position of the centre of cell ``(unit, step)`` (for tests and tooltips)."""
        return self.image_item.mapToScene(QtCore.QPointF(step + 0.5, unit + 0.5))

    def leaveEvent(
        self, event
    ) -> None:  # Qt override: the read-out is for the cell under the mouse
        self.info_label.setText("")
        super().leaveEvent(event)

    def _on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        cell = self.cell_at(scene_pos)
        if cell is None:
            self.info_label.setText("")
            return
        unit, step = cell
        value = float(self._data[unit, step])
        self.info_label.setText(f"unit {unit}   step {step}   value {value:.4g}")
        self.hovered.emit(unit, step, value)

    def _on_mouse_clicked(self, ev) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        cell = self.cell_at(ev.scenePos())
        if cell is not None:
            self.unit_clicked.emit(cell[0])
