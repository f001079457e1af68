"""Running out of memory on the CPU ends a run with the same advice as on CUDA; any other
runtime error is still an error of the program, not advice."""

from __future__ import annotations

import pytest
import torch

from engines.config import EngineConfig
from engines.out_of_memory import OutOfMemoryAdvice, is_out_of_memory
from engines.tasks.registry import create_task
from engines.training import Trainer, TrainingConfig, run_training


def make_trainer() -> Trainer:
    task = create_task("adding", 12)
    config = TrainingConfig(batch_size=16, test_size=32, eval_every=5)
    return Trainer.create(EngineConfig("lstm", task.input_size, 8, task.output_size), task, config)


def real_cpu_allocation_failure() -> RuntimeError:
    """The error PyTorch's CPU allocator really raises: ask it for a petabyte."""
    try:
        torch.empty(2**50, dtype=torch.uint8)
    except RuntimeError as error:
        return error
    pytest.skip("this machine allocated a petabyte")


def test_the_real_cpu_allocation_failure_is_recognised():
    error = real_cpu_allocation_failure()
    assert not isinstance(error, torch.cuda.OutOfMemoryError)  # why it needs its own check
    assert is_out_of_memory(error)
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory."))
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_out_of_memory(ValueError("DefaultCPUAllocator: can't allocate memory"))


@pytest.mark.parametrize(
    "message",
    [
        None,  # the real one, from the allocator
        "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
        "memory: you tried to allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)",
        "[enforce fail at alloc_cpu.cpp:72] data. DefaultCPUAllocator: not enough memory: you "
        "tried to allocate 68719476736 bytes.",  # Windows
    ],
)
def test_cpu_out_of_memory_ends_the_run_with_advice(monkeypatch, message):
    trainer = make_trainer()
    error = real_cpu_allocation_failure() if message is None else RuntimeError(message)

    def out_of_memory():
        raise error

    monkeypatch.setattr(trainer, "train_step", out_of_memory)
    last = list(run_training(trainer, steps=10))[-1]
    assert last.state == "error"
    assert "cpu ran out of memory at step 1" in last.message
    for advice in ("smaller batch (now 16)", "smaller hidden size", "shorter sequence"):
        assert advice in last.message
    assert "allocator" not in last.message.lower()  # no raw allocator text
    assert "train on the CPU" not in last.message  # it is on the CPU already


def test_other_runtime_errors_are_not_dressed_up_as_memory_advice(monkeypatch):
    trainer = make_trainer()

    def broken():
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)")

    monkeypatch.setattr(trainer, "train_step", broken)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        list(run_training(trainer, steps=10))


ALLOCATOR = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)"
)


def raise_allocator_error(*_args, **_kwargs):
    raise RuntimeError(ALLOCATOR)


def assert_advice(message: str, batch: int = 16) -> None:
    for advice in (f"smaller batch (now {batch})", "smaller hidden size", "shorter sequence"):
        assert advice in message, message
    assert "allocator" not in message.lower() and "alloc_cpu" not in message


def test_out_of_memory_building_the_run_is_advice(monkeypatch):
    """The engine, the optimizer or the held-out set may not fit: ``Trainer.create`` raises
    the advice (a RuntimeError), the allocator's text kept as its cause only."""
    import engines.training as training

    task = create_task("adding", 12)
    config = TrainingConfig(batch_size=16, test_size=32, eval_every=5)
    engine_config = EngineConfig("lstm", task.input_size, 8, task.output_size)
    monkeypatch.setattr(training, "build_engine", raise_allocator_error)
    with pytest.raises(OutOfMemoryAdvice) as caught:
        Trainer.create(engine_config, task, config)
    assert str(caught.value).startswith("cpu ran out of memory building the run")
    assert_advice(str(caught.value))
    assert is_out_of_memory(caught.value) and ALLOCATOR in str(caught.value.__cause__)


@pytest.mark.parametrize("where", ["evaluate", "probe", "add_gradients"])
def test_out_of_memory_at_the_step_0_evaluation_or_probe_ends_the_run_with_advice(
    monkeypatch, where
):
    trainer = make_trainer()
    monkeypatch.setattr(trainer, where, raise_allocator_error)
    snaps = list(run_training(trainer, steps=10))
    assert len(snaps) == 1
    assert snaps[0].state == "error" and snaps[0].out_of_memory and snaps[0].step == 0
    assert "cpu ran out of memory evaluating or probing the network at step 0" in snaps[0].message
    assert_advice(snaps[0].message)


def test_out_of_memory_in_a_later_probe_ends_the_run_with_advice(monkeypatch):
    """Training goes on until a probe (here the one a paused Step asks for) runs out."""
    from engines.commands import Step

    trainer = make_trainer()
    run = run_training(trainer, start_paused=True)
    assert next(run).state == "paused"
    assert run.send(Step(1)).step == 1
    monkeypatch.setattr(trainer, "probe", raise_allocator_error)
    snap = run.send(Step(1))
    assert snap.state == "error" and snap.out_of_memory and snap.step == 2
    assert "at step 2" in snap.message
    assert_advice(snap.message)
    with pytest.raises(StopIteration):
        next(run)


def test_other_runtime_errors_in_a_probe_are_not_dressed_up_as_memory_advice(monkeypatch):
    trainer = make_trainer()

    def broken(*_args, **_kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)")

    monkeypatch.setattr(trainer, "probe", broken)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        list(run_training(trainer, steps=10))
