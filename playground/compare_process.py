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

from dataclasses import dataclass, field

from engines.probe_schedule import (
    GRADIENT_FRACTION,
    GRADIENT_RATE_HZ,
    TRACE_FRACTION,
    AveragedSchedule,
    ProbeSchedule,
)
from playground.trainer_process import (
    LOSS_ONLY_INTERVAL_S,
    TrainerUpdate,
    _Accumulator,
    _restore,
    checkpoint_of,
    run_child,
    run_info,
    serve,
)

#: A round's probes cover every engine, so at the single run's share of training time (3 %)
#: each engine would get a third of the frames; twice that share, at up to 15 rounds a second,
#: gives each engine 10-15 frames a second (the compare window's goal: 10) where a round of
#: three small engines takes ~30 ms and its probes ~3 ms. Rounds are coarse moments to start a
#: probe at, so the schedules hold their rate and share on average (AveragedSchedule). The
#: gradient flow gets twice its single-run share too.
COMPARE_TRACE_RATE_HZ = 15.0
COMPARE_SHARE = 2.0


def compare_schedules() -> tuple[ProbeSchedule, ProbeSchedule]:
    """(trace schedule, gradient-flow schedule) of the lockstep rounds, as the trainer uses
    them."""
    return (
        AveragedSchedule(COMPARE_TRACE_RATE_HZ, TRACE_FRACTION * COMPARE_SHARE),
        AveragedSchedule(GRADIENT_RATE_HZ, GRADIENT_FRACTION * COMPARE_SHARE),
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
    run_child(conn, lambda: serve(conn, _Lockstep(spec, autostart, resume)))


class _Lockstep:
    """The engines' trainers, their lockstep run and what is gathered between updates: the
    comparison's side of ``playground.trainer_process.serve``."""

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
        self.infos = [run_info(task, trainer) for trainer in self.trainers]
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

    def quit(self, folder) -> None:
        """The compare window keeps no "last comparison": a quit's folder is not used."""
