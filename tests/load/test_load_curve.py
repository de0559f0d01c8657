"""The real load generator sends a rate curve: a short ramp against the reference server on
127.0.0.1, its achieved rate per window against the integral of the profile's rate.

Bounded: 6 s of arrivals (at most ~250 requests) and a 30 s wait, the child killed in ``finally``.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from slolab.catalog import scenario as scenario_mod
from slolab.load import process
from slolab.run import schedule

# Wall-clock measurements on a shared 2-core machine: a CPU stall elsewhere can spoil one run.
# A failure must repeat in three runs to count (pytest-rerunfailures).
pytestmark = [pytest.mark.wallclock, pytest.mark.flaky(reruns=2)]

# 20 req/s, a ramp to 60 over 1 s, 2 s at 60, back to 20 over 1 s, then 20 again
CURVE = [
    {"at_s": 0, "factor": 1},
    {"at_s": 1, "factor": 1},
    {"at_s": 2, "factor": 3},
    {"at_s": 4, "factor": 3},
    {"at_s": 5, "factor": 1},
]
DURATION_S = 6.0
WINDOW_S = 1.0


def test_the_generator_sends_the_rate_curve(ref_server, traffic):
    server = ref_server(ttft_s=0.02, itl_s=0.005)
    profile = traffic(20.0, output_tokens=4).model_copy(
        update={"rate_curve": [scenario_mod.RatePoint(**p) for p in CURVE]}
    )
    seed = "curve-seed"
    gen = process.Generator(
        server.url, "ref", profile, seed, duration_s=DURATION_S, max_requests=1000, run_id="c"
    )
    try:
        gen.start()
        assert gen.wait(30.0), "the generator did not end within 30 s"
        out = gen.stop(drain_s=2.0)
    finally:
        gen.kill()
    plan = list(schedule.arrivals(profile, random.Random(seed), duration_s=DURATION_S))
    recs = sorted(out.records, key=lambda r: r.id)

    # it sent the curve's schedule, all of it, and every request succeeded
    assert [(r.id, r.scheduled_s) for r in recs] == [(a.index, round(a.offset_s, 6)) for a in plan]
    assert {r.status for r in recs} == {200}
    lags = [r.arrival_s - r.scheduled_s for r in recs]
    assert min(lags) >= 0 and statistics.median(lags) < 0.002 and max(lags) < 0.05

    # achieved rate per window follows the integral of the rate: Poisson, so within ±4.5σ of
    # the window's mean count (σ = √mean), plus the few arrivals a late send moves across an edge
    edges = [i * WINDOW_S for i in range(int(DURATION_S / WINDOW_S) + 1)]
    for start_s, end_s in itertools.pairwise(edges):
        sent = {r.id for r in recs if start_s <= r.arrival_s < end_s}
        planned = {r.id for r in recs if start_s <= r.scheduled_s < end_s}
        mean = profile.expected_requests(start_s, end_s)
        slack = len(sent ^ planned)
        assert abs(len(sent) - mean) <= 4.5 * math.sqrt(mean) + slack, (start_s, end_s, len(sent), mean)

    # and the shape shows: the plateau windows carry about three times the base windows
    def count(a: float, b: float) -> int:
        return sum(1 for r in recs if a <= r.arrival_s < b)

    assert count(2.0, 4.0) > 2 * count(0.0, 1.0) + count(5.0, 6.0)
