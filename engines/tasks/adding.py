"""The adding problem: remember two numbers across a long gap and add them.

Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", experiment 4, in the form used by
Arjovsky, Shah & Bengio (2016), "Unitary Evolution Recurrent Neural Networks": it is the
standard probe of whether a recurrent net can carry a value over ``length`` steps, because the
answer is only asked for at the very end.
"""

from __future__ import annotations

import torch

from engines.tasks._common import TaskBase, check_batch_size, check_int
from engines.tasks.base import Batch


class AddingTask(TaskBase):
    """Two input channels over ``length`` steps:

    - ``value``: independent draws from U(0, 1);
    - ``marker``: exactly two 1s, one at a uniform step of the first half [0, length // 2) and
      one in the second half [length // 2, length) (for odd lengths the second half is the
      longer one), zeros elsewhere.

    The target, asked for at the last step only, is the sum of the two marked values.
    The memoryless predictor can do no better than the mean of that sum, 1, whose squared
    error is Var(U1 + U2) = 2 / 12 = 1/6: that is ``baseline_loss`` and ``baseline_metric``.
    """

    name = "adding"
    title = "Adding problem"
    loss_kind = "mse"
    metric_kind = "mse"
    length_label = "length"
    min_length = 2
    default_length = 100
    loss_steps = slice(-1, None)  # the answer is asked for at the last step only

    def __init__(self, length: int = 100) -> None:
        self.length = check_int("length", length, self.min_length, self.max_length)
        self.sequence_length = self.length
        self.input_size = 2
        self.output_size = 1
        self.baseline_loss = 1.0 / 6.0
        self.baseline_metric = 1.0 / 6.0
        self.input_names = ("value", "marker")

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        batch_size = check_batch_size(batch_size)
        steps, half = self.length, self.length // 2
        values = torch.rand(batch_size, steps, generator=generator)
        first = torch.randint(0, half, (batch_size,), generator=generator)
        second = torch.randint(half, steps, (batch_size,), generator=generator)
        rows = torch.arange(batch_size)

        markers = torch.zeros(batch_size, steps)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        inputs = torch.stack([values, markers], dim=-1)

        targets = torch.zeros(batch_size, steps, 1)
        targets[:, -1, 0] = values[rows, first] + values[rows, second]
        mask = torch.zeros(batch_size, steps, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(inputs=inputs, targets=targets, mask=mask, metric_mask=mask.clone())
