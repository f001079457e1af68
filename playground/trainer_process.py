"""The trainer's side of the pipe: runs ``engines.training.run_training`` in a child process.

Why a process: small recurrent models spend their time in many small torch calls that hold
the GIL, so a trainer thread and the GUI thread starve each other (design notes, section 3).
Protocol, one pipe, plain picklable values:

- app -> trainer: ``("command", Command)`` and ``("ready",)`` (the app has drawn and wants
  the next update), ``("request", id, "checkpoint")`` (the weights and training state now,
  for a save) and ``("quit", folder_or_None)`` (with a folder: write the weights and
  training state there first, so closing the window keeps the run without waiting on it).
- trainer -> app: ``("update", TrainerUpdate)`` only after a ``ready``: latest state wins,
  losses since the last update are batched, nothing queues up unboundedly. A request is
  answered between two steps with ``("reply", id, Checkpoint)`` in its own message, which the
  latest-wins update cannot overwrite. ``("failed", message)`` when the run cannot start or
  crashes. The update that ends a run carries the final checkpoint.

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
from engines.out_of_memory import OutOfMemoryAdvice, is_out_of_memory, out_of_memory_advice
from engines.probe_schedule import analysis_schedule, display_schedules
from engines.training import ProbeFrame, Snapshot

IDLE_POLL_S = 0.05
ENDED_STATES = ("finished", "stopped", "error")
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
    checkpoint: object = None  # playground.experiment.Checkpoint, on the update ending a run


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

    def take(
        self, snap: Snapshot, steps_per_second: float, device: str, info: dict, checkpoint=None
    ):
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
            checkpoint=checkpoint,
        )
        self.reset()
        self.frame = None
        return update


def _set_threads() -> None:
    """Leave a core to the GUI: torch uses the others (at least one)."""
    import torch

    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores - 1))


def trainer_main(conn, spec, autostart: bool = True, resume=None) -> None:
    """Child-process entry point. Never raises: failures go back as ``("failed", msg)``.

    ``resume``: a ``playground.experiment.Checkpoint`` to continue from (weights, and the
    training state when known, so the run continues exactly)."""
    run_child(conn, lambda: serve(conn, _Single(spec, autostart, resume)))


def run_child(conn, body) -> None:
    """What every trainer process does around its ``body()``: ignore Ctrl+C, leave a core
    to the GUI, and turn any failure into a ``("failed", message, detail)`` message (an app
    that went away gets none); the pipe is closed at the end."""
    import signal

    # Ctrl+C in the terminal reaches the whole process group: the app decides when we stop.
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _set_threads()
        body()
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the app went away; nothing to report to
    except Exception as error:  # noqa: BLE001 - everything must reach the app as a message
        detail = traceback.format_exc(limit=6)
        with contextlib.suppress(OSError, EOFError):
            conn.send(("failed", failure_message(error), detail))
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def failure_message(error: BaseException) -> str:
    """What the app shows of a run that failed: running out of memory (building the run,
    restoring it) as advice (smaller batch, hidden size or sequence), never the allocator's
    text; anything else as its type and message."""
    if isinstance(error, OutOfMemoryAdvice):
        return str(error)
    if is_out_of_memory(error):
        import torch

        device = "cuda" if isinstance(error, torch.cuda.OutOfMemoryError) else "cpu"
        return out_of_memory_advice(device, None, "starting the run")
    return f"{type(error).__name__}: {error}"


def run_info(task, trainer) -> dict:
    """What the app shows of a run before its first frame: task, engine, size, inputs."""
    return {
        "task": task.describe(),
        "engine": trainer.engine.config.to_dict(),
        "parameters": sum(p.numel() for p in trainer.engine.parameters()),
        "input_names": list(getattr(task, "input_names", ()) or ()),
    }


def checkpoint_of(trainer):
    """The trainer's weights and training state now, as CPU tensors (a consistent pair: it
    is taken between two steps)."""
    from playground.experiment import Checkpoint

    weights = {k: v.detach().to("cpu", copy=True) for k, v in trainer.engine.state_dict().items()}
    return Checkpoint(
        step=trainer.step,
        weights=weights,
        training_state=trainer.training_state(),
        engine_config=trainer.engine.config.to_dict(),
    )


def _restore(trainer, resume) -> None:
    """Load a checkpoint's weights (shapes checked) and training state into ``trainer``."""
    from engines.config import EngineConfig

    saved, own = EngineConfig.from_dict(resume.engine_config), trainer.engine.config
    core = ("kind", "input_size", "hidden_size", "output_size", "num_layers")
    if any(getattr(saved, name) != getattr(own, name) for name in core):
        raise ValueError(
            "the saved weights belong to another engine configuration "
            f"({resume.engine_config}); this run is {trainer.engine.config.to_dict()}"
        )
    trainer.engine.load_state_dict(resume.weights, strict=True)
    if resume.training_state is not None:
        trainer.load_training_state(resume.training_state)
    else:
        trainer.step = int(resume.step)


def _save_on_quit(trainer, folder) -> None:
    """Write the weights, their sidecar and the training state into ``folder`` as one
    checkpoint (``run_writer.write_checkpoint``: all staged, then renamed; a failure leaves
    none of them). The app writes the rest."""
    from pathlib import Path

    import torch

    from playground.run_writer import write_checkpoint

    if not all(bool(torch.isfinite(p).all()) for p in trainer.engine.parameters()):
        return  # a diverged run: its weights are no use to anyone
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        if folder is not None and Path(folder).is_dir():
            write_checkpoint(Path(folder), trainer.engine, trainer.training_state())


class _Single:
    """One engine's trainer, its training run and what is gathered between updates: the
    single run's side of ``serve`` (``compare_process._Lockstep`` is the comparison's)."""

    def __init__(self, spec, autostart: bool, resume=None) -> None:
        from engines.training import Trainer, run_training

        task = spec.validate()
        self.trainer = Trainer.create(
            spec.engine_config(task),
            task,
            spec.training_config(),
            device=spec.settings["device"],
            probe_batch=spec.build_probe(task),
        )
        if resume is not None:
            _restore(self.trainer, resume)
        self.info = run_info(task, self.trainer)
        # Probe at display rate within the display budget (a few percent of training time).
        # The freshest frame waits for the app's "ready", so the app never waits for a probe:
        # probing only after "ready" halved the frame rate (the round trip includes a step).
        probes, gradient_probes = display_schedules()
        self.run = run_training(
            self.trainer,
            start_paused=not autostart,
            schedule=probes,
            gradient_schedule=gradient_probes,
            analysis_schedule=analysis_schedule(),
        )
        self.gathered = _Accumulator()
        self.device = str(self.trainer.device)

    def add(self, snap: Snapshot) -> None:
        self.gathered.add(snap)

    def worth_sending(self, since_sent: float) -> bool:
        """A running trainer answers "ready" with its next probe frame; losses alone go out
        at most 10 times a second (while the probe budget holds frames back)."""
        gathered = self.gathered
        return gathered.frame is not None or (
            gathered.has_news() and since_sent >= LOSS_ONLY_INTERVAL_S
        )

    def checkpoints(self):
        return checkpoint_of(self.trainer)

    def take(self, snap: Snapshot, rate: float, final: bool) -> TrainerUpdate:
        checkpoint = self.checkpoints() if final else None
        return self.gathered.take(snap, rate, self.device, self.info, checkpoint)

    def quit(self, folder) -> None:
        _save_on_quit(self.trainer, folder)


def serve(conn, source) -> None:
    """The trainer's loop, for one engine (``_Single``) or engines in lockstep: step the
    ``source``'s run, send an update when the app is ready (latest state wins), answer
    requests, follow commands, and end with ``source.quit(folder_or_None)`` when the app
    says quit.

    ``source`` has ``run`` (the training generator), ``add(snap)``,
    ``worth_sending(seconds_since_sent)``, ``take(snap, rate, final)`` (the update),
    ``checkpoints()`` (the answer to a checkpoint request) and ``quit(folder)``."""
    run = source.run
    app_ready = True  # the first update (the untrained network) goes out at once
    sent_state, sent_at = None, 0.0
    rate_steps, rate_time, steps_per_second = 0, time.perf_counter(), 0.0

    snap = next(run)
    source.add(snap)
    while True:
        now = time.perf_counter()
        if now - rate_time >= 0.5:
            steps_per_second = rate_steps / (now - rate_time)
            rate_steps, rate_time = 0, now
        ended = snap.state in ENDED_STATES
        changed = snap.state != sent_state or bool(snap.message)
        if (app_ready and (changed or source.worth_sending(now - sent_at))) or ended:
            rate = steps_per_second if snap.state == "running" else 0.0
            final = ended and snap.state != "error"
            conn.send(("update", source.take(snap, rate, final)))
            app_ready, sent_state, sent_at = False, snap.state, now
        if ended:
            source.quit(_answer_until_quit(conn, source.checkpoints))
            return
        paused = snap.state == "paused"
        command, app_ready, quit_asked = _receive(conn, paused, app_ready, source.checkpoints)
        if quit_asked:
            run.close()
            source.quit(quit_asked[0])
            return
        if command is None and paused and not snap.trained:
            continue  # idle while paused; a Step(n) in progress keeps stepping
        snap = run.send(command)
        if isinstance(command, Pause):
            source.add(snap)
            snap = run.send(RequestProbe())  # show exactly where the run stopped
        source.add(snap)
        if snap.trained:
            rate_steps += 1


def _receive(conn, paused: bool, app_ready: bool, checkpoints):
    """Read what the app sent: the first command (others wait in the pipe), whether the app
    is ready for an update, whether it asked us to quit (``(folder,)`` then, else None).
    Requests are answered on the spot (``checkpoints()``). Blocks briefly only while
    paused."""
    wait = IDLE_POLL_S if paused else 0.0
    while conn.poll(wait):
        message = conn.recv()
        if message[0] == "quit":
            return None, app_ready, (message[1] if len(message) > 1 else None,)
        if message[0] == "ready":
            app_ready = True
            wait = 0.0
            continue
        if message[0] == "request":
            _answer(conn, message, checkpoints)
            continue
        if message[0] == "command":
            return message[1], app_ready, None
    return None, app_ready, None


def _answer(conn, message, checkpoints) -> None:
    request_id, what = message[1], message[2]
    if what == "checkpoint":
        conn.send(("reply", request_id, checkpoints()))
    else:
        conn.send(("reply", request_id, ValueError(f"unknown request {what!r}")))


def _answer_until_quit(conn, checkpoints):
    """After the run ended, answer requests and wait for the app to say quit (or vanish),
    so the app decides when the process goes away. Returns the quit's folder (or None)."""
    while True:
        message = conn.recv()
        if message[0] == "quit":
            return message[1] if len(message) > 1 else None
        if message[0] == "request":
            _answer(conn, message, checkpoints)
