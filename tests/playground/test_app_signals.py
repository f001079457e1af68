"""Ctrl+C and SIGTERM to the app: the window closes as with Ctrl+Q, the trainer is stopped,
the exit code is 130 / 143, and no traceback is printed — at start-up and while training."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.playground.process_signals import wait_until_handled

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--task", "adding", "--length", "12", "--hidden", "6", "--batch", "8", "--autostart"]


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc: no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def launch():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [sys.executable, "-m", "playground", *ARGS],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A background process inherits SIGINT ignored; a terminal's would not be.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_trainer(process, timeout=90.0) -> list[int]:
    """The app's trainer process, once it is running (a spawned child named python)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        kids = [
            pid
            for pid in children(process.pid)
            if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            and "pipe_handle" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        ]
        if kids:
            time.sleep(1.0)  # let it train a moment: the signal must stop a live run
            return kids
        time.sleep(0.2)
    raise AssertionError("the app never started its trainer")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the trainer")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_training_quits_cleanly(signum, code):
    process = launch()
    trainers = wait_for_trainer(process)
    process.send_signal(signum)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
    for pid in trainers:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_start_up_quits_cleanly(signum, code):
    process = launch()
    # As soon as the entry point took the signals: still inside the imports (torch, Qt).
    wait_until_handled(process, signal.SIGTERM)
    process.send_signal(signum)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert "Traceback" not in err
