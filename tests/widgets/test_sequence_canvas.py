"""SequenceCanvas driven by simulated mouse and keyboard events, as a user would drive it.

Mouse events go to the PlotWidget's viewport (a QGraphicsView's events arrive there); positions
come from ``data_to_viewport_pos`` once the widget is shown at a fixed size.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from widgets.sequence_canvas import PRESETS, SequenceCanvas

T = 50


@pytest.fixture
def canvas(qtbot):
    widget = SequenceCanvas(n_steps=T)
    qtbot.addWidget(widget)
    widget.resize(600, 400)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.waitUntil(lambda: widget.plot_widget.viewport().width() == 600)
    return widget


def stroke(qtbot, canvas, points, button=Qt.MouseButton.LeftButton):
    """Press at the first data point, move through the others, release at the last."""
    viewport = canvas.plot_widget.viewport()
    pixels = [canvas.data_to_viewport_pos(step, value) for step, value in points]
    qtbot.mousePress(viewport, button, pos=pixels[0])
    for pixel in pixels[1:]:
        qtbot.mouseMove(viewport, pixel)
    qtbot.mouseRelease(viewport, button, pos=pixels[-1])


def line(start, end, n=8):
    return [tuple(np.array(start) + (np.array(end) - start) * i / n) for i in range(n + 1)]


def test_positions_fall_inside_the_plot(canvas):
    viewport = canvas.plot_widget.viewport().rect()
    for step, value in [(0, -1), (0, 1), (T - 1, -1), (T - 1, 1)]:
        assert viewport.contains(canvas.data_to_viewport_pos(step, value))
    widget_pos = canvas.data_to_widget_pos(0, 0)
    assert canvas.rect().contains(widget_pos)


def test_diagonal_stroke_gives_a_ramp(qtbot, canvas):
    with qtbot.waitSignal(canvas.sequence_changed):
        stroke(qtbot, canvas, line((0, -0.5), (T - 1, 0.5)))
    seq = canvas.sequence()
    assert seq.shape == (T, 1) and seq.dtype == np.float32
    ramp = seq[:, 0]
    assert np.all(np.diff(ramp) >= 0)
    np.testing.assert_allclose(ramp, np.linspace(-0.5, 0.5, T), atol=0.03)


def test_fast_stroke_leaves_no_holes(qtbot, canvas):
    """Two samples far apart (press and release only): every step between is filled."""
    stroke(qtbot, canvas, [(5, 0.8), (40, 0.8)])
    seq = canvas.sequence()[:, 0]
    np.testing.assert_allclose(seq[5:41], 0.8, atol=0.02)
    assert not seq[:5].any() and not seq[41:].any()


def test_stroke_backwards_and_clamped(qtbot, canvas):
    stroke(qtbot, canvas, line((30, 3.0), (10, 3.0), n=4))
    seq = canvas.sequence()[:, 0]
    np.testing.assert_array_equal(seq[10:31], 1.0)  # clamped to the top of the range
    assert not seq[:10].any() and not seq[31:].any()


def test_right_button_and_erase_mode_erase(qtbot, canvas):
    stroke(qtbot, canvas, line((0, 0.5), (T - 1, 0.5)))
    stroke(qtbot, canvas, line((10, 0), (19, 0), n=3), button=Qt.MouseButton.RightButton)
    seq = canvas.sequence()[:, 0]
    assert not seq[10:20].any()
    np.testing.assert_allclose(seq[:10], 0.5, atol=0.02)
    np.testing.assert_allclose(seq[20:], 0.5, atol=0.02)
    canvas.set_erase_mode(True)
    stroke(qtbot, canvas, [(30, 0.9), (34, 0.9)])
    assert not canvas.sequence()[30:35, 0].any()


def test_draws_on_the_current_channel_only(qtbot, canvas):
    canvas.set_channels(3)
    canvas.set_current_channel(1)
    stroke(qtbot, canvas, [(0, -0.4), (T - 1, -0.4)])
    seq = canvas.sequence()
    assert seq.shape == (T, 3)
    np.testing.assert_allclose(seq[:, 1], -0.4, atol=0.02)
    assert not seq[:, [0, 2]].any()
    with pytest.raises(ValueError):
        canvas.set_current_channel(3)


def test_symbol_clicks(qtbot, canvas):
    canvas.set_symbol_mode(4, names=("a", "b", "c", "d"))
    assert canvas.sequence().dtype == np.int64 and canvas.sequence().shape == (T,)
    for step, y in [(3, 2.2), (7, 0.9), (11, 9.0), (12, -3.0)]:
        stroke(qtbot, canvas, [(step, y)])
    seq = canvas.sequence()
    assert (seq[3], seq[7], seq[11], seq[12]) == (2, 1, 3, 0)
    assert np.count_nonzero(seq) == 3
    markers = canvas._markers.getData()[1]  # the markers mirror the data
    np.testing.assert_array_equal(markers, seq)


def test_symbol_drag_covers_steps(qtbot, canvas):
    canvas.set_symbol_mode(3)
    stroke(qtbot, canvas, [(20, 2), (29, 2)])
    np.testing.assert_array_equal(canvas.sequence()[20:30], 2)
    stroke(qtbot, canvas, [(22, 2), (25, 2)], button=Qt.MouseButton.RightButton)
    np.testing.assert_array_equal(canvas.sequence()[22:26], 0)


def test_undo_redo_restore_exact_arrays(qtbot, canvas):
    states = [canvas.sequence()]
    stroke(qtbot, canvas, line((0, -0.5), (T - 1, 0.5)))
    states.append(canvas.sequence())
    stroke(qtbot, canvas, [(10, 0.9), (20, 0.1)])
    states.append(canvas.sequence())
    canvas.clear()
    states.append(canvas.sequence())
    canvas.apply_preset("square")
    states.append(canvas.sequence())
    for expected in reversed(states[:-1]):
        canvas.undo()
        np.testing.assert_array_equal(canvas.sequence(), expected)
    assert not canvas.can_undo()
    canvas.undo()  # nothing left: no change, no error
    np.testing.assert_array_equal(canvas.sequence(), states[0])
    for expected in states[1:]:
        canvas.redo()
        np.testing.assert_array_equal(canvas.sequence(), expected)
    assert not canvas.can_redo()
    canvas.undo()
    stroke(qtbot, canvas, [(1, 0.3)])  # a new edit drops the redo branch
    assert not canvas.can_redo()


def test_undo_redo_shortcuts(qtbot, canvas):
    before = canvas.sequence()
    stroke(qtbot, canvas, line((0, 0.2), (T - 1, -0.2)))
    after = canvas.sequence()
    canvas.activateWindow()
    qtbot.waitUntil(lambda: canvas.isActiveWindow())
    assert canvas.isAncestorOf(canvas.focusWidget()) or canvas.hasFocus()  # the click focused it
    target = canvas.focusWidget()
    qtbot.keyClick(target, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    np.testing.assert_array_equal(canvas.sequence(), before)
    modifiers = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(target, Qt.Key.Key_Z, modifiers)
    np.testing.assert_array_equal(canvas.sequence(), after)


def test_one_signal_and_one_undo_step_per_stroke(qtbot, canvas):
    seen = []
    canvas.sequence_changed.connect(lambda: seen.append(1))
    stroke(qtbot, canvas, line((0, 0), (T - 1, 0.7), n=20))
    assert len(seen) == 1
    canvas.undo()
    assert len(seen) == 2 and not canvas.can_undo()
    # erasing what is already blank changes nothing: no signal, no undo step
    stroke(qtbot, canvas, [(5, 0), (9, 0)], button=Qt.MouseButton.RightButton)
    assert len(seen) == 2 and not canvas.can_undo()


def test_mouse_does_not_pan_or_zoom(qtbot, canvas):
    before = canvas._view.viewRange()
    stroke(qtbot, canvas, line((0, -0.9), (T - 1, 0.9)))
    assert canvas._view.viewRange() == before


def sign_changes(x):
    signs = np.sign(x[x != 0])
    return int(np.count_nonzero(np.diff(signs)))


def test_presets(canvas):
    canvas.apply_preset("sine")
    sine = canvas.sequence()[:, 0]
    assert sign_changes(sine) >= 4 and sine.max() > 0.7 and sine.min() < -0.7
    canvas.apply_preset("square")
    square = canvas.sequence()[:, 0]
    assert len(np.unique(square)) == 2 and sign_changes(square) >= 4
    canvas.apply_preset("spikes")
    spikes = canvas.sequence()[:, 0]
    assert 1 <= np.count_nonzero(spikes) <= T // 10 and np.median(spikes) == 0
    canvas.apply_preset("noise", seed=3)
    noise = canvas.sequence()
    assert len(np.unique(noise)) > T // 2 and np.abs(noise).max() <= 1
    canvas.apply_preset("noise", seed=3)
    np.testing.assert_array_equal(canvas.sequence(), noise)  # seeded: reproducible
    canvas.apply_preset("noise", seed=4)
    assert not np.array_equal(canvas.sequence(), noise)
    with pytest.raises(ValueError, match="sine"):
        canvas.apply_preset("sawtooth")
    assert set(PRESETS) == {"sine", "square", "spikes", "noise"}


def test_presets_in_symbol_mode(canvas):
    canvas.set_symbol_mode(5)
    for name in PRESETS:
        canvas.apply_preset(name)
        seq = canvas.sequence()
        assert seq.dtype == np.int64 and seq.min() >= 0 and seq.max() <= 4
    canvas.apply_preset("square")
    assert len(np.unique(canvas.sequence())) == 2


def test_set_sequence_round_trip(qtbot, canvas):
    values = np.random.default_rng(1).uniform(-0.9, 0.9, size=(80, 2)).astype(np.float32)
    with qtbot.waitSignal(canvas.sequence_changed):
        canvas.set_sequence(values)
    np.testing.assert_array_equal(canvas.sequence(), values)
    assert (canvas.n_steps, canvas.n_channels) == (80, 2)
    np.testing.assert_array_equal(canvas._curves[1].getData()[1], values[:, 1])

    symbols = np.array([0, 3, 1, 2, 2, 0], dtype=np.int64)
    canvas.set_sequence(symbols)
    np.testing.assert_array_equal(canvas.sequence(), symbols)
    assert canvas.symbol_count == 4

    canvas.set_sequence(np.array([0.0, 2.5, -3.0]))  # 1-D float: one channel, range widens
    assert canvas.sequence().shape == (3, 1) and canvas.symbol_count == 0
    assert canvas.value_range == (-3.0, 2.5)
    with pytest.raises(ValueError):
        canvas.set_sequence(np.array([np.nan, 1.0]))


def test_loaded_sequence_can_be_drawn_over_and_undone(qtbot, canvas):
    values = np.linspace(-1, 1, T, dtype=np.float32)[:, None]
    canvas.set_sequence(values)
    assert not canvas.can_undo()
    stroke(qtbot, canvas, [(10, 0.0), (20, 0.0)])
    canvas.undo()
    np.testing.assert_array_equal(canvas.sequence(), values)


def test_set_length_keeps_the_drawing(qtbot, canvas):
    stroke(qtbot, canvas, [(0, 0.5), (T - 1, 0.5)])
    canvas.set_length(20)
    np.testing.assert_allclose(canvas.sequence()[:, 0], 0.5, atol=0.02)
    canvas.set_length(30)
    assert canvas.sequence().shape == (30, 1) and not canvas.sequence()[20:].any()
    stroke(qtbot, canvas, [(29, -0.5)])  # the view follows the new length
    assert canvas.sequence()[29, 0] == pytest.approx(-0.5, abs=0.02)
    with pytest.raises(ValueError):
        canvas.set_length(0)


def test_widgets_do_not_import_torch():
    code = (
        "import sys, widgets.sequence_canvas; "
        "sys.exit(any(m == 'torch' or m.startswith(('torch.', 'engines')) for m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root, check=False).returncode == 0
