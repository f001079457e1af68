"""The trainer protocol and the training controller, without a window: latest wins, losses
batched, requests answered in their own message, a failed or vanished child, and a frozen
one that never blocks the GUI thread."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from playground.experiment import Checkpoint
from playground.run_spec import RunSpec, merged_settings
from playground.trainer_process import _save_on_quit, trainer_main
from playground.training_controller import TrainingController

TIMEOUT_MS = 60_000
SPEC = RunSpec(
    settings=merged_settings({"task": "adding", "length": 12, "hidden": 6, "batch": 8}),
    eval_every=5,
)


def _recv(conn, kind, timeout=60.0):
    """The next message of ``kind`` (answering nothing else)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.poll(0.05):
            message = conn.recv()
            if message[0] == kind:
                return message
            if message[0] == "failed":
                raise AssertionError(message[1])
    raise AssertionError(f"no {kind!r} message in {timeout} s")


@pytest.fixture
def child():
    context = multiprocessing.get_context("spawn")
    parent, child_conn = context.Pipe(duplex=True)
    process = context.Process(target=trainer_main, args=(child_conn, SPEC, True), daemon=True)
    process.start()
    child_conn.close()
    yield parent, process
    if process.is_alive():
        parent.send(("quit", None))
        process.join(10)
    if process.is_alive():
        process.kill()
        process.join()


def test_updates_come_only_when_asked_latest_wins_and_losses_are_batched(child):
    conn, _process = child
    first = _recv(conn, "update")[1]
    assert first.step == 0 and first.frame is not None and first.info["engine"]["kind"] == "lstm"
    time.sleep(1.0)  # the app is busy drawing: the trainer must not queue updates meanwhile
    assert not conn.poll(0)
    conn.send(("ready",))
    batched = _recv(conn, "update")[1]
    assert len(batched.steps) > 1  # every step trained meanwhile, in one message
    np.testing.assert_array_equal(batched.steps, np.arange(1, len(batched.steps) + 1))
    assert batched.frame is not None and batched.frame.step <= batched.step  # the latest frame
    conn.send(("ready",))
    following = _recv(conn, "update")[1]
    assert following.steps[0] == batched.steps[-1] + 1  # nothing lost between updates


def test_a_checkpoint_request_is_answered_in_its_own_message(child):
    conn, _process = child
    _recv(conn, "update")
    conn.send(("request", 42, "checkpoint"))
    _, request_id, answer = _recv(conn, "reply")
    assert request_id == 42 and isinstance(answer, Checkpoint)
    assert answer.training_state["step"] == answer.step
    assert set(answer.weights) >= {"core.weight_ih_l0", "readout.weight"}


def test_a_run_that_cannot_start_reports_why(qtbot):
    controller = TrainingController()
    bad = RunSpec(settings=merged_settings({"hidden": 0}))
    with qtbot.waitSignal(controller.run_failed, timeout=TIMEOUT_MS) as failed:
        controller.start(bad)
    assert "hidden_size" in failed.args[0]
    assert controller.state == "error"
    assert controller.wait_stopped(10)


def test_a_vanished_trainer_becomes_a_message(qtbot):
    controller = TrainingController()
    controller.start(SPEC)
    qtbot.waitUntil(lambda: controller.state == "running", timeout=TIMEOUT_MS)
    os.kill(controller.pid(), signal.SIGKILL)
    with qtbot.waitSignal(controller.run_failed, timeout=TIMEOUT_MS) as failed:
        pass
    assert "stopped unexpectedly" in failed.args[0]
    assert controller.state == "error"
    assert controller.wait_stopped(10)


def test_pause_during_start_up_pauses_as_soon_as_the_trainer_runs(qtbot):
    controller = TrainingController()
    steps = []
    controller.update_received.connect(lambda u: steps.append(u.step))
    controller.start(SPEC, autostart=True)
    assert controller.state == "starting"
    controller.pause()
    qtbot.waitUntil(lambda: controller.state == "paused", timeout=TIMEOUT_MS)
    assert max(steps) <= 1  # at most the step already under way
    controller.shutdown()
    assert controller.wait_stopped(10)


@pytest.mark.parametrize("how", ["shutdown", "restart"])
def test_a_frozen_trainer_never_blocks_and_leaves_no_process(qtbot, how):
    controller = TrainingController()
    controller.start(SPEC)
    qtbot.waitUntil(lambda: controller.state == "running", timeout=TIMEOUT_MS)
    pid = controller.pid()
    os.kill(pid, signal.SIGSTOP)
    started = time.perf_counter()
    if how == "shutdown":  # close and Reset
        controller.shutdown()
    else:  # Train again with another run
        controller.start(SPEC, autostart=False)
    assert time.perf_counter() - started < 0.5
    if how == "restart":
        qtbot.waitUntil(lambda: controller.state == "paused", timeout=TIMEOUT_MS)
        controller.shutdown()
    assert controller.wait_stopped(15)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not multiprocessing.active_children()


def test_a_trainer_that_stops_answering_is_shown_as_such(qtbot, monkeypatch):
    import playground.training_controller as tc

    monkeypatch.setattr(tc, "SILENT_AFTER_S", 0.5)
    controller = TrainingController()
    controller.start(SPEC)
    qtbot.waitUntil(lambda: controller.state == "running", timeout=TIMEOUT_MS)
    os.kill(controller.pid(), signal.SIGSTOP)
    with qtbot.waitSignal(controller.responsiveness_changed, timeout=TIMEOUT_MS) as told:
        pass
    assert told.args == [False] and not controller.is_responsive()
    controller.shutdown()
    assert controller.wait_stopped(15)


# --- running out of memory -------------------------------------------------------------------
ALLOCATOR = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)"
)


def _allocator_error(*_args, **_kwargs):
    raise RuntimeError(ALLOCATOR)


def _trainer_in_thread(monkeypatch):
    """``trainer_main`` in a thread of this process (so monkeypatch reaches it), on a pipe."""
    import threading

    from playground import trainer_process

    monkeypatch.setattr(trainer_process, "_set_threads", lambda: None)
    parent, child_conn = multiprocessing.Pipe(duplex=True)
    thread = threading.Thread(target=trainer_main, args=(child_conn, SPEC, True), daemon=True)
    thread.start()
    return parent, thread


def _first_message(conn, timeout=60.0):
    assert conn.poll(timeout), "the trainer said nothing"
    return conn.recv()


def _assert_advice(message: str) -> None:
    assert "cpu ran out of memory" in message, message
    for advice in ("smaller batch (now 8)", "smaller hidden size", "shorter sequence"):
        assert advice in message, message
    assert "allocator" not in message.lower() and "RuntimeError" not in message


def test_out_of_memory_building_the_run_is_reported_as_advice(monkeypatch):
    import engines.training

    monkeypatch.setattr(engines.training, "build_engine", _allocator_error)
    conn, thread = _trainer_in_thread(monkeypatch)
    kind, message, detail = _first_message(conn)
    assert kind == "failed"
    _assert_advice(message)
    assert "building the run" in message
    assert "DefaultCPUAllocator" in detail  # the raw text stays in the details
    thread.join(10)
    assert not thread.is_alive()


def test_out_of_memory_in_the_step_0_probe_ends_the_run_with_advice(monkeypatch):
    from engines.training import Trainer

    monkeypatch.setattr(Trainer, "probe", _allocator_error)
    conn, thread = _trainer_in_thread(monkeypatch)
    kind, update = _first_message(conn)
    assert kind == "update" and update.state == "error" and update.step == 0
    _assert_advice(update.message)
    assert "probing the network at step 0" in update.message
    conn.send(("quit", None))
    thread.join(10)
    assert not thread.is_alive()


def test_any_other_failure_keeps_its_type_and_message():
    from playground.trainer_process import failure_message

    assert failure_message(ValueError("hidden_size must be >= 1")) == (
        "ValueError: hidden_size must be >= 1"
    )
    raw = failure_message(RuntimeError(ALLOCATOR))  # out of memory where no batch is known
    assert raw.startswith("cpu ran out of memory starting the run. Try a smaller batch, ")
    assert "allocator" not in raw.lower()


# --- the weights written as the trainer quits ------------------------------------------------
def _small_trainer():
    from engines.training import Trainer

    task = SPEC.validate()
    return Trainer.create(SPEC.engine_config(task), task, SPEC.training_config())


def test_the_weights_written_on_quit_are_one_checkpoint(tmp_path):
    from playground.run_folder import read_training_state
    from playground.run_writer import weights_digest

    trainer = _small_trainer()
    trainer.train_step()
    _save_on_quit(trainer, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "training_state.pt",
        "weights.json",
        "weights.safetensors",
    ]
    state = read_training_state(tmp_path)
    assert state["step"] == 1
    assert state["weights_sha256"] == weights_digest(tmp_path / "weights.safetensors")


@pytest.mark.parametrize("failing", ["weights.json", "weights.safetensors", "training_state.pt"])
def test_a_failed_write_on_quit_leaves_the_previous_checkpoint(tmp_path, monkeypatch, failing):
    import errno

    from engines import atomic_files

    trainer = _small_trainer()
    trainer.train_step()
    _save_on_quit(trainer, tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    trainer.train_step()
    real = atomic_files._write_synced

    def write(path, data):
        if Path(path).name.startswith(f".{failing}."):
            Path(path).write_bytes(data[:10])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data)

    monkeypatch.setattr(atomic_files, "_write_synced", write)
    _save_on_quit(trainer, tmp_path)  # never raises: the app is gone or closing
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_process_gone_is_set_once_the_stopped_trainer_has_exited(qtbot):
    controller = TrainingController()
    assert controller.process_gone().is_set()  # no trainer
    controller.start(SPEC)
    gone = controller.process_gone()
    assert not gone.is_set()
    qtbot.waitUntil(lambda: controller.state == "running", timeout=TIMEOUT_MS)
    pid = controller.pid()
    controller.shutdown()
    assert gone.wait(15)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert controller.process_gone().is_set()
    assert controller.wait_stopped(10)
