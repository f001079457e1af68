"""The trainer protocol and the training controller, without a window: latest wins, losses
batched, requests answered in their own message, a failed or vanished child, and a frozen
one that never blocks the GUI thread."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import numpy as np
import pytest

from playground.experiment import Checkpoint
from playground.run_spec import RunSpec, merged_settings
from playground.trainer_process import trainer_main
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
