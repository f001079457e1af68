import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from widgets.heatmap_view import HEATMAP_STYLES, HeatmapView


@pytest.fixture
def view(qtbot, qt_helpers):
    levels, cmap = HEATMAP_STYLES["state"]
    v = HeatmapView("hidden", levels, cmap)
    qtbot.addWidget(v)
    v.set_data(np.linspace(-1, 1, 8 * 20).reshape(8, 20))
    qt_helpers.settle(qtbot, v)
    return v


def test_set_data_updates_the_same_item_in_place(view):
    item = view.image_item
    data = np.random.default_rng(1).uniform(-1, 1, (8, 20))
    view.set_data(data)
    assert view.image_item is item
    np.testing.assert_array_equal(item.image, data)
    view.set_data(np.zeros((5, 30)))
    assert view.image_item is item
    assert item.image.shape == (5, 30)
    assert view.cursor.count() == 30


def test_levels_are_fixed_whatever_the_data(view):
    for data in (
        np.full((8, 20), 50.0),
        np.full((8, 20), -0.01),
        np.linspace(-9, 9, 160).reshape(8, 20),
    ):
        view.set_data(data)
        np.testing.assert_array_equal(view.image_item.levels, [-1.0, 1.0])
        assert view.color_bar.levels() == (-1.0, 1.0)
    assert view.levels() == (-1.0, 1.0)


def test_gate_style_uses_zero_to_one():
    levels, cmap = HEATMAP_STYLES["gate"]
    assert levels == (0.0, 1.0) and cmap == "viridis"


def test_bad_levels_and_shapes_raise(qtbot, view):
    with pytest.raises(ValueError, match="levels"):
        HeatmapView("x", (1.0, 1.0))
    with pytest.raises(ValueError, match="units, time"):
        view.set_data(np.zeros(5))


def test_nan_and_empty_data_are_shown_blank(qtbot, view):
    data = np.random.default_rng(2).uniform(-1, 1, (8, 20))
    data[3, 4] = np.nan
    data[0, 0] = np.inf
    view.set_data(data)
    assert np.isnan(view.image_item.image[3, 4])
    assert view.image_item.image[0, 0] == 1.0  # inf saturates at the top level
    assert np.isinf(view.data()[0, 0])  # the read-out keeps the real value
    view.grab()
    view.set_data(np.full((4, 4), np.nan))
    view.grab()
    for empty in (None, np.zeros((0, 10)), np.zeros((3, 0))):
        view.set_data(empty)
        assert view.image_item.image is None
        assert view.data() is None
        view.grab()
    assert not view.cursor_line.isVisible()


def test_set_cursor_moves_line_without_emitting(qtbot, view):
    with qtbot.assertNotEmitted(view.cursor_moved):
        view.set_cursor(7)
    assert view.cursor_line.value() == 7
    view.set_cursor(500)
    assert view.cursor_value() == 19  # clamped to the last step


def test_dragging_the_cursor_emits_the_step(qtbot, qt_helpers, view):
    view.set_cursor(2)
    start = qt_helpers.view_point(view, view.scene_pos_of(4, 2))
    end = qt_helpers.view_point(view, view.scene_pos_of(4, 11))
    seen = []
    view.cursor_moved.connect(seen.append)
    with qtbot.waitSignal(view.cursor_moved):
        qt_helpers.mouse_drag(view, start, end)
    assert seen[-1] == 11
    assert seen == sorted(set(seen))  # one emission per new step, in drag order
    assert view.cursor_value() == 11
    assert view.cursor_line.value() == 11  # snapped to an integer step


def test_hover_reports_unit_step_and_value(qtbot, qt_helpers, view):
    data = np.arange(8 * 20, dtype=float).reshape(8, 20) / 200
    view.set_data(data)
    scene_pos = view.scene_pos_of(5, 13)
    assert view.cell_at(scene_pos) == (5, 13)
    with qtbot.waitSignal(view.hovered) as blocker:
        qt_helpers.mouse_move(view, qt_helpers.view_point(view, scene_pos))
    unit, step, value = blocker.args
    assert (unit, step) == (5, 13)
    assert value == pytest.approx(data[5, 13])
    assert "unit 5" in view.info_label.text and "step 13" in view.info_label.text


def test_hover_over_nan_reports_nan(qtbot, qt_helpers, view):
    data = np.zeros((8, 20))
    data[2, 3] = np.nan
    view.set_data(data)
    with qtbot.waitSignal(view.hovered) as blocker:
        qt_helpers.mouse_move(view, qt_helpers.view_point(view, view.scene_pos_of(2, 3)))
    assert np.isnan(blocker.args[2])


def test_click_emits_the_unit(qtbot, qt_helpers, view):
    with qtbot.waitSignal(view.unit_clicked) as blocker:
        qt_helpers.mouse_click(view, qt_helpers.view_point(view, view.scene_pos_of(6, 9)))
    assert blocker.args == [6]


def test_click_off_the_image_emits_nothing(qtbot, qt_helpers, view):
    with qtbot.assertNotEmitted(view.unit_clicked):
        qt_helpers.mouse_click(view, QtCore.QPoint(2, 2))


def test_highlight_unit_marks_one_row(view):
    view.highlight_unit(3)
    assert view.highlight_item.isVisible()
    assert view.highlight_item.getRegion() == (2.5, 3.5)
    assert view.highlighted_unit() == 3
    view.highlight_unit(None)
    assert not view.highlight_item.isVisible()


def test_title_tooltip_holds_the_text_given(view):
    view.set_title_tooltip("<b>h_t = o_t ⊙ tanh(c_t)</b>")
    assert view.title_tooltip() == "<b>h_t = o_t ⊙ tanh(c_t)</b>"
    assert view.plot_item.titleLabel.toolTip() == view.title_tooltip()


def shift_drag(view, start: QtCore.QPoint, end: QtCore.QPoint) -> None:
    """Press, move and release the left button with Shift held, as a user selecting."""
    left, shift = QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.ShiftModifier
    viewport = view.viewport()

    def send(kind, point, button, buttons):
        event = QtGui.QMouseEvent(
            kind,
            QtCore.QPointF(point),
            QtCore.QPointF(viewport.mapToGlobal(point)),
            button,
            buttons,
            shift,
        )
        QtWidgets.QApplication.sendEvent(viewport, event)

    send(QtCore.QEvent.Type.MouseButtonPress, start, left, left)
    for f in (0.25, 0.5, 0.75, 1.0):
        point = QtCore.QPoint(
            round(start.x() + f * (end.x() - start.x())),
            round(start.y() + f * (end.y() - start.y())),
        )
        send(QtCore.QEvent.Type.MouseMove, point, QtCore.Qt.MouseButton.NoButton, left)
    send(QtCore.QEvent.Type.MouseButtonRelease, end, left, QtCore.Qt.MouseButton.NoButton)


def test_shift_drag_selects_a_units_by_steps_region(qtbot, qt_helpers, view):
    start = qt_helpers.view_point(view, view.scene_pos_of(6, 15))
    end = qt_helpers.view_point(view, view.scene_pos_of(2, 5))  # dragged up and to the left
    with qtbot.assertNotEmitted(view.cursor_moved), qtbot.waitSignal(view.region_selected) as b:
        shift_drag(view, start, end)
    assert b.args == [2, 6, 5, 15]
    assert view.region() == (2, 6, 5, 15)
    assert view.region_item.isVisible()
    rect = view.region_item.rect()
    assert (rect.left(), rect.top(), rect.width(), rect.height()) == (4.5, 1.5, 11, 5)
    view.show_region(None)
    assert not view.region_item.isVisible() and view.region() is None


def test_a_plain_drag_selects_only_in_selection_mode(qtbot, qt_helpers, view):
    start = qt_helpers.view_point(view, view.scene_pos_of(1, 4))
    end = qt_helpers.view_point(view, view.scene_pos_of(3, 9))
    with qtbot.assertNotEmitted(view.region_selected):
        qt_helpers.mouse_drag(view, start, end)
    view.set_selection_mode(True)
    assert view.selection_mode()
    with qtbot.waitSignal(view.region_selected) as blocker:
        qt_helpers.mouse_drag(view, start, end)
    assert blocker.args == [1, 3, 4, 9]


def test_a_drag_past_the_edge_selects_up_to_the_last_cell(qtbot, qt_helpers, view):
    view.set_selection_mode(True)
    start = qt_helpers.view_point(view, view.scene_pos_of(5, 12))
    end = qt_helpers.view_point(view, view.scene_pos_of(12, 40))  # below and right of the image
    with qtbot.waitSignal(view.region_selected) as blocker:
        qt_helpers.mouse_drag(view, start, end)
    assert blocker.args == [5, 7, 12, 19]
