"""The copy memory task: store a short random string and write it out after a long delay.

Arjovsky, Shah & Bengio (2016), "Unitary Evolution Recurrent Neural Networks" (after
Hochreiter & Schmidhuber 1997): it measures how many discrete items a network can hold over
``length`` steps, and a memoryless network is stuck at a known loss, so progress is visible
as soon as the loss drops below it.
"""

from __future__ import annotations

import math

import torch

from engines.tasks._common import TaskBase, check_batch_size, check_int, one_hot
from engines.tasks.base import Batch

BLANK = 0


class CopyTask(TaskBase):
    """Categories: 0 blank, 1..n_symbols the symbols, n_symbols + 1 the delimiter ("go").

    One sample, ``length + 2 * n_remember`` steps (T = length, the delay):

    - steps [0, n_remember): ``n_remember`` symbols drawn uniformly from 1..n_symbols;
    - then T - 1 blanks, the delimiter at step n_remember + T - 1, then n_remember blanks.

    Targets are blank everywhere except the last ``n_remember`` steps, which must repeat the
    symbols in order. Inputs are one-hot over the n_symbols + 2 categories; outputs are logits
    over blank and the symbols (n_symbols + 1; the delimiter is never a target).

    The loss is cross-entropy over every step, as in the paper, so the best memoryless
    predictor (blank with certainty, then uniform over the symbols for the last n_remember
    steps) scores ``n_remember * ln(n_symbols) / (T + 2 * n_remember)``; its accuracy on the
    recalled steps (the metric) is 1 / n_symbols.
    """

    name = "copy"
    title = "Copy memory"
    loss_kind = "cross_entropy"
    metric_kind = "accuracy"
    length_label = "delay"
    min_length = 1
    default_length = 50

    def __init__(self, length: int = 50, n_symbols: int = 8, n_remember: int = 10) -> None:
        self.length = check_int("length", length, self.min_length, self.max_length)
        self.n_symbols = check_int("n_symbols", n_symbols, 2, 1000)
        self.n_remember = check_int("n_remember", n_remember, 1, 1000)
        self.delimiter = self.n_symbols + 1
        self.sequence_length = self.length + 2 * self.n_remember
        self.input_size = self.n_symbols + 2
        self.output_size = self.n_symbols + 1
        self.baseline_loss = self.n_remember * math.log(self.n_symbols) / self.sequence_length
        self.baseline_metric = 1.0 / self.n_symbols
        self.input_names = ("blank", *(str(s) for s in range(1, self.n_symbols + 1)), "go")

    def options(self) -> dict:
        return {"n_symbols": self.n_symbols, "n_remember": self.n_remember}

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        batch_size = check_batch_size(batch_size)
        r, steps = self.n_remember, self.sequence_length
        symbols = torch.randint(1, self.n_symbols + 1, (batch_size, r), generator=generator)

        categories = torch.full((batch_size, steps), BLANK, dtype=torch.int64)
        categories[:, :r] = symbols
        categories[:, r + self.length - 1] = self.delimiter
        targets = torch.full((batch_size, steps), BLANK, dtype=torch.int64)
        targets[:, -r:] = symbols

        mask = torch.ones(batch_size, steps, dtype=torch.bool)
        metric_mask = torch.zeros(batch_size, steps, dtype=torch.bool)
        metric_mask[:, -r:] = True
        return Batch(
            inputs=one_hot(categories, self.input_size),
            targets=targets,
            mask=mask,
            metric_mask=metric_mask,
        )
