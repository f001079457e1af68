"""Classic memory tasks, each seeded and deterministic, each with its trivial baseline."""

from engines.tasks.adding import AddingTask
from engines.tasks.base import Batch, Task, masked_loss
from engines.tasks.copy import CopyTask
from engines.tasks.delayed_recall import DelayedRecallTask
from engines.tasks.registry import (
    TASKS,
    create_task,
    default_length,
    length_label,
    length_range,
    task_options,
)
from engines.tasks.temporal_order import TemporalOrderTask
from engines.tasks.text import TextTask
from engines.tasks.user_sequence import SequenceTask
from engines.tasks.waveform import WaveformTask

__all__ = [
    "TASKS",
    "AddingTask",
    "Batch",
    "CopyTask",
    "DelayedRecallTask",
    "SequenceTask",
    "Task",
    "TemporalOrderTask",
    "TextTask",
    "WaveformTask",
    "create_task",
    "default_length",
    "length_label",
    "length_range",
    "masked_loss",
    "task_options",
]
