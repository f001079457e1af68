"""Training ▸ Memory horizon…: the ``horizon`` sweep from the app, and a sweep folder opened
again (``open_sweep``, ``is_sweep_folder``).

The form's choices are checked by the command line's own parser and plan
(``horizon_job.plan_sweep``), ``horizon_runs.prepare_sweep`` skips finished runs, a
``SweepJob`` runs the rest as ``train`` processes with progress, and when it ends
``horizon_runs.collect`` and ``write_results`` write ``horizon.csv`` and ``horizon.png`` in the
command line's format; the PNG is shown in the dialog. So a sweep started here continues with
``seq-playground horizon`` and the other way round, and Start on the same folder again resumes.
Closing the dialog or the main window, or quitting, cancels a running sweep.
"""

from __future__ import annotations

import io
import math
import os
import shlex
import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from engines.tasks.registry import TASKS
from playground import horizon_runs as hr
from playground import run_folder as rf
from playground.horizon_job import (
    ENGINES,
    OPTION_FLAGS,
    SweepJob,
    is_sweep_folder,
    plan_sweep,
    result_text,
    results_stale,
    sweep_choices,
)
from playground.horizon_plan import RUNS, SETTINGS_NAME, HorizonPlan
from playground.options import UsageError, horizon_parser
from playground.progress import format_duration
from widgets.horizon_progress import HorizonProgress

__all__ = ["HorizonDialog", "is_sweep_folder", "open_sweep", "show_horizon_dialog"]


def default_out() -> Path:
    """A new folder under the user's data folder: ``sweeps/<date_time>``."""
    location = QtCore.QStandardPaths.writableLocation(
        QtCore.QStandardPaths.StandardLocation.AppDataLocation
    )
    base = Path(location) if location else Path.home() / ".seq-playground"
    return base / "sweeps" / time.strftime("%Y-%m-%d_%H-%M-%S")


# --- the dialog ------------------------------------------------------------------------------
class HorizonDialog(QtWidgets.QDialog):
    """Choose a sweep, run it with progress and cancel, see its plot.

    Parameters
    ----------
    parent
        The main window (closing it cancels a running sweep) or any widget.
    settings
        Pre-fills the form: the setup's settings (``task``, ``hidden``, ``lr``, ``seed``, ...)
        and any of a sweep's own (``engines``, ``lengths``, ``seeds``, ``steps``, ``jobs``,
        ``eval_every``, ``threads``, ``task_options``).
    out
        The sweep's folder; by default a new one under the user's data folder.
    """

    run_progressed = QtCore.Signal(str, int, int)  # run, step, steps
    run_ended = QtCore.Signal(str, bool)  # run, finished
    sweep_progressed = QtCore.Signal(int, int, float)  # runs done, runs, seconds left (nan)
    sweep_finished = QtCore.Signal(str)  # "finished", "cancelled" or "failed"
    plot_shown = QtCore.Signal(str)  # the PNG's path

    def __init__(self, parent=None, settings: dict | None = None, out=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Memory horizon")
        self.job: SweepJob | None = None
        self.job_pids: set[int] = set()  # the processes the last start ran
        self.plan: HorizonPlan | None = None
        self._pixmap: QtGui.QPixmap | None = None
        self._build()
        settings = dict(settings or {})
        self.set_choices({**settings, "out": str(out or settings.get("out") or default_out())})
        if isinstance(parent, QtWidgets.QWidget):
            parent.window().installEventFilter(self)  # the main window closing cancels
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._abandon)

    def _build(self) -> None:
        self.task_combo = QtWidgets.QComboBox()
        for name, task in TASKS.items():
            self.task_combo.addItem(task.title, name)
        self.engine_boxes = {e: QtWidgets.QCheckBox(e.upper()) for e in ENGINES}
        engine_row = QtWidgets.QHBoxLayout()
        for box in self.engine_boxes.values():
            engine_row.addWidget(box)
        self.lengths_edit = QtWidgets.QLineEdit()
        self.lengths_edit.setToolTip("Comma list of lengths, e.g. 10,25,50,100,200")
        self.seeds_edit = QtWidgets.QLineEdit()
        self.steps_spin = QtWidgets.QSpinBox()
        self.steps_spin.setRange(1, 10_000_000)
        self.jobs_spin = QtWidgets.QSpinBox()
        self.jobs_spin.setRange(1, max(1, os.cpu_count() or 1))
        self.jobs_spin.setToolTip("Runs at a time, each a 'train' process")
        self.out_edit = QtWidgets.QLineEdit()
        self.browse_button = QtWidgets.QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        out_row = QtWidgets.QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(self.browse_button)
        self.model_label = QtWidgets.QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.setToolTip("The setup's model and optimizer (a sweep opened: its own)")
        form = QtWidgets.QFormLayout()
        form.addRow("Task", self.task_combo)
        form.addRow("Engines", engine_row)
        form.addRow("Lengths", self.lengths_edit)
        form.addRow("Seeds", self.seeds_edit)
        form.addRow("Steps per run", self.steps_spin)
        form.addRow("Runs at a time", self.jobs_spin)
        form.addRow("Folder", out_row)
        form.addRow("Model", self.model_label)
        self.start_button = QtWidgets.QPushButton("Start")
        self.cancel_button = QtWidgets.QPushButton("Cancel sweep")
        self.cancel_button.setEnabled(False)
        close_button = QtWidgets.QPushButton("Close")
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        close_button.clicked.connect(self.close)
        buttons = QtWidgets.QHBoxLayout()
        for button in (self.start_button, self.cancel_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close_button)
        self.message_label = QtWidgets.QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(
            QtCore.Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.command_edit = QtWidgets.QLineEdit()
        self.command_edit.setReadOnly(True)
        self.command_edit.setPlaceholderText("the same sweep on the command line")
        self.progress = HorizonProgress()
        self.plot_label = QtWidgets.QLabel("The plot appears here when the sweep is done.")
        self.plot_label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.plot_label.setMinimumSize(480, 300)
        self.plot_label.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Ignored
        )
        left = QtWidgets.QVBoxLayout()
        for item in (form, buttons):
            left.addLayout(item)
        for widget in (self.message_label, self.command_edit, self.progress):
            left.addWidget(widget)
        layout = QtWidgets.QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addWidget(self.plot_label, 3)

    # --- choices ---------------------------------------------------------------------------
    def set_choices(self, settings: dict) -> None:
        """Fill the form from the setup's settings or a sweep's (see the class); what is
        not given is the command line's default."""
        defaults = vars(horizon_parser().parse_args([]))
        settings = {**defaults, "seeds": settings.get("seed", 0), **settings}
        self.options = {k: settings[k] for k in OPTION_FLAGS if settings[k] is not None}
        self.task_options = dict(settings.get("task_options") or {})
        self.task_combo.setCurrentIndex(max(0, self.task_combo.findData(settings["task"])))
        engines = settings["engines"] or ENGINES
        engines = engines.split(",") if isinstance(engines, str) else engines
        for engine, box in self.engine_boxes.items():
            box.setChecked(engine in [str(e).strip().lower() for e in engines])
        self.lengths_edit.setText(_listed(settings["lengths"]))
        self.seeds_edit.setText(_listed(settings["seeds"]))
        self.steps_spin.setValue(int(self.options.pop("steps")))
        self.jobs_spin.setValue(min(int(self.options.pop("jobs")), self.jobs_spin.maximum()))
        self.out_edit.setText(str(settings["out"]))
        o = self.options
        self.model_label.setText(
            f"{o['hidden']} units × {o['layers']} layer(s), {o['optimizer']} lr {o['lr']:g}, "
            f"batch {o['batch']}, clip {o['clip']:g}, init {o['init']}, forget bias "
            f"{o['forget_bias']:g}, {o['device']}"
        )

    def choices(self) -> dict:
        engines = [e for e, box in self.engine_boxes.items() if box.isChecked()]
        return {
            **self.options,
            "task": self.task_combo.currentData(),
            "task_options": self.task_options,
            "engines": engines,
            "lengths": self.lengths_edit.text().strip(),
            "seeds": self.seeds_edit.text().strip(),
            "steps": self.steps_spin.value(),
            "jobs": self.jobs_spin.value(),
            "out": self.out_edit.text().strip(),
        }

    def _browse(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder of the sweep")
        if path:
            self.out_edit.setText(path)
            if is_sweep_folder(path):
                self.show_folder(Path(path))

    # --- running ---------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.job is not None

    def start(self) -> bool:
        """Check the choices as the command line does, then run what is left of the sweep
        in the background. False (and a message) when something is wrong."""
        if self.job is not None:
            return False
        choices = self.choices()
        if not choices["engines"]:
            self._say("Choose at least one engine.", error=True)
            return False
        if not choices["out"]:
            self._say("Choose a folder for the sweep.", error=True)
            return False
        stream = io.StringIO()
        try:
            plan = plan_sweep(choices)
            pending = hr.prepare_sweep(plan, stream)
        except (UsageError, OSError) as error:
            self._say(f"Cannot start the sweep: {error}", error=True)
            return False
        self.plan = plan
        self._show_command(plan)
        results = {
            r.name: result_text(hr.read_row(r.folder)) for r in plan.runs if r not in pending
        }
        self.progress.set_runs([r.name for r in plan.runs], results, steps=plan.steps)
        self.job = job = SweepJob(plan, pending)
        job.run_started.connect(lambda name: self.progress.set_run_result(name, "training"))
        job.run_progressed.connect(self.progress.set_run_progress)
        job.run_progressed.connect(self.run_progressed)
        job.run_ended.connect(self._on_run_ended)
        job.sweep_progressed.connect(self._on_sweep_progressed)
        job.ended.connect(self._on_ended)
        self.destroyed.connect(job.abandon)
        self._set_running(True)
        skipped = stream.getvalue().strip()
        self._say(f"{skipped}." if skipped else f"{len(plan.runs)} runs to train in {plan.out}")
        job.start()
        return True

    def cancel(self) -> None:
        """Stop the running runs (each writes a folder Start continues from)."""
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self._say("Cancelling: the running runs write their folders and stop…")

    def _abandon(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.abandon()
            self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        form = (self.task_combo, self.lengths_edit, self.seeds_edit, self.steps_spin)
        form += (self.jobs_spin, self.out_edit, self.browse_button, *self.engine_boxes.values())
        for widget in form:
            widget.setEnabled(not running)

    def _on_run_ended(self, name: str, finished: bool) -> None:
        if finished:
            text = result_text(hr.read_row(self.plan.out / RUNS / name))
        else:
            text = "stopped: Start continues it" if self.job.cancelled else "failed (see its log)"
        self.progress.set_run_result(name, text)
        self.run_ended.emit(name, finished)

    def _on_sweep_progressed(self, done: int, total: int, left: float) -> None:
        running = sum(self.job.fractions.values()) if self.job is not None else 0.0
        eta = "estimating the time left" if math.isnan(left) else f"{format_duration(left)} left"
        self.progress.set_overall(
            (done + running) / max(1, total), f"{done} of {total} runs done · {eta}"
        )
        self.sweep_progressed.emit(done, total, left)

    def _on_ended(self, outcome: str) -> None:
        job, self.job = self.job, None
        self.job_pids = set(job.pids)
        self._set_running(False)
        rows, missing = self._write_results(self.plan.out, self.plan)
        if outcome == "finished":
            message = (
                f"Done: {len(rows)} runs ({job.skipped} finished before, {job.done - job.skipped}"
                f" trained now); horizon.csv and horizon.png in {self.plan.out}."
            )
        elif outcome == "cancelled":
            message = f"Cancelled after {len(rows)} of {len(self.plan.runs)} runs: Start continues."
        else:
            lines = [f"{name}: {line}" for name, line in job.jobs.failed[:3]] + [job.error]
            message = "Some runs failed:\n" + "\n".join(line for line in lines if line)
        self._say(message, error=outcome == "failed")
        self.sweep_finished.emit(outcome)

    # --- results ---------------------------------------------------------------------------
    def show_folder(self, folder: Path) -> None:
        """Fill the form from the sweep in ``folder`` and show its table and plot."""
        try:
            self.set_choices(sweep_choices(folder))
            plan = plan_sweep(self.choices())
        except (rf.RunFolderError, UsageError, ValueError, TypeError):  # the table only
            self.out_edit.setText(str(folder))
            plan = None
        if plan is not None:
            self.plan = plan
            self._show_command(plan)
            self.progress.set_runs(
                [r.name for r in plan.runs],
                {r.name: result_text(row) for r in plan.runs if (row := hr.read_row(r.folder))},
                steps=plan.steps,
            )
        rows, missing = self._write_results(folder, None, only_if_stale=True)
        total = len(rows) + len(missing)
        self.progress.set_overall(len(rows) / max(1, total), f"{len(rows)} of {total} runs done")
        more = ": Start continues the sweep" if missing and plan is not None else ""
        self._say(f"{len(rows)} of {total} runs finished in {folder}{more}.")

    def _write_results(self, out: Path, plan, only_if_stale: bool = False):
        """Collect the finished runs into horizon.csv and horizon.png, as ``horizon
        --collect`` does, and show the plot. Opening a sweep again rewrites nothing that is
        up to date (and a folder that cannot be written still shows its plot)."""
        rows, missing = hr.collect(out, plan)
        png = out / hr.PNG_NAME
        if not only_if_stale or results_stale(out):
            try:
                hr.write_results(out, rows, io.StringIO())
            except OSError as error:
                self._say(f"Cannot write the sweep's table or plot: {error}", error=True)
        if rows:
            self._show_plot(png)
        return rows, missing

    def _show_plot(self, path: Path) -> bool:
        pixmap = QtGui.QPixmap(str(path))
        if pixmap.isNull():
            return False
        self._pixmap = pixmap
        self._fit_plot()
        self.plot_shown.emit(str(path))
        return True

    def _fit_plot(self) -> None:
        if self._pixmap is not None:
            self.plot_label.setPixmap(
                self._pixmap.scaled(
                    self.plot_label.size(),
                    QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                    QtCore.Qt.TransformationMode.SmoothTransformation,
                )
            )

    def _show_command(self, plan: HorizonPlan) -> None:
        self.command_edit.setText(shlex.join(plan.argv))
        self.command_edit.setCursorPosition(0)

    def _say(self, text: str, error: bool = False) -> None:
        self.message_label.setStyleSheet("color: #b00020;" if error else "")
        self.message_label.setText(text)

    # --- Qt --------------------------------------------------------------------------------
    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_plot()

    def done(self, result: int) -> None:
        """Close, Esc and the title bar's button: a running sweep is cancelled."""
        self._abandon()
        super().done(result)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if event.type() == QtCore.QEvent.Type.Close and watched is not self:
            self._abandon()
        return False


def _listed(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def open_sweep(parent, folder: os.PathLike | str) -> HorizonDialog | None:
    """Show the sweep in ``folder`` again (File ▸ Open Experiment, a drop, ``seq-playground
    DIR``): its table and plot, collected when the runs changed since; Start continues it when
    runs are left. None, and a message, when ``folder`` is no sweep."""
    folder = Path(folder).expanduser().absolute()
    if not is_sweep_folder(folder):
        message = f"{folder} is not a sweep folder (it has no {SETTINGS_NAME})"
        show_error = getattr(parent, "show_error", None)
        if show_error is not None:
            show_error(message)
        else:
            QtWidgets.QMessageBox.warning(parent, "Memory horizon", message)
        return None
    dialog = HorizonDialog(parent, {}, out=folder)
    dialog.show_folder(folder)
    dialog.show()
    return dialog


def show_horizon_dialog(window) -> HorizonDialog:
    """Training ▸ Memory horizon…: the window's dialog, with the setup's task and model. A
    dialog whose sweep runs is shown again; an idle one is made anew from the setup."""
    dialog = getattr(window, "horizon_dialog", None)
    if dialog is None or not dialog.is_running():
        if dialog is not None:
            dialog.deleteLater()
        dialog = HorizonDialog(window, window.setup_panel.settings())
        window.horizon_dialog = dialog
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
