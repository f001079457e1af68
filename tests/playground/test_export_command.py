"""``seq-playground export``: the app's figures from a run folder written by ``train``, drawn
off screen; clear errors for a bad view, step or folder; one line and exit 2 without Qt."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from PySide6 import QtGui

from playground.cli import main
from playground.export_command import available_views, run_export
from playground.run_folder import open_run_folder

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--length", "8", "--hidden", "6", "--batch", "16", "--eval-every", "4", "--threads", "1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    assert main(["train", "--steps", "12", *TINY, "--out", str(out)]) == 0
    return out


def recorded_steps(run_dir):
    return [frame.step for frame, _ in open_run_folder(run_dir).frames]


def test_every_view_and_the_history_from_a_train_run(run_dir, tmp_path, capsys):
    out = tmp_path / "figures"
    assert run_export(run_dir, out, animate="gif") == 0
    steps = recorded_steps(run_dir)
    last = steps[-1]
    views = available_views(open_run_folder(run_dir))
    expected = {f"{name}_step{last}.png" for name in views} | {"history.gif"}
    assert {p.name for p in out.iterdir()} == expected
    printed = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in printed) == sorted(expected)
    hidden = QtGui.QImage(str(out / f"hidden_step{last}.png"))
    assert (hidden.width(), hidden.height()) == (800, 500)
    board = QtGui.QImage(str(out / f"dashboard_step{last}.png"))
    assert (board.width(), board.height()) == (1280, 800)
    with Image.open(out / "history.gif") as gif:
        assert gif.n_frames == len(steps)


def test_svg_views_at_a_chosen_step(run_dir, tmp_path):
    step = recorded_steps(run_dir)[1]
    out = tmp_path / "svg"
    assert run_export(run_dir, out, format="svg", views=["forget", "loss"], step=step) == 0
    assert {p.name for p in out.iterdir()} == {f"forget_step{step}.svg", f"loss_step{step}.svg"}
    root = ET.parse(out / f"forget_step{step}.svg").getroot()
    texts = {"".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert f"LSTM · adding · length 8 · step {step}" in texts
    assert {"forget gate", "time step", "unit"} <= texts


def test_a_step_range_as_mp4_or_a_cursor_sweep(run_dir, tmp_path):
    steps = recorded_steps(run_dir)
    out = tmp_path / "anim"
    assert run_export(run_dir, out, views=[], animate="gif", sweep=True, size=(1280, 800)) == 0
    with Image.open(out / f"sweep_step{steps[-1]}.gif") as gif:
        assert gif.n_frames == 8  # one per time step of the length-8 sequence
    assert run_export(run_dir, out, views=[], animate="gif", steps=(steps[1], steps[2])) == 0
    with Image.open(out / "history.gif") as gif:
        assert gif.n_frames == 2


def test_bad_views_steps_and_folders_are_named(run_dir, tmp_path):
    with pytest.raises(ValueError, match=r"--views: unknown view 'reset'.*forget"):
        run_export(run_dir, tmp_path / "x", views=["reset"])
    with pytest.raises(ValueError, match=r"--step: no frame recorded at step 5.*nearest is 4"):
        run_export(run_dir, tmp_path / "x", step=5)
    with pytest.raises(ValueError, match="RUN_DIR.*no such folder"):
        run_export(tmp_path / "nothing", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_command_line_says_what_is_wrong_in_one_line(run_dir, tmp_path, capsys):
    assert main(["export", str(run_dir), "--out", str(tmp_path / "x"), "--step", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no frame recorded at step 5" in err[0]


def test_without_qt_it_says_so_and_exits_2(run_dir, tmp_path):
    fake = tmp_path / "no_qt" / "PySide6"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("PySide6 is unimportable here")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake.parent), str(ROOT)])}
    result = subprocess.run(
        [sys.executable, "-m", "playground", "export", str(run_dir), "--out", str(tmp_path / "f")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs Qt" in lines[0]
    assert not (tmp_path / "f").exists()


def _refuse_writes(monkeypatch, folder, code, at="mkstemp", only=""):
    """Writes into ``folder`` (of files whose name starts with ``only``) fail with ``code``:
    at the temporary file, as in a read-only folder for a user who is not root, or at the
    rename, as on a disk that filled up meanwhile."""
    from widgets import export_files

    if at == "mkstemp":
        real_mkstemp = export_files.tempfile.mkstemp

        def mkstemp(*args, dir=None, prefix=None, **kwargs):
            if dir is not None and Path(dir) == folder and prefix.startswith(f".{only}"):
                raise PermissionError(code, os.strerror(code))
            return real_mkstemp(*args, dir=dir, prefix=prefix, **kwargs)

        monkeypatch.setattr(export_files.tempfile, "mkstemp", mkstemp)
    else:
        real_replace = export_files.os.replace

        def replace(source, target):
            target = Path(target)
            if target.parent == folder and target.name.startswith(only):
                raise OSError(code, os.strerror(code))
            return real_replace(source, target)

        monkeypatch.setattr(export_files.os, "replace", replace)


@pytest.mark.parametrize(
    ("at", "code", "reason"),
    [("mkstemp", errno.EACCES, "no permission"), ("replace", errno.ENOSPC, "the disk is full")],
)
def test_an_unwritable_out_folder_is_one_line_and_exit_1(
    run_dir, tmp_path, capsys, monkeypatch, at, code, reason
):
    out = tmp_path / "locked"
    out.mkdir()
    _refuse_writes(monkeypatch, out, code, at)
    step = recorded_steps(run_dir)[-1]
    assert main(["export", str(run_dir), "--out", str(out), "--views", "hidden,loss"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert str(out / f"hidden_step{step}.png") in lines[0] and reason in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert list(out.iterdir()) == []  # no file, no temporary file


def test_a_write_that_fails_midway_keeps_the_files_before(run_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "figures"
    out.mkdir()
    _refuse_writes(monkeypatch, out, errno.ENOSPC, at="replace", only="loss")
    step = recorded_steps(run_dir)[-1]
    code = main(["export", str(run_dir), "--out", str(out), "--views", "hidden,loss,unit"])
    assert code == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and f"loss_step{step}.png" in lines[0]
    assert "disk is full" in lines[0] and "1 file(s) written before are intact" in lines[0]
    assert [Path(p).name for p in captured.out.split()] == [f"hidden_step{step}.png"]
    assert [p.name for p in out.iterdir()] == [f"hidden_step{step}.png"]  # it stopped there
    assert not QtGui.QImage(str(out / f"hidden_step{step}.png")).isNull()


def test_a_read_only_out_folder_as_a_real_command(run_dir, tmp_path):
    """The installed command end to end, in its own process: a folder that refuses the
    temporary file (as a read-only one does for a user who is not root) gives one line and
    exit 1, never a traceback."""
    out = tmp_path / "locked"
    out.mkdir()
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import errno, os, tempfile\n"
        "_real = tempfile.mkstemp\n"
        "def _mkstemp(*args, dir=None, **kwargs):\n"
        "    if dir is not None and os.path.abspath(dir) == os.environ['LOCKED_FOLDER']:\n"
        "        raise PermissionError(errno.EACCES, 'Permission denied')\n"
        "    return _real(*args, dir=dir, **kwargs)\n"
        "tempfile.mkstemp = _mkstemp\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hooks), str(ROOT)]),
        "LOCKED_FOLDER": str(out.resolve()),
    }
    command = [sys.executable, "-m", "playground", "export", str(run_dir), "--out", str(out)]
    result = subprocess.run(
        [*command, "--views", "forget"], capture_output=True, text=True, env=env, timeout=180
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "forget_step" in lines[0] and "no permission" in lines[0]
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "bad",
    [["--dpi", "-3"], ["--views", "", "--animate", "gif", "--from-step", "9", "--to-step", "2"]],
    ids=["dpi", "step-range"],
)
def test_options_refused_after_qt_started_still_exit_cleanly(run_dir, tmp_path, bad):
    """Options found wrong once Qt is drawing: one line and exit 2, as the real command in
    its own process -- the interpreter used to crash on its way out (exit 139), a widget
    outliving the QApplication."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "playground", "export", str(run_dir), "--out", str(tmp_path)]
    result = subprocess.run([*command, *bad], capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seq-playground: error:"), result.stderr
