"""Start the Qt application and show the main window (Qt is imported only here and below)."""

from __future__ import annotations

import os
import sys


def launch(settings: dict | None = None, autostart: bool = False, files=()) -> int:
    """Open the playground window; returns the process exit code."""
    from PySide6 import QtCore, QtWidgets

    import widgets  # noqa: F401 - sets pyqtgraph's row-major image order before any view
    from playground.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName("Sequence Memory Playground")
    app.setOrganizationName("seq-playground")
    window = MainWindow(settings)
    window.show()
    for path in files:
        window.open_sequence_file(os.fspath(path))
    if autostart:
        QtCore.QTimer.singleShot(0, window.train)
    return app.exec()
