"""The lab contract's judgements (contract_support) fail on the reports of broken graders.

The reports are shaped as ``slolab grade`` writes them, for the readiness-probes lab's SLOs; the
well-formed one is what its fault really gives (tests/test_lab_contract.py grades it).
"""

from __future__ import annotations

import copy

import contract_support
import pytest

from slolab.catalog import lab as lab_mod
from slolab.grading import verdict

LAB = "readiness-probes"
RUN_S = 1020.0


@pytest.fixture
def lab() -> lab_mod.Lab:
    return lab_mod.load(LAB)


def _row(slo: lab_mod.Slo, check_id: str, status: str, observed: float | None, evidence: list[str]) -> dict:
    return {
        "id": check_id,
        "status": status,
        "observed": observed,
        "expected": slo.expected(),
        "window": "rolling update [390 s, 1020 s)",
        "window_start_s": 390.0,
        "window_end_s": 1020.0,
        "evidence": evidence,
        "hint": " ".join(slo.hint.split()),
    }


@pytest.fixture
def fault_report(lab) -> dict:
    """The fault as the real grader judges it: three checks failed on numbers, one Inconclusive."""
    slos = lab.slos
    return {
        "run_s": RUN_S,
        "checks": [
            _row(slos["failed_requests"], "failed_requests", verdict.FAILED, 9596.0, ["9596 of 9596 failed"]),
            _row(slos["container_restarts"], "container_restarts", verdict.FAILED, 27.0, ["a: 5 restarts"]),
            _row(slos["ready_after_load_s"], "ready_after_load_s", verdict.FAILED, 540.0, ["never Ready"]),
            _row(
                slos["ttft_p99_ratio"],
                "ttft_p99_ratio",
                verdict.INCONCLUSIVE,
                None,
                ["no successful request to measure TTFT in the steady window"],
            ),
        ],
    }


def _broken(report: dict, check_id: str, **fields) -> dict:
    out = copy.deepcopy(report)
    next(c for c in out["checks"] if c["id"] == check_id).update(fields)
    return out


def test_the_real_faults_evidence_passes(lab, fault_report):
    assert set(lab.fault.fails) == {c["id"] for c in fault_report["checks"]}
    assert contract_support.fault_evidence_problems(lab, fault_report) == []


@pytest.mark.parametrize(
    ("check_id", "fields", "needle"),
    [
        # a grader whose check always passes
        ("failed_requests", {"status": verdict.PASSED, "observed": 0.0}, "status 'passed'"),
        # a grader that crashed: the old contract counted an error as the fault failing
        ("container_restarts", {"status": verdict.ERROR, "observed": None}, "status 'error'"),
        # a grader that skipped
        ("container_restarts", {"status": verdict.NOT_RUN, "observed": None}, "status 'not run'"),
        # failed, but what it observed meets the target
        ("ready_after_load_s", {"observed": 12.0}, "meets the target ≤ 20 s"),
        ("ready_after_load_s", {"observed": None}, "without an observed number"),
        ("failed_requests", {"observed": float("nan")}, "without an observed number"),
        ("failed_requests", {"expected": "≤ 5 requests"}, "lab.yaml says '≤ 0 requests'"),
        ("failed_requests", {"evidence": [" "]}, "failed without evidence"),
        # no data and no reason
        ("ttft_p99_ratio", {"evidence": [verdict.NO_DATA]}, "say why there is no data"),
        ("ttft_p99_ratio", {"observed": 1.2}, "Inconclusive but observed 1.2"),
        # the window: missing, empty, outside the run
        ("failed_requests", {"window_start_s": None, "window_end_s": None}, "has no bounds"),
        ("failed_requests", {"window_start_s": 400.0, "window_end_s": 400.0}, "not a span inside the run"),
        ("failed_requests", {"window_end_s": RUN_S + 60}, "not a span inside the run"),
    ],
)
def test_a_broken_graders_evidence_fails(lab, fault_report, check_id, fields, needle):
    problems = contract_support.fault_evidence_problems(lab, _broken(fault_report, check_id, **fields))
    assert len(problems) == 1 and problems[0].startswith(f"{check_id}: ") and needle in problems[0], problems


def test_a_check_missing_from_the_report_fails(lab, fault_report):
    fault_report["checks"] = [c for c in fault_report["checks"] if c["id"] != "container_restarts"]
    assert contract_support.fault_evidence_problems(lab, fault_report) == [
        "container_restarts: missing from the report"
    ]


def _slo(objective: str, target: float, unit: str = "s") -> lab_mod.Slo:
    return lab_mod.Slo(title="t", objective=objective, target=target, unit=unit, window="w", hint="h")


@pytest.mark.parametrize(
    ("objective", "target", "observed", "margin", "relative", "problem"),
    [
        ("max", 20.0, [5.0, 12.0, 8.0], 8.0, 0.4, None),
        ("max", 1.5, [1.2, 1.4, 1.3], 0.1, 0.1 / 1.5, "knife edge"),
        ("min", 100.0, [130.0, 108.0, 150.0], 8.0, 0.08, "knife edge"),
        ("min", 100.0, [130.0, 120.0], 20.0, 0.2, None),
        ("max", 20.0, [5.0, 21.0], -1.0, -0.05, "failing side"),
        # zero targets: the absolute distance in the unit, no share of the target
        ("max", 0.0, [0.0, 0.0, 0.0], 0.0, None, None),
        ("max", 0.0, [0.0, 2.0, 0.0], -2.0, None, "failing side"),
        ("min", 0.0, [3.0, 1.0], 1.0, None, None),
        ("min", 0.0, [3.0, -0.5], -0.5, None, "failing side"),
    ],
)
def test_margins(objective, target, observed, margin, relative, problem):
    m = contract_support.margin("x", _slo(objective, target), observed)
    assert m.margin == pytest.approx(margin)
    assert (m.relative is None) if relative is None else m.relative == pytest.approx(relative)
    problems = contract_support.margin_problems(m)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems
    line = m.line("lab", _slo(objective, target).expected())
    assert f"worst-case margin {margin:g} s" in line
    assert ("zero target" in line) == (target == 0)


def test_no_data_on_a_seed_is_a_problem_not_a_crash():
    m = contract_support.margin("x", _slo("max", 0.0, "requests"), [0.0, None, 0.0])
    assert m.margin is None and "no data on some seed" in contract_support.margin_problems(m)[0]
    assert "worst-case margin no data" in m.line("lab", "≤ 0 requests")
