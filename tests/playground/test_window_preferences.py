"""What the window remembers between sessions (issue 9 point 7): the window's geometry and
docks, the log-scale toggle, recent sequence files and recent experiments, all in the
preferences' QSettings (here a throw-away ini file), read back by the next window."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore

import widgets  # noqa: F401 - row-major images, as in the app
from playground import experiment_files as ef
from playground.experiment import Experiment
from playground.main_window import MainWindow
from playground.preferences import Preferences
from playground.run_spec import RunSpec, merged_settings

ROOT = Path(__file__).resolve().parents[2]
SETUP = {"task": "adding", "length": 12, "engine": "lstm", "hidden": 6, "batch": 8}


def preferences(ini: Path, data: Path) -> Preferences:
    return Preferences(QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat), data)


def test_the_next_window_brings_back_layout_toggles_and_recent_files(qtbot, tmp_path):
    ini, data = tmp_path / "settings.ini", tmp_path / "data"
    run = Experiment(RunSpec(settings=merged_settings(SETUP))).save(tmp_path / "run")
    sequence = ROOT / "resources" / "examples" / "two_channels.csv"

    first = MainWindow(SETUP, preferences=preferences(ini, data))
    qtbot.addWidget(first)
    first.show()
    # The offscreen screen (800 x 800) is smaller than the window's minimum size, so Qt fits a
    # restored size to it: the geometry compared here is the maximized state and the bytes.
    first.showMaximized()
    qtbot.waitUntil(first.isMaximized)
    assert first.gate_lab.isHidden()
    first.gate_lab.show()
    first.menus.log_loss_action.setChecked(True)
    assert first.open_sequence_file(str(sequence))  # shows the sequence dock too
    assert ef.open_experiment(first, run)
    geometry = first.saveGeometry()
    first.close()
    assert first.controller.wait_stopped(timeout=10)
    stored = QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat)
    assert stored.value("recent_sequence_files") == [str(sequence)]
    assert stored.value("recent_experiments") == [str(run)]

    # A second window on a fresh QSettings of the same file: everything comes from the file.
    second = MainWindow(preferences=preferences(ini, data))
    qtbot.addWidget(second)
    second.show()
    assert second.preferences.settings.value("geometry") == geometry
    assert second.isMaximized()
    assert not second.gate_lab.isHidden()
    assert not second.sequence_dock.isHidden()
    assert second.menus.log_loss_action.isChecked()
    assert second.dashboard.loss_plot.plot_item.ctrl.logYCheck.isChecked()
    assert second.recent_files.paths() == [str(sequence)]
    assert [a.text() for a in second.menus.recent_menu.actions()] == [str(sequence)]
    assert second.recent_experiments.paths() == [str(run)]
    entries = second.menus.recent_experiments_menu.actions()
    assert [a.text() for a in entries] == [str(run)]
    assert second.menus.recent_experiments_menu.isEnabled()
    with qtbot.waitSignal(second.experiment_opened, timeout=10_000):
        entries[0].trigger()  # the menu entry opens the experiment
    assert second.experiment.path == run
    second.close()
    assert second.controller.wait_stopped(timeout=10)
