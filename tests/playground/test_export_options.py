"""The choices an export asks for: a figure's size and DPI, an animation's size, frame rate
and step range; they reach the exporter as plain values."""

from __future__ import annotations

from PySide6 import QtWidgets

from playground.export_options import AnimationOptionsDialog, ImageOptionsDialog


def test_image_options_default_to_the_view_and_take_a_chosen_size(qtbot):
    dialog = ImageOptionsDialog(None, (640, 300), "png")
    qtbot.addWidget(dialog)
    assert dialog.options().size is None and dialog.options().dpi == 192
    dialog.own_size.setChecked(False)
    dialog.width.setValue(1600)
    dialog.height.setValue(900)
    dialog.dpi.setValue(300)
    options = dialog.options()
    assert options.size == (1600, 900) and options.dpi == 300


def test_svg_asks_no_dpi(qtbot):
    dialog = ImageOptionsDialog(None, (640, 300), "svg")
    qtbot.addWidget(dialog)
    labels = [
        dialog.form.itemAt(i, QtWidgets.QFormLayout.ItemRole.LabelRole)
        for i in range(dialog.form.rowCount())
    ]
    texts = [item.widget().text() for item in labels if item is not None and item.widget()]
    assert "resolution" not in texts


def test_animation_options_cover_the_recorded_steps(qtbot):
    dialog = AnimationOptionsDialog(None, 0, 500)
    qtbot.addWidget(dialog)
    assert dialog.options().steps == (0, 500)
    dialog.first.setValue(400)
    dialog.last.setValue(100)  # typed the wrong way round: still a range
    dialog.fps.setValue(24)
    dialog.width.setValue(640)
    dialog.height.setValue(400)
    options = dialog.options()
    assert options.steps == (100, 400) and options.fps == 24 and options.size == (640, 400)
