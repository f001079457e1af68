"""The memory horizon: train every engine at every length of a task and see where each one's
memory gives out (the ``horizon`` command).

Each (length, engine, seed) is an independent run from the same seeded recipe as ``train``;
the rows go to ``horizon.csv`` as they finish (rewritten atomically, so an interrupted sweep
keeps what it measured), then ``horizon.png`` plots the final test metric against the length
with the memoryless baseline dashed. The plot needs Qt; without it the CSV is still written.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from playground.run_files import (
    atomic_write_json,
    atomic_write_text,
    csv_text,
    is_solved,
    versions,
)

if TYPE_CHECKING:
    from engines.config import EngineConfig
    from engines.training import TrainingConfig

CSV_NAME = "horizon.csv"
PNG_NAME = "horizon.png"
SETTINGS_NAME = "horizon.json"
COLUMNS = (
    "task",
    "engine",
    "length",
    "seed",
    "steps",
    "final_test_loss",
    "final_test_metric",
    "baseline_metric",
    "solved",
    "seconds",
    "status",
)


@dataclass
class HorizonPlan:
    task: str
    task_options: dict
    lengths: list[int]
    engines: list[str]
    seeds: list[int]
    steps: int
    engine: EngineConfig  # every run's, but for its kind and the task's sizes
    training: TrainingConfig  # every run's, but for its seed
    device: str
    out: Path
    threads: int | None = None
    argv: list[str] = field(default_factory=list)

    def settings(self) -> dict:
        def plain(value):
            if isinstance(value, Path):
                return str(value)
            return value.to_dict() if hasattr(value, "to_dict") else value

        return {key: plain(value) for key, value in self.__dict__.items()}


def prepare_horizon(args: argparse.Namespace, argv: list[str]) -> HorizonPlan:
    """Check every option by building every task, engine config and training config."""
    from playground import cli

    cli.check_positive("--steps", args.steps)
    cli.check_positive("--threads", args.threads)
    options = cli.parse_task_options(args.task_option)
    lengths = cli.parse_list("--lengths", args.lengths, int)
    engines = [e.lower() for e in cli.parse_list("--engines", args.engines)]
    seeds = cli.parse_list("--seeds", args.seeds, int)
    tasks = []
    for length in lengths:
        try:
            tasks.append(cli.build_task(args.task, length, options))
        except cli.UsageError as error:
            raise cli.UsageError(str(error).replace("--length", "--lengths", 1)) from None
    for engine in engines:
        try:
            config = cli.build_engine_config(
                tasks[0], engine, args.hidden, args.layers, args.init, args.forget_bias
            )
        except cli.UsageError as error:
            raise cli.UsageError(str(error).replace("--engine", "--engines", 1)) from None
    for seed in seeds:
        try:
            training = cli.build_training_config(
                args.optimizer, args.lr, args.batch, args.clip, seed, args.eval_every
            )
        except cli.UsageError as error:
            raise cli.UsageError(str(error).replace("--seed", "--seeds", 1)) from None
    cli.check_device(args.device)
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise cli.UsageError(f"--out {out}: exists and is not a folder")
    if (out / CSV_NAME).exists() and not args.overwrite:
        raise cli.UsageError(
            f"--out {out}: holds a previous sweep ({CSV_NAME}); "
            "choose another folder or add --overwrite"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise cli.UsageError(f"--out {out}: cannot be created: {error}") from None
    return HorizonPlan(
        task=args.task,
        task_options=options,
        lengths=lengths,
        engines=engines,
        seeds=seeds,
        steps=args.steps,
        engine=config,
        training=training,
        device=str(args.device).strip().lower(),
        out=out,
        threads=args.threads,
        argv=argv,
    )


def train_once(plan: HorizonPlan, task, engine: str, seed: int, stream) -> dict:
    """One run of the sweep; its CSV row as a dict."""
    from engines.training import Trainer, run_training
    from playground.progress import make_progress

    config = replace(
        plan.engine,
        kind=engine,
        input_size=task.input_size,
        output_size=task.output_size,
    )
    training = replace(plan.training, seed=seed)
    # A bar on a terminal; nothing per step in a log file (one line per run is enough there).
    progress = make_progress(
        plan.steps, stream, task.metric_kind, enabled=bool(getattr(stream, "isatty", bool)())
    )
    started = time.perf_counter()
    status, loss, metric = "finished", math.nan, math.nan
    trainer = Trainer.create(config, task, training, device=plan.device)
    try:
        for snap in run_training(trainer, plan.steps):
            if snap.state == "error":
                status = "diverged"
                break
            if snap.test_loss is not None:
                loss, metric = snap.test_loss, snap.test_metric
            progress.update(snap.step, snap.train_loss, snap.test_metric)
    finally:
        progress.close()
    if status == "finished" and trainer.step < plan.steps:
        status = "stopped"
    return {
        "task": task.name,
        "engine": engine,
        "length": task.length,
        "seed": seed,
        "steps": trainer.step,
        "final_test_loss": loss,
        "final_test_metric": metric,
        "baseline_metric": task.baseline_metric,
        "solved": is_solved(metric, task.baseline_metric, task.higher_is_better),
        "seconds": round(time.perf_counter() - started, 2),
        "status": status,
        "metric": task.metric_kind,
        "higher_is_better": task.higher_is_better,
        "length_label": task.length_label,
        "title": task.title,
    }


def write_csv(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, csv_text(COLUMNS, ([row[c] for c in COLUMNS] for row in rows)))


def run_horizon(plan: HorizonPlan, stream=None) -> int:
    """Run the sweep, writing the CSV after every run and the PNG at the end (also after
    Ctrl+C, with what was measured). 0 done, 130 interrupted."""
    from playground import cli

    stream = stream if stream is not None else sys.stderr
    if plan.threads is not None:
        cli.set_threads(plan.threads)
    atomic_write_json(plan.out / SETTINGS_NAME, {**plan.settings(), **versions()})
    rows: list[dict] = []
    total = len(plan.lengths) * len(plan.engines) * len(plan.seeds)
    interrupted = False
    try:
        for length in plan.lengths:
            task = cli.build_task(plan.task, length, plan.task_options)
            for engine in plan.engines:
                for seed in plan.seeds:
                    row = train_once(plan, task, engine, seed, stream)
                    rows.append(row)
                    write_csv(plan.out / CSV_NAME, rows)
                    print(f"[{len(rows)}/{total}] {_row_line(row)}", file=stream, flush=True)
    except KeyboardInterrupt:
        interrupted = True
    write_csv(plan.out / CSV_NAME, rows)
    print(f"wrote {plan.out / CSV_NAME} ({len(rows)} runs)", file=stream, flush=True)
    if rows:
        _plot(plan, rows, stream)
    if interrupted:
        print(f"seq-playground: interrupted after {len(rows)} of {total} runs", file=stream)
        return 130
    return 0


def _row_line(row: dict) -> str:
    return (
        f"{row['engine']} {row['length_label']} {row['length']} seed {row['seed']}: "
        f"test {row['metric']} {row['final_test_metric']:.4g} "
        f"(baseline {row['baseline_metric']:.4g}){', solved' if row['solved'] else ''}"
        f"{'' if row['status'] == 'finished' else ', ' + row['status']}, {row['seconds']:.1f} s"
    )


def _plot(plan: HorizonPlan, rows: list[dict], stream) -> None:
    from playground.horizon_plot import QtMissing, render_horizon

    first = rows[0]
    seeds = f"{len(plan.seeds)} seeds (line: mean)" if len(plan.seeds) > 1 else "1 seed"
    title = (
        f"{first['title']}: final test {first['metric']} after {plan.steps} steps<br>"
        f"<span style='font-size:10pt'>hidden {plan.engine.hidden_size}, batch "
        f"{plan.training.batch_size}, {plan.training.optimizer} lr {plan.training.lr:g}, "
        f"clip {plan.training.clip:g}, {seeds}</span>"
    )
    try:
        path = render_horizon(rows, plan.out / PNG_NAME, title=title)
    except QtMissing as error:
        print(f"{PNG_NAME} skipped: {error}", file=stream, flush=True)
        return
    print(f"wrote {path}", file=stream, flush=True)
