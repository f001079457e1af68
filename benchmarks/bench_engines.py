#!/usr/bin/env python
"""What the engine's introspection costs: a training step of plain ``torch.nn`` against the
app's own training loop while it probes at display rate (design notes, section 4: budget
engine+probe / plain <= 1.05 on CPU and on CUDA).

Each configuration: 8 input features, 1 layer, 1 output, MSE on the last step, Adam (lr 1e-3),
gradient clipping at 1.0, one fixed batch.

(a) plain: ``nn.RNN/LSTM/GRU`` + ``nn.Linear`` written out here; a step is forward, the loss,
    backward, ``clip_grad_norm_``, reading the loss, ``optimizer.step()``;
(b) engine: ``engines.training.Trainer`` and ``run_training`` exactly as the app's trainer
    process runs them, with the app's probe schedules
    (``engines.probe_schedule.display_schedules()``: a trace frame up to 40 a second within
    3 % of the time, the gradient flow up to 10 a second within 0.5 %) on a probe batch
    of one sequence (the one the views show). A step is one ``next()`` of the generator: the
    training step, the probe after it when one is due, and the snapshot.

Timing: after a warm-up, plain and engine run in alternating blocks (about ``--block``
seconds each, at least one step; the order flips every round) so that machine noise hits both
alike, until ``--seconds`` have passed and each side has at least ``--min-steps`` steps. The
schedules run on a clock that only advances while the engine side runs. On CUDA every step
ends with ``torch.cuda.synchronize()``. Reported:

- plain ms, engine ms: mean wall time per step (the engine's with all its probing);
- ratio: engine ms / plain ms, with its 95 % bootstrap interval over the rounds;
- frames/s: probe frames per second of engine time (the display rate reached); gradient
  frames/s: those that carried the gradient flow.

torch's default thread count is used (printed in the header).

    python benchmarks/bench_engines.py [--device cpu|cuda] [--quick] [--configs lstm:64x100x128 ...]
        [--analyses jacobians,timescales,state_space]

``--analyses`` measures the engine side with the "why it forgets" views open: the trainer
computes those analyses on the probe (``Trainer.set_analyses``), the cheap ones with every
trace frame, the Jacobian spectra on ``engines.probe_schedule.analysis_schedule()``.

``--readout`` measures something else: the training step of a task scored at its last step only
(the adding problem) with the read-out applied only there (``Task.loss_steps``, as the app
trains) against the read-out at every step, and against plain ``torch.nn`` with a last-step
read-out; it prints the three times and their ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402
from torch import nn  # noqa: E402

from engines.config import EngineConfig  # noqa: E402
from engines.probe_schedule import (  # noqa: E402
    GRADIENT_FRACTION,
    GRADIENT_RATE_HZ,
    TRACE_FRACTION,
    TRACE_RATE_HZ,
    ProbeSchedule,
    analysis_schedule,
    display_schedules,
)
from engines.tasks.adding import AddingTask  # noqa: E402
from engines.tasks.base import Batch, Task  # noqa: E402
from engines.training import Trainer, TrainingConfig, run_training  # noqa: E402

INPUTS = 8
PROBE_BATCH = 1  # the app probes the one sequence its views show
LR = 1e-3
CLIP = 1.0
WARMUP_SECONDS = 1.0  # of engine time, so the probe schedules have settled
_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass(frozen=True)
class BenchConfig:
    kind: str
    batch: int
    steps: int
    hidden: int

    @classmethod
    def parse(cls, text: str) -> BenchConfig:
        """``kind:BxTxH``, e.g. ``lstm:64x100x128``."""
        try:
            kind, sizes = text.lower().split(":")
            batch, steps, hidden = (int(v) for v in sizes.split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"config must look like lstm:64x100x128 (kind:BxTxH), got {text!r}"
            ) from None
        if kind not in _MODULES:
            raise argparse.ArgumentTypeError(f"kind must be rnn, lstm or gru, got {kind!r}")
        if min(batch, steps, hidden) < 1:
            raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
        return cls(kind, batch, steps, hidden)

    @property
    def sizes(self) -> str:
        return f"{self.batch}x{self.steps}x{self.hidden}"


SMALL = [BenchConfig(kind, 64, 100, 128) for kind in ("rnn", "lstm", "gru")]
BIG = [BenchConfig(kind, 64, 500, 256) for kind in ("rnn", "lstm", "gru")]


class FixedBatchTask(Task):
    """One random batch, every step: regression of one target at the last step."""

    name = "bench"
    title = "benchmark batch"
    loss_kind = "mse"
    metric_kind = "mse"

    def __init__(self, batch: int, steps: int) -> None:
        generator = torch.Generator().manual_seed(0)
        inputs = torch.randn(batch, steps, INPUTS, generator=generator)
        targets = torch.zeros(batch, steps, 1)
        targets[:, -1] = torch.randn(batch, 1, generator=generator)
        mask = torch.zeros(batch, steps, dtype=torch.bool)
        mask[:, -1] = True
        self.batch = Batch(inputs, targets, mask, mask)
        self.input_size, self.output_size = INPUTS, 1
        self.length = self.sequence_length = steps
        self.baseline_loss = self.baseline_metric = 1.0

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return Batch(*(t[:batch_size] for t in vars(self.batch).values()))


class Plain(nn.Module):
    """The baseline: the same model written in plain torch.nn -- the fused module and a
    linear read-out at every step (as the engine has, for tasks scored at every step)."""

    def __init__(self, kind: str, hidden: int) -> None:
        super().__init__()
        self.rnn = _MODULES[kind](INPUTS, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out)


class EngineClock:
    """Seconds of engine-side time: stands still while the plain side runs."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._since: float | None = None

    def start(self) -> None:
        self._since = time.perf_counter()

    def stop(self) -> None:
        self.spent = self()
        self._since = None

    def __call__(self) -> float:
        running = 0.0 if self._since is None else time.perf_counter() - self._since
        return self.spent + running


@dataclass
class Result:
    config: BenchConfig
    device: str
    plain: list[float]
    engine: list[float]
    rounds: list[tuple[float, int, float, int]]  # per round: plain s, steps, engine s, steps
    frames: int
    gradient_frames: int

    @property
    def plain_ms(self) -> float:
        return 1000 * sum(self.plain) / len(self.plain)

    @property
    def engine_ms(self) -> float:
        return 1000 * sum(self.engine) / len(self.engine)

    @property
    def ratio(self) -> float:
        return self.engine_ms / self.plain_ms

    def per_second(self, count: int) -> float:
        return count / sum(self.engine)

    def ratio_interval(self, resamples: int = 2000) -> tuple[float, float]:
        """95 % bootstrap interval of the ratio, resampling whole rounds (a plain block and
        the engine block beside it share the machine's state at the time)."""
        generator = random.Random(0)
        ratios = []
        for _ in range(resamples):
            picked = generator.choices(self.rounds, k=len(self.rounds))
            plain_s, plain_n, engine_s, engine_n = (sum(r[i] for r in picked) for i in range(4))
            ratios.append((engine_s / engine_n) / (plain_s / plain_n))
        ratios.sort()
        return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


def bench(
    config: BenchConfig,
    device: torch.device,
    seconds: float,
    min_steps: int,
    warmup: int,
    block_seconds: float,
    strict: bool = False,
    analyses: frozenset[str] = frozenset(),
) -> Result:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    task = FixedBatchTask(config.batch, config.steps)
    batch = task.sample(config.batch, torch.Generator()).to(device)

    torch.manual_seed(0)
    plain = Plain(config.kind, config.hidden).to(device)
    plain_params = list(plain.parameters())
    plain_opt = torch.optim.Adam(plain_params, lr=LR)

    def plain_step() -> None:
        plain_opt.zero_grad(set_to_none=True)
        loss = task.loss(plain(batch.inputs), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(plain_params, CLIP)
        float(loss.detach())
        plain_opt.step()
        sync()

    training = TrainingConfig(
        lr=LR,
        batch_size=config.batch,
        clip=CLIP,
        eval_every=10**9,
        test_size=PROBE_BATCH,
        probe_size=PROBE_BATCH,
    )
    engine_config = EngineConfig(config.kind, INPUTS, config.hidden, 1)
    trainer = Trainer.create(engine_config, task, training, device=str(device))
    clock = EngineClock()
    schedule, gradient_schedule = display_schedules()
    if strict:  # the wording: a frame every 30th of a second, whatever it costs
        schedule, gradient_schedule = ProbeSchedule(30.0, 1.0), ProbeSchedule(10.0, 1.0)
    trainer.set_analyses(analyses)  # the "why it forgets" views open (--analyses)
    run = run_training(
        trainer,
        schedule=schedule,
        gradient_schedule=gradient_schedule,
        clock=clock,
        analysis_schedule=analysis_schedule() if analyses else None,
    )

    def engine_step():
        snap = next(run)
        sync()
        return snap

    def timed(fn):
        start = time.perf_counter()
        value = fn()
        return time.perf_counter() - start, value

    # Warm-up: allocator, kernels, Adam state, the run's cold first probe.
    clock.start()
    engine_step()  # the untrained network's snapshot
    for index in range(10**9):
        engine_step()
        if index + 1 >= warmup and clock() >= WARMUP_SECONDS:
            break
    clock.stop()
    for _ in range(warmup):
        plain_step()
    longest = max(timed(plain_step)[0], timed(engine_step)[0])
    block = max(1, round(block_seconds / max(longest, 1e-6)))

    plain_times: list[float] = []
    engine_times: list[float] = []
    rounds: list[tuple[float, int, float, int]] = []
    counts = {"frames": 0, "gradient_frames": 0}

    def plain_block() -> None:
        for _ in range(block):
            plain_times.append(timed(plain_step)[0])

    def engine_block() -> None:
        clock.start()
        for _ in range(block):
            took, snap = timed(engine_step)
            engine_times.append(took)
            frame = snap.probe
            if frame is not None:
                counts["frames"] += 1
                counts["gradient_frames"] += frame.gradients is not None
        clock.stop()

    started = time.perf_counter()
    round_index = 0
    while True:
        blocks = [plain_block, engine_block]
        plain_before, engine_before = len(plain_times), len(engine_times)
        for block_fn in blocks if round_index % 2 == 0 else reversed(blocks):
            block_fn()
        rounds.append(
            (
                sum(plain_times[plain_before:]),
                len(plain_times) - plain_before,
                sum(engine_times[engine_before:]),
                len(engine_times) - engine_before,
            )
        )
        round_index += 1
        if (
            time.perf_counter() - started >= seconds
            and len(plain_times) >= min_steps
            and len(engine_times) >= min_steps
        ):
            break
    run.close()
    return Result(config, str(device), plain_times, engine_times, rounds, **counts)


# --- the read-out only where the loss is taken (--readout) -----------------------------------
READOUT_SIDES = ("last-step read-out", "read-out everywhere", "plain, last step")


class FixedAddingTask(AddingTask):
    """The adding problem with one fixed batch, so no side pays for sampling."""

    def __init__(self, length: int, batch: int) -> None:
        super().__init__(length)
        self.batch = super().sample(batch, torch.Generator().manual_seed(0))

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        return self.batch


def bench_readout(config: BenchConfig, device: torch.device, seconds: float):
    """Median ms per training step (forward, loss, backward, clipping, Adam) of the app's
    ``Trainer.train_step`` on the adding problem with the read-out at the last step only (as it
    trains now), with the read-out at every step (as before), and of plain ``torch.nn`` with a
    last-step read-out; the three take turns step by step so machine noise hits all alike."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    task = FixedAddingTask(config.steps, config.batch)
    everywhere_task = FixedAddingTask(config.steps, config.batch)
    everywhere_task.loss_steps = None
    training = TrainingConfig(lr=LR, batch_size=config.batch, clip=CLIP, test_size=1)
    engine_config = EngineConfig(config.kind, task.input_size, config.hidden, 1)
    last = Trainer.create(engine_config, task, training, device=str(device))
    everywhere = Trainer.create(engine_config, everywhere_task, training, device=str(device))

    torch.manual_seed(0)
    rnn = _MODULES[config.kind](task.input_size, config.hidden, batch_first=True).to(device)
    head = nn.Linear(config.hidden, 1).to(device)
    params = [*rnn.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=LR)
    batch = task.batch.to(device)
    target = batch.targets[:, -1]

    def plain_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        out, _ = rnn(batch.inputs)
        loss = nn.functional.mse_loss(head(out[:, -1]), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        float(loss.detach())
        optimizer.step()

    steps = [last.train_step, everywhere.train_step, plain_step]
    times: list[list[float]] = [[], [], []]
    for step in steps * 3:  # warm-up
        step()
    sync()
    started = time.perf_counter()
    round_index = 0
    # One step of each side per round, the order rotating: a burst of load elsewhere on the
    # machine then hits all three, and the medians ignore it.
    # At least 3 rounds, but never past twice the time asked for: a loaded machine stays loaded.
    while (elapsed := time.perf_counter() - started) < seconds or (
        len(times[0]) < 3 and elapsed < 2 * seconds
    ):
        for side in _rotation(round_index):
            begin = time.perf_counter()
            steps[side]()
            sync()
            times[side].append(time.perf_counter() - begin)
        round_index += 1
    return [1000 * statistics.median(t) for t in times], round_index


def _rotation(index: int) -> list[int]:
    return [(index + k) % 3 for k in range(3)]


def readout_main(device: torch.device, seconds: float) -> int:
    configs = [BenchConfig(kind, 64, 100, 128) for kind in ("rnn", "lstm", "gru")]
    print(
        f"read-out only at the loss step: adding problem, {device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {seconds:g} s per engine, median ms per step; "
        f"load average {_load()}",
        flush=True,
    )
    header = ("engine", "BxTxH", *(f"{s} ms" for s in READOUT_SIDES), "everywhere/last")
    header += ("last/plain", "everywhere/plain", "steps each")
    rows = []
    for config in configs:
        (last, everywhere, plain), rounds = bench_readout(config, device, seconds)
        rows.append(
            (
                config.kind.upper(),
                config.sizes,
                f"{last:.2f}",
                f"{everywhere:.2f}",
                f"{plain:.2f}",
                f"{everywhere / last:.3f}",
                f"{last / plain:.3f}",
                f"{everywhere / plain:.3f}",
                str(rounds),
            )
        )
        print("  done: " + " | ".join(rows[-1]), flush=True)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for cells in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |")
    print(f"\nload average at the end (1/5/15 min): {_load()}: other processes skew timings")
    return 0


HEADER = (
    "engine",
    "BxTxH",
    "device",
    "plain ms",
    "engine ms",
    "ratio",
    "95% interval",
    "steps",
    "frames/s",
    "gradient frames/s",
)


def row(result: Result) -> tuple[str, ...]:
    return (
        result.config.kind.upper(),
        result.config.sizes,
        result.device,
        f"{result.plain_ms:.2f}",
        f"{result.engine_ms:.2f}",
        f"{result.ratio:.3f}",
        "{:.3f}-{:.3f}".format(*result.ratio_interval()),
        f"{len(result.plain)}/{len(result.engine)}",
        f"{result.per_second(result.frames):.1f}",
        f"{result.per_second(result.gradient_frames):.1f}",
    )


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(HEADER))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--quick", action="store_true", help="only 64x100x128, few steps (a smoke run)"
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        type=BenchConfig.parse,
        metavar="KIND:BxTxH",
        help="configurations to run (default: rnn/lstm/gru at 64x100x128 and 64x500x256)",
    )
    parser.add_argument("--seconds", type=float, help="timed seconds per config (default 20)")
    parser.add_argument("--min-steps", type=int, help="at least this many steps per side")
    parser.add_argument("--block", type=float, default=0.1, help="seconds per block (0.1)")
    parser.add_argument(
        "--strict-rate",
        action="store_true",
        help="trace frames at 30/s and the gradient flow at 10/s with no budget (for comparison)",
    )
    parser.add_argument(
        "--readout",
        action="store_true",
        help="instead: the training step with the read-out at the last step only vs at every "
        "step vs plain torch.nn with a last-step read-out (adding, 64x100x128, 10 s each)",
    )
    parser.add_argument(
        "--analyses",
        type=_analysis_kinds,
        default=frozenset(),
        metavar="KINDS",
        help="also compute these analyses on the probe, as with the views open "
        "(comma-separated: jacobians,timescales,state_space)",
    )
    args = parser.parse_args(argv)

    from engines.devices import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    if args.readout:
        return readout_main(device, args.seconds if args.seconds is not None else 10.0)
    configs = args.configs or (SMALL if args.quick else SMALL + BIG)
    seconds = args.seconds if args.seconds is not None else (2.0 if args.quick else 20.0)
    min_steps = args.min_steps if args.min_steps is not None else (3 if args.quick else 5)
    warmup = 2 if args.quick else 3

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"torch {torch.__version__}, {name}, {torch.get_num_threads()} threads; "
        f"probe batch {PROBE_BATCH}; "
        + (
            "STRICT: frames at 30/s, gradient flow at 10/s, no budget; "
            if args.strict_rate
            else f"frames up to {TRACE_RATE_HZ:g}/s within {TRACE_FRACTION:.2%}, gradient "
            f"flow up to {GRADIENT_RATE_HZ:g}/s within {GRADIENT_FRACTION:.1%}; "
        )
        + (f"analyses {','.join(sorted(args.analyses))}; " if args.analyses else "")
        + f"{seconds:g} s per config, >= {min_steps} steps; "
        f"load average {_load()}",
        flush=True,
    )
    rows = []
    for config in configs:
        result = bench(
            config, device, seconds, min_steps, warmup, args.block, args.strict_rate, args.analyses
        )
        rows.append(row(result))
        print("  done: " + " | ".join(rows[-1]), flush=True)
    print()
    print_table(rows)
    print(f"\nload average at the end (1/5/15 min): {_load()}: other processes skew timings")
    return 0


def _analysis_kinds(text: str) -> frozenset[str]:
    from engines.analysis import check_analysis_kinds

    try:
        return check_analysis_kinds(k.strip() for k in text.split(",") if k.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
