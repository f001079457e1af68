"""A memory-horizon sweep run from the app, without the GUI waiting: the command line's plan
and process pool (``horizon_plan``, ``horizon_runs.TrainJobs``) driven by a timer.

Nothing here is a sweep runner of its own. The dialog's choices become the ``horizon``
command's arguments and go through its parser and ``prepare_horizon`` (the command line's
checks and messages); ``TrainJobs`` runs each run as its own ``python -m playground train``
process, one or ``jobs`` at a time. What is the app's: a ``QTimer`` polls the pool, a run's
progress is read from the ``step N/M`` lines its process writes to its log and from its
``metrics.csv``, the time left comes from the durations of the runs finished so far, and
``cancel`` sends SIGTERM (each run writes a resumable folder and ends with 143). ``abandon``
(the dialog or the window closes) leaves the waiting to a reaper thread, and at the
interpreter's exit the live jobs are waited for, so no process is left behind. Qt widgets are
not used here: the dialog is ``playground.horizon_dialog``.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import threading
import time
from pathlib import Path

from PySide6 import QtCore

from playground import horizon_runs as hr
from playground import run_folder as rf
from playground.horizon_plan import RUNS, SETTINGS_NAME, HorizonPlan, prepare_horizon
from playground.options import PROG, UsageError, horizon_parser

ENGINES = ("rnn", "lstm", "gru")
POLL_MS = 100
KILL_AFTER_S = 10.0  # a run still there this long after SIGTERM is killed (it is frozen)
#: the settings that become ``horizon`` options as they are (engines, lengths, seeds and the
#: task are the dialog's own fields)
OPTION_FLAGS = {
    "steps": "--steps",
    "jobs": "--jobs",
    "hidden": "--hidden",
    "layers": "--layers",
    "device": "--device",
    "optimizer": "--optimizer",
    "lr": "--lr",
    "batch": "--batch",
    "clip": "--clip",
    "init": "--init",
    "forget_bias": "--forget-bias",
    "eval_every": "--eval-every",
    "threads": "--threads",
}
_STEP = re.compile(rb"step (\d+)/(\d+)")
_SEE_HELP = re.compile(r" \(see '[^']*--help'\)$")
_live_jobs: set[SweepJob] = set()  # a job lives until its processes are gone


# --- the sweep as the command line sees it ---------------------------------------------------
def horizon_argv(choices: dict) -> list[str]:
    """``horizon``'s arguments for ``choices`` (what the command line would be given)."""
    argv = [f"--task={choices['task']}"]
    for key, value in (choices.get("task_options") or {}).items():
        argv.append(f"--task-option={key}={json.dumps(value)}")
    argv += [f"--engines={','.join(choices['engines'])}", f"--lengths={choices['lengths']}"]
    argv.append(f"--seeds={choices['seeds']}")
    argv += [f"{flag}={choices[key]}" for key, flag in OPTION_FLAGS.items() if key in choices]
    return [*argv, f"--out={choices['out']}"]


def plan_sweep(choices: dict) -> HorizonPlan:
    """The command line's plan for ``choices``; UsageError names the option that is wrong."""
    argv = horizon_argv(choices)
    try:
        return prepare_horizon(horizon_parser().parse_args(argv), [PROG, "horizon", *argv])
    except UsageError as error:
        raise UsageError(_SEE_HELP.sub("", str(error))) from None


def time_left(durations: list[float], queued: int, running: list[tuple[float, float]], jobs: int):
    """Seconds until the sweep ends: the mean duration of the runs finished so far times the
    work left (a run in progress counts by its steps done), over the runs at a time. Before
    any run finished, extrapolated from the runs in progress ((seconds, fraction) each); nan
    while nothing is known."""
    if durations:
        per_run = sum(durations) / len(durations)
    else:
        rates = [seconds / fraction for seconds, fraction in running if fraction > 0]
        if not rates:
            return math.nan
        per_run = sum(rates) / len(rates)
    work = queued + sum(1.0 - fraction for _, fraction in running)
    return work * per_run / max(1, min(jobs, queued + len(running)))


def is_sweep_folder(path: os.PathLike | str) -> bool:
    """A folder of ``horizon`` (or of its ``--plan``): ``horizon.json``, or ``runs/`` with
    ``horizon.csv``. A run folder is not one."""
    path = Path(path)
    if not path.is_dir() or rf.is_run_folder(path):
        return False
    return (path / SETTINGS_NAME).is_file() or (
        (path / RUNS).is_dir() and (path / hr.CSV_NAME).is_file()
    )


def sweep_choices(folder: Path) -> dict:
    """The dialog's choices from a sweep's ``horizon.json`` (RunFolderError when unreadable)."""
    settings = rf.read_json(folder / SETTINGS_NAME)
    choices = {**(settings.get("options") or {}), "out": str(folder)}
    keys = ("task", "task_options", "engines", "lengths", "seeds", "steps", "jobs", "threads")
    choices.update({key: settings[key] for key in keys if settings.get(key) is not None})
    return choices


def results_stale(out: Path) -> bool:
    """horizon.csv or horizon.png is missing, or older than a run's summary."""
    png, table = out / hr.PNG_NAME, out / hr.CSV_NAME
    if not png.is_file() or not table.is_file():
        return True
    written = min(png.stat().st_mtime, table.stat().st_mtime)
    return any(p.stat().st_mtime > written for p in (out / RUNS).glob(f"*/{rf.SUMMARY}"))


def result_text(row: dict | None) -> str:
    if row is None:
        return "not finished"
    text = f"test {row['metric']} {row['final_test_metric']:.4g}"
    text += ", solved" if row["solved"] else ""
    return text if row["status"] == "finished" else f"{text}, {row['status']}"


# --- one start of a sweep --------------------------------------------------------------------
class SweepJob(QtCore.QObject):
    """``TrainJobs`` driven by a timer, each running run's log and metrics read for its
    progress. Not a child of the dialog: it lives (in ``_live_jobs``) until its processes are
    gone, and the dialog's ``destroyed`` abandons it."""

    run_started = QtCore.Signal(str)
    run_progressed = QtCore.Signal(str, int, int)  # run, step, steps
    run_ended = QtCore.Signal(str, bool)  # run, finished
    sweep_progressed = QtCore.Signal(int, int, float)  # runs done, runs, seconds left (nan)
    ended = QtCore.Signal(str)  # "finished", "cancelled" or "failed"

    def __init__(self, plan: HorizonPlan, pending: list, poll_ms: int = POLL_MS) -> None:
        super().__init__()
        threads = max(1, (plan.threads or os.cpu_count() or 1) // plan.jobs)
        self.jobs = hr.TrainJobs(plan, pending, plan.jobs, threads, kill_after=KILL_AFTER_S)
        self.plan, self.total = plan, len(plan.runs)
        self.skipped = self.done = self.total - len(pending)  # finished before this start
        self.durations: list[float] = []
        self.fractions: dict[str, float] = {}
        self.offsets: dict[str, int] = {}  # how much of a running run's log was read
        self.steps: dict[str, int] = {}  # the step a running run reported last
        self.pids: set[int] = set()  # every process this job started (tests look for them)
        self.cancelled = False
        self.error = ""
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        _live_jobs.add(self)
        self.timer.start()

    def is_running(self) -> bool:
        return self in _live_jobs

    def cancel(self) -> None:
        """SIGTERM to the runs; the job ends (``ended("cancelled")``) when they are gone."""
        self.cancelled = True
        self.jobs.stop()

    def abandon(self) -> None:
        """Cancel and leave the waiting to a thread: the dialog or the window is closing."""
        if self not in _live_jobs:
            return
        self.timer.stop()
        self.cancel()
        _live_jobs.discard(self)
        threading.Thread(
            target=self.jobs.close, args=(KILL_AFTER_S,), name="horizon-reaper", daemon=False
        ).start()

    def _tick(self) -> None:
        try:
            ended = self.jobs.poll()
        except OSError as error:  # a log that cannot be opened: stop, say why
            self.error = f"cannot start a run: {error.strerror or error}"
            self.cancel()
            ended = []
        now = time.monotonic()
        self.pids.update(self.jobs.pids())
        for sweep_run in self.jobs.running.values():
            if sweep_run.name not in self.offsets:
                self.offsets[sweep_run.name] = self._log_size(sweep_run)
                self.fractions[sweep_run.name] = 0.0
                self.run_started.emit(sweep_run.name)
        for sweep_run, finished in ended:
            for progress in (self.offsets, self.steps, self.fractions):
                progress.pop(sweep_run.name, None)
            if finished:
                self.done += 1
                self.durations.append(now - self.jobs.started[sweep_run.name])
                self.run_progressed.emit(sweep_run.name, self.plan.steps, self.plan.steps)
            self.run_ended.emit(sweep_run.name, finished)
        for sweep_run in self.jobs.running.values():
            self._read_progress(sweep_run)
        running = [(now - self.jobs.started[n], f) for n, f in self.fractions.items()]
        left = time_left(self.durations, len(self.jobs.queue), running, self.plan.jobs)
        self.sweep_progressed.emit(self.done, self.total, left)
        if self.jobs.done:
            self.timer.stop()
            _live_jobs.discard(self)
            failed = self.error or self.jobs.failed
            self.ended.emit("failed" if failed else "cancelled" if self.cancelled else "finished")

    def _log_size(self, sweep_run) -> int:
        try:
            return hr.log_path(self.plan, sweep_run).stat().st_size
        except OSError:
            return 0

    def _read_progress(self, sweep_run) -> None:
        """The run's step: its log's last ``step N/M`` line (about ten in a run) or its
        metrics.csv's last row (rewritten every few seconds), whichever is further on."""
        name = sweep_run.name
        data = _read_from(hr.log_path(self.plan, sweep_run), self.offsets[name])
        cut = data.rfind(b"\n") + 1  # a line still being written is read next time
        self.offsets[name] += cut
        steps = [int(step) for step, _ in _STEP.findall(data[:cut])]
        last_row = _read_from(sweep_run.folder / rf.METRICS, -256).rstrip().rsplit(b"\n", 1)[-1]
        first = last_row.split(b",", 1)[0]
        step = max([*steps, int(first) if first.isdigit() else -1])
        if step > self.steps.get(name, -1):
            self.steps[name] = step
            self.fractions[name] = step / max(1, self.plan.steps)
            self.run_progressed.emit(name, step, self.plan.steps)


def _read_from(path: Path, offset: int) -> bytes:
    """``path`` from ``offset`` on (negative: that many bytes before its end); b"" when it
    cannot be read (not written yet)."""
    try:
        with open(path, "rb") as handle:
            if offset < 0:
                offset = max(0, handle.seek(0, os.SEEK_END) + offset)
            handle.seek(offset)
            return handle.read()
    except OSError:
        return b""


@atexit.register
def _stop_all() -> None:
    """At the interpreter's exit no run outlives the app, even one whose window never closed
    (a script, a crash of the event loop): stop and wait, as the reaper would."""
    for job in list(_live_jobs):
        job.jobs.close(KILL_AFTER_S)
