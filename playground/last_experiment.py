"""The last experiment, kept when the window closes: written off the GUI thread beside the
one kept before and swapped in only once complete, so closing never waits and never loses the
previous one (File ▸ Reopen Last Experiment finds it)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from pathlib import Path

from playground.run_folder import is_run_folder, swap_in, write_run_files

#: How long the thread keeping the last experiment waits for the trainer to write its weights
#: as it quits (the reaper ends it within seconds, killing it if need be).
TRAINER_QUIT_WAIT_S = 30.0
#: Staging folders older than this beside the last experiment are left from a killed app.
STALE_AFTER_S = 3600.0
_keepers: list[threading.Thread] = []


def kept_last_experiment(folder: Path) -> Path | None:
    """The kept last experiment: ``folder``, or, where the app was killed in the instant
    between its two renames, the previous one still set aside beside it; None if none."""
    if is_run_folder(folder):
        return folder
    with contextlib.suppress(OSError):
        aside = [p / "run" for p in folder.parent.glob(f".{folder.name}.old-*")]
        aside = [p for p in aside if is_run_folder(p)]
        if aside:
            return max(aside, key=lambda p: p.stat().st_mtime)
    return None


def keep_last_experiment(window, folder: Path) -> Path | None:
    """Keep the record as the last experiment in ``folder`` without waiting, and without
    ever losing the one kept before: the new one is written beside it, in a hidden staging
    folder (the record's files by a worker thread, the weights by a live trainer as it
    quits), and only once complete swapped in by two renames. Until then the previous last
    experiment stays as it was, and it stays if the write fails or the app is killed.

    Returns the staging folder a live trainer should write its weights into (``shutdown``'s
    ``save_to``), None when there is no trainer."""
    experiment = window.experiment
    if not len(experiment.metrics) and experiment.checkpoint is None:
        return None
    controller = window.controller
    trainer_writes = controller.has_process()
    data = experiment.folder_data()
    if trainer_writes:
        data.weights = data.training_state = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.saving-"))
    except OSError:
        return None
    # Taken now, before the window stops the trainer: set once that process is gone.
    trainer_gone = controller.process_gone() if trainer_writes else None
    thread = threading.Thread(
        target=_keep,
        args=(folder, staging, data, trainer_gone),
        name="seq-playground-keep-last",
        daemon=False,  # the interpreter waits for it: the app's end does not cut it short
    )
    _keepers[:] = [t for t in _keepers if t.is_alive()] + [thread]
    thread.start()
    return staging if trainer_writes else None


def wait_kept(timeout: float = 60.0) -> bool:
    """Wait until every last experiment being kept is written (tests, scripts)."""
    deadline = time.monotonic() + timeout
    for thread in list(_keepers):
        thread.join(max(0.0, deadline - time.monotonic()))
    return not any(thread.is_alive() for thread in _keepers)


def _keep(folder: Path, staging: Path, data, trainer_gone: threading.Event | None) -> None:
    """The worker thread: write ``data`` into ``staging``, wait for the trainer writing its
    weights there, then swap it in; on any failure remove it, leaving ``folder`` as it was."""
    try:
        try:
            write_run_files(staging, data)
        finally:  # even when failing: it must be done with the folder before it goes
            if trainer_gone is not None:
                trainer_gone.wait(TRAINER_QUIT_WAIT_S)
        old = swap_in(staging, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except Exception:  # noqa: BLE001 - closing: nowhere to report; the previous one stays
        shutil.rmtree(staging, ignore_errors=True)
        return
    _remove_stale(folder)


def _remove_stale(folder: Path) -> None:
    """Staging and set-aside folders an app killed while closing left beside ``folder``
    (old ones only: another window may be closing right now)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for pattern in (f".{folder.name}.saving-*", f".{folder.name}.old-*"):
            for item in folder.parent.glob(pattern):
                with contextlib.suppress(OSError):
                    if now - item.stat().st_mtime > STALE_AFTER_S:
                        shutil.rmtree(item, ignore_errors=True)
