"""The run's record (no Qt): trainer updates in, save -> open identical, damaged folders open
what they can, continuing equals never stopping."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.training import Trainer, run_training
from playground.experiment import Experiment
from playground.run_folder import (
    CONFIG,
    FRAMES,
    TRAINING_STATE,
    WEIGHTS,
    RunFolderError,
    open_run_folder,
)
from playground.run_spec import RunSpec, merged_settings
from playground.trainer_process import _Accumulator, _restore, checkpoint_of

ROOT = Path(__file__).resolve().parents[2]


def small_spec(engine="lstm", **changes) -> RunSpec:
    settings = merged_settings(
        {"task": "adding", "length": 12, "engine": engine, "hidden": 6, "batch": 8, **changes}
    )
    return RunSpec(settings=settings, eval_every=5)


def build_trainer(spec: RunSpec) -> Trainer:
    task = spec.validate()
    return Trainer.create(spec.engine_config(task), task, spec.training_config())


def train_into(experiment: Experiment, trainer: Trainer, steps: int, every: int = 3):
    """Drive ``run_training`` and feed the record as the trainer process would: losses
    batched, a probe frame every ``every`` steps, the final checkpoint at the end."""
    info = {"task": trainer.task.describe(), "engine": trainer.engine.config.to_dict()}
    acc = _Accumulator()
    run = run_training(trainer, steps)
    snap = next(run)
    acc.add(snap)
    while True:
        if snap.state == "finished" or (snap.step and snap.step % every == 0):
            final = checkpoint_of(trainer) if snap.state == "finished" else None
            experiment.apply_update(acc.take(snap, 0.0, "cpu", info, final))
        if snap.state == "finished":
            return
        snap = run.send(None)
        if snap.step % every == 0 and snap.probe is None:
            snap = type(snap)(**{**snap.__dict__, "probe": trainer.probe()})
        acc.add(snap)


def test_importing_the_record_loads_no_qt():
    code = (
        "import sys, playground.experiment, playground.run_folder;"
        "bad=[m for m in sys.modules if m.startswith(('PySide6','pyqtgraph','shiboken'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_record_holds_the_whole_history_and_tells_its_views():
    spec = small_spec()
    experiment = Experiment(spec)
    told = {"metrics": 0, "frames": 0, "view": []}
    experiment.events.metrics_added.connect(lambda *a: told.__setitem__("metrics", 1))
    experiment.events.frame_added.connect(lambda i: told.__setitem__("frames", told["frames"] + 1))
    experiment.events.view_changed.connect(told["view"].append)
    train_into(experiment, build_trainer(spec), 20)
    assert list(experiment.metrics.train_steps) == list(range(1, 21))
    assert list(experiment.metrics.eval_steps) == [0, 5, 10, 15, 20]
    assert told["metrics"] and told["frames"] == len(experiment.frames) > 3
    assert experiment.checkpoint is not None and experiment.checkpoint.step == 20
    experiment.set_view(cursor=4, unit=2, layer=0)
    assert told["view"] == ["cursor", "unit"]  # layer was already 0


def test_save_then_open_gives_identical_settings_metrics_frames_and_weights(tmp_path):
    spec = small_spec("gru", lr=0.01, seed=3)
    experiment = Experiment(spec)
    train_into(experiment, build_trainer(spec), 15)
    experiment.set_view(cursor=7, unit=1, history_index=2)
    folder = experiment.save(tmp_path / "run")
    opened = Experiment.open(folder)
    assert opened.notes == []
    assert opened.settings == experiment.settings
    for name in ("train_steps", "train_losses", "grad_norms", "eval_steps", "eval_losses"):
        np.testing.assert_array_equal(
            getattr(opened.metrics, name), getattr(experiment.metrics, name)
        )
    assert opened.frames.steps() == experiment.frames.steps()
    for i in range(len(opened.frames)):
        (a, ga), (b, gb) = opened.frames[i], experiment.frames[i]
        np.testing.assert_array_equal(a.trace.hidden, b.trace.hidden)
        for name in b.trace.gates:
            np.testing.assert_array_equal(a.trace.gates[name], b.trace.gates[name])
        assert (ga is None) == (gb is None)
        if gb is not None:
            np.testing.assert_array_equal(ga.hidden, gb.hidden)
    for name, tensor in experiment.checkpoint.weights.items():
        assert torch.equal(opened.checkpoint.weights[name], tensor)
    assert opened.step == 15
    assert (opened.view.cursor, opened.view.unit, opened.view.history_index) == (7, 1, 2)
    assert opened.info["input_names"] == ["value", "marker"]  # the legends stay labelled


METRICS = ("train_steps", "train_losses", "grad_norms", "eval_steps", "eval_losses", "eval_metrics")
LSTM_GATES = ["candidate", "forget", "input", "output"]


def assert_same_frames(opened: Experiment, saved: Experiment) -> None:
    """Every recorded frame: its probe batch, every layer's hidden and cell states, every gate,
    the read-out, and the gradient flow drawn with it."""
    assert opened.frames.steps() == saved.frames.steps()
    for i in range(len(saved.frames)):
        (a, grads_a), (b, grads_b) = opened.frames[i], saved.frames[i]
        assert a.step == b.step
        for name in ("inputs", "targets", "mask"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), name)
        assert a.trace.kind == b.trace.kind
        np.testing.assert_array_equal(a.trace.hidden, b.trace.hidden)
        assert b.trace.cell is not None
        np.testing.assert_array_equal(a.trace.cell, b.trace.cell)
        assert sorted(a.trace.gates) == sorted(b.trace.gates) == LSTM_GATES
        for name, values in b.trace.gates.items():
            np.testing.assert_array_equal(a.trace.gates[name], values, name)
        np.testing.assert_array_equal(a.trace.outputs, b.trace.outputs)
        for x, y in ((a.gradients, b.gradients), (grads_a, grads_b)):
            assert (x is None) == (y is None)
            if y is not None:
                np.testing.assert_array_equal(x.hidden, y.hidden)
                np.testing.assert_array_equal(x.inputs, y.inputs)
                assert x.loss == y.loss


def test_an_lstm_run_saved_and_opened_is_the_same_in_every_number(tmp_path):
    """Settings (those the setup panel does not show too), every metric, every frame's
    arrays (hidden, cell, gates, outputs) and the weights survive save -> open."""
    settings = merged_settings(
        {"task": "copy", "length": 4, "engine": "lstm", "layers": 2, "hidden": 5, "batch": 4,
         "lr": 0.02, "seed": 2, "init": "orthogonal", "forget_bias": 2.0}
    )  # fmt: skip
    spec = RunSpec(settings=settings, eval_every=4, task_options={"n_symbols": 3}, test_size=64)
    experiment = Experiment(spec)
    train_into(experiment, build_trainer(spec), 14, every=2)
    assert experiment.checkpoint.engine_config["kind"] == "lstm"
    folder = experiment.save(tmp_path / "run")
    opened = Experiment.open(folder)
    assert opened.notes == []
    assert opened.spec == spec
    assert opened.settings == experiment.settings
    assert opened.spec.build_task().output_size == 4  # n_symbols 3 and the blank
    for name in METRICS:
        np.testing.assert_array_equal(
            getattr(opened.metrics, name), getattr(experiment.metrics, name), name
        )
    assert list(opened.metrics.eval_steps) == [0, 4, 8, 12, 14]
    assert len(opened.frames) == len(experiment.frames) > 5
    assert_same_frames(opened, experiment)
    assert opened.checkpoint.step == opened.step == 14
    assert sorted(opened.checkpoint.weights) == sorted(experiment.checkpoint.weights)
    for name, tensor in experiment.checkpoint.weights.items():
        assert torch.equal(opened.checkpoint.weights[name], tensor), name
    assert opened.checkpoint.engine_config == experiment.checkpoint.engine_config


@pytest.mark.parametrize("engine", ["rnn", "lstm", "gru"])
def test_continuing_a_saved_run_equals_never_stopping(tmp_path, engine):
    spec = small_spec(engine)
    straight = Experiment(spec)
    train_into(straight, build_trainer(spec), 20)

    first = Experiment(spec)
    train_into(first, build_trainer(spec), 10)
    first.save(tmp_path / "run")
    reopened = Experiment.open(tmp_path / "run")
    trainer = build_trainer(reopened.spec)
    _restore(trainer, reopened.checkpoint)
    train_into(reopened, trainer, 20)

    np.testing.assert_array_equal(reopened.metrics.train_losses, straight.metrics.train_losses)
    np.testing.assert_array_equal(reopened.metrics.grad_norms, straight.metrics.grad_norms)
    np.testing.assert_array_equal(reopened.metrics.eval_losses, straight.metrics.eval_losses)
    for name, tensor in straight.checkpoint.weights.items():
        assert torch.equal(reopened.checkpoint.weights[name], tensor), name


def test_a_damaged_folder_opens_what_it_can_and_names_what_it_could_not(tmp_path):
    spec = small_spec()
    experiment = Experiment(spec)
    train_into(experiment, build_trainer(spec), 10)
    folder = experiment.save(tmp_path / "run")
    (folder / FRAMES).write_bytes(b"not a zip archive")
    (folder / WEIGHTS).unlink()
    opened = Experiment.open(folder)
    assert len(opened.metrics) == 10 and opened.settings == experiment.settings
    assert opened.checkpoint is None and len(opened.frames) == 0
    text = "\n".join(opened.notes)
    assert FRAMES in text and WEIGHTS in text and "no usable weights" in text


def test_a_newer_or_foreign_folder_is_refused_with_its_version(tmp_path):
    experiment = Experiment(small_spec())
    folder = experiment.save(tmp_path / "run")
    config = json.loads((folder / CONFIG).read_text())
    (folder / CONFIG).write_text(json.dumps({**config, "version": 7}))
    with pytest.raises(RunFolderError, match="version 7.*newer"):
        Experiment.open(folder)
    (folder / CONFIG).write_text("{ not json")
    with pytest.raises(RunFolderError, match="config.json.*not valid JSON"):
        Experiment.open(folder)
    with pytest.raises(RunFolderError, match="no such folder"):
        open_run_folder(tmp_path / "nothing")


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "code ran"))


def test_a_training_state_made_to_run_code_is_refused_and_runs_nothing(tmp_path):
    spec = small_spec()
    experiment = Experiment(spec)
    train_into(experiment, build_trainer(spec), 5)
    folder = experiment.save(tmp_path / "run")
    marker = tmp_path / "pwned.txt"
    torch.save({"step": 5, "evil": _RunsCode(str(marker))}, folder / TRAINING_STATE)
    opened = Experiment.open(folder)
    assert not marker.exists()
    assert any(TRAINING_STATE in note and "refused" in note for note in opened.notes)
    assert not any("weights_only" in note for note in opened.notes)


def test_a_failed_save_keeps_the_previous_save_intact(tmp_path, monkeypatch):
    spec = small_spec()
    experiment = Experiment(spec)
    train_into(experiment, build_trainer(spec), 5)
    folder = experiment.save(tmp_path / "run")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    train_into(experiment, build_trainer(spec), 10)

    import playground.run_folder as run_folder

    def disk_full(*_args, **_kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "run" / FRAMES))

    monkeypatch.setattr(run_folder, "write_frames", disk_full)
    with pytest.raises(OSError, match="No space left"):
        experiment.save(folder)
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging folder left behind


def test_a_command_line_run_on_a_data_file_opens_with_its_sequence_and_window(tmp_path):
    from playground.cli import main

    data = tmp_path / "signal.csv"
    data.write_text("\n".join(str(np.sin(t / 3)) for t in range(60)))
    out = tmp_path / "run"
    argv = ["train", "--data", str(data), "--length", "8", "--hidden", "4", "--batch", "4",
            "--steps", "3", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    data.unlink()  # the run folder holds its own copy of the sequence
    opened = Experiment.open(out)
    assert opened.spec.sequence is not None and opened.spec.sequence.window == 8
    assert opened.spec.build_task().window == 8
    assert len(opened.metrics.train_steps) == 3
