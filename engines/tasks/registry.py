"""The tasks by name, so the UI, the command line and experiment files can build one from plain
values and check a length before building."""

from __future__ import annotations

import inspect

from engines.tasks._common import TaskBase
from engines.tasks.adding import AddingTask
from engines.tasks.copy import CopyTask
from engines.tasks.delayed_recall import DelayedRecallTask
from engines.tasks.temporal_order import TemporalOrderTask
from engines.tasks.text import TextTask
from engines.tasks.waveform import WaveformTask

TASKS: dict[str, type[TaskBase]] = {
    task.name: task
    for task in (AddingTask, CopyTask, DelayedRecallTask, TemporalOrderTask, WaveformTask, TextTask)
}


def _task_class(name: str) -> type[TaskBase]:
    try:
        return TASKS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}") from None


def create_task(name: str, length: int, **options) -> TaskBase:
    """Build task ``name`` with its length/delay ``length`` and its own keyword ``options``
    (e.g. ``kind="square"`` for "waveform", ``n_symbols=4`` for "copy"). ValueError for an
    unknown task, an option the task does not have, or a value out of range."""
    cls = _task_class(name)
    accepted = task_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        listed = ", ".join(accepted) or "none"
        raise ValueError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for task {name!r}; accepted options: {listed}"
        )
    return cls(length, **options)


def task_options(name: str) -> tuple[str, ...]:
    """The keyword options of task ``name`` besides its length (constructor order)."""
    parameters = list(inspect.signature(_task_class(name).__init__).parameters.values())
    return tuple(p.name for p in parameters[2:])  # skip self and the length/delay


def default_length(name: str) -> int:
    return _task_class(name).default_length


def length_range(name: str) -> tuple[int, int]:
    """Inclusive (lo, hi) of the length/delay the task accepts (for "text", also at most the
    text's length - 1)."""
    cls = _task_class(name)
    return cls.min_length, cls.max_length


def length_label(name: str) -> str:
    """What the length means for task ``name``: "length" or "delay"."""
    return _task_class(name).length_label
