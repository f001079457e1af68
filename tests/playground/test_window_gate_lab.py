"""The gate lab in the window: interventions from the panel reach the trainer's probe, the
views show the altered run against the unaltered one, presets and Clear work, and it works
on a reopened experiment with no trainer running."""

from __future__ import annotations

import numpy as np
import pytest

import widgets  # noqa: F401 - row-major images, as in the app
from playground import experiment_files as ef
from playground.main_window import MainWindow

TIMEOUT_MS = 60_000
SETUP = {"task": "adding", "length": 12, "engine": "lstm", "hidden": 6, "batch": 8}


@pytest.fixture
def window(qtbot):
    win = MainWindow(SETUP)
    qtbot.addWidget(win)
    win.show()
    win.gate_lab.show()
    yield win
    win.close()
    assert win.controller.wait_stopped(timeout=10)


def shown_frame(win):
    return win.experiment.shown_frame()[0]


def wait_for_interventions(qtbot, win, wanted: bool):
    qtbot.waitUntil(
        lambda: (
            win.experiment.shown_frame() is not None
            and bool(shown_frame(win).interventions) == wanted
        ),
        timeout=TIMEOUT_MS,
    )


def test_a_preset_alters_the_probe_and_clear_restores_it(qtbot, window):
    window.step()
    qtbot.waitUntil(lambda: window.experiment.step == 1, timeout=TIMEOUT_MS)
    panel = window.gate_lab.panel
    panel.preset_buttons["forget_open"].click()
    wait_for_interventions(qtbot, window, True)
    forget = window.dashboard.heatmaps()["forget"].data()
    np.testing.assert_array_equal(forget, np.ones_like(forget))  # f = 1 everywhere
    frame = shown_frame(window)
    assert frame.reference is not None
    assert not np.allclose(frame.reference.gates["forget"], 1.0)  # the unaltered run
    assert any(c.isVisible() for c in window.dashboard.reference_curves())
    assert "→" in panel.loss_label.text()
    assert frame.gradients is not None  # the gradient flow is the altered run's too
    assert window.experiment.step == 1  # the intervention trained nothing

    panel.difference_check.setChecked(True)
    frame = shown_frame(window)
    expected = (frame.trace.hidden[0, 0] - frame.reference.hidden[0, 0]).T
    np.testing.assert_allclose(window.dashboard.heatmaps()["hidden"].data(), expected)
    assert window.dashboard.heatmaps()["forget"].levels() == (-1.0, 1.0)
    panel.difference_check.setChecked(False)

    panel.clear_button.click()
    wait_for_interventions(qtbot, window, False)
    assert not any(c.isVisible() for c in window.dashboard.reference_curves())


def test_a_region_dragged_on_a_heatmap_picks_units_and_steps(qtbot, window):
    window.step()
    qtbot.waitUntil(lambda: window.experiment.step == 1, timeout=TIMEOUT_MS)
    panel = window.gate_lab.panel
    panel.preset_buttons["no_input"].click()
    panel.pick_button.click()
    view = window.dashboard.heatmaps()["input"]
    assert view.selection_mode()
    view.region_selected.emit(1, 2, 3, 5)  # what a drag over units 1-2, steps 3-5 sends
    qtbot.waitUntil(
        lambda: panel.interventions() and panel.interventions()[0]["units"] == [1, 2],
        timeout=5000,
    )
    qtbot.waitUntil(
        lambda: [tuple(i.units or ()) for i in shown_frame(window).interventions] == [(1, 2)],
        timeout=TIMEOUT_MS,
    )
    gate = shown_frame(window).trace.gates["input"][0, 0]  # (time, units)
    assert np.all(gate[3:6, 1:3] == 0.0)
    assert np.all(gate[:3, 1:3] != 0.0)  # before the steps: untouched


def test_the_memory_unit_preset_silences_it(qtbot, window):
    window.step()
    qtbot.waitUntil(lambda: window.experiment.step == 1, timeout=TIMEOUT_MS)
    window.gate_lab.panel.preset_buttons["memory_unit"].click()
    (item,) = window.gate_lab.panel.interventions()
    assert item["type"] == "ablate" and len(item["units"]) == 1
    wait_for_interventions(qtbot, window, True)
    unit = item["units"][0]
    assert np.all(shown_frame(window).trace.cell[0, 0, :, unit] == 0.0)


def test_it_works_on_a_reopened_experiment(qtbot, window, tmp_path):
    window.step()
    qtbot.waitUntil(lambda: window.experiment.step == 1, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.experiment_saved, timeout=TIMEOUT_MS):
        ef.save_experiment(window, tmp_path / "run")
    window.reset()
    assert ef.open_experiment(window, tmp_path / "run")
    assert not window.controller.is_active()
    window.gate_lab.panel.preset_buttons["output_shut"].click()
    wait_for_interventions(qtbot, window, True)
    assert window.controller.state == "paused" and window.experiment.step == 1
    np.testing.assert_array_equal(shown_frame(window).trace.hidden, 0.0)  # o = 0: h = 0
