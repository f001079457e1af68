"""Drive the main window as a user would: settings, train, pause, step, reset, inspect.

Each run starts a real trainer process; waits are on signals, never sleeps.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from PySide6 import QtCore

import widgets  # noqa: F401 - row-major images, as in the app
from playground.main_window import MainWindow
from playground.window_menus import about_text, export_dashboard_png, export_trace_npz

START_TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot):
    win = MainWindow({"task": "adding", "length": 20, "engine": "lstm", "hidden": 8})
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()
    assert win.controller._process is None


def wait_for_step(qtbot, win, at_least: int) -> int:
    """Wait until the dashboard shows a frame from training step >= ``at_least``."""
    qtbot.waitUntil(
        lambda: win.current_frame() is not None and win.current_frame()["step"] >= at_least,
        timeout=START_TIMEOUT_MS,
    )
    return win.current_frame()["step"]


def wait_for_state(qtbot, win, state: str) -> None:
    qtbot.waitUntil(lambda: win.controller.state == state, timeout=START_TIMEOUT_MS)


def test_defaults_show_the_memory_effect_setup(qtbot):
    win = MainWindow()
    qtbot.addWidget(win)
    settings = win.setup_panel.settings()
    assert (settings["task"], settings["engine"], settings["hidden"]) == ("adding", "lstm", 32)
    assert settings["length"] == 50
    assert set(win.dashboard.heatmaps()) >= {"hidden", "cell", "input", "forget", "output"}
    assert win.menus.quit_action.shortcut().toString() == "Ctrl+Q"
    assert win.menus.train_action.shortcut().toString() == "Space"


def test_train_fills_every_view_with_the_chosen_engine(qtbot, window):
    window.setup_panel.set_settings({"engine": "gru", "hidden": 6, "length": 15})
    assert "cell" not in window.dashboard.heatmaps() or not window.dashboard.has_cell()
    window.train()
    wait_for_step(qtbot, window, 5)
    frame = window.current_frame()
    views = window.dashboard.heatmaps()
    assert views["hidden"].data().shape == (6, 15)
    for gate in ("reset", "update", "candidate"):
        shown = views[gate].data()
        np.testing.assert_array_equal(shown, frame["gates"][gate])
    assert np.all((views["update"].data() >= 0) & (views["update"].data() <= 1))
    steps, losses = window.dashboard.loss_plot.train_data()
    assert len(steps) > 0 and np.all(np.isfinite(losses))
    assert window.dashboard.loss_plot.baseline() == pytest.approx(1 / 6)
    assert window.setup_panel.is_training()
    qtbot.waitUntil(lambda: window.status_step.text() != "step 0", timeout=START_TIMEOUT_MS)


def test_pause_step_and_reset(qtbot, window):
    window.train()
    wait_for_step(qtbot, window, 1)
    window.toggle_training()  # Space while running pauses
    wait_for_state(qtbot, window, "paused")
    # The pause itself is probed: the views show exactly where the run stopped.
    paused_at = window._last_update.step
    assert window.current_frame()["step"] == paused_at
    with qtbot.waitSignal(window.frame_shown, timeout=START_TIMEOUT_MS) as shown:
        window.step()
    assert shown.args == [paused_at + 1]
    window.reset()
    assert window.controller.state == "idle"
    assert len(window.dashboard.loss_plot.train_data()[0]) == 0
    assert len(window.history) == 0
    assert not window.setup_panel.is_training()


def test_step_from_idle_trains_exactly_one_step(qtbot, window):
    with qtbot.waitSignal(
        window.frame_shown, timeout=START_TIMEOUT_MS, check_params_cb=lambda s: s == 1
    ):
        window.step()
    assert window.controller.state == "paused"


def test_learning_rate_changes_while_training(qtbot, window):
    window.train()
    wait_for_step(qtbot, window, 1)
    window.setup_panel.set_settings({"lr": 0.0125})
    qtbot.waitUntil(
        lambda: window._last_update is not None and window._last_update.lr == pytest.approx(0.0125),
        timeout=START_TIMEOUT_MS,
    )


def test_time_cursor_and_history_scrubbing(qtbot, window):
    window.train()
    wait_for_step(qtbot, window, 30)
    window.pause()
    wait_for_state(qtbot, window, "paused")
    window.dashboard.setFocus()
    start = window.dashboard.cursor()
    qtbot.keyClick(window.dashboard, QtCore.Qt.Key.Key_Right)
    assert window.dashboard.cursor() == start + 1
    for view in window.dashboard.heatmaps().values():
        assert view.cursor_value() == start + 1
    assert len(window.history) >= 2
    newest = window.current_frame()["step"]
    window.history_slider.set_index(0)
    assert window.current_frame()["step"] < newest
    assert not window.history_slider.is_live()


def test_two_layers_can_be_shown_one_at_a_time(qtbot, window):
    window.setup_panel.set_settings({"layers": 2, "engine": "rnn"})
    window.train()
    wait_for_step(qtbot, window, 2)
    window.pause()
    wait_for_state(qtbot, window, "paused")
    assert window.layer_combo.count() == 2 and window.layer_combo.isEnabled()
    first = window.dashboard.heatmaps()["hidden"].data().copy()
    window.layer_combo.setCurrentIndex(1)
    assert window.current_frame()["layer"] == 1
    assert not np.array_equal(first, window.dashboard.heatmaps()["hidden"].data())


def test_diverging_run_ends_with_advice_and_train_waits_for_reset(qtbot, window):
    window.setup_panel.set_settings(
        {"engine": "rnn", "init": "identity", "optimizer": "sgd", "lr": 10.0, "clip": 0.0}
    )
    with qtbot.waitSignal(window.controller.run_failed, timeout=START_TIMEOUT_MS) as failed:
        window.train()
    assert "exploded" in failed.args[0] and "clipping" in failed.args[0]
    assert window.error_banner.isVisible()
    assert window.controller.state == "error"
    window.setup_panel.set_settings({"lr": 0.005, "clip": 1.0, "optimizer": "adam"})
    # Train and Step are disabled after a divergence: their shortcuts do nothing either.
    assert not window.transport.toggle_button.isEnabled()
    assert not window.menus.train_action.isEnabled()
    assert not window.menus.step_action.isEnabled()
    pid = window.controller.pid()
    window.menus.train_action.trigger()
    window.menus.step_action.trigger()
    window.toggle_training()
    assert window.controller.state == "error" and window.controller.pid() == pid  # no new run
    window.menus.reset_action.trigger()
    assert window.controller.state == "idle" and window.menus.train_action.isEnabled()
    window.train()
    assert not window.error_banner.isVisible()
    wait_for_step(qtbot, window, 3)


def test_impossible_setting_is_refused_with_a_message(qtbot, window, monkeypatch):
    settings = window.setup_panel.settings() | {"device": "cuda:3"}
    monkeypatch.setattr(window.setup_panel, "settings", lambda: settings)
    window.train()
    assert window.controller.state == "idle"
    assert "cuda:3" in window.error_banner.text()


def test_closing_mid_training_stops_the_trainer(qtbot):
    win = MainWindow({"length": 20, "hidden": 8})
    qtbot.addWidget(win)
    win.show()
    win.train()
    wait_for_step(qtbot, win, 1)
    process = win.controller._process
    assert process.is_alive()
    win.close()
    assert win.controller._process is None
    assert win.controller.wait_stopped(timeout=10)
    assert not multiprocessing.active_children()


def test_exports_and_about(qtbot, window, tmp_path):
    assert not export_trace_npz(window, str(tmp_path / "none.npz"))  # nothing yet: a message
    assert window.error_banner.isVisible()
    window.train()
    wait_for_step(qtbot, window, 2)
    assert export_trace_npz(window, str(tmp_path / "trace.npz"))
    with np.load(tmp_path / "trace.npz") as data:
        assert data["hidden"].shape[-1] == 8
        assert {"gate_forget", "cell", "grad_hidden_norm"} <= set(data.files)
    assert export_dashboard_png(window, str(tmp_path / "dash.png"))
    assert (tmp_path / "dash.png").stat().st_size > 1000
    import torch

    assert torch.__version__ in about_text(window)


def test_before_the_first_step_the_views_show_the_untrained_network(qtbot):
    win = MainWindow({"task": "adding", "length": 20, "hidden": 8}, preview=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.current_frame() is not None, timeout=START_TIMEOUT_MS)
    frame = win.current_frame()
    assert frame["step"] == 0 and win.controller.state == "idle"
    hidden = win.dashboard.heatmaps()["hidden"].data()
    assert hidden.shape == (8, frame["inputs"].shape[0]) and np.any(hidden != 0)
    assert len(win.dashboard.loss_plot.train_data()[0]) == 0  # nothing trained yet
    win.step()
    qtbot.waitUntil(lambda: win.experiment.step == 1, timeout=START_TIMEOUT_MS)
    win.close()
    assert win.controller.wait_stopped(10) and win.preview.wait_stopped(10)
