"""The contract every memory task honours, so the training loop, the CLI and the views need
to know nothing about a particular task."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F

LossKind = Literal["mse", "cross_entropy"]
MetricKind = Literal["mse", "accuracy"]


@dataclass(frozen=True)
class Batch:
    """One batch of a task, batch-first.

    inputs:  (batch, time, input_size) float32
    targets: (batch, time, output_size) float32 for MSE tasks, (batch, time) int64 class
             indices for cross-entropy tasks
    mask:    (batch, time) bool: the steps the loss is taken over
    metric_mask: (batch, time) bool: the steps the metric is taken over (often == mask)
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    metric_mask: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            *(t.to(device) for t in (self.inputs, self.targets, self.mask, self.metric_mask))
        )

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


class Task(ABC):
    """A seeded, deterministic sequence task.

    Subclasses set the class attributes and the instance attributes ``input_size``,
    ``output_size``, ``length`` (the task's length/delay parameter, what the memory horizon
    varies) and ``sequence_length`` (total steps T of one sample), and implement ``sample``.
    ``baseline_loss``/``baseline_metric`` are what a memoryless, trivial predictor achieves.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    loss_kind: ClassVar[LossKind]
    metric_kind: ClassVar[MetricKind]
    length_label: ClassVar[str] = "length"

    input_size: int
    output_size: int
    length: int
    sequence_length: int
    baseline_loss: float
    baseline_metric: float
    input_names: tuple[str, ...] = ()
    #: Where the loss is taken when that is the same steps for every sample, as a slice of
    #: time (``slice(-1, None)``: the last step only; ``mask`` is then True there for every
    #: sample and False elsewhere), or None. The training step applies the read-out only there.
    loss_steps: slice | None = None

    @abstractmethod
    def sample(self, batch_size: int, generator: torch.Generator) -> Batch:
        """Draw ``batch_size`` samples on the CPU using only ``generator`` for randomness."""

    # --- loss and metric: shared by every task ------------------------------------------
    def loss(self, outputs: torch.Tensor, batch: Batch, steps: slice | None = None) -> torch.Tensor:
        """Mean loss over the masked steps. ``outputs`` is the read-out, (batch, time,
        output_size), or with ``steps`` (``loss_steps``) the read-out at those steps only: the
        same value, bit for bit, without the boolean mask (which on CUDA waits for the GPU)."""
        if steps is None:
            return masked_loss(self.loss_kind, outputs, batch.targets, batch.mask)
        # In the masked order (sample by sample), so the mean adds the same numbers alike.
        return per_step_loss(self.loss_kind, outputs, batch.targets[:, steps]).reshape(-1).mean()

    @torch.no_grad()
    def metric(self, outputs: torch.Tensor, batch: Batch) -> float:
        """MSE (lower is better) or accuracy (higher is better) over the metric mask."""
        if self.metric_kind == "mse":
            return float(masked_loss("mse", outputs, batch.targets, batch.metric_mask))
        predicted = outputs.argmax(dim=-1)
        hits = (predicted == batch.targets)[batch.metric_mask]
        return float(hits.float().mean())

    @property
    def higher_is_better(self) -> bool:
        return self.metric_kind == "accuracy"

    def describe(self) -> dict:
        """Plain values for config files and the UI."""
        return {
            "task": self.name,
            "length": self.length,
            "sequence_length": self.sequence_length,
            "input_size": self.input_size,
            "output_size": self.output_size,
            "loss": self.loss_kind,
            "metric": self.metric_kind,
            "baseline_loss": self.baseline_loss,
            "baseline_metric": self.baseline_metric,
            # The views' legends; a run folder keeps them so a reopened run is labelled alike.
            "input_names": list(self.input_names),
        }


def masked_loss(
    kind: LossKind, outputs: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    return per_step_loss(kind, outputs, targets)[mask].mean()


def per_step_loss(kind: LossKind, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The loss of every sample at every step, (batch, time)."""
    if kind == "mse":
        return ((outputs - targets) ** 2).mean(dim=-1)
    return F.cross_entropy(outputs.transpose(1, 2), targets, reduction="none")
