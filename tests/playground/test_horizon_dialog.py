"""Training ▸ Memory horizon… as a user drives it: a small sweep runs as ``train`` processes with
progress per run and overall and ends with the plot and the command line's table; Cancel (or
closing the main window) mid-run leaves no process behind and a run folder that Start
continues; a finished sweep started again trains nothing; a sweep folder opens again.

Every ``train`` process costs a torch import (seconds here), so the sweeps are tiny and the
runs that only need to exist are made in this process by the command line."""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path

import pytest
from PySide6 import QtWidgets

from playground import horizon_runs as hr
from playground.cli import main
from playground.horizon_dialog import HorizonDialog, is_sweep_folder, open_sweep
from playground.horizon_job import time_left
from playground.horizon_plan import RUNS, SETTINGS_NAME

TIMEOUT_MS = 90_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: the model every sweep here shares: the setup's settings the dialog is given
SETUP = {"task": "adding", "hidden": 4, "batch": 4, "seed": 0, "threads": 1}
CLI_SETUP = ["--hidden", "4", "--batch", "4", "--threads", "1"]
#: a sweep slow enough per run (about a second of training) to be cancelled in the middle
LONG_STEPS = 1000


def table(out: Path) -> list[dict]:
    """horizon.csv without the seconds column (wall time differs from run to run)."""
    with open(out / hr.CSV_NAME, newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def file_times(folder: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has ended but was not waited for)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def train_children() -> list[int]:
    """This test process's children that run ``python -m playground train``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"playground" in command and b"train" in command:
            found.append(int(entry.name))
    return found


@pytest.fixture
def dialog_for(qtbot):
    made = []

    def make(out: Path, parent=None, **choices) -> HorizonDialog:
        dialog = HorizonDialog(parent, {**SETUP, **choices}, out=out)
        if parent is None:
            qtbot.addWidget(dialog)
        dialog.show()
        made.append(dialog)
        return dialog

    yield make
    for dialog in made:
        if dialog.is_running():  # a failed test must not leave its processes running
            dialog.cancel()
            qtbot.waitUntil(lambda d=dialog: not d.is_running(), timeout=TIMEOUT_MS)


def test_a_small_sweep_shows_progress_and_ends_with_the_plot_and_the_cli_table(
    qtbot, tmp_path, dialog_for
):
    out = tmp_path / "sweep"
    dialog = dialog_for(out, engines="rnn,lstm", lengths="5,8", steps=5, eval_every=5, jobs=2)
    runs, overall, shown = [], [], []
    dialog.run_progressed.connect(lambda *args: runs.append(args))
    dialog.sweep_progressed.connect(lambda *args: overall.append(args))
    dialog.plot_shown.connect(shown.append)
    live = []  # at every poll of the pool: how many of its train processes are alive

    def count_live(*_):
        if dialog.job is not None:
            live.append(sum(alive(pid) for pid in dialog.job.pids))

    dialog.sweep_progressed.connect(count_live)
    with qtbot.waitSignal(dialog.sweep_finished, timeout=TIMEOUT_MS) as finished:
        assert dialog.start()
        assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
        # Every run shows its steps from the start, waiting ones as 0 / 5.
        assert dialog.progress.run_progress("lstm-L8-s0") == (0, 5)
    assert finished.args == ["finished"]
    assert max(live) == 2  # jobs=2: two runs train at once, never more

    names = ["rnn-L5-s0", "lstm-L5-s0", "rnn-L8-s0", "lstm-L8-s0"]
    assert dialog.progress.run_names() == names
    for name in names:  # each run reported its steps (mid-run: the next test), and the last
        reported = [(step, total) for run, step, total in runs if run == name]
        assert reported == sorted(reported) and reported[-1] == (5, 5)
        assert dialog.progress.run_progress(name) == (5, 5)
        assert dialog.progress.run_result(name).startswith("test mse ")
    done = [d for d, _, _ in overall]
    assert done == sorted(done) and overall[-1][:2] == (4, 4)
    assert overall[-1][2] == 0.0 and dialog.progress.overall_fraction() == 1.0
    # two runs at a time: once the first two finished, the time left is known and not zero
    assert any(d == 2 and math.isfinite(left) and left > 0 for d, _, left in overall)
    assert "runs done" in dialog.progress.overall_label.text()

    # the plot is shown, and the folder is what the command line writes for the same sweep
    assert shown == [str(out / hr.PNG_NAME)]
    assert not dialog.plot_label.pixmap().isNull()
    assert (out / hr.PNG_NAME).read_bytes()[:8] == PNG_MAGIC
    cli = tmp_path / "cli"
    argv = ["horizon", "--engines", "rnn,lstm", "--lengths", "5,8", "--steps", "5"]
    assert main([*argv, "--eval-every", "5", *CLI_SETUP, "--out", str(cli)]) == 0
    assert table(out) == table(cli) and len(table(out)) == 4
    settings = json.loads((out / SETTINGS_NAME).read_text())
    assert settings["argv"][:2] == ["seq-playground", "horizon"] and settings["jobs"] == 2
    assert dialog.command_edit.text().startswith("seq-playground horizon --task=adding")
    assert "Traceback" not in (out / "logs" / "lstm-L8-s0.log").read_text()
    assert train_children() == []


def test_cancel_mid_run_leaves_no_process_and_start_continues_the_sweep(
    qtbot, tmp_path, dialog_for
):
    out = tmp_path / "sweep"
    steps = ["--steps", str(LONG_STEPS), "--eval-every", "10", *CLI_SETUP]
    # the sweep's first run finished before (the command line, in this process)
    assert main(["horizon", "--engines", "rnn", "--lengths", "5", *steps, "--out", str(out)]) == 0
    first = out / RUNS / "rnn-L5-s0"
    before = file_times(first)
    dialog = dialog_for(out, engines="rnn", lengths="5,8", steps=LONG_STEPS, eval_every=10)
    started = []

    def cancel_once_training(name, step, total):
        if 0 < step < total and not started:  # the run reports its progress mid-run
            started.append(dialog.job.pids.copy())
            dialog.cancel()

    dialog.run_progressed.connect(cancel_once_training)
    with qtbot.waitSignal(dialog.sweep_finished, timeout=TIMEOUT_MS) as ended:
        assert dialog.start()
        assert dialog.progress.run_result("rnn-L5-s0").startswith("test mse")  # skipped
    assert ended.args == ["cancelled"]
    assert len(started[0]) == 1 and not any(alive(pid) for pid in started[0])
    assert train_children() == []
    stopped = out / RUNS / "rnn-L8-s0"
    summary = json.loads((stopped / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 0 < summary["steps"] < LONG_STEPS
    assert (stopped / "training_state.pt").is_file()
    assert dialog.progress.run_result("rnn-L8-s0") == "stopped: Start continues it"
    assert "Cancelled after 1 of 2 runs" in dialog.message_label.text()
    assert len(table(out)) == 1 and dialog.start_button.isEnabled()

    # Start again: the finished run is not touched, the stopped one continues from its step
    dialog.run_progressed.disconnect(cancel_once_training)
    reported = []
    dialog.run_progressed.connect(lambda name, step, total: reported.append((name, step)))
    with qtbot.waitSignal(dialog.sweep_finished, timeout=TIMEOUT_MS) as ended:
        assert dialog.start()
        assert "1 of 2 runs already finished; 1 to go" in dialog.message_label.text()
    assert ended.args == ["finished"]
    assert file_times(first) == before
    assert len(dialog.job_pids) == 1  # one process: the stopped run
    assert {name for name, _ in reported} == {"rnn-L8-s0"}
    assert reported[0][1] >= summary["steps"]  # not from step 0 again
    assert reported[-1][1] == LONG_STEPS
    never_stopped = tmp_path / "never-stopped"
    argv = ["horizon", "--engines", "rnn", "--lengths", "5,8", *steps, "--out", str(never_stopped)]
    assert main(argv) == 0
    assert table(out) == table(never_stopped)
    assert train_children() == []


def test_closing_the_main_window_mid_sweep_stops_its_runs(qtbot, tmp_path, dialog_for):
    window = QtWidgets.QMainWindow()
    qtbot.addWidget(window)
    window.show()
    out = tmp_path / "sweep"
    dialog = dialog_for(
        out, parent=window, engines="gru", lengths="5", steps=100 * LONG_STEPS, eval_every=10
    )
    with qtbot.waitSignal(dialog.run_progressed, timeout=TIMEOUT_MS):
        assert dialog.start()
    pids = set(dialog.job.pids)
    window.close()
    assert not dialog.is_running()  # nothing waited for on this thread
    qtbot.waitUntil(lambda: not any(alive(pid) for pid in pids), timeout=TIMEOUT_MS)
    assert train_children() == []
    qtbot.waitUntil(
        lambda: (
            json.loads((out / RUNS / "gru-L5-s0" / "summary.json").read_text())["status"]
            == "interrupted"
        ),
        timeout=TIMEOUT_MS,
    )


def test_a_run_that_fails_is_named_with_its_log(qtbot, tmp_path, dialog_for, monkeypatch):
    """A ``train`` process that exits with an error (here a stand-in that fails at once)."""
    failing = tmp_path / "failing-python"
    failing.write_text("#!/bin/sh\necho 'seq-playground: error: the disk is full' >&2\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(failing))
    out = tmp_path / "sweep"
    dialog = dialog_for(out, engines="rnn", lengths="5", steps=5)
    ended_runs = []
    dialog.run_ended.connect(lambda *args: ended_runs.append(args))
    with qtbot.waitSignal(dialog.sweep_finished, timeout=TIMEOUT_MS) as ended:
        assert dialog.start()
    assert ended.args == ["failed"] and ended_runs == [("rnn-L5-s0", False)]
    text = dialog.message_label.text()
    assert "rnn-L5-s0: exit 1: seq-playground: error: the disk is full" in text
    assert str(out / "logs" / "rnn-L5-s0.log") in text
    assert dialog.progress.run_result("rnn-L5-s0") == "failed (see its log)"
    assert dialog.start_button.isEnabled() and not dialog.is_running()


@pytest.fixture
def cli_sweep(tmp_path):
    """A finished sweep the command line wrote (in this process: no torch import)."""
    out = tmp_path / "cli-sweep"
    argv = ["horizon", "--engines", "rnn,gru", "--lengths", "5", "--steps", "4"]
    assert main([*argv, "--eval-every", "2", *CLI_SETUP, "--out", str(out)]) == 0
    return out


def test_a_finished_sweep_started_again_trains_nothing(qtbot, cli_sweep, dialog_for):
    runs = sorted((cli_sweep / RUNS).iterdir())
    before = [file_times(run) for run in runs]
    dialog = dialog_for(cli_sweep, engines="rnn,gru", lengths="5", steps=4, eval_every=2)
    with qtbot.waitSignal(dialog.sweep_finished, timeout=TIMEOUT_MS) as ended:
        assert dialog.start()
    assert ended.args == ["finished"]
    assert dialog.job_pids == set()  # no train process started
    assert [file_times(run) for run in runs] == before
    assert "Done: 2 runs (2 finished before, 0 trained now)" in dialog.message_label.text()
    assert not dialog.plot_label.pixmap().isNull()


def test_a_sweep_folder_opens_again_with_its_plot(qtbot, cli_sweep, tmp_path):
    assert is_sweep_folder(cli_sweep)
    assert not is_sweep_folder(cli_sweep / RUNS / "rnn-L5-s0")  # a run folder
    assert not is_sweep_folder(tmp_path) and not is_sweep_folder(cli_sweep / hr.CSV_NAME)
    png = cli_sweep / hr.PNG_NAME
    written = png.stat().st_mtime_ns
    dialog = open_sweep(None, cli_sweep)
    qtbot.addWidget(dialog)
    assert dialog.isVisible() and not dialog.plot_label.pixmap().isNull()
    assert png.stat().st_mtime_ns == written  # up to date: nothing rewritten
    assert dialog.progress.run_names() == ["rnn-L5-s0", "gru-L5-s0"]
    assert dialog.progress.run_result("gru-L5-s0").startswith("test mse")
    assert "2 of 2 runs finished" in dialog.message_label.text()
    assert [box.isChecked() for box in dialog.engine_boxes.values()] == [True, False, True]
    assert (dialog.lengths_edit.text(), dialog.steps_spin.value()) == ("5", 4)

    # a sweep planned for a job scheduler: no run finished yet, Start would run them
    planned = tmp_path / "planned"
    argv = ["horizon", "--engines", "lstm", "--lengths", "5,6", "--plan", "--out", str(planned)]
    assert main(argv) == 0
    again = open_sweep(None, planned)
    qtbot.addWidget(again)
    assert "0 of 2 runs finished" in again.message_label.text()
    assert "Start continues" in again.message_label.text()
    assert again.plot_label.pixmap().isNull()

    # the plot is gone: opening draws it again
    png.unlink()
    third = open_sweep(None, cli_sweep)
    qtbot.addWidget(third)
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_not_a_sweep_folder_is_a_message(qtbot, tmp_path, monkeypatch):
    said = []
    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    parent.show_error = said.append
    assert open_sweep(parent, tmp_path) is None
    assert said == [f"{tmp_path} is not a sweep folder (it has no horizon.json)"]


def _untick_engines(dialog):
    for box in dialog.engine_boxes.values():
        box.setChecked(False)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d.lengths_edit.setText("5,x"), "argument --lengths: 'x' is not an integer"),
        (lambda d: d.lengths_edit.setText("5,1"), "argument --lengths: length must be"),
        (lambda d: d.seeds_edit.setText("-1"), "argument --seeds: seed must be"),
        (_untick_engines, "Choose at least one engine."),
    ],
)
def test_bad_choices_are_one_message_and_start_nothing(qtbot, tmp_path, dialog_for, edit, expected):
    out = tmp_path / "sweep"
    dialog = dialog_for(out, engines="rnn", lengths="5")
    edit(dialog)
    assert not dialog.start()
    text = dialog.message_label.text()
    assert expected in text and "Traceback" not in text and "--help" not in text
    assert not dialog.is_running() and not out.exists()


def test_time_left_comes_from_the_finished_runs():
    assert math.isnan(time_left([], queued=3, running=[(2.0, 0.0)], jobs=1))
    # a run half done after 5 s: about 5 s more, and 10 s for each one queued
    assert time_left([], queued=1, running=[(5.0, 0.5)], jobs=1) == pytest.approx(15.0)
    # finished runs took 10 s and 20 s: 15 s a run, two at a time
    assert time_left([10.0, 20.0], queued=2, running=[(1.0, 0.5)], jobs=2) == pytest.approx(
        15.0 * 2.5 / 2
    )
