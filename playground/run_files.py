"""The files of a headless run, and atomic writes for everything the command line saves.

A run folder holds ``config.json`` (everything needed to run it again, and the command line),
``metrics.csv`` (a row per step), ``summary.json`` (how it ended) and ``weights.safetensors``
with its JSON sidecar. Every file is written whole to a temporary file in the same folder and
renamed over the old one, so an interrupted run leaves complete files, never half of one.

``run_train`` is the ``train`` command's loop (the options were checked by ``playground.cli``):
it iterates ``engines.training.run_training`` and writes the folder as it goes. torch is
imported only there; no Qt anywhere.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import signal
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engines.atomic_files import atomic_write_text

CONFIG = "config.json"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
WEIGHTS = "weights.safetensors"
METRIC_COLUMNS = ("step", "train_loss", "test_loss", "test_metric", "grad_norm")
#: Every name a previous run may have left in a folder (the weights in either format).
RUN_FILES = (CONFIG, METRICS, SUMMARY, WEIGHTS, "weights.pt", "weights.json")
CONFIG_FORMAT = "sequence-memory-playground/run"
CONFIG_VERSION = 1


def atomic_write_json(path: os.PathLike | str, data: dict) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def format_number(value) -> str:
    """A CSV cell: "" for None, ``repr`` for floats (shortest text that reads back the same
    float, so equal runs give byte-identical files), ``str`` otherwise."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def csv_text(columns: Sequence[str], rows: Iterable[Sequence]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_number(v) for v in row])
    return buffer.getvalue()


def json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: write those as strings ("nan", "inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class RunFolderError(ValueError):
    """The output folder cannot take this run; the message says why and what to do."""


def previous_run_files(folder: Path) -> list[str]:
    return [name for name in RUN_FILES if (folder / name).exists()]


def prepare_run_folder(folder: os.PathLike | str, overwrite: bool) -> Path:
    """Create ``folder``, or refuse if it holds a previous run (``overwrite`` removes that
    run's files first, so nothing stale mixes with the new one; other files stay)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"--out {folder}: exists and is not a folder")
    found = previous_run_files(folder) if folder.exists() else []
    if found and not overwrite:
        raise RunFolderError(
            f"--out {folder}: holds a previous run ({', '.join(found)}); "
            "choose another folder or add --overwrite"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in found:
            (folder / name).unlink()
    except OSError as error:
        raise RunFolderError(f"--out {folder}: cannot be prepared: {error}") from error
    return folder


class MetricsFile:
    """``metrics.csv``, kept in memory and rewritten whole (atomically) at most every
    ``interval`` seconds and on ``flush``: a killed run loses seconds, never the file."""

    def __init__(self, path: Path, interval: float = 5.0, clock=time.monotonic) -> None:
        self.path = path
        self.interval = interval
        self.clock = clock
        self.rows: list[tuple] = []
        self._written = self.clock()

    def add(self, step, train_loss, test_loss, test_metric, grad_norm) -> None:
        self.rows.append((step, train_loss, test_loss, test_metric, grad_norm))
        if self.clock() - self._written >= self.interval:
            self.flush()

    def flush(self) -> None:
        atomic_write_text(self.path, csv_text(METRIC_COLUMNS, self.rows))
        self._written = self.clock()


def read_run_config(path: os.PathLike | str) -> dict:
    """The options of a previous run's ``config.json`` (ValueError saying what is wrong)."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"--config {path}: cannot be read: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"--config {path}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
        raise ValueError(f"--config {path}: not a run config written by seq-playground train")
    if data.get("version") != CONFIG_VERSION:
        raise ValueError(
            f"--config {path}: unsupported version {data.get('version')!r}; "
            f"this program reads version {CONFIG_VERSION}"
        )
    options = data.get("options")
    if not isinstance(options, dict):
        raise ValueError(f"--config {path}: has no 'options' mapping")
    return options


# --- the train command ---------------------------------------------------------------------
@dataclass
class TrainPlan:
    """A checked ``train`` command: the objects to build the run from and where it goes."""

    task: object  # engines.tasks.base.Task
    engine: object  # engines.config.EngineConfig
    training: object  # engines.training.TrainingConfig
    device: str
    steps: int
    out: Path
    options: dict  # the command's options, resolved: ``train --config`` reads them back
    argv: list[str] = field(default_factory=list)
    threads: int | None = None


def prepare_train(args, argv: list[str]) -> TrainPlan:
    """Check every option of ``train`` by building the objects; a TrainPlan or UsageError."""
    from playground.cli import (
        UsageError,
        build_data_task,
        build_engine_config,
        build_task,
        build_training_config,
        check_device,
        check_positive,
        parse_task_options,
    )

    check_positive("--steps", args.steps)
    task_options = parse_task_options(args.task_option)
    if args.data is not None:
        if args.task is not None or task_options:
            raise UsageError("argument --data: give either --task or --data, not both")
        data = Path(args.data).expanduser().resolve()
        task = build_data_task(str(data), args.objective, args.delay, args.length)
        length = task.window
    else:
        if args.objective is not None or args.delay is not None:
            raise UsageError("arguments --objective and --delay need --data FILE")
        data = None
        task = build_task(args.task or "adding", args.length, task_options)
        length = task.length
    engine = build_engine_config(
        task, args.engine, args.hidden, args.layers, args.init, args.forget_bias
    )
    training = build_training_config(
        args.optimizer, args.lr, args.batch, args.clip, args.seed, args.eval_every
    )
    device = check_device(args.device)
    check_positive("--threads", args.threads)
    options = {
        key: value for key, value in vars(args).items() if key not in ("config", "out", "overwrite")
    }
    options.update(
        task=None if data else task.name,
        length=length,
        data=str(data) if data else None,
        engine=engine.kind,
        init=engine.init,
        optimizer=training.optimizer,
        device=str(args.device).strip().lower(),
    )
    try:
        out = prepare_run_folder(Path(args.out).expanduser(), args.overwrite)
    except RunFolderError as error:
        raise UsageError(str(error)) from None
    return TrainPlan(
        task=task,
        engine=engine,
        training=training,
        device=device,
        steps=args.steps,
        threads=args.threads,
        out=out,
        options=options,
        argv=list(argv),
    )


def _file_digest(path: str | None) -> str | None:
    if not path:
        return None
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_solved(metric: float | None, baseline: float, higher_is_better: bool) -> bool:
    """Solved: an error below a tenth of the memoryless baseline's, or an accuracy above 0.9
    and at least halfway from the baseline's to 1 (so a task whose baseline is already high
    is not solved by guessing)."""
    if metric is None or not math.isfinite(metric):
        return False
    threshold = solved_threshold(baseline, higher_is_better)
    return metric > threshold if higher_is_better else metric < threshold


def solved_threshold(baseline: float, higher_is_better: bool) -> float:
    """The metric a run must beat to count as solved (see ``is_solved``)."""
    if higher_is_better:
        return max(0.9, baseline + 0.5 * (1.0 - baseline))
    return 0.1 * baseline


def versions() -> dict:
    import torch

    return {"torch": torch.__version__, "python": platform.python_version()}


def write_run_config(plan: TrainPlan) -> None:
    import shlex

    config = {
        "format": CONFIG_FORMAT,
        "version": CONFIG_VERSION,
        "command": shlex.join(plan.argv),
        "argv": plan.argv,
        "rerun": f"seq-playground train --config {shlex.quote(str((plan.out / CONFIG).resolve()))} "
        "--out NEW_FOLDER",
        "options": plan.options,
        "task": plan.task.describe(),
        "engine": plan.engine.to_dict(),
        "training": plan.training.to_dict(),
        "steps": plan.steps,
        "seed": plan.training.seed,
        "device": plan.device,
        "data": None
        if not plan.options.get("data")
        else {"path": plan.options["data"], "sha256": _file_digest(plan.options["data"])},
        "threads": plan.threads,
        **versions(),
    }
    atomic_write_json(plan.out / CONFIG, config)


def run_train(plan: TrainPlan, stream=None) -> int:
    """Train, writing the run folder; 0 finished, 1 diverged, 130 interrupted (Ctrl+C)."""
    import torch

    from engines.checkpoint import save_weights
    from engines.training import Trainer, run_training
    from playground.progress import make_progress

    stream = stream if stream is not None else sys.stderr
    if plan.threads is not None:
        torch.set_num_threads(plan.threads)
    write_run_config(plan)
    task = plan.task
    metrics = MetricsFile(plan.out / METRICS)
    progress = make_progress(
        plan.steps, stream, metric_name=task.metric_kind, every=plan.training.eval_every
    )
    started = time.perf_counter()
    status, message, last, evaluated = "finished", "", None, None
    trainer = None
    try:
        trainer = Trainer.create(plan.engine, task, plan.training, device=plan.device)
        for snap in run_training(trainer, plan.steps):
            last = snap
            if snap.state == "error":
                status, message = "diverged", snap.message
                break
            if snap.trained or snap.step == 0:
                metrics.add(
                    snap.step, snap.train_loss, snap.test_loss, snap.test_metric, snap.grad_norm
                )
            if snap.test_loss is not None:
                evaluated = snap
            progress.update(snap.step, snap.train_loss, snap.test_metric)
    except KeyboardInterrupt:
        status, message = "interrupted", "stopped by Ctrl+C"
    finally:
        previous = _ignore_sigint()
        try:
            progress.close()
            seconds = time.perf_counter() - started
            metrics.flush()
            weights = None
            if trainer is not None and all(
                bool(torch.isfinite(p).all()) for p in trainer.engine.parameters()
            ):
                weights = save_weights(trainer.engine, plan.out / WEIGHTS).name
            summary = _summary(plan, trainer, status, message, last, evaluated, seconds)
            summary["weights"] = weights
            atomic_write_json(plan.out / SUMMARY, summary)
        finally:
            _restore_sigint(previous)
    if status == "diverged":
        print(f"seq-playground: error: training diverged: {message}", file=stream, flush=True)
        return 1
    if status == "interrupted":
        print(
            f"seq-playground: interrupted at step {trainer.step if trainer else 0}; "
            f"the files so far are in {plan.out}",
            file=stream,
            flush=True,
        )
        return 130
    print(_result_line(summary), file=stream, flush=True)
    return 0


def _summary(plan, trainer, status, message, last, evaluated, seconds) -> dict:
    task = plan.task
    steps = trainer.step if trainer is not None else 0
    metric = evaluated.test_metric if evaluated is not None else None
    return {
        "status": status,
        "message": message,
        "task": task.name,
        "length": task.length,
        "length_label": task.length_label,
        "engine": plan.engine.kind,
        "engine_config": plan.engine.to_dict(),
        "steps": steps,
        "steps_requested": plan.steps,
        "final_test_step": evaluated.step if evaluated is not None else None,
        "final_test_loss": json_number(evaluated.test_loss if evaluated is not None else None),
        "final_test_metric": json_number(metric),
        "metric": task.metric_kind,
        "higher_is_better": task.higher_is_better,
        "baseline_loss": task.baseline_loss,
        "baseline_metric": task.baseline_metric,
        "solved": is_solved(metric, task.baseline_metric, task.higher_is_better),
        "seconds": round(seconds, 3),
        "train_seconds": round(last.elapsed, 3) if last is not None else 0.0,
        "steps_per_second": round(steps / seconds, 2) if seconds > 0 else None,
        "device": plan.device,
        "threads": plan.threads,
        **versions(),
    }


def _result_line(summary: dict) -> str:
    return (
        f"{summary['engine']} on {summary['task']} ({summary['length_label']} {summary['length']}): "
        f"test {summary['metric']} {summary['final_test_metric']:.4g} after "
        f"{summary['steps']} steps (baseline {summary['baseline_metric']:.4g}"
        f"{', solved' if summary['solved'] else ''}), {summary['seconds']:.1f} s"
    )


def _ignore_sigint():
    """Finish writing the files even if Ctrl+C is pressed again (main thread only)."""
    try:
        return signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        return None


def _restore_sigint(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)
