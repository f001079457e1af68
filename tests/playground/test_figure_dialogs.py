"""The window's side of the exports: a view, the trace and the history from the experiment on
screen, behind a progress dialog that cancels; failures become messages, not tracebacks."""

from __future__ import annotations

import csv

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
)
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


def test_context_menu_entries_on_every_view(window, tmp_path, monkeypatch):
    connect_view_exports(window)
    connect_view_exports(window)  # twice: no second set of entries
    view = window.dashboard.views()["reset"]
    assert [a.text() for a in view._export_actions] == [
        "Export PNG…",
        "Export SVG…",
        "Export data as CSV…",
    ]
    target = tmp_path / "reset.svg"
    from playground.export_options import ImageOptionsDialog

    chosen = []

    def accept_size(dialog):  # the size form, answered: 900 x 500 px
        dialog.own_size.setChecked(False)
        dialog.width.setValue(900)
        dialog.height.setValue(500)
        chosen.append(dialog.options())
        return QtWidgets.QDialog.DialogCode.Accepted

    monkeypatch.setattr(ImageOptionsDialog, "exec", accept_size)
    monkeypatch.setattr(
        QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(target)[:-4], "")
    )
    view._export_actions[1].trigger()
    assert target.exists()  # the ending was added to the name typed in the dialog
    assert chosen and chosen[0].size == (900, 500)
    assert 'width="900' in target.read_text() or "900" in target.read_text()[:400]


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
