"""Probe schedules at coarse moments: a lockstep round of three engines is ~30 ms on a 2-core
CPU, and a probe can only start between rounds. The compare window needs its rate and its
share of training time to hold on average there (AveragedSchedule), where the single run's
ProbeSchedule rounds every wait up to the next round."""

from __future__ import annotations

import pytest

from engines.probe_schedule import AveragedSchedule, ProbeSchedule


def simulate(schedule, seconds: float, round_s: float, probe_s: float) -> tuple[float, float]:
    """(probes per second, share of time spent probing) when a probe may start only at the
    beginning of a round of ``round_s`` seconds and costs ``probe_s``."""
    now, probes, probing = 0.0, 0, 0.0
    while now < seconds:
        if schedule.due(now):
            schedule.record(now, now + probe_s)
            probes += 1
            probing += probe_s
            now += probe_s
        now += round_s
    return probes / now, probing / now


def test_rounds_of_30_ms_get_the_full_rate_on_average():
    # 15 Hz wanted, 3 ms probes within 6 %: the budget allows 20 a second.
    averaged, share = simulate(AveragedSchedule(15.0, 0.06), 20.0, 0.030, 0.003)
    plain, _ = simulate(ProbeSchedule(15.0, 0.06), 20.0, 0.030, 0.003)
    assert plain < 11.5  # every third round or later: what the compare window used to get
    assert 14.0 <= averaged <= 15.0
    assert share <= 0.06


def test_the_share_of_time_holds_on_average_where_it_binds():
    # 10 ms probes within 6 %, the rate no limit: 6 % of the time on average, where waits
    # rounded up to whole rounds leave less.
    averaged, share = simulate(AveragedSchedule(1000.0, 0.06), 30.0, 0.030, 0.010)
    assert 0.055 <= share <= 0.0605
    assert averaged == pytest.approx(share / 0.010)
    _, plain_share = simulate(ProbeSchedule(1000.0, 0.06), 30.0, 0.030, 0.010)
    assert plain_share < share - 0.003


def test_no_burst_after_a_pause():
    schedule = AveragedSchedule(15.0, 0.06)
    assert schedule.due(0.0)
    schedule.record(0.0, 0.003)
    assert not schedule.due(0.030)  # a round later: too soon for 15 Hz
    # Ten seconds without probes (paused): one probe, then the rate and budget again.
    assert schedule.due(10.0)
    schedule.record(10.0, 10.003)
    assert not schedule.due(10.004)
    assert not schedule.due(10.034)
    assert schedule.due(10.070)


def test_a_costly_probe_is_paid_back_before_the_next():
    schedule = AveragedSchedule(100.0, 0.05)
    schedule.record(0.0, 0.050)  # 50 ms: 1 s of training at 5 %
    assert not schedule.due(0.5)
    assert schedule.due(1.06)
