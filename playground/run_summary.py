"""How a headless run ended, as ``summary.json`` says it, and the "solved" rule the
``horizon`` table and plot share.

``summary.json`` is written last: a folder whose summary says "finished" is complete (a sweep
skips it when it runs again). While a run trains its summary says "running"; a run stopped
by Ctrl+C or SIGTERM says "interrupted" (``train --resume`` continues it); "diverged" and
"failed" (a write that failed) say what happened in ``message``.
"""

from __future__ import annotations

import math
import platform

#: The statuses of a run that will not change by running the same command again.
DONE = ("finished", "diverged")


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


def json_number(value):
    """JSON has no NaN or infinity: write those as strings ("nan", "inf")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def number(value) -> float:
    """A summary's number back as a float (NaN for missing, "nan" or "inf" strings)."""
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def summary(plan, *, status, message, step, evaluated, seconds, train_seconds, extra) -> dict:
    """``summary.json`` of ``plan`` (a ``TrainPlan``) ended in ``status`` at ``step``;
    ``evaluated`` is the (step, test_loss, test_metric) of the last evaluation or None."""
    task = plan.task
    metric = evaluated[2] if evaluated is not None else None
    return {
        "status": status,
        "message": message,
        "task": task.name,
        "length": task.length,
        "length_label": task.length_label,
        "engine": plan.engine.kind,
        "engine_config": plan.engine.to_dict(),
        "steps": step,
        "steps_requested": plan.steps,
        "final_test_step": evaluated[0] if evaluated is not None else None,
        "final_test_loss": json_number(evaluated[1] if evaluated is not None else None),
        "final_test_metric": json_number(metric),
        "metric": task.metric_kind,
        "higher_is_better": task.higher_is_better,
        "baseline_loss": task.baseline_loss,
        "baseline_metric": task.baseline_metric,
        "solved": is_solved(metric, task.baseline_metric, task.higher_is_better),
        "seconds": round(seconds, 3),
        "train_seconds": round(train_seconds, 3),
        "steps_per_second": round(step / seconds, 2) if seconds > 0 else None,
        "device": plan.device,
        "threads": plan.threads,
        **extra,
        **versions(),
    }


def result_line(summary: dict) -> str:
    metric = number(summary["final_test_metric"])
    return (
        f"{summary['engine']} on {summary['task']} ({summary['length_label']} {summary['length']}): "
        f"test {summary['metric']} {metric:.4g} after "
        f"{summary['steps']} steps (baseline {summary['baseline_metric']:.4g}"
        f"{', solved' if summary['solved'] else ''}), {summary['seconds']:.1f} s"
    )
