"""The trainer's side of a comparison: the engines in lockstep in one child process.

The protocol is ``playground.trainer_process``'s (updates only after "ready", latest state
wins, losses batched, ``("request", id, "checkpoint")`` answered in its own ``("reply", id,
...)`` message, ``("failed", message)``, ``("quit", folder_or_None)``), with two changes: an
update is a ``CompareUpdate`` holding one ``TrainerUpdate`` per engine, and a checkpoint
reply is a list of Checkpoints, one per engine. A quit's folder is not used: the compare
window keeps no "last comparison" of its own.

One process for all engines, round-robin (``engines.lockstep``): on a 2-core machine one
core trains and one draws; three trainer processes would take both from the window and
drift apart in steps.

No Qt here: this module runs where torch runs.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass, field

from engines.commands import Pause, RequestProbe
from engines.probe_schedule import (
    GRADIENT_FRACTION,
    GRADIENT_RATE_HZ,
    TRACE_FRACTION,
    ProbeSchedule,
)
from playground.trainer_process import (
    IDLE_POLL_S,
    LOSS_ONLY_INTERVAL_S,
    TrainerUpdate,
    _Accumulator,
    _restore,
    _set_threads,
    checkpoint_of,
)

ENDED = ("finished", "stopped", "error")
#: A round's probes cover every engine, so at the single run's share of training time (3 %)
#: each engine would get a third of the frames; twice that share, at up to 15 rounds a second,
#: gives each engine ~10 frames a second (the compare window's goal) where a round of three
#: small engines takes ~20 ms. The gradient flow gets twice its single-run share too.
COMPARE_TRACE_RATE_HZ = 15.0
COMPARE_SHARE = 2.0


def compare_schedules() -> tuple[ProbeSchedule, ProbeSchedule]:
    """(trace schedule, gradient-flow schedule) of the lockstep rounds, as the trainer uses
    them."""
    return (
        ProbeSchedule(COMPARE_TRACE_RATE_HZ, TRACE_FRACTION * COMPARE_SHARE),
        ProbeSchedule(GRADIENT_RATE_HZ, GRADIENT_FRACTION * COMPARE_SHARE),
    )


@dataclass
class CompareUpdate:
    """Everything that happened in a comparison since the previous update."""

    state: str
    step: int
    updates: list[TrainerUpdate]  # one per engine, in the comparison's order
    steps_per_second: float
    message: str = ""
    checkpoints: list = field(default_factory=list)  # per engine, on the update ending a run


def compare_main(conn, spec, autostart: bool = True, resume=None) -> None:
    """Child-process entry (``spec``: a ``playground.compare_spec.CompareSpec``). Never
    raises: failures go back as ``("failed", message, detail)``. ``resume``: one
    ``playground.experiment.Checkpoint`` per engine to continue from, or None."""
    import signal

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the app decides when we stop
    try:
        _set_threads()
        _serve(conn, spec, autostart, resume)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the app went away
    except Exception as error:  # noqa: BLE001 - everything must reach the app as a message
        detail = traceback.format_exc(limit=6)
        with contextlib.suppress(OSError, EOFError):
            conn.send(("failed", f"{type(error).__name__}: {error}", detail))
    finally:
        with contextlib.suppress(OSError):
            conn.close()


class _Lockstep:
    """The engines' trainers, their lockstep run and what is gathered between updates."""

    def __init__(self, spec, autostart: bool, resume) -> None:
        from engines.lockstep import run_lockstep

        task = spec.validate()
        self.trainers = spec.build_trainers(task)
        if resume is not None:
            if len(resume) != len(self.trainers):
                raise ValueError(
                    f"{len(resume)} checkpoints to continue from, {len(self.trainers)} engines"
                )
            for trainer, checkpoint in zip(self.trainers, resume, strict=True):
                _restore(trainer, checkpoint)
        self.infos = [
            {
                "task": task.describe(),
                "engine": trainer.engine.config.to_dict(),
                "parameters": sum(p.numel() for p in trainer.engine.parameters()),
                "input_names": list(getattr(task, "input_names", ()) or ()),
            }
            for trainer in self.trainers
        ]
        probes, gradients = compare_schedules()
        self.run = run_lockstep(
            self.trainers,
            start_paused=not autostart,
            schedule=probes,
            gradient_schedule=gradients,
            labels=spec.engine_labels(),
        )
        self.gathered = [_Accumulator() for _ in self.trainers]
        self.device = str(self.trainers[0].device)

    def add(self, snap) -> None:
        for gathered, each in zip(self.gathered, snap.snapshots, strict=True):
            gathered.add(each)

    def worth_sending(self, since_sent: float) -> bool:
        if any(g.frame is not None for g in self.gathered):
            return True
        return any(g.has_news() for g in self.gathered) and since_sent >= LOSS_ONLY_INTERVAL_S

    def checkpoints(self) -> list:
        return [checkpoint_of(trainer) for trainer in self.trainers]

    def take(self, snap, rate: float, final: bool) -> CompareUpdate:
        updates = [
            gathered.take(each, rate, self.device, info)
            for gathered, each, info in zip(self.gathered, snap.snapshots, self.infos, strict=True)
        ]
        return CompareUpdate(
            state=snap.state,
            step=snap.step,
            updates=updates,
            steps_per_second=rate,
            message=snap.message,
            checkpoints=self.checkpoints() if final else [],
        )


def _serve(conn, spec, autostart: bool, resume) -> None:
    lockstep = _Lockstep(spec, autostart, resume)
    app_ready = True  # the first update (the untrained networks) goes out at once
    sent_state, sent_at = None, 0.0
    rate_steps, rate_time, steps_per_second = 0, time.perf_counter(), 0.0
    snap = next(lockstep.run)
    lockstep.add(snap)
    while True:
        now = time.perf_counter()
        if now - rate_time >= 0.5:
            steps_per_second = rate_steps / (now - rate_time)
            rate_steps, rate_time = 0, now
        ended = snap.state in ENDED
        changed = snap.state != sent_state or bool(snap.message)
        if (app_ready and (changed or lockstep.worth_sending(now - sent_at))) or ended:
            rate = steps_per_second if snap.state == "running" else 0.0
            final = ended and snap.state != "error"
            conn.send(("update", lockstep.take(snap, rate, final)))
            app_ready, sent_state, sent_at = False, snap.state, now
        if ended:
            _answer_until_quit(conn, lockstep)
            return
        command, app_ready, quit_asked = _receive(conn, snap.state == "paused", app_ready, lockstep)
        if quit_asked:
            lockstep.run.close()
            return
        if command is None and snap.state == "paused" and not snap.trained:
            continue  # idle while paused; a Step(n) in progress keeps stepping
        snap = lockstep.run.send(command)
        if isinstance(command, Pause):
            lockstep.add(snap)
            snap = lockstep.run.send(RequestProbe())  # show exactly where the run stopped
        lockstep.add(snap)
        if snap.trained:
            rate_steps += 1


def _receive(conn, paused: bool, app_ready: bool, lockstep: _Lockstep):
    """(first command or None, app ready, quit asked): requests are answered on the spot,
    other commands wait in the pipe; blocks briefly only while paused."""
    wait = IDLE_POLL_S if paused else 0.0
    while conn.poll(wait):
        message = conn.recv()
        kind = message[0]
        if kind == "quit":
            return None, app_ready, True
        if kind == "ready":
            app_ready, wait = True, 0.0
        elif kind == "request":
            _answer(conn, message, lockstep)
        elif kind == "command":
            return message[1], app_ready, False
    return None, app_ready, False


def _answer(conn, message, lockstep: _Lockstep) -> None:
    request_id, what = message[1], message[2]
    if what == "checkpoint":
        conn.send(("reply", request_id, lockstep.checkpoints()))
    else:
        conn.send(("reply", request_id, ValueError(f"unknown request {what!r}")))


def _answer_until_quit(conn, lockstep: _Lockstep) -> None:
    """After the run ended, answer requests until the app says quit (or goes away)."""
    while True:
        message = conn.recv()
        if message[0] == "quit":
            return
        if message[0] == "request":
            _answer(conn, message, lockstep)
