"""File ▸ Save / Open Experiment, Reopen Last, and weights in and out, for the main window.

Saving never freezes the window: the trainer hands over its weights and training state
between two steps (a request with an id, answered in its own message), the record is turned
into plain values on the GUI thread (cheap: references to immutable frames), and the files
are written by a worker thread that reports back through a queued signal. A failed save says
why, and the previous save stays intact (``playground.run_folder.save_run_folder``).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from playground.experiment import Checkpoint, Experiment
from playground.run_folder import RunFolderError, is_run_folder


class _Reporter(QtCore.QObject):
    """Carries a worker thread's result back to the GUI thread (queued signals)."""

    finished = QtCore.Signal(str)
    failed = QtCore.Signal(str)


class SaveJob:
    """One save in flight: ask the trainer for its checkpoint (when there is a trainer),
    then write the record in a worker thread, which reports through a queued signal.

    This one saves the main window's experiment; a subclass saves another record by naming
    it (``noun``, ``record``), taking the trainer's answer (``take_checkpoint``) and saying in
    its window that it is saved (``saved``).
    """

    noun = "experiment"

    def __init__(self, window, path: Path) -> None:
        self.window = window
        self.path = path
        self.reporter = _Reporter()
        self.reporter.finished.connect(self._on_finished)
        self.reporter.failed.connect(self._on_failed)
        self._request: int | None = None
        self.thread: threading.Thread | None = None

    # --- what differs between records ---------------------------------------------------------
    def record(self):
        """What is saved: it has ``folder_data()`` and ``save(path, data)``."""
        return self.window.experiment

    def take_checkpoint(self, answer) -> None:
        """Keep the trainer's answer to the checkpoint request in the record."""
        if isinstance(answer, Checkpoint):
            self.window.experiment.set_checkpoint(answer)

    def saved(self, path: str) -> None:
        """The folder is written: tell the window."""
        window = self.window
        window.recent_experiments.add(path)
        window.menus.refresh_recent(window)
        window.statusBar().showMessage(f"Saved the experiment to {path}", 8000)
        window.setWindowTitle(f"Sequence Memory Playground — {Path(path).name}")
        window.experiment_saved.emit(path)

    # --- the job ------------------------------------------------------------------------------
    def start(self) -> None:
        _jobs.add(self)  # kept alive until it reports
        controller = self.window.controller
        if controller.has_process():
            self._request = controller.request_checkpoint()
        if self._request is None:
            self._write()
            return
        controller.reply_received.connect(self._on_reply)
        self.window.statusBar().showMessage(f"Saving {self.path.name}…")

    def _on_reply(self, request_id: int, answer) -> None:
        if request_id != self._request:
            return
        self.window.controller.reply_received.disconnect(self._on_reply)
        self.take_checkpoint(answer)
        self._write()

    def _write(self) -> None:
        record, noun = self.record(), self.noun
        try:
            data = record.folder_data()
        except ValueError as error:
            self._on_failed(f"Could not save the {noun}: {error}")
            return
        reporter, path = self.reporter, self.path

        def work():
            try:
                record.save(path, data)
            except OSError as error:
                reason = error.strerror or str(error)
                name = error.filename or path
                reporter.failed.emit(f"Could not save the {noun} to {name}: {reason}")
            except (RunFolderError, ValueError) as error:
                reporter.failed.emit(f"Could not save the {noun}: {error}")
            else:
                reporter.finished.emit(str(path))

        self.thread = threading.Thread(target=work, name="seq-playground-save", daemon=False)
        self.thread.start()

    def _on_finished(self, path: str) -> None:
        self.saved(path)
        _jobs.discard(self)

    def _on_failed(self, message: str) -> None:
        self.window.show_error(message)
        _jobs.discard(self)


_jobs: set[SaveJob] = set()


def ask_save_folder(window, caption: str, name: str, kind: str) -> Path | None:
    """A folder to save into, picked by the user; None when they cancel."""
    path, _ = QtWidgets.QFileDialog.getSaveFileName(window, caption, name, f"{kind} (*)")
    return Path(path) if path else None


def save_experiment(window, path: str | os.PathLike | None = None, ask: bool = False):
    """Save the record to ``path`` (its folder so far, or a folder the user picks)."""
    if path is None and not ask:
        path = window.experiment.path
    if path is None:
        path = ask_save_folder(
            window, "Save experiment as a run folder", "experiment", "Run folder"
        )
        if path is None:
            return None
    job = SaveJob(window, Path(path))
    job.start()
    return job


def open_experiment_dialog(window) -> bool:
    path = QtWidgets.QFileDialog.getExistingDirectory(
        window, "Open experiment (a run folder, a comparison or a sweep)"
    )
    return bool(path) and open_path(window, path)


def open_experiment(window, path) -> bool:
    """Open a run folder written by the app or ``seq-playground train``; say what could not
    be read. A folder that is no run at all changes nothing."""
    try:
        experiment = Experiment.open(path)
    except (RunFolderError, ValueError) as error:
        window.show_error(f"Cannot open the experiment: {error}")
        return False
    except OSError as error:
        window.show_error(f"Cannot open the experiment {path}: {error.strerror or error}")
        return False
    window.set_experiment(experiment)
    window.hide_error()
    if experiment.notes:
        window.show_error("Opened with problems:\n" + "\n".join(experiment.notes))
    window.recent_experiments.add(str(path))
    window.menus.refresh_recent(window)
    window.setWindowTitle(f"Sequence Memory Playground — {Path(path).name}")
    window.statusBar().showMessage(
        f"Opened {Path(path).name} at step {experiment.step}: Train continues from there", 8000
    )
    window.experiment_opened.emit(str(path))
    return True


def open_path(window, path: str) -> bool:
    """A dropped or command-line path: a run folder opens as an experiment, a weights file
    loads its weights, anything else is a sequence file."""
    from playground.comparison import is_comparison_folder
    from playground.horizon_dialog import is_sweep_folder, open_sweep

    if is_sweep_folder(path):
        window.horizon_dialog = open_sweep(window, path)
        return window.horizon_dialog is not None
    if is_comparison_folder(path):
        from playground.window_menus import open_compare_window

        open_compare_window(window, path)
        return True
    if is_run_folder(path):
        return open_experiment(window, path)
    if Path(path).is_dir():
        window.show_error(f"{path} is a folder but not a run folder (it has no config.json)")
        return False
    if Path(path).suffix.lower() in (".safetensors", ".pt"):
        return load_weights(window, path)
    return window.open_sequence_file(path)


def reopen_last_experiment(window) -> bool:
    from playground.last_experiment import kept_last_experiment

    preferences = window.preferences
    folder = preferences.last_experiment_folder() if preferences is not None else None
    folder = kept_last_experiment(folder) if folder is not None else None
    if folder is None:
        window.show_error("There is no last experiment yet: it is kept when the window closes.")
        return False
    return open_experiment(window, folder)


# --- weights ---------------------------------------------------------------------------------
WEIGHTS_FILTER = "safetensors (*.safetensors);;PyTorch state dict (*.pt)"


def export_weights_dialog(window) -> None:
    path, chosen = QtWidgets.QFileDialog.getSaveFileName(
        window, "Export weights", "weights.safetensors", WEIGHTS_FILTER
    )
    if path:
        if not Path(path).suffix:
            path += ".pt" if "*.pt" in chosen else ".safetensors"
        export_weights(window, path)


def export_weights(window, path) -> bool:
    """Write the latest weights (asked from the trainer first, when there is one)."""
    controller = window.controller
    if controller.has_process():
        request = controller.request_checkpoint()

        def on_reply(request_id, answer):
            if request_id != request:
                return
            controller.reply_received.disconnect(on_reply)
            if isinstance(answer, Checkpoint):
                window.experiment.set_checkpoint(answer)
            _write_weights(window, path)

        controller.reply_received.connect(on_reply)
        return True
    return _write_weights(window, path)


def _write_weights(window, path) -> bool:
    from engines.checkpoint import WeightsFileError, save_weights
    from engines.config import EngineConfig
    from engines.engine import build_engine

    checkpoint = window.experiment.checkpoint
    if checkpoint is None:
        window.show_error("There are no trained weights to export yet: train for a moment first.")
        return False
    try:
        engine = build_engine(EngineConfig.from_dict(checkpoint.engine_config), seed=0)
        engine.load_state_dict(checkpoint.weights)
        saved = save_weights(engine, path)
    except WeightsFileError as error:
        window.show_error(f"Could not export the weights: {error}")
        return False
    except OSError as error:
        window.show_error(f"Could not export the weights to {path}: {error.strerror or error}")
        return False
    window.statusBar().showMessage(f"Exported the weights to {saved} (+ its .json sidecar)", 8000)
    return True


def load_weights_dialog(window) -> None:
    path, _ = QtWidgets.QFileDialog.getOpenFileName(
        window, "Load weights", "", "Weights (*.safetensors *.pt);;All files (*)"
    )
    if path:
        load_weights(window, path)


def load_weights(window, path, accept_fix=None) -> bool:
    """Load a weights file into the current setup; a setup that does not fit is explained
    and the fix offered ("this file has 64 hidden units, the setup 32: use 64?").
    ``accept_fix(question) -> bool`` stands in for the dialog (tests, scripts)."""
    from playground.weights_loading import WeightsMismatch, read_for_setup

    if window.controller.is_active():
        window.show_error("Stop or reset the run before loading weights into it.")
        return False
    spec = window.current_spec()
    try:
        loaded = read_for_setup(path, spec)
    except WeightsMismatch as mismatch:
        if not mismatch.fix:
            window.show_error(f"Cannot load {Path(path).name}: {mismatch}")
            return False
        ask = accept_fix or (lambda question: _ask(window, question))
        if not ask(str(mismatch)):
            return False
        settings = {**window.setup_panel.settings(), **mismatch.fix}
        window.setup_panel.set_settings(settings)
        spec = window.current_spec()
        try:
            loaded = read_for_setup(path, spec)
        except (WeightsMismatch, ValueError) as error:
            window.show_error(f"Cannot load {Path(path).name}: {error}")
            return False
    except ValueError as error:  # WeightsFileError names the file and the problem
        window.show_error(f"Cannot load the weights: {error}")
        return False
    experiment = window.experiment
    window.controller.shutdown()
    experiment.new_run(spec)
    experiment.set_checkpoint(loaded)
    window.hide_error()
    window.statusBar().showMessage(
        f"Loaded {Path(path).name}: Train or Step starts from these weights. {loaded.note}",
        12000,
    )
    window.request_preview()  # the loaded network on the probe sequence, at step 0
    return True


def _ask(window, question: str) -> bool:
    answer = QtWidgets.QMessageBox.question(
        window,
        "The weights do not fit the setup",
        question,
        QtWidgets.QMessageBox.StandardButton.Yes | QtWidgets.QMessageBox.StandardButton.No,
    )
    return answer == QtWidgets.QMessageBox.StandardButton.Yes
