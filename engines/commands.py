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


Command = Pause | Resume | Step | Stop | SetLearningRate | SetClip | RequestProbe
