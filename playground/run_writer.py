"""Writing a run folder while the run trains (the ``train`` command's side of
``playground.run_folder``, which owns the format).

What a killed, interrupted or disk-full run leaves must still be a run folder that
``train --resume`` continues, so the writes keep three promises:

- every file is written whole to a temporary file beside it and renamed over the old one
  (``engines.atomic_files``): never half a file, and a failed write leaves the old one intact;
- the weights, their sidecar and the training state are one checkpoint: all three are written
  whole to hidden temporary files first, then renamed into place, sidecar first
  (``engines.atomic_files.atomic_write_files``, which ``save_weights`` uses too). A full disk
  fails while staging, before anything is replaced, so weights never stand without their
  sidecar, and the training state carries the SHA-256 of the weights it belongs to;
- ``metrics.csv`` always reaches at least the checkpoint's step: it is written before every
  checkpoint, and a checkpoint is not written when it fails.

A write that fails raises ``RunWriteError`` naming the file (``cannot write RUN/metrics.csv:
No space left on device``). No Qt; torch only inside the functions that write tensors.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from pathlib import Path

from playground import run_folder as rf


class RunWriteError(OSError):
    """A file of the run folder could not be written; names the file and why."""

    def __init__(self, path: os.PathLike | str, error: OSError) -> None:
        self.path = Path(path)
        self.reason = error.strerror or str(error)
        super().__init__(error.errno, self.reason, str(self.path))

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"


@contextlib.contextmanager
def writing(path: Path):
    """Turn an OSError raised inside into a RunWriteError naming ``path``."""
    try:
        yield
    except RunWriteError:
        raise
    except OSError as error:
        raise RunWriteError(path, error) from None


class FolderBusy(RuntimeError):
    """Another process is writing the same run folder."""


class FolderLock:
    """An advisory lock on a run folder (on the folder itself: no file is left behind) for
    as long as a run writes it: a job array whose job is started twice (a requeue while the
    first still runs) must not interleave two runs in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        import fcntl

        with writing(self.folder):
            self._fd = os.open(self.folder, os.O_RDONLY)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise FolderBusy(
                f"{self.folder} is being written by another seq-playground process; "
                "wait for it to end or stop it"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the lock
            self._fd = None


class MetricsFile:
    """``metrics.csv``, kept in memory and rewritten whole (atomically) at most every
    ``interval`` seconds and on ``flush``: a killed run loses seconds, never the file."""

    def __init__(self, folder: Path, rows=(), interval: float = 5.0, clock=time.monotonic):
        self.folder = folder
        self.path = folder / rf.METRICS
        self.interval = interval
        self.clock = clock
        self.rows: list[tuple] = list(rows)
        self._written = self.clock()

    def add(self, step, train_loss, test_loss, test_metric, grad_norm) -> None:
        self.rows.append((step, train_loss, test_loss, test_metric, grad_norm))
        if self.clock() - self._written >= self.interval:
            self.flush()

    def flush(self) -> None:
        # Written before the time is taken again: a failing disk is not retried every step.
        self._written = self.clock()
        with writing(self.path):
            rf.write_metrics(self.folder, self.rows)


def weights_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_checkpoint(folder: Path, engine, training_state: dict | None) -> str:
    """weights.safetensors + weights.json (+ training_state.pt) as one checkpoint; returns the
    SHA-256 of the weights file. Nothing in ``folder`` changes unless all of it was written
    (``engines.atomic_files.atomic_write_files``: staged beside, then renamed, sidecar
    first)."""
    from engines.atomic_files import atomic_write_files
    from engines.checkpoint import weights_files

    weights = folder / rf.WEIGHTS
    files = weights_files(engine, weights)
    digest = hashlib.sha256(files[weights]).hexdigest()
    if training_state is not None:
        state = {**training_state, "weights_sha256": digest}
        files[folder / rf.TRAINING_STATE] = rf.training_state_bytes(state)
    try:
        atomic_write_files(files.items())
    except OSError as error:
        raise RunWriteError(error.filename or weights, error) from None
    with writing(weights):
        if training_state is None:  # a state of other weights must not stay beside these
            (folder / rf.TRAINING_STATE).unlink(missing_ok=True)
        (folder / "weights.pt").unlink(missing_ok=True)  # an older save in the other format
    return digest


def write_frames(folder: Path, frames: list) -> None:
    with writing(folder / rf.FRAMES):
        rf.write_frames(folder, frames)


def write_summary(folder: Path, summary: dict) -> None:
    with writing(folder / rf.SUMMARY):
        rf.write_json(folder / rf.SUMMARY, summary)


def write_config(folder: Path, config: dict) -> None:
    with writing(folder / rf.CONFIG):
        rf.write_config(folder, config)


def write_sequence(folder: Path, sequences: dict) -> None:
    with writing(folder / rf.SEQUENCE):
        rf.write_sequence(folder, sequences)


def remove_stale_temporaries(folder: Path) -> None:
    """Staging folders and temporary files a killed run left behind (hidden names only)."""
    for item in folder.glob(".checkpoint-*"):
        shutil.rmtree(item, ignore_errors=True)
    for name in rf.RUN_FILES:
        for item in folder.glob(f".{name}.*"):
            with contextlib.suppress(OSError):
                item.unlink()
