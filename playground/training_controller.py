"""The app's side of the trainer process: start, command, listen, stop.

One run at a time: starting a new one stops the old one first. Updates are pulled at display
rate: after each update the controller tells the trainer it is ready for the next one, and
the trainer sends its latest state only then, so nothing queues up and the window sets the
pace. Requests that want an answer (the weights for a save) carry an id and come back in
their own message.

Nothing here waits for the trainer on the GUI thread: stopping sends "quit" and hands the
process to a reaper thread that joins it, terminates it if it does not answer and kills it
if it is frozen (a SIGSTOPped child never sees SIGTERM). A trainer that stays silent for a
few seconds while it should be training is reported as not answering.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import threading
import time

from PySide6.QtCore import QObject, QTimer, Signal

from engines.commands import Pause, Resume, SetClip, SetLearningRate, Step, Stop
from playground.run_spec import RunSpec
from playground.trainer_process import TrainerUpdate, trainer_main

POLL_MS = 5  # a poll is one cheap syscall; a short period keeps the probe round trip short
QUIT_GRACE_S = 2.0  # the reaper waits this long for a cooperative exit, then terminates
KILL_GRACE_S = 0.5  # ... and this long after SIGTERM before SIGKILL
SILENT_AFTER_S = 4.0  # no word from a trainer that should be talking: "not answering"


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def reap(process, conn, grace: float = QUIT_GRACE_S, gone: threading.Event | None = None) -> None:
    """Join ``process``: wait ``grace`` seconds, then SIGTERM, then SIGKILL. Never raises.
    ``gone`` is set at the end, when the process exited, or could not be waited for."""
    try:
        process.join(grace)
        if process.is_alive():
            process.terminate()
            process.join(KILL_GRACE_S)
        if process.is_alive():
            process.kill()  # also ends a stopped (SIGSTOP) process, which SIGTERM cannot
            process.join()
        process.close()
    except (OSError, ValueError):  # pragma: no cover - already closed
        pass
    finally:
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
        if gone is not None:
            gone.set()


class TrainingController(QObject):
    """Owns the trainer process. States: idle, starting, running, paused, finished,
    stopped, error."""

    update_received = Signal(object)  # TrainerUpdate
    state_changed = Signal(str)
    run_failed = Signal(str)  # a message for the user
    reply_received = Signal(int, object)  # request id, its answer (an Exception on failure)
    responsiveness_changed = Signal(bool)  # False: the trainer stopped answering
    #: The child process's entry point, called as ``(conn, spec, autostart, resume)``
    #: (``playground.compare_controller`` runs its lockstep trainer the same way).
    process_target = staticmethod(trainer_main)

    def __init__(self, parent: QObject | None = None, poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self._context = multiprocessing.get_context("spawn")
        self._process = None
        self._conn = None
        self._awaiting_update = False
        self._state = "idle"
        self._ids = itertools.count(1)
        self._pending: set[int] = set()
        self._reapers: list[threading.Thread] = []
        self._gone = _set_event()  # set once the present trainer process is gone
        self._heard_at = time.monotonic()
        self._responsive = True
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

    def has_process(self) -> bool:
        """A trainer process is there to answer requests (an ended run's stays until reset)."""
        return self._conn is not None

    def is_responsive(self) -> bool:
        return self._responsive

    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def process_gone(self) -> threading.Event:
        """An event set once the present trainer process has exited (already set when there
        is none): a thread waiting for what the trainer writes as it quits (``shutdown``'s
        ``save_to``) waits on it, whoever stops the trainer, and never blocks the GUI."""
        return self._gone

    # --- commands --------------------------------------------------------------------------
    def start(self, spec: RunSpec, autostart: bool = True, resume=None) -> None:
        """Start a new run (the old one, if any, is stopped first, off this thread).
        ``resume``: a ``playground.experiment.Checkpoint`` to continue from."""
        self.shutdown()
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=self.process_target,
            args=(child_conn, spec, autostart, resume),
            daemon=True,
            name="seq-playground-trainer",
        )
        process.start()
        child_conn.close()
        self._process, self._conn = process, parent_conn
        self._gone = threading.Event()
        self._awaiting_update = True  # the trainer sends its first update unasked
        self._heard_at = time.monotonic()
        self._set_responsive(True)
        self._set_state("starting")
        self._timer.start()

    def pause(self) -> None:
        """Pause; during start-up the command waits in the pipe and applies at once."""
        self._send_command(Pause())

    def resume(self) -> None:
        self._send_command(Resume())

    def step(self, count: int = 1) -> None:
        self._send_command(Step(count))

    def set_learning_rate(self, lr: float) -> None:
        self._send_command(SetLearningRate(float(lr)))

    def set_clip(self, clip: float) -> None:
        self._send_command(SetClip(float(clip)))

    def send_command(self, command) -> None:
        """Any ``engines.commands`` command (interventions, analyses, ...)."""
        self._send_command(command)

    def stop(self) -> None:
        """Ask the run to stop; it answers with a last update, then the process is joined."""
        self._send_command(Stop())

    def request_checkpoint(self) -> int | None:
        """Ask for the weights and training state now; the answer arrives as
        ``reply_received(id, Checkpoint)``. None when there is no trainer to ask."""
        if self._conn is None:
            return None
        request_id = next(self._ids)
        try:
            self._conn.send(("request", request_id, "checkpoint"))
        except (OSError, ValueError):
            self._lost()
            return None
        self._pending.add(request_id)
        return request_id

    def shutdown(self, _next_state: str = "idle", save_to=None) -> None:
        """Stop the process; returns at once (a reaper thread joins it). ``save_to``: a
        folder where the trainer writes its weights and training state before it exits."""
        self._timer.stop()
        process, conn = self._process, self._conn
        self._process = self._conn = None
        for request_id in sorted(self._pending):
            self.reply_received.emit(request_id, RuntimeError("the run was stopped"))
        self._pending.clear()
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):
                conn.send(("quit", None if save_to is None else str(save_to)))
        if process is not None:
            reaper = threading.Thread(
                target=reap,
                args=(process, conn),
                kwargs={"gone": self._gone},
                name="seq-playground-reaper",
                daemon=False,
            )
            reaper.start()
            self._reapers = [r for r in self._reapers if r.is_alive()] + [reaper]
            self._gone = _set_event()  # the reaper sets the stopped process's own
        elif conn is not None:
            conn.close()
        self._set_responsive(True)
        self._set_state(_next_state)

    def wait_stopped(self, timeout: float = 10.0) -> bool:
        """Wait for every stopped trainer to be gone (tests, and the app's very end)."""
        deadline = time.monotonic() + timeout
        for reaper in list(self._reapers):
            reaper.join(max(0.0, deadline - time.monotonic()))
        self._reapers = [r for r in self._reapers if r.is_alive()]
        return not self._reapers

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
            heard = False
            while conn.poll():
                message = conn.recv()
                heard = True
                if message[0] == "update":
                    self._awaiting_update = False
                    self._on_update(message[1])
                elif message[0] == "reply":
                    self._pending.discard(message[1])
                    self.reply_received.emit(message[1], message[2])
                elif message[0] == "failed":
                    self._fail(message[1])
                    return
                if self._conn is not conn:  # a slot stopped or restarted the run
                    return
            if heard:
                self._heard_at = time.monotonic()
                self._set_responsive(True)
            elif self._awaiting_update and self._state in ("running", "starting"):
                silent = time.monotonic() - self._heard_at
                if silent > SILENT_AFTER_S * (4 if self._state == "starting" else 1):
                    self._set_responsive(False)
            if self._process is not None and not self._process.is_alive():
                raise EOFError
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
            self.shutdown()
            return
        self._fail(
            "The trainer process stopped unexpectedly"
            + (f" (exit code {code})." if code is not None else ".")
        )

    def _fail(self, message: str) -> None:
        self.shutdown(_next_state="error")
        self._set_state("error")
        self.run_failed.emit(message)

    def _set_responsive(self, responsive: bool) -> None:
        if responsive != self._responsive:
            self._responsive = responsive
            self.responsiveness_changed.emit(responsive)

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)
