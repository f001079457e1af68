"""Helpers for the widget tests: real mouse events on pyqtgraph views and synthetic frames."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

import widgets  # noqa: F401  (sets the row-major image axis order)

ENGINE_GATES = {
    "lstm": (["input", "forget", "candidate", "output"], True),
    "gru": (["reset", "update", "candidate"], False),
    "rnn": (["preactivation"], False),
}


@pytest.fixture(autouse=True)
def _no_mouse_rate_limit():
    """pyqtgraph drops mouse moves closer than 10 ms apart; tests send them back to back."""
    before = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOptions(mouseRateLimit=-1)
    yield
    pg.setConfigOptions(mouseRateLimit=before)


def settle(qtbot, widget: QtWidgets.QWidget, size=(600, 400)) -> None:
    """Show ``widget`` and let pyqtgraph finish its (deferred) layout."""
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    for _ in range(3):
        QtWidgets.QApplication.processEvents()


def view_point(view: pg.GraphicsView, scene_pos: QtCore.QPointF) -> QtCore.QPoint:
    """Viewport pixel of a scene position."""
    return view.mapFromScene(scene_pos)


def mouse_move(view: pg.GraphicsView, point: QtCore.QPoint, buttons=QtCore.Qt.MouseButton.NoButton):
    event = _mouse_event(
        QtCore.QEvent.Type.MouseMove, view, point, QtCore.Qt.MouseButton.NoButton, buttons
    )
    QtWidgets.QApplication.sendEvent(view.viewport(), event)


def mouse_click(view: pg.GraphicsView, point: QtCore.QPoint) -> None:
    left = QtCore.Qt.MouseButton.LeftButton
    QtWidgets.QApplication.sendEvent(
        view.viewport(), _mouse_event(QtCore.QEvent.Type.MouseButtonPress, view, point, left, left)
    )
    QtWidgets.QApplication.sendEvent(
        view.viewport(),
        _mouse_event(
            QtCore.QEvent.Type.MouseButtonRelease, view, point, left, QtCore.Qt.MouseButton.NoButton
        ),
    )


def mouse_drag(view: pg.GraphicsView, start: QtCore.QPoint, end: QtCore.QPoint) -> None:
    """Press at ``start``, move in a few steps to ``end`` with the button held, release."""
    left = QtCore.Qt.MouseButton.LeftButton
    viewport = view.viewport()
    QtWidgets.QApplication.sendEvent(
        viewport, _mouse_event(QtCore.QEvent.Type.MouseButtonPress, view, start, left, left)
    )
    for f in (0.25, 0.5, 0.75, 1.0):
        p = QtCore.QPoint(
            round(start.x() + f * (end.x() - start.x())),
            round(start.y() + f * (end.y() - start.y())),
        )
        mouse_move(view, p, left)
    QtWidgets.QApplication.sendEvent(
        viewport,
        _mouse_event(
            QtCore.QEvent.Type.MouseButtonRelease, view, end, left, QtCore.Qt.MouseButton.NoButton
        ),
    )


def _mouse_event(kind, view, point, button, buttons) -> QtCore.QEvent:
    local = QtCore.QPointF(point)
    global_pos = QtCore.QPointF(view.viewport().mapToGlobal(point))
    return QtGui.QMouseEvent(
        kind, local, global_pos, button, buttons, QtCore.Qt.KeyboardModifier.NoModifier
    )


def make_frame(
    engine: str = "lstm", steps: int = 20, units: int = 6, channels: int = 2, seed: int = 0
):
    """A probe frame of plain numpy values, as the controller will hand it to the dashboard."""
    rng = np.random.default_rng(seed)
    gate_names, has_cell = ENGINE_GATES[engine]
    mask = np.zeros(steps, dtype=bool)
    mask[-1] = True
    return {
        "inputs": rng.random((steps, channels)),
        "input_names": [f"ch{i}" for i in range(channels)],
        "targets": rng.random((steps, 1)),
        "prediction": rng.random((steps, 1)),
        "target_mask": mask,
        "hidden": np.tanh(rng.standard_normal((units, steps))),
        "cell": rng.standard_normal((units, steps)) if has_cell else None,
        "gates": {name: rng.random((units, steps)) for name in gate_names},
        "grad_h": np.abs(rng.standard_normal(steps)),
        "grad_x": np.abs(rng.standard_normal(steps)),
        "step": 123,
    }


class _Helpers:
    """What the ``qt_helpers`` fixture hands out (conftest modules are not importable)."""

    settle = staticmethod(settle)
    view_point = staticmethod(view_point)
    mouse_move = staticmethod(mouse_move)
    mouse_click = staticmethod(mouse_click)
    mouse_drag = staticmethod(mouse_drag)
    make_frame = staticmethod(make_frame)


@pytest.fixture
def qt_helpers():
    return _Helpers
