"""The training step applies the read-out only where a task takes its loss (``loss_steps``):
the loss is the same, bit for bit, and the gradients within 1e-7 (the read-out's weight
gradient sums the same terms in another order, so the last bit may differ), for every task and
all three engines. Evaluation keeps the read-out at every step."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from engines.config import EngineConfig
from engines.engine import create_engine
from engines.tasks import TASKS, SequenceTask, create_task
from engines.training import Trainer, TrainingConfig

_SHORT = {"adding": 30, "copy": 6, "delayed_recall": 12, "temporal_order": 20, "waveform": 25}


def _tasks():
    for name in TASKS:
        yield pytest.param(lambda name=name: create_task(name, _SHORT.get(name, 20)), id=name)
    values = np.stack([np.sin(np.arange(90) / 5.0), np.cos(np.arange(90) / 7.0)], axis=1)
    yield pytest.param(
        lambda: SequenceTask(values=values, objective="recall", delay=4, window=10),
        id="sequence-recall-values",
    )
    yield pytest.param(
        lambda: SequenceTask(symbols=np.arange(90) % 5, objective="recall", delay=3, window=8),
        id="sequence-recall-symbols",
    )
    yield pytest.param(lambda: SequenceTask(values=values, window=15), id="sequence-next")


@pytest.fixture(params=list(_tasks()))
def task(request):
    return request.param()


def test_loss_steps_are_exactly_the_masked_steps(task):
    """What makes the shortcut exact: every sample's loss is taken at ``loss_steps`` and
    nowhere else (a task whose mask varies by sample must leave it None)."""
    batch = task.sample(16, torch.Generator().manual_seed(0))
    if task.loss_steps is None:
        return
    expected = torch.zeros(batch.mask.shape[1], dtype=torch.bool)
    expected[task.loss_steps] = True
    assert torch.equal(batch.mask, expected.expand_as(batch.mask))


def test_tasks_scored_at_the_end_say_so():
    assert create_task("adding", 50).loss_steps == slice(-1, None)
    assert create_task("delayed_recall", 5).loss_steps == slice(-1, None)
    assert create_task("temporal_order", 30).loss_steps == slice(-1, None)
    assert create_task("copy", 5).loss_steps is None  # scored at every step
    recall = SequenceTask(values=np.arange(40.0), objective="recall", delay=2, window=6)
    assert recall.loss_steps == slice(-6, None)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_engine_reads_out_only_the_asked_steps(kind):
    engine = create_engine(kind, 3, 16, 4, num_layers=2, seed=1)
    x = torch.randn(5, 17, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = engine(x)
        for steps in (slice(-1, None), slice(-6, None), slice(3, 9)):
            assert torch.equal(engine(x, steps=steps), full[:, steps])


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_training_step_matches_the_read_out_at_every_step(task, kind, layers):
    config = EngineConfig(kind, task.input_size, 16, task.output_size, num_layers=layers)
    training = TrainingConfig(batch_size=24, seed=3, test_size=8, clip=0.0)
    shortcut = Trainer.create(config, task, training)
    everywhere_task = copy.copy(task)
    everywhere_task.loss_steps = None  # today's way: the read-out at every step
    everywhere = Trainer.create(config, everywhere_task, training)

    loss, grad_norm = shortcut.train_step()
    reference_loss, reference_norm = everywhere.train_step()
    assert loss == reference_loss  # bit for bit
    # The norm sums the same squares: at most two float32 rounding steps (ulps) apart.
    ulp = torch.finfo(torch.float32).eps
    assert abs(grad_norm - reference_norm) <= 2 * ulp * max(1.0, reference_norm)
    for (name, p), q in zip(
        shortcut.engine.named_parameters(), everywhere.engine.parameters(), strict=True
    ):
        difference = float((p.grad - q.grad).abs().max())
        assert difference <= 1e-7 * max(1.0, float(q.grad.abs().max())), (name, difference)


def test_evaluation_keeps_the_full_read_out():
    task = create_task("adding", 30)
    trainer = Trainer.create(EngineConfig("gru", 2, 8, 1), task, TrainingConfig(test_size=16))
    loss, _ = trainer.evaluate()
    with torch.no_grad():
        outputs = trainer.engine(trainer.test_batch.inputs)
    assert outputs.shape[1] == 30  # the views and metrics see every step
    assert loss == float(task.loss(outputs, trainer.test_batch))
