"""Shared by the window tests: a main window shown, and closed at the end with its trainer
gone (no process may outlive a test)."""

from __future__ import annotations

import multiprocessing

import pytest


@pytest.fixture
def shown_main_window(qtbot):
    """``shown_main_window(settings, **options)``: a MainWindow on screen; at the end it is
    closed and every trainer it started is gone."""
    import widgets  # noqa: F401 - row-major images, as in the app
    from playground.main_window import MainWindow

    made = []

    def make(settings: dict, **options) -> MainWindow:
        win = MainWindow(settings, **options)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitExposed(win)
        made.append(win)
        return win

    yield make
    for win in made:
        win.close()
        assert win.controller.wait_stopped(timeout=15)
        assert win.preview.wait_stopped(timeout=15)
    assert multiprocessing.active_children() == []
