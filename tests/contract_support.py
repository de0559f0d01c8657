"""The judgements of the lab contract (DESIGN.md §3) over grade reports, importable as
``contract_support``: test_lab_contract.py applies them to real grades, test_contract_support.py
to reports of broken graders, so that each is shown to fail when it should.

A report is the JSON ``slolab grade`` writes (``reports/latest.json``): ``run_s`` and a list of
``checks``, each with ``id``, ``status``, ``observed``, ``expected``, ``window_start_s``,
``window_end_s`` and ``evidence`` (slolab.grading.verdict.Check).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from slolab.catalog import lab as lab_mod
from slolab.grading import verdict

#: a solution's worst case must clear a non-zero target by this share of the target
KNIFE_EDGE_FRACTION = 0.1


def _check(report: Mapping[str, Any], check_id: str) -> Mapping[str, Any] | None:
    return next((c for c in report["checks"] if c["id"] == check_id), None)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _window_problems(check: Mapping[str, Any], run_s: float) -> list[str]:
    start, end = check.get("window_start_s"), check.get("window_end_s")
    if not (_number(start) and _number(end)):
        return [f"its window has no bounds (start {start!r}, end {end!r}): which part of the run was judged?"]
    if not 0 <= start < end <= run_s:
        return [f"its window [{start:g} s, {end:g} s) is not a span inside the run [0 s, {run_s:g} s)"]
    return []


def fault_evidence_problems(lab: lab_mod.Lab, report: Mapping[str, Any]) -> list[str]:
    """What is wrong with the evidence of the checks the fault is about (empty: nothing).

    Each of ``lab.fault.fails`` must have been judged, not crashed or skipped: either failed,
    with a number that misses its SLO's target, or Inconclusive with a reason of the grader's
    own (not only "no data"), over a window that is a span of the run, with evidence lines.
    """
    problems = []
    for check_id in lab.fault.fails:
        slo = lab.slos[check_id]
        check = _check(report, check_id)
        if check is None:
            problems.append(f"{check_id}: missing from the report")
            continue
        found = []
        status, observed = check["status"], check.get("observed")
        evidence = [line for line in check.get("evidence") or () if line.strip()]
        if status == verdict.FAILED:
            if not _number(observed):
                found.append(f"failed without an observed number (observed {observed!r})")
            elif slo.met(float(observed)):
                found.append(f"failed although observed {observed:g} meets the target {slo.expected()}")
            if check.get("expected") != slo.expected():
                found.append(
                    f"judged against {check.get('expected')!r}, but lab.yaml says {slo.expected()!r}"
                )
            if not evidence:
                found.append("failed without evidence")
        elif status == verdict.INCONCLUSIVE:
            if observed is not None:
                found.append(f"Inconclusive but observed {observed!r}")
            if not [line for line in evidence if line != verdict.NO_DATA]:
                found.append(f"Inconclusive with no reason but {verdict.NO_DATA!r}: say why there is no data")
        else:
            found.append(
                f"status {status!r}: the fault must be judged failed (or Inconclusive), not {status}"
            )
        found += _window_problems(check, float(report["run_s"]))
        problems += [f"{check_id}: {p}" for p in found]
    return problems


@dataclasses.dataclass(frozen=True)
class Margin:
    """How far the worst of a solution's observations across seeds is from one SLO's target.

    ``margin`` is in the SLO's unit, positive on the passing side. ``relative`` is
    ``margin / |target|``, None for a target of 0, where only the absolute distance means
    anything (a count that must stay at 0 has nothing to spare at 0, and that is its best).
    """

    slo_id: str
    observed: tuple[float | None, ...]
    target: float
    unit: str
    worst: float | None
    margin: float | None
    relative: float | None

    def line(self, lab_name: str, expected: str, case: str = "solution") -> str:
        shown = "no data" if self.margin is None else f"{self.margin:g} {self.unit}".rstrip()
        share = "" if self.relative is None else f" ({self.relative:.0%} of the target)"
        zero = " (a zero target: absolute distance)" if self.target == 0 else ""
        return (
            f"{lab_name} {self.slo_id}: {case} observed {list(self.observed)}, target {expected}, "
            f"worst-case margin {shown}{share}{zero}"
        )


def margin(slo_id: str, slo: lab_mod.Slo, observed: Sequence[float | None]) -> Margin:
    """The worst-case margin of ``observed`` (one per seed) to ``slo``'s target."""
    values = [v for v in observed if v is not None]
    if len(values) < len(observed) or not values:
        return Margin(slo_id, tuple(observed), slo.target, slo.unit, None, None, None)
    worst = max(values) if slo.objective == "max" else min(values)
    distance = slo.target - worst if slo.objective == "max" else worst - slo.target
    relative = distance / abs(slo.target) if slo.target != 0 else None
    return Margin(slo_id, tuple(observed), slo.target, slo.unit, worst, distance, relative)


def margin_problems(m: Margin) -> list[str]:
    """Why ``m`` is a knife edge (empty: it is not).

    Every seed must have data and meet the target (margin ≥ 0, for a zero target too); a
    non-zero target must be cleared by at least 10 % of itself.
    """
    if m.margin is None:
        return [f"{m.slo_id}: no data on some seed ({list(m.observed)}): no data is never a margin"]
    if m.margin < 0:
        return [f"{m.slo_id}: the worst seed observed {m.worst:g}, on the failing side of {m.target:g}"]
    if m.relative is not None and m.relative < KNIFE_EDGE_FRACTION:
        return [
            f"{m.slo_id}: sits on a knife edge: margin {m.margin:g} {m.unit} is {m.relative:.1%} of the "
            f"target {m.target:g}, less than {KNIFE_EDGE_FRACTION:.0%}"
        ]
    return []
