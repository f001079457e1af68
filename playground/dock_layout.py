"""Docks that open beside the dashboard without crowding it out.

A dock opened for the first time takes its widget's size hint, and a form with long
equations or a tab of side-by-side plots hints at half the window or more: the dashboard it
is meant to explain is squeezed to slivers. Whenever a dock becomes visible taking more than
``share`` of the window along its side, it is brought back to ``fraction`` of it. A size the
user dragged below that share (or restored from the last session) is left alone.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

_HORIZONTAL_AREAS = (
    QtCore.Qt.DockWidgetArea.LeftDockWidgetArea,
    QtCore.Qt.DockWidgetArea.RightDockWidgetArea,
)


def keep_beside_dashboard(
    dock: QtWidgets.QDockWidget,
    window: QtWidgets.QMainWindow,
    share: float = 0.4,
    fraction: float = 1 / 3,
) -> None:
    """Keep ``dock`` within ``share`` of ``window`` whenever it is shown (see the module)."""

    def fit() -> None:
        if not dock.isVisible() or dock.isFloating():
            return
        if window.dockWidgetArea(dock) in _HORIZONTAL_AREAS:
            orientation, own, whole = QtCore.Qt.Orientation.Horizontal, dock.width(), window.width()
        else:
            orientation, own, whole = QtCore.Qt.Orientation.Vertical, dock.height(), window.height()
        if whole > 0 and own > share * whole:
            window.resizeDocks([dock], [int(fraction * whole)], orientation)

    # After the layout has placed the newly shown dock, not before: its size is known then.
    dock.visibilityChanged.connect(lambda visible: visible and QtCore.QTimer.singleShot(0, fit))
