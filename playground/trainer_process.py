"""The trainer's side of the pipe: runs ``engines.training.run_training`` in a child process.

Why a process: small recurrent models spend their time in many small torch calls that hold
the GIL, so a trainer thread and the GUI thread starve each other (design notes, section 3).
Protocol, one pipe, plain picklable values:

- app -> trainer: ``("command", Command)`` and ``("ready",)`` (the app has drawn and wants
  the next update) and ``("quit",)``.
- trainer -> app: ``("update", TrainerUpdate)`` only after a ``ready``: latest state wins,
  losses since the last update are batched, nothing queues up unboundedly.
  ``("failed", message)`` when the run cannot start or crashes.

No Qt here: this module runs where torch runs.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from engines.commands import Pause, RequestProbe
from engines.probe_schedule import display_schedules
from engines.training import ProbeFrame, Snapshot

IDLE_POLL_S = 0.05
LOSS_ONLY_INTERVAL_S = 0.1


@dataclass
class TrainerUpdate:
    """Everything that happened since the previous update."""

    state: str
    step: int
    steps: np.ndarray  # int64: the steps trained since the last update
    losses: np.ndarray  # float32, their training losses
    grad_norms: np.ndarray  # float32
    eval_steps: np.ndarray
    eval_losses: np.ndarray
    eval_metrics: np.ndarray
    frame: ProbeFrame | None
    lr: float
    clip: float
    steps_per_second: float
    device: str
    message: str = ""
    info: dict = field(default_factory=dict)


class _Accumulator:
    """Collects snapshots between two updates."""

    def __init__(self) -> None:
        self.reset()
        self.frame: ProbeFrame | None = None

    def reset(self) -> None:
        self.steps, self.losses, self.grad_norms = [], [], []
        self.eval_steps, self.eval_losses, self.eval_metrics = [], [], []

    def has_news(self) -> bool:
        return bool(self.steps or self.eval_steps) or self.frame is not None

    def add(self, snap: Snapshot) -> None:
        if snap.train_loss is not None:
            self.steps.append(snap.step)
            self.losses.append(snap.train_loss)
            self.grad_norms.append(snap.grad_norm if snap.grad_norm is not None else math.nan)
        if snap.test_loss is not None:
            self.eval_steps.append(snap.step)
            self.eval_losses.append(snap.test_loss)
            self.eval_metrics.append(snap.test_metric)
        if snap.probe is not None:
            self.frame = snap.probe

    def take(self, snap: Snapshot, steps_per_second: float, device: str, info: dict):
        update = TrainerUpdate(
            state=snap.state,
            step=snap.step,
            steps=np.asarray(self.steps, dtype=np.int64),
            losses=np.asarray(self.losses, dtype=np.float32),
            grad_norms=np.asarray(self.grad_norms, dtype=np.float32),
            eval_steps=np.asarray(self.eval_steps, dtype=np.int64),
            eval_losses=np.asarray(self.eval_losses, dtype=np.float32),
            eval_metrics=np.asarray(self.eval_metrics, dtype=np.float32),
            frame=self.frame,
            lr=snap.lr,
            clip=snap.clip,
            steps_per_second=steps_per_second,
            device=device,
            message=snap.message,
            info=info,
        )
        self.reset()
        self.frame = None
        return update


def _set_threads() -> None:
    """Leave a core to the GUI: torch uses the others (at least one)."""
    import torch

    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores - 1))


def trainer_main(conn, spec, autostart: bool = True) -> None:
    """Child-process entry point. Never raises: failures go back as ``("failed", msg)``."""
    try:
        _set_threads()
        _serve(conn, spec, autostart)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the app went away; nothing to report to
    except Exception as error:  # noqa: BLE001 - everything must reach the app as a message
        detail = traceback.format_exc(limit=6)
        with contextlib.suppress(OSError, EOFError):
            conn.send(("failed", f"{type(error).__name__}: {error}", detail))
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def _serve(conn, spec, autostart: bool) -> None:
    from engines.training import Trainer, run_training

    task = spec.validate()
    trainer = Trainer.create(
        spec.engine_config(task),
        task,
        spec.training_config(),
        device=spec.settings["device"],
        probe_batch=spec.build_probe(task),
    )
    info = {
        "task": task.describe(),
        "engine": trainer.engine.config.to_dict(),
        "parameters": sum(p.numel() for p in trainer.engine.parameters()),
        "input_names": list(getattr(task, "input_names", ()) or ()),
    }
    # Probe at display rate within the display budget (a few percent of training time). The
    # freshest frame waits for the app's "ready", so the app never waits for a probe: probing
    # only after "ready" halved the frame rate (the round trip then includes a whole step).
    probes, gradient_probes = display_schedules()
    run = run_training(
        trainer,
        start_paused=not autostart,
        schedule=probes,
        gradient_schedule=gradient_probes,
    )
    acc = _Accumulator()
    device = str(trainer.device)
    app_ready = True  # the first update (the untrained network) goes out at once
    sent_state, sent_at = None, 0.0
    rate_steps, rate_time, steps_per_second = 0, time.perf_counter(), 0.0

    snap = next(run)
    acc.add(snap)
    while True:
        now = time.perf_counter()
        if now - rate_time >= 0.5:
            steps_per_second = rate_steps / (now - rate_time)
            rate_steps, rate_time = 0, now
        ended = snap.state in ("finished", "stopped", "error")
        changed = snap.state != sent_state or bool(snap.message)
        # A running trainer answers "ready" with its next probe frame; losses alone go out
        # at most 10 times a second (while the probe budget holds frames back).
        worth_sending = (
            changed
            or acc.frame is not None
            or (acc.has_news() and now - sent_at >= LOSS_ONLY_INTERVAL_S)
        )
        if (app_ready and worth_sending) or ended:
            rate = steps_per_second if snap.state == "running" else 0.0
            conn.send(("update", acc.take(snap, rate, device, info)))
            app_ready, sent_state, sent_at = False, snap.state, now
        if ended:
            _drain_until_quit(conn)
            return
        command, app_ready, quit_asked = _receive(conn, snap.state == "paused", app_ready)
        if quit_asked:
            run.close()
            return
        if command is None and snap.state == "paused" and not snap.trained:
            continue  # idle while paused; a Step(n) in progress keeps stepping
        snap = run.send(command)
        if isinstance(command, Pause):
            acc.add(snap)
            snap = run.send(RequestProbe())  # show exactly where the run stopped
        acc.add(snap)
        if snap.trained:
            rate_steps += 1


def _receive(conn, paused: bool, app_ready: bool):
    """Read what the app sent: the first command (others wait in the pipe), whether the app
    is ready for an update, whether it asked us to quit. Blocks briefly only while paused."""
    wait = IDLE_POLL_S if paused else 0.0
    while conn.poll(wait):
        message = conn.recv()
        if message[0] == "quit":
            return None, app_ready, True
        if message[0] == "ready":
            app_ready = True
            wait = 0.0
            continue
        if message[0] == "command":
            return message[1], app_ready, False
    return None, app_ready, False


def _drain_until_quit(conn) -> None:
    """After the run ended, wait for the app to say quit (or vanish), so the app decides
    when the process goes away."""
    while True:
        message = conn.recv()
        if message[0] == "quit":
            return
