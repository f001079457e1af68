"""Test helpers for signals sent to a child process (not a test module)."""

from __future__ import annotations

import signal
import time


def handles(pid: int, signum: int) -> bool:
    """Whether the process has a handler for ``signum`` (Linux: /proc/PID/status SigCgt)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def wait_until_handled(process, signum: int = signal.SIGTERM, timeout: float = 60.0) -> None:
    """Wait (polling, bounded) until ``process`` (a ``subprocess.Popen``) has installed its
    handler for ``signum``. SIGTERM's is the one that tells: Python catches SIGINT from its
    own start, and ``playground.interrupts`` installs the two together."""
    deadline = time.monotonic() + timeout
    while not handles(process.pid, signum):
        if process.poll() is not None:
            raise AssertionError(f"the process ended first: {process.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no handler for {signal.Signals(signum).name} in {timeout} s")
        time.sleep(0.002)
