#!/usr/bin/env python
"""What the engine's introspection costs: a training step of plain ``torch.nn`` against the
engine trained the same way while it is probed at display rate (design notes, section 4:
budget engine+probe / plain <= 1.05 on CPU and on CUDA).

Each configuration: 8 input features, 1 layer, 1 output, MSE on the last step, Adam.

(a) plain: ``nn.RNN/LSTM/GRU`` + ``nn.Linear`` written out here;
(b) engine: ``create_engine(...)`` trained on the same batch, probed exactly as the app's
    trainer probes: ``engine.trace`` on the probe sequence whenever the trace schedule of
    ``engines.probe_schedule.display_schedules()`` is due (up to 40/s, within 3.5 % of the
    time), with ``engine.gradient_flow`` added when its schedule is due too (up to 10/s,
    within 1 %).

Timing: after a warm-up, plain and engine run in alternating blocks (about ``--block``
seconds each, at least one step) so machine noise hits both alike, until ``--seconds`` have
passed and each side has at least ``--min-steps`` steps. A step is timed from ``zero_grad`` to
the end of ``optimizer.step()`` (with ``torch.cuda.synchronize()`` on CUDA). Reported:

- plain ms: median plain step;
- engine ms: median engine step (training only);
- engine+probe ms: engine ms (median) + all probing time in the window / engine steps
- ratio: engine+probe / plain;
- probes: probes taken in the timed window. The schedule's clock runs only while the engine
  trains, and it starts primed with the warm-up probe, so the window shows the steady state
  (not the one probe every run makes at start-up). A big model on a CPU may take none in a
  short window: its probe waits its own cost / budget fraction between probes;
- probe ms: median cost of one probe (most are a trace alone; some add the gradient flow);
- probe share: time spent probing / engine time in the window, as measured (outliers in).

torch's default thread count is used (printed in the header).

    python benchmarks/bench_engines.py [--device cpu|cuda] [--quick] [--configs lstm:64x100x128 ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from engines.engine import create_engine  # noqa: E402
from engines.probe_schedule import (  # noqa: E402
    GRADIENT_FRACTION,
    GRADIENT_RATE_HZ,
    TRACE_FRACTION,
    TRACE_RATE_HZ,
    display_schedules,
)

INPUTS = 8
PROBE_BATCH = 1  # the app probes the one sequence its views show
LR = 1e-3
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
        if min(batch, steps, hidden) < 1 or batch < PROBE_BATCH:
            raise argparse.ArgumentTypeError(
                f"sizes must be positive and the batch at least {PROBE_BATCH}, got {text!r}"
            )
        return cls(kind, batch, steps, hidden)

    @property
    def sizes(self) -> str:
        return f"{self.batch}x{self.steps}x{self.hidden}"


SMALL = [BenchConfig(kind, 64, 100, 128) for kind in ("rnn", "lstm", "gru")]
BIG = [BenchConfig(kind, 64, 500, 256) for kind in ("rnn", "lstm", "gru")]


class Plain(nn.Module):
    """The baseline: the same model written in plain torch.nn — the fused module and a
    linear read-out at every step (as the engine has, for tasks scored at every step); the
    loss is taken at the last step. So the ratio measures what instrumentation costs."""

    def __init__(self, kind: str, hidden: int) -> None:
        super().__init__()
        self.rnn = _MODULES[kind](INPUTS, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out)[:, -1]


@dataclass
class Result:
    config: BenchConfig
    device: str
    plain: list[float]
    engine: list[float]
    probes_in_window: list[float]
    all_probes: list[float]

    @property
    def plain_ms(self) -> float:
        return 1000 * statistics.median(self.plain)

    @property
    def engine_ms(self) -> float:
        return 1000 * statistics.median(self.engine)

    @property
    def engine_probe_ms(self) -> float:
        if not self.probes_in_window:
            return self.engine_ms
        # Probes are of two kinds (trace alone, trace + gradient flow), so a median would
        # understate them: the measured probing time per engine step is added instead.
        return self.engine_ms + 1000 * sum(self.probes_in_window) / len(self.engine)

    @property
    def ratio(self) -> float:
        return self.engine_probe_ms / self.plain_ms

    @property
    def probe_ms(self) -> float:
        return 1000 * statistics.median(self.all_probes)

    @property
    def probe_share(self) -> float:
        spent = sum(self.probes_in_window)
        return spent / (sum(self.engine) + spent)


def bench(
    config: BenchConfig,
    device: torch.device,
    seconds: float,
    min_steps: int,
    warmup: int,
    block_seconds: float,
) -> Result:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(config.batch, config.steps, INPUTS, generator=generator).to(device)
    y = torch.randn(config.batch, 1, generator=generator).to(device)
    probe_x, probe_y = x[:PROBE_BATCH].clone(), y[:PROBE_BATCH].clone()

    torch.manual_seed(0)
    plain = Plain(config.kind, config.hidden).to(device)
    plain_opt = torch.optim.Adam(plain.parameters(), lr=LR)
    engine = create_engine(config.kind, INPUTS, config.hidden, 1, device=device, seed=0)
    engine_opt = torch.optim.Adam(engine.parameters(), lr=LR)

    def plain_step() -> None:
        plain_opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(plain(x), y)
        loss.backward()
        plain_opt.step()
        sync()

    def engine_step() -> None:
        engine_opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(engine(x, validate=False)[:, -1], y)  # as the Trainer calls it
        loss.backward()
        engine_opt.step()
        sync()

    def probe_loss(out: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(out[:, -1], probe_y)

    def probe() -> None:
        engine.trace(probe_x)
        engine.gradient_flow(probe_x, probe_loss)
        sync()

    def trace_only() -> None:
        engine.trace(probe_x)
        sync()

    def gradients_only() -> None:
        engine.gradient_flow(probe_x, probe_loss)
        sync()

    def timed(fn) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    # Warm-up: allocator, cuDNN plans, Adam state, the probe's own kernels.
    for _ in range(warmup):
        plain_step()
        engine_step()
    all_probes = [timed(probe)]
    longest = max(timed(plain_step), timed(engine_step))
    block = max(1, round(block_seconds / max(longest, 1e-6)))

    # The schedule's clock runs only while the engine trains (plain blocks are hidden from it),
    # and starts primed with the warm-up probe: the window sees the steady state.
    schedule, gradient_schedule = display_schedules()
    trace_cost, gradient_cost = timed(trace_only), timed(gradients_only)
    schedule.record(-trace_cost, 0.0)
    gradient_schedule.record(-gradient_cost, 0.0)
    engine_clock = 0.0
    plain_times: list[float] = []
    engine_times: list[float] = []
    window_probes: list[float] = []

    def plain_block() -> None:
        for _ in range(block):
            plain_times.append(timed(plain_step))

    def engine_block() -> None:
        nonlocal engine_clock
        block_start = time.perf_counter()

        def clock() -> float:
            return engine_clock + time.perf_counter() - block_start

        for _ in range(block):
            engine_times.append(timed(engine_step))
            if schedule.due(clock()):  # as the app's trainer: trace, gradients when due
                start = clock()
                trace_only()
                middle = clock()
                schedule.record(start, middle)
                if gradient_schedule.due(middle):
                    gradients_only()
                    gradient_schedule.record(middle, clock())
                window_probes.append(clock() - start)
        engine_clock = clock()

    started = time.perf_counter()
    round_index = 0
    while True:
        blocks = [plain_block, engine_block]
        for block_fn in blocks if round_index % 2 == 0 else reversed(blocks):
            block_fn()
        round_index += 1
        if (
            time.perf_counter() - started >= seconds
            and len(plain_times) >= min_steps
            and len(engine_times) >= min_steps
        ):
            break
    return Result(
        config=config,
        device=str(device),
        plain=plain_times,
        engine=engine_times,
        probes_in_window=window_probes,
        all_probes=all_probes + window_probes,
    )


HEADER = (
    "engine",
    "BxTxH",
    "device",
    "plain ms",
    "engine ms",
    "engine+probe ms",
    "ratio",
    "steps",
    "probes",
    "probe ms",
    "probe share",
)


def row(result: Result) -> tuple[str, ...]:
    return (
        result.config.kind.upper(),
        result.config.sizes,
        result.device,
        f"{result.plain_ms:.2f}",
        f"{result.engine_ms:.2f}",
        f"{result.engine_probe_ms:.2f}",
        f"{result.ratio:.3f}",
        f"{len(result.plain)}/{len(result.engine)}",
        str(len(result.probes_in_window)),
        f"{result.probe_ms:.1f}",
        f"{100 * result.probe_share:.1f}%",
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
    parser.add_argument("--block", type=float, default=0.5, help="seconds per block (0.5)")
    args = parser.parse_args(argv)

    from engines.devices import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    configs = args.configs or (SMALL if args.quick else SMALL + BIG)
    seconds = args.seconds if args.seconds is not None else (2.0 if args.quick else 20.0)
    min_steps = args.min_steps if args.min_steps is not None else (3 if args.quick else 5)
    warmup = 2 if args.quick else 3

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"torch {torch.__version__}, {name}, {torch.get_num_threads()} threads; "
        f"probe batch {PROBE_BATCH}; trace up to {TRACE_RATE_HZ:g}/s within "
        f"{TRACE_FRACTION:.1%}, gradient flow up to {GRADIENT_RATE_HZ:g}/s within "
        f"{GRADIENT_FRACTION:.1%}; {seconds:g} s per config, >= {min_steps} steps; "
        f"load average {_load()}",
        flush=True,
    )
    rows = []
    for config in configs:
        result = bench(config, device, seconds, min_steps, warmup, args.block)
        rows.append(row(result))
        print("  done: " + " | ".join(rows[-1]), flush=True)
    print()
    print_table(rows)
    print(f"\nload average at the end (1/5/15 min): {_load()}: other processes skew timings")
    return 0


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
