"""The arrival schedule: deterministic for a seed, and the simulator's own draws."""

from __future__ import annotations

import random

import simpy

from slolab.catalog import scenario as scenario_mod
from slolab.catalog import schema
from slolab.run import schedule
from slolab.sim import traffic as sim_traffic

LOGNORMAL = scenario_mod.TrafficProfile(
    rate_rps=5.0,
    prompt_tokens=schema.Distribution(distribution="lognormal", median=512, sigma=0.8, min=16, max=4096),
    output_tokens=schema.Distribution(distribution="uniform", low=32, high=256),
)


def plan(seed: str, duration_s: float | None = 60.0, max_requests: int | None = None) -> list[tuple]:
    arrivals = schedule.arrivals(
        LOGNORMAL, random.Random(seed), duration_s=duration_s, max_requests=max_requests
    )
    return [(a.index, a.offset_s, a.prompt_tokens, a.max_tokens) for a in arrivals]


def test_same_seed_gives_the_same_schedule_and_another_seed_does_not():
    assert plan("7:traffic:steady:0") == plan("7:traffic:steady:0")
    assert plan("7:traffic:steady:0") != plan("7:traffic:steady:1")


def test_the_schedule_is_the_simulators_for_the_same_seed():
    """sim/traffic.OpenLoop and schedule.arrivals draw the same gaps and lengths in the same order."""
    seed = schedule.traffic_seed(3, "steady", 0)
    env = simpy.Environment()
    env.run(until=12.5)  # the simulator's clock need not start at 0
    sent = []
    profile = LOGNORMAL.model_copy(update={"duration_s": 60.0})
    loop = sim_traffic.OpenLoop(
        env, "steady", profile, random.Random(seed), lambda req, _at: sent.append(req)
    )
    env.run(until=12.5 + 60.0 + 1.0)
    ours = schedule.arrivals(profile, random.Random(seed))
    pairs = list(zip(sent, ours, strict=True))
    assert len(pairs) > 200  # 5 req/s for 60 s
    for req, arrival in pairs:
        assert abs((req.arrival_s - loop.started_s) - arrival.offset_s) < 1e-9
        assert (req.prompt_tokens, req.max_tokens) == (arrival.prompt_tokens, arrival.max_tokens)


def test_duration_and_count_bound_the_schedule():
    by_time = plan("s", duration_s=10.0)
    assert by_time and by_time[-1][1] < 10.0
    assert len(plan("s", duration_s=None, max_requests=17)) == 17
    assert [p[0] for p in by_time] == list(range(len(by_time)))


def test_arrival_counts_are_poisson():
    """Over many seeds the count in 10 s at 5 req/s has mean 50 and variance 50 (within sampling error)."""
    counts = [len(plan(f"seed-{i}", duration_s=10.0)) for i in range(400)]
    mean = sum(counts) / len(counts)
    var = sum((c - mean) ** 2 for c in counts) / (len(counts) - 1)
    assert abs(mean - 50) < 4 * (50 / len(counts)) ** 0.5  # 4 standard errors of the mean
    assert 35 < var < 65  # the variance of a Poisson(50) count; its standard error here is ~3.6
