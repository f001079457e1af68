"""Drive the compare window as a user would: three engines learning the same sequences in one
lockstep trainer process, each with its own loss curve, heatmaps and gradient-flow line, all
on the same probe inputs and one time cursor; commands for all; parameter matching; a saved
comparison that reopens; no trainer left behind. Tiny models; waits are on signals."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from PySide6 import QtCore

import widgets  # noqa: F401 - row-major images, as in the app
from playground.compare_window import CompareWindow

TIMEOUT_MS = 90_000
SETTINGS = {"task": "adding", "length": 12, "hidden": 6, "batch": 8, "seed": 4}
HEATMAPS = {
    "rnn": {"hidden", "preactivation"},
    "lstm": {"hidden", "cell", "input", "forget", "candidate", "output"},
    "gru": {"hidden", "reset", "update", "candidate"},
}


def _close(win) -> None:
    win.close()
    assert win.controller.wait_stopped(30)
    assert multiprocessing.active_children() == []  # no trainer left behind


@pytest.fixture
def window(qtbot):
    win = CompareWindow(SETTINGS)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    _close(win)


def _train_until(qtbot, win, steps: int) -> None:
    """Train until every engine has ``steps`` losses and a frame with gradients, then pause."""
    win.train()

    def ready():
        experiments = win.comparison.experiments
        return all(len(e.metrics) >= steps and len(e.frames) >= 2 for e in experiments) and all(
            win.views.gradient_plot.engine_data(i) is not None for i in range(len(experiments))
        )

    qtbot.waitUntil(ready, timeout=TIMEOUT_MS)
    win.pause()
    qtbot.waitUntil(lambda: win.controller.state == "paused", timeout=TIMEOUT_MS)


def test_three_engines_learn_side_by_side_on_the_same_probe_and_cursor(qtbot, window):
    titles = [column.title() for column in window.views.columns]
    assert [t.splitlines()[0] for t in titles] == ["RNN", "LSTM", "GRU"]
    assert all("parameters" in t for t in titles)
    assert all(t.endswith(f"weights seed {s}") for t, s in zip(titles, (4, 5, 6), strict=True))
    _train_until(qtbot, window, 5)
    comparison = window.comparison
    views = window.views
    curves = [views.loss_plot.engine_data(i) for i in range(3)]
    for steps, losses, _, _ in curves:
        assert len(steps) >= 5 and np.all(np.isfinite(losses))
    count = min(len(c[0]) for c in curves)
    for steps, _, _, _ in curves[1:]:  # lockstep: the same steps for every engine
        np.testing.assert_array_equal(steps[:count], curves[0][0][:count])
    assert not np.allclose(curves[0][1][:count], curves[1][1][:count])  # own curves
    assert views.loss_plot.baseline() == pytest.approx(1 / 6)

    shown = comparison.frames_at(-1)
    assert len({frame.step for frame, _ in shown}) == 1  # one training step for all
    for kind, column, (frame, _) in zip(("rnn", "lstm", "gru"), views.columns, shown, strict=True):
        heatmaps = column.heatmaps()
        assert set(heatmaps) == HEATMAPS[kind]
        np.testing.assert_array_equal(heatmaps["hidden"].data(), frame.trace.hidden[0, 0].T)
        assert heatmaps["hidden"].data().shape == (6, 12)
    lines = [views.gradient_plot.engine_data(i) for i in range(3)]
    assert all(line.shape == (12,) for line in lines)
    assert not np.allclose(lines[0], lines[1])  # a line per engine
    inputs = [frame.inputs for frame, _ in shown]
    assert all(np.array_equal(inputs[0], other) for other in inputs[1:])
    drawn = views.sequence_plot.input_curves[0].getOriginalDataset()[1]
    np.testing.assert_array_equal(drawn, inputs[0][0, :, 0])
    # Each engine's prediction over the shared target, in its own colour and legend entry.
    compared = views.sequence_plot.compared_curves
    assert len(compared) == 3
    for curves, (frame, _) in zip(compared, shown, strict=True):
        np.testing.assert_allclose(
            curves[0].getOriginalDataset()[1], frame.trace.outputs[0][:, 0], rtol=1e-6
        )
    assert len({curves[0].opts["pen"].color().name() for curves in compared}) == 3
    legend = [label.text for _, label in views.sequence_plot.output_legend.items]
    assert legend[-3:] == ["RNN", "LSTM", "GRU"]

    views.set_cursor(5)
    views.setFocus()
    qtbot.keyClick(views, QtCore.Qt.Key.Key_Right)
    cursors = [view.cursor_value() for c in views.columns for view in c.heatmaps().values()]
    cursors += [views.gradient_plot.cursor_value(), views.sequence_plot.cursor_value()]
    assert set(cursors) == {6} and comparison.view.cursor == 6

    assert views.history_slider.index() > 0  # live, at the newest of two or more frames
    views.history_slider.set_index(0)  # scrub back: every engine shows that step's frame
    assert {frame.step for frame, _ in comparison.shown_frames()} == {0}
    np.testing.assert_array_equal(
        views.columns[1].heatmaps()["hidden"].data(),
        comparison.frames_at(0)[1][0].trace.hidden[0, 0].T,
    )


def test_step_and_the_learning_rate_apply_to_every_engine(qtbot, window):
    with qtbot.waitSignal(
        window.views.frames_shown, timeout=TIMEOUT_MS, check_params_cb=lambda s: s == 1
    ):
        window.step()
    assert window.controller.state == "paused"
    assert [e.step for e in window.comparison.experiments] == [1, 1, 1]
    window.setup_panel.set_settings({"lr": 0.0125, "clip": 0.5})
    with qtbot.waitSignal(
        window.views.frames_shown, timeout=TIMEOUT_MS, check_params_cb=lambda s: s == 2
    ):
        window.step()
    experiments = window.comparison.experiments
    assert [e.lr for e in experiments] == [pytest.approx(0.0125)] * 3
    assert [e.clip for e in experiments] == [pytest.approx(0.5)] * 3
    window.reset()
    assert window.controller.state == "idle" and window.views.loss_plot.engine_data(0)[0].size == 0


def test_matching_parameter_counts_brings_them_within_5_percent(qtbot, window):
    window.engine_setup.set_engines(
        [{"engine": "lstm", "hidden": 32}, {"engine": "gru"}, {"engine": "rnn"}]
    )
    assert window.match_parameter_counts()
    hidden = [e["hidden"] for e in window.engine_setup.engines()]
    assert hidden[0] == 32 and hidden[1] > 32 and hidden[2] > hidden[1]
    for text in window.engine_setup.parameter_texts()[1:]:
        offset = float(text.split("(")[1].split("%")[0])
        assert abs(offset) <= 5.0
    counts = window._parameter_counts(window.current_spec())
    for column, count in zip(window.views.columns, counts, strict=True):
        assert f"{count:,} parameters" in column.title()


def test_a_saved_comparison_reopens(qtbot, window, tmp_path):
    _train_until(qtbot, window, 3)
    with qtbot.waitSignal(window.comparison_saved, timeout=TIMEOUT_MS):
        window.save_comparison(tmp_path / "cmp")
    saved = window.comparison
    other = CompareWindow()
    qtbot.addWidget(other)
    assert not other.open_comparison(tmp_path)  # not a comparison: a message, nothing lost
    assert "comparison.json" in other.error_banner.text()
    with qtbot.waitSignal(other.comparison_opened, timeout=TIMEOUT_MS):
        assert other.open_comparison(tmp_path / "cmp")
    opened = other.comparison
    assert opened.labels == saved.labels and opened.weights_seeds == [4, 5, 6]
    assert other.engine_setup.weights_seeds() == [4, 5, 6]
    assert other.setup_panel.settings()["seed"] == 4
    for index, exp in enumerate(saved.experiments):
        steps, losses, _, _ = other.views.loss_plot.engine_data(index)
        np.testing.assert_allclose(losses, exp.metrics.train_losses)
        assert opened.experiments[index].checkpoint is not None
    assert opened.history_length() == saved.history_length()
    assert other.can_continue(other.current_spec())  # Train continues from the saved step
    assert all(c.heatmaps()["hidden"].data() is not None for c in other.views.columns)
    other.close()
    _close(window)  # both closed: no trainer of either is left
    assert other.controller.wait_stopped(30)


def test_closing_mid_training_leaves_no_trainer(qtbot):
    win = CompareWindow(SETTINGS)
    qtbot.addWidget(win)
    win.show()
    win.train()
    qtbot.waitUntil(lambda: win.comparison.step >= 1, timeout=TIMEOUT_MS)
    assert win.controller.state == "running"
    _close(win)


def test_ctrl_q_in_the_compare_window_closes_every_window(qtbot):
    """Quit is Ctrl+Q wherever the user is: the compare window and the window behind it
    close (the app then ends), and the lockstep trainer is stopped."""
    from PySide6 import QtGui, QtWidgets

    behind = QtWidgets.QMainWindow()
    qtbot.addWidget(behind)
    behind.show()
    win = CompareWindow(SETTINGS)
    qtbot.addWidget(win)
    win.show()
    win.train()
    qtbot.waitUntil(lambda: win.comparison.step >= 1, timeout=TIMEOUT_MS)
    quit_action = next(
        a for a in win.findChildren(QtGui.QAction) if a.shortcut().toString() == "Ctrl+Q"
    )
    quit_action.trigger()
    assert not win.isVisible() and not behind.isVisible()
    assert win.controller.wait_stopped(30)
    assert multiprocessing.active_children() == []


def test_before_the_first_step_every_engine_shows_its_untrained_network(qtbot):
    """With the step-0 preview (as the app opens it), each column shows its own untrained
    engine on the shared probe sequence before Train; a changed engine shows anew; nothing
    trains and no trainer stays."""
    win = CompareWindow(SETTINGS, preview=True)
    qtbot.addWidget(win)
    win.show()
    try:

        def previewed(hidden_of_first: int) -> bool:
            shown = win.comparison.frames_at(-1)
            return (
                all(s is not None for s in shown)
                and shown[0][0].trace.hidden.shape[-1] == hidden_of_first
            )

        qtbot.waitUntil(lambda: previewed(6), timeout=TIMEOUT_MS)
        shown = win.comparison.frames_at(-1)
        assert {frame.step for frame, _ in shown} == {0}
        for column, (frame, _) in zip(win.views.columns, shown, strict=True):
            np.testing.assert_array_equal(
                column.heatmaps()["hidden"].data(), frame.trace.hidden[0, 0].T
            )
        assert all(len(e.metrics) == 0 for e in win.comparison.experiments)
        assert not win.controller.is_active()
        engines = win.engine_setup.engines()
        engines[0] = {**engines[0], "hidden": 9}
        win.engine_setup.set_engines(engines, win.engine_setup.weights_seeds())
        qtbot.waitUntil(lambda: previewed(9), timeout=TIMEOUT_MS)
        assert len(win.comparison.experiments[0].frames) == 1  # the old preview went
    finally:
        win.close()
        assert win.controller.wait_stopped(30) and win.preview.wait_stopped(30)
    assert multiprocessing.active_children() == []
