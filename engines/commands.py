"""Commands a training run accepts between steps. Plain, picklable values: they cross the
pipe from the app to the trainer process unchanged."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pause:
    pass


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Step:
    """Train ``count`` steps while paused, then stay paused."""

    count: int = 1


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class SetLearningRate:
    lr: float


@dataclass(frozen=True)
class SetClip:
    clip: float


@dataclass(frozen=True)
class RequestProbe:
    """Attach a probe (trace and gradient flow) to the next snapshot."""


@dataclass(frozen=True)
class SetInterventions:
    """Apply these interventions (``engines.interventions``: Clamp, Ablate, SetBias, or their
    ``to_dict`` forms) to the probe from now on; an empty tuple clears them. They alter the
    probe only, never the weights or the training, and the next snapshot carries a probe."""

    interventions: tuple = ()


Command = Pause | Resume | Step | Stop | SetLearningRate | SetClip | RequestProbe | SetInterventions
