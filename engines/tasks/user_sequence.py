"""A task made from the user's own sequence (drawn in the app or loaded from a file).

Two objectives, the two faces of sequence memory:

- ``next``: predict x[t+1] from x[..t] (prediction, as in Elman 1990 and the waveform task);
- ``recall``: see a stretch of the sequence, wait ``delay`` steps, then reproduce it (storage
  and retrieval, as in the copy task of Arjovsky et al. 2016).

Continuous values use MSE, symbols cross-entropy. Baselines are what a memoryless predictor
achieves, computed exactly for the random windows the task samples.
"""

from __future__ import annotations

import numpy as np
import torch

from engines.tasks._common import (
    MAX_LENGTH,
    TaskBase,
    check_batch_size,
    check_choice,
    check_int,
    entropy_nats,
    one_hot,
    weighted_unigram,
    window_coverage,
)
from engines.tasks.base import Batch

OBJECTIVES = ("next", "recall")
DEFAULT_MAX_WINDOW = 200


class SequenceTask(TaskBase):
    """Turn a sequence of T steps into a task.

    Give exactly one of:

    - ``values``: float array (T,) or (T, channels), finite; MSE, metric MSE;
    - ``symbols``: integer array (T,) of class indices in [0, n_symbols) (``n_symbols``
      defaults to max + 1); inputs are one-hot, cross-entropy, metric accuracy.

    ``objective="next"``: each sample is a window of ``window`` steps at a uniformly random
    offset (default min(T - 1, 200), at most T - 1); the target at step t is the value at t + 1,
    at every step. Baseline: the persistence forecast x[t+1] = x[t] (values) or the unigram of
    the symbols (symbols). ``delay`` has no effect.

    ``objective="recall"``: a window of ``window`` steps (default min(T, 200), at most T; T
    means the whole sequence each time), then ``delay`` blank steps (all zeros), then ``window``
    steps in which the extra ``cue`` input channel is 1 and the target is the window reproduced
    in order; the loss and the metric are taken over those last ``window`` steps only. Total
    2 * window + delay steps. Baseline: always predicting the mean (the variance of the values,
    averaged over channels) or the symbol frequencies (the unigram entropy).

    Baseline statistics weight each step of the sequence by how often random windows cover it,
    so they are the exact expectations for sampled batches. ``length`` is the window for
    "next" and the delay for "recall"; ``probe_batch()`` gives the user's sequence from its
    first step, for the views.
    """

    name = "sequence"
    title = "Your sequence"
    loss_kind = "mse"
    metric_kind = "mse"
    length_label = "window"
    min_length = 0

    def __init__(
        self,
        values: np.ndarray | None = None,
        symbols: np.ndarray | None = None,
        n_symbols: int | None = None,
        objective: str = "next",
        delay: int = 0,
        window: int | None = None,
        names: tuple[str, ...] | None = None,
    ) -> None:
        if (values is None) == (symbols is None):
            raise ValueError(
                "give exactly one of values (floats, shape (T,) or (T, channels)) "
                "or symbols (integers, shape (T,))"
            )
        self.objective = check_choice("objective", objective, OBJECTIVES)
        self.delay = check_int("delay", delay, 0, MAX_LENGTH)
        if values is not None:
            self._init_values(values)
        else:
            self._init_symbols(symbols, n_symbols)

        steps = self.n_steps
        longest = steps - 1 if self.objective == "next" else steps
        if window is None:
            window = min(longest, DEFAULT_MAX_WINDOW)
        self.window = check_int("window", window, 1, longest)

        if self.objective == "next":
            self.length = self.window
            self.length_label = "window"
            self.sequence_length = self.window
            self._n_offsets = steps - self.window
        else:
            self.length = self.delay
            self.length_label = "delay"
            self.sequence_length = 2 * self.window + self.delay
            self._n_offsets = steps - self.window + 1
            self.loss_steps = slice(-self.window, None)  # the loss is on the recall only

        self._set_names(names)
        self._set_baseline()

    # --- construction -------------------------------------------------------------------
    def _init_values(self, values: object) -> None:
        try:
            array = np.array(values, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"values must be an array of numbers: {error}") from None
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] < 1:
            raise ValueError(
                f"values must have shape (T,) or (T, channels), got shape {array.shape}"
            )
        if array.shape[0] < 2:
            raise ValueError(
                f"values must have at least 2 steps (T >= 2), got T = {array.shape[0]}"
            )
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            step, channel = bad[0]
            raise ValueError(
                f"values must be finite: {len(bad)} NaN or infinite entries, the first at step "
                f"{step}, channel {channel}"
            )
        self.values: np.ndarray | None = array
        self.symbols: np.ndarray | None = None
        self.n_steps, self.n_channels = array.shape
        self.n_symbols = None
        self.loss_kind = "mse"
        self.metric_kind = "mse"
        self._data = torch.from_numpy(array.astype(np.float32))

    def _init_symbols(self, symbols: object, n_symbols: object) -> None:
        array = np.array(symbols)
        if array.ndim != 1:
            raise ValueError(f"symbols must have shape (T,), got shape {array.shape}")
        if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"symbols must be integers (class indices), got dtype {array.dtype}")
        if array.shape[0] < 2:
            raise ValueError(
                f"symbols must have at least 2 steps (T >= 2), got T = {array.shape[0]}"
            )
        if array.min() < 0:
            raise ValueError(f"symbols must be >= 0, got {int(array.min())}")
        largest = int(array.max())
        if n_symbols is None:
            n_symbols = largest + 1
        self.n_symbols = check_int("n_symbols", n_symbols, max(largest + 1, 1))
        self.values = None
        self.symbols = array.astype(np.int64)
        self.n_steps, self.n_channels = array.shape[0], 1
        self.loss_kind = "cross_entropy"
        self.metric_kind = "accuracy"
        self._data = torch.from_numpy(self.symbols)

    def _set_names(self, names: tuple[str, ...] | None) -> None:
        if self.symbols is not None:
            features, default = self.n_symbols, tuple(str(s) for s in range(self.n_symbols))
        else:
            features = self.n_channels
            default = ("x",) if features == 1 else tuple(f"x{c}" for c in range(features))
        if names is None:
            names = default
        names = tuple(str(n) for n in names)
        if len(names) != features:
            what = "symbol" if self.symbols is not None else "channel"
            raise ValueError(f"names must give one name per {what} ({features}), got {len(names)}")
        self.feature_names = names
        self.output_size = features
        recall = self.objective == "recall"
        self.input_size = features + (1 if recall else 0)
        self.input_names = (*names, "cue") if recall else names

    def _set_baseline(self) -> None:
        steps, window = self.n_steps, self.window
        self.mean: np.ndarray | None = None  # what the memoryless recall predictor outputs
        if self.objective == "next":
            # Targets are steps 1..T-1; transition t (x[t] -> x[t+1]) is covered like step t of
            # a T-1 long series cut into windows of `window`.
            weights = window_coverage(steps - 1, window)
        else:
            weights = window_coverage(steps, window)

        if self.symbols is not None:
            targets = self.symbols[1:] if self.objective == "next" else self.symbols
            self.unigram = weighted_unigram(targets, weights, self.n_symbols)
            self.baseline_loss = entropy_nats(self.unigram)
            self.baseline_metric = float(self.unigram.max())
            return

        x = self.values
        if self.objective == "next":
            squared_step = ((x[1:] - x[:-1]) ** 2).mean(axis=1)
            self.baseline_loss = float(np.average(squared_step, weights=weights))
        else:
            self.mean = np.average(x, axis=0, weights=weights)
            variance = np.average((x - self.mean) ** 2, axis=0, weights=weights)
            self.baseline_loss = float(variance.mean())
        self.baseline_metric = self.baseline_loss

    def options(self) -> dict:
        return {
            "objective": self.objective,
            "delay": self.delay,
            "window": self.window,
            "n_symbols": self.n_symbols,
        }

    # --- sampling -----------------------------------------------------------------------
    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        batch_size = check_batch_size(batch_size)
        offsets = torch.randint(0, self._n_offsets, (batch_size,), generator=generator)
        return self._windows(offsets, self.window)

    def probe_batch(self, full: bool = False) -> Batch:
        """One sample from the first step of the user's sequence: the task's window at offset 0
        (the shape ``sample`` gives), or with ``full=True`` the whole sequence (window T - 1
        for "next", T for "recall")."""
        window = self.window
        if full:
            window = self.n_steps - 1 if self.objective == "next" else self.n_steps
        return self._windows(torch.zeros(1, dtype=torch.int64), window)

    def _features(self, segment: torch.Tensor) -> torch.Tensor:
        if self.symbols is not None:
            return one_hot(segment, self.n_symbols)
        return segment

    def _windows(self, offsets: torch.Tensor, window: int) -> Batch:
        batch_size = offsets.shape[0]
        if self.objective == "next":
            segment = self._data[offsets[:, None] + torch.arange(window + 1)]
            mask = torch.ones(batch_size, window, dtype=torch.bool)
            return Batch(
                inputs=self._features(segment[:, :-1]).contiguous(),
                targets=segment[:, 1:].contiguous(),
                mask=mask,
                metric_mask=mask.clone(),
            )

        segment = self._data[offsets[:, None] + torch.arange(window)]
        recall_from = window + self.delay
        steps = recall_from + window
        features = self._features(segment)
        n_features = self.output_size
        inputs = torch.zeros(batch_size, steps, n_features + 1)
        inputs[:, :window, :n_features] = features
        inputs[:, recall_from:, n_features] = 1.0
        if self.symbols is not None:
            targets = torch.zeros(batch_size, steps, dtype=torch.int64)
        else:
            targets = torch.zeros(batch_size, steps, n_features)
        targets[:, recall_from:] = segment
        mask = torch.zeros(batch_size, steps, dtype=torch.bool)
        mask[:, recall_from:] = True
        return Batch(inputs=inputs, targets=targets, mask=mask, metric_mask=mask.clone())
