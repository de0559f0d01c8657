"""The canary-rollout lab's real grader on the fake backend: scripted runs, the right verdicts.

The grader's files (labs/canary-rollout/grader/conftest.py and test_*.py) are copied as they
are into a pytester folder whose root conftest.py opens a scripted FakeBackend instead of the
simulator (canaryrollout_support.py scripts the Rollout, its pods by image and its
AnalysisRuns). The good run passes every check; a canary that nothing judges fails the three
checks about the regressed version; an analysis that aborts everything fails the healthy
release's check; a run without enough load is Inconclusive, never a pass.

The other correct fixes of labs/canary-rollout/alternatives/ are graded on the simulator by the lab
contract (tests/test_lab_contract.py).
"""

from __future__ import annotations

import canaryrollout_support as support
import grading_support
import pytest

from slolab.catalog import lab as lab_mod


@pytest.fixture
def grade_case(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Grade canary-rollout on the scripted ``case``; the JSON report."""
    with grading_support.scripted_grading(
        pytester, monkeypatch, "canary-rollout", "canaryrollout_support"
    ) as grade_one:
        yield grade_one


checks = grading_support.checks
not_passed = grading_support.not_passed


def test_the_script_matches_the_grader_s_schedule() -> None:
    params = lab_mod.load("canary-rollout").grading.params
    assert params.baseline_s == support.BAD_S and params.every_s == 5
    assert params.bad_image == support.BAD and params.good_image == support.GOOD
    assert params.container == support.CONTAINER


def test_a_good_run_passes_every_check(grade_case) -> None:
    report = grade_case("good")
    assert not_passed(report) == {}
    got = checks(report)
    assert got["bad_abort_s"]["observed"] == support.COLD_S + 60  # aborted a minute after it served
    assert got["bad_abort_s"]["window_start_s"] == support.BAD_S
    assert got["bad_abort_s"]["window_end_s"] == support.BAD_END_S  # until the canary left
    assert got["bad_traffic_share_pct"]["observed"] == 25.0
    # every 80th request of 150 s at 12 req/s: 23 failures of a 108-request budget
    assert got["error_budget_spent_pct"]["observed"] == round(100 * 23 / 108, 1)
    assert got["good_promoted_s"]["observed"] == support.COLD_S + 440
    evidence = got["bad_abort_s"]["evidence"]
    assert evidence[0] == "aborted 165 s after the rollout started"
    assert "0% at 0 s, 25% at 105 s, 0% at 255 s" in evidence[1]
    assert any(line.startswith("AnalysisRun llm-bad-2-1: Failed") for line in evidence)
    assert any("[0.04] Failed" in line for line in evidence)


def test_a_canary_nothing_judges_fails_the_bad_version_s_checks(grade_case) -> None:
    report = grade_case("no-analysis")
    assert not_passed(report) == {
        "bad_abort_s": "failed",
        "bad_traffic_share_pct": "failed",
        "error_budget_spent_pct": "failed",
    }
    got = checks(report)
    params = lab_mod.load("canary-rollout").grading.params
    assert got["bad_abort_s"]["observed"] == params.bad_follow_s  # never aborted: the whole follow
    assert got["bad_abort_s"]["evidence"][0].startswith("never aborted: promoted to every pod 545 s")
    assert got["bad_traffic_share_pct"]["observed"] == 100.0
    assert any("no AnalysisRun: nothing judged the canary" in line for line in got["bad_abort_s"]["evidence"])


def test_aborting_every_release_fails_the_healthy_release_s_check(grade_case) -> None:
    report = grade_case("always-abort")
    assert not_passed(report) == {"good_promoted_s": "failed"}
    check = checks(report)["good_promoted_s"]
    assert check["observed"] == lab_mod.load("canary-rollout").grading.params.good_follow_s
    assert check["evidence"][0].startswith("not promoted 1500 s after the rollout started: Degraded")


def test_without_load_every_check_is_inconclusive(grade_case) -> None:
    report = grade_case("no-load")
    assert set(not_passed(report).values()) == {"inconclusive"}
    assert set(not_passed(report)) == set(lab_mod.load("canary-rollout").slos)
    assert report["passed"] is False
