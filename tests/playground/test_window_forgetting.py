""" "Why it forgets" in the window: the visible page's analysis is computed by the trainer
and drawn from the record; the gradient history grows with the recorded frames and follows
the history slider; a hidden dock asks for nothing."""

from __future__ import annotations

import numpy as np
import pytest

import widgets  # noqa: F401 - row-major images, as in the app
from playground.main_window import MainWindow

TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot):
    win = MainWindow({"task": "adding", "length": 12, "engine": "lstm", "hidden": 6, "batch": 8})
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    assert win.controller.wait_stopped(timeout=10)


def test_each_page_fills_with_the_frames_analysis(qtbot, window):
    dock = window.forgetting
    assert dock.wanted() == frozenset()  # hidden: nothing computed
    dock.show()
    window.step()
    qtbot.waitUntil(lambda: window.experiment.step == 1, timeout=TIMEOUT_MS)
    assert dock.wanted() == {"jacobians"}
    qtbot.waitUntil(lambda: dock.jacobian_view.product_norms() is not None, timeout=TIMEOUT_MS)
    frame = window.experiment.shown_frame()[0]
    np.testing.assert_allclose(
        dock.jacobian_view.singular_values()[:, 0], frame.analysis["singular_values"][0, :, 0]
    )
    dock.tabs.setCurrentIndex(2)  # memory timescales
    qtbot.waitUntil(lambda: dock.timescale_view.timescales() is not None, timeout=TIMEOUT_MS)
    tau = window.experiment.shown_frame()[0].analysis["timescales"][0]
    np.testing.assert_allclose(np.sort(tau)[::-1], dock.timescale_view.timescales())
    dock.tabs.setCurrentIndex(3)  # state space
    qtbot.waitUntil(lambda: dock.state_space_view.data() is not None, timeout=TIMEOUT_MS)
    assert dock.state_space_view.data().shape == (frame.trace.steps, 2)


def test_the_gradient_history_grows_and_follows_the_slider(qtbot, window):
    dock = window.forgetting
    dock.show()
    dock.tabs.setCurrentIndex(1)
    window.step()
    qtbot.waitUntil(lambda: window.controller.state == "paused", timeout=TIMEOUT_MS)
    for _ in range(3):
        before = len(window.experiment.frames)
        window.step()
        qtbot.waitUntil(lambda b=before: len(window.experiment.frames) > b, timeout=TIMEOUT_MS)
    frames = window.experiment.frames
    assert dock.gradient_history_view.count() == len(frames) >= 4
    assert list(dock.gradient_history_view.steps()) == frames.steps()
    window.history_slider.set_index(1)
    assert dock.gradient_history_view.index() == 1


def principal_axes(hidden: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The (2, H) axes that map the centred trajectory ``hidden`` (T, H) to ``points`` (T, 2).
    They lie in the span of the centred states, so the least-squares answer is exact."""
    centred = hidden.astype(np.float64) - hidden.mean(axis=0)
    axes, *_ = np.linalg.lstsq(centred, points.astype(np.float64), rcond=None)
    return axes.T


def test_the_state_space_projection_does_not_flip_between_nearby_frames(qtbot, window):
    dock = window.forgetting
    dock.show()
    dock.tabs.setCurrentIndex(3)  # state space
    view = dock.state_space_view
    shown = []
    for step in (1, 2):
        window.step()
        qtbot.waitUntil(
            lambda s=step: (
                window.experiment.step == s
                and window.experiment.shown_frame()[0].step == s
                and window.experiment.shown_frame()[0].analysis is not None
                and view.data() is not None
                and np.array_equal(
                    view.data(), window.experiment.shown_frame()[0].analysis["state_space"][0]
                )
            ),
            timeout=TIMEOUT_MS,
        )
        frame = window.experiment.shown_frame()[0]
        points = view.data().copy()
        axes = principal_axes(frame.trace.hidden[0, 0], points)
        np.testing.assert_allclose(np.linalg.norm(axes, axis=1), 1.0, atol=1e-4)  # unit axes
        shown.append((points, axes))
    (points_1, axes_1), (points_2, axes_2) = shown
    assert not np.array_equal(points_1, points_2)  # the network learned in between
    for k in range(2):  # neither axis mirrors from one step to the next
        assert float(axes_1[k] @ axes_2[k]) > 0, f"axis {k} flipped"
        assert float(points_1[:, k] @ points_2[:, k]) > 0, f"axis {k} flipped"


def test_a_reopened_experiment_is_analysed_without_training(qtbot, window, tmp_path):
    """Why it forgets open on a reopened run: a paused trainer on its weights computes the
    page at once, at the saved step; nothing trains."""
    from playground import experiment_files as ef

    window.step()
    qtbot.waitUntil(lambda: window.experiment.step == 1, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.experiment_saved, timeout=TIMEOUT_MS):
        ef.save_experiment(window, tmp_path / "run")
    window.reset()
    dock = window.forgetting
    dock.show()
    assert ef.open_experiment(window, tmp_path / "run")
    qtbot.waitUntil(lambda: dock.jacobian_view.product_norms() is not None, timeout=TIMEOUT_MS)
    assert window.controller.state == "paused" and window.experiment.step == 1
    frame = window.experiment.shown_frame()[0]
    assert frame.step == 1 and "singular_values" in frame.analysis
