"""Closing keeps the last experiment as a staged swap: the new folder is written beside the
previous one and swapped in only once complete (the trainer's weights included), so a
failed write or a killed app never loses the experiment kept before. No window needed: the
keeper only reads the window's record and asks its controller about the trainer."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from engines.training import Trainer, run_training
from playground import last_experiment as lx
from playground.experiment import Experiment
from playground.run_folder import open_run_folder, read_training_state
from playground.run_spec import RunSpec, merged_settings
from playground.trainer_process import _Accumulator, _save_on_quit, checkpoint_of

SPEC = RunSpec(
    settings=merged_settings({"task": "adding", "length": 12, "hidden": 6, "batch": 8}),
    eval_every=5,
)


def trained(steps: int) -> tuple[Experiment, Trainer]:
    """A record of ``steps`` steps, fed as the trainer process feeds it, and its trainer."""
    task = SPEC.validate()
    trainer = Trainer.create(SPEC.engine_config(task), task, SPEC.training_config())
    experiment = Experiment(SPEC)
    info = {"task": task.describe(), "engine": trainer.engine.config.to_dict()}
    accumulator = _Accumulator()
    for snap in run_training(trainer, steps):
        accumulator.add(snap)
    experiment.apply_update(accumulator.take(snap, 0.0, "cpu", info, checkpoint_of(trainer)))
    return experiment, trainer


class FakeController:
    """The keeper asks only whether a trainer is there and for the event of its end."""

    def __init__(self, trainer: bool = False) -> None:
        self.trainer = trainer
        self.gone = threading.Event()
        if not trainer:
            self.gone.set()

    def has_process(self) -> bool:
        return self.trainer

    def process_gone(self) -> threading.Event:
        return self.gone


def window_of(experiment: Experiment, controller=None):
    return SimpleNamespace(experiment=experiment, controller=controller or FakeController())


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def hidden_beside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith("."))


@pytest.fixture
def kept(tmp_path) -> Path:
    """A last experiment kept before: 3 steps."""
    folder = tmp_path / "data" / "last-experiment"
    assert lx.keep_last_experiment(window_of(trained(3)[0]), folder) is None
    assert lx.wait_kept(60)
    assert open_run_folder(folder).step == 3
    return folder


def test_keeping_the_first_last_experiment_leaves_only_it(kept):
    assert hidden_beside(kept) == []
    assert lx.kept_last_experiment(kept) == kept
    contents = open_run_folder(kept)
    assert contents.problems == [] and contents.training_state["step"] == 3


def test_a_new_last_experiment_replaces_the_previous_once_complete(kept):
    assert lx.keep_last_experiment(window_of(trained(5)[0]), kept) is None
    assert lx.wait_kept(60)
    assert open_run_folder(kept).step == 5
    assert hidden_beside(kept) == []


def test_a_failing_write_keeps_the_previous_last_experiment_openable(kept, monkeypatch):
    before = files_of(kept)

    def disk_full(folder, data):
        (Path(folder) / "config.json").write_text("{ half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lx, "write_run_files", disk_full)
    lx.keep_last_experiment(window_of(trained(5)[0]), kept)
    assert lx.wait_kept(60)
    assert files_of(kept) == before  # untouched, and nothing left beside it
    assert hidden_beside(kept) == []
    assert lx.kept_last_experiment(kept) == kept
    opened = Experiment.open(kept)
    assert opened.notes == [] and opened.step == 3 and opened.checkpoint is not None


def test_the_previous_is_kept_until_the_trainer_has_written_its_weights(kept):
    """A live trainer writes its weights into the staging folder as it quits; the swap
    waits for its process to be gone, so the kept folder is never without them."""
    before = files_of(kept)
    experiment, trainer = trained(4)
    controller = FakeController(trainer=True)
    staging = lx.keep_last_experiment(window_of(experiment, controller), kept)
    assert staging is not None and staging.parent == kept.parent and staging != kept
    assert not lx.wait_kept(0.5)  # waiting for the trainer
    assert files_of(kept) == before
    _save_on_quit(trainer, staging)  # what the trainer does on ("quit", staging)
    controller.gone.set()  # ... and then its process is gone
    assert lx.wait_kept(60)
    contents = open_run_folder(kept)
    assert contents.problems == [] and contents.step == 4
    weights = contents.weights
    assert weights is not None and read_training_state(kept)["step"] == 4
    assert hidden_beside(kept) == []
    saved = Experiment.open(kept).checkpoint.weights
    assert all(torch.equal(saved[k], v) for k, v in trainer.engine.state_dict().items())


def test_a_kill_between_the_two_renames_still_finds_the_previous(kept):
    aside = kept.parent / ".last-experiment.old-abc123"
    aside.mkdir()
    os.replace(kept, aside / "run")  # the app died right after setting it aside
    assert lx.kept_last_experiment(kept) == aside / "run"
    assert Experiment.open(lx.kept_last_experiment(kept)).step == 3
