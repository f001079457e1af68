"""Several trainers in lockstep: the engines of a comparison, trained side by side.

``run_lockstep`` drives one ``run_training`` generator per trainer, round-robin, one step each
per round, so every engine has taken the same number of steps whenever a snapshot is yielded;
a command sent between rounds goes to all of them (Pause, Resume, Step, SetLearningRate,
SetClip, Stop). Trainers built from one data seed (``Trainer.create(..., weights_seed=...)``)
draw identical batches in that order, so they learn from the same sequences.

Probes are decided once per round for all trainers (``_RoundSchedule``), so the frames of
every engine come from the same training steps and the views can show them side by side; the
probe budget counts the round's probes together against the round's training time.

One process, one thread, round-robin: on a 2-core machine three trainer processes would fight
each other and the GUI for the cores, and their steps would drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace

from engines.commands import Command
from engines.probe_schedule import ProbeSchedule
from engines.training import Snapshot, Trainer, run_training

ENDED = ("finished", "stopped", "error")


@dataclass(frozen=True)
class LockstepSnapshot:
    """Every trainer's Snapshot after the same round, in the order of the trainers."""

    step: int
    state: str  # "running", "paused", "finished", "stopped" or "error"
    snapshots: tuple[Snapshot, ...]
    message: str = ""

    @property
    def trained(self) -> bool:
        return any(snap.trained for snap in self.snapshots)


class _RoundSchedule:
    """A ProbeSchedule's answer fixed for one round, so that all trainers probe together.

    Each trainer's ``run_training`` asks ``due`` and reports its probe's cost with ``record``;
    the round's costs are summed and reported to the real schedule once, at its end.
    """

    def __init__(self, schedule: ProbeSchedule) -> None:
        self.schedule = schedule
        self._due = False
        self._cost = 0.0
        self._end: float | None = None

    def begin(self, now: float) -> None:
        self._due = self.schedule.due(now)
        self._cost, self._end = 0.0, None

    def due(self, _now: float) -> bool:
        return self._due

    def record(self, start: float, end: float) -> None:
        self._cost += max(0.0, end - start)
        self._end = end

    def finish(self) -> None:
        if self._end is not None:
            self.schedule.record(self._end - self._cost, self._end)


def run_lockstep(
    trainers: Sequence[Trainer],
    steps: int | None = None,
    *,
    start_paused: bool = False,
    schedule: ProbeSchedule | None = None,
    gradient_schedule: ProbeSchedule | None = None,
    clock=time.perf_counter,
    labels: Sequence[str] | None = None,
) -> Generator[LockstepSnapshot, Command | None, None]:
    """Train ``trainers`` one step each per round, yielding a LockstepSnapshot per round.

    The contract is ``run_training``'s, for all trainers at once: the first snapshot holds
    every trainer's evaluation and probe; ``send`` a command between rounds; ``steps`` ends
    the run "finished" and ``Stop`` "stopped". A trainer that diverges (or runs out of
    memory) ends the whole run as "error", its message prefixed by its label (default
    "engine 2 (GRU)"); the others are then reported "stopped". ValueError when there is no
    trainer, when they are not all at the same step, or when ``labels`` does not fit.
    """
    trainers = list(trainers)
    if not trainers:
        raise ValueError("trainers must hold at least one trainer")
    if len({trainer.step for trainer in trainers}) > 1:
        at = ", ".join(str(trainer.step) for trainer in trainers)
        raise ValueError(f"trainers must all be at the same step to train in lockstep, got {at}")
    if labels is None:
        labels = [
            f"engine {i + 1} ({t.engine.config.kind.upper()})" for i, t in enumerate(trainers)
        ]
    elif len(labels) != len(trainers):
        raise ValueError(
            f"labels must name each of the {len(trainers)} trainers, got {len(labels)}"
        )
    trace_round = None if schedule is None else _RoundSchedule(schedule)
    gradient_round = None if gradient_schedule is None else _RoundSchedule(gradient_schedule)
    rounds = [r for r in (trace_round, gradient_round) if r is not None]
    runs = [
        run_training(
            trainer,
            steps,
            start_paused=start_paused,
            schedule=trace_round,
            gradient_schedule=gradient_round,
            clock=clock,
        )
        for trainer in trainers
    ]

    def one_round(command, first=False) -> LockstepSnapshot:
        now = clock()
        for each in rounds:
            each.begin(now)
        snaps = [next(run) if first else run.send(command) for run in runs]
        for each in rounds:
            each.finish()
        return _combine(snaps, labels)

    try:
        snap = one_round(None, first=True)
        while snap.state not in ENDED:
            command = yield snap
            snap = one_round(command)
        yield snap
    finally:
        for run in runs:
            run.close()


def _combine(snaps: list[Snapshot], labels) -> LockstepSnapshot:
    """One LockstepSnapshot of a round: a diverged trainer's error wins, and stops the rest."""
    failed = next((i for i, s in enumerate(snaps) if s.state == "error"), None)
    if failed is not None:
        message = f"{labels[failed]}: {snaps[failed].message}"
        snaps = [s if i == failed else replace(s, state="stopped") for i, s in enumerate(snaps)]
        return LockstepSnapshot(snaps[failed].step, "error", tuple(snaps), message)
    states = {s.state for s in snaps}
    state = next((s for s in ENDED if s in states), snaps[0].state)
    message = next((s.message for s in snaps if s.message), "")
    return LockstepSnapshot(snaps[0].step, state, tuple(snaps), message)
