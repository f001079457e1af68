"""Regenerate docs/gate_lab.png: the main window with the gate lab asking "what if f = 1?".

Why a script: the README's screenshot should be what the app really shows, and stay so. This
opens a trained LSTM's run folder in the real ``MainWindow`` off screen (Qt's offscreen
platform, preferences and data folder in a throw-away place, never yours), shows the gate lab
(View > Gate lab), clicks the "Forget gate stuck open (f = 1)" preset, waits until the paused
trainer answers with the altered probe, and renders the window to a PNG.

Run from the repository root::

    .venv/bin/python docs/make_gate_lab_png.py              # trains the LSTM first (~15 s)
    .venv/bin/python docs/make_gate_lab_png.py --run RUN     # an LSTM run folder you have

The run is the one of docs/results/make_why_it_forgets.py: adding problem, length 50, LSTM of
32 units, 1500 steps, seed 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "gate_lab.png"
PRESET = "forget_open"
SIZE = (1500, 950)


def train(folder: Path) -> Path:
    command = [
        sys.executable, "-m", "playground", "train", "--task", "adding", "--length", "50",
        "--engine", "lstm", "--hidden", "32", "--steps", "1500", "--lr", "5e-3",
        "--batch", "64", "--clip", "1", "--seed", "0", "--threads", "1",
        "--out", str(folder), "--overwrite",
    ]  # fmt: skip
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    return folder


def screenshot(run: Path, out: Path) -> None:
    from PySide6 import QtWidgets

    import widgets  # noqa: F401 - row-major images, as in the app
    from playground import experiment_files
    from playground.main_window import MainWindow
    from widgets.figure_export import widget_image

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])

    def wait_until(done, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline:
                raise SystemExit(f"make_gate_lab_png: timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.01)

    window = MainWindow()
    try:
        window.resize(*SIZE)
        window.show()
        if not experiment_files.open_experiment(window, run):
            raise SystemExit(f"make_gate_lab_png: could not open {run}")
        window.gate_lab.show()
        wait_until(lambda: window.experiment.shown_frame() is not None, 30, "the run's frame")
        window.gate_lab.panel.preset_buttons[PRESET].click()

        def altered() -> bool:
            shown = window.experiment.shown_frame()
            return shown is not None and bool(shown[0].interventions)

        wait_until(altered, 90, "the trainer's altered probe")
        for _ in range(20):  # let the views draw the frame
            app.processEvents()
            time.sleep(0.02)
        print(window.gate_lab.panel.loss_label.text())
        out.parent.mkdir(parents=True, exist_ok=True)
        if not widget_image(window).save(str(out)):
            raise SystemExit(f"make_gate_lab_png: could not write {out}")
        print(f"wrote {out} ({out.stat().st_size / 1024:.0f} kB)")
    finally:
        window.close()
        window.controller.wait_stopped(timeout=10)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="an LSTM run folder (default: train one)")
    parser.add_argument("--out", type=Path, default=OUT, help="the PNG to write")
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="gate-lab-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["XDG_CONFIG_HOME"] = str(scratch / "config")  # never the user's preferences
    os.environ["XDG_DATA_HOME"] = str(scratch / "data")
    sys.path.insert(0, str(ROOT))
    try:
        screenshot(args.run or train(scratch / "lstm"), args.out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":  # the trainer is a spawned process: it re-imports this module
    sys.exit(main())
