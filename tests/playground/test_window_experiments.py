"""Experiments in the window, as a user meets them: train -> save -> reset -> open ->
continue; a folder from the command line; weights out and in; the last experiment kept on
close; opening what is not an experiment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import widgets  # noqa: F401 - row-major images, as in the app
from playground import experiment_files as ef
from playground.main_window import MainWindow
from playground.preferences import Preferences
from playground.run_folder import CONFIG, is_run_folder

TIMEOUT_MS = 60_000
SETUP = {"task": "adding", "length": 12, "engine": "lstm", "hidden": 6, "batch": 8}
METRICS = ("train_steps", "train_losses", "grad_norms", "eval_steps", "eval_losses", "eval_metrics")


@pytest.fixture
def window(qtbot):
    win = MainWindow(SETUP)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert win.controller.wait_stopped(timeout=10)


def step_until(qtbot, win, steps: int) -> None:
    """Press Step, one step at a time, until the record holds ``steps`` training steps."""
    if not win.controller.is_active():
        win.step()  # starts a paused run and steps once
        qtbot.waitUntil(lambda: win.experiment.step >= 1 or len(win.experiment.metrics) > 0,
                        timeout=TIMEOUT_MS)  # fmt: skip
        qtbot.waitUntil(lambda: win.controller.state == "paused", timeout=TIMEOUT_MS)
    while win.experiment.step < steps:
        before = win.experiment.step
        win.step()
        qtbot.waitUntil(lambda b=before: win.experiment.step > b, timeout=TIMEOUT_MS)


def step_to(qtbot, win, target: int) -> None:
    """Press Step until the record is at step ``target``, waiting for each step's answer
    before the next (no step is queued ahead), so the run stops exactly at ``target``."""
    while win.experiment.step < target:
        before = win.experiment.step
        win.step()  # the first one starts a paused run on the record (or a new run)
        qtbot.waitUntil(
            lambda b=before: win.experiment.step > b or win.controller.state == "error",
            timeout=TIMEOUT_MS,
        )
        assert win.controller.state != "error", win.error_banner.text()
        qtbot.waitUntil(lambda: win.controller.state == "paused", timeout=TIMEOUT_MS)
    assert win.experiment.step == target


def save(qtbot, win, path):
    with qtbot.waitSignal(win.experiment_saved, timeout=TIMEOUT_MS):
        ef.save_experiment(win, path)


def test_train_save_reset_open_continue(qtbot, window, tmp_path):
    step_until(qtbot, window, 6)
    losses = window.dashboard.loss_plot.train_data()[1].copy()
    frames_before = len(window.experiment.frames)
    save(qtbot, window, tmp_path / "run")
    assert is_run_folder(tmp_path / "run")

    window.reset()
    assert len(window.dashboard.loss_plot.train_data()[0]) == 0
    assert window.history_slider.count() == 0

    assert ef.open_experiment(window, tmp_path / "run")
    np.testing.assert_allclose(window.dashboard.loss_plot.train_data()[1], losses)
    assert window.history_slider.count() == frames_before
    assert window.current_frame() is not None
    assert window.setup_panel.settings()["hidden"] == 6
    assert "step 6" in window.status_step.text()

    window.step()  # continues at step 7, not a new run
    qtbot.waitUntil(lambda: window.experiment.step == 7, timeout=TIMEOUT_MS)
    steps = window.dashboard.loss_plot.train_data()[0]
    assert list(steps) == list(range(1, 8))


@pytest.mark.parametrize("engine", ["rnn", "lstm", "gru"])
def test_continuing_in_the_window_equals_never_stopping(qtbot, tmp_path, monkeypatch, engine):
    """Saved at step 5 (between two evaluations), reopened and continued to 9: every
    training loss, gradient norm and evaluation equals a run that never stopped."""
    from dataclasses import replace

    current_spec = MainWindow.current_spec  # evaluate every 2 steps instead of every 50
    monkeypatch.setattr(
        MainWindow, "current_spec", lambda w: replace(current_spec(w), eval_every=2)
    )
    win = MainWindow({**SETUP, "engine": engine, "hidden": 4, "batch": 4, "length": 8})
    qtbot.addWidget(win)
    step_to(qtbot, win, 9)
    straight = win.experiment.metrics
    straight = {name: getattr(straight, name).copy() for name in METRICS}
    win.reset()
    step_to(qtbot, win, 5)
    save(qtbot, win, tmp_path / "run")
    win.reset()
    assert ef.open_experiment(win, tmp_path / "run")
    step_to(qtbot, win, 9)
    for name in METRICS:
        np.testing.assert_array_equal(getattr(win.experiment.metrics, name), straight[name], name)
    assert list(straight["eval_steps"]) == [0, 2, 4, 6, 8]
    win.close()
    assert win.controller.wait_stopped(timeout=10)


def test_saving_while_training_does_not_stop_the_run(qtbot, window, tmp_path):
    window.train()
    qtbot.waitUntil(lambda: window.experiment.step >= 3, timeout=TIMEOUT_MS)
    save(qtbot, window, tmp_path / "live")
    assert window.controller.state == "running"
    from playground.experiment import Experiment

    saved = Experiment.open(tmp_path / "live")
    assert saved.checkpoint is not None and saved.checkpoint.step >= 3
    assert saved.checkpoint.training_state["step"] == saved.checkpoint.step


def test_a_command_line_run_folder_opens_in_the_window(qtbot, window, tmp_path):
    from playground.cli import main

    out = tmp_path / "cli-run"
    code = main(
        ["train", "--task", "adding", "--length", "12", "--hidden", "6", "--batch", "8",
         "--steps", "10", "--eval-every", "5", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    assert ef.open_path(window, str(out))
    assert window.setup_panel.settings()["hidden"] == 6
    assert len(window.dashboard.loss_plot.train_data()[0]) == 10
    assert window.experiment.checkpoint is not None


def test_weights_export_and_a_plain_torch_model_load(qtbot, window, tmp_path):
    assert not ef.export_weights(window, tmp_path / "none.safetensors")
    assert "no trained weights" in window.error_banner.text()
    step_until(qtbot, window, 2)
    window.reset()
    # A researcher's own torch.nn.LSTM with 10 hidden units, while the setup has 6.
    torch.manual_seed(0)
    lstm, head = torch.nn.LSTM(2, 10, batch_first=True), torch.nn.Linear(10, 1)
    state = {f"lstm.{k}": v for k, v in lstm.state_dict().items()}
    state |= {f"head.{k}": v for k, v in head.state_dict().items()}
    torch.save(state, tmp_path / "mine.pt")
    questions = []
    loaded = ef.load_weights(
        window, tmp_path / "mine.pt", accept_fix=lambda q: questions.append(q) or True
    )
    assert loaded, window.error_banner.text()
    assert "10 hidden units" in questions[0] and "6" in questions[0]
    assert window.setup_panel.settings()["hidden"] == 10
    weights = window.experiment.checkpoint.weights
    assert torch.equal(weights["core.weight_hh_l0"], lstm.weight_hh_l0)
    assert torch.equal(weights["readout.weight"], head.weight)
    window.step()  # the trainer starts from those weights
    qtbot.waitUntil(lambda: window.experiment.step >= 1, timeout=TIMEOUT_MS)
    path = tmp_path / "out.safetensors"
    assert ef.export_weights(window, path)
    qtbot.waitUntil(path.exists, timeout=TIMEOUT_MS)
    assert path.with_suffix(".json").exists()


def test_loaded_weights_are_shown_before_the_first_step(qtbot, tmp_path):
    """With the step-0 preview on (as in the app), loading a plain torch.nn.LSTM of another
    size shows that network on the probe sequence at once -- not the last setup's untrained
    one -- and nothing trains."""
    win = MainWindow(SETUP, preview=True)
    qtbot.addWidget(win)
    win.show()
    try:
        qtbot.waitUntil(lambda: len(win.experiment.frames) == 1, timeout=TIMEOUT_MS)
        torch.manual_seed(1)
        lstm, head = torch.nn.LSTM(2, 10, batch_first=True), torch.nn.Linear(10, 1)
        state = {f"lstm.{k}": v for k, v in lstm.state_dict().items()}
        state |= {f"head.{k}": v for k, v in head.state_dict().items()}
        torch.save(state, tmp_path / "mine.pt")
        assert ef.load_weights(win, tmp_path / "mine.pt", accept_fix=lambda _q: True)
        qtbot.waitUntil(lambda: len(win.experiment.frames) == 1, timeout=TIMEOUT_MS)
        frame = win.experiment.frames[0][0]
        assert frame.step == 0 and frame.trace.hidden.shape[-1] == 10
        inputs = torch.as_tensor(frame.inputs)
        with torch.no_grad():
            expected = head(lstm(inputs)[0]).numpy()
        np.testing.assert_allclose(frame.trace.outputs, expected, atol=1e-5)
        assert win.dashboard.heatmaps()["hidden"].data().shape == (10, frame.trace.steps)
        assert not win.controller.is_active() and len(win.experiment.metrics) == 0
        assert "Read as a plain torch nn.LSTM" in win.statusBar().currentMessage()
    finally:
        win.close()
        assert win.controller.wait_stopped(timeout=10)
        assert win.preview.wait_stopped(timeout=10)


def test_opening_what_is_not_an_experiment_changes_nothing(qtbot, window, tmp_path):
    step_until(qtbot, window, 2)
    (tmp_path / "plain").mkdir()
    assert not ef.open_path(window, str(tmp_path / "plain"))
    assert "not a run folder" in window.error_banner.text()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / CONFIG).write_text("{ broken")
    assert not ef.open_experiment(window, bad)
    assert "config.json" in window.error_banner.text()
    assert window.experiment.step == 2  # what the user had is still there


def test_closing_keeps_the_last_experiment_and_reopen_brings_it_back(qtbot, tmp_path):
    preferences = Preferences(data_dir=tmp_path / "data")
    win = MainWindow(SETUP, preferences=preferences)
    qtbot.addWidget(win)
    win.show()
    step_until(qtbot, win, 3)
    win.close()
    assert win.controller.wait_stopped(timeout=10)
    folder = preferences.last_experiment_folder()
    qtbot.waitUntil(lambda: (folder / "weights.json").exists(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: (folder / "summary.json").exists(), timeout=TIMEOUT_MS)

    again = MainWindow(preferences=preferences)
    qtbot.addWidget(again)
    assert again.setup_panel.settings()["hidden"] == 6  # the last setup is remembered
    assert ef.reopen_last_experiment(again)
    assert len(again.dashboard.loss_plot.train_data()[0]) == 3
    assert again.experiment.checkpoint is not None
    again.close()


def test_file_export_writes_views_traces_and_the_dashboard(qtbot, window, tmp_path):
    from PIL import Image

    from playground import figure_dialogs as fd
    from playground.window_menus import export_dashboard_png

    step_until(qtbot, window, 2)
    forget = window.dashboard.heatmaps()["forget"]
    assert getattr(forget, "_export_actions", None)  # the context menu has the exports
    assert fd.export_view(window, forget, "forget", "svg", path=tmp_path / "forget.svg")
    svg = (tmp_path / "forget.svg").read_text()
    assert "LSTM" in svg and "step 2" in svg
    assert export_dashboard_png(window, str(tmp_path / "board.png"))
    assert Image.open(tmp_path / "board.png").size[0] > 0
    assert fd.export_trace_csv(window, tmp_path / "trace.csv")
    header = (tmp_path / "trace.csv").read_text().splitlines()[0]
    assert header.startswith("step,layer,quantity,unit")


def test_compare_engines_opens_from_the_menu_and_closes_with_the_window(qtbot, tmp_path):
    from playground.window_menus import open_compare_window

    win = MainWindow(SETUP)
    qtbot.addWidget(win)
    compare = open_compare_window(win)
    assert compare.isVisible() and compare in win.compare_windows
    win.close()
    assert not compare.isVisible()
    assert compare.controller.wait_stopped(timeout=10)


def test_memory_horizon_opens_from_the_menu_and_a_sweep_folder_reopens(qtbot, tmp_path):
    from playground.cli import main

    win = MainWindow(SETUP)
    qtbot.addWidget(win)
    win.show()
    horizon = next(a for a in win.menus.training_menu.actions() if "horizon" in a.text())
    horizon.trigger()
    assert win.horizon_dialog.isVisible()
    win.horizon_dialog.close()
    sweep = tmp_path / "sweep"
    argv = ["horizon", "--task", "adding", "--engines", "rnn", "--lengths", "5", "--steps", "2",
            "--hidden", "4", "--batch", "4", "--out", str(sweep)]  # fmt: skip
    assert main(argv) == 0
    assert ef.open_path(win, str(sweep))
    assert win.horizon_dialog.isVisible()
    win.close()
    assert not win.horizon_dialog.isVisible()


CLI_RUN = ["--task", "copy", "--length", "4", "--task-option", "n_symbols=3", "--hidden", "5",
           "--batch", "4", "--eval-every", "5", "--threads", "1"]  # fmt: skip


@pytest.mark.parametrize("stopped_at", [10, 12])
def test_a_command_line_run_continues_in_the_window_with_all_its_settings(
    qtbot, window, tmp_path, stopped_at
):
    """A folder trained with --eval-every and --task-option keeps both when the window
    continues it: the metrics equal a straight command-line run (stopped at 12, its final
    evaluation off the schedule goes, as with --resume), and a save keeps both."""
    from playground.cli import main
    from playground.experiment import Experiment

    assert main(["train", *CLI_RUN, "--steps", "15", "--out", str(tmp_path / "straight")]) == 0
    first = tmp_path / "first"
    assert main(["train", *CLI_RUN, "--steps", str(stopped_at), "--out", str(first)]) == 0
    straight = Experiment.open(tmp_path / "straight")

    assert ef.open_path(window, str(first))
    assert window.experiment.metrics.eval_steps[-1] == stopped_at
    step_to(qtbot, window, 15)
    metrics = window.experiment.metrics
    for name in METRICS:
        np.testing.assert_array_equal(getattr(metrics, name), getattr(straight.metrics, name), name)
    assert list(metrics.eval_steps) == [0, 5, 10, 15]

    save(qtbot, window, tmp_path / "continued")
    reopened = Experiment.open(tmp_path / "continued")
    assert reopened.spec.eval_every == 5
    assert reopened.spec.task_options == {"n_symbols": 3}
    assert reopened.spec == straight.spec  # and the rest of what the panel does not show
    assert reopened.checkpoint.engine_config == straight.checkpoint.engine_config
