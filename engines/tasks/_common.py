"""Small helpers shared by the task modules: argument checks with messages a user can act on,
one-hot encoding, and the exact statistics of "random window" sampling used by the baselines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import torch

from engines.tasks.base import Task

# Upper bound on the length/delay of the synthetic tasks: far beyond what trains in the
# playground, low enough that a typo (1e6) is caught before it allocates gigabytes.
MAX_LENGTH = 10_000


def check_int(name: str, value: object, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi]; ValueError naming ``name`` and the accepted range."""
    accepted = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be {accepted}, got {value}")
    return value


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}")
    return str(value)


def check_batch_size(batch_size: object) -> int:
    return check_int("batch_size", batch_size, 1)


def one_hot(indices: torch.Tensor, n: int) -> torch.Tensor:
    """Float32 one-hot of an int64 index tensor, new last axis of size ``n``."""
    return torch.nn.functional.one_hot(indices, n).to(torch.float32)


def window_coverage(n_positions: int, width: int) -> np.ndarray:
    """How many windows of ``width`` consecutive positions cover each of ``n_positions``
    positions, when every start offset 0 .. n_positions - width is used once.

    Uniformly random offsets visit position p in proportion to this count, so statistics
    weighted by it are the exact expectations of what sampled batches contain (the ends of a
    sequence are seen less often than its middle)."""
    n_offsets = n_positions - width + 1
    p = np.arange(n_positions)
    return np.minimum.reduce(
        [p + 1, np.full(n_positions, width), np.full(n_positions, n_offsets), n_positions - p]
    ).astype(np.float64)


def weighted_unigram(symbols: np.ndarray, weights: np.ndarray, n_symbols: int) -> np.ndarray:
    """Probability of each symbol when position i counts ``weights[i]`` times."""
    counts = np.bincount(symbols, weights=weights, minlength=n_symbols)
    return counts / counts.sum()


def entropy_nats(probabilities: np.ndarray) -> float:
    """Shannon entropy in nats (0 log 0 = 0): the cross-entropy of the best memoryless guess."""
    p = probabilities[probabilities > 0]
    return float(-(p * np.log(p)).sum())


class TaskBase(Task):
    """``Task`` plus what the registry, the UI and experiment files need from every task here:
    the accepted length range and its default (class attributes), and ``options()``, the
    constructor keywords besides the length, so ``create_task(t.name, t.length, **t.options())``
    rebuilds an equal task."""

    min_length: ClassVar[int] = 1
    max_length: ClassVar[int] = MAX_LENGTH
    default_length: ClassVar[int] = 100

    def options(self) -> dict:
        return {}

    def describe(self) -> dict:
        described = super().describe()
        described["length_label"] = self.length_label
        described["options"] = self.options()
        return described
