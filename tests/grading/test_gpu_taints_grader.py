"""The gpu-taints lab's real grader on the fake backend: scripted runs, the right verdicts.

The grader's files (labs/gpu-taints/grader/conftest.py and test_*.py) are copied as they are
into a pytester folder whose root conftest.py opens a scripted FakeBackend instead of the
simulator (gputaints_support.py scripts the runs). The good run passes every check; each bad
run changes one thing and must fail exactly the check about it, with evidence that names the
pods, their nodes and the scheduler's words; a run without load is Inconclusive, never a pass.

The other correct fixes of labs/gpu-taints/alternatives/ are graded on the simulator by the lab
contract (tests/test_lab_contract.py).
"""

from __future__ import annotations

import gputaints_support as support
import grading_support
import pytest

from slolab.catalog import lab as lab_mod


@pytest.fixture
def grade_case(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Grade gpu-taints on the scripted ``case``; the JSON report."""
    with grading_support.scripted_grading(
        pytester, monkeypatch, "gpu-taints", "gputaints_support"
    ) as grade_one:
        yield grade_one


checks = grading_support.checks
not_passed = grading_support.not_passed


def test_a_good_run_passes_every_check(grade_case) -> None:
    report = grade_case("good")
    assert not_passed(report) == {}
    got = checks(report)
    # the first look at or after GOOD_READY_S (looks every 5 s from 0 s)
    assert got["gpu_ready_s"]["observed"] == support.GOOD_READY_S
    assert got["gpu_ready_s"]["evidence"][1] == "llm-5d4f-aaaaa: on gpu-1, Running, Ready, asks for 1 GPU"
    assert got["gpu_squatters"]["observed"] == 0, "the device plugin's DaemonSet pod is a node agent"
    assert got["slow_or_failed_pct"]["observed"] == 0
    assert (got["pending_pods"]["window_start_s"], got["pending_pods"]["window_end_s"]) == (
        support.BOUND_S,
        support.END_S,
    )


def test_replicas_ready_late_fail_the_gpu_check_only(grade_case) -> None:
    report = grade_case("slow-ready")
    assert not_passed(report) == {"gpu_ready_s": "failed"}
    assert checks(report)["gpu_ready_s"]["observed"] == support.SLOW_READY_S


def test_replicas_holding_two_gpus_fail_the_gpu_check_only(grade_case) -> None:
    report = grade_case("two-gpus")
    assert not_passed(report) == {"gpu_ready_s": "failed"}
    evidence = checks(report)["gpu_ready_s"]["evidence"]
    assert evidence[0].startswith("never all 2 replicas Ready on a GPU node with one GPU each")
    assert any("asks for 2 GPU" in line for line in evidence)


def test_a_cpu_pod_on_the_gpu_node_fails_the_squatter_check_only(grade_case) -> None:
    report = grade_case("squatter")
    assert not_passed(report) == {"gpu_squatters": "failed"}
    check = checks(report)["gpu_squatters"]
    assert check["observed"] == 1
    assert check["evidence"] == ["embeddings-batch-7c9-ccccc: on GPU node gpu-1 from 50 s, asks for no GPU"]


def test_a_pending_pod_fails_its_check_quoting_the_scheduler(grade_case) -> None:
    report = grade_case("pending")
    assert not_passed(report) == {"pending_pods": "failed"}
    check = checks(report)["pending_pods"]
    assert check["observed"] == 1
    assert check["evidence"] == [
        "embeddings-batch-7c9-ddddd: not scheduled (Pending)",
        f"  FailedScheduling: {support.UNSCHEDULABLE}",
    ]


def test_slow_first_tokens_fail_the_request_check_only(grade_case) -> None:
    report = grade_case("slow-requests")
    assert not_passed(report) == {"slow_or_failed_pct": "failed"}
    check = checks(report)["slow_or_failed_pct"]
    assert check["observed"] == 5.0  # every 20th of 960 requests over 2 s
    assert check["evidence"][0] == "0 failed, 48 slower than 2 s to first token, of 960 requests"


def test_no_load_is_inconclusive_never_a_pass(grade_case) -> None:
    report = grade_case("no-load")
    assert not_passed(report) == {"slow_or_failed_pct": "inconclusive"}
    assert report["passed"] is False


def test_every_case_is_scripted() -> None:
    lab = lab_mod.load("gpu-taints")
    assert set().union(*support.CASES.values()) == set(lab.slos)
