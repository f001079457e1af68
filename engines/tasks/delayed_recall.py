"""Delayed recall: see one symbol, wait, and name it when cued.

The simplest long-term memory probe, a single-item version of the copy task (Arjovsky et al.
2016) and of the cue-delay-response paradigm of working-memory experiments (e.g. Funahashi,
Bruce & Goldman-Rakic 1989). With nothing but one item to hold it isolates the memory span:
the delay is the only thing that makes it hard, so it shows where a cell type's span ends.
"""

from __future__ import annotations

import math

import torch

from engines.tasks._common import TaskBase, check_batch_size, check_int, one_hot
from engines.tasks.base import Batch


class DelayedRecallTask(TaskBase):
    """``delay + 1`` steps, inputs one-hot over ``n_symbols`` symbol channels plus a ``go``
    channel:

    - step 0: a symbol drawn uniformly from 0..n_symbols - 1;
    - steps 1..delay: blank (all zeros), except that ``go`` is 1 at the final step.

    The target, asked for at the final step only, is the symbol (class index). Without memory
    the best guess is uniform: loss ln(n_symbols), accuracy 1 / n_symbols.
    """

    name = "delayed_recall"
    title = "Delayed recall"
    loss_kind = "cross_entropy"
    metric_kind = "accuracy"
    length_label = "delay"
    min_length = 1
    default_length = 20
    loss_steps = slice(-1, None)  # the answer is asked for at the last step only

    def __init__(self, delay: int = 20, n_symbols: int = 8) -> None:
        self.length = check_int("delay", delay, self.min_length, self.max_length)
        self.n_symbols = check_int("n_symbols", n_symbols, 2, 1000)
        self.sequence_length = self.length + 1
        self.input_size = self.n_symbols + 1
        self.output_size = self.n_symbols
        self.baseline_loss = math.log(self.n_symbols)
        self.baseline_metric = 1.0 / self.n_symbols
        self.input_names = (*(f"symbol {s}" for s in range(self.n_symbols)), "go")

    @property
    def delay(self) -> int:
        return self.length

    def options(self) -> dict:
        return {"n_symbols": self.n_symbols}

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        batch_size = check_batch_size(batch_size)
        steps = self.sequence_length
        symbols = torch.randint(0, self.n_symbols, (batch_size,), generator=generator)

        inputs = torch.zeros(batch_size, steps, self.input_size)
        inputs[:, 0, : self.n_symbols] = one_hot(symbols, self.n_symbols)
        inputs[:, -1, self.n_symbols] = 1.0
        targets = torch.zeros(batch_size, steps, dtype=torch.int64)
        targets[:, -1] = symbols
        mask = torch.zeros(batch_size, steps, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(inputs=inputs, targets=targets, mask=mask, metric_mask=mask.clone())
