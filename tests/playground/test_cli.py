"""The ``seq-playground`` command line: the train run folder, its reproducibility, progress,
one-line errors for every bad option, divergence, and running without Qt. (Continuing runs:
test_train_resume.py; signals and full disks: test_cli_signals.py.)"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.cli import main
from playground.options import version

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--length", "8", "--hidden", "8", "--batch", "16", "--eval-every", "3", "--threads", "1"]


def train(tmp_path, *extra, name="run"):
    out = tmp_path / name
    code = main(["train", "--steps", "6", *TINY, "--out", str(out), *extra])
    return code, out


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def run_cli(args, env_extra=None, **kwargs):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "playground", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=kwargs.pop("cwd", None),
        timeout=120,
        **kwargs,
    )


# --- train: the run folder ------------------------------------------------------------------
def test_train_writes_the_run_folder(tmp_path, capsys):
    code, out = train(tmp_path)
    assert code == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        "config.json",
        "metrics.csv",
        "summary.json",
        "weights.safetensors",
        "weights.json",
        "training_state.pt",
        "frames.npz",
    }

    rows = read_csv(out / "metrics.csv")
    assert list(rows[0]) == ["step", "train_loss", "test_loss", "test_metric", "grad_norm"]
    assert [int(r["step"]) for r in rows] == list(range(7))
    assert rows[0]["train_loss"] == "" and rows[0]["test_loss"] != ""
    evaluated = [int(r["step"]) for r in rows if r["test_loss"]]
    assert evaluated == [0, 3, 6]
    assert all(float(r["train_loss"]) > 0 and float(r["grad_norm"]) > 0 for r in rows[1:])

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["steps"] == 6
    assert summary["final_test_loss"] == float(rows[-1]["test_loss"])
    assert summary["final_test_metric"] == float(rows[-1]["test_metric"])
    assert summary["baseline_metric"] == pytest.approx(1 / 6)
    for key in ("seconds", "device", "torch", "python", "engine", "baseline_loss"):
        assert key in summary
    assert summary["engine"] == "lstm" and summary["device"] == "cpu"

    config = json.loads((out / "config.json").read_text())
    assert config["argv"][:2] == ["seq-playground", "train"]
    assert config["options"]["task"] == "adding" and config["options"]["length"] == 8
    assert config["engine"]["hidden_size"] == 8 and config["training"]["batch_size"] == 16
    assert config["seed"] == 0 and config["steps"] == 6

    from engines.checkpoint import load_weights

    engine = load_weights(out / "weights.safetensors")
    assert engine.config.to_dict() == config["engine"]
    assert "lstm on adding (length 8)" in capsys.readouterr().err

    # The folder is the app's experiment file too: the format module reads all of it.
    from playground.run_folder import open_run_folder

    contents = open_run_folder(out)
    assert contents.problems == [] and contents.version == 2
    assert contents.training_state["step"] == 6 and contents.step == 6
    # A probe frame at every evaluation (0, 3, 6): the same steps a resumed run records.
    assert [frame.step for frame, _ in contents.frames] == [0, 3, 6]
    assert contents.frames[-1][0].trace.hidden.shape[1] == 1  # one probe sequence, as the app


def test_config_json_reproduces_the_run_bit_for_bit(tmp_path):
    code, first = train(tmp_path, "--engine", "gru", "--seed", "3")
    assert code == 0
    again = tmp_path / "again"
    assert main(["train", "--config", str(first / "config.json"), "--out", str(again)]) == 0
    assert (again / "metrics.csv").read_bytes() == (first / "metrics.csv").read_bytes()
    options = json.loads((again / "config.json").read_text())["options"]
    assert options["engine"] == "gru" and options["seed"] == 3
    # an option given beside --config wins over the file's
    other = tmp_path / "other"
    assert main(["train", "--config", str(first), "--seed", "4", "--out", str(other)]) == 0
    assert (other / "metrics.csv").read_bytes() != (first / "metrics.csv").read_bytes()


def test_plain_progress_lines_when_not_a_terminal(tmp_path, capsys):
    code, _ = train(tmp_path)
    assert code == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if line.startswith("step ")]
    assert [line.split()[1] for line in lines] == ["0/6", "3/6", "6/6"]
    assert "test mse" in lines[-1] and "steps/s" in lines[-1] and "ETA" in lines[-1]


def test_refuses_a_previous_run_unless_overwrite(tmp_path, capsys):
    assert train(tmp_path)[0] == 0
    capsys.readouterr()
    assert train(tmp_path)[0] == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a previous run" in err and "--overwrite" in err
    assert train(tmp_path, "--overwrite")[0] == 0


def test_train_on_a_csv_file(tmp_path):
    steps = np.arange(80)
    data = tmp_path / "wave.csv"
    rows = "\n".join(f"{np.sin(t / 5):.5f},{np.cos(t / 7):.5f}" for t in steps)
    data.write_text("a,b\n" + rows + "\n")
    code, out = train(tmp_path, "--data", str(data))
    assert code == 0
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["path"] == str(data.resolve())
    assert len(config["data"]["sha256"]) == 64
    assert config["task"]["task"] == "sequence" and config["task"]["input_size"] == 2
    code, out = train(
        tmp_path, "--data", str(data), "--objective", "recall", "--delay", "3", name="recall"
    )
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "sequence" and summary["length"] == 3


def test_diverged_run_writes_what_it_has_and_exits_1(tmp_path, capsys, monkeypatch):
    from engines import training

    real = training.Trainer.train_step

    def diverge_at_4(self):
        if self.step == 3:
            self.step += 1
            raise training.TrainingDiverged("the loss became nan at step 4: try a lower lr")
        return real(self)

    monkeypatch.setattr(training.Trainer, "train_step", diverge_at_4)
    code, out = train(tmp_path)
    assert code == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert errors == [
        "seq-playground: error: training diverged: the loss became nan at step 4: try a lower lr"
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and "nan" in summary["message"]
    assert [int(r["step"]) for r in read_csv(out / "metrics.csv")] == [0, 1, 2, 3]
    assert (out / "config.json").exists()


# --- errors: one line, exit 2, never a traceback ----------------------------------------------
BAD_TRAIN = {
    "unknown task": (["--task", "nope"], "unknown task 'nope'; choose one of: adding"),
    "negative length": (["--length", "-5"], "argument --length: length must be"),
    "length too long": (["--length", "100000"], "accepts 2 to"),
    "length not a number": (["--length", "ten"], "invalid int value: 'ten'"),
    "hidden 0": (["--hidden", "0"], "argument --hidden: hidden_size must be an integer from 1"),
    "unknown engine": (["--engine", "transformer"], "argument --engine: kind must be one of"),
    "lr 0": (["--lr", "0"], "argument --lr: learning rate must be a number in (0, 10]"),
    "lr negative": (["--lr", "-1e-3"], "argument --lr"),
    "batch 0": (["--batch", "0"], "argument --batch: batch_size must be"),
    "steps -1": (["--steps", "-1"], "argument --steps: must be an integer >= 0"),
    "unknown init": (["--init", "zeros"], "argument --init"),
    "negative seed": (["--seed", "-1"], "argument --seed"),
    "unknown optimizer": (["--optimizer", "lbfgs"], "argument --optimizer"),
    "bad device": (["--device", "tpu"], "argument --device: device must be 'cpu', 'cuda'"),
    "unknown option": (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    "task option": (["--task-option", "speed=3"], "argument --task-option: unknown option"),
    "objective without data": (["--objective", "recall"], "need --data FILE"),
    "missing data file": (["--data", "no_such.csv"], "argument --data: no_such.csv"),
    "bad config": (["--config", "no_such.json"], "argument --config: no_such.json: is missing"),
    "weights missing": (["--weights", "no_such.pt"], "argument --weights: no_such.pt: no such"),
}


def _one_error_line(capsys, code):
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    assert err.startswith("seq-playground: error: "), err
    return err


@pytest.mark.parametrize("case", list(BAD_TRAIN), ids=list(BAD_TRAIN))
def test_bad_train_option(tmp_path, capsys, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    extra, expected = BAD_TRAIN[case]
    code = main(["train", "--steps", "2", "--out", str(tmp_path / "out"), *extra])
    err = _one_error_line(capsys, code)
    assert expected in err
    assert not (tmp_path / "out" / "config.json").exists()


def test_missing_out_is_one_line(capsys):
    err = _one_error_line(capsys, main(["train"]))
    assert "the following arguments are required: --out" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible here")
def test_no_cuda_is_one_line(tmp_path, capsys):
    code = main(["train", "--device", "cuda", "--out", str(tmp_path / "o")])
    assert "argument --device: device 'cuda' cannot be used" in _one_error_line(capsys, code)


def test_bad_data_file_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2\n3,four\n5,6\n")
    code = main(["train", "--data", str(bad), "--out", str(tmp_path / "o")])
    err = _one_error_line(capsys, code)
    assert "bad.csv, line 2, column 2" in err


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--hidden", "0"], "argument --hidden"),
        (["--task", "nope"], "unknown task 'nope'"),
        (["--engine", "cnn"], "argument --engine"),
        (["--length", "-3"], "argument --length"),
        (["--lr", "0"], "argument --lr"),
        (["no_such_file.csv"], "no_such_file.csv: no such file"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_app_option(capsys, argv, expected):
    assert expected in _one_error_line(capsys, main(argv))


def test_console_error_has_no_traceback():
    result = run_cli(["train", "--hidden", "0", "--out", "x"])
    assert result.returncode == 2
    assert result.stderr.startswith("seq-playground: error: argument --hidden")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


# --- the app launch, --version ----------------------------------------------------------------
def test_version(capsys):
    assert main(["--version"]) == 0
    assert (
        capsys.readouterr().out.strip() == f"seq-playground {version()}" == "seq-playground 0.1.0"
    )


def test_launch_gets_only_the_given_settings(tmp_path, monkeypatch):
    calls = []
    fake = types.ModuleType("playground.app")
    fake.launch = lambda settings, autostart, files: calls.append((settings, autostart, files))
    monkeypatch.setitem(sys.modules, "playground.app", fake)
    sequence = tmp_path / "s.csv"
    sequence.write_text("1\n2\n3\n")
    argv = ["--task", "copy", "--length", "20", "--hidden", "16", "--engine", "GRU"]
    assert main([*argv, "--lr", "0.01", "--autostart", str(sequence)]) == 0
    settings, autostart, files = calls[0]
    assert settings == {"task": "copy", "length": 20, "hidden": 16, "engine": "gru", "lr": 0.01}
    assert autostart is True and files == [str(sequence.resolve())]
    assert main([]) == 0
    assert calls[1] == ({}, False, [])


# --- no Qt ----------------------------------------------------------------------------------
def _no_qt_dir(tmp_path) -> Path:
    fake = tmp_path / "no_qt" / "PySide6"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("PySide6 is unimportable in this test")\n')
    return fake.parent


def test_cli_imports_no_qt():
    code = (
        "import sys, playground.cli, playground.options, playground.train_command, "
        "playground.train_run, playground.horizon, playground.horizon_plan, playground.horizon_runs, "
        "playground.progress, playground.run_writer\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_train_runs_without_qt(tmp_path):
    no_qt = _no_qt_dir(tmp_path)
    out = tmp_path / "run"
    result = run_cli(
        ["train", "--steps", "3", *TINY, "--out", str(out)],
        env_extra={"PYTHONPATH": os.pathsep.join([str(no_qt), str(ROOT)])},
    )
    assert result.returncode == 0, result.stderr
    assert (out / "summary.json").exists() and (out / "weights.safetensors").exists()


# --- train: chrono initialisation ------------------------------------------------------------
def _chrono_run(tmp_path, engine):
    """``seq-playground train --init chrono --steps 0``: the run folder of the initial weights."""
    from safetensors.torch import load_file

    out = tmp_path / engine
    argv = ["train", "--task", "adding", "--length", "30", "--engine", engine, "--init", "chrono"]
    argv += ["--hidden", "64", "--steps", "0", "--threads", "1", "--out", str(out)]
    assert main(argv) == 0
    config = json.loads((out / "config.json").read_text())
    weights = load_file(str(out / "weights.safetensors"))
    hidden = config["engine"]["hidden_size"]
    blocks = (weights["core.bias_ih_l0"] + weights["core.bias_hh_l0"]).reshape(-1, hidden)
    return config, blocks, weights["core.bias_hh_l0"].reshape(-1, hidden)


def _assert_log_uniform(biases, t_max):
    """In log U(1, T_max - 1), spread over that range (not the range of a shorter T_max)."""
    biases = biases.double()
    assert float(biases.min()) >= 0.0 and float(biases.max()) <= np.log(t_max - 1) + 1e-6
    assert float(biases.max()) > np.log(t_max / 2)  # 64 draws: the top half is reached
    assert float(biases.min()) < np.log(3)  # ... and the bottom


@pytest.mark.parametrize("engine", ["lstm", "gru"])
def test_chrono_init_spreads_the_keep_gate_biases_up_to_the_task_length(tmp_path, engine):
    config, effective, hh = _chrono_run(tmp_path, engine)
    keep = 1  # the second block: the LSTM's forget gate (i f g o), the GRU's update gate (r z n)
    assert config["options"]["init"] == "chrono" and config["options"]["length"] == 30
    assert config["engine"]["init"] == "chrono"
    assert config["engine"]["chrono_t_max"] == 30  # T_max is the task's length
    _assert_log_uniform(effective[keep], 30)
    assert torch.all(hh[keep] == 0)  # the effective bias is bias_ih's
    if engine == "lstm":  # the input bias is the forget bias's negative
        torch.testing.assert_close(effective[0], -effective[1], rtol=0, atol=0)


def test_the_app_uses_the_same_chrono_t_max_as_the_command_line(tmp_path):
    from playground.run_spec import RunSpec, merged_settings

    config, *_ = _chrono_run(tmp_path, "lstm")
    settings = {"task": "adding", "length": 30, "engine": "lstm", "hidden": 64, "init": "chrono"}
    spec = RunSpec(settings=merged_settings(settings))
    engine = spec.engine_config(spec.validate())
    assert engine.chrono_t_max == 30
    assert engine.to_dict() == config["engine"]
    plain = RunSpec(settings=merged_settings({**settings, "init": "default"}))
    assert plain.engine_config(plain.validate()).chrono_t_max == 0


# --- progress -----------------------------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal():
    from playground.progress import ProgressBar, ProgressLines, make_progress

    clock = iter(float(t) for t in range(100)).__next__
    stream = _Terminal()
    bar = make_progress(10, stream, metric_name="mse")
    assert isinstance(bar, ProgressBar)
    bar.clock = clock
    for step in range(11):
        bar.update(step, 0.5 if step else None, 0.25 if step % 5 == 0 else None)
    bar.message("a line of its own")
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") >= 10 and "[" + "#" * 24 + "]" in text
    assert "step 10/10" in text and "test mse 0.25" in text and "steps/s" in text
    assert "ETA 0:00" in text and "a line of its own\n" in text
    assert isinstance(make_progress(10, io.StringIO()), ProgressLines)


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    assert main(["train", "--help"]) == 0
    assert "--out" in capsys.readouterr().out
    assert main(["horizon", "--help"]) == 0
    assert "--jobs" in capsys.readouterr().out
    assert main(["export", "--help"]) == 0
    assert "--animate" in capsys.readouterr().out


def test_window_without_qt_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "playground.app", None)  # import raises ImportError
    assert main(["--engine", "gru"]) == 1
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "the window cannot open" in err and "'seq-playground train'" in err
    )
