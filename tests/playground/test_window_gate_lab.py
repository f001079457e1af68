"""The gate lab in the window: interventions from the panel reach the trainer's probe, the
views show the altered run against the unaltered one, presets and Clear work, and it works
on a reopened experiment and on loaded plain torch.nn weights with no trainer running, and
while training without changing the training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import widgets  # noqa: F401 - row-major images, as in the app
from engines.interventions import memory_unit
from playground import experiment_files as ef

TIMEOUT_MS = 60_000
SETUP = {"task": "adding", "length": 12, "engine": "lstm", "hidden": 6, "batch": 8}


@pytest.fixture
def window(shown_main_window):
    win = shown_main_window(SETUP)
    win.gate_lab.show()
    return win


def curve_y(curve) -> np.ndarray:
    return np.asarray(curve.getOriginalDataset()[1])


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
    # The target plot: the prediction curve is the altered read-out, the dashed one the
    # unaltered read-out of the same frame.
    altered, unaltered = frame.trace.outputs[0, :, 0], frame.reference.outputs[0, :, 0]
    assert not np.allclose(altered, unaltered)
    qtbot.waitUntil(
        lambda: np.array_equal(
            curve_y(window.dashboard.sequence_plot.prediction_curves[0]), altered
        ),
        timeout=5000,
    )
    (dashed,) = [c for c in window.dashboard.reference_curves() if c.isVisible()]
    np.testing.assert_array_equal(curve_y(dashed), unaltered)
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
    before = shown_frame(window)
    assert before.reference is None  # no intervention yet: the trace is the unaltered run
    window.gate_lab.panel.preset_buttons["memory_unit"].click()
    (item,) = window.gate_lab.panel.interventions()
    assert item["type"] == "ablate" and len(item["units"]) == 1
    wait_for_interventions(qtbot, window, True)
    unit = item["units"][0]
    frame = shown_frame(window)
    assert np.all(frame.trace.cell[0, 0, :, unit] == 0.0)
    # It is the unit whose cell state changes most at the adding problem's marked steps
    # (marker channel 1), in the unaltered run.
    marked = frame.inputs[..., 1] > 0.5
    assert marked.any()
    assert unit == memory_unit(before.trace, marked, layer=0)
    assert unit == memory_unit(frame.reference, marked, layer=0)


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


def lstm_with_forget_open(lstm, head, inputs: torch.Tensor) -> torch.Tensor:
    """A plain nn.LSTM + Linear stepped by hand with f = 1: c_t = c_{t-1} + i_t g_t."""
    hidden = lstm.hidden_size
    h = c = torch.zeros(inputs.shape[0], hidden)
    outputs = []
    for x in inputs.unbind(1):
        z = x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
        i, _f, g, o = z.split(hidden, dim=1)  # PyTorch's gate order
        c = c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(head(h))
    return torch.stack(outputs, 1)


def test_it_works_on_loaded_plain_torch_weights(qtbot, window, tmp_path):
    # A researcher's own torch.nn.LSTM + Linear of the setup's sizes (2 inputs, 6 units).
    torch.manual_seed(3)
    lstm = torch.nn.LSTM(2, SETUP["hidden"], batch_first=True)
    head = torch.nn.Linear(SETUP["hidden"], 1)
    state = {f"lstm.{k}": v for k, v in lstm.state_dict().items()}
    state |= {f"head.{k}": v for k, v in head.state_dict().items()}
    torch.save(state, tmp_path / "mine.pt")
    questions = []
    assert ef.load_weights(
        window, tmp_path / "mine.pt", accept_fix=lambda q: questions.append(q) or True
    ), window.error_banner.text()
    assert questions == []  # it fits the setup: nothing to ask
    assert not window.controller.is_active()

    window.gate_lab.panel.preset_buttons["forget_open"].click()
    wait_for_interventions(qtbot, window, True)  # a paused trainer started on those weights
    frame = shown_frame(window)
    forget = window.dashboard.heatmaps()["forget"].data()
    np.testing.assert_array_equal(forget, np.ones_like(forget))
    # Nothing was trained: the frame is at step 0 and its unaltered run is the plain model's.
    assert frame.step == 0 and window.experiment.step == 0
    assert window.controller.state == "paused"
    assert len(window.experiment.metrics.train_steps) == 0
    inputs = torch.from_numpy(np.array(frame.inputs))
    with torch.no_grad():
        plain, _ = lstm(inputs)
        np.testing.assert_allclose(frame.reference.outputs, head(plain).numpy(), atol=1e-6)
        # The altered prediction is the same weights stepped with f = 1, and differs.
        expected = lstm_with_forget_open(lstm, head, inputs).numpy()
    np.testing.assert_allclose(frame.trace.outputs, expected, atol=1e-5)
    assert not np.allclose(frame.trace.outputs, frame.reference.outputs, atol=1e-3)
    assert frame.probe_loss != frame.reference_loss


def intervened_steps(win) -> list[int]:
    frames = win.experiment.frames
    return sorted({frames[i][0].step for i in range(len(frames)) if frames[i][0].interventions})


def test_while_training_it_follows_the_network_and_never_changes_training(qtbot, window):
    panel = window.gate_lab.panel
    window.train()
    try:
        qtbot.waitUntil(lambda: window.experiment.step >= 1, timeout=TIMEOUT_MS)
    except qtbot.TimeoutError:  # say why: a trainer that failed to start shows it here
        pytest.fail(f"no training step: {window.controller.state}, {window.error_banner.text()}")
    panel.preset_buttons["forget_open"].click()
    # Intervened frames keep coming as the network learns, at increasing training steps.
    qtbot.waitUntil(lambda: len(intervened_steps(window)) >= 2, timeout=TIMEOUT_MS)
    assert window.controller.state == "running"
    frames = window.experiment.frames
    altered = [frames[i][0] for i in range(len(frames)) if frames[i][0].interventions]
    first, last = altered[0], altered[-1]
    assert first.step < last.step
    for frame in (first, last):
        np.testing.assert_array_equal(frame.trace.gates["forget"], 1.0)
        assert not np.allclose(frame.reference.gates["forget"], 1.0)
    # Each shows the network of its own step: the weights moved in between.
    assert not np.array_equal(first.reference.outputs, last.reference.outputs)
    assert not np.array_equal(first.trace.outputs, last.trace.outputs)

    window.pause()
    qtbot.waitUntil(lambda: window.controller.state == "paused", timeout=TIMEOUT_MS)
    panel.clear_button.click()
    wait_for_interventions(qtbot, window, False)
    frame = shown_frame(window)
    assert frame.reference is None and not np.allclose(frame.trace.gates["forget"], 1.0)
    qtbot.waitUntil(
        lambda: not any(c.isVisible() for c in window.dashboard.reference_curves()),
        timeout=5000,
    )
    with_lab = window.experiment.metrics.train_losses.copy()
    norms_with_lab = window.experiment.metrics.grad_norms.copy()
    assert len(with_lab) > last.step

    # The same seeded run without the gate lab trains on the same batches from the same
    # weights: bit for bit the same losses (the trainer is deterministic on the CPU).
    window.reset()
    window.train()
    metrics = window.experiment.metrics
    qtbot.waitUntil(lambda: len(metrics.train_losses) >= len(with_lab), timeout=TIMEOUT_MS)
    window.pause()
    assert not intervened_steps(window)
    np.testing.assert_array_equal(metrics.train_losses[: len(with_lab)], with_lab)
    np.testing.assert_array_equal(metrics.grad_norms[: len(with_lab)], norms_with_lab)
