"""The readiness-probes lab's real grader on the fake backend: scripted runs, the right verdicts.

The grader's files (labs/readiness-probes/grader/conftest.py and test_*.py) are copied as they
are into a pytester folder whose root conftest.py opens a scripted FakeBackend instead of the
simulator (grading_support.py scripts the runs). The good run passes every check; each bad run
changes one thing and must fail exactly the check about it, with evidence; a run without
enough load is Inconclusive, never a pass.
"""

from __future__ import annotations

import grading_support
import pytest

from slolab.catalog import lab as lab_mod


@pytest.fixture
def grade(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Grade readiness-probes on the scripted ``case``; the JSON report."""
    with grading_support.scripted_grading(
        pytester, monkeypatch, "readiness-probes", "grading_support", "readiness_backend"
    ) as grade_one:
        yield grade_one


checks = grading_support.checks
not_passed = grading_support.not_passed


def test_the_scripted_deployment_serves_from_warm_s() -> None:
    backend = grading_support.readiness_backend(lab_mod.load("readiness-probes"), "good")
    assert backend.cluster.get("Deployment", "llm")["status"]["availableReplicas"] == 0
    backend.clock.t_s = grading_support.WARM_S
    assert backend.cluster.get("Deployment", "llm")["status"]["availableReplicas"] == 3


def test_a_good_run_passes_every_check(grade) -> None:
    report = grade("good")
    assert not_passed(report) == {}
    got = checks(report)
    assert got["failed_requests"]["observed"] == 0 and got["container_restarts"]["observed"] == 0
    assert got["ready_after_load_s"]["observed"] == 6.0  # Ready 96 s after creation, load 90 s
    assert got["ttft_p99_ratio"]["observed"] == 1.0
    events = {(e["kind"], e["reason"], e["time_s"]) for e in report["events"]}
    assert ("Grader", "RolloutRestart", grading_support.RESTART_S) in events, "script and grader disagree"
    update = got["failed_requests"]
    # the update window: from the restart until the last new pod served (343 s) + tail 30 s
    assert (update["window_start_s"], update["window_end_s"]) == (186.0, 373.0)


def test_failed_requests_fail_their_check_only(grade) -> None:
    report = grade("failed-requests")
    assert not_passed(report) == {"failed_requests": "failed"}
    check = checks(report)["failed_requests"]
    assert check["observed"] == 50
    assert check["evidence"][0] == "50 of 935 requests failed: 50 × HTTP 503"
    assert check["evidence"][1] == "first failure at 290 s, last at 300 s"


def test_a_container_restart_fails_its_check_only(grade) -> None:
    report = grade("restart")
    assert not_passed(report) == {"container_restarts": "failed"}
    check = checks(report)["container_restarts"]
    assert check["observed"] == 1 and check["evidence"] == ["a: 1 restarts; Container restarted"]


def test_a_pod_ready_late_fails_its_check_only(grade) -> None:
    report = grade("slow-ready")
    assert not_passed(report) == {"ready_after_load_s": "failed"}
    check = checks(report)["ready_after_load_s"]
    assert check["observed"] == 41.0  # Ready 40 s after its load + 1 s to start
    assert "e: Ready 131 s after creation, model load 90 s" in check["evidence"]


def test_pods_that_never_serve_fail_the_ready_check(grade) -> None:
    report = grade("never-serving")
    assert not_passed(report) == {"ready_after_load_s": "failed"}
    check = checks(report)["ready_after_load_s"]
    # the rollout never completes: the wait gives up after rollout_timeout_s (600 s), + tail 30 s
    assert check["window_end_s"] == grading_support.RESTART_S + 600 + 30
    assert check["evidence"] == [f"{p}: never Ready while serving (0 restarts)" for p in "def"]


def test_a_ttft_spike_during_the_update_fails_its_check_only(grade) -> None:
    report = grade("ttft-spike")
    assert not_passed(report) == {"ttft_p99_ratio": "failed"}
    assert checks(report)["ttft_p99_ratio"]["observed"] == 3.0


def test_too_little_load_is_inconclusive_never_a_pass(grade) -> None:
    report = grade("no-load")
    assert not_passed(report) == {"failed_requests": "inconclusive", "ttft_p99_ratio": "inconclusive"}
    assert report["passed"] is False
