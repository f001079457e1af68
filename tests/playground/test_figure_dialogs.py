"""The window's side of the exports: a view, the trace and the history from the experiment on
screen, behind a progress dialog that cancels; failures become messages, not tracebacks."""

from __future__ import annotations

import csv
import errno
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image
from PySide6 import QtGui, QtWidgets

from engines.config import EngineConfig
from engines.tasks.registry import create_task
from engines.training import Trainer, TrainingConfig
from playground.experiment import Experiment
from playground.figure_dialogs import (
    connect_view_exports,
    export_trace_csv,
    export_view,
    figure_info,
    start_animation,
    view_has_data,
    view_label,
)
from widgets import export_files
from widgets.dashboard import Dashboard


class Window(QtWidgets.QMainWindow):
    """What the figure dialogs use of the main window."""

    def __init__(self, experiment) -> None:
        super().__init__()
        self.dashboard = Dashboard()
        self.setCentralWidget(self.dashboard)
        self.experiment = experiment
        self.errors: list[str] = []

    def show_error(self, message: str) -> None:
        self.errors.append(message)


@pytest.fixture(scope="module")
def experiment():
    task = create_task("delayed_recall", 8)
    trainer = Trainer.create(
        EngineConfig("gru", task.input_size, 5, task.output_size),
        task,
        TrainingConfig(batch_size=8, test_size=8, probe_size=2, seed=0),
    )
    exp = Experiment()
    exp.info = {"task": task.describe(), "engine": trainer.engine.config.to_dict()}
    for _ in range(4):
        frame = trainer.probe()
        exp.frames.append(frame, frame.gradients)
        loss, norm = trainer.train_step()
        exp.metrics.add_train([trainer.step], [loss], [norm])
    return exp


@pytest.fixture
def window(qtbot, experiment):
    win = Window(experiment)
    qtbot.addWidget(win)
    win.resize(1200, 900)
    frame, gradients = experiment.shown_frame()
    from playground.frames import dashboard_frame

    win.dashboard.show_frame(dashboard_frame(frame, 0, 0, None, gradients))
    return win


def test_the_title_uses_the_tasks_own_word_for_its_length(experiment):
    assert figure_info(experiment, 3).title() == "GRU · delayed_recall · delay 8 · step 3"


def test_a_view_as_png_svg_and_csv(window, tmp_path):
    view = window.dashboard.views()["update"]
    assert export_view(window, view, "update", "png", tmp_path / "u.png", size=(600, 400))
    assert QtGui.QImage(str(tmp_path / "u.png")).size().toTuple() == (600, 400)
    assert export_view(window, view, "update", "svg", tmp_path / "u.svg")
    assert b"update gate" in (tmp_path / "u.svg").read_bytes()
    assert export_view(window, view, "update", "csv", tmp_path / "u.csv")
    with open(tmp_path / "u.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == view.data().size
    assert window.errors == []


def _answer_the_dialogs(monkeypatch, target, size=(900, 500)):
    """The size form answered with ``size`` and the file dialog with ``target`` less its
    ending (the export adds it); returns the options the form gave."""
    from playground.export_options import ImageOptionsDialog

    chosen = []

    def accept_size(dialog):
        dialog.own_size.setChecked(False)
        dialog.width.setValue(size[0])
        dialog.height.setValue(size[1])
        chosen.append(dialog.options())
        return QtWidgets.QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImageOptionsDialog, "exec", accept_size)
    monkeypatch.setattr(
        QtWidgets.QFileDialog,
        "getSaveFileName",
        lambda *a, **k: (str(target.with_suffix("")), ""),
    )
    return chosen


def _menu_opens(view) -> list[QtGui.QAction]:
    """What pyqtgraph does as a view's right-click menu opens: ask the scene for its entries."""
    return view.scene().getContextMenus(SimpleNamespace(acceptedItem=None))


def test_context_menu_entries_on_every_view(window, tmp_path, monkeypatch):
    connect_view_exports(window)
    connect_view_exports(window)  # twice: no second set of entries
    board = window.dashboard
    entries = ["Export PNG…", "Export SVG…", "Export data as CSV…"]
    for name, view in board.views().items():
        assert [a.text() for a in view._export_actions] == entries, name
        assert _menu_opens(view) == view._export_actions, name
        assert all(a.isEnabled() for a in view._export_actions) == view_has_data(view), name
    board.configure(["input", "forget", "candidate", "output"], True)  # another engine's views
    connect_view_exports(window)
    assert set(board.views()) >= {"cell", "input", "forget", "output"}
    for name, view in board.views().items():
        assert [a.text() for a in view._export_actions] == entries, name
    empty = board.views()["forget"]  # configure cleared the heatmaps: nothing to draw
    assert not view_has_data(empty)
    _menu_opens(empty)
    assert not any(a.isEnabled() for a in empty._export_actions)


def test_a_context_menu_export_asks_size_and_file(window, tmp_path, monkeypatch):
    connect_view_exports(window)
    view = window.dashboard.views()["reset"]
    _menu_opens(view)
    target = tmp_path / "reset.svg"
    chosen = _answer_the_dialogs(monkeypatch, target)
    view._export_actions[1].trigger()
    assert target.exists()  # the ending was added to the name typed in the dialog
    assert chosen and chosen[0].size == (900, 500)
    assert 'width="900' in target.read_text() or "900" in target.read_text()[:400]


def _refuse_writes(monkeypatch, folder, code, at="mkstemp"):
    """Writes into ``folder`` fail with ``code``: at the temporary file (a read-only folder,
    as a non-root user sees it) or at the rename (a disk that filled up meanwhile)."""
    if at == "mkstemp":
        real = export_files.tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == folder:
                raise PermissionError(code, os.strerror(code))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(export_files.tempfile, "mkstemp", mkstemp)
    else:
        real = export_files.os.replace

        def replace(source, target):
            if Path(target).parent == folder:
                raise OSError(code, os.strerror(code))
            return real(source, target)

        monkeypatch.setattr(export_files.os, "replace", replace)


FAILURES = [
    ("png", 0, "mkstemp", errno.EACCES, "no permission"),
    ("svg", 1, "replace", errno.ENOSPC, "the disk is full"),
    ("csv", 2, "mkstemp", errno.EACCES, "no permission"),
    ("png", 0, "replace", errno.ENOSPC, "the disk is full"),
]


@pytest.mark.parametrize(("kind", "entry", "at", "code", "reason"), FAILURES)
def test_an_unwritable_folder_from_the_context_menu_says_why(
    window, tmp_path, monkeypatch, kind, entry, at, code, reason
):
    connect_view_exports(window)
    folder = tmp_path / "locked"
    folder.mkdir()
    target = folder / f"hidden.{kind}"
    _answer_the_dialogs(monkeypatch, target)
    _refuse_writes(monkeypatch, folder, code, at)
    window.dashboard.views()["hidden"]._export_actions[entry].trigger()
    assert len(window.errors) == 1
    assert str(target) in window.errors[0] and reason in window.errors[0]
    assert list(folder.iterdir()) == []  # neither the file nor a temporary one
    assert "Saved" not in window.statusBar().currentMessage()


def test_a_failed_export_becomes_a_message(window, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert not export_view(window, window.dashboard.hidden_view, "hidden", "png", blocker / "h.png")
    assert len(window.errors) == 1 and "h.png" in window.errors[0]


def test_the_trace_as_csv(window, tmp_path):
    assert export_trace_csv(window, tmp_path / "trace.csv")
    with open(tmp_path / "trace.csv", newline="") as handle:
        quantities = {row["quantity"] for row in csv.DictReader(handle)}
    assert {"hidden", "reset_gate", "update_gate", "candidate", "readout"} <= quantities


def test_the_history_behind_a_progress_dialog(window, qtbot, tmp_path):
    job = start_animation(window, tmp_path / "history.gif", size=(1280, 800))
    assert job is not None and window.figure_renderer is not None
    assert start_animation(window, tmp_path / "other.gif") is None  # one at a time
    assert "history.gif is still being rendered" in window.errors.pop()
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert job.dialog.value() == -1  # reset when done
    with Image.open(tmp_path / "history.gif") as gif:
        assert gif.n_frames == 4
    renderer = window.figure_renderer
    second = start_animation(window, tmp_path / "again.gif", size=(1280, 800), count=2)
    assert window.figure_renderer is renderer  # built once, reused
    with qtbot.waitSignal(second.finished, timeout=60_000):
        pass
    renderer.close()


def test_cancel_in_the_progress_dialog_leaves_nothing(window, qtbot, tmp_path):
    job = start_animation(window, tmp_path / "history.gif", size=(1280, 800))
    button = job.dialog.findChild(QtWidgets.QPushButton)  # the dialog's Cancel
    job.progressed.connect(lambda done, total: button.click() if done >= 2 else None)
    with qtbot.waitSignal(job.cancelled, timeout=60_000):
        pass
    assert list(tmp_path.iterdir()) == []
    assert window.errors == []
    window.figure_renderer.close()


def test_nothing_to_animate_says_so(qtbot, tmp_path):
    win = Window(Experiment())
    qtbot.addWidget(win)
    assert start_animation(win, tmp_path / "h.gif") is None
    assert win.errors and "nothing to export" in win.errors[0]
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------- File ▸ Export ▸ View, in the window


@pytest.fixture
def main_window(qtbot):
    from playground.main_window import MainWindow

    win = MainWindow({"task": "delayed_recall", "length": 8, "engine": "gru", "hidden": 5})
    qtbot.addWidget(win)
    win.resize(1200, 900)
    yield win
    win.close()


def _submenu(menu: QtWidgets.QMenu, text: str) -> QtWidgets.QMenu:
    found = [a.menu() for a in menu.actions() if a.menu() and a.text().replace("&", "") == text]
    assert len(found) == 1, [a.text() for a in menu.actions()]
    return found[0]


def _view_entry(win, name: str, kind: str) -> QtGui.QAction:
    """File ▸ Export ▸ View ▸ <view> ▸ PNG…/SVG…/Data as CSV…, opened as a user opens it."""
    views = _submenu(_submenu(win.menus.file_menu, "Export"), "View")
    assert views is win.menus.export_views_menu
    views.aboutToShow.emit()
    view = win.dashboard.views()[name]
    submenu = _submenu(views, view_label(name, view))
    assert submenu.isEnabled()
    return next(a for a in submenu.actions() if a.data() == kind)


def _show_a_frame(win, experiment):
    """What the window does with the untrained network's preview: a new run of the setup on
    screen, and its first frame (here one of ``experiment``'s, of the same setup)."""
    frame, _ = experiment.shown_frame()
    record = win.experiment
    record.new_run(win.current_spec())
    record.info = experiment.info
    record.add_frame(frame)
    assert win.dashboard.views()["hidden"].data() is not None


def test_file_export_view_lists_every_view_as_the_context_menu_does(main_window, experiment):
    win = main_window
    views_menu = win.menus.export_views_menu
    views_menu.aboutToShow.emit()
    board = win.dashboard
    labels = [a.text() for a in views_menu.actions()]
    assert labels == [view_label(n, v) for n, v in board.views().items()]
    assert labels[:4] == ["Sequence", "Hidden state", "Reset gate", "Update gate"]
    assert not any(a.isEnabled() for a in views_menu.actions())  # nothing drawn yet
    _show_a_frame(win, experiment)
    views_menu.aboutToShow.emit()
    for action in views_menu.actions():
        name = next(n for n, v in board.views().items() if view_label(n, v) == action.text())
        view = board.views()[name]
        _menu_opens(view)  # the context menu greys out exactly what File ▸ Export does
        assert action.isEnabled() == view_has_data(view) == view._export_actions[0].isEnabled()
        assert [a.text() for a in action.menu().actions()] == ["PNG…", "SVG…", "Data as CSV…"]
    assert views_menu.actions()[1].isEnabled()  # the hidden state, at least, has data
    board.configure(["input", "forget", "candidate", "output"], True)  # the engine changed
    views_menu.aboutToShow.emit()
    assert "Forget gate" in [a.text() for a in views_menu.actions()]


def test_file_export_view_writes_a_heatmap_png_and_a_line_svg(
    main_window, experiment, tmp_path, monkeypatch
):
    win = main_window
    _show_a_frame(win, experiment)
    png = tmp_path / "hidden.png"
    chosen = _answer_the_dialogs(monkeypatch, png, size=(700, 450))
    _view_entry(win, "hidden", "png").trigger()
    assert chosen[0].size == (700, 450)
    image = QtGui.QImage(str(png))
    assert not image.isNull() and image.size().toTuple() == (700, 450)
    svg = tmp_path / "gradient.svg"
    _answer_the_dialogs(monkeypatch, svg, size=(640, 400))
    _view_entry(win, "gradient", "svg").trigger()
    root = ET.parse(svg).getroot()
    texts = {"".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")}
    step = win.experiment.shown_frame()[0].step
    title = figure_info(win.experiment, step).title()
    assert title == f"GRU · delayed_recall · delay 8 · step {step}"
    assert title in texts and "gradient flow" in texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradient.svg", "hidden.png"]
    assert win.error_banner.isHidden()


def test_file_export_view_into_a_read_only_folder_says_why_in_the_window(
    main_window, experiment, tmp_path, monkeypatch
):
    win = main_window
    _show_a_frame(win, experiment)
    folder = tmp_path / "locked"
    folder.mkdir()
    target = folder / "sequence.png"
    _answer_the_dialogs(monkeypatch, target)
    _refuse_writes(monkeypatch, folder, errno.EACCES)
    _view_entry(win, "sequence", "png").trigger()
    message = win.error_banner.text()
    assert not win.error_banner.isHidden()
    assert str(target) in message and "no permission" in message
    assert list(folder.iterdir()) == []
