"""The temporal order task: classify a long noisy sequence by the order of two rare symbols.

Hochreiter & Schmidhuber (1997), "Long Short-Term Memory", experiment 6a. Unlike the adding
and copy tasks the relevant events arrive at random times among distractors and both must be
kept, in order, until the end: it tests storing *and* protecting memories from irrelevant
input, which is what the LSTM's gates were designed for.
"""

from __future__ import annotations

import math

import torch

from engines.tasks._common import TaskBase, check_batch_size, check_int, one_hot
from engines.tasks.base import Batch

SYMBOLS = ("a", "b", "c", "d", "B", "E", "X", "Y")
N_DISTRACTORS = 4  # a, b, c, d are the first four symbols
TRIGGER, START, X, Y = (SYMBOLS.index(s) for s in "BEXY")
CLASSES = ("XX", "XY", "YX", "YY")


def relevant_windows(length: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Inclusive step ranges of the two relevant symbols: [10, 20] and [50, 60] for length
    100 as in the paper, scaled to 10-20 % and 50-60 % of the length (rounded) otherwise."""

    def at(tenths: int) -> int:
        return (length * tenths + 5) // 10

    return (at(1), at(2)), (at(5), at(6))


class TemporalOrderTask(TaskBase):
    """``length`` steps, inputs one-hot over the 8 symbols a, b, c, d, B, E, X, Y.

    As in the paper, a sequence starts with E, ends with B (the "trigger" that asks for the
    answer) and is otherwise made of distractors drawn uniformly from a..d, except for two
    relevant steps t1 and t2, each X or Y with probability 1/2: t1 uniform in [10, 20] and t2 in
    [50, 60] for length 100, the same fractions of other lengths (``relevant_windows``). The
    paper varied the length between 100 and 110 within a run; here it is fixed per task so
    samples batch without padding.

    Four classes, XX, XY, YX, YY (class = 2 * [first is Y] + [second is Y]), asked for at the
    last step only; a memoryless guess is uniform: loss ln 4, accuracy 1/4.

    ``length`` must be at least 10 so the two windows stay apart and clear of both ends.
    """

    name = "temporal_order"
    title = "Temporal order"
    loss_kind = "cross_entropy"
    metric_kind = "accuracy"
    length_label = "length"
    min_length = 10
    default_length = 100
    loss_steps = slice(-1, None)  # the answer is asked for at the last step only

    def __init__(self, length: int = 100) -> None:
        self.length = check_int("length", length, self.min_length, self.max_length)
        self.sequence_length = self.length
        self.first_window, self.second_window = relevant_windows(self.length)
        self.input_size = len(SYMBOLS)
        self.output_size = len(CLASSES)
        self.baseline_loss = math.log(len(CLASSES))
        self.baseline_metric = 1.0 / len(CLASSES)
        self.input_names = SYMBOLS
        self.class_names = CLASSES

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        batch_size = check_batch_size(batch_size)
        steps = self.length
        (lo1, hi1), (lo2, hi2) = self.first_window, self.second_window
        symbols = torch.randint(0, N_DISTRACTORS, (batch_size, steps), generator=generator)
        t1 = torch.randint(lo1, hi1 + 1, (batch_size,), generator=generator)
        t2 = torch.randint(lo2, hi2 + 1, (batch_size,), generator=generator)
        is_y = torch.randint(0, 2, (batch_size, 2), generator=generator)
        rows = torch.arange(batch_size)

        symbols[:, 0] = START
        symbols[:, -1] = TRIGGER
        symbols[rows, t1] = X + is_y[:, 0]
        symbols[rows, t2] = X + is_y[:, 1]

        targets = torch.zeros(batch_size, steps, dtype=torch.int64)
        targets[:, -1] = 2 * is_y[:, 0] + is_y[:, 1]
        mask = torch.zeros(batch_size, steps, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(
            inputs=one_hot(symbols, self.input_size),
            targets=targets,
            mask=mask,
            metric_mask=mask.clone(),
        )
