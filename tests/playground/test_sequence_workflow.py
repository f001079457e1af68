"""Your own sequences in the window: open files (menu, drop), keep what you had on a bad file,
train on a drawn sequence, and show a sequence as the probe of a built-in task."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

import widgets  # noqa: F401
from playground.main_window import MainWindow
from playground.resources_path import examples_dir

TIMEOUT_MS = 60_000


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # recent files stay here
    win = MainWindow({"length": 20, "hidden": 8})
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.mark.parametrize("name", ["bump_delay.csv", "two_channels.csv", "sine.npy", "poem.txt"])
def test_every_shipped_example_opens(window, name):
    assert window.open_sequence_file(str(examples_dir() / name))
    assert window.sequence_dock.isVisible()
    shown = window.sequence_dock.canvas.sequence()
    assert len(shown) >= 2
    assert str(examples_dir() / name) in window.recent_files.paths()[0]
    if name == "poem.txt":
        assert shown.ndim == 1 and shown.dtype == np.int64


def test_a_bad_file_is_reported_and_changes_nothing(window, tmp_path):
    window.sequence_dock.canvas.apply_preset("sine")
    before = window.sequence_dock.canvas.sequence().copy()
    bad = tmp_path / "broken.csv"
    bad.write_text("a,b\n1,2\n3\n")
    assert not window.open_sequence_file(str(bad))
    assert "broken.csv" in window.error_banner.text()
    assert "line 3" in window.error_banner.text()
    np.testing.assert_array_equal(window.sequence_dock.canvas.sequence(), before)


def test_dropping_a_file_opens_it(qtbot, window):
    path = examples_dir() / "sine.npy"
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
    pos = QtCore.QPointF(window.rect().center())
    drop = QtGui.QDropEvent(
        pos,
        QtCore.Qt.DropAction.CopyAction,
        mime,
        QtCore.Qt.MouseButton.LeftButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(drop)
    np.testing.assert_allclose(
        window.sequence_dock.canvas.sequence()[:, 0],
        np.load(path).reshape(len(np.load(path)), -1)[:, 0],
    )


def test_training_on_a_drawn_sequence_next_value(qtbot, window):
    dock = window.sequence_dock
    dock.canvas.set_length(60)
    dock.canvas.apply_preset("sine")
    drawn = dock.canvas.sequence().copy()
    dock.use_check.setChecked(True)
    dock.objective_combo.setCurrentIndex(dock.objective_combo.findData("next"))
    window.train()
    qtbot.waitUntil(
        lambda: window.current_frame() is not None and window.current_frame()["step"] >= 20,
        timeout=TIMEOUT_MS,
    )
    frame = window.current_frame()
    window_len = frame["inputs"].shape[0]
    np.testing.assert_allclose(frame["inputs"][:, 0], drawn[:window_len, 0], atol=1e-6)
    np.testing.assert_allclose(frame["targets"][:, 0], drawn[1 : window_len + 1, 0], atol=1e-6)
    steps, losses = window.dashboard.loss_plot.train_data()
    assert len(losses) > 5 and np.all(np.isfinite(losses))
    assert frame["grad_h"] is not None


def test_a_drawn_sequence_as_the_probe_of_a_builtin_task(qtbot, window):
    window.setup_panel.set_settings({"task": "waveform", "length": 30})
    dock = window.sequence_dock
    dock.canvas.set_length(40)
    dock.canvas.apply_preset("square")
    drawn = dock.canvas.sequence().copy()
    dock.probe_check.setChecked(True)
    window.train()
    qtbot.waitUntil(lambda: window.current_frame() is not None, timeout=TIMEOUT_MS)
    np.testing.assert_allclose(window.current_frame()["inputs"][:, 0], drawn[:-1, 0], atol=1e-6)
