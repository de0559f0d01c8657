"""The chaos-pod-kill lab's real grader on the fake backend: scripted runs, the right verdicts.

The grader's files (labs/chaos-pod-kill/grader/conftest.py and test_*.py) are copied as they
are into a pytester folder whose root conftest.py opens a scripted FakeBackend instead of the
simulator (chaospodkill_support.py scripts the runs). The good run passes every check; each bad
run changes one thing and must fail exactly the check about it, with evidence; a run without
enough load is Inconclusive, never a pass. The chaos itself is checked against Chaos Mesh's CRD
in tests/kube/test_chaos_pod_kill_platform.py. The other correct fixes of
labs/chaos-pod-kill/alternatives/ are graded on the simulator by the lab contract
(tests/test_lab_contract.py).
"""

from __future__ import annotations

import chaospodkill_support
import grading_support
import pytest


@pytest.fixture
def grade_case(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Grade chaos-pod-kill on the scripted ``case``; the JSON report."""
    with grading_support.scripted_grading(
        pytester, monkeypatch, "chaos-pod-kill", "chaospodkill_support"
    ) as grade_one:
        yield grade_one


checks = grading_support.checks
not_passed = grading_support.not_passed


def test_a_good_run_passes_every_check(grade_case) -> None:
    report = grade_case("good")
    assert not_passed(report) == {}
    got = checks(report)
    assert got["failed_pct"]["observed"] == 0.0
    assert got["drain_capacity_pct"]["observed"] == 66.7  # a evicted: b, c of three; then d, c
    assert got["ttft_p99_s"]["observed"] == 0.3
    drain = got["drain_streams_cut"]
    # from the drain until its pods are replaced: e, b's replacement, serves 96 s after b's eviction
    assert (drain["window_start_s"], drain["window_end_s"]) == (
        chaospodkill_support.CHAOS_S,
        chaospodkill_support.DRAIN_END_S - 4 + chaospodkill_support.SERVE_AFTER_S,
    )
    events = {(e["kind"], e["reason"], e["time_s"]) for e in report["events"]}
    assert ("Grader", "Applied", chaospodkill_support.CHAOS_S) in events, "script and grader disagree"


def test_the_run_goes_through_the_cluster_protocol_only(grade_case) -> None:
    """apply, drain, uncordon and delete of slolab.backends.base.Cluster, in that order: the
    Schedule applied and the drain started at the chaos's start, the node uncordoned when the
    drain ended, the Schedule deleted when the load ends (on kind, the pod kills stop)."""
    report = grade_case("good")
    got = [(e["kind"], e["name"], e["reason"], e["time_s"]) for e in report["events"]]
    grader = [g for g in got if g[0] in ("Grader", "Node")]
    drain_seen = chaospodkill_support.DRAIN_END_S  # the first poll at or after the drain's end
    assert grader == [
        ("Grader", "llm-pod-kill", "Applied", chaospodkill_support.CHAOS_S),
        ("Grader", "slolab-worker2", "Drain", chaospodkill_support.CHAOS_S),
        ("Node", "slolab-worker2", "NodeSchedulable", drain_seen),
        ("Grader", "llm-pod-kill", "Deleted", chaospodkill_support.END_S),
    ]


@pytest.mark.parametrize("case", [c for c in chaospodkill_support.CASES if c != "good"])
def test_each_bad_run_fails_its_check_only(grade_case, case) -> None:
    report = grade_case(case)
    assert set(not_passed(report)) == chaospodkill_support.CASES[case]
    for check in chaospodkill_support.CASES[case]:
        assert checks(report)[check]["evidence"], f"{check} failed without evidence"


def test_the_evidence_names_the_drained_pods(grade_case) -> None:
    report = grade_case("stream-cut")
    cut = checks(report)["drain_streams_cut"]
    assert cut["observed"] == 8
    assert cut["evidence"][0] == "kubectl drain slolab-worker2: evicted a, b"


def test_a_drain_that_does_not_complete_says_so(grade_case) -> None:
    report = grade_case("drain-timeout")
    assert (
        checks(report)["drain_capacity_pct"]["evidence"][0] == "the drain of slolab-worker2 did not complete"
    )


def test_too_little_load_is_inconclusive(grade_case) -> None:
    report = grade_case("no-load")
    assert not_passed(report)["failed_pct"] == "inconclusive"
    assert not_passed(report)["ttft_p99_s"] == "inconclusive"
