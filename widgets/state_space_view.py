"""The hidden-state trajectory of the probe sequence in its first two principal components.

Each time step is a point coloured by time (dark early, bright late) on a faint line through
them; the time cursor's point is ringed. The projection comes in as numpy (``engines.analysis.
StableProjection`` on the trainer: the axes are matched from frame to frame, so the picture
moves with training and never mirrors). A click on a point moves the time cursor there.

A long probe is drawn thinned: at most :data:`DRAWN_POINTS` steps, evenly spaced in time and
always the first and the last, coloured from a fixed palette: at 100,000 steps, a brush made
per point and a scatter of every point cost 0.3 s a frame (over 5 s the first time); thinned,
a frame costs ~20 ms. The data the view holds (:meth:`StateSpaceView.data`), the first step's square and the
time cursor's ring stay exact.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.plot_support import ExplainedTitle, ViewRange, finite_bounds

#: Most time steps drawn: past it the trajectory is thinned evenly (first and last kept).
DRAWN_POINTS = 4000
#: Colours of the time scale: each drawn point takes the nearest of these.
PALETTE_SIZE = 256

_LINE_PEN = pg.mkPen((200, 200, 200, 70), width=1)
_CURSOR_PEN = pg.mkPen((255, 60, 255), width=2)


class StateSpaceView(ExplainedTitle, pg.PlotWidget):
    """Trajectory in PC 1 / PC 2, coloured by time, with the cursor's point marked.

    Signals
    -------
    cursor_moved(int)
        The user clicked the point of time step ``t``.
    """

    cursor_moved = QtCore.Signal(int)
    EQUATION_VIEW = "state_space"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_item: pg.PlotItem = self.getPlotItem()
        self.plot_item.setTitle("state space: the trajectory on its two principal axes")
        for name in ("left", "bottom"):
            self.plot_item.getAxis(name).enableAutoSIPrefix(False)
        self._set_labels(None)
        self.path_curve = self.plot_item.plot(pen=_LINE_PEN)
        self.points = pg.ScatterPlotItem(size=7, pen=None)
        self.plot_item.addItem(self.points)
        self.cursor_marker = pg.ScatterPlotItem(
            size=15, pen=_CURSOR_PEN, brush=pg.mkBrush(0, 0, 0, 0), symbol="o"
        )
        self.cursor_marker.setZValue(20)
        self.plot_item.addItem(self.cursor_marker)
        self.start_marker = pg.ScatterPlotItem(size=10, pen=pg.mkPen("w"), brush=None, symbol="s")
        self.plot_item.addItem(self.start_marker)
        self.view_range = ViewRange(self.plot_item, refresh=self._fit)
        self.points.sigClicked.connect(self._on_points_clicked)
        colors = pg.colormap.get("viridis").map(np.linspace(0.0, 1.0, PALETTE_SIZE), mode="qcolor")
        self._palette = [pg.mkBrush(color) for color in colors]
        self._brushes: list = []
        self._brush_steps = 0  # the length the brushes were made for
        self._data: np.ndarray | None = None
        self._drawn_steps = np.zeros(0, dtype=np.int64)
        self._cursor = 0
        self.set_engine_kind(None)

    # ------------------------------------------------------------------ data

    def set_data(self, points: np.ndarray | None, explained=None) -> None:
        """Show the (T, 2) trajectory; ``explained`` the fraction of variance on each axis
        (for the axis labels). ``None`` clears the view."""
        if points is None or np.size(points) == 0:
            self._data = None
            for item in (self.path_curve, self.points, self.cursor_marker, self.start_marker):
                item.setData([], [])
            self._set_labels(None)
            return
        data = np.asarray(points, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != 2:
            raise ValueError(f"points must have shape (time, 2), got {data.shape}")
        self._data = data
        steps = data.shape[0]
        if self._brush_steps != steps:  # which steps and colours depend on the length only
            self._brush_steps = steps
            self._drawn_steps = thinned_steps(steps)
            shade = self._drawn_steps * (PALETTE_SIZE - 1) // max(steps - 1, 1)
            self._brushes = [self._palette[i] for i in shade]
        drawn = data[self._drawn_steps]
        self.path_curve.setData(drawn[:, 0], drawn[:, 1])
        self.points.setData(
            x=drawn[:, 0], y=drawn[:, 1], brush=self._brushes, data=self._drawn_steps
        )
        self.start_marker.setData([data[0, 0]], [data[0, 1]])
        self._set_labels(explained)
        self._place_cursor()
        self._fit()

    def data(self) -> np.ndarray | None:
        """The (T, 2) points last shown."""
        return self._data

    def drawn_steps(self) -> np.ndarray:
        """The time steps drawn as points (all of them up to :data:`DRAWN_POINTS`)."""
        return self._drawn_steps.copy() if self._data is not None else np.zeros(0, np.int64)

    def clear_data(self) -> None:
        self.set_data(None)

    def _set_labels(self, explained) -> None:
        for index, name in enumerate(("bottom", "left")):
            label = f"PC {index + 1}"
            if explained is not None and len(explained) > index:
                label += f" ({100 * float(explained[index]):.0f} % of the variance)"
            if self.plot_item.getAxis(name).labelText != label:
                self.plot_item.setLabel(name, label)

    def _fit(self) -> None:
        if self._data is None:
            return
        x_bounds = finite_bounds(self._data[:, 0])
        if x_bounds is not None:
            span = x_bounds[1] - x_bounds[0]
            pad = 0.08 * span if span > 0 else 0.5
            self.view_range.set_x(x_bounds[0] - pad, x_bounds[1] + pad, padding=0.0)
        self.view_range.fit_y(finite_bounds(self._data[:, 1]))

    # ---------------------------------------------------------------- cursor

    def set_cursor(self, t: int) -> None:
        """Ring the point of time step ``t`` (clamped) without emitting ``cursor_moved``."""
        self._cursor = max(0, int(t))
        self._place_cursor()

    def cursor_value(self) -> int:
        if self._data is None:
            return self._cursor
        return min(self._cursor, self._data.shape[0] - 1)

    def cursor_point(self) -> tuple[float, float] | None:
        """Where the ring is drawn, None when empty."""
        x, y = self.cursor_marker.getData()
        if x is None or len(x) == 0:
            return None
        return float(x[0]), float(y[0])

    def _place_cursor(self) -> None:
        if self._data is None:
            return
        t = self.cursor_value()
        self.cursor_marker.setData([self._data[t, 0]], [self._data[t, 1]])

    def scene_pos_of(self, t: int) -> QtCore.QPointF:
        """Scene position of the point of step ``t`` (for tests)."""
        return self.plot_item.vb.mapViewToScene(QtCore.QPointF(*self._data[t]))

    def _on_points_clicked(self, _item, spots, _event=None) -> None:
        if len(spots) == 0:
            return
        t = int(spots[0].data())
        changed = t != self.cursor_value()
        self.set_cursor(t)
        if changed:
            self.cursor_moved.emit(t)


def thinned_steps(steps: int, most: int = DRAWN_POINTS) -> np.ndarray:
    """``most`` steps of ``0 .. steps - 1`` evenly spaced, the first and the last included
    (every step when there are no more than ``most``)."""
    if steps <= most:
        return np.arange(steps, dtype=np.int64)
    return np.round(np.linspace(0, steps - 1, most)).astype(np.int64)
