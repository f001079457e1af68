"""Regenerate docs/results/why_it_forgets.png: the step Jacobians of an RNN and an LSTM.

Why this picture: backpropagation through time multiplies the step Jacobians ds_t/ds_{t-1};
the README's "Why it forgets" section shows, for one trained RNN and one trained LSTM, the
largest singular value of every step's Jacobian and the norm of their product against the
distance -- the numbers of the app's View > Why it forgets dock, drawn by the same widget
(``widgets.jacobian_view.JacobianView``), off screen.

What it does:

1. trains an RNN and an LSTM headless on the adding problem (``seq-playground train``; about
   15 s each on a 2-core CPU), unless ``--rnn-run``/``--lstm-run`` name run folders already;
2. loads each folder's weights and the probe sequence of its last recorded frame, and computes
   ``engine.jacobians(x)`` with ``engines.jacobians.singular_values`` and ``product_norms``
   (exact SVDs, float64 products);
3. draws them in two JacobianViews (RNN above, LSTM below, both on the same axes), adds the
   LSTM's cell path alone (||dc_{T-1}/dc_{T-1-d}|| = max_j prod f_t[j], the product of the
   diag(f_t) blocks) and the distances of the two marked steps, and writes a PNG.

Run from the repository root::

    .venv/bin/python docs/results/make_why_it_forgets.py
    .venv/bin/python docs/results/make_why_it_forgets.py --rnn-run RUN_A --lstm-run RUN_B

It prints the numbers the README quotes (the RNN's decay factor per step, the product norms at
the first marked step).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engines.jacobians import product_norms, singular_values  # noqa: E402
from playground.run_folder import RunFolderError, load_engine, open_run_folder  # noqa: E402

OUT = ROOT / "docs" / "results" / "why_it_forgets.png"
SIZE = (1200, 820)  # logical pixels of the picture (the title strip comes on top)


def train(kind: str, folder: Path, args) -> Path:
    """One headless run (the README's recipe), written to ``folder``."""
    command = [
        sys.executable, "-m", "playground", "train",
        "--task", "adding", "--length", str(args.length), "--engine", kind,
        "--hidden", str(args.hidden), "--steps", str(args.steps), "--lr", "5e-3",
        "--batch", "64", "--clip", "1", "--seed", str(args.seed), "--threads", "1",
        "--out", str(folder), "--overwrite",
    ]  # fmt: skip
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    return folder


def analyse(folder: Path) -> dict:
    """The Jacobian numbers of one run folder's last recorded probe sequence (sample 0)."""
    try:
        contents = open_run_folder(folder)
        engine = load_engine(contents)
    except RunFolderError as error:
        sys.exit(f"make_why_it_forgets: {error}")
    if not contents.frames:
        sys.exit(f"make_why_it_forgets: {folder} has no recorded probe frames (frames.npz)")
    frame = contents.frames[-1][0]
    x = torch.tensor(np.array(frame.inputs[:1]), dtype=torch.float32)
    jac = engine.jacobians(x)[0, 0]  # layer 0, sample 0: (T, S, S)
    result = {
        "kind": engine.config.kind,
        "hidden": engine.config.hidden_size,
        "step": frame.step,
        "largest": singular_values(jac, k=1),  # (T, 1)
        "products": product_norms(jac),  # (T,), entry d - 1 at distance d
        "marked": np.flatnonzero(np.asarray(frame.inputs[0, :, 1]) > 0.5),
        "steps": jac.shape[0],
        "test_mse": (contents.summary or {}).get("final_test_metric"),
    }
    if result["kind"] == "lstm":
        hidden = result["hidden"]
        result["cell_path"] = product_norms(jac[:, hidden:, hidden:])  # the diag(f_t) blocks
    return result


def decay_per_step(products: np.ndarray, start: int = 5) -> float:
    """The geometric factor per step of a product norm, fitted on log values from ``start``."""
    d = np.arange(1, products.size + 1)[start - 1 :]
    values = products[start - 1 :]
    keep = values > 0
    slope = np.polyfit(d[keep], np.log(values[keep]), 1)[0]
    return float(math.exp(slope))


def report(result: dict) -> None:
    last = result["steps"] - 1
    distances = [last - int(t) for t in result["marked"]]
    line = (
        f"{result['kind'].upper()}: step {result['step']}, test MSE {result['test_mse']:.4g}; "
        f"sigma_max per step {result['largest'].min():.3g}..{result['largest'].max():.3g}; "
        f"product norm at d=1 {result['products'][0]:.3g}, at d={result['steps']} "
        f"{result['products'][-1]:.3g}; decay per step {decay_per_step(result['products']):.3f}"
    )
    for d in distances:
        line += f"; at the marked step t={last - d} (d={d}) {result['products'][d - 1]:.3g}"
        if "cell_path" in result:
            line += f" (cell path {result['cell_path'][d - 1]:.3g})"
    print(line)


def draw(rnn: dict, lstm: dict, out: Path) -> Path:
    """Both runs in two JacobianViews, on the same axes, as one PNG."""
    import pyqtgraph as pg
    from PySide6 import QtCore, QtWidgets

    from widgets.figure_export import export_widget_png, settle
    from widgets.jacobian_view import JacobianView

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    page = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(page)
    views = []
    for result in (rnn, lstm):
        mse = result["test_mse"]
        label = QtWidgets.QLabel(
            f"<b>{result['kind'].upper()}</b>, {result['hidden']} units, training step "
            f"{result['step']}" + ("" if mse is None else f", test MSE {mse:.3g}")
        )
        label.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        view = JacobianView()
        layout.addWidget(label)
        layout.addWidget(view, 1)
        views.append(view)
    page.resize(*SIZE)
    page.show()
    settle(page)

    top = max(float(np.max(r["largest"])) for r in (rnn, lstm))
    floor = min(float(np.min(r["products"][r["products"] > 0])) for r in (rnn, lstm))
    ceiling = max(float(np.max(r["products"])) for r in (rnn, lstm))
    marker_pen = pg.mkPen((120, 200, 255), width=1, style=QtCore.Qt.PenStyle.DotLine)
    for view, result in zip(views, (rnn, lstm), strict=True):
        view.set_data(result["largest"], result["products"])
        view.cursor_line.hide()  # the app's time cursor: nothing to point at in a still
        # Upper right is empty for the RNN's falling line, lower right for the LSTM's.
        corner = (-10, 10) if result["kind"] == "rnn" else (-10, -10)
        legend = view.distance_plot.addLegend(offset=corner)
        state = "h" if result["kind"] == "rnn" else "(h, c)"
        legend.addItem(view.product_curve, f"whole state s = {state}")
        if "cell_path" in result:
            cell = view.distance_plot.plot(
                np.arange(1, result["steps"] + 1),
                np.maximum(result["cell_path"], 1e-30),
                pen=pg.mkPen((90, 200, 120), width=2),
            )
            legend.addItem(cell, "cell path c alone: diag(f_t) blocks")
        last = result["steps"] - 1
        for t in result["marked"]:
            line = pg.InfiniteLine(
                pos=last - int(t), angle=90, pen=marker_pen, movable=False,
                label=f"marked step t={int(t)}",
                labelOpts={"position": 0.5, "color": (120, 200, 255), "rotateAxis": (1, 0)},
            )  # fmt: skip
            view.distance_plot.addItem(line, ignoreBounds=True)
        # The same axes for both engines, so the decades can be compared at a glance.
        view.steps_plot.setYRange(0.0, math.ceil(top * 2) / 2, padding=0)
        view.distance_plot.setYRange(
            math.floor(math.log10(floor)), math.ceil(math.log10(ceiling)), padding=0
        )
    settle(page)
    title = (
        f"Why it forgets: step Jacobians ∂s_t/∂s_t−1 on the adding problem, "
        f"length {rnn['steps']}, one probe sequence"
    )
    path = export_widget_png(page, out, title=title)
    page.close()
    app.processEvents()
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rnn-run", type=Path, help="an RNN run folder (default: train one)")
    parser.add_argument("--lstm-run", type=Path, help="an LSTM run folder (default: train one)")
    parser.add_argument("--length", type=int, default=50, help="adding problem length")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units")
    parser.add_argument("--steps", type=int, default=1500, help="training steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="where to train (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=OUT, help="the PNG to write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="why-it-forgets-") as scratch:
        work = args.work or Path(scratch)
        rnn_run = args.rnn_run or train("rnn", work / "rnn", args)
        lstm_run = args.lstm_run or train("lstm", work / "lstm", args)
        rnn, lstm = analyse(rnn_run), analyse(lstm_run)
    for result in (rnn, lstm):
        report(result)
    path = draw(rnn, lstm, args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
