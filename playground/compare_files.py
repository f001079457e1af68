"""Save Comparison and Open Comparison for the compare window.

Saving never freezes the window: a running trainer hands over every engine's weights and
training state between two rounds (a request with an id, answered in its own message), the
record is turned into plain values on the GUI thread, and a worker thread writes the folder,
reporting back through a queued signal. A failed save says why, and the previous save stays
as it was (``Comparison.save`` swaps the new folder in only once it is complete).
"""

from __future__ import annotations

from pathlib import Path

from playground import experiment_files
from playground.comparison import Comparison
from playground.run_folder import RunFolderError


class CompareSaveJob(experiment_files.SaveJob):
    """The main window's save job (ask the trainer, then write off the GUI thread), with a
    checkpoint per engine and the comparison as the record."""

    noun = "comparison"

    def record(self) -> Comparison:
        return self.window.comparison

    def take_checkpoint(self, answer) -> None:
        if isinstance(answer, list):
            self.window.comparison.set_checkpoints(answer)

    def saved(self, path: str) -> None:
        window = self.window
        window.statusBar().showMessage(f"Saved the comparison to {path}", 8000)
        window.setWindowTitle(f"Compare engines — {Path(path).name}")
        window.comparison_saved.emit(path)


def save_comparison(window, path=None) -> CompareSaveJob | None:
    """Save the window's comparison to ``path`` (its folder so far, or one the user picks)."""
    path = path or window.comparison.path
    if path is None:
        path = experiment_files.ask_save_folder(
            window, "Save comparison as a folder", "comparison", "Comparison folder"
        )
        if path is None:
            return None
    job = CompareSaveJob(window, Path(path))
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
