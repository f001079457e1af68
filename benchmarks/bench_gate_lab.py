#!/usr/bin/env python
"""What the gate lab costs: from a slider move to the views, and to training while it is open.

Goals (issue 10): an intervention reaches the views within 100 ms for the default model (LSTM,
32 units, adding problem of length 50, probe batch 1) and within 300 ms at 128 units x 500
steps; training with the gate lab open stays within the probe budget (instrumented step /
plain ``torch.nn`` step <= 1.05, as benchmarks/bench_engines.py measures without it).

1. engine: ``engine.trace(x, interventions)`` and ``engine.gradient_flow(x, loss_fn,
   interventions)`` on the probe batch, and ``Trainer.probe()`` with interventions set (what the
   trainer process does per change: the unaltered trace, the altered one, the altered gradient
   flow and both probe losses). Median ms.
2. end to end (needs PySide6; offscreen): the gate lab panel's value slider moved ->
   ``interventions_changed`` -> ``Trainer.set_interventions`` + ``Trainer.probe()`` ->
   ``playground.frames.dashboard_frame`` -> ``Dashboard.show_frame`` -> the dashboard painted
   (``grab()``). The app adds the pipe to the trainer process (pickling a frame, ~1 ms).
3. training: steps of ``run_training`` with the app's probe schedules
   (``engines.probe_schedule.display_schedules``), without and with interventions set, against
   a plain ``nn.LSTM`` + ``nn.Linear`` step on batches of the same task, in alternating blocks;
   ratios of mean step times ("probed/plain" is the budget's own measure, "lab/plain" the same
   with the gate lab set).

    python benchmarks/bench_gate_lab.py [--seconds S] [--skip-draw] [--large-training]
        [--device cpu|cuda] [--threads N]

The default run takes well under a minute on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402
from torch import nn  # noqa: E402

from engines import Ablate, Clamp, EngineConfig, Trainer, TrainingConfig, create_task  # noqa: E402
from engines.probe_schedule import display_schedules  # noqa: E402
from engines.training import run_training  # noqa: E402

#: The interventions timed: the classic "forget stuck open" over a span, one silenced unit.
LAB = (Clamp("forget", 1.0, steps=(10, None)), Clamp("input", 0.0, steps=(10, None)), Ablate([0]))
SIZES = {"default": (32, 50), "large": (128, 500)}  # hidden units, sequence length
GOALS_MS = {"default": 100.0, "large": 300.0}


def make_trainer(hidden: int, length: int, device: str, batch: int = 64) -> Trainer:
    task = create_task("adding", length)
    config = TrainingConfig(batch_size=batch, test_size=64, probe_size=1, eval_every=10**9)
    engine = EngineConfig("lstm", task.input_size, hidden, task.output_size)
    return Trainer.create(engine, task, config, device=device)


def timed_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def engine_part(trainer: Trainer, repeats: int) -> dict[str, float]:
    engine, batch = trainer.engine, trainer.probe_batch

    def loss_fn(out):
        return trainer.task.loss(out, batch)

    trainer.set_interventions(LAB)
    result = {
        "plain trace": timed_ms(lambda: engine.trace(batch.inputs), repeats),
        "trace+lab": timed_ms(lambda: engine.trace(batch.inputs, LAB), repeats),
        "flow+lab": timed_ms(lambda: engine.gradient_flow(batch.inputs, loss_fn, LAB), repeats),
        "Trainer.probe+lab": timed_ms(trainer.probe, repeats),
    }
    trainer.set_interventions(())
    return result


def end_to_end(trainer: Trainer, repeats: int) -> float | None:
    """Median ms from a slider move to a painted dashboard; None without Qt."""
    try:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6 import QtWidgets

        from playground.frames import dashboard_frame
        from widgets.dashboard import Dashboard
        from widgets.gate_lab_panel import GateLabPanel
    except ImportError:
        return None
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    config = trainer.engine.config
    steps = trainer.probe_batch.inputs.shape[1]
    dashboard, panel = Dashboard(), GateLabPanel()
    dashboard.resize(1400, 900)
    dashboard.show()
    panel.configure(list(config.gate_names), config.has_cell, config.hidden_size, steps, 1)
    panel.apply_preset("forget_open")
    app.processEvents()

    def on_changed(items):
        trainer.set_interventions(items)
        frame = trainer.probe()
        dashboard.show_frame(dashboard_frame(frame))
        dashboard.grab()  # paint everything now

    panel.interventions_changed.connect(on_changed)
    times = []
    for index in range(repeats + 1):
        start = time.perf_counter()
        panel.value_slider.setValue(0.5 + 0.4 * (index % 2))  # a new value every time
        app.processEvents()
        times.append(time.perf_counter() - start)
        time.sleep(0.04)  # past the panel's throttle, so the next move emits at once
        app.processEvents()
    panel.interventions_changed.disconnect(on_changed)
    dashboard.close()
    trainer.set_interventions(())
    return 1000 * statistics.median(times[1:])


class Plain(nn.Module):
    def __init__(self, task, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(task.input_size, hidden, batch_first=True)
        self.head = nn.Linear(hidden, task.output_size)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


def training_ratio(hidden: int, length: int, device: str, seconds: float) -> dict[str, float]:
    """Mean ms per step of plain torch.nn, of the app's loop probing at display rate, and of
    the same with the gate lab set, over alternating blocks of about 0.1 s; frames/s."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    task = create_task("adding", length)
    torch.manual_seed(0)
    plain = Plain(task, hidden).to(device)
    optimizer = torch.optim.Adam(plain.parameters(), lr=5e-3)
    generator = torch.Generator().manual_seed(1)

    def plain_step():
        batch = task.sample(64, generator).to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss(plain(batch.inputs), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(plain.parameters(), 1.0)
        float(loss.detach())
        optimizer.step()
        sync()

    frames = {"probed": 0, "lab": 0}

    def looped(name: str, interventions):
        trainer = make_trainer(hidden, length, device)
        trainer.set_interventions(interventions)
        schedule, gradient_schedule = display_schedules()
        run = run_training(trainer, schedule=schedule, gradient_schedule=gradient_schedule)

        def step():
            frames[name] += next(run).probe is not None
            sync()

        return step

    sides = {"plain": plain_step, "probed": looped("probed", ()), "lab": looped("lab", LAB)}
    for _ in range(2):  # warm-up: allocator, Adam state, the first (cold) probes
        for step in sides.values():
            step()
    frames.update(probed=0, lab=0)
    spent = dict.fromkeys(sides, 0.0)
    counts = dict.fromkeys(sides, 0)
    started = time.perf_counter()
    order = list(sides)
    while time.perf_counter() - started < seconds or min(counts.values()) < 3:
        for name in order:
            block_start = time.perf_counter()
            count = 0
            while time.perf_counter() - block_start < 0.1 or count == 0:
                sides[name]()
                count += 1
            spent[name] += time.perf_counter() - block_start
            counts[name] += count
        order.reverse()
    ms = {name: 1000 * spent[name] / counts[name] for name in sides}
    return {
        **{f"{name} ms": value for name, value in ms.items()},
        "probed/plain": ms["probed"] / ms["plain"],
        "lab/plain": ms["lab"] / ms["plain"],
        "lab frames/s": frames["lab"] / spent["lab"],
        "steps": min(counts.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=6.0, help="per training ratio (6)")
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats per size (15)")
    parser.add_argument("--skip-draw", action="store_true", help="engine numbers only")
    parser.add_argument(
        "--large-training",
        action="store_true",
        help="also the training ratio at 128 x 500 (give it --seconds 60 or more on a CPU)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=max(1, (os.cpu_count() or 1) - 1),
        help="torch threads (default: the trainer process's, all cores but one)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads; "
        f"interventions: {len(LAB)} (f=1 and i=0 from step 10, unit 0 silenced); "
        f"load average {load}",
        flush=True,
    )
    for name, (hidden, length) in SIZES.items():
        trainer = make_trainer(hidden, length, args.device)
        repeats = args.repeats if name == "default" else max(3, args.repeats // 3)
        parts = engine_part(trainer, repeats)
        line = ", ".join(f"{k} {v:.1f} ms" for k, v in parts.items())
        print(f"{name} (LSTM {hidden} units x {length} steps, probe batch 1): {line}", flush=True)
        if not args.skip_draw:
            total = end_to_end(trainer, repeats)
            if total is None:
                print("  slider -> views: skipped (no PySide6)")
            else:
                verdict = "within" if total <= GOALS_MS[name] else "OVER"
                print(
                    f"  slider -> painted dashboard: {total:.1f} ms "
                    f"({verdict} the {GOALS_MS[name]:g} ms goal)",
                    flush=True,
                )
    for name, (hidden, length) in SIZES.items():
        if name == "large" and not args.large_training:
            print("training, large: skipped (--large-training; ~1 s a step on a 2-core CPU)")
            continue
        result = training_ratio(hidden, length, args.device, args.seconds)
        line = ", ".join(
            f"{k} {v:.3f}"
            if "/plain" in k
            else f"{k} {v:.1f}"
            if "/s" in k
            else f"{k} {v:.2f}"
            if "ms" in k
            else f"{k} {v:g}"
            for k, v in result.items()
        )
        print(f"training, {name} (LSTM {hidden} x {length}, batch 64): {line}", flush=True)
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load average at the end {load}: other processes skew these numbers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
