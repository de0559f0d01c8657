"""A traffic rate that changes over time: the profile's rate curve and the non-homogeneous
Poisson schedule drawn from it (run/schedule.py)."""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from pathlib import Path

import numpy
import pytest
import simpy

from slolab import errors
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import schema, yamlfile
from slolab.run import schedule
from slolab.sim import traffic as sim_traffic

PROMPT = schema.Distribution(distribution="lognormal", median=512, sigma=0.8, min=16, max=4096)
OUTPUT = schema.Distribution(distribution="uniform", low=32, high=256)
# base, a ramp to 3x, a plateau, a drop back to base: the shape of chat-ramp, shortened
RAMP = [
    {"at_s": 0, "factor": 1},
    {"at_s": 20, "factor": 1},
    {"at_s": 50, "factor": 3},
    {"at_s": 80, "factor": 3},
    {"at_s": 90, "factor": 1},
]


def profile(curve: list[dict] | None = RAMP, rate_rps: float = 2.0, **more) -> scenario_mod.TrafficProfile:
    return scenario_mod.TrafficProfile(
        rate_rps=rate_rps, rate_curve=curve, prompt_tokens=PROMPT, output_tokens=OUTPUT, **more
    )


def offsets(p: scenario_mod.TrafficProfile, seed: str, duration_s: float | None = 120.0) -> numpy.ndarray:
    return numpy.array([a.offset_s for a in schedule.arrivals(p, random.Random(seed), duration_s=duration_s)])


# -- the profile -----------------------------------------------------------------------------


def test_rate_at_is_linear_between_points_and_held_after_the_last():
    p = profile()
    assert [p.rate_at(t) for t in (0, 10, 20, 35, 50, 80, 85, 90, 1e6)] == [2, 2, 2, 4, 6, 6, 4, 2, 2]
    assert p.peak_rps == 6
    assert profile(None).rate_at(123.0) == profile(None).peak_rps == 2


def test_expected_requests_is_the_area_under_the_rate():
    p = profile()
    # 20 s at 2, ramp 2→6 over 30 s (120), 30 s at 6, drop 6→2 over 10 s (40), then 2 per s
    assert p.cumulative_requests(20) == pytest.approx(40)
    assert p.cumulative_requests(50) == pytest.approx(160)
    assert p.cumulative_requests(90) == pytest.approx(380)
    assert p.expected_requests(90, 120) == pytest.approx(60)
    assert p.expected_requests(35, 40) == pytest.approx(
        sum(p.rate_at(35 + i / 1000) for i in range(5000)) / 1000, rel=1e-3
    )
    assert profile(None).expected_requests(3, 13) == pytest.approx(20)


def test_inverse_undoes_the_cumulative_intensity():
    p = profile(
        [
            {"at_s": 0, "factor": 0},
            {"at_s": 10, "factor": 2},
            {"at_s": 30, "factor": 0.5},
            {"at_s": 40, "factor": 0.5},
        ]
    )
    warp = schedule.RateCurve(p)
    levels = numpy.linspace(0.001, p.cumulative_requests(200), 997)
    times = warp.inverse(levels)
    assert numpy.all(numpy.diff(times) > 0)
    assert [p.cumulative_requests(t) for t in times] == pytest.approx(levels.tolist(), rel=1e-9, abs=1e-9)


def test_a_curve_that_ends_at_zero_ends_the_schedule():
    p = profile([{"at_s": 0, "factor": 1}, {"at_s": 30, "factor": 1}, {"at_s": 40, "factor": 0}])
    got = offsets(p, "end", duration_s=None)
    assert got.size and got[-1] <= 40.0
    # a gap in the middle is a stretch without arrivals, not an end
    gap = profile(
        [
            {"at_s": 0, "factor": 1},
            {"at_s": 10, "factor": 0},
            {"at_s": 30, "factor": 0},
            {"at_s": 31, "factor": 1},
        ]
    )
    got = offsets(gap, "gap", duration_s=60.0)
    assert not numpy.any((got > 10.0) & (got < 30.0))
    assert numpy.any(got > 31.0)


# -- the schedule ----------------------------------------------------------------------------


def test_without_a_curve_the_schedule_is_the_one_drawn_before_curves_existed():
    """Bit for bit: the digest was taken from run/schedule.py before rate_curve was added."""
    digest = hashlib.sha256()
    got = schedule.arrivals(
        profile(None, rate_rps=5.0), random.Random("7:traffic:steady:0"), duration_s=600.0
    )
    count = 0
    for a in got:
        digest.update(f"{a.index} {a.offset_s!r} {a.prompt_tokens} {a.max_tokens}\n".encode())
        count += 1
    assert count == 3038
    assert digest.hexdigest() == "6730c1cd9571819c8eb930ce2f4fe773d67afbfea2e91ab19bbfe34dd8cf5bc7"


def test_same_seed_same_schedule_and_offsets_increase():
    p = profile()
    first, again, other = offsets(p, "a"), offsets(p, "a"), offsets(p, "b")
    assert numpy.array_equal(first, again)
    assert not numpy.array_equal(first, other)
    assert numpy.all(numpy.diff(first) > 0) and first[0] >= 0 and first[-1] < 120.0


def test_lengths_do_not_depend_on_the_curve():
    """The curve warps the gaps only: the n-th request has the same lengths as without it."""
    seed = "lengths"
    flat = list(schedule.arrivals(profile(None), random.Random(seed), max_requests=300))
    curved = list(schedule.arrivals(profile(), random.Random(seed), max_requests=300))
    assert [(a.prompt_tokens, a.max_tokens) for a in flat] == [
        (a.prompt_tokens, a.max_tokens) for a in curved
    ]


def test_counts_per_window_follow_the_integral_of_the_rate():
    """Counts in disjoint windows of a Poisson process are independent Poisson variables whose
    mean is the integral of the rate over the window, so over RUNS runs the total in a window
    of mean m has mean and variance RUNS·m. Each window's z-score must lie within ±Z; for 12
    windows the chance that a correct schedule fails is below 12·P(|N(0,1)| > 4.5) ≈ 8e-5.
    Seeds are fixed, so the outcome is the same on every run."""
    runs, z_bound, window_s = 300, 4.5, 10.0
    p = profile()
    edges = numpy.arange(0.0, 120.0 + window_s, window_s)
    totals = numpy.zeros(len(edges) - 1)
    per_run = []
    for i in range(runs):
        counts, _ = numpy.histogram(offsets(p, f"window:{i}"), bins=edges)
        totals += counts
        per_run.append(counts)
    expected = numpy.array([runs * p.expected_requests(a, b) for a, b in itertools.pairwise(edges)])
    z = (totals - expected) / numpy.sqrt(expected)
    assert numpy.all(numpy.abs(z) < z_bound), list(zip(edges.tolist(), z.round(2).tolist(), strict=False))
    # Poisson, not just the right mean: the variance across runs equals the mean. The sample
    # variance of RUNS Poisson(m) counts has standard deviation about sqrt(2m²/(RUNS-1) + m/RUNS).
    plateau = numpy.array(per_run)[:, 6]  # 60-70 s, rate 6: m = 60
    m = p.expected_requests(60.0, 70.0)
    sd = math.sqrt(2 * m * m / (runs - 1) + m / runs)
    assert abs(plateau.var(ddof=1) - m) < z_bound * sd


def test_a_flat_curve_draws_the_same_process_as_no_curve():
    """factor 1 everywhere is the constant rate: same mean count (Poisson bound as above)."""
    runs = 200
    flat = profile([{"at_s": 0, "factor": 1}], rate_rps=3.0)
    total = sum(offsets(flat, f"flat:{i}", duration_s=20.0).size for i in range(runs))
    expected = runs * 3.0 * 20.0
    assert abs(total - expected) < 4.5 * math.sqrt(expected)


def test_the_simulator_sends_the_curve_schedule():
    """sim/traffic.OpenLoop takes the same curve schedule as the real generator."""
    p = profile(duration_s=120.0)
    seed = schedule.traffic_seed(3, "ramp", 0)
    env = simpy.Environment()
    env.run(until=7.0)
    sent = []
    loop = sim_traffic.OpenLoop(env, "ramp", p, random.Random(seed), lambda req, _at: sent.append(req))
    env.run(until=7.0 + 121.0)
    ours = list(schedule.arrivals(p, random.Random(seed)))
    assert len(sent) == len(ours) > 300
    assert [r.arrival_s - loop.started_s for r in sent] == pytest.approx([a.offset_s for a in ours], abs=1e-9)
    assert loop.stopped_s == pytest.approx(7.0 + 120.0)


# -- validation ------------------------------------------------------------------------------


def scenario_problems(tmp_path: Path, curve_yaml: str) -> list[errors.Problem]:
    text = f"""name: demo
title: t
description: d
model: {{preset: llama-3.1-8b-h100, served_model_name: m, load_time_s: {{distribution: constant, value: 1}}}}
topology: {{pools: []}}
traffic:
  ramp:
    rate_rps: 2
    rate_curve: {curve_yaml}
    prompt_tokens: {{distribution: constant, value: 10}}
    output_tokens: {{distribution: constant, value: 10}}
"""
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(errors.CatalogError) as info:
        schema.validate(
            scenario_mod.Scenario, yamlfile.load_one(path, "scenarios/demo/scenario.yaml"), "scenario"
        )
    return info.value.problems


@pytest.mark.parametrize(
    ("curve", "field", "expected"),
    [
        (
            "[{at_s: 5, factor: 1}]",
            "traffic.ramp.rate_curve",
            "rate_curve[0].at_s must be 0, the run start (got 5)",
        ),
        (
            "[{at_s: 0, factor: 1}, {at_s: 60, factor: 3}, {at_s: 60, factor: 1}]",
            "traffic.ramp.rate_curve",
            "rate_curve[2].at_s (60) must be after rate_curve[1].at_s (60)",
        ),
        ("[{at_s: 0, factor: 0}]", "traffic.ramp.rate_curve", "every factor is 0"),
        ("[{at_s: 0, factor: -1}]", "traffic.ramp.rate_curve[0].factor", "greater than or equal to 0"),
        ("[{at_s: 0, factr: 1}]", "traffic.ramp.rate_curve[0].factr", ""),
        ("[]", "traffic.ramp.rate_curve", ""),
    ],
    ids=["first-not-0", "not-increasing", "all-zero", "negative-factor", "unknown-field", "empty"],
)
def test_a_bad_curve_names_the_file_and_field(tmp_path: Path, curve: str, field: str, expected: str):
    problems = scenario_problems(tmp_path, curve)
    assert [p.file for p in problems] == ["scenarios/demo/scenario.yaml"] * len(problems)
    match = [p for p in problems if p.field == field]
    assert match, [(p.field, p.message) for p in problems]
    assert expected in match[0].message
    assert match[0].line is not None
