"""Engines trained side by side: one data seed gives every engine the same batches, held-out
and probe sets; each has its own weights seed; lockstep keeps their step counts equal and
applies every command to all of them."""

from __future__ import annotations

import pytest
import torch

from engines.commands import Pause, Resume, SetClip, SetLearningRate, Step, Stop
from engines.config import EngineConfig
from engines.lockstep import run_lockstep
from engines.probe_schedule import ProbeSchedule
from engines.tasks.registry import create_task
from engines.training import Trainer, TrainingConfig, TrainingDiverged

KINDS = ("lstm", "gru", "rnn")


def _trainers(kinds=KINDS, seeds=(0, 1, 2), data_seed=0, **training):
    """One trainer per kind on the adding problem, each with its own task object (so their
    batches can be recorded apart) and the same data seed."""
    config = TrainingConfig(batch_size=8, test_size=16, eval_every=4, seed=data_seed, **training)
    trainers = []
    for kind, seed in zip(kinds, seeds, strict=True):
        task = create_task("adding", 12)
        engine = EngineConfig(kind, task.input_size, 6, task.output_size)
        trainers.append(Trainer.create(engine, task, config, weights_seed=seed))
    return trainers


def _record_batches(trainer) -> list:
    """Keep every training batch the trainer's task draws."""
    seen = []
    sample = trainer.task.sample

    def recording(batch_size, generator):
        seen.append(sample(batch_size, generator))
        return seen[-1]

    trainer.task.sample = recording
    return seen


def test_the_engines_of_one_data_seed_share_batches_held_out_and_probe_sets():
    trainers = _trainers()
    batches = [_record_batches(t) for t in trainers]
    run = run_lockstep(trainers)
    next(run)
    for _ in range(3):
        run.send(None)
    run.close()
    for other in batches[1:]:
        assert len(other) == len(batches[0]) == 3
        for mine, theirs in zip(batches[0], other, strict=True):
            assert torch.equal(mine.inputs, theirs.inputs)
            assert torch.equal(mine.targets, theirs.targets)
    first = trainers[0]
    for other in trainers[1:]:
        assert torch.equal(first.test_batch.inputs, other.test_batch.inputs)
        assert torch.equal(first.probe_batch.inputs, other.probe_batch.inputs)


def test_another_data_seed_gives_other_batches():
    ours, theirs = _trainers(("lstm",), (0,)), _trainers(("lstm",), (0,), data_seed=5)
    mine, other = _record_batches(ours[0]), _record_batches(theirs[0])
    ours[0].train_step()
    theirs[0].train_step()
    assert not torch.equal(mine[0].inputs, other[0].inputs)


def test_weights_come_from_the_weights_seed_and_default_to_the_data_seed():
    a, b, same = _trainers(("gru", "gru", "gru"), (0, 1, 0))
    weights = [t.engine.core.weight_hh_l0 for t in (a, b, same)]
    assert not torch.equal(weights[0], weights[1])
    assert torch.equal(weights[0], weights[2])
    task = create_task("adding", 12)
    plain = Trainer.create(
        EngineConfig("gru", task.input_size, 6, task.output_size),
        task,
        TrainingConfig(batch_size=8, test_size=16, seed=0),
    )
    assert torch.equal(plain.engine.core.weight_hh_l0, weights[0])
    with pytest.raises(ValueError, match="weights_seed"):
        Trainer.create(plain.engine.config, task, plain.config, weights_seed=-1)


def test_lockstep_takes_the_same_steps_and_commands_apply_to_all():
    trainers = _trainers()
    run = run_lockstep(trainers, start_paused=True)
    first = next(run)
    assert first.state == "paused" and [s.step for s in first.snapshots] == [0, 0, 0]
    assert all(s.probe is not None and s.test_loss is not None for s in first.snapshots)
    snap = run.send(Step(3))
    while snap.trained and snap.state == "paused" and snap.step < 3:
        snap = run.send(None)
    assert [t.step for t in trainers] == [3, 3, 3]
    snap = run.send(SetLearningRate(0.02))
    snap = run.send(SetClip(0.5))
    assert [t.lr for t in trainers] == [0.02] * 3 and [t.clip for t in trainers] == [0.5] * 3
    snap = run.send(Resume())
    for _ in range(4):
        assert snap.state == "running" and len({s.step for s in snap.snapshots}) == 1
        snap = run.send(None)
    snap = run.send(Pause())
    paused_at = [t.step for t in trainers]
    snap = run.send(None)
    assert snap.state == "paused" and [t.step for t in trainers] == paused_at
    last = run.send(Stop())
    assert last.state == "stopped" and all(s.state == "stopped" for s in last.snapshots)
    with pytest.raises(StopIteration):
        run.send(None)


def test_a_step_budget_finishes_every_engine_at_the_same_step():
    trainers = _trainers()
    snaps = list(run_lockstep(trainers, steps=5))
    assert [s.step for s in snaps] == list(range(6))
    assert snaps[-1].state == "finished"
    assert all(s.state == "finished" and s.probe is not None for s in snaps[-1].snapshots)
    evaluated = [[s.step for s in snap.snapshots if s.test_loss is not None] for snap in snaps]
    assert all(len(e) in (0, 3) for e in evaluated)  # all engines evaluated at the same steps


def test_probes_come_for_every_engine_at_the_same_steps():
    clock = iter(range(10_000)).__next__  # every call one "second" later: a probe is always due
    trainers = _trainers()
    schedule = ProbeSchedule(rate_hz=0.5, max_fraction=1.0)  # at most every 2 "seconds"
    snaps = list(run_lockstep(trainers, steps=12, schedule=schedule, clock=clock))
    probed = [[s.probe is not None for s in snap.snapshots] for snap in snaps[1:-1]]
    assert all(len(set(row)) == 1 for row in probed)  # all or none, round by round
    assert 0 < sum(row[0] for row in probed) < len(probed)
    assert schedule.count == sum(row[0] for row in probed) + 2  # one record per round probed


def test_a_diverging_engine_ends_the_run_with_its_name():
    trainers = _trainers()

    def diverge():
        raise TrainingDiverged("the loss became nan at step 3")

    run = run_lockstep(trainers, labels=["LSTM", "GRU", "RNN"])
    next(run)
    run.send(None)
    trainers[1].train_step = diverge
    snap = run.send(None)
    assert snap.state == "error" and snap.message.startswith("GRU: the loss became nan")
    assert [s.state for s in snap.snapshots] == ["stopped", "error", "stopped"]
    with pytest.raises(StopIteration):
        run.send(None)


def test_trainers_at_different_steps_are_refused():
    trainers = _trainers(("lstm", "gru"), (0, 1))
    trainers[0].train_step()
    with pytest.raises(ValueError, match="same step"):
        next(run_lockstep(trainers))
    with pytest.raises(ValueError, match="at least one"):
        next(run_lockstep([]))
