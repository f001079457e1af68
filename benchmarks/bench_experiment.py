"""Saving and opening an experiment of 10,000 steps with its full frame history.

Goals (issue "Experiments you can keep"): save <= 1 s, open <= 1.5 s on this machine, folder
<= 50 MB for the default model (LSTM, 32 units, adding problem of length 50).

The record is filled as the window fills it: 10,000 training steps of losses and gradient
norms, an evaluation every 50 steps, and a probe frame every 10 steps into the bounded,
evenly thinned frame history (so it ends full, as after a long session). The frames are real
probes of the real engine; only the training itself is skipped (it would take minutes and
does not change what is saved).

    python benchmarks/bench_experiment.py [--steps 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from engines.training import Trainer  # noqa: E402
from playground.experiment import Experiment  # noqa: E402
from playground.run_spec import RunSpec, merged_settings  # noqa: E402
from playground.trainer_process import checkpoint_of  # noqa: E402


def filled_experiment(steps: int) -> Experiment:
    spec = RunSpec(settings=merged_settings(None))
    task = spec.validate()
    trainer = Trainer.create(spec.engine_config(task), task, spec.training_config())
    experiment = Experiment(spec)
    experiment.info = {"task": task.describe(), "engine": trainer.engine.config.to_dict()}
    rng = np.random.default_rng(0)
    experiment.metrics.add_train(
        np.arange(1, steps + 1), rng.random(steps) * 0.2, rng.random(steps) + 0.5
    )
    evals = np.arange(0, steps + 1, 50)
    experiment.metrics.add_eval(evals, rng.random(len(evals)), rng.random(len(evals)))
    for step in range(0, steps + 1, 10):
        trainer.step = step
        experiment.add_frame(trainer.probe(with_gradients=step % 40 == 0))
    experiment.checkpoint = checkpoint_of(trainer)
    experiment.step = steps
    return experiment


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    experiment = filled_experiment(args.steps)
    root = Path(tempfile.mkdtemp(prefix="bench-experiment-"))
    saves, opens = [], []
    try:
        for i in range(args.repeats):
            target = root / f"run{i % 2}"
            start = time.perf_counter()
            experiment.save(target)  # the second round replaces a previous save, as Ctrl+S does
            saves.append(time.perf_counter() - start)
            start = time.perf_counter()
            opened = Experiment.open(target)
            opens.append(time.perf_counter() - start)
            assert len(opened.frames) == len(experiment.frames) and not opened.notes
        size = folder_size(root / "run0")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"experiment: {args.steps} steps, {len(experiment.frames)} frames "
        f"(LSTM 32 x adding 50, probe batch 1)"
    )
    print(f"save  median {statistics.median(saves):.3f} s  (max {max(saves):.3f})  goal <= 1 s")
    print(f"open  median {statistics.median(opens):.3f} s  (max {max(opens):.3f})  goal <= 1.5 s")
    print(f"folder {size / 2**20:.1f} MB  goal <= 50 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
