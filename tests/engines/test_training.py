"""The training loop as the app and the command line use it: determinism, commands between
steps, divergence, and probing at display rate without paying for it every step."""

from __future__ import annotations

import math

import pytest

from engines.commands import Pause, RequestProbe, Resume, SetClip, SetLearningRate, Step, Stop
from engines.config import EngineConfig
from engines.probe_schedule import ProbeSchedule
from engines.tasks.registry import create_task
from engines.training import Trainer, TrainingConfig, run_training


def make_trainer(kind="lstm", length=12, **training) -> Trainer:
    task = create_task("adding", length)
    config = TrainingConfig(**({"batch_size": 16, "test_size": 32, "eval_every": 5} | training))
    return Trainer.create(EngineConfig(kind, task.input_size, 8, task.output_size), task, config)


def losses_of(trainer: Trainer, steps: int) -> list[float]:
    return [s.train_loss for s in run_training(trainer, steps) if s.trained]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_same_seed_same_loss_curve_bit_for_bit(kind):
    first = losses_of(make_trainer(kind, seed=3), 25)
    second = losses_of(make_trainer(kind, seed=3), 25)
    other = losses_of(make_trainer(kind, seed=4), 25)
    assert first == second
    assert first != other


def test_run_starts_with_the_untrained_network_and_finishes_with_a_final_evaluation():
    snaps = list(run_training(make_trainer(), steps=7))
    first, last = snaps[0], snaps[-1]
    assert first.step == 0 and not first.trained
    assert first.test_loss is not None and first.probe is not None
    assert [s.step for s in snaps[1:]] == list(range(1, 8))
    assert last.state == "finished" and last.test_loss is not None and last.probe is not None
    evaluated = [s.step for s in snaps if s.test_loss is not None]
    assert evaluated == [0, 5, 7]


def test_untrained_loss_is_far_above_what_training_reaches():
    trainer = make_trainer(length=10, lr=1e-2, batch_size=32)
    snaps = list(run_training(trainer, steps=150))
    assert snaps[-1].test_loss < snaps[0].test_loss / 2


def test_pause_step_resume_and_live_settings():
    trainer = make_trainer()
    run = run_training(trainer)
    assert next(run).state == "running"
    assert run.send(None).step == 1
    paused = run.send(Pause())
    assert paused.state == "paused" and paused.step == 1 and not paused.trained
    assert run.send(None).step == 1  # paused: nothing trains
    probed = run.send(RequestProbe())
    assert probed.probe is not None and probed.probe.step == 1
    stepped = run.send(Step(2))
    assert (stepped.step, stepped.state, stepped.trained) == (2, "paused", True)
    assert stepped.probe is not None  # single steps are always probed
    assert run.send(None).step == 3
    assert not run.send(None).trained
    changed = run.send(SetLearningRate(0.02))
    assert changed.lr == pytest.approx(0.02) and trainer.lr == pytest.approx(0.02)
    assert run.send(SetClip(0.0)).clip == 0.0
    resumed = run.send(Resume())
    assert resumed.state == "running" and resumed.step == 4
    stopped = run.send(Stop())
    assert stopped.state == "stopped"
    with pytest.raises(StopIteration):
        run.send(None)


def test_an_impossible_learning_rate_is_refused_and_the_run_goes_on():
    run = run_training(make_trainer())
    next(run)
    snap = run.send(SetLearningRate(-1.0))
    assert "learning rate" in snap.message
    assert snap.state == "running" and snap.lr == pytest.approx(5e-3)
    assert run.send(None).trained


def test_exploding_gradients_stop_the_run_with_advice():
    task = create_task("adding", 20)
    config = TrainingConfig(optimizer="sgd", lr=10.0, clip=0.0, batch_size=16, test_size=32)
    engine_config = EngineConfig("rnn", task.input_size, 16, task.output_size, init="identity")
    trainer = Trainer.create(engine_config, task, config)
    snaps = list(run_training(trainer, steps=500))
    last = snaps[-1]
    assert last.state == "error"
    assert last.step < 500
    assert "clipping" in last.message and "learning rate" in last.message
    assert all(math.isfinite(s.train_loss) for s in snaps if s.trained)


def test_probes_follow_the_schedule_not_every_step():
    class Clock:
        now = 0.0

        def __call__(self):
            self.now += 0.001  # every call: 1 ms of "work"
            return self.now

    clock = Clock()
    schedule = ProbeSchedule(rate_hz=30.0, max_fraction=1.0)
    snaps = list(run_training(make_trainer(), steps=200, schedule=schedule, clock=clock))
    probed = [s.step for s in snaps if s.probe is not None]
    assert 2 < len(probed) < 100  # far fewer probes than steps
    assert probed[-1] == 200  # the final state is always probed


def test_probe_schedule_keeps_probing_cost_under_its_fraction():
    schedule = ProbeSchedule(rate_hz=30.0, max_fraction=0.05)
    assert schedule.due(0.0)
    schedule.record(0.0, 0.01)  # a 10 ms probe
    assert not schedule.due(0.01 + 1 / 30)  # display rate alone would allow it
    assert schedule.due(0.01 + 0.2)  # 10 ms / 0.05 = 200 ms later
    schedule.record(1.0, 1.0001)  # a cheap probe: display rate rules
    assert not schedule.due(1.0001 + 0.02)
    assert schedule.due(1.0001 + 1 / 30)
    with pytest.raises(ValueError, match="max_fraction"):
        ProbeSchedule(max_fraction=0)


def test_training_config_rejects_bad_values_by_name():
    for kwargs, name in [
        ({"optimizer": "adagrad"}, "optimizer"),
        ({"lr": 0}, "learning rate"),
        ({"lr": float("nan")}, "learning rate"),
        ({"clip": -1}, "clip"),
        ({"batch_size": 0}, "batch_size"),
        ({"seed": -2}, "seed"),
    ]:
        with pytest.raises(ValueError, match=name):
            TrainingConfig(**kwargs)


def test_engine_and_task_sizes_must_agree():
    task = create_task("adding", 10)
    from engines.engine import create_engine

    with pytest.raises(ValueError, match="do not fit"):
        Trainer(create_engine("lstm", 3, 4, 1), task, TrainingConfig())


def test_out_of_memory_ends_the_run_with_advice_instead_of_a_crash(monkeypatch):
    import torch

    trainer = make_trainer()

    def out_of_memory():
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer, "train_step", out_of_memory)
    last = list(run_training(trainer, steps=10))[-1]
    assert last.state == "error"
    assert "ran out of memory" in last.message and "smaller batch" in last.message


def test_a_probe_batch_with_nan_is_refused_when_the_run_is_built():
    import torch

    task = create_task("adding", 12)
    probe = task.sample(1, torch.Generator().manual_seed(0))
    probe.inputs[0, 3, 0] = float("nan")
    config = TrainingConfig(batch_size=8, test_size=8)
    engine = EngineConfig("lstm", task.input_size, 8, task.output_size)
    with pytest.raises(ValueError, match="NaN"):
        Trainer.create(engine, task, config, probe_batch=probe)
