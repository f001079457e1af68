import subprocess
import sys

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from widgets.dashboard import ENGINE_LAYOUTS, Dashboard
from widgets.heatmap_view import HeatmapView


@pytest.fixture
def dashboard(qtbot):
    d = Dashboard()
    qtbot.addWidget(d)
    return d


@pytest.mark.parametrize(
    ("engine", "heatmaps"),
    [
        ("lstm", ["hidden", "cell", "input", "forget", "candidate", "output"]),
        ("gru", ["hidden", "reset", "update", "candidate"]),
        ("rnn", ["hidden", "preactivation"]),
    ],
)
def test_configure_per_engine(qtbot, qt_helpers, dashboard, engine, heatmaps):
    qt_helpers.settle(qtbot, dashboard, (1200, 900))
    dashboard.configure(*ENGINE_LAYOUTS[engine])
    assert list(dashboard.heatmaps()) == heatmaps
    for name, view in dashboard.heatmaps().items():
        assert view.isVisible(), name
    hidden = [
        v for v in dashboard.findChildren(HeatmapView) if v not in dashboard.heatmaps().values()
    ]
    assert all(not v.isVisible() for v in hidden)
    levels = {name: view.levels() for name, view in dashboard.heatmaps().items()}
    assert levels["hidden"] == (-1.0, 1.0)
    expected = {
        "input": (0.0, 1.0),
        "forget": (0.0, 1.0),
        "output": (0.0, 1.0),
        "reset": (0.0, 1.0),
        "update": (0.0, 1.0),
        "candidate": (-1.0, 1.0),
        "preactivation": (-3.0, 3.0),
    }
    for name in ENGINE_LAYOUTS[engine][0]:
        assert levels[name] == expected[name]
    assert set(dashboard.views()) == {"sequence", "loss", "gradient", "unit", *heatmaps}


def test_switching_engines_reuses_gate_views(dashboard):
    dashboard.configure(*ENGINE_LAYOUTS["lstm"])
    candidate = dashboard.gate_views["candidate"]
    dashboard.configure(*ENGINE_LAYOUTS["gru"])
    dashboard.configure(*ENGINE_LAYOUTS["lstm"])
    assert dashboard.gate_views["candidate"] is candidate


@pytest.mark.parametrize("engine", ["lstm", "gru", "rnn"])
def test_show_frame_fills_every_view(qt_helpers, dashboard, engine):
    dashboard.configure(*ENGINE_LAYOUTS[engine])
    frame = qt_helpers.make_frame(engine, steps=20, units=6, channels=2)
    items = {name: view.image_item for name, view in dashboard.heatmaps().items()}
    dashboard.show_frame(frame)
    views = dashboard.views()
    np.testing.assert_array_equal(views["hidden"].image_item.image, frame["hidden"])
    if frame["cell"] is not None:
        np.testing.assert_array_equal(views["cell"].image_item.image, frame["cell"])
    for name, gate in frame["gates"].items():
        np.testing.assert_array_equal(views[name].image_item.image, gate)
    assert {name: view.image_item for name, view in dashboard.heatmaps().items()} == items
    seq = views["sequence"]
    np.testing.assert_array_equal(seq.input_curves[1].getData()[1], frame["inputs"][:, 1])
    np.testing.assert_array_equal(seq.prediction_curves[0].getData()[1], frame["prediction"][:, 0])
    grad_x, grad_h = views["gradient"].grad_x_curve, views["gradient"].grad_h_curve
    np.testing.assert_allclose(grad_h.getOriginalDataset()[1], frame["grad_h"])
    np.testing.assert_allclose(grad_x.getOriginalDataset()[1], frame["grad_x"])
    assert "123" in dashboard.step_label.text()
    assert dashboard.frame() is frame


def test_show_frame_reconfigures_for_another_engine(qt_helpers, dashboard):
    dashboard.show_frame(qt_helpers.make_frame("gru"))
    assert dashboard.gate_names() == ["reset", "update", "candidate"]
    assert not dashboard.has_cell()
    assert "cell" not in dashboard.views()


def test_frame_with_missing_parts(qt_helpers, dashboard):
    frame = qt_helpers.make_frame("rnn")
    frame.update(targets=None, target_mask=None, grad_h=None, grad_x=None)
    frame["hidden"][0, 0] = np.nan
    dashboard.show_frame(frame)
    assert dashboard.gradient_plot.grad_h_curve.getOriginalDataset()[0] is None


def test_cursor_is_shared_across_views(qtbot, qt_helpers, dashboard):
    dashboard.show_frame(qt_helpers.make_frame("lstm", steps=30))
    qt_helpers.settle(qtbot, dashboard, (1200, 900))
    with qtbot.assertNotEmitted(dashboard.cursor_moved):
        dashboard.set_cursor(4)
    assert _cursor_values(dashboard) == {4}

    forget = dashboard.views()["forget"]
    start = qt_helpers.view_point(forget, forget.scene_pos_of(2, 4))
    end = qt_helpers.view_point(forget, forget.scene_pos_of(2, 17))
    with qtbot.waitSignal(dashboard.cursor_moved):
        qt_helpers.mouse_drag(forget, start, end)
    assert dashboard.cursor() == 17
    assert _cursor_values(dashboard) == {17}

    dashboard.set_cursor(1000)
    assert dashboard.cursor() == 29


def _cursor_values(dashboard):
    values = set()
    for name, view in dashboard.views().items():
        if name != "loss":
            values.add(view.cursor_value())
    return values


def test_arrow_keys_move_the_cursor(qtbot, qt_helpers, dashboard):
    dashboard.show_frame(qt_helpers.make_frame("gru", steps=30))
    dashboard.set_cursor(10)
    dashboard.setFocus()
    with qtbot.waitSignal(dashboard.cursor_moved) as blocker:
        qtbot.keyClick(dashboard, QtCore.Qt.Key.Key_Right)
    assert blocker.args == [11]
    qtbot.keyClick(dashboard, QtCore.Qt.Key.Key_Left)
    qtbot.keyClick(dashboard, QtCore.Qt.Key.Key_Left)
    assert dashboard.cursor() == 9
    qtbot.keyClick(dashboard, QtCore.Qt.Key.Key_Right, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert dashboard.cursor() == 19
    qtbot.keyClick(dashboard, QtCore.Qt.Key.Key_End)
    assert dashboard.cursor() == 29
    with qtbot.assertNotEmitted(dashboard.cursor_moved):
        qtbot.keyClick(dashboard, QtCore.Qt.Key.Key_Right)  # already at the end
    qtbot.keyClick(dashboard, QtCore.Qt.Key.Key_Home)
    assert dashboard.cursor() == 0
    assert _cursor_values(dashboard) == {0}


def test_clicking_a_unit_fills_the_unit_plot(qtbot, qt_helpers, dashboard):
    frame = qt_helpers.make_frame("lstm", steps=20, units=6)
    dashboard.show_frame(frame)
    qt_helpers.settle(qtbot, dashboard, (1200, 900))
    cell = dashboard.views()["cell"]
    with qtbot.waitSignal(dashboard.unit_selected) as blocker:
        qt_helpers.mouse_click(cell, qt_helpers.view_point(cell, cell.scene_pos_of(4, 7)))
    assert blocker.args == [4]
    unit_plot = dashboard.unit_plot
    assert unit_plot.unit() == 4
    assert unit_plot.shown_series() == ["hidden", "cell", "input", "forget", "candidate", "output"]
    np.testing.assert_array_equal(unit_plot.curves["hidden"].getData()[1], frame["hidden"][4])
    np.testing.assert_array_equal(
        unit_plot.curves["forget"].getData()[1], frame["gates"]["forget"][4]
    )
    assert all(view.highlighted_unit() == 4 for view in dashboard.heatmaps().values())

    newer = qt_helpers.make_frame("lstm", steps=20, units=6, seed=9)
    dashboard.show_frame(newer)  # the selected unit follows new frames
    np.testing.assert_array_equal(unit_plot.curves["hidden"].getData()[1], newer["hidden"][4])
    dashboard.show_frame(qt_helpers.make_frame("lstm", units=3))  # unit 4 no longer exists
    assert unit_plot.unit() is None


def test_hover_is_reported_with_the_view_name(qtbot, qt_helpers, dashboard):
    frame = qt_helpers.make_frame("rnn", steps=20, units=6)
    dashboard.show_frame(frame)
    qt_helpers.settle(qtbot, dashboard, (1200, 900))
    view = dashboard.views()["preactivation"]
    with qtbot.waitSignal(dashboard.cell_hovered) as blocker:
        qt_helpers.mouse_move(view, qt_helpers.view_point(view, view.scene_pos_of(1, 2)))
    name, unit, step, value = blocker.args
    assert (name, unit, step) == ("preactivation", 1, 2)
    assert value == pytest.approx(frame["gates"]["preactivation"][1, 2])


def test_dashboard_paints(qtbot, qt_helpers, dashboard):
    dashboard.show_frame(qt_helpers.make_frame("lstm"))
    dashboard.loss_plot.append_train(np.arange(50), np.linspace(1, 0.1, 50))
    qt_helpers.settle(qtbot, dashboard, (1200, 900))
    image = dashboard.grab().toImage()
    assert not image.isNull() and image.width() == 1200


class _PaintCounter(QtCore.QObject):
    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.Paint:
            name = obj.objectName()
            self.counts[name] = self.counts.get(name, 0) + 1
        return False


def test_a_frame_paints_every_view_once(qtbot, qt_helpers, dashboard):
    """Ranges changing with the data must not make a view paint twice (the speed budget)."""
    dashboard.show_frame(qt_helpers.make_frame("lstm", steps=50, units=8))
    dashboard.loss_plot.append_train(np.arange(8), np.linspace(1.0, 0.9, 8))
    dashboard.select_unit(2)
    qt_helpers.settle(qtbot, dashboard, (1200, 800))
    counter = _PaintCounter()
    for name, view in dashboard.views().items():
        view.viewport().setObjectName(name)
        view.viewport().installEventFilter(counter)
    for i in range(1, 6):
        frame = qt_helpers.make_frame("lstm", steps=50, units=8, seed=i)
        # Every range has to grow (by too little to widen the axes' tick labels, which lays
        # the plot out anew: that is pyqtgraph's business, and rare).
        for key in ("inputs", "targets", "prediction", "hidden", "grad_h", "grad_x"):
            frame[key] = frame[key] * (1.0 + i)
        counter.counts.clear()
        dashboard.show_frame(frame)
        dashboard.loss_plot.append_train(np.arange(8 * i, 8 * i + 8), np.full(8, 1.0 + i))
        for _ in range(5):
            QtWidgets.QApplication.processEvents()
        assert counter.counts == dict.fromkeys(dashboard.views(), 1), i


def test_widgets_never_import_torch_or_engines():
    code = (
        "import sys, widgets.dashboard, widgets.setup_panel, widgets.transport_bar, "
        "widgets.history_slider; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'engines')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
