"""The ``horizon`` command: a run folder and a row per engine x length x seed, the PNG (when
Qt is there), the CSV alone when it is not; a sweep that resumes, runs N at a time, or is
planned for a job scheduler and collected afterwards; and the "solved" rule."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from playground import horizon_runs
from playground.cli import main
from playground.run_summary import is_solved, solved_threshold

ROOT = Path(__file__).resolve().parents[2]
HAS_QT = all(importlib.util.find_spec(m) for m in ("PySide6", "pyqtgraph"))
TINY = ["--steps", "2", "--hidden", "4", "--batch", "8", "--eval-every", "2", "--threads", "1"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: The sweep compared across --jobs 1, --jobs 2 and --plan/--collect (two runs: every
#: ``train`` process costs a torch import, seconds on a loaded 2-core machine).
SWEEP = ["horizon", "--engines", "rnn,gru", "--lengths", "4", *TINY]


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def table(out):
    """horizon.csv without the seconds column (wall time differs from run to run)."""
    return [
        {k: v for k, v in row.items() if k != "seconds"} for row in read_rows(out / "horizon.csv")
    ]


def file_times(folder):
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """SWEEP run in this process, one run at a time."""
    out = tmp_path_factory.mktemp("reference")
    assert main([*SWEEP, "--out", str(out)]) == 0
    return out


def test_horizon_writes_a_run_folder_and_a_row_per_run_and_the_png(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["horizon", "--engines", "rnn,gru", "--lengths", "4,6", "--seeds", "0,1", *TINY]
    assert main([*argv, "--out", str(out)]) == 0
    rows = read_rows(out / "horizon.csv")
    assert list(rows[0]) == list(horizon_runs.COLUMNS)
    runs = [(r["engine"], int(r["length"]), int(r["seed"])) for r in rows]
    # in the plan's order: length, engine, seed
    assert runs == [(e, n, s) for n in (4, 6) for e in ("rnn", "gru") for s in (0, 1)]
    for row in rows:
        assert row["task"] == "adding" and row["status"] == "finished" and row["steps"] == "2"
        assert float(row["baseline_metric"]) == pytest.approx(1 / 6)
        assert math.isfinite(float(row["final_test_metric"]))
        assert row["solved"] in ("True", "False")
        folder = out / "runs" / f"{row['engine']}-L{row['length']}-s{row['seed']}"
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["final_test_metric"] == float(row["final_test_metric"])
        assert (folder / "weights.safetensors").exists()
        assert (folder / "training_state.pt").exists()
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


def test_running_again_skips_finished_runs_and_refuses_another_sweep(tmp_path, capsys):
    argv = ["horizon", "--engines", "rnn", "--lengths", "4", *TINY, "--out", str(tmp_path)]
    assert main(argv) == 0
    run = tmp_path / "runs" / "rnn-L4-s0"
    before = file_times(run)
    capsys.readouterr()
    assert main(argv) == 0
    assert "1 of 1 runs already finished; 0 to go" in capsys.readouterr().err
    assert file_times(run) == before  # not trained again
    assert len(read_rows(tmp_path / "horizon.csv")) == 1
    # other options in the same folder: refused, one line, until --overwrite
    other = [*argv[:-2], "--hidden", "5", "--out", str(tmp_path)]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runs/rnn-L4-s0 holds a run with other options (hidden)" in err
    assert "--overwrite" in err
    assert main([*other, "--overwrite"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["engine"]["hidden_size"] == 5


def test_a_sweep_into_a_folder_of_another_joins_it_or_is_refused(tmp_path, capsys):
    """Another engine into the same folder joins the sweep there (one table, one plot, the
    finished runs untouched); another model with no run in common is refused in one line
    instead of overwriting the sweep's description and losing its table."""
    out = tmp_path / "sweep"
    first = ["horizon", "--engines", "rnn", "--lengths", "4", *TINY, "--out", str(out)]
    assert main(first) == 0
    before = file_times(out / "runs" / "rnn-L4-s0")
    assert main(["horizon", "--engines", "gru", "--lengths", "4", *TINY, "--out", str(out)]) == 0
    assert file_times(out / "runs" / "rnn-L4-s0") == before
    assert [row["engine"] for row in read_rows(out / "horizon.csv")] == ["rnn", "gru"]
    settings = json.loads((out / "horizon.json").read_text())
    assert settings["engines"] == ["rnn", "gru"] and len(settings["runs"]) == 2
    capsys.readouterr()
    other = ["horizon", "--engines", "lstm", "--lengths", "4", *TINY, "--hidden", "5"]
    assert main([*other, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds another sweep (other --hidden)" in err
    assert json.loads((out / "horizon.json").read_text()) == settings  # left as it was
    assert len(read_rows(out / "horizon.csv")) == 2


def test_more_steps_continue_the_finished_runs(tmp_path):
    """A sweep asked for more steps continues each run from its checkpoint: the table equals
    a sweep trained straight to the new number of steps."""
    short = ["horizon", "--engines", "gru", "--lengths", "4", *TINY]
    longer = [*short, "--steps", "4"]  # the later --steps wins
    assert main([*short, "--out", str(tmp_path / "a")]) == 0
    assert main([*longer, "--out", str(tmp_path / "a")]) == 0
    assert main([*longer, "--out", str(tmp_path / "b")]) == 0
    assert table(tmp_path / "a") == table(tmp_path / "b")
    assert table(tmp_path / "a")[0]["steps"] == "4"


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
        (["--jobs", "0"], "argument --jobs: must be an integer >= 1"),
    ],
)
def test_bad_horizon_option_is_one_line(tmp_path, capsys, extra, expected):
    code = main(["horizon", "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("seq-playground: error: ") and expected in err, err


def test_missing_out_and_collect_of_no_sweep_are_one_line(tmp_path, capsys):
    assert main(["horizon"]) == 2
    assert "required: --out (or --collect DIR)" in capsys.readouterr().err
    assert main(["horizon", "--collect", str(tmp_path)]) == 2
    assert "holds no sweep (runs/ is missing)" in capsys.readouterr().err


def test_interrupted_sweep_resumes_without_redoing_finished_runs(tmp_path, monkeypatch, capsys):
    """SIGTERM arrives while the third of four runs trains: the sweep stops (143) with two
    rows; the same command again trains only what is left, and the table equals a sweep that
    was never stopped."""
    real = horizon_runs.train_once
    calls = []

    def terminated_in_third(sweep_run, threads, log):
        calls.append(sweep_run.name)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # handled: the run stops at its next step
        return real(sweep_run, threads, log)

    monkeypatch.setattr(horizon_runs, "train_once", terminated_in_third)
    argv = ["horizon", "--engines", "rnn,lstm", "--lengths", "4,5", *TINY]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 143
    assert len(read_rows(tmp_path / "a" / "horizon.csv")) == 2
    assert "interrupted after 2 of 4 runs" in capsys.readouterr().err
    stopped = json.loads((tmp_path / "a" / "runs" / calls[2] / "summary.json").read_text())
    assert stopped["status"] == "interrupted"
    finished = [tmp_path / "a" / "runs" / name for name in calls[:2]]
    before = [file_times(folder) for folder in finished]

    calls.clear()
    monkeypatch.setattr(
        horizon_runs, "train_once", lambda *a: (calls.append(a[0].name), real(*a))[1]
    )
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert calls == ["rnn-L5-s0", "lstm-L5-s0"]  # the stopped run continues, the last starts
    assert [file_times(folder) for folder in finished] == before
    assert main([*argv, "--out", str(tmp_path / "b")]) == 0
    assert table(tmp_path / "a") == table(tmp_path / "b") and len(table(tmp_path / "a")) == 4


def test_jobs_2_gives_the_same_table_as_jobs_1(tmp_path, reference, capsys, monkeypatch):
    out = tmp_path / "parallel"
    started, alive_at_start = [], []

    class Recording(subprocess.Popen):
        """A train process that notes, as it starts, how many others are still alive."""

        def __init__(self, args, *rest, **options):
            if "train" in args:
                alive_at_start.append(sum(p.poll() is None for p in started) + 1)
            super().__init__(args, *rest, **options)
            if "train" in args:
                started.append(self)

    monkeypatch.setattr(subprocess, "Popen", Recording)
    assert main([*SWEEP, "--jobs", "2", "--out", str(out)]) == 0
    # two train processes, the second started while the first still ran: two at a time
    assert alive_at_start == [1, 2]
    assert table(out) == table(reference) and len(table(out)) == 2
    err = capsys.readouterr().err
    assert "[2/2]" in err
    # every run logged on its own, as the train process printed it
    log = (out / "logs" / "gru-L4-s0.log").read_text()
    assert "gru on adding (length 4)" in log and "Traceback" not in log


def test_plan_then_the_commands_then_collect_gives_the_same_table(tmp_path, reference, capsys):
    out = tmp_path / "planned"
    assert main([*SWEEP, "--plan", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    commands = captured.out.splitlines()
    assert len(commands) == 2 and f"--collect {out}" in captured.err
    for command in commands:
        words = shlex.split(command)
        assert words[:2] == ["seq-playground", "train"] and "--or-resume" in words
        assert Path(words[words.index("--out") + 1]).parent == out / "runs"
    assert not (out / "runs" / "rnn-L4-s0").exists()  # planned, not run
    assert main(["horizon", "--collect", str(out)]) == 1  # nothing finished yet
    assert "2 runs not finished yet" in capsys.readouterr().err

    for command in commands:  # what each job of a job array would run
        assert main(shlex.split(command)[1:]) == 0
    assert main(shlex.split(commands[0])[1:]) == 0  # a job run twice does nothing more
    assert "already finished at step 2" in capsys.readouterr().err
    assert main(["horizon", "--collect", str(out)]) == 0
    assert table(out) == table(reference)
    if HAS_QT:
        assert (out / "horizon.png").read_bytes()[:8] == PNG_MAGIC


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
