"""``train`` under faults, as a job scheduler and an impatient user meet it: SIGINT and SIGTERM
to a real ``python -m playground train`` while it still imports and while it trains, and a
disk that fills up. Each must leave a run folder that ``--resume`` continues, end with its own
exit status (130, 143, 1) and one line, never a traceback or half a file."""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from playground.cli import main
from playground.run_folder import open_run_folder
from tests.playground.process_signals import handles

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--length", "8", "--hidden", "8", "--batch", "16", "--eval-every", "3", "--threads", "1"]


def _restore_sigint():
    # A process started in the background inherits SIGINT ignored (design notes, section 6):
    # the child gets the default back, as a program started in a terminal has it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn(out: Path):
    return subprocess.Popen(
        [sys.executable, "-m", "playground", "train", "--steps", "100000", *TINY]
        + ["--out", str(out)],
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=_restore_sigint,
    )


CASES = [
    (signum, moment)
    for signum in (signal.SIGINT, signal.SIGTERM)
    for moment in ("imports", "training")
]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_signal_at_any_moment_leaves_a_folder_that_resumes(tmp_path):
    """SIGINT and SIGTERM, each while the command still imports (right after the entry point
    took the signals, long before torch is loaded) and while it trains. The four processes
    run side by side: each pays a torch import."""
    started, output = {}, {}
    for signum, moment in CASES:
        out = tmp_path / f"{signum.name}-{moment}"
        started[signum, moment] = (out, _spawn(out))
        os.set_blocking(started[signum, moment][1].stderr.fileno(), False)
        output[signum, moment] = b""
    try:
        waiting, training_since = dict(started), {}
        deadline = time.monotonic() + 180
        while waiting:
            assert time.monotonic() < deadline, f"no signal sent to {list(waiting)}"
            for key, (_out, process) in list(waiting.items()):
                output[key] += process.stderr.read() or b""
                assert process.poll() is None, output[key].decode()
                # SIGTERM's handler tells that the entry point took the signals (Python itself
                # catches SIGINT from its start; the two are installed together).
                ready = handles(process.pid, signal.SIGTERM)
                if key[1] == "training":  # the step-0 line, then a few steps
                    if b"step 0/" in output[key]:
                        training_since.setdefault(key, time.monotonic())
                    ready = time.monotonic() - training_since.get(key, math.inf) > 0.3
                if ready:
                    process.send_signal(key[0])
                    del waiting[key]
            time.sleep(0.002)
        results = {}
        for key, (_, process) in started.items():
            os.set_blocking(process.stderr.fileno(), True)
            results[key] = (output[key] + process.communicate(timeout=120)[1]).decode()
    finally:
        for _, process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    for (signum, moment), (out, process) in started.items():
        err = results[signum, moment]
        expected = {signal.SIGINT: 130, signal.SIGTERM: 143}[signum]
        assert process.returncode == expected, (signum, moment, err)
        assert "Traceback" not in err
        assert "interrupted at step" in err and f"train --resume {out}" in err
        summary = json.loads((out / "summary.json").read_text())
        assert summary["status"] == "interrupted"
        by = "stopped by Ctrl+C" if signum == signal.SIGINT else "stopped by SIGTERM"
        assert summary["message"] == by
        if moment == "training":
            assert summary["steps"] > 0
        contents = open_run_folder(out)
        assert contents.problems == []
        assert contents.training_state["step"] == summary["steps"] == contents.metrics.step[-1]
        assert (out / "weights.json").exists()
        assert not [p for p in out.iterdir() if p.name[0] == "."]
        steps = summary["steps"] + 3
        assert main(["train", "--resume", str(out), "--steps", str(steps)]) == 0
        assert open_run_folder(out).metrics.step.tolist() == list(range(steps + 1))


# --- a write that fails -----------------------------------------------------------------------
def _fail_fsync_of(name: str, monkeypatch):
    """ENOSPC when a file named ``name`` is synced: its data is written, then the disk is full
    (the moment a half-written file would be left behind)."""
    real = os.fsync

    def fsync(fd):
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(f".{name}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("name", ["weights.safetensors", "training_state.pt", "metrics.csv"])
def test_a_failed_write_names_the_file_and_keeps_the_checkpoint(
    tmp_path, capsys, monkeypatch, name
):
    out, straight = tmp_path / "run", tmp_path / "straight"
    assert main(["train", "--steps", "3", *TINY, "--out", str(out)]) == 0
    before = load_file(out / "weights.safetensors")
    capsys.readouterr()
    _fail_fsync_of(name, monkeypatch)
    assert main(["train", "--resume", str(out), "--steps", "6"]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert errors == [
        f"seq-playground: error: cannot write {out / name}: No space left on device; the files "
        "written before are intact"
    ]
    assert "Traceback" not in err
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    contents = open_run_folder(out)
    assert contents.problems == []
    # the previous checkpoint stands, whole: weights with their sidecar and their state
    after = load_file(out / "weights.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert contents.training_state["step"] == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["steps"] == 3 and name in summary["message"]

    monkeypatch.undo()  # space again: the run continues from its checkpoint, exactly
    assert main(["train", "--resume", str(out), "--steps", "6"]) == 0
    assert main(["train", "--steps", "6", *TINY, "--out", str(straight)]) == 0
    assert (out / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs (root only; skipped where mounting is not permitted)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"cannot mount a tmpfs here: {error}")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)


def _fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` up to ``leave`` bytes of free space."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return filler


@pytest.mark.parametrize("leave_kib", [0, 12, 24, 40])
def test_a_full_disk_leaves_no_half_file_and_names_the_file(tiny_disk, capsys, leave_kib):
    """A real full disk at three moments: before the config, around the checkpoint, at the
    frames. Whatever fails is named, nothing is half written, and weights are never without
    their sidecar."""
    out = tiny_disk / "run"
    out.mkdir()
    filler = _fill(tiny_disk, leave_kib * 1024)
    code = main(["train", "--steps", "6", *TINY, "--out", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 0:  # everything fitted after all (tmpfs rounds to pages): nothing to check
        pytest.skip(f"the run fitted in {leave_kib} KiB")
    assert code == 1
    line = [line for line in err.splitlines() if "error" in line]
    assert len(line) == 1 and f"cannot write {out}/" in line[0], err
    assert "No space left on device" in line[0]
    names = sorted(p.name for p in out.iterdir())
    assert not [n for n in names if n.startswith(".")], names  # no temporary file or folder
    if "weights.safetensors" in names:
        assert "weights.json" in names
    for name in names:  # every file there is whole
        if name.endswith(".json"):
            json.loads((out / name).read_text())
    if "config.json" in names:
        contents = open_run_folder(out)
        assert not [p for p in contents.problems if "metrics.csv" in p]
        filler.unlink()  # space again: what is there continues
        assert main(["train", "--resume", str(out), "--steps", "6"]) == 0
