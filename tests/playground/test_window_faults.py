"""The window under the faults a user meets (issue "never freezes, never loses"): a trainer
frozen by SIGSTOP or killed outright, the shortcuts of disabled buttons pressed, a save after
the trainer vanished. Close and Reset return at once, nothing is left running, nothing the
user had is lost."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from PySide6 import QtCore

from playground import experiment_files as ef

TIMEOUT_MS = 60_000
SETUP = {"task": "adding", "length": 12, "engine": "lstm", "hidden": 6, "batch": 8}


@pytest.fixture
def window(shown_main_window):
    return shown_main_window(SETUP)


def _training(qtbot, win) -> int:
    win.train()
    qtbot.waitUntil(lambda: win.experiment.step >= 2, timeout=TIMEOUT_MS)
    return win.controller.pid()


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_frozen_trainer_never_holds_up_close_or_reset(qtbot, window, how):
    pid = _training(qtbot, window)
    os.kill(pid, signal.SIGSTOP)
    started = time.perf_counter()
    if how == "close":
        window.close()
    else:
        window.reset()
    assert time.perf_counter() - started < 0.5
    assert window.controller.wait_stopped(timeout=15)
    assert _gone(pid)
    if how == "reset":
        assert window.controller.state == "idle"
        assert window.menus.train_action.isEnabled()


def test_a_trainer_that_stops_answering_is_shown_and_can_be_stopped(qtbot, window, monkeypatch):
    import playground.training_controller as tc

    monkeypatch.setattr(tc, "SILENT_AFTER_S", 0.5)
    pid = _training(qtbot, window)
    os.kill(pid, signal.SIGSTOP)
    qtbot.waitUntil(window.stop_trainer_button.isVisible, timeout=TIMEOUT_MS)
    assert "not answering" in window.error_banner.text()
    assert window.status_rate.text() == "not answering"
    losses = len(window.experiment.metrics)
    qtbot.mouseClick(window.stop_trainer_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _gone(pid), timeout=TIMEOUT_MS)
    assert len(window.experiment.metrics) == losses  # the record so far is kept
    assert len(window.dashboard.loss_plot.train_data()[0]) == losses  # and still drawn
    assert window.controller.state == "error" and not window.menus.train_action.isEnabled()
    assert "record so far is kept" in window.error_banner.text()
    assert not window.stop_trainer_button.isVisible()


def test_shortcuts_of_disabled_buttons_do_nothing(qtbot, window):
    """Space and F10 are Train and Step: pressed while the buttons are disabled (a
    diverged run, until Reset) they start nothing."""
    window.setup_panel.set_settings(
        {"engine": "rnn", "init": "identity", "optimizer": "sgd", "lr": 10.0, "clip": 0.0}
    )
    with qtbot.waitSignal(window.controller.run_failed, timeout=TIMEOUT_MS):
        window.train()
    assert not window.transport.toggle_button.isEnabled()
    state, pid, steps = window.controller.state, window.controller.pid(), window.experiment.step
    window.activateWindow()
    window.dashboard.setFocus()
    for key in (QtCore.Qt.Key.Key_Space, QtCore.Qt.Key.Key_F10):
        qtbot.keyClick(window.dashboard, key)
    QtCore.QCoreApplication.processEvents()
    assert (window.controller.state, window.controller.pid()) == (state, pid)
    assert window.experiment.step == steps
    # ...and once Reset has enabled them, the same key trains.
    window.menus.reset_action.trigger()
    qtbot.keyClick(window.dashboard, QtCore.Qt.Key.Key_F10)
    qtbot.waitUntil(lambda: window.experiment.step == 1, timeout=TIMEOUT_MS)


def test_saving_after_the_trainer_was_killed_keeps_the_last_checkpoint(qtbot, window, tmp_path):
    """The trainer killed between two saves: the second save keeps the weights of the first
    (all there is), says why, and the folder continues from them."""
    _training(qtbot, window)
    with qtbot.waitSignal(window.experiment_saved, timeout=TIMEOUT_MS):
        ef.save_experiment(window, tmp_path / "run")
    saved_step = json.loads((tmp_path / "run" / "summary.json").read_text())["steps"]
    qtbot.waitUntil(lambda: window.experiment.step >= saved_step + 5, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.controller.run_failed, timeout=TIMEOUT_MS):
        os.kill(window.controller.pid(), signal.SIGKILL)
    assert "stopped unexpectedly" in window.error_banner.text()
    with qtbot.waitSignal(window.experiment_saved, timeout=TIMEOUT_MS):
        ef.save_experiment(window, tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == saved_step
    assert "stopped unexpectedly" in summary["message"]

    window.reset()
    assert ef.open_experiment(window, tmp_path / "run")
    assert window.experiment.step == saved_step
    window.step()  # continues from the checkpoint: the curves pick up right after it
    qtbot.waitUntil(lambda: window.experiment.step == saved_step + 1, timeout=TIMEOUT_MS)
    steps = list(window.experiment.metrics.train_steps)
    assert steps == list(range(1, saved_step + 2))
