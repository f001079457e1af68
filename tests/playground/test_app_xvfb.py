"""The real application in a real X server: launch, watch it train, quit with Ctrl+Q.

Everything else in the suite renders offscreen in-process; this test runs ``seq-playground``
as a user would (its own process, Qt's xcb platform, a trainer child process) under Xvfb.

Progress is observed from outside, the only way without changing the app: a small Qt helper
process under the same DISPLAY grabs the main window again and again and compares the dashboard
part of the grabs. Training animates that region (heatmaps, loss curve, step counter), so the
test passes once it has seen it change several times in a row; a window that is frozen, blank or
never trains times out with the app's output in the message. Then the test sends Ctrl+Q through
XTEST, expects exit status 0, and expects every process the app started (trainer, multiprocessing
resource tracker) to be gone.

Set SAVE_SCREENSHOT=1 to let it train a while longer and copy the last grab to
docs/screenshot.png.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TITLE = "Sequence Memory Playground"
LAUNCH_ARGS = [
    "--task",
    "adding",
    "--length",
    "50",
    "--engine",
    "lstm",
    "--device",
    "cpu",
    "--autostart",
]
XVFB_START_S = 15.0
WINDOW_TIMEOUT_S = 60.0  # torch + Qt import on a loaded 2-core machine
TRAINING_TIMEOUT_S = 90.0
EXIT_TIMEOUT_S = 20.0
CHANGES_NEEDED = 3  # consecutive grabs whose dashboard region differs from the previous one

if shutil.which("Xvfb") is None:
    pytest.skip(
        "Xvfb is not installed (apt-get install xvfb xdotool libxcb-cursor0 libxcb-icccm4 "
        "libxcb-keysyms1; .ci/run does it)",
        allow_module_level=True,
    )
if shutil.which("xdotool") is None:
    pytest.skip("xdotool is not installed (apt-get install xdotool)", allow_module_level=True)

# Runs in its own interpreter with QT_QPA_PLATFORM=xcb. argv: window id, output PNG, timeout s,
# changes needed, minimum seconds to keep watching. Prints one line "streak=N changes=M grabs=K".
GRABBER = r"""
import sys, time
from PySide6 import QtCore, QtGui, QtWidgets

wid, out, timeout, needed, min_s = (
    int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
app = QtWidgets.QApplication([])
screen = app.primaryScreen()

def grab():
    image = screen.grabWindow(wid).toImage()
    w, h = image.width(), image.height()
    # The dashboard: right of the setup dock, below the transport bar, above the history.
    region = image.copy(int(w * 0.22), int(h * 0.08), int(w * 0.75), int(h * 0.75))
    return image, region

def blank(region):
    small = region.scaled(32, 32)
    first = small.pixel(0, 0)
    return all(small.pixel(x, y) == first for x in range(32) for y in range(32))

start = time.monotonic()
changes = streak = grabs = 0
previous = None
image = None
while time.monotonic() - start < timeout:
    image, region = grab()
    grabs += 1
    if previous is not None and not blank(region):
        if region != previous:
            changes += 1
            streak += 1
        else:
            streak = 0
    previous = region
    if streak >= needed and time.monotonic() - start >= min_s:
        break
    deadline = time.monotonic() + 0.25
    while time.monotonic() < deadline:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
if image is not None:
    image.save(out)
print(f"streak={streak} changes={changes} grabs={grabs}", flush=True)
"""


# --- processes ----------------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _descendants(pid: int) -> list[int]:
    children = _children_map()
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie left for init to reap counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _app_command() -> list[str]:
    """The installed console script, as a user runs it; the same entry point otherwise."""
    script = Path(sys.executable).with_name("seq-playground")
    if script.exists():
        return [sys.executable, str(script), *LAUNCH_ARGS]
    code = "import sys; from playground.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code, *LAUNCH_ARGS]


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """Xvfb on a display number it picks itself (-displayfd: no race with other servers); it
    writes the number when it accepts connections."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + XVFB_START_S
    try:
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], 0.5)
            if ready:
                chunk = os.read(read_fd, 16)
                if not chunk:
                    break
                number += chunk
    finally:
        os.close(read_fd)
    if not number.strip().isdigit():
        xvfb.kill()
        _, err = xvfb.communicate(timeout=5)
        pytest.fail(f"Xvfb did not start: {err.decode(errors='replace')[-2000:]}")
    display = f":{int(number)}"
    socket = Path(f"/tmp/.X11-unix/X{int(number)}")
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert socket.exists(), f"Xvfb said {display} but {socket} is missing"
    return xvfb, display


def _xdotool(env: dict, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["xdotool", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _find_window(env: dict, app: subprocess.Popen, log) -> str:
    """The main window's X id (Qt also maps a 1x1 leader window with the same title)."""
    deadline = time.monotonic() + WINDOW_TIMEOUT_S
    while time.monotonic() < deadline:
        assert app.poll() is None, f"the app exited early ({app.returncode}):\n{log()}"
        found = _xdotool(env, "search", "--onlyvisible", "--name", TITLE).stdout.split()
        sizes = []
        for wid in found:
            geometry = _xdotool(env, "getwindowgeometry", "--shell", wid).stdout
            values = dict(line.split("=", 1) for line in geometry.split() if "=" in line)
            sizes.append((int(values.get("WIDTH", 0)) * int(values.get("HEIGHT", 0)), wid))
        if sizes and max(sizes)[0] > 100 * 100:
            return max(sizes)[1]
        time.sleep(0.2)
    pytest.fail(f"no '{TITLE}' window within {WINDOW_TIMEOUT_S:.0f} s:\n{log()}")


def _stop_group(process: subprocess.Popen | None) -> None:
    """Kill a process we started in its own session, with everything it started."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait(timeout=10)


# --- the test -----------------------------------------------------------------------------------
def test_app_trains_in_a_real_window_and_quits_cleanly(tmp_path):
    save = os.environ.get("SAVE_SCREENSHOT") == "1"
    xvfb = app = None
    left_behind: list[int] = []
    log_path = tmp_path / "app.log"
    try:
        xvfb, display = _start_xvfb()
        env = {k: v for k, v in os.environ.items() if not k.startswith("QT_QPA_")}
        env["DISPLAY"] = display
        env.setdefault("XDG_RUNTIME_DIR", str(tmp_path))
        # The app's settings (recent files, window state) go to a throwaway folder.
        env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
        env["XDG_CACHE_HOME"] = str(tmp_path / "cache")

        with open(log_path, "wb") as log_file:
            app = subprocess.Popen(
                _app_command(),
                cwd=tmp_path,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so finally can kill it all
            )

        def log() -> str:
            return log_path.read_text(errors="replace")[-4000:]

        wid = _find_window(env, app, log)

        # Training animates the dashboard: wait (bounded) until grabs keep changing.
        shot = tmp_path / "playground.png"
        grabber = subprocess.run(
            [
                sys.executable,
                "-c",
                GRABBER,
                wid,
                str(shot),
                str(TRAINING_TIMEOUT_S),
                str(CHANGES_NEEDED),
                "15" if save else "0",
            ],
            env={**env, "QT_QPA_PLATFORM": "xcb"},
            capture_output=True,
            text=True,
            timeout=TRAINING_TIMEOUT_S + 60,
        )
        assert grabber.returncode == 0, f"screen grabber failed:\n{grabber.stderr[-3000:]}"
        assert shot.exists() and shot.stat().st_size > 10_000, "no screenshot was saved"
        streak = int(grabber.stdout.split("streak=")[1].split()[0])
        assert streak >= CHANGES_NEEDED, (
            f"the dashboard did not animate ({grabber.stdout.strip()}); screenshot: {shot}\n{log()}"
        )
        assert app.poll() is None, f"the app exited while training:\n{log()}"
        if save:
            (ROOT / "docs").mkdir(exist_ok=True)
            shutil.copyfile(shot, ROOT / "docs" / "screenshot.png")

        # The app's own processes while it trains: the trainer (a spawned interpreter) at least.
        started = _descendants(app.pid)
        assert any("multiprocessing" in _cmdline(pid) for pid in started), (
            f"no trainer process under the app: {[_cmdline(p) for p in started]}"
        )

        # Ctrl+Q as a user presses it: focus the window, then XTEST key events.
        _xdotool(env, "windowfocus", "--sync", wid)
        _xdotool(env, "key", "--clearmodifiers", "ctrl+q")
        try:
            code = app.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the app did not quit within {EXIT_TIMEOUT_S:.0f} s of Ctrl+Q:\n{log()}")
        assert code == 0, f"exit status {code}:\n{log()}"

        deadline = time.monotonic() + 10.0
        left_behind = [pid for pid in started if _alive(pid)]
        while left_behind and time.monotonic() < deadline:
            time.sleep(0.1)
            left_behind = [pid for pid in left_behind if _alive(pid)]
        assert not left_behind, "processes left behind after quitting: " + "; ".join(
            f"{pid}: {_cmdline(pid)}" for pid in left_behind
        )
        assert "Traceback" not in log(), log()
    finally:
        _stop_group(app)
        for pid in left_behind:  # only the app's own children, by id
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if xvfb is not None:
            xvfb.terminate()
            try:
                xvfb.wait(timeout=10)
            except subprocess.TimeoutExpired:
                xvfb.kill()
                xvfb.wait(timeout=10)
