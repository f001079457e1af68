"""Figures of single views for slides and papers: size, DPI, title, axis labels, colour bar,
SVG text, atomic writes, and the context-menu entries."""

from __future__ import annotations

import errno
import os
import xml.etree.ElementTree as ET

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from widgets import export_files, figure_export
from widgets.dashboard import Dashboard
from widgets.figure_export import (
    ExportError,
    FigureInfo,
    add_export_actions,
    build_figure,
    export_png,
    export_svg,
    export_widget_png,
    figure_image,
)
from widgets.heatmap_view import HeatmapView
from widgets.line_views import GradientFlowPlot
from widgets.loss_plot import LossPlot
from widgets.view_data import view_table

TITLE = FigureInfo("lstm", "adding", 50, 1200).title()
VIRIDIS_TOP = (253, 231, 37)  # viridis at 1.0
CURSOR = (255, 60, 255)


@pytest.fixture
def dashboard(qtbot, qt_helpers):
    board = Dashboard()
    qtbot.addWidget(board)
    board.resize(1200, 800)
    board.show_frame(qt_helpers.make_frame(steps=30, units=8))
    board.loss_plot.append_train(np.arange(50), np.linspace(1.0, 0.1, 50))
    board.loss_plot.set_baseline(0.5, "no memory")
    return board


def _pixels(image: QtGui.QImage) -> np.ndarray:
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, : 3 * width].reshape(height, width, 3).copy()


def _has_colour(pixels: np.ndarray, colour, tolerance: int = 12) -> bool:
    distance = np.abs(pixels.astype(int) - np.asarray(colour)).max(axis=-1)
    return bool((distance <= tolerance).any())


def _svg_texts(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    return [
        "".join(node.itertext()).strip() for node in root.iter("{http://www.w3.org/2000/svg}text")
    ]


def test_title_names_engine_task_length_and_step():
    assert TITLE == "LSTM · adding · length 50 · step 1200"
    two_layers = FigureInfo("gru", "copy", 10, 5, length_label="delay", layer=1, layers=2)
    assert two_layers.title() == "GRU · copy · delay 10 · step 5 · layer 2 of 2"


@pytest.mark.parametrize("name", ["sequence", "hidden", "forget", "loss", "gradient", "unit"])
def test_png_has_the_requested_pixel_size_and_decodes(dashboard, tmp_path, name):
    dashboard.select_unit(2)
    path = export_png(dashboard.views()[name], tmp_path / f"{name}.png", TITLE, size=(640, 360))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QtGui.QImage(str(path))
    assert not image.isNull()
    assert (image.width(), image.height()) == (640, 360)
    assert _pixels(image).std() > 10  # something was drawn, not an empty canvas


def test_dpi_scales_the_picture_and_is_recorded(dashboard, tmp_path):
    view = dashboard.views()["forget"]
    view.resize(400, 300)
    path = export_png(view, tmp_path / "forget.png", TITLE, dpi=192)
    image = QtGui.QImage(str(path))
    assert (image.width(), image.height()) == (800, 600)  # the view's size, twice the pixels
    assert image.dotsPerMeterX() == pytest.approx(192 / 0.0254, abs=1)
    fixed = QtGui.QImage(str(export_png(view, tmp_path / "f.png", size=(500, 400), dpi=300)))
    assert (fixed.width(), fixed.height()) == (500, 400)


def test_heatmap_figure_carries_its_colour_bar(dashboard, tmp_path):
    view = dashboard.gate_views["forget"]
    view.set_data(np.full((8, 30), 0.5))  # teal everywhere: yellow can only be the colour bar
    figure = build_figure(view, TITLE, (600, 400))
    try:
        bars = [item for item in figure.ci.items if isinstance(item, pg.ColorBarItem)]
        assert len(bars) == 1
        assert tuple(bars[0].levels()) == view.levels()
    finally:
        figure.close()
    pixels = _pixels(figure_image(view, TITLE, size=(600, 400)))
    right, left = pixels[:, 480:], pixels[:, :400]
    assert _has_colour(right, VIRIDIS_TOP)
    assert not _has_colour(left, VIRIDIS_TOP)


def test_time_cursor_only_when_asked(dashboard):
    view = dashboard.hidden_view
    dashboard.set_cursor(15)
    assert not _has_colour(_pixels(figure_image(view, size=(600, 400))), CURSOR, 30)
    assert _has_colour(_pixels(figure_image(view, size=(600, 400), cursor=True)), CURSOR, 30)


def test_exporting_leaves_the_view_on_screen_alone(dashboard):
    view = dashboard.loss_plot
    size, items = view.size(), list(view.plot_item.items)
    x_range = view.plot_item.vb.viewRange()
    figure_image(view, TITLE, size=(1600, 900))
    assert view.size() == size
    assert list(view.plot_item.items) == items
    assert view.plot_item.vb.viewRange() == x_range


def test_svg_parses_and_holds_title_and_axis_labels_as_text(dashboard, tmp_path):
    heatmap = export_svg(dashboard.views()["forget"], tmp_path / "forget.svg", TITLE)
    texts = _svg_texts(heatmap.read_bytes())
    for expected in (TITLE, "forget gate", "time step", "unit"):
        assert expected in texts
    loss = _svg_texts(export_svg(dashboard.loss_plot, tmp_path / "loss.svg", TITLE).read_bytes())
    for expected in (TITLE, "training step", "loss", "train"):
        assert expected in loss


def test_log_scale_is_kept_in_the_figure(qtbot):
    plot = GradientFlowPlot()
    qtbot.addWidget(plot)
    plot.set_data(np.logspace(-6, 0, 40), None)
    figure = build_figure(plot, "", (600, 400))
    try:
        copy = next(item for item in figure.ci.items if isinstance(item, pg.PlotItem))
        assert copy.ctrl.logYCheck.isChecked()
        assert copy.vb.viewRange()[1] == pytest.approx(plot.plot_item.vb.viewRange()[1])
    finally:
        figure.close()


def test_whole_dashboard_png_has_a_title_strip(dashboard, tmp_path):
    path = export_widget_png(dashboard, tmp_path / "dashboard.png", TITLE, dpi=192)
    image = QtGui.QImage(str(path))
    strip = figure_export.title_height(dashboard)
    assert (image.width(), image.height()) == (2400, 2 * (800 + strip))


def test_a_failed_write_leaves_no_file_and_names_it(dashboard, tmp_path, monkeypatch):
    target = tmp_path / "forget.png"
    target.write_bytes(b"the old figure")

    def disk_full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_files.os, "replace", disk_full)
    with pytest.raises(ExportError) as caught:
        export_png(dashboard.views()["forget"], target, TITLE, size=(300, 200))
    assert str(target) in str(caught.value) and "disk is full" in str(caught.value)
    assert caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"the old figure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forget.png"]


def test_export_where_no_folder_can_be_gives_a_clear_error(dashboard, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file")
    target = blocker / "figure.svg"
    with pytest.raises(ExportError, match="figure.svg"):
        export_svg(dashboard.views()["hidden"], target, TITLE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_export_into_a_read_only_folder_gives_a_clear_error(dashboard, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="no permission"):
            export_png(dashboard.views()["hidden"], folder / "h.png", size=(200, 200))
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (errno.EACCES, "no permission to write there"),
        (errno.EROFS, "read-only file system"),
        (errno.ENOSPC, "the disk is full"),
    ],
)
def test_a_folder_that_refuses_the_temporary_file_gives_a_clear_error(
    dashboard, tmp_path, monkeypatch, code, reason
):
    """What a read-only folder does for a user who is not root (this test runs as root too):
    the temporary file cannot be made."""
    folder = tmp_path / "locked"
    folder.mkdir()
    real = export_files.tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and os.path.samefile(dir, folder):
            raise PermissionError(code, os.strerror(code))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(export_files.tempfile, "mkstemp", mkstemp)
    for export, name in ((export_png, "h.png"), (export_svg, "h.svg")):
        with pytest.raises(ExportError) as caught:
            export(dashboard.views()["hidden"], folder / name, TITLE, size=(200, 200))
        message = str(caught.value.strerror)
        assert message.startswith(f"cannot write {folder / name}: ") and reason in message
        assert caught.value.errno == code
    with pytest.raises(ExportError, match=f"dashboard.png: .*{reason}"):
        export_widget_png(dashboard, folder / "dashboard.png", TITLE)
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("size", [(0, 100), (100000, 10), (12.5, 40), "big"])
def test_impossible_sizes_are_refused_by_name(dashboard, tmp_path, size):
    with pytest.raises(ValueError, match="size"):
        export_png(dashboard.hidden_view, tmp_path / "x.png", size=size)
    assert list(tmp_path.iterdir()) == []


def test_context_menu_entries_call_back_with_the_format(qtbot):
    chosen = []
    loss = LossPlot()
    qtbot.addWidget(loss)
    actions = add_export_actions(loss, chosen.append)
    assert [a.text() for a in actions] == ["Export PNG…", "Export SVG…", "Export data as CSV…"]
    # pyqtgraph appends the scene's actions to the plot's own right-click menu
    assert loss.scene().contextMenu == actions
    actions[1].trigger()
    assert chosen == ["svg"]


def test_heatmaps_without_a_plot_menu_get_their_own(qtbot, qt_helpers):
    view = HeatmapView("forget gate")
    qtbot.addWidget(view)
    view.set_data(np.random.default_rng(0).random((4, 10)))
    qt_helpers.settle(qtbot, view)
    # nothing to draw (as ``enabled`` says): the entries are there, greyed out
    add_export_actions(view, lambda kind: None, formats=("png", "svg"), enabled=lambda: False)
    point = view.mapFromScene(view.scene_pos_of(1, 5))
    right = QtCore.Qt.MouseButton.RightButton
    for kind, buttons in (
        (QtCore.QEvent.Type.MouseButtonPress, right),
        (QtCore.QEvent.Type.MouseButtonRelease, QtCore.Qt.MouseButton.NoButton),
    ):
        event = QtGui.QMouseEvent(
            kind,
            QtCore.QPointF(point),
            QtCore.QPointF(view.viewport().mapToGlobal(point)),
            right,
            buttons,
            QtCore.Qt.KeyboardModifier.NoModifier,
        )
        QtWidgets.QApplication.sendEvent(view.viewport(), event)
    menu = view._export_menu
    qtbot.waitUntil(menu.isVisible)
    assert [a.text() for a in menu.actions()] == ["Export PNG…", "Export SVG…"]
    assert not any(a.isEnabled() for a in menu.actions())
    menu.hide()


def test_view_data_tables(dashboard):
    frame = dashboard.frame()
    table = view_table(dashboard.views()["forget"])
    units, steps = frame["gates"]["forget"].shape
    assert len(table["value"]) == units * steps
    row = 3 * steps + 7  # unit 3, step 7
    assert (table["unit"][row], table["time_step"][row]) == (3, 7)
    assert table["value"][row] == frame["gates"]["forget"][3, 7]
    gradient = view_table(dashboard.gradient_plot)
    names = set(gradient["series"])
    assert names == {"‖dL/dh_t‖", "‖dL/dx_t‖"}
    grad_h = gradient["y"][gradient["series"] == "‖dL/dh_t‖"]
    np.testing.assert_allclose(grad_h, frame["grad_h"])
    loss = view_table(dashboard.loss_plot)
    np.testing.assert_allclose(loss["y"][loss["series"] == "train"], np.linspace(1.0, 0.1, 50))
