"""The gate lab in the training loop: interventions alter the probe only, never the weights
or the training, follow the network as it learns, and travel as a command."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from engines import Ablate, Clamp, EngineConfig, SetBias, Trainer, TrainingConfig, create_task
from engines import run_training as run_training_from_root
from engines.commands import SetInterventions, Step
from engines.training import run_training

LAB = (Clamp("forget", 0.0, steps=range(3, 9)), Ablate([1, 2]), SetBias("input", -4.0, units=[0]))


def make_trainer(kind: str = "lstm", seed: int = 0) -> Trainer:
    task = create_task("adding", 12)
    config = TrainingConfig(batch_size=16, test_size=32, eval_every=5, seed=seed)
    return Trainer.create(EngineConfig(kind, task.input_size, 8, task.output_size), task, config)


def test_the_package_root_exports_the_training_loop():
    assert run_training_from_root is run_training


def test_interventions_never_change_the_weights_or_the_training_losses():
    plain, probed = make_trainer(), make_trainer()
    plain_run, lab_run = run_training(plain, steps=20), run_training(probed, steps=20)
    next(plain_run)
    assert next(lab_run).probe.reference is None  # no interventions yet: the plain frame
    changed = lab_run.send(SetInterventions(LAB))  # running: one step, probed at once
    assert changed.trained and changed.probe.reference is not None
    plain_losses = [s.train_loss for s in plain_run if s.trained]
    lab_snaps = [changed, *lab_run]
    lab_losses = [s.train_loss for s in lab_snaps if s.trained]
    assert len(plain_losses) == 20
    assert lab_losses == plain_losses  # bit for bit
    for name, value in plain.engine.state_dict().items():
        assert torch.equal(probed.engine.state_dict()[name], value), name
    assert lab_snaps[-1].probe.reference is not None  # still applied at the final probe


def test_frames_under_interventions_hold_the_altered_and_the_unaltered_run():
    trainer = make_trainer()
    trainer.set_interventions([Clamp("forget", 1.0), Clamp("input", 0.0)])
    frame = trainer.probe()
    assert np.all(frame.trace.cell == 0.0)  # the altered run: nothing is ever stored
    assert frame.reference is not None and np.any(frame.reference.cell != 0.0)
    plain = trainer.engine.trace(trainer.probe_batch.inputs)
    np.testing.assert_array_equal(frame.reference.hidden, plain.hidden)  # the fast path's
    assert frame.interventions == (Clamp("forget", 1.0), Clamp("input", 0.0))
    batch = trainer.probe_batch
    with torch.no_grad():
        expected_before = float(trainer.task.loss(trainer.engine(batch.inputs), batch))
    assert frame.reference_loss == pytest.approx(expected_before, rel=1e-5)
    assert frame.probe_loss is not None and frame.probe_loss != pytest.approx(frame.reference_loss)
    # The gradient flow is the altered run's, the same as the engine computes on its own.
    expected = trainer.engine.gradient_flow(
        batch.inputs, lambda out: trainer.task.loss(out, batch), trainer.interventions
    )
    np.testing.assert_allclose(frame.gradients.hidden, expected.hidden, rtol=1e-6)
    assert frame.gradients.loss == pytest.approx(frame.probe_loss, rel=1e-5)


def test_interventions_follow_the_network_as_it_learns():
    trainer = make_trainer()
    run = run_training(trainer, start_paused=True)
    next(run)
    before = run.send(SetInterventions((Ablate([0]),))).probe
    run.send(Step(3))
    run.send(None)
    after = run.send(None).probe  # steps taken while paused are always probed
    assert (before.step, after.step) == (0, 3)
    assert np.all(after.trace.hidden[..., 0] == 0.0)
    assert not np.allclose(after.trace.hidden, before.trace.hidden)  # the weights moved on
    assert not np.allclose(after.reference.hidden, before.reference.hidden)
    run.close()


def test_set_interventions_while_paused_probes_at_once_and_empty_clears():
    trainer = make_trainer("gru")
    run = run_training(trainer, start_paused=True)
    next(run)
    snap = run.send(SetInterventions((Clamp("update", 1.0).to_dict(),)))  # dicts are accepted
    assert snap.state == "paused" and snap.step == 0 and snap.probe is not None
    assert np.all(snap.probe.trace.hidden == 0.0)
    assert snap.probe.gradients is not None
    cleared = run.send(SetInterventions(()))
    assert cleared.probe.reference is None and cleared.probe.probe_loss is None
    assert np.any(cleared.probe.trace.hidden != 0.0)
    assert trainer.interventions == ()
    run.close()


def test_an_intervention_that_does_not_fit_is_refused_with_a_message():
    trainer = make_trainer("gru")
    run = run_training(trainer, start_paused=True)
    next(run)
    snap = run.send(SetInterventions((Clamp("forget", 1.0),)))
    assert "not a gate of the GRU" in snap.message
    assert snap.state == "paused" and trainer.interventions == ()
    run.close()
    with pytest.raises(ValueError, match="units"):
        trainer.set_interventions([Ablate([8])])


def test_the_command_crosses_a_pipe_unchanged():
    command = SetInterventions(LAB)
    assert pickle.loads(pickle.dumps(command)) == command
