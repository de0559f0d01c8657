"""grading.ratecurve: a rate curve's phases named by what the rate does, and their windows."""

from __future__ import annotations

import math

import pytest

from slolab.catalog import scenario as scenario_mod
from slolab.grading import ratecurve
from slolab.load import requestlog


def profile(points, rate_rps=2.0):
    curve = None if points is None else [scenario_mod.RatePoint(at_s=a, factor=f) for a, f in points]
    return scenario_mod.TrafficProfile(
        rate_rps=rate_rps,
        rate_curve=curve,
        prompt_tokens={"distribution": "constant", "value": 100},
        output_tokens={"distribution": "constant", "value": 10},
    )


def names(found):
    return [(p.name, p.start_s, p.end_s) for p in found]


def test_base_ramp_plateau_drop_after() -> None:
    found = ratecurve.phases(profile([(0, 1), (120, 1), (300, 3), (780, 3), (840, 1)]))
    assert names(found) == [
        ("base", 0, 120),
        ("ramp", 120, 300),
        ("plateau", 300, 780),
        ("drop", 780, 840),
        ("after", 840, math.inf),
    ]


def test_neighbours_of_one_kind_merge_and_a_lower_hold_is_not_the_plateau() -> None:
    # two rises with a hold between them, a plateau, two falls with a hold at 2× between them
    found = ratecurve.phases(
        profile([(0, 1), (60, 2), (120, 2), (180, 3), (240, 3), (300, 2), (360, 2), (420, 1)])
    )
    assert [p.name for p in found] == ["ramp", "hold", "ramp", "plateau", "drop", "hold", "drop", "after"]


def test_no_curve_is_one_base_phase_and_a_rise_without_a_fall_ends_on_its_plateau() -> None:
    assert names(ratecurve.phases(profile(None))) == [("base", 0, math.inf)]
    assert [p.name for p in ratecurve.phases(profile([(0, 1), (100, 2)]))] == ["ramp", "plateau"]


def test_find_span_and_windows_in_run_seconds() -> None:
    found = ratecurve.phases(profile([(0, 1), (120, 1), (300, 3), (780, 3), (840, 1)]))
    peak = ratecurve.span(found, ratecurve.RAMP, ratecurve.PLATEAU)
    assert (peak.start_s, peak.end_s) == (120, 780)
    window = ratecurve.at(peak, 100.0, 2000.0, "ramp and plateau")
    assert (window.name, window.start_s, window.end_s) == ("ramp and plateau", 220.0, 880.0)
    after = ratecurve.at(ratecurve.find(found, "after"), 100.0, 1500.0)
    assert (after.start_s, after.end_s) == (940.0, 1500.0)  # the open end is cut at the stop
    with pytest.raises(ValueError, match="no drop phase; its phases are base"):
        ratecurve.find(ratecurve.phases(profile(None)), ratecurve.DROP)


def test_expected_requests_is_the_integral_of_the_curve_from_the_load_start() -> None:
    p = profile([(0, 1), (100, 1), (200, 3)], rate_rps=2.0)
    # load started at run second 50: the window [50, 150) is 100 s of the base at 2 req/s
    assert ratecurve.expected_requests(p, requestlog.Window("w", 50, 150), 50.0) == pytest.approx(200.0)
    # [150, 250) is the ramp from 1× to 3×: a mean of 2× = 4 req/s for 100 s
    assert ratecurve.expected_requests(p, requestlog.Window("w", 150, 250), 50.0) == pytest.approx(400.0)
    # [250, 300): held at 3× = 6 req/s after the last point
    assert ratecurve.expected_requests(p, requestlog.Window("w", 250, 300), 50.0) == pytest.approx(300.0)
