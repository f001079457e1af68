"""Commands a training run accepts between steps. Plain, picklable values: they cross the
pipe from the app to the trainer process unchanged."""

from __future__ import annotations

from dataclasses import dataclass

from engines.analysis import check_analysis_kinds


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


@dataclass(frozen=True)
class SetAnalyses:
    """Compute these "why it forgets" analyses (``engines.analysis.ANALYSIS_KINDS``:
    "jacobians", "timescales", "state_space") on the probe from now on, for the views that
    are visible; an empty set turns them off. The next snapshot carries a probe."""

    kinds: frozenset = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", check_analysis_kinds(self.kinds))


Command = (
    Pause
    | Resume
    | Step
    | Stop
    | SetLearningRate
    | SetClip
    | RequestProbe
    | SetInterventions
    | SetAnalyses
)
