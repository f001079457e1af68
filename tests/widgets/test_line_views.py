import math

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from widgets.line_views import GradientFlowPlot, UnitPlot
from widgets.loss_plot import LossPlot
from widgets.plot_support import LOG_FLOOR, SeriesBuffer
from widgets.sequence_plot import SequencePlot


def _original(curve):
    data = curve.getOriginalDataset()
    return tuple(np.asarray([] if a is None else a) for a in data)


# ------------------------------------------------------------------ SeriesBuffer


def test_series_buffer_grows_and_stays_bounded():
    buf = SeriesBuffer(capacity=4, max_points=100)
    for start in range(0, 90, 10):
        buf.extend(np.arange(start, start + 10), np.arange(start, start + 10) * 2.0)
    x, y = buf.data()
    np.testing.assert_array_equal(x, np.arange(90))
    np.testing.assert_array_equal(y, 2.0 * np.arange(90))
    buf.extend(np.arange(90, 120), np.zeros(30))
    assert len(buf) <= 100
    x, _ = buf.data()
    assert x[0] == 0 and x[-1] == 119 and np.all(np.diff(x) > 0)
    with pytest.raises(ValueError, match="same length"):
        buf.extend([1, 2], [1])


# ---------------------------------------------------------------------- LossPlot


def test_loss_plot_appends_in_place(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    curve = plot.train_curve
    steps = np.arange(3000)
    for chunk in np.array_split(steps, 7):
        plot.append_train(chunk, 1.0 / (chunk + 1))
    assert plot.train_curve is curve
    x, y = _original(curve)
    np.testing.assert_array_equal(x, steps)
    np.testing.assert_allclose(y, 1.0 / (steps + 1))
    plot.append_train(3000, 0.5)  # scalars too
    assert plot.train_data()[0][-1] == 3000
    plot.append_test(100, 0.3)
    plot.append_test(200, 0.2)
    x, y = plot.test_curve.getData()
    np.testing.assert_array_equal(x, [100, 200])
    np.testing.assert_allclose(y, [0.3, 0.2])


def test_loss_plot_baseline_and_log_scale(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.append_train(np.arange(10), np.linspace(1, 0.01, 10))
    plot.set_baseline(0.167, "predict the mean {0.167}")
    assert plot.baseline_line.isVisible()
    assert plot.baseline_line.value() == pytest.approx(0.167)
    assert plot.baseline_line.label.toPlainText() == "predict the mean {0.167}"
    plot.set_log_y(True)
    assert plot.is_log_y()
    assert plot.plot_item.ctrl.logYCheck.isChecked()
    assert plot.baseline_line.value() == pytest.approx(math.log10(0.167))
    plot.set_log_y(False)
    assert plot.baseline_line.value() == pytest.approx(0.167)
    plot.set_baseline(None)
    assert not plot.baseline_line.isVisible()


def test_loss_plot_clear_keeps_items(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.append_train([1, 2], [0.5, 0.4])
    plot.append_test(2, 0.45)
    train, test = plot.train_curve, plot.test_curve
    plot.clear()
    assert plot.train_curve is train and plot.test_curve is test
    assert len(plot.train_data()[0]) == 0 and len(plot.test_data()[0]) == 0
    plot.append_train([5], [0.1])
    np.testing.assert_array_equal(plot.train_data()[0], [5])


# -------------------------------------------------------------- GradientFlowPlot


def test_gradient_plot_is_log_and_floors_zeros(qtbot):
    plot = GradientFlowPlot()
    qtbot.addWidget(plot)
    assert plot.is_log_y()
    curve = plot.grad_h_curve
    plot.set_data(np.array([1.0, 0.0, np.nan, 1e-3, -1.0]), np.ones(5))
    assert plot.grad_h_curve is curve
    x, y = _original(curve)
    np.testing.assert_array_equal(x, np.arange(5))
    assert y[0] == 1.0 and y[1] == LOG_FLOOR and np.isnan(y[2]) and y[4] == LOG_FLOOR
    _, shown = curve.getData()  # log10 of the floored values: finite except the gap
    assert np.isfinite(shown[[0, 1, 3, 4]]).all()
    plot.set_data(np.ones(8), None)
    assert len(_original(plot.grad_x_curve)[0]) == 0
    assert plot.cursor.count() == 8
    plot.set_data(np.full(4, np.nan), np.zeros(4))
    plot.set_data(None, None)
    plot.grab()


def test_gradient_plot_cursor(qtbot, qt_helpers):
    plot = GradientFlowPlot()
    qtbot.addWidget(plot)
    plot.set_data(np.linspace(1, 2, 30), None)
    qt_helpers.settle(qtbot, plot)
    with qtbot.assertNotEmitted(plot.cursor_moved):
        plot.set_cursor(5)
    vb = plot.plot_item.vb
    y_mid = sum(vb.viewRange()[1]) / 2
    start = qt_helpers.view_point(plot, vb.mapViewToScene(pg_point(5, y_mid)))
    end = qt_helpers.view_point(plot, vb.mapViewToScene(pg_point(20, y_mid)))
    seen = []
    plot.cursor_moved.connect(seen.append)
    with qtbot.waitSignal(plot.cursor_moved):
        qt_helpers.mouse_drag(plot, start, end)
    assert seen[-1] == 20 and plot.cursor_value() == 20


def pg_point(x, y):
    return QtCore.QPointF(x, y)


# ------------------------------------------------------------------ SequencePlot


def test_sequence_plot_shows_channels_targets_and_prediction(qtbot):
    plot = SequencePlot()
    qtbot.addWidget(plot)
    steps = 40
    inputs = np.stack([np.linspace(0, 1, steps), np.zeros(steps)], axis=1)
    targets = np.full((steps, 1), 0.7)
    prediction = np.linspace(0, 0.7, steps)[:, None]
    mask = np.zeros(steps, dtype=bool)
    mask[-1] = True
    plot.set_data(inputs, targets, prediction, mask, ["value", "marker"])
    assert len(plot.input_curves) == 2
    np.testing.assert_array_equal(plot.input_curves[0].getData()[1], inputs[:, 0])
    labels = [label.text for _, label in plot.input_legend.items]
    assert labels == ["value", "marker"]
    x, y = _original(plot.target_curves[0])
    assert list(x) == [steps - 1] and list(y) == [0.7]  # only scored steps
    assert plot.target_curves[0].opts["symbol"] == "o"  # a single scored step needs a marker
    np.testing.assert_array_equal(plot.prediction_curves[0].getData()[1], prediction[:, 0])
    assert plot.cursor.count() == steps

    first = plot.input_curves[0]
    plot.set_data(inputs[:, :1], None, None, None, ["value"])
    assert plot.input_curves[0] is first  # reused, not rebuilt
    assert not plot.input_curves[1].isVisible()
    assert not plot.target_curves[0].isVisible()
    assert [label.text for _, label in plot.input_legend.items] == ["value"]


def test_sequence_plot_dense_targets_and_classes(qtbot):
    plot = SequencePlot()
    qtbot.addWidget(plot)
    steps = 200
    probs = np.random.default_rng(0).dirichlet(np.ones(3), steps)
    plot.set_data(np.zeros((steps, 1)), probs, probs, None, None)
    assert len(plot.target_curves) == 3 and len(plot.prediction_curves) == 3
    assert plot.target_curves[0].opts["symbol"] is None
    assert [label.text for _, label in plot.output_legend.items][:2] == ["target 0", "target 1"]
    assert [label.text for _, label in plot.input_legend.items] == ["x0"]


def test_sequence_plot_rejects_mismatched_lengths(qtbot):
    plot = SequencePlot()
    qtbot.addWidget(plot)
    with pytest.raises(ValueError, match="targets"):
        plot.set_data(np.zeros((10, 1)), np.zeros((9, 1)))
    with pytest.raises(ValueError, match="target_mask"):
        plot.set_data(np.zeros((10, 1)), np.zeros((10, 1)), None, np.ones(3, bool))
    plot.set_data(None)
    assert plot.cursor.count() == 0


def test_sequence_plot_cursor_lines_move_together(qtbot):
    plot = SequencePlot()
    qtbot.addWidget(plot)
    plot.set_data(np.zeros((30, 1)))
    plot.set_cursor(12)
    assert [line.value() for line in plot.cursor.lines] == [12, 12]


# ---------------------------------------------------------------------- UnitPlot


def test_unit_plot_shows_named_series(qtbot):
    plot = UnitPlot()
    qtbot.addWidget(plot)
    t = np.linspace(0, 1, 25)
    plot.set_unit(3, {"hidden": t, "cell": 2 * t, "forget": 1 - t})
    assert plot.unit() == 3
    assert plot.shown_series() == ["hidden", "cell", "forget"]
    np.testing.assert_array_equal(plot.curves["cell"].getData()[1], 2 * t)
    hidden = plot.curves["hidden"]
    plot.set_unit(4, {"hidden": t[::-1], "reset": t})
    assert plot.curves["hidden"] is hidden
    assert not plot.curves["cell"].isVisible()
    assert [label.text for _, label in plot.legend.items] == ["hidden", "reset"]
    plot.set_unit(None)
    assert plot.unit() is None and plot.shown_series() == []


# ---------------------------------------------------------------------- painting


def test_pyqtgraph_plot_actually_paints(qtbot, qt_helpers):
    """Guards the PySide6 pin: 6.12.0 crashes pyqtgraph 0.14 on the first paint."""
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.append_train(np.arange(100), np.exp(-np.arange(100) / 20))
    qt_helpers.settle(qtbot, plot, (400, 300))
    image = plot.grab().toImage()
    assert not image.isNull()
    assert (image.width(), image.height()) == (400, 300)
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint32, image.width() * image.height())
    assert len(np.unique(pixels)) > 3  # axes, text and the curve, not one flat colour


# ------------------------------------------------------------------------ ranges
# The plots set their ranges from code (pyqtgraph's auto-range repaints every view twice per
# frame and rebuilds the axes whenever the data wobble).


def _range(plot_item):
    return [list(r) for r in plot_item.vb.viewRange()]


def _holds(r, lo, hi):
    return r[0] <= lo and hi <= r[1]


def test_time_plots_show_all_steps_without_auto_range(qtbot):
    gradient, unit, sequence = GradientFlowPlot(), UnitPlot(), SequencePlot()
    for w in (gradient, unit, sequence):
        qtbot.addWidget(w)
    steps = 40
    gradient.set_data(np.linspace(1e-4, 1e-1, steps), np.full(steps, 1e-3))
    unit.set_unit(0, {"hidden": np.linspace(-0.5, 0.8, steps)})
    sequence.set_data(np.linspace(0, 2, steps), np.zeros((steps, 1)), np.ones((steps, 1)))
    items = [gradient.plot_item, unit.plot_item, sequence.input_plot, sequence.output_plot]
    for item in items:
        assert item.vb.autoRangeEnabled() == [False, False]
        x = _range(item)[0]
        assert _holds(x, 0, steps - 1) and x[0] > -3 and x[1] < steps + 2
    assert _holds(_range(gradient.plot_item)[1], -4, -1)  # log10 of the norms, whole decades
    assert _holds(_range(unit.plot_item)[1], -0.5, 0.8)
    assert _holds(_range(sequence.input_plot)[1], 0, 2)
    assert _holds(_range(sequence.output_plot)[1], 0, 1)
    sequence.set_data(np.zeros((60, 1)))
    assert _holds(_range(sequence.input_plot)[0], 0, 59)  # a new length moves the time axis


def test_y_range_keeps_still_for_wobbles_and_follows_real_changes(qtbot):
    plot = UnitPlot()
    qtbot.addWidget(plot)
    t = np.linspace(0, 6, 50)
    plot.set_unit(1, {"hidden": np.sin(t)})
    before = _range(plot.plot_item)
    plot.set_unit(1, {"hidden": 0.97 * np.sin(t + 0.1)})
    assert _range(plot.plot_item) == before  # no axis rebuild for a frame-to-frame wobble
    plot.set_unit(1, {"hidden": 3 * np.sin(t)})
    assert _holds(_range(plot.plot_item)[1], -3, 3)
    plot.set_unit(1, {"hidden": 0.01 * np.sin(t)})
    y = _range(plot.plot_item)[1]
    assert _holds(y, -0.01, 0.01) and y[1] - y[0] < 0.1  # shrinks once the data fill too little
    gappy = np.where(t > 3, np.nan, np.sin(t))  # gaps do not break it
    plot.set_unit(1, {"hidden": gappy})
    assert _holds(_range(plot.plot_item)[1], np.nanmin(gappy), np.nanmax(gappy))


def test_user_zoom_stays_until_the_auto_button(qtbot):
    plot = UnitPlot()
    qtbot.addWidget(plot)
    plot.set_unit(0, {"hidden": np.linspace(0, 1, 30)})
    vb = plot.plot_item.vb
    vb.setRange(xRange=(5, 10), yRange=(0.2, 0.3), padding=0)
    vb.sigRangeChangedManually.emit([True, True])  # what a wheel zoom or a pan reports
    zoomed = _range(plot.plot_item)
    plot.set_unit(0, {"hidden": np.linspace(-5, 5, 80)})
    assert _range(plot.plot_item) == zoomed
    auto = plot.plot_item.autoBtn
    auto.clicked.emit(auto)
    assert vb.autoRangeEnabled() == [False, False]
    x, y = _range(plot.plot_item)
    assert _holds(x, 0, 79) and _holds(y, -5, 5)


def test_auto_button_shows_only_once_the_user_took_a_range(qtbot):
    plot = GradientFlowPlot()
    qtbot.addWidget(plot)
    plot.set_data(np.linspace(1e-3, 1, 20))
    item = plot.plot_item
    item.mouseHovering = True  # as a hover event sets it
    item.updateButtons()
    assert not item.autoBtn.isVisible()  # the ranges follow the data: nothing to restore
    item.vb.sigRangeChangedManually.emit([True, False])
    assert item.autoBtn.isVisible()
    item.autoBtn.clicked.emit(item.autoBtn)
    assert not item.autoBtn.isVisible()


def test_log_scale_from_a_time_plot_menu(qtbot, qt_helpers):
    plot = UnitPlot()
    qtbot.addWidget(plot)
    values = np.linspace(-1, 1, 30)
    plot.set_unit(0, {"hidden": values})
    plot.plot_item.ctrl.logYCheck.setChecked(True)
    vb = plot.plot_item.vb
    assert vb.autoRangeEnabled()[1] and not vb.autoRangeEnabled()[0]  # y: pyqtgraph's log fit
    qt_helpers.settle(qtbot, plot, (400, 300))
    assert not plot.grab().toImage().isNull()  # log10 of the negatives: gaps, no garbage
    plot.set_unit(0, {"hidden": 2 * values})
    plot.plot_item.ctrl.logYCheck.setChecked(False)
    assert vb.autoRangeEnabled() == [False, False]
    assert _holds(_range(plot.plot_item)[1], -2, 2)


def test_loss_plot_ranges_grow_in_steps(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.set_baseline(0.5, "baseline")
    plot.append_train(np.arange(100), np.linspace(0.6, 0.2, 100))
    assert plot.plot_item.vb.autoRangeEnabled() == [False, False]
    x, y = _range(plot.plot_item)
    assert _holds(x, 0, 99) and x[1] >= 140  # room to grow into
    assert _holds(y, 0.2, 0.6)
    plot.append_train(np.arange(100, 120), np.full(20, 0.25))
    assert _range(plot.plot_item) == [x, y]  # new losses inside the ranges: nothing moves
    plot.append_train(np.arange(120, 400), np.linspace(0.25, 0.05, 280))
    x2, y2 = _range(plot.plot_item)
    assert _holds(x2, 0, 399) and _holds(y2, 0.05, 0.6)
    plot.append_test(400, 0.9)
    assert _holds(_range(plot.plot_item)[1], 0.05, 0.9)
    plot.set_log_y(True)
    assert plot.plot_item.vb.autoRangeEnabled() == [False, False]
    x3, y3 = _range(plot.plot_item)
    assert x3 == x2  # the log toggle refits y only
    assert _holds(y3, math.log10(0.05), math.log10(0.9))
    plot.set_log_y(False)
    assert _holds(_range(plot.plot_item)[1], 0.05, 0.9)
    plot.clear()
    plot.append_train(np.arange(10), np.full(10, 2.0))
    x, y = _range(plot.plot_item)
    assert x[1] < 100 and _holds(y, 0.5, 2.0)  # a new run starts from a fresh range


def test_loss_plot_log_scale_from_its_own_menu_and_with_zero_losses(qtbot, qt_helpers):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.set_baseline(0.3)
    plot.append_train(np.arange(50), np.r_[np.linspace(1, 0.01, 49), 0.0])
    plot.plot_item.ctrl.logYCheck.setChecked(True)  # the plot's context menu
    assert plot.is_log_y()
    assert plot.baseline_line.value() == pytest.approx(math.log10(0.3))
    assert _holds(_range(plot.plot_item)[1], -2, 0)
    qt_helpers.settle(qtbot, plot, (400, 300))
    assert not plot.grab().toImage().isNull()


def test_line_plots_put_no_scale_factor_in_their_rotated_labels(qtbot):
    loss, gradient, unit, sequence = LossPlot(), GradientFlowPlot(), UnitPlot(), SequencePlot()
    for w in (loss, gradient, unit, sequence):
        qtbot.addWidget(w)
    tiny = 1e-3 * np.linspace(1, 2, 30)
    loss.append_train(np.arange(30), tiny)
    gradient.set_log_y(False)
    gradient.set_data(tiny, tiny)
    unit.set_unit(0, {"hidden": tiny})
    sequence.set_data(tiny, tiny[:, None], tiny[:, None])
    items = [loss.plot_item, gradient.plot_item, unit.plot_item]
    for item in [*items, sequence.input_plot, sequence.output_plot]:
        assert "(x" not in item.getAxis("left").labelString()


def test_sequence_plot_leaves_unchanged_curves_alone(qtbot):
    plot = SequencePlot()
    qtbot.addWidget(plot)
    steps = 30
    inputs = np.random.default_rng(1).random((steps, 2))
    targets = np.full((steps, 1), 0.5)
    mask = np.zeros(steps, dtype=bool)
    mask[-1] = True
    plot.set_data(inputs, targets, np.zeros((steps, 1)), mask)
    changed = []
    for curve in plot.input_curves + plot.target_curves + plot.prediction_curves:
        curve.sigPlotChanged.connect(changed.append)
    plot.set_data(inputs.copy(), targets.copy(), np.ones((steps, 1)), mask)
    assert changed == [plot.prediction_curves[0]]  # the probe inputs and targets stay put
    np.testing.assert_array_equal(plot.prediction_curves[0].getData()[1], np.ones(steps))
    inputs[3, 1] = 7.0
    plot.set_data(inputs, targets, np.ones((steps, 1)), mask)
    assert changed[-1] is plot.input_curves[1]
    assert plot.input_curves[1].getData()[1][3] == 7.0
    assert _holds(_range(plot.input_plot)[1], 0, 7)
