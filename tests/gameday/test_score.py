"""Game-day scoring (slolab.gameday.score): error budget burned with Harness's bands, time to
recover after each injection, and the steady-state hypothesis.

Bands: Harness SLO dashboard (research/round2-autoscaling-canary-gameday.md §3.1, remaining
budget: Exhausted 0 %, Unhealthy 0-25 %, Need Attention 25-50 %, Observe 50-75 %, Healthy > 75 %).
Budget: Harness's SLO probe judges "the percentage change in the error budget … during the chaos
execution"; with a 99.5 % availability SLO, 1000 requests may have 5 failures.
"""

from __future__ import annotations

import itertools

import pytest

from slolab.gameday import plan, score

SLO = plan.Slo(availability_pct=99.5, ttft_p99_s=2.0)


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        (100.0, "Healthy"),
        (75.1, "Healthy"),
        (75.0, "Observe"),
        (50.0, "Need Attention"),
        (25.0, "Unhealthy"),
        (0.1, "Unhealthy"),
        (0.0, "Exhausted"),
        (-40.0, "Exhausted"),
    ],
)
def test_bands_are_harness_bands_of_the_budget_left(remaining: float, expected: str) -> None:
    assert score.band(remaining) == expected


def steady(
    duration_s: float, rate_rps: float, failed_at: set[int] = frozenset(), ttft_s: float = 0.2
) -> list:
    """One request every 1/rate s; the ones whose index is in ``failed_at`` fail."""
    n = int(duration_s * rate_rps)
    return [
        score.Sample(i / rate_rps, i not in failed_at, None if i in failed_at else ttft_s) for i in range(n)
    ]


def test_budget_burned_is_failures_over_what_the_slo_allows() -> None:
    # 1000 requests at 99.5 %: 5 may fail; 2 failed → 40 % burned, 60 % left, "Observe"
    s = score.score(steady(100, 10, {10, 500}), [], 100, SLO)
    assert (s.requests, s.failed) == (1000, 2)
    assert s.budget_burned_pct == pytest.approx(40.0)
    assert s.budget_remaining_pct == pytest.approx(60.0)
    assert s.band == "Observe"
    assert s.availability_pct == pytest.approx(99.8)
    assert s.hypothesis_held


def test_more_failures_than_the_budget_exhaust_it_and_break_the_hypothesis() -> None:
    s = score.score(steady(100, 10, set(range(100, 120))), [], 100, SLO)
    assert s.budget_burned_pct == pytest.approx(400.0)
    assert (s.budget_remaining_pct, s.band) == (0.0, "Exhausted")
    assert not s.availability_met
    assert not s.hypothesis_held
    # the burn-down ends at 0 and never rises
    left = [v for _, v in s.budget_left_at()]
    assert left[0] == 100.0 and left[-1] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(left))


def test_time_to_recover_runs_to_the_end_of_the_last_window_out_of_slo() -> None:
    # an injection at 100 s; every request in [100, 160) fails: windows [90,120), [120,150), [150,180)
    # are out of SLO, so the service is back within SLO at 180 s: 80 s after the injection
    reqs = steady(600, 10, {i for i in range(1000, 1600)})
    inj = score.Injection(100.0, plan.POD_KILL, "kill")
    s = score.score(reqs, [inj], 600, SLO)
    (r,) = s.recoveries
    assert r.recovered_s == pytest.approx(80.0)
    assert not r.slo_held
    assert r.peak_error_rate == 1.0


def test_an_injection_that_does_not_hurt_holds_the_slo() -> None:
    s = score.score(steady(600, 10), [score.Injection(100.0, plan.DRAIN, "drain")], 600, SLO)
    (r,) = s.recoveries
    assert (r.recovered_s, r.slo_held) == (0.0, True)


def test_still_out_of_slo_at_the_next_injection_is_not_recovered() -> None:
    reqs = steady(600, 10, {i for i in range(1000, 3000)})  # 100 s … 300 s fail
    injections = [
        score.Injection(100.0, plan.NODE_DOWN, "down"),
        score.Injection(250.0, plan.POD_KILL, "kill"),
    ]
    s = score.score(reqs, injections, 600, SLO)
    first, second = s.recoveries
    assert first.recovered_s is None
    assert second.recovered_s == pytest.approx(300.0 - 250.0)
    assert not s.hypothesis_held


def test_slow_first_tokens_count_against_the_window_and_the_run() -> None:
    # every request is served, but with a 3 s TTFT between 200 s and 260 s
    reqs = [score.Sample(i / 10, True, 3.0 if 2000 <= i < 2600 else 0.2) for i in range(6000)]
    s = score.score(reqs, [score.Injection(200.0, plan.NETWORK_DELAY, "delay")], 600, SLO)
    assert s.failed == 0 and s.budget_burned_pct == 0.0
    (r,) = s.recoveries
    # windows [180, 210), [210, 240), [240, 270) are slow: back within SLO at 270 s
    assert r.recovered_s == pytest.approx(70.0)
    assert r.peak_ttft_p99_s == pytest.approx(3.0)
    assert s.ttft_met is False  # 10 % of the run's requests were slow: the run's p99 is 3 s
    assert not s.hypothesis_held


def test_no_requests_is_never_a_pass() -> None:
    s = score.score([], [], 600, SLO)
    assert not s.availability_met and not s.ttft_met and not s.hypothesis_held


def test_a_stream_cut_by_the_next_injection_counts_against_that_one() -> None:
    # a kill at 100 s hurts [100, 130); a node lost at 300 s cuts 40 streams that arrived in
    # [290, 300) at 300 s: those failures are the node loss's, so the kill recovered at 150 s
    reqs = [
        score.Sample(
            i / 10, not (1000 <= i < 1300 or 2900 <= i < 3000), 0.2, 300.0 if 2900 <= i < 3000 else None
        )
        for i in range(6000)
    ]
    kill, lost = score.Injection(100.0, plan.POD_KILL, "kill"), score.Injection(300.0, plan.NODE_DOWN, "lost")
    s = score.score(reqs, [kill, lost], 600, SLO)
    assert [r.recovered_s for r in s.recoveries] == [pytest.approx(50.0), pytest.approx(30.0)]
