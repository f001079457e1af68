"""``train --resume``, ``--weights``, ``--steps 0`` and ``--or-resume``: continuing a run
folder equals never stopping (bit for bit on the CPU, all three engines, folders of the
command line and of the app), older and broken folders get one line, and saved weights
(ours or a plain torch.nn module's) start or evaluate a run."""

from __future__ import annotations

import json
import signal
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from playground.cli import main
from playground.run_folder import open_run_folder

TINY = ["--length", "8", "--hidden", "8", "--batch", "16", "--eval-every", "3", "--threads", "1"]


def train(out, steps, *extra):
    return main(["train", "--steps", str(steps), *TINY, *extra, "--out", str(out)])


def weights(folder):
    return load_file(folder / "weights.safetensors")


def same_weights(a, b):
    wa, wb = weights(a), weights(b)
    return sorted(wa) == sorted(wb) and all(torch.equal(wa[k], wb[k]) for k in wa)


def frame_steps(folder):
    return [frame.step for frame, _ in open_run_folder(folder).frames]


def one_line(capsys, code, expected_code=2):
    err = capsys.readouterr().err
    assert code == expected_code, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith("seq-playground: error: "), err
    return err


# --- continuing equals never stopping ---------------------------------------------------------
@pytest.mark.parametrize("engine", ["rnn", "lstm", "gru"])
def test_resume_equals_a_run_trained_straight(tmp_path, engine):
    resumed, straight = tmp_path / "resumed", tmp_path / "straight"
    assert train(resumed, 6, "--engine", engine) == 0
    assert main(["train", "--resume", str(resumed), "--steps", "9"]) == 0
    assert train(straight, 9, "--engine", engine) == 0
    assert (resumed / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()
    assert same_weights(resumed, straight)
    assert frame_steps(resumed) == frame_steps(straight) == [0, 3, 6, 9]
    summary = json.loads((resumed / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 9
    assert (
        summary["final_test_metric"]
        == json.loads((straight / "summary.json").read_text())["final_test_metric"]
    )
    config = json.loads((resumed / "config.json").read_text())
    assert config["options"]["steps"] == 9 and config["steps"] == 9
    assert config["resumed"][0]["from_step"] == 6 and not config["resumed"][0]["fresh_optimizer"]


def test_resume_after_an_interruption_off_the_evaluation_schedule(tmp_path, monkeypatch):
    """Stopped at step 4 (evaluations every 3): the continued run has no evaluation at 4 and
    no rows past the checkpoint, exactly as a run that never stopped; --config of the
    continued folder reruns it straight, bit for bit."""
    from engines import training
    from playground import interrupts

    real = training.Trainer.train_step

    def stop_after_4(self):
        result = real(self)
        if self.step == 4:
            interrupts.request(signal.SIGTERM)
        return result

    out, straight = tmp_path / "run", tmp_path / "straight"
    monkeypatch.setattr(training.Trainer, "train_step", stop_after_4)
    assert train(out, 9) == 143
    monkeypatch.setattr(training.Trainer, "train_step", real)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["steps"] == 4
    # a killed run may have flushed metrics past its checkpoint: they are dropped
    with open(out / "metrics.csv", "a") as handle:
        handle.write("5,9.0,,,9.0\n6,9.0,,,9.0\n")
    assert main(["train", "--resume", str(out)]) == 0  # to the run's own --steps 9
    assert train(straight, 9) == 0
    assert (out / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()
    assert same_weights(out, straight)
    assert frame_steps(out) == frame_steps(straight)
    again = tmp_path / "again"
    assert main(["train", "--config", str(out), "--out", str(again)]) == 0
    assert (again / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()


def test_resume_of_a_finished_run_at_its_step_does_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert train(out, 3) == 0
    before = (out / "summary.json").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--steps", "3"]) == 0
    assert "already finished at step 3" in capsys.readouterr().err
    assert (out / "summary.json").stat().st_mtime_ns == before


def test_a_data_run_keeps_its_sequence(tmp_path):
    """sequence.npz makes a --data run self-contained: with the file gone it still reruns
    and continues."""
    data = tmp_path / "wave.csv"
    t = np.arange(60)
    data.write_text("a,b\n" + "\n".join(f"{np.sin(x / 5):.5f},{np.cos(x / 7):.5f}" for x in t))
    first, straight = tmp_path / "first", tmp_path / "straight"
    assert train(first, 3, "--data", str(data), "--objective", "recall", "--delay", "2") == 0
    assert train(straight, 6, "--data", str(data), "--objective", "recall", "--delay", "2") == 0
    data.unlink()
    assert main(["train", "--resume", str(first), "--steps", "6"]) == 0
    assert (first / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()
    rerun = tmp_path / "rerun"
    assert main(["train", "--config", str(straight), "--out", str(rerun)]) == 0
    assert (rerun / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()
    assert open_run_folder(rerun).sequences["train"]["objective"] == "recall"


# --- a folder the app saved -----------------------------------------------------------------
def _app_spec(values):
    from playground.run_spec import RunSpec, UserSequence, merged_settings

    settings = merged_settings({"engine": "gru", "hidden": 6, "batch": 8, "seed": 2})
    sequence = UserSequence(values=values, objective="next", source="drawing")
    return RunSpec(settings=settings, sequence=sequence, eval_every=4)


def _app_trainer(spec):
    from engines.training import Trainer

    task = spec.validate()
    return Trainer.create(
        spec.engine_config(task), task, spec.training_config(), probe_batch=spec.build_probe(task)
    )


def _save_like_the_app(spec, steps, folder):
    """Train the way the app's trainer does and save through the app's record."""
    from engines.training import run_training
    from playground.experiment import Checkpoint, Experiment

    trainer = _app_trainer(spec)
    experiment = Experiment(spec)
    for snap in run_training(trainer, steps):
        trained, evaluated = snap.train_loss is not None, snap.test_loss is not None
        experiment.apply_update(
            types.SimpleNamespace(
                info={"task": trainer.task.describe(), "engine": trainer.engine.config.to_dict()},
                steps=np.array([snap.step] if trained else [], np.int64),
                losses=np.array([snap.train_loss] if trained else [], np.float32),
                grad_norms=np.array([snap.grad_norm] if trained else [], np.float32),
                eval_steps=np.array([snap.step] if evaluated else [], np.int64),
                eval_losses=np.array([snap.test_loss] if evaluated else [], np.float32),
                eval_metrics=np.array([snap.test_metric] if evaluated else [], np.float32),
                frame=snap.probe,
                state="paused" if snap.state == "finished" else snap.state,
                step=snap.step,
                steps_per_second=0.0,
                device="cpu",
                lr=snap.lr,
                clip=snap.clip,
                message="",
            )
        )
    experiment.set_checkpoint(
        Checkpoint(
            step=trainer.step,
            weights={k: v.detach().clone() for k, v in trainer.engine.state_dict().items()},
            training_state=trainer.training_state(),
            engine_config=trainer.engine.config.to_dict(),
        )
    )
    experiment.save(folder)
    return trainer


def test_resume_a_folder_the_app_saved_with_its_own_sequence(tmp_path):
    from engines.training import run_training

    values = np.sin(np.arange(40, dtype=np.float32) / 3)[:, None]
    spec = _app_spec(values)
    folder = tmp_path / "experiment"
    _save_like_the_app(spec, 5, folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["written_by"] == "app" and (folder / "sequence.npz").exists()

    assert main(["train", "--resume", str(folder), "--steps", "10", "--threads", "1"]) == 0
    straight = _app_trainer(spec)
    losses = {}
    for snap in run_training(straight, 10):
        if snap.train_loss is not None:
            losses[snap.step] = snap.train_loss
    saved = weights(folder)
    assert all(torch.equal(saved[k], v) for k, v in straight.engine.state_dict().items())
    metrics = open_run_folder(folder).metrics
    continued = metrics.step > 5
    assert metrics.step[continued].tolist() == list(range(6, 11))
    assert metrics.train_loss[continued].tolist() == [losses[s] for s in range(6, 11)]
    # the app stored its losses as float32; they are kept as they were
    assert metrics.train_loss[1:6] == pytest.approx([losses[s] for s in range(1, 6)], rel=1e-6)
    config = json.loads((folder / "config.json").read_text())
    assert config["written_by"] == "app" and config["continued_by"] == "seq-playground train"
    # --config of the app's folder trains the same run anew, on the folder's own sequence
    rerun = tmp_path / "rerun"
    assert main(["train", "--config", str(folder), "--steps", "10", "--out", str(rerun)]) == 0
    assert open_run_folder(rerun).metrics.train_loss[1:].tolist() == [
        losses[s] for s in range(1, 11)
    ]


def test_resume_an_app_folder_keeps_its_task_options_and_held_out_size(tmp_path):
    """A copy task with 3 symbols and a held-out set of 64, saved by the app: --resume
    trains the very same run (the task's options used to be dropped: another task)."""
    from engines.training import run_training
    from playground.run_spec import RunSpec, merged_settings

    settings = merged_settings({"task": "copy", "length": 6, "hidden": 5, "batch": 4})
    spec = RunSpec(settings=settings, eval_every=4, task_options={"n_symbols": 3}, test_size=64)
    folder = tmp_path / "copy"
    _save_like_the_app(spec, 5, folder)
    assert main(["train", "--resume", str(folder), "--steps", "9", "--threads", "1"]) == 0
    straight = _app_trainer(spec)
    run = list(run_training(straight, 9))
    saved = weights(folder)
    assert all(torch.equal(saved[k], v) for k, v in straight.engine.state_dict().items())
    metrics = open_run_folder(folder).metrics
    expected = {s.step: s.train_loss for s in run if s.train_loss is not None}
    assert metrics.train_loss[metrics.step > 5].tolist() == [expected[s] for s in range(6, 10)]
    assert straight.test_batch.inputs.shape[0] == 64


def test_an_app_folder_needs_steps(tmp_path, capsys):
    spec = _app_spec(np.linspace(0, 1, 30, dtype=np.float32)[:, None])
    _save_like_the_app(spec, 2, tmp_path / "e")
    err = one_line(capsys, main(["train", "--resume", str(tmp_path / "e")]))
    assert "argument --steps: give the step to train" in err


# --- older and broken folders ---------------------------------------------------------------
def test_a_version_1_folder_continues_with_a_fresh_optimizer_and_says_so(tmp_path, capsys):
    out = tmp_path / "v1"
    assert train(out, 6) == 0
    (out / "training_state.pt").unlink()
    (out / "frames.npz").unlink()
    config = json.loads((out / "config.json").read_text())
    config["version"] = 1
    (out / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--steps", "9"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert len(notes) == 1 and "fresh optimizer" in notes[0] and "version-1" in notes[0]
    contents = open_run_folder(out)
    assert contents.version == 2 and contents.training_state["step"] == 9
    assert contents.metrics.step.tolist() == list(range(10))


def _broken(tmp_path, how):
    out = tmp_path / "run"
    assert train(out, 3) == 0
    if how == "no weights":
        (out / "weights.safetensors").unlink()
    elif how == "bad version":
        config = json.loads((out / "config.json").read_text())
        config["version"] = 99
        (out / "config.json").write_text(json.dumps(config))
    elif how == "damaged state":
        (out / "training_state.pt").write_bytes(b"not a zip at all")
    elif how == "other checkpoint":
        other = tmp_path / "other"
        assert train(other, 2) == 0
        (out / "training_state.pt").write_bytes((other / "training_state.pt").read_bytes())
    elif how == "diverged":
        summary = json.loads((out / "summary.json").read_text())
        summary.update(status="diverged", message="the loss became nan")
        (out / "summary.json").write_text(json.dumps(summary))
    return out


@pytest.mark.parametrize(
    "how, extra, expected",
    [
        ("no weights", [], "has no usable weights"),
        ("bad version", [], "is version 99 of the run format; this program reads versions 1, 2"),
        ("damaged state", [], "training_state.pt: "),
        ("other checkpoint", [], "are from different checkpoints"),
        ("diverged", [], "the run diverged at step 3"),
        ("fine", ["--hidden", "16"], "the run keeps its own options; only --steps"),
        ("fine", ["--steps", "2"], "is at step 3 already"),
    ],
)
def test_a_folder_that_cannot_continue_is_one_line(tmp_path, capsys, how, extra, expected):
    out = _broken(tmp_path, how)
    capsys.readouterr()
    err = one_line(capsys, main(["train", "--resume", str(out), *(extra or ["--steps", "5"])]))
    assert expected in err
    if how != "fine" or "--steps" in extra:
        assert str(out) in err
    if how in ("damaged state", "other checkpoint"):
        assert "delete" in err and "fresh optimizer" in err  # and how to go on


def test_not_a_run_folder_is_one_line(tmp_path, capsys):
    err = one_line(capsys, main(["train", "--resume", str(tmp_path / "nope")]))
    assert "no such folder" in err
    err = one_line(capsys, main(["train", "--resume", str(tmp_path)]))
    assert "is not a run folder (it has no config.json)" in err
    (tmp_path / "config.json").write_text('{"format": "something else", "options": {}}')
    err = one_line(capsys, main(["train", "--resume", str(tmp_path)]))
    assert "is not a run config written by seq-playground" in err


# --- --weights and --steps 0 ------------------------------------------------------------------
def test_steps_0_evaluates_saved_weights(tmp_path, capsys):
    trained, evaluated = tmp_path / "trained", tmp_path / "evaluated"
    assert train(trained, 6, "--engine", "gru") == 0
    file = trained / "weights.safetensors"
    # no --engine/--hidden: the file says what it is
    argv = ["train", "--weights", str(file), "--steps", "0", "--length", "8", "--threads", "1"]
    assert main([*argv, "--out", str(evaluated)]) == 0
    assert same_weights(trained, evaluated)
    summary = json.loads((evaluated / "summary.json").read_text())
    final = json.loads((trained / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 0
    assert summary["final_test_loss"] == final["final_test_loss"]  # same weights, same test set
    config = json.loads((evaluated / "config.json").read_text())
    assert config["engine"]["kind"] == "gru" and config["engine"]["hidden_size"] == 8
    assert config["weights"]["path"] == str(file.resolve())
    assert len(open_run_folder(evaluated).metrics) == 1
    # options that contradict the file: one line naming the difference
    capsys.readouterr()
    code = main([*argv, "--hidden", "16", "--out", str(tmp_path / "x")])
    err = one_line(capsys, code)
    assert "the file has --hidden 8, the options 16 (give --hidden 8)" in err


def test_weights_of_a_plain_torch_module_start_a_run(tmp_path, capsys):
    torch.manual_seed(0)
    gru, head = torch.nn.GRU(2, 5, batch_first=True), torch.nn.Linear(5, 1)
    state = {f"rnn.{k}": v for k, v in gru.state_dict().items()}
    state.update({f"head.{k}": v for k, v in head.state_dict().items()})
    file = tmp_path / "mine.pt"
    torch.save(state, file)
    out = tmp_path / "run"
    assert (
        main(["train", "--weights", str(file), "--steps", "3", *TINY[:2], "--out", str(out)]) == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config["engine"]["kind"] == "gru" and config["engine"]["hidden_size"] == 5
    # the run began from the module's weights: at step 0 the outputs are the module's
    from engines.checkpoint import read_weights_file

    loaded = read_weights_file(file)
    x = torch.randn(3, 8, 2)
    engine = loaded.build()
    with torch.no_grad():
        assert torch.allclose(engine(x), head(gru(x)[0]), atol=1e-6)
    capsys.readouterr()
    bad = tmp_path / "bad.pt"
    torch.save({"rnn." + k: v for k, v in torch.nn.GRU(3, 5).state_dict().items()}, bad)
    err = one_line(capsys, main(["train", "--weights", str(bad), *TINY[:2], "--out", str(out)]))
    assert "argument --weights: bad.pt does not fit" in err and "3 inputs" in err


# --- --or-resume ------------------------------------------------------------------------------
def test_or_resume_continues_this_run_and_refuses_another(tmp_path, capsys, monkeypatch):
    from engines import training
    from playground import interrupts

    real = training.Trainer.train_step

    def stop_after_2(self):
        result = real(self)
        if self.step == 2:
            interrupts.request(signal.SIGINT)
        return result

    out, straight = tmp_path / "run", tmp_path / "straight"
    monkeypatch.setattr(training.Trainer, "train_step", stop_after_2)
    assert train(out, 6, "--or-resume") == 130
    monkeypatch.setattr(training.Trainer, "train_step", real)
    assert train(out, 6, "--or-resume") == 0
    assert train(straight, 6) == 0
    assert (out / "metrics.csv").read_bytes() == (straight / "metrics.csv").read_bytes()
    capsys.readouterr()
    err = one_line(capsys, train(out, 6, "--or-resume", "--seed", "1"))
    assert "holds a different run (seed 0 there, 1 here)" in err
    assert Path(out / "weights.json").exists()
