"""The app's side of the trainer process: start, command, listen, stop.

One run at a time: starting a new one stops the old one first. Updates are pulled at display
rate: after each update the controller tells the trainer it is ready for the next one, and
the trainer sends its latest state only then, so nothing queues up and the window sets the
pace.
"""

from __future__ import annotations

import contextlib
import multiprocessing

from PySide6.QtCore import QObject, QTimer, Signal

from engines.commands import Pause, Resume, SetClip, SetLearningRate, Step, Stop
from playground.run_spec import RunSpec
from playground.trainer_process import TrainerUpdate, trainer_main

POLL_MS = 5  # a poll is one cheap syscall; a short period keeps the probe round trip short
JOIN_TIMEOUT_S = 3.0


class TrainingController(QObject):
    """Owns the trainer process. States: idle, starting, running, paused, finished,
    stopped, error."""

    update_received = Signal(object)  # TrainerUpdate
    state_changed = Signal(str)
    run_failed = Signal(str)  # a message for the user

    def __init__(self, parent: QObject | None = None, poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._context = multiprocessing.get_context("spawn")
        self._process = None
        self._conn = None
        self._awaiting_update = False
        self._state = "idle"
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._poll)

    # --- queries ---------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def is_active(self) -> bool:
        """A run exists that can still train (running, paused or starting)."""
        return self._state in ("starting", "running", "paused")

    # --- commands --------------------------------------------------------------------------
    def start(self, spec: RunSpec, autostart: bool = True) -> None:
        """Start a new run (the old one, if any, is stopped and joined first)."""
        self.shutdown()
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=trainer_main,
            args=(child_conn, spec, autostart),
            daemon=True,
            name="seq-playground-trainer",
        )
        process.start()
        child_conn.close()
        self._process, self._conn = process, parent_conn
        self._awaiting_update = True  # the trainer sends its first update unasked
        self._set_state("starting")
        self._timer.start()

    def pause(self) -> None:
        self._send_command(Pause())

    def resume(self) -> None:
        self._send_command(Resume())

    def step(self, count: int = 1) -> None:
        self._send_command(Step(count))

    def set_learning_rate(self, lr: float) -> None:
        self._send_command(SetLearningRate(float(lr)))

    def set_clip(self, clip: float) -> None:
        self._send_command(SetClip(float(clip)))

    def stop(self) -> None:
        """Ask the run to stop; it answers with a last update, then the process is joined."""
        self._send_command(Stop())

    def shutdown(self, _next_state: str = "idle") -> None:
        """Stop the process cooperatively, join it; terminate it only if it does not answer."""
        self._timer.stop()
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("quit",))
        if process is not None:
            process.join(JOIN_TIMEOUT_S)
            if process.is_alive():
                process.terminate()
                process.join(JOIN_TIMEOUT_S)
            if process.is_alive():  # pragma: no cover - a hung interpreter
                process.kill()
                process.join()
            process.close()
        if conn is not None:
            conn.close()
        if self._state in ("starting", "running", "paused"):
            self._set_state(_next_state)

    # --- internals -------------------------------------------------------------------------
    def _send_command(self, command) -> None:
        if self._conn is None:
            return
        try:
            self._conn.send(("command", command))
        except (OSError, ValueError):
            self._lost()

    def _poll(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            while conn.poll():
                message = conn.recv()
                if message[0] == "update":
                    self._awaiting_update = False
                    self._on_update(message[1])
                elif message[0] == "failed":
                    self._fail(message[1])
                    return
            if not self._awaiting_update and self.is_active():
                conn.send(("ready",))
                self._awaiting_update = True
        except (EOFError, OSError, ValueError):
            self._lost()

    def _on_update(self, update: TrainerUpdate) -> None:
        self.update_received.emit(update)
        if update.state != self._state:
            self._set_state(update.state)
        if update.state == "error" and update.message:
            self.run_failed.emit(update.message)

    def _lost(self) -> None:
        process = self._process
        code = process.exitcode if process is not None else None
        if self._state in ("finished", "stopped", "error"):
            return
        self._fail(
            "The trainer process stopped unexpectedly"
            + (f" (exit code {code})." if code is not None else ".")
        )

    def _fail(self, message: str) -> None:
        self.shutdown(_next_state="error")
        self._set_state("error")
        self.run_failed.emit(message)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)
