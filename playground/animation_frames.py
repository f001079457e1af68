"""What an animation shows, frame by frame: the recorded training history, or the time cursor
walking across one recorded sequence, and the loss history drawn up to each frame's step.

Plain values (the dashboard dicts of ``playground.frames.dashboard_frame``, made when a frame
is drawn); the titles come from ``widgets.figure_export.FigureInfo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from playground.frames import dashboard_frame
from widgets.figure_export import FigureInfo


@dataclass(frozen=True)
class AnimationFrame:
    """One frame of an animation: the dashboard's dict, the title above it, where the time
    cursor stands, and the training step up to which the loss history is drawn."""

    frame: dict
    title: str
    cursor: int | None = None
    loss_step: int | None = None
    step: int | None = None


@dataclass(frozen=True)
class LossCurves:
    """The loss history a history animation draws up to each frame's step."""

    train_steps: np.ndarray
    train_losses: np.ndarray
    test_steps: np.ndarray | None = None
    test_losses: np.ndarray | None = None
    baseline: float | None = None
    baseline_label: str = ""


class HistoryFrames(Sequence):
    """One animation frame per recorded probe frame, oldest first.

    ``recorded`` holds ``(ProbeFrame, GradientFlow | None)`` pairs (``FrameHistory``, or what
    ``run_folder.read_frames`` returns). ``steps = (first, last)`` keeps the frames recorded in
    that range of training steps (inclusive); ``count`` thins them evenly to at most that many
    (the first and last kept). Dicts are made when a frame is drawn, not before.
    """

    def __init__(
        self,
        recorded,
        info: FigureInfo,
        *,
        steps: tuple[int | None, int | None] | None = None,
        count: int | None = None,
        layer: int = 0,
        sample: int = 0,
        input_names: list[str] | None = None,
    ) -> None:
        indices = list(range(len(recorded)))
        if steps is not None:
            first, last = steps
            indices = [
                i
                for i in indices
                if (first is None or recorded[i][0].step >= first)
                and (last is None or recorded[i][0].step <= last)
            ]
        if not indices:
            raise ValueError(
                "no recorded frames to animate"
                + ("" if steps is None else f" between steps {steps[0]} and {steps[1]}")
            )
        if count is not None:
            if count < 1:
                raise ValueError(f"count must be at least 1, got {count}")
            if count < len(indices):
                picks = np.unique(np.round(np.linspace(0, len(indices) - 1, count)).astype(int))
                indices = [indices[i] for i in picks]
        self._recorded = recorded
        self._indices = indices
        self._info = info
        self._layer, self._sample, self._names = layer, sample, input_names

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        frame, gradients = self._recorded[self._indices[k]]
        shown = dashboard_frame(frame, self._layer, self._sample, self._names, gradients)
        title = replace(self._info, step=frame.step, layer=shown["layer"]).title()
        return AnimationFrame(shown, title, loss_step=frame.step, step=frame.step)

    def steps(self) -> list[int]:
        return [self._recorded[i][0].step for i in self._indices]


class CursorSweep(Sequence):
    """The time cursor walking across one recorded frame's sequence, one frame per ``stride``
    time steps."""

    def __init__(
        self,
        recorded_item,
        info: FigureInfo,
        *,
        stride: int = 1,
        layer: int = 0,
        sample: int = 0,
        input_names: list[str] | None = None,
    ) -> None:
        if stride < 1:
            raise ValueError(f"stride must be at least 1, got {stride}")
        frame, gradients = recorded_item
        self._shown = dashboard_frame(frame, layer, sample, input_names, gradients)
        self._step = frame.step
        self._times = list(range(0, frame.trace.steps, stride))
        self._title = replace(info, step=frame.step, layer=self._shown["layer"]).title()

    def __len__(self) -> int:
        return len(self._times)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        t = self._times[k]
        return AnimationFrame(
            self._shown, f"{self._title} · t = {t}", cursor=t, loss_step=self._step, step=self._step
        )
