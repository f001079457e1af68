"""When to probe: at display rate, but never at the cost of more than a sliver of training.

A display wants ~30 frames a second. On a GPU a training step takes a few milliseconds, so a
probe every 1/30 s is almost free. On a CPU one step of a big model can take longer than a
frame, and a probe every frame would slow training down; so a probe is also held back until the
time since the last one is at least its own cost divided by ``max_fraction``.
"""

from __future__ import annotations


class ProbeSchedule:
    def __init__(self, rate_hz: float = 30.0, max_fraction: float = 0.03) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate_hz must be positive, got {rate_hz!r}")
        if not 0 < max_fraction <= 1:
            raise ValueError(f"max_fraction must be in (0, 1], got {max_fraction!r}")
        self.interval = 1.0 / rate_hz
        self.max_fraction = max_fraction
        self._last_end: float | None = None
        self._last_cost = 0.0
        self.count = 0

    def due(self, now: float) -> bool:
        if self._last_end is None:
            return True
        wait = max(self.interval, self._last_cost / self.max_fraction)
        return now - self._last_end >= wait

    def record(self, start: float, end: float) -> None:
        """Report a probe that ran from ``start`` to ``end`` (``time.perf_counter`` seconds)."""
        self._last_cost = max(0.0, end - start)
        self._last_end = end
        self.count += 1


class AveragedSchedule(ProbeSchedule):
    """A ProbeSchedule whose rate and share of time hold on average, not gap by gap.

    ``ProbeSchedule`` waits ``max(interval, cost / max_fraction)`` after each probe. Where
    probes can only start at coarse moments -- the end of a lockstep round of several engines,
    ~30 ms on a 2-core CPU -- each wait is rounded up to the next such moment, and a 15 Hz
    rate gets only every third or fourth round (7-10 Hz). Here the rate keeps its ideal grid
    (a late probe does not push the next one back) and the share of time is a budget that
    fills at ``max_fraction`` per second, so waits rounded up are made good later. Neither
    banks more than one probe's worth: after a long pause it does not burst.
    """

    def __init__(self, rate_hz: float = 30.0, max_fraction: float = 0.03) -> None:
        super().__init__(rate_hz, max_fraction)
        self._next_start: float | None = None
        self._credit = 0.0  # seconds of probing the budget allows now (negative: owed)
        self._credit_at: float | None = None

    def _credit_now(self, now: float) -> float:
        if self._credit_at is None:
            return 0.0
        earned = self.max_fraction * max(0.0, now - self._credit_at)
        return min(self._last_cost, self._credit + earned)

    def due(self, now: float) -> bool:
        if self._next_start is None:
            return True
        return now >= self._next_start and self._credit_now(now) >= 0.0

    def record(self, start: float, end: float) -> None:
        cost = max(0.0, end - start)
        on_grid = self._next_start is not None and start - self._next_start < self.interval
        self._next_start = (self._next_start if on_grid else start) + self.interval
        credit = self._credit_now(start)
        super().record(start, end)
        self._credit = credit - cost
        self._credit_at = end


#: The app's probing budget: trace frames (0.7-2 ms for 100 steps on a 2-core CPU, whatever
#: the batch) up to 40 a second -- a little above the 30 frames a second the window aims for,
#: since a probe can only start at the end of a training step -- within 3 % of training
#: time; the gradient flow (about as costly) up to 10 a second within 0.5 %. With the training
#: loop's own bookkeeping that keeps the instrumented step within 5 % of plain torch.nn
#: (benchmarks/bench_engines.py); a model whose frames cost more gets fewer of them.
TRACE_RATE_HZ, TRACE_FRACTION = 40.0, 0.03
GRADIENT_RATE_HZ, GRADIENT_FRACTION = 10.0, 0.005


def display_schedules() -> tuple[ProbeSchedule, ProbeSchedule]:
    """(trace schedule, gradient-flow schedule) as the app's trainer uses them."""
    return (
        ProbeSchedule(TRACE_RATE_HZ, TRACE_FRACTION),
        ProbeSchedule(GRADIENT_RATE_HZ, GRADIENT_FRACTION),
    )


#: The "why it forgets" analyses that cost more than a trace (the Jacobian spectra, the RNN's
#: eigenvalues; engines.live_analysis): up to 10 a second within 0.5 % of training time, on top
#: of the budget above (the cheap analyses ride along with the trace frames, inside theirs).
ANALYSIS_RATE_HZ, ANALYSIS_FRACTION = 10.0, 0.005


def analysis_schedule() -> ProbeSchedule:
    """The schedule of the costly analyses as the app's trainer uses it."""
    return ProbeSchedule(ANALYSIS_RATE_HZ, ANALYSIS_FRACTION)
