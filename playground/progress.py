"""Progress of a headless run on stderr: a one-line bar redrawn with ``\\r`` on a terminal,
plain lines now and then when stderr is a file or a pipe (logs of ``nohup`` runs stay short).

Standard library only; ``make_progress`` picks the kind by ``stream.isatty()``.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    """``1:02:03`` / ``2:03``; ``--:--`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _number(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}"


class Progress:
    """What a run reports; subclasses decide how it looks. ``update`` is cheap to call every
    step: drawing is throttled."""

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        metric_name: str = "metric",
        clock=time.perf_counter,
    ) -> None:
        self.total = max(0, int(total))  # 0: --steps 0, evaluation only
        self.stream = stream if stream is not None else sys.stderr
        self.metric_name = metric_name
        self.clock = clock
        self.start = clock()
        self.step = 0
        self.loss: float | None = None
        self.test_metric: float | None = None

    # --- numbers ------------------------------------------------------------------------
    def rate(self) -> float:
        elapsed = self.clock() - self.start
        return self.step / elapsed if elapsed > 0 and self.step else 0.0

    def eta(self) -> float:
        rate = self.rate()
        return (self.total - self.step) / rate if rate > 0 else math.nan

    def summary(self) -> str:
        return (
            f"step {self.step}/{self.total}  loss {_number(self.loss)}  "
            f"test {self.metric_name} {_number(self.test_metric)}  "
            f"{self.rate():.1f} steps/s  ETA {format_duration(self.eta())}"
        )

    # --- events -------------------------------------------------------------------------
    def update(
        self, step: int, loss: float | None = None, test_metric: float | None = None
    ) -> None:
        if step == 0 and self.step == 0:
            self.start = self.clock()  # the rate counts training, not the start-up before it
        self.step = step
        if loss is not None:
            self.loss = loss
        if test_metric is not None:
            self.test_metric = test_metric
        self.draw(evaluated=test_metric is not None)

    def draw(self, evaluated: bool) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def message(self, text: str) -> None:
        """A line of its own (a warning, a result) that does not garble the bar."""
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


class ProgressBar(Progress):
    """``[#########.........]  step 900/2000  loss 0.012  test mse 0.0031  310 steps/s  ETA 0:04``
    redrawn in place at most ``max_hz`` times a second."""

    def __init__(self, *args, width: int = 24, max_hz: float = 10.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.width = width
        self.interval = 1.0 / max_hz
        self._last_draw = -math.inf
        self._drawn = 0

    def draw(self, evaluated: bool) -> None:
        now = self.clock()
        if now - self._last_draw < self.interval and self.step < self.total:
            return
        self._last_draw = now
        filled = (
            self.width
            if not self.total
            else int(self.width * min(self.step, self.total) / self.total)
        )
        line = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.summary()}"
        padding = " " * max(0, self._drawn - len(line))
        self.stream.write("\r" + line + padding)
        self.stream.flush()
        self._drawn = len(line)

    def message(self, text: str) -> None:
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()
        self._last_draw = -math.inf
        self._drawn = 0

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0


class ProgressLines(Progress):
    """A plain line at evaluation steps, about ``lines`` of them over the run, and the last."""

    def __init__(self, *args, every: int = 1, lines: int = 10, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A multiple of the evaluation interval, so every line carries a fresh test metric.
        every = max(1, every)
        self.every = every * max(1, math.ceil(self.total / lines / every))
        self._last_line = -1

    def draw(self, evaluated: bool) -> None:
        due = self.step % self.every == 0 or self.step >= self.total
        if due and self.step != self._last_line and (evaluated or self.step >= self.total):
            self._last_line = self.step
            self.message(self.summary())


def make_progress(
    total: int,
    stream: TextIO | None = None,
    metric_name: str = "metric",
    every: int = 1,
    enabled: bool = True,
) -> Progress:
    """A bar when ``stream`` (stderr by default) is a terminal, plain lines otherwise;
    ``enabled=False`` gives one that draws nothing."""
    stream = stream if stream is not None else sys.stderr
    if not enabled:
        return _Silent(total, stream, metric_name)
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return ProgressBar(total, stream, metric_name)
    return ProgressLines(total, stream, metric_name, every=every)


class _Silent(Progress):
    def draw(self, evaluated: bool) -> None:
        pass
