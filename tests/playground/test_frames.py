"""The recorded probe frames in bounded memory: spread evenly over the run's training steps
(the history slider and the training-history animation show early training as densely as
late training), the newest frame always last (the views show it live)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from playground.frames import FrameHistory


def frame(step: int):
    trace = SimpleNamespace(
        hidden=np.zeros((1, 1, 4, 2), np.float32),
        outputs=np.zeros((1, 4, 1), np.float32),
        gates={},
        cell=None,
    )
    return SimpleNamespace(step=step, trace=trace, inputs=np.zeros((1, 4, 1), np.float32))


def record(history: FrameHistory, steps) -> None:
    for step in steps:
        history.append(frame(step), None)


def test_a_long_run_is_recorded_evenly_from_its_first_step_to_its_last():
    """Probed at display rate (a frame every few steps) for 100,000 steps: at most the
    capacity, the first and the newest step there, and early training as densely recorded
    as late training -- not thinned again at every halving while the end stays dense."""
    history = FrameHistory(capacity=240)
    record(history, range(0, 100_001, 7))
    steps = history.steps()
    assert len(steps) <= 240 and steps[0] == 0 and steps[-1] == range(0, 100_001, 7)[-1]
    kept = np.array(steps[:-1])
    gaps = np.diff(kept)
    assert gaps.max() <= 3 * np.median(gaps)
    first_half = np.count_nonzero(kept < 50_000)
    assert 0.8 <= first_half / (len(kept) - first_half) <= 1.25
    assert len(steps) >= 120  # the memory is used, not emptied


def test_the_newest_frame_is_always_last():
    history = FrameHistory(capacity=8)
    for step in range(200):
        history.append(frame(step), None)
        assert history.steps()[-1] == step
        assert len(history) <= 8


def test_frames_of_one_step_are_kept_until_the_history_is_full():
    """Gate-lab probes of a paused run come at one training step: each is kept while
    there is room (the history slider can go back to them); once the history has a stride,
    a new one replaces the newest."""
    history = FrameHistory(capacity=6)
    record(history, [0, 0, 0])
    assert history.steps() == [0, 0, 0]
    record(history, range(1, 40))
    assert history.stride > 0
    before = history.steps()
    history.append(frame(39), None)
    assert history.steps() == before  # the same place, the newest frame


def test_frames_read_back_keep_their_spacing_when_the_run_continues():
    recorded = FrameHistory(capacity=20)
    record(recorded, range(0, 2000, 3))
    reopened = FrameHistory(capacity=20)
    record(reopened, recorded.steps())  # as Experiment.open appends a folder's frames
    reopened.settle()
    assert reopened.stride == pytest.approx(recorded.stride, rel=0.1)
    record(reopened, range(2000, 2400, 3))  # continued at display rate
    steps = np.array(reopened.steps()[:-1])
    old, new = np.diff(steps[steps <= 2000]), np.diff(steps[steps >= 1884])
    assert 0.5 <= np.median(new) / np.median(old) <= 2  # not every third step as probed
