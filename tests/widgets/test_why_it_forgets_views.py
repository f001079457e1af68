"""The "why it forgets" views filled with one probe frame's analysis (as the trainer sends it,
``engines.live_analysis``: plain numpy), asserting on what their plot items hold."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6 import QtCore

from widgets.gradient_history_view import DECADES, GradientHistoryView
from widgets.history_slider import HistorySlider
from widgets.jacobian_view import JacobianView
from widgets.plot_support import LOG_FLOOR
from widgets.setup_panel import SetupPanel
from widgets.state_space_view import StateSpaceView
from widgets.timescale_view import TimescaleView

STEPS, UNITS = 30, 8


def analysis_frame(kind: str = "lstm", layers: int = 1, seed: int = 0) -> dict:
    """An analysis dict shaped as ``ProbeFrame.analysis`` (keys of engines.live_analysis)."""
    rng = np.random.default_rng(seed)
    frame = {
        "singular_values": (0.6 + 0.3 * rng.random((layers, STEPS, 1))).astype(np.float32),
        "product_norms": 0.8 ** np.arange(1, STEPS + 1)[None].repeat(layers, 0),
        "state_space": rng.standard_normal((layers, STEPS, 2)).astype(np.float32),
        "state_space_explained": np.array([[0.6, 0.3]] * layers),
    }
    if kind == "rnn":
        frame["spectral_radius"] = np.array([0.95] * layers)
    else:
        frame["timescales"] = 1.0 + 40.0 * rng.random((layers, UNITS))
    return frame


def _curve(item):
    x, y = item.getOriginalDataset()
    return tuple(np.asarray([] if a is None else a, dtype=np.float64) for a in (x, y))


# --------------------------------------------------------------------------- Jacobian view


def test_jacobian_view_shows_a_frame(qtbot, qt_helpers):
    view = JacobianView()
    qtbot.addWidget(view)
    frame = analysis_frame()
    view.set_data(frame["singular_values"][0], frame["product_norms"][0])
    qt_helpers.settle(qtbot, view, (900, 350))

    x, y = _curve(view.singular_curves[0])
    np.testing.assert_array_equal(x, np.arange(STEPS))
    np.testing.assert_allclose(y, frame["singular_values"][0, :, 0], rtol=1e-6)
    x, y = _curve(view.product_curve)
    np.testing.assert_array_equal(x, np.arange(1, STEPS + 1))  # distances start at 1
    np.testing.assert_allclose(y, 0.8 ** np.arange(1, STEPS + 1))
    # Lines at 1 on both plots: linear on the left, log10(1) = 0 on the log axis.
    assert view.steps_one_line.value() == 1.0
    assert view.distance_plot.ctrl.logYCheck.isChecked()
    assert view.distance_one_line.value() == 0.0
    # The line at 1 stays in view although every value is below it.
    low, high = view.steps_plot.vb.viewRange()[1]
    assert low <= 0.6 and high >= 1.0
    low, high = view.distance_plot.vb.viewRange()[1]
    assert high >= 0.0 and low <= math.log10(0.8**STEPS)
    assert view.cursor.count() == STEPS
    view.set_cursor(12)
    assert view.cursor_value() == 12 and view.cursor_line.value() == 12
    assert not view.grab().isNull()  # it paints


def test_jacobian_view_updates_in_place_and_floors_zeros(qtbot):
    view = JacobianView()
    qtbot.addWidget(view)
    curve, product = view.singular_curves[0], view.product_curve
    view.set_data(np.ones((5, 3)), np.array([0.5, 0.0, np.nan]))
    assert view.singular_curves[0] is curve and view.product_curve is product
    assert len(view.singular_curves) == 3  # sigma_1 bold, two faint
    _, y = _curve(product)
    assert y[0] == 0.5 and y[1] == LOG_FLOOR and np.isnan(y[2])
    view.set_data(np.full(4, 0.9), None)
    assert _curve(view.singular_curves[1])[1].size == 0  # fewer values: extra curves emptied
    assert view.product_norms() is None and view.product_curve.getData()[0] is None
    view.clear_data()
    assert view.singular_values() is None and view.cursor.count() == 0
    with pytest.raises(ValueError, match="singular_values"):
        view.set_data(np.zeros((2, 2, 2)), None)


def test_jacobian_view_reports_cursor_drags(qtbot, qt_helpers):
    view = JacobianView()
    qtbot.addWidget(view)
    view.set_data(np.linspace(0.5, 1.5, STEPS), np.ones(STEPS))
    qt_helpers.settle(qtbot, view, (900, 350))
    vb = view.steps_plot.vb
    widget = view.steps_widget
    y = vb.viewRange()[1][0] + 0.5 * (vb.viewRange()[1][1] - vb.viewRange()[1][0])
    start = qt_helpers.view_point(widget, vb.mapViewToScene(QtCore.QPointF(0, y)))
    end = qt_helpers.view_point(widget, vb.mapViewToScene(QtCore.QPointF(20, y)))
    seen = []
    view.cursor_moved.connect(seen.append)
    with qtbot.waitSignal(view.cursor_moved):
        qt_helpers.mouse_drag(widget, start, end)
    assert seen[-1] == 20 and view.cursor_value() == 20


# ---------------------------------------------------------------- gradient history view


def test_gradient_history_grows_with_the_frames(qtbot, qt_helpers):
    view = GradientHistoryView()
    qtbot.addWidget(view)
    norms = [10.0 ** -np.linspace(0, k + 1, STEPS)[::-1] for k in range(3)]
    for step, values in zip((0, 50, 100), norms, strict=True):
        view.append(step, values)
    qt_helpers.settle(qtbot, view, (600, 400))
    assert view.count() == 3
    image = view.image_item.image
    assert image.shape == (3, STEPS)
    np.testing.assert_allclose(image, np.log10(np.stack(norms)), rtol=1e-6)
    np.testing.assert_array_equal(view.steps(), [0, 50, 100])
    assert view.step_axis.tickStrings([0, 1, 2, 1.5], 1, 1) == ["0", "50", "100", ""]
    image_item = view.image_item
    view.append(150, np.full(STEPS, 1e-2))
    assert view.image_item is image_item and view.image_item.image.shape == (4, STEPS)
    assert view.cursor.count() == STEPS
    assert not view.grab().isNull()


def test_gradient_history_marker_follows_the_history_slider(qtbot):
    view = GradientHistoryView()
    slider = HistorySlider()
    qtbot.addWidget(view)
    qtbot.addWidget(slider)
    # The lead's wiring: the marker follows the slider, and the newest frame while it is live.
    slider.index_changed.connect(lambda i: view.set_index(None if slider.is_live() else i))
    slider.live_changed.connect(lambda live: view.set_index(None if live else slider.index()))
    for step in range(6):
        view.append(10 * step, np.full(STEPS, 0.1))
        slider.set_count(step + 1)
    assert view.index() == 5 and view.marker.value() == 5  # live: the newest
    slider.set_index(2)
    assert view.index() == 2 and view.marker.value() == 2
    view.append(60, np.full(STEPS, 0.1))  # a new frame arrives: the marker stays put
    slider.set_count(7)
    assert view.marker.value() == 2
    slider.go_live()
    assert view.marker.value() == 6
    view.append(70, np.full(STEPS, 0.1))
    assert view.marker.value() == 7


def test_gradient_history_missing_gradients_levels_and_reset(qtbot):
    view = GradientHistoryView()
    qtbot.addWidget(view)
    view.set_history([0, 5, 9], [np.full(4, 1e-3), None, np.array([1e-3, 0.0, np.nan, 2e-3])])
    image = view.image()
    assert np.all(np.isnan(image[1]))  # no gradients: a blank row
    assert image[2, 1] == math.log10(LOG_FLOOR) and np.isnan(image[2, 2])
    assert view.levels() == (-2.0 - DECADES, -2.0)  # whole decades above the largest norm
    view.append(12, np.full(6, 30.0))  # longer and larger
    assert view.image().shape == (4, 6) and np.all(np.isnan(view.image()[:3, 4:]))
    assert view.levels() == (2.0 - DECADES, 2.0)
    with pytest.raises(ValueError, match="as long"):
        view.set_history([1, 2], [None])
    view.clear_data()
    assert view.count() == 0 and view.index() == -1 and not view.marker.isVisible()


def test_clicking_a_row_picks_its_frame(qtbot, qt_helpers):
    view = GradientHistoryView()
    qtbot.addWidget(view)
    view.set_history(list(range(0, 40, 10)), [np.full(STEPS, 0.1)] * 4)
    qt_helpers.settle(qtbot, view, (600, 400))
    point = qt_helpers.view_point(view, view.scene_pos_of(2, STEPS // 2))
    with qtbot.waitSignal(view.frame_picked) as blocker:
        qt_helpers.mouse_click(view, point)
    assert blocker.args == [2]


# ------------------------------------------------------------------------ timescale view


def test_timescale_view_sorted_bars_on_a_log_axis(qtbot, qt_helpers):
    view = TimescaleView()
    qtbot.addWidget(view)
    frame = analysis_frame("gru")
    view.show_timescales(frame["timescales"][0])
    view.set_horizon(STEPS)
    qt_helpers.settle(qtbot, view)
    assert view.mode() == "timescales"
    expected = np.sort(frame["timescales"][0])[::-1]
    np.testing.assert_allclose(view.timescales(), expected)
    np.testing.assert_allclose(view.bar_heights(), np.log10(expected))
    np.testing.assert_array_equal(frame["timescales"][0][view.units()], expected)
    assert view.bars_plot.getAxis("left").logMode  # ticks read as powers of ten
    assert view.horizon_line.isVisible()
    assert view.horizon_line.value() == pytest.approx(math.log10(STEPS))
    low, high = view.bars_plot.vb.viewRange()[1]
    assert low <= 0.0 and high >= math.log10(expected[0])
    bars = view.bars
    view.show_timescales(np.array([2.0, 50.0, 1.0, 7.0]))
    assert view.bars is bars
    np.testing.assert_allclose(view.bar_heights(), np.log10([50.0, 7.0, 2.0, 1.0]))
    np.testing.assert_array_equal(view.units(), [1, 3, 0, 2])
    assert not view.grab().isNull()


def test_timescale_view_spectral_radius_over_training_for_the_rnn(qtbot, qt_helpers):
    view = TimescaleView()
    qtbot.addWidget(view)
    frame = analysis_frame("rnn")
    for step, radius in ((0, frame["spectral_radius"][0]), (25, 1.02), (50, 1.1)):
        view.append_spectral_radius(step, radius)
    qt_helpers.settle(qtbot, view)
    assert view.mode() == "spectral_radius"
    x, y = _curve(view.radius_curve)
    np.testing.assert_array_equal(x, [0, 25, 50])
    np.testing.assert_allclose(y, [0.95, 1.02, 1.1])
    assert view.radius_one_line.value() == 1.0
    view.set_spectral_radius_history([0, 10], [0.5, 0.6])
    np.testing.assert_allclose(view.spectral_radius_data()[1], [0.5, 0.6])
    view.clear_data()
    assert view.timescales() is None and view.spectral_radius_data()[0].size == 0


# ---------------------------------------------------------------------- state-space view


def test_state_space_view_shows_the_trajectory_coloured_by_time(qtbot, qt_helpers):
    view = StateSpaceView()
    qtbot.addWidget(view)
    frame = analysis_frame()
    points = frame["state_space"][0]
    view.set_data(points, frame["state_space_explained"][0])
    qt_helpers.settle(qtbot, view)
    x, y = view.points.getData()
    np.testing.assert_allclose(np.stack([x, y], axis=1), points, rtol=1e-6)
    np.testing.assert_allclose(np.stack(_curve(view.path_curve), axis=1), points, rtol=1e-6)
    brushes = [spot.brush().color() for spot in view.points.points()]
    assert brushes[0] != brushes[-1]  # coloured by time
    assert "60 %" in view.plot_item.getAxis("bottom").labelText
    assert "30 %" in view.plot_item.getAxis("left").labelText
    view.set_cursor(7)
    assert view.cursor_point() == pytest.approx(tuple(points[7]))
    view.set_cursor(10_000)
    assert view.cursor_value() == STEPS - 1
    assert view.cursor_point() == pytest.approx(tuple(points[-1]))
    assert not view.grab().isNull()


def test_state_space_view_updates_in_place_and_clicks_move_the_cursor(qtbot, qt_helpers):
    view = StateSpaceView()
    qtbot.addWidget(view)
    t = np.linspace(0, 2 * np.pi, STEPS, endpoint=False)
    view.set_data(np.stack([np.cos(t), np.sin(t)], axis=1), (0.5, 0.5))
    qt_helpers.settle(qtbot, view)
    scatter = view.points
    point = qt_helpers.view_point(view, view.scene_pos_of(9))
    with qtbot.waitSignal(view.cursor_moved) as blocker:
        qt_helpers.mouse_click(view, point)
    assert blocker.args == [9]
    assert view.cursor_value() == 9
    moved = np.stack([1.1 * np.cos(t), np.sin(t)], axis=1)
    view.set_data(moved, (0.55, 0.45))
    assert view.points is scatter
    assert view.cursor_point() == pytest.approx(tuple(moved[9]))
    with pytest.raises(ValueError, match="time, 2"):
        view.set_data(np.zeros((4, 3)))
    view.clear_data()
    assert view.data() is None and view.cursor_point() is None


# ----------------------------------------------------------------------- setup panel


def test_setup_panel_offers_the_chrono_initialisation(qtbot):
    panel = SetupPanel([("adding", "Adding problem")])
    qtbot.addWidget(panel)
    index = panel.init_combo.findData("chrono")
    assert index >= 0
    panel.init_combo.setCurrentIndex(index)
    assert panel.settings()["init"] == "chrono"
