"""Verdicts without a pytest run: judging, Inconclusive, require_load, and the tally of a grade."""

from __future__ import annotations

import json
import math

import pytest

from slolab.backends import fake
from slolab.catalog import lab as lab_mod
from slolab.grading import verdict as verdict_mod
from slolab.load import requestlog

SLOS = {
    "failed_requests": lab_mod.Slo(
        title="No request failed", objective="max", target=0.0, unit="requests",
        window="the rolling update", hint="Look at the readiness probe.",
    ),
    "ttft_p99": lab_mod.Slo(
        title="p99 TTFT", objective="max", target=2.0, unit="s", window="steady load", hint="Queue depth?"
    ),
    "ready_fraction": lab_mod.Slo(
        title="Pods ready", objective="min", target=0.5, window="after the rollout", hint="Probes?"
    ),
}  # fmt: skip
ROLLOUT = requestlog.Window("rolling update", 150, 420)


@pytest.fixture
def judged() -> list[verdict_mod.Check]:
    return []


def make(judged: list[verdict_mod.Check], covers: tuple[str, ...] = ()) -> verdict_mod.Verdict:
    return verdict_mod.Verdict(SLOS, test="test_x.py::test_x", covers=covers, record=judged.append)


@pytest.mark.parametrize(
    ("value", "text"),
    [(37, "37"), (37.0, "37"), (812.34, "812"), (12.345, "12.3"), (1.2345, "1.23"), (0.00512, "0.00512")],
)
def test_format_number(value: float, text: str) -> None:
    assert verdict_mod.format_number(value) == text


def test_a_met_objective_passes_and_is_recorded(judged: list[verdict_mod.Check]) -> None:
    check = make(judged)("ready_fraction", 0.75, window=ROLLOUT)
    assert check.status == "passed" and check.hint is None and judged == [check]
    assert (check.window, check.window_start_s, check.window_end_s) == (
        "rolling update [150 s, 420 s)",
        150,
        420,
    )
    key, value = verdict_mod.to_property(check)
    assert key == "slolab_check" and json.loads(value)["observed_text"] == "0.75"


def test_a_missed_objective_fails_with_summary_then_evidence(judged: list[verdict_mod.Check]) -> None:
    with pytest.raises(verdict_mod.Judged) as info:
        make(judged)(
            "failed_requests", 37, window=ROLLOUT, evidence="37 of 540 requests failed\nall HTTP 503"
        )
    assert str(info.value.msg).splitlines() == [
        "failed_requests: observed 37 requests, expected ≤ 0 requests over rolling update [150 s, 420 s)",
        "  37 of 540 requests failed",
        "  all HTTP 503",
    ]
    assert info.value.status == "failed" and not info.value.pytrace
    (check,) = judged
    assert check.status == "failed" and check.observed == 37 and check.hint == "Look at the readiness probe."
    assert check.evidence == ["37 of 540 requests failed", "all HTTP 503"]


@pytest.mark.parametrize("observed", [None, math.nan])
def test_no_data_is_inconclusive_never_a_pass(
    judged: list[verdict_mod.Check], observed: float | None
) -> None:
    with pytest.raises(
        verdict_mod.Judged, match="Inconclusive over steady load: no data — no data is never a pass"
    ):
        make(judged)("ttft_p99", observed, window="steady load")
    assert judged[0].status == "inconclusive" and judged[0].observed_text == "no data"
    assert judged[0].window_start_s is None


def test_an_unknown_check_is_an_error_naming_the_slos(judged: list[verdict_mod.Check]) -> None:
    with pytest.raises(
        pytest.fail.Exception, match=r"lab\.yaml's slos are failed_requests, ready_fraction, ttft_p99"
    ) as info:
        make(judged)("ttft_p50", 1.0, window=ROLLOUT)
    assert not isinstance(info.value, verdict_mod.Judged) and judged == []


def test_observed_must_be_a_number(judged: list[verdict_mod.Check]) -> None:
    with pytest.raises(TypeError, match="observed must be a number or None, got str '3'"):
        make(judged)("ttft_p99", "3", window=ROLLOUT)


def _log(
    rate_rps: float, start_s: float, end_s: float, asked_rps: float | None = 2.0
) -> requestlog.RequestLog:
    reqs = fake.steady(rate_rps=rate_rps, start_s=start_s, end_s=end_s)
    return requestlog.RequestLog(reqs, profile="steady", rate_rps=asked_rps, started_s=0, stopped_s=600)


def test_require_load_returns_the_window_when_the_load_ran(judged: list[verdict_mod.Check]) -> None:
    part = make(judged).require_load(_log(2.0, 0, 600), window=ROLLOUT)
    assert len(part) == 540 and judged == []


def test_require_load_is_inconclusive_for_the_tests_checks(judged: list[verdict_mod.Check]) -> None:
    with pytest.raises(verdict_mod.Judged) as info:
        make(judged, covers=("ttft_p99",)).require_load(_log(2.0, 0, 600), window=ROLLOUT, min_requests=1000)
    assert info.value.recorded and info.value.status == "inconclusive"
    (check,) = judged
    assert check.id == "ttft_p99" and check.evidence[0] == (
        "only 540 requests arrived in the window; at least 1000 are needed — "
        "no latency SLO is judged without proof that the load ran"
    )


def test_require_load_checks_the_achieved_rate(judged: list[verdict_mod.Check]) -> None:
    log = _log(2.0, 0, 200)  # the load stopped sending at 200 s
    with pytest.raises(verdict_mod.Judged, match=r"achieved 0\.37 req/s, 19% of the 2 req/s asked"):
        make(judged).require_load(log, window=ROLLOUT, min_requests=10, checks="ttft_p99")
    assert [c.id for c in judged] == ["ttft_p99"]


def test_require_load_on_a_curve_compares_the_count_with_the_expected_one(
    judged: list[verdict_mod.Check],
) -> None:
    log = _log(2.0, 0, 600)  # 540 requests in ROLLOUT at 2 req/s, the base rate asked
    assert len(make(judged).require_load(log, window=ROLLOUT, expected=590.0)) == 540  # 92% of 590
    with pytest.raises(verdict_mod.Judged) as info:  # a curve that sent three times the base there
        make(judged).require_load(log, window=ROLLOUT, expected=1620.0, checks="ttft_p99")
    (check,) = judged
    assert check.evidence[0].startswith(
        "540 requests arrived, 33% of the 1620 the profile's rate curve sends in the window; "
        "at least 90% is needed"
    )
    assert check.evidence[-1].endswith("; the rate curve sends 1620 on average")
    assert info.value.status == "inconclusive"


def test_require_load_without_checks_is_left_to_the_tally(judged: list[verdict_mod.Check]) -> None:
    with pytest.raises(verdict_mod.Judged) as info:
        make(judged).require_load(_log(0.1, 0, 600), window=ROLLOUT)
    assert not info.value.recorded and judged == []


def _check(check_id: str, status: str) -> verdict_mod.Check:
    return verdict_mod.Check(id=check_id, title=SLOS[check_id].title, status=status)


def test_tally_has_every_check_once_in_lab_order() -> None:
    judgements = [_check("ttft_p99", "passed"), _check("ttft_p99", "failed"), _check("ttft_p99", "passed")]
    rows = verdict_mod.tally(SLOS, judgements, [])
    assert [(r.id, r.status) for r in rows] == [
        ("failed_requests", "not run"),
        ("ttft_p99", "failed"),
        ("ready_fraction", "not run"),
    ]
    assert rows[0].evidence == ["no grader test judged this check"] and rows[0].window == "the rolling update"


def test_tally_gives_errors_to_the_checks_they_kept_from_being_judged() -> None:
    outcomes = [
        verdict_mod.Outcome("t::skip", (), "not run", ("skipped: later",)),
        verdict_mod.Outcome("t::a", ("failed_requests",), "error", ("KeyError: 'x'",)),
        verdict_mod.Outcome("t::b", (), "error", ("grader could not be collected",)),
    ]
    rows = verdict_mod.tally(SLOS, [_check("ttft_p99", "passed")], outcomes)
    assert [(r.id, r.status) for r in rows] == [
        ("failed_requests", "error"),
        ("ttft_p99", "passed"),
        ("ready_fraction", "error"),
    ]
    assert rows[0].evidence == ["KeyError: 'x'"] and rows[2].evidence == ["grader could not be collected"]
    assert rows[0].test == "t::a"


def test_tally_reports_a_skip_as_not_run_with_its_reason() -> None:
    outcomes = [verdict_mod.Outcome("t::skip", ("ready_fraction",), "not run", ("skipped: needs kind",))]
    rows = verdict_mod.tally(SLOS, [], outcomes)
    assert (rows[2].status, rows[2].evidence) == ("not run", ["skipped: needs kind"])
