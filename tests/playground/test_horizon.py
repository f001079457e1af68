"""The ``horizon`` command: a row per engine x length x seed, the PNG (when Qt is there), the
CSV alone when it is not, what an interrupted sweep keeps, and the "solved" rule."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from playground import horizon as horizon_module
from playground.cli import main
from playground.run_files import is_solved, solved_threshold

ROOT = Path(__file__).resolve().parents[2]
HAS_QT = all(importlib.util.find_spec(m) for m in ("PySide6", "pyqtgraph"))
TINY = ["--steps", "2", "--hidden", "4", "--batch", "8", "--eval-every", "2", "--threads", "1"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_horizon_writes_a_row_per_run_and_the_png(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["horizon", "--engines", "rnn,gru", "--lengths", "4,6", "--seeds", "0,1", *TINY]
    assert main([*argv, "--out", str(out)]) == 0
    rows = read_rows(out / "horizon.csv")
    assert list(rows[0]) == list(horizon_module.COLUMNS)
    runs = {(r["engine"], int(r["length"]), int(r["seed"])) for r in rows}
    assert runs == {(e, n, s) for e in ("rnn", "gru") for n in (4, 6) for s in (0, 1)}
    assert len(rows) == 8
    for row in rows:
        assert row["task"] == "adding" and row["status"] == "finished" and row["steps"] == "2"
        assert float(row["baseline_metric"]) == pytest.approx(1 / 6)
        assert math.isfinite(float(row["final_test_metric"]))
        assert row["solved"] in ("True", "False")
    settings = json.loads((out / "horizon.json").read_text())
    assert settings["lengths"] == [4, 6] and settings["argv"][:2] == ["seq-playground", "horizon"]
    err = capsys.readouterr().err
    assert "[8/8] gru length 6 seed 1: test mse" in err
    if HAS_QT:
        assert (out / "horizon.png").read_bytes()[:8] == PNG_MAGIC
        assert f"wrote {out / 'horizon.png'}" in err
    else:
        assert "horizon.png skipped" in err


def test_same_sweep_gives_the_same_numbers(tmp_path):
    argv = ["horizon", "--engines", "lstm", "--lengths", "5", *TINY]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    metric = [read_rows(tmp_path / d / "horizon.csv")[0]["final_test_metric"] for d in "ab"]
    assert metric[0] == metric[1]


def test_refuses_a_previous_sweep(tmp_path, capsys):
    argv = ["horizon", "--engines", "rnn", "--lengths", "4", *TINY, "--out", str(tmp_path)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv) == 2
    assert "add --overwrite" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--engines", "rnn,cnn"], "argument --engines: kind must be one of"),
        (["--lengths", "10,x"], "argument --lengths: 'x' is not an integer"),
        (["--lengths", "10,1"], "argument --lengths: length must be"),
        (["--lengths", ","], "argument --lengths: give a comma-separated list"),
        (["--seeds", "-1"], "argument --seeds: seed must be"),
        (["--task", "nope"], "argument --task: unknown task 'nope'"),
        (["--hidden", "0"], "argument --hidden"),
        (["--steps", "0"], "argument --steps"),
    ],
)
def test_bad_horizon_option_is_one_line(tmp_path, capsys, extra, expected):
    code = main(["horizon", "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("seq-playground: error: ") and expected in err, err


def test_interrupted_sweep_keeps_its_rows(tmp_path, monkeypatch, capsys):
    real = horizon_module.train_once
    calls = []

    def interrupt_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(horizon_module, "train_once", interrupt_third)
    argv = ["horizon", "--engines", "rnn,lstm", "--lengths", "4,5", *TINY]
    assert main([*argv, "--out", str(tmp_path)]) == 130
    assert len(read_rows(tmp_path / "horizon.csv")) == 2
    assert "interrupted after 2 of 4 runs" in capsys.readouterr().err


def test_horizon_without_qt_writes_the_csv_and_says_the_png_was_skipped(tmp_path):
    fake = tmp_path / "no_qt" / "PySide6"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("PySide6 is unimportable in this test")\n')
    out = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "-m", "playground", "horizon", "--engines", "gru", "--lengths", "4"]
        + [*TINY, "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), str(ROOT)])},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(read_rows(out / "horizon.csv")) == 1
    assert not (out / "horizon.png").exists()
    skipped = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and "Qt is not installed" in skipped[0]


@pytest.mark.skipif(not HAS_QT, reason="needs PySide6 and pyqtgraph")
def test_render_accuracy_rows_with_a_failed_run(tmp_path):
    from playground.horizon_plot import render_horizon

    rows = [
        {
            "engine": engine,
            "length": 20,
            "seed": seed,
            "final_test_metric": math.nan if engine == "rnn" and seed else 0.5 + 0.2 * seed,
            "baseline_metric": 0.125,
            "metric": "accuracy",
            "higher_is_better": True,
            "length_label": "delay",
        }
        for engine in ("rnn", "lstm")
        for seed in (0, 1)
    ]
    path = render_horizon(rows, tmp_path / "h.png", title="accuracy")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in tmp_path.iterdir()] == ["h.png"]  # no temporary file left


def test_solved_rule():
    assert solved_threshold(1 / 6, False) == pytest.approx(1 / 60)
    assert is_solved(0.01, 1 / 6, False) and not is_solved(0.02, 1 / 6, False)
    assert is_solved(0.95, 0.125, True) and not is_solved(0.85, 0.125, True)
    # a high baseline needs half the way to 1 beyond it
    assert not is_solved(0.93, 0.9, True) and is_solved(0.96, 0.9, True)
    assert not is_solved(math.nan, 1 / 6, False) and not is_solved(None, 0.5, True)
