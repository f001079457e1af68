import math

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from widgets.line_views import LOG_FLOOR, GradientFlowPlot, LossPlot, SeriesBuffer, UnitPlot
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
    _, y = _original(plot.target_curves[0])
    assert np.isnan(y[:-1]).all() and y[-1] == 0.7  # only scored steps
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
