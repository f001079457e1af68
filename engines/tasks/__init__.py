"""Classic memory tasks, each seeded and deterministic, each with its trivial baseline."""

from engines.tasks.base import Batch, Task, masked_loss

__all__ = ["Batch", "Task", "masked_loss"]
