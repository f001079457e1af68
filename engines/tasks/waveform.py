"""Waveform continuation: predict the next value of a periodic signal.

Next-step prediction of sine waves and their relatives is the classic sequence-generation
demonstration for recurrent nets (Jaeger & Haas 2004, "Harnessing Nonlinearity"; Graves 2013,
"Generating Sequences With Recurrent Neural Networks"). Each sample has its own frequency and
phase, so the net must infer them from the history it has seen: a memoryless net can only copy
the current value forward (the "persistence" forecast), and any better loss shows memory of the
signal's recent course. Square and sawtooth waves add jumps that only a net which tracks the
elapsed fraction of the period can anticipate.
"""

from __future__ import annotations

import math

import torch

from engines.tasks._common import TaskBase, check_batch_size, check_choice, check_int
from engines.tasks.base import Batch

KINDS = ("sine", "square", "sawtooth", "mixed")
# Frequencies in cycles per step, uniform in this range: periods of 10 to 50 steps.
FREQUENCY_RANGE = (0.02, 0.1)


def persistence_mse(
    kind: str, f_lo: float = FREQUENCY_RANGE[0], f_hi: float = FREQUENCY_RANGE[1]
) -> float:
    """Exact E[(x[t+1] - x[t])^2] for frequency f ~ U(f_lo, f_hi) (f < 1/2) and a uniform phase.

    With a uniform phase every step sees a uniform phase too, so for one frequency f:
    - sine: sin(a + w) - sin(a) = 2 cos(a + w/2) sin(w/2), mean square 2 sin^2(w/2) = 1 - cos w,
      w = 2 pi f; averaged over f: 1 - (sin 2 pi f_hi - sin 2 pi f_lo) / (2 pi (f_hi - f_lo));
    - square (+-1): a jump of 2 with probability 2f (two edges per period): 8f, mean 4(f_lo + f_hi);
    - sawtooth (rises 2f per step, falls by 2 once a period): (1-f)(2f)^2 + f(2f - 2)^2 = 4f(1-f),
      mean 4(E f - E f^2) with E f^2 = (f_lo^2 + f_lo f_hi + f_hi^2) / 3;
    - mixed: each kind with probability 1/3, so the mean of the three.
    """
    mean_f = (f_lo + f_hi) / 2
    mean_f2 = (f_lo * f_lo + f_lo * f_hi + f_hi * f_hi) / 3
    if kind == "sine":
        two_pi = 2 * math.pi
        return 1 - (math.sin(two_pi * f_hi) - math.sin(two_pi * f_lo)) / (two_pi * (f_hi - f_lo))
    if kind == "square":
        return 8 * mean_f
    if kind == "sawtooth":
        return 4 * (mean_f - mean_f2)
    return sum(persistence_mse(k, f_lo, f_hi) for k in KINDS[:3]) / 3


class WaveformTask(TaskBase):
    """One channel, ``length`` steps; the target at step t is the input at step t + 1, at every
    step (each sample draws length + 1 points). Noise-free signals of amplitude 1:

    - ``sine``: sin(2 pi u); ``square``: +1 for the first half of each period, -1 for the second
      (the sign of the sine); ``sawtooth``: 2 frac(u) - 1 (a ramp from -1 to 1, then a drop);
    - ``mixed``: each sample picks one of the three uniformly;

    where u = f t + phase in cycles, f uniform in ``FREQUENCY_RANGE`` = [0.02, 0.1] cycles per
    step (periods of 10 to 50 steps) and phase uniform in [0, 1), both per sample.

    ``baseline_loss``/``baseline_metric`` are the MSE of the persistence forecast (predict the
    current value as the next), computed analytically by ``persistence_mse``.
    """

    name = "waveform"
    title = "Waveform continuation"
    loss_kind = "mse"
    metric_kind = "mse"
    length_label = "length"
    min_length = 2
    default_length = 100

    def __init__(self, length: int = 100, kind: str = "sine") -> None:
        self.length = check_int("length", length, self.min_length, self.max_length)
        self.kind = check_choice("kind", kind, KINDS)
        self.sequence_length = self.length
        self.input_size = 1
        self.output_size = 1
        self.baseline_loss = persistence_mse(self.kind)
        self.baseline_metric = self.baseline_loss
        self.input_names = ("x",)

    def options(self) -> dict:
        return {"kind": self.kind}

    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        batch_size = check_batch_size(batch_size)
        f_lo, f_hi = FREQUENCY_RANGE
        # float64 for the phase so frac() stays exact over long sequences.
        frequency = f_lo + (f_hi - f_lo) * torch.rand(
            batch_size, 1, generator=generator, dtype=torch.float64
        )
        phase = torch.rand(batch_size, 1, generator=generator, dtype=torch.float64)
        u = frequency * torch.arange(self.length + 1, dtype=torch.float64) + phase
        cycle = u - torch.floor(u)

        waves = {
            "sine": lambda: torch.sin(2 * math.pi * u),
            "square": lambda: torch.where(cycle < 0.5, 1.0, -1.0).to(torch.float64),
            "sawtooth": lambda: 2 * cycle - 1,
        }
        if self.kind == "mixed":
            choice = torch.randint(0, 3, (batch_size,), generator=generator)
            x = torch.stack([waves[k]() for k in KINDS[:3]])[choice, torch.arange(batch_size)]
        else:
            x = waves[self.kind]()
        x = x.to(torch.float32).unsqueeze(-1)

        mask = torch.ones(batch_size, self.length, dtype=torch.bool)
        return Batch(
            inputs=x[:, :-1].contiguous(),
            targets=x[:, 1:].contiguous(),
            mask=mask,
            metric_mask=mask.clone(),
        )
