"""Start the Qt application and show the main window (Qt is imported only here and below)."""

from __future__ import annotations

import os
import signal
import sys

#: Exit codes of a quit by signal, as a shell reports them (128 + the signal's number).
SIGNAL_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def launch(settings: dict | None = None, autostart: bool = False, files=()) -> int:
    """Open the playground window; returns the process exit code (130 after Ctrl+C in the
    terminal, 143 after SIGTERM: the window closes as if Ctrl+Q was pressed, the trainer
    is stopped, and no traceback is printed)."""
    from PySide6 import QtCore, QtWidgets

    import widgets  # noqa: F401 - sets pyqtgraph's row-major image order before any view
    from playground import interrupts
    from playground.experiment_files import open_path
    from playground.main_window import MainWindow
    from playground.preferences import APPLICATION, ORGANIZATION, Preferences

    if interrupts.requested():  # Ctrl+C or SIGTERM while Qt was loading: do not open
        return interrupts.exit_code()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANIZATION)
    window = MainWindow(settings, preferences=Preferences(), preview=not autostart)
    window.show()
    for path in files:
        open_path(window, os.fspath(path))
    if autostart:
        QtCore.QTimer.singleShot(0, window.train)
    received: list[int] = []
    _quit_on_signals(window, received)
    if interrupts.requested():  # it came while the window was being built
        received.append(interrupts.first_signal())
        QtCore.QTimer.singleShot(0, window.close)
    code = app.exec()
    window.controller.wait_stopped(timeout=5.0)
    window.preview.wait_stopped(timeout=5.0)
    for compare in getattr(window, "compare_windows", []):
        compare.controller.wait_stopped(timeout=5.0)
    return SIGNAL_EXIT_CODES.get(received[0], 1) if received else code


def _quit_on_signals(window, received: list) -> None:
    """Ctrl+C and SIGTERM close the window cleanly. Python runs signal handlers only between
    bytecodes, which a Qt event loop never reaches on its own, so a timer wakes it."""
    from PySide6 import QtCore

    def on_signal(number, _frame):
        if not received:
            received.append(number)
            QtCore.QTimer.singleShot(0, window.close)

    for number in SIGNAL_EXIT_CODES:
        signal.signal(number, on_signal)
    timer = QtCore.QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(200)
