"""The keda-scaling lab's real grader on the fake backend: scripted runs, the right verdicts.

The grader's files (labs/keda-scaling/grader/conftest.py and test_*.py) are copied as they are
into a pytester folder whose root conftest.py opens a scripted FakeBackend instead of the
simulator (kedascaling_support.py scripts the runs over a short rate curve). The good run passes
every check; each bad run changes one thing and must fail exactly the checks about it, with
evidence; a run without enough load is Inconclusive, never a pass.

The other correct fixes of labs/keda-scaling/alternatives/ are graded on the simulator by the lab
contract (tests/test_lab_contract.py).
"""

from __future__ import annotations

import grading_support
import kedascaling_support as support
import pytest

from slolab.catalog import lab as lab_mod


@pytest.fixture
def grade_case(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Grade keda-scaling on the scripted ``case``; the JSON report."""
    with grading_support.scripted_grading(
        pytester, monkeypatch, "keda-scaling", "kedascaling_support"
    ) as grade_one:
        yield grade_one


checks = grading_support.checks
not_passed = grading_support.not_passed


def test_the_script_serves_from_warm_s_and_follows_its_steps() -> None:
    lab = lab_mod.load("keda-scaling")
    backend = support.backend(lab, "good")
    assert backend.cluster.get("Deployment", "llm")["status"]["availableReplicas"] == 0
    backend.clock.t_s = support.WARM_S
    assert backend.cluster.get("Deployment", "llm")["status"]["availableReplicas"] == 1
    backend.clock.t_s = support.RAMP_S + 80
    assert backend.cluster.get("Deployment", "llm")["spec"]["replicas"] == 3
    assert len([p for p in backend.cluster.list("Pod") if p["spec"].get("nodeName")]) == 3


def test_a_good_run_passes_every_check(grade_case) -> None:
    report = grade_case("good")
    assert not_passed(report) == {}
    got = checks(report)
    params = lab_mod.load("keda-scaling").grading.params
    # the judged window: from the allowance after the ramp's start to the plateau's end
    ttft = got["ttft_p99_s"]
    assert (ttft["window_start_s"], ttft["window_end_s"]) == (
        support.RAMP_S + params.cold_start_allowance_s,
        support.PLATEAU_END_S,
    )
    assert ttft["observed"] == 0.3  # the cold start's 5 s TTFTs fall inside the allowance
    # back to one replica 360 s after the drop's end
    assert got["scale_down_s"]["observed"] == 360.0
    assert got["scale_down_s"]["window_start_s"] == support.AFTER_S
    assert got["scale_direction_changes"]["observed"] == 1
    assert got["failed_requests"]["observed"] == 0
    # 1 GPU from the load's start, 2 from RAMP_S + 30, 3 from RAMP_S + 75, 2 from AFTER_S + 300,
    # 1 from AFTER_S + 360 to the end of the load (WARM_S + load_s)
    end_s = support.WARM_S + params.load_s
    gpu_s = (
        (support.RAMP_S + 30 - support.WARM_S)
        + 2 * 45
        + 3 * (support.AFTER_S + 300 - support.RAMP_S - 75)
        + 2 * 60
        + (end_s - support.AFTER_S - 360)
    )
    assert got["gpu_minutes"]["observed"] == round(gpu_s / 60, 1)


def test_a_slow_plateau_fails_the_ttft_check_only(grade_case) -> None:
    report = grade_case("slow-plateau")
    assert not_passed(report) == {"ttft_p99_s": "failed"}
    check = checks(report)["ttft_p99_s"]
    assert check["observed"] == 8.0
    assert any("over 2 s" in line for line in check["evidence"])


def test_failed_requests_fail_their_check_only(grade_case) -> None:
    report = grade_case("failed-requests")
    assert not_passed(report) == {"failed_requests": "failed"}
    check = checks(report)["failed_requests"]
    assert check["observed"] == 20  # 5 s at the base rate of 4 req/s
    assert check["evidence"][0].endswith("requests failed: 20 × HTTP 503")


def test_requests_refused_at_once_are_no_fast_ttft(grade_case) -> None:
    """A request that never got a first token counts as the client's timeout in the TTFT check,
    not as the second it took to be refused: a fleet with no pod left is not fast."""
    report = grade_case("refused-on-the-plateau")
    assert not_passed(report) == {"ttft_p99_s": "failed", "failed_requests": "failed"}
    check = checks(report)["ttft_p99_s"]
    lab = lab_mod.load("keda-scaling")
    profile = support.scenario(lab).traffic[lab.grading.params.profile]
    assert check["observed"] == profile.timeout_s
    assert any("without a first token (each counted as the client's" in line for line in check["evidence"])


def test_a_late_scale_down_fails_its_check_only(grade_case) -> None:
    report = grade_case("late-scale-down")
    assert not_passed(report) == {"scale_down_s": "failed"}
    check = checks(report)["scale_down_s"]
    assert check["observed"] == 480.0
    assert check["evidence"][0] == "back to 1 replica(s) 480 s after the drop and stayed there"


def test_holding_the_pool_fails_cost_and_scale_down(grade_case) -> None:
    report = grade_case("overprovisioned")
    assert not_passed(report) == {"scale_down_s": "failed", "gpu_minutes": "failed"}
    got = checks(report)
    params = lab_mod.load("keda-scaling").grading.params
    after_s = params.load_s - (support.AFTER_S - support.WARM_S)
    assert got["scale_down_s"]["observed"] == after_s
    assert got["scale_down_s"]["evidence"][0].startswith("not back to 1 replica(s) by the end of the run")
    assert got["gpu_minutes"]["observed"] == round((30 + 4 * (params.load_s - 30)) / 60, 1)


def test_flapping_fails_its_check_only(grade_case) -> None:
    report = grade_case("flapping")
    assert not_passed(report) == {"scale_direction_changes": "failed"}
    check = checks(report)["scale_direction_changes"]
    assert check["observed"] == 5  # up, then down-up twice, then down: six changes, five turns
    assert "3 → 1" in check["evidence"][1]


def test_too_little_load_is_inconclusive_never_a_pass(grade_case) -> None:
    report = grade_case("no-load")
    assert set(not_passed(report).values()) == {"inconclusive"}
    assert set(not_passed(report)) == set(lab_mod.load("keda-scaling").slos)
    evidence = checks(report)["ttft_p99_s"]["evidence"]
    assert any("of the 3120 the profile's rate curve sends in the window" in line for line in evidence)
    assert report["passed"] is False
