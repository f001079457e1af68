"""``seq-playground train`` running out of memory, wherever it happens (building the run, the
step-0 evaluation, a probe, a training step): one line with the advice (smaller batch, hidden
size or sequence), never the allocator's text nor a traceback, exit 1 as for any failed run,
and a run folder that says "failed" with the advice."""

from __future__ import annotations

import json

import pytest

import engines.training
from engines.training import Trainer
from playground.cli import main

TINY = ["--length", "8", "--hidden", "8", "--batch", "16", "--eval-every", "3", "--threads", "1"]
ALLOCATOR = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 68719476736 bytes. Error code 12 (Cannot allocate memory)"
)


def _allocator_error(*_args, **_kwargs):
    raise RuntimeError(ALLOCATOR)


def _one_advice_line(err: str) -> str:
    assert "Traceback" not in err and "allocator" not in err.lower(), err
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1, err
    line = errors[0]
    assert line.startswith("seq-playground: error: cpu ran out of memory"), line
    for advice in ("smaller batch (now 16)", "smaller hidden size", "shorter sequence"):
        assert advice in line, line
    return line


def test_out_of_memory_building_the_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(engines.training, "build_engine", _allocator_error)
    out = tmp_path / "run"
    assert main(["train", "--steps", "6", *TINY, "--out", str(out)]) == 1
    line = _one_advice_line(capsys.readouterr().err)
    assert "building the run" in line
    assert not out.exists() or not any(out.iterdir())  # nothing written


@pytest.mark.parametrize(
    ("method", "where"),
    [
        ("evaluate", "evaluating or probing the network at step 0"),
        ("probe", "evaluating or probing the network at step 0"),
        ("train_step", "at step 1"),
    ],
)
def test_out_of_memory_while_training(tmp_path, capsys, monkeypatch, method, where):
    monkeypatch.setattr(Trainer, method, _allocator_error)
    out = tmp_path / "run"
    assert main(["train", "--steps", "6", *TINY, "--out", str(out)]) == 1
    line = _one_advice_line(capsys.readouterr().err)
    assert where in line and "diverged" not in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "smaller batch" in summary["message"]
