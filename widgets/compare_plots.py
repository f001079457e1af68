"""The line plots of a comparison: every engine's loss on one chart, and every engine's
gradient flow overlaid on one log axis, a colour per engine.

Both are the single run's plots (``LossPlot``, ``GradientFlowPlot``) with a curve set per
engine instead of one: the ranges, the baseline, the log scale, the grid and the shared time
cursor behave exactly as there.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from widgets.line_views import GradientFlowPlot
from widgets.loss_plot import LossPlot
from widgets.plot_support import (
    SeriesBuffer,
    configure_curve,
    same_data,
    set_curve_data,
    time_range,
)

#: One colour per engine of a comparison, in order (blue, orange, green: apart for the
#: common colour-vision deficiencies, and apart from the grey baseline).
ENGINE_COLORS = ((90, 170, 255), (255, 150, 50), (110, 210, 110))


def engine_color(index: int) -> tuple[int, int, int]:
    return ENGINE_COLORS[index % len(ENGINE_COLORS)]


class CompareLossPlot(LossPlot):
    """Train loss per step (thin) and test loss at evaluations (markers) of each engine, and
    the task's baseline. :meth:`set_engines` first; then :meth:`append` per engine."""

    _engines: tuple = ()  # per engine: (train buffer, test buffer, train curve, test curve)

    def __init__(self, parent: QtWidgets.QWidget | None = None, max_points: int = 200_000):
        super().__init__(parent, max_points=max_points)
        self._max_points = max_points
        for curve in (self.train_curve, self.test_curve):  # one run's curves: not used here
            self.plot_item.removeItem(curve)

    def set_engines(self, labels: list[str]) -> None:
        """One curve pair per engine, named ``labels``; the history is forgotten."""
        for _, _, train, test in self._engines:
            self.plot_item.removeItem(train)
            self.plot_item.removeItem(test)
        engines = []
        for index, label in enumerate(labels):
            color = engine_color(index)
            train = self.plot_item.plot(pen=pg.mkPen(color, width=1), name=label)
            test = self.plot_item.plot(
                pen=pg.mkPen(color, width=2),
                symbol="o",
                symbolSize=5,
                symbolBrush=color,
                name=f"{label} (test)",
            )
            configure_curve(train)
            configure_curve(test)
            engines.append(
                (
                    SeriesBuffer(max_points=self._max_points),
                    SeriesBuffer(max_points=self._max_points),
                    train,
                    test,
                )
            )
        self._engines = tuple(engines)
        self.clear()

    def engine_count(self) -> int:
        return len(self._engines)

    def append(self, engine: int, steps, losses, eval_steps=(), eval_losses=()) -> None:
        """Add engine ``engine``'s train losses at ``steps`` and test losses at
        ``eval_steps``."""
        train_buffer, test_buffer, train, test = self._engines[engine]
        if np.size(steps):
            train_buffer.extend(steps, losses)
            self._extent.add(losses)
            set_curve_data(train, *train_buffer.data())
        if np.size(eval_steps):
            test_buffer.extend(eval_steps, eval_losses)
            self._extent.add(eval_losses)
            set_curve_data(test, *test_buffer.data())
        self._update_range()

    def engine_data(self, engine: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Copies of engine ``engine``'s (train steps, train losses, test steps, test losses)."""
        train_buffer, test_buffer, _, _ = self._engines[engine]
        return (*(a.copy() for a in train_buffer.data()), *(a.copy() for a in test_buffer.data()))

    def clear(self) -> None:
        """Forget every engine's history; the engines and the baseline stay."""
        for train_buffer, test_buffer, train, test in self._engines:
            train_buffer.clear()
            test_buffer.clear()
            train.setData([], [])
            test.setData([], [])
        super().clear()

    def _curves(self) -> tuple:
        return tuple(curve for engine in self._engines for curve in engine[2:])

    def _buffers(self) -> tuple:
        return tuple(buffer for engine in self._engines for buffer in engine[:2])


class CompareGradientPlot(GradientFlowPlot):
    """‖dL/dh_t‖ per time step of each engine, overlaid: where each one's gradient fades.
    :meth:`set_engines` first; then :meth:`set_engine_data` per engine."""

    _engine_curves: tuple = ()

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.plot_item.setTitle("gradient flow ‖dL/dh_t‖")
        for curve in (self.grad_h_curve, self.grad_x_curve):  # one run's curves: not used here
            self.plot_item.removeItem(curve)

    def set_engines(self, labels: list[str]) -> None:
        for curve in self._engine_curves:
            self.plot_item.removeItem(curve)
        curves = []
        for index, label in enumerate(labels):
            curve = self.plot_item.plot(
                pen=pg.mkPen(engine_color(index), width=2), name=label, connect="finite"
            )
            configure_curve(curve)
            curves.append(curve)
        self._engine_curves = tuple(curves)
        self._shown = {"h": None, "x": None}
        self._refresh_steps()

    def set_engine_data(self, engine: int, grad_h: np.ndarray | None) -> None:
        """Show engine ``engine``'s per-step ‖dL/dh_t‖ (None clears its curve); unchanged
        norms (gradients are probed less often than frames) are not re-set."""
        y = None if grad_h is None or np.size(grad_h) == 0 else self._floored(grad_h)
        key = f"engine {engine}"
        if same_data(self._shown.get(key), y):
            return
        self._shown[key] = y
        curve = self._engine_curves[engine]
        if y is None:
            curve.setData([], [])
        else:
            set_curve_data(curve, np.arange(y.size), y)
        self._refresh_steps()
        self._fit_y()

    def engine_data(self, engine: int) -> np.ndarray | None:
        return self._shown.get(f"engine {engine}")

    def _refresh_steps(self) -> None:
        count = max((a.size for a in self._shown.values() if a is not None), default=0)
        self.cursor.set_count(count)
        self._steps = count
        time_range(self.view_range, count)

    def _curves(self) -> list[pg.PlotDataItem]:
        return list(self._engine_curves)
