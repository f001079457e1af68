"""Save Comparison and Open Comparison for the compare window.

Saving never freezes the window: a running trainer hands over every engine's weights and
training state between two rounds (a request with an id, answered in its own message), the
record is turned into plain values on the GUI thread, and a worker thread writes the folder,
reporting back through a queued signal. A failed save says why, and the previous save stays
as it was (``Comparison.save`` swaps the new folder in only once it is complete).
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6 import QtWidgets

from playground import experiment_files
from playground.comparison import Comparison
from playground.run_folder import RunFolderError


class CompareSaveJob(experiment_files.SaveJob):
    """One save in flight, as the main window's (ask the trainer, then write off the GUI
    thread), with a checkpoint per engine and the comparison as the record."""

    def _on_reply(self, request_id: int, answer) -> None:
        if request_id != self._request:
            return
        self.window.controller.reply_received.disconnect(self._on_reply)
        if isinstance(answer, list):
            self.window.comparison.set_checkpoints(answer)
        self._write()

    def _write(self) -> None:
        comparison = self.window.comparison
        try:
            data = comparison.folder_data()
        except ValueError as error:
            self._on_failed(f"Could not save the comparison: {error}")
            return
        reporter, path = self.reporter, self.path

        def work():
            try:
                comparison.save(path, data)
            except OSError as error:
                reason = error.strerror or str(error)
                name = error.filename or path
                reporter.failed.emit(f"Could not save the comparison to {name}: {reason}")
            except (RunFolderError, ValueError) as error:
                reporter.failed.emit(f"Could not save the comparison: {error}")
            else:
                reporter.finished.emit(str(path))

        self.thread = threading.Thread(target=work, name="seq-playground-save", daemon=False)
        self.thread.start()

    def _on_finished(self, path: str) -> None:
        window = self.window
        window.statusBar().showMessage(f"Saved the comparison to {path}", 8000)
        window.setWindowTitle(f"Compare engines — {Path(path).name}")
        window.comparison_saved.emit(path)
        experiment_files._jobs.discard(self)


def save_comparison(window, path=None) -> CompareSaveJob | None:
    """Save the window's comparison to ``path`` (its folder so far, or one the user picks)."""
    path = path or window.comparison.path
    if path is None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            window, "Save comparison as a folder", "comparison", "Comparison folder (*)"
        )
        if not path:
            return None
    job = CompareSaveJob(window, Path(path))
    experiment_files._jobs.add(job)  # kept alive until it reports, as the main window's
    job.start()
    return job


def read_comparison(window, path) -> Comparison | None:
    """The comparison in ``path``, or None after saying in the window why it cannot open."""
    try:
        return Comparison.open(path)
    except (RunFolderError, ValueError) as error:
        window.show_error(f"Cannot open the comparison: {error}")
    except OSError as error:
        window.show_error(f"Cannot open the comparison {path}: {error.strerror or error}")
    return None
