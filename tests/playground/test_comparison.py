"""The comparison's record without Qt: exact parameter counts, parameter matching within 5 %,
the spec's shared data and own weights seeds, one history aligned by training step, and the
comparison folder's save/open round trip (and refusals)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.commands import RequestProbe
from engines.engine import create_engine
from playground.compare_process import CompareUpdate, _Lockstep
from playground.compare_spec import (
    PRESETS,
    CompareSpec,
    engine_labels,
    engine_parameters,
    match_hidden_sizes,
    parameter_count,
)
from playground.comparison import COMPARISON_FILE, Comparison, is_comparison_folder
from playground.run_folder import RunFolderError, is_run_folder

ROOT = Path(__file__).resolve().parents[2]
COMMON = {"task": "adding", "length": 12, "hidden": 6, "batch": 8, "seed": 3}
THREE = [{"engine": "lstm"}, {"engine": "gru"}, {"engine": "rnn"}]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("inputs", "hidden", "outputs", "layers"), [(2, 5, 1, 1), (7, 16, 3, 3)])
def test_parameter_counts_are_those_of_the_torch_module(kind, inputs, hidden, outputs, layers):
    engine = create_engine(kind, inputs, hidden, outputs, num_layers=layers)
    built = sum(p.numel() for p in engine.parameters())
    assert parameter_count(kind, inputs, hidden, outputs, layers) == built


@pytest.mark.parametrize(
    "reference",
    [
        {"engine": "lstm", "hidden": 32, "layers": 1},
        {"engine": "rnn", "hidden": 128, "layers": 1},
        {"engine": "gru", "hidden": 20, "layers": 2},
        {"engine": "lstm", "hidden": 24, "layers": 1},
    ],
)
def test_matched_hidden_sizes_bring_every_engine_within_5_percent(reference):
    others = [
        {"engine": kind, "hidden": 32, "layers": layers}
        for kind in ("rnn", "lstm", "gru")
        for layers in (1, 2)
    ]
    engines = [reference, *others]
    sizes = match_hidden_sizes(engines, input_size=2, output_size=1)
    assert sizes[0] == reference["hidden"]  # the reference keeps its size
    target = engine_parameters(reference, 2, 1)
    for engine, hidden in zip(others, sizes[1:], strict=True):
        count = engine_parameters({**engine, "hidden": hidden}, 2, 1)
        assert abs(count - target) <= 0.05 * target, (engine, hidden, count, target)
    assert len(set(sizes[1:])) > 1  # really chosen per engine, not one size for all


def test_a_match_that_cannot_come_close_names_the_engine():
    tiny = {"engine": "rnn", "hidden": 1, "layers": 1}
    with pytest.raises(ValueError, match=r"engine 2 \(LSTM"):
        match_hidden_sizes([tiny, {"engine": "lstm", "hidden": 8, "layers": 1}], 2, 1)


def test_the_spec_shares_the_data_and_gives_each_engine_its_weights_seed():
    spec = CompareSpec.from_settings(COMMON, THREE)
    assert spec.weights_seeds == (3, 4, 5) and spec.data_seed == 3
    assert [s.settings["engine"] for s in spec.specs] == ["lstm", "gru", "rnn"]
    assert {s.settings["seed"] for s in spec.specs} == {3}
    assert spec.engine_labels() == ["LSTM", "GRU", "RNN"]
    assert spec.validate().name == "adding"
    with pytest.raises(ValueError, match="2 or 3 engines"):
        CompareSpec.from_settings(COMMON, THREE[:1]).validate()
    with pytest.raises(ValueError, match="one seed per engine"):
        CompareSpec(spec.specs, (1, 2)).validate()
    other = CompareSpec.from_settings({**COMMON, "length": 20}, THREE[:1])
    with pytest.raises(ValueError, match=r"engine 2 trains on other data.*length"):
        CompareSpec((spec.specs[0], other.specs[0]), (0, 1)).validate()
    with pytest.raises(ValueError, match="engine 2: init 'chrono'"):
        CompareSpec.from_settings(
            COMMON, [{"engine": "lstm"}, {"engine": "rnn", "init": "chrono"}]
        ).validate()


def test_labels_tell_engines_of_one_kind_apart():
    assert engine_labels(
        [
            {"engine": "lstm", "forget_bias": 0.0, "layers": 1, "init": "default", "hidden": 8},
            {"engine": "lstm", "forget_bias": 1.0, "layers": 1, "init": "default", "hidden": 8},
        ]
    ) == ["LSTM · forget bias 0", "LSTM · forget bias 1"]
    same = {"engine": "gru", "forget_bias": 1.0, "layers": 2, "init": "default", "hidden": 8}
    assert engine_labels([same, same]) == ["GRU #1", "GRU #2"]


def _trained(steps: int, spec=None, resume=None) -> tuple[Comparison, _Lockstep]:
    """A comparison trained ``steps`` lockstep rounds in this process (the trainer process's
    own code, without the pipe), its updates applied to the record."""
    spec = spec or CompareSpec.from_settings(COMMON, THREE)
    comparison = Comparison(spec)
    lockstep = _Lockstep(spec, autostart=True, resume=resume)
    snap = next(lockstep.run)
    lockstep.add(snap)
    while snap.step < steps + (resume[0].step if resume else 0):
        snap = lockstep.run.send(RequestProbe() if snap.step % 2 else None)  # frames at even steps
        lockstep.add(snap)
        if snap.step % 2 == 0:
            comparison.apply_update(lockstep.take(snap, 0.0, final=False))
    comparison.apply_update(lockstep.take(snap, 0.0, final=True))  # with every checkpoint
    return comparison, lockstep


def _record_training_batches(monkeypatch, trainers) -> list[list]:
    """The batches each trainer trains on, in order: every draw of its task made during the
    trainer's own ``train_step``. The app's trainers share one task object, so a draw is told
    apart by the step that is running, not by the task."""
    seen: list[list] = [[] for _ in trainers]
    stepping: list[int | None] = [None]
    for task in {id(t.task): t.task for t in trainers}.values():

        def drawing(batch_size, generator, sample=task.sample):
            batch = sample(batch_size, generator)
            if stepping[0] is not None:
                seen[stepping[0]].append(batch)
            return batch

        monkeypatch.setattr(task, "sample", drawing)
    for index, trainer in enumerate(trainers):

        def train_step(index=index, step=trainer.train_step):
            stepping[0] = index
            try:
                return step()
            finally:
                stepping[0] = None

        monkeypatch.setattr(trainer, "train_step", train_step)
    return seen


def _assert_same_batch(mine, theirs, what: str) -> None:
    for field in ("inputs", "targets", "mask", "metric_mask"):
        assert torch.equal(getattr(mine, field), getattr(theirs, field)), f"{what}: {field}"


@pytest.mark.parametrize(
    ("preset", "common"),
    [
        ("RNN vs LSTM vs GRU", COMMON),
        ("RNN vs LSTM vs GRU", {**COMMON, "task": "copy", "length": 5}),  # class targets
        ("LSTM forget bias 0 vs 1", COMMON),
        ("default vs orthogonal init", COMMON),
        ("1 vs 2 layers", COMMON),
    ],
    ids=["rnn-lstm-gru", "rnn-lstm-gru-copy", "forget-bias-0-1", "init", "layers"],
)
def test_every_engine_trains_on_the_same_batches_held_out_and_probe_sets(
    monkeypatch, preset, common
):
    """Built as the trainer process builds a comparison (one task object for all engines, a
    probe built per engine), each engine's first steps train on the same batches."""
    steps = 3
    spec = CompareSpec.from_settings(common, list(PRESETS[preset]))
    lockstep = _Lockstep(spec, autostart=True, resume=None)
    trainers = lockstep.trainers
    assert len(trainers) == len(PRESETS[preset])
    seen = _record_training_batches(monkeypatch, trainers)
    first = next(lockstep.run)  # every engine's evaluation and probe, before any step
    snap = first
    while snap.step < steps:
        snap = lockstep.run.send(None)
    lockstep.run.close()

    assert snap.step == steps and [len(batches) for batches in seen] == [steps] * len(trainers)
    ours = seen[0]
    assert not torch.equal(ours[0].inputs, ours[1].inputs)  # a batch per step, really drawn
    for engine, theirs in enumerate(seen[1:], start=2):
        for step, (mine, other) in enumerate(zip(ours, theirs, strict=True), start=1):
            _assert_same_batch(mine, other, f"engine {engine}, step {step}")
    for engine, trainer in enumerate(trainers[1:], start=2):
        _assert_same_batch(trainers[0].test_batch, trainer.test_batch, f"held-out, {engine}")
        _assert_same_batch(trainers[0].probe_batch, trainer.probe_batch, f"probe, {engine}")
    # what the window draws: every engine's first frame shows the same probe sequence
    frames = [each.probe for each in first.snapshots]
    assert all(frame is not None for frame in frames)
    for frame in frames[1:]:
        assert np.array_equal(frames[0].inputs, frame.inputs)
        assert np.array_equal(frames[0].targets, frame.targets)
    assert len(set(spec.weights_seeds)) == len(trainers)  # while the weights are their own


def test_a_saved_comparison_reopens_with_every_record(tmp_path):
    comparison, lockstep = _trained(5)
    lockstep.run.close()
    comparison.set_view(cursor=7, history_index=1)
    saved = comparison.save(tmp_path / "cmp")
    assert is_comparison_folder(saved) and not is_comparison_folder(tmp_path)
    assert all(is_run_folder(saved / name) for name in ("1-lstm", "2-gru", "3-rnn"))
    opened = Comparison.open(saved)
    assert opened.labels == ["LSTM", "GRU", "RNN"]
    assert opened.weights_seeds == [3, 4, 5] and opened.spec.data_seed == 3
    assert opened.parameters() == comparison.parameters()
    assert opened.parameters() == [
        sum(p.numel() for p in t.engine.parameters()) for t in lockstep.trainers
    ]
    assert (opened.view.cursor, opened.view.history_index) == (7, 1)
    assert opened.step == 5
    for mine, theirs in zip(comparison.experiments, opened.experiments, strict=True):
        np.testing.assert_allclose(theirs.metrics.train_losses, mine.metrics.train_losses)
        np.testing.assert_array_equal(theirs.metrics.eval_steps, mine.metrics.eval_steps)
        assert theirs.frames.steps() == mine.frames.steps()
        for name, tensor in mine.checkpoint.weights.items():
            assert torch.equal(theirs.checkpoint.weights[name], tensor)
    description = json.loads((saved / COMPARISON_FILE).read_text())
    assert [e["weights_seed"] for e in description["engines"]] == [3, 4, 5]


def test_a_reopened_comparison_continues_as_if_it_never_stopped(tmp_path):
    straight, run = _trained(6)
    run.run.close()
    first, run = _trained(3)
    run.run.close()
    first.save(tmp_path / "cmp")
    opened = Comparison.open(tmp_path / "cmp")
    continued, run = _trained(3, spec=opened.spec, resume=opened.checkpoints())
    run.run.close()
    for whole, rest in zip(straight.experiments, continued.experiments, strict=True):
        np.testing.assert_array_equal(rest.metrics.train_steps, [4, 5, 6])
        np.testing.assert_allclose(
            rest.metrics.train_losses, whole.metrics.train_losses[3:], rtol=1e-6
        )


def test_the_history_is_aligned_by_training_step():
    comparison, run = _trained(6)
    run.run.close()
    steps = comparison.history_steps()
    assert len(steps) >= 2
    for index in range(len(steps)):
        shown = comparison.frames_at(index)
        assert len(shown) == 3 and all(f is not None for f in shown)
        assert {frame.step for frame, _ in shown} == {steps[index]}
        inputs = [frame.inputs for frame, _ in shown]  # the engines share the probe inputs
        assert all(np.array_equal(inputs[0], other) for other in inputs[1:])
    assert comparison.frames_at(-1)[0][0].step == steps[-1]


def test_bad_comparison_folders_are_refused_naming_the_problem(tmp_path):
    comparison, run = _trained(2)
    run.run.close()
    folder = comparison.save(tmp_path / "cmp")
    description_path = folder / COMPARISON_FILE
    good = json.loads(description_path.read_text())

    def refused(change, match):
        description_path.write_text(json.dumps(change(dict(good))))
        with pytest.raises(RunFolderError, match=match):
            Comparison.open(folder)

    refused(lambda d: {**d, "format": "something else"}, "not a comparison")
    refused(lambda d: {**d, "version": 99}, "newer seq-playground")
    refused(lambda d: {**d, "engines": d["engines"][:1]}, "2 or 3 engines")
    escape = [{**good["engines"][0], "folder": "../elsewhere"}, *good["engines"][1:]]
    refused(lambda d: {**d, "engines": escape}, "names no run folder")
    seeds = [{**good["engines"][0], "weights_seed": -1}, *good["engines"][1:]]
    refused(lambda d: {**d, "engines": seeds}, "bad weights_seed")
    description_path.write_text("{not json")
    with pytest.raises(RunFolderError, match="comparison.json.*not valid JSON"):
        Comparison.open(folder)
    description_path.write_text(json.dumps(good))
    (folder / "2-gru" / "config.json").unlink()
    with pytest.raises(RunFolderError, match="2-gru"):
        Comparison.open(folder)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    with pytest.raises(RunFolderError, match="holds other files"):
        comparison.save(other)
    assert (other / "mine.txt").read_text() == "keep me"


def test_saving_again_replaces_the_old_save_whole(tmp_path):
    comparison, run = _trained(2)
    comparison.save(tmp_path / "cmp")
    snap = run.run.send(None)
    run.add(snap)
    comparison.apply_update(run.take(snap, 0.0, final=False))
    run.run.close()
    comparison.save(tmp_path / "cmp")
    assert Comparison.open(tmp_path / "cmp").experiments[0].metrics.last_step() == 3
    assert [p.name for p in tmp_path.iterdir()] == ["cmp"]  # no staging folder left


def test_an_update_for_other_engines_is_refused():
    comparison = Comparison(CompareSpec.from_settings(COMMON, THREE))
    with pytest.raises(ValueError, match="holds 2 engines"):
        comparison.apply_update(CompareUpdate("running", 1, [None, None], 0.0))


def test_the_comparison_modules_load_no_qt():
    code = (
        "import sys, playground.comparison, playground.compare_spec, playground.compare_process,"
        " engines.lockstep; print(sorted(m for m in sys.modules if m.startswith(('PySide6',"
        " 'pyqtgraph'))))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
