"""The vertical time cursor every time-based view shares.

One :class:`TimeCursor` owns one or more draggable vertical lines (one per plot of a view), keeps
them on the same integer time step and reports user drags as ``moved(int)``. Setting the cursor
from code never emits, so views that echo each other's cursor cannot loop.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtCore

# Magenta stands out on both the viridis and the blue-white-red heatmaps.
CURSOR_PEN = pg.mkPen((255, 60, 255), width=2)
CURSOR_HOVER_PEN = pg.mkPen((255, 150, 255), width=4)


class TimeCursor(QtCore.QObject):
    """Integer-valued vertical line(s) over time steps ``0 .. count - 1``."""

    moved = QtCore.Signal(int)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._lines: list[pg.InfiniteLine] = []
        self._value = 0
        self._count = 0

    def attach(self, plot_item: pg.PlotItem) -> pg.InfiniteLine:
        """Add a line for this cursor to ``plot_item`` and return it."""
        line = pg.InfiniteLine(
            pos=self._value, angle=90, movable=True, pen=CURSOR_PEN, hoverPen=CURSOR_HOVER_PEN
        )
        line.setZValue(50)
        # The cursor is an annotation, not data: it must not widen the auto-range.
        plot_item.addItem(line, ignoreBounds=True)
        line.sigDragged.connect(self._on_dragged)
        line.setVisible(self._count > 0)
        self._lines.append(line)
        self._apply_bounds(line)
        return line

    @property
    def lines(self) -> list[pg.InfiniteLine]:
        return list(self._lines)

    def value(self) -> int:
        return self._value

    def count(self) -> int:
        return self._count

    def set_count(self, count: int) -> None:
        """Time steps the cursor may visit; 0 hides it."""
        count = max(0, int(count))
        if count == self._count:
            return
        self._count = count
        for line in self._lines:
            self._apply_bounds(line)
            line.setVisible(count > 0)
        if count:
            self.set_value(min(self._value, count - 1))

    def set_value(self, t: int) -> None:
        """Move every line to step ``t`` (clamped), without emitting ``moved``."""
        t = self._clamp(int(t))
        self._value = t
        for line in self._lines:
            if line.value() != t:
                line.blockSignals(True)
                line.setValue(t)
                line.blockSignals(False)

    def _clamp(self, t: int) -> int:
        if self._count <= 0:
            return max(0, t)
        return min(max(0, t), self._count - 1)

    def _apply_bounds(self, line: pg.InfiniteLine) -> None:
        line.setBounds((0, max(0, self._count - 1)) if self._count else (None, None))

    def _on_dragged(self, line: pg.InfiniteLine) -> None:
        t = self._clamp(round(line.value()))
        changed = t != self._value
        self.set_value(t)
        # Snap the dragged line itself onto the integer step.
        line.blockSignals(True)
        line.setValue(t)
        line.blockSignals(False)
        if changed:
            self.moved.emit(t)
