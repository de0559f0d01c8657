"""Scripted runs of the keda-scaling lab for its grader's unit tests (fake backend).

What the grader sees: a Deployment ``llm`` whose first pod serves from WARM_S (96 s), so the
load starts there; the scenario's traffic is replaced by a short rate curve of the same profile
name (CURVE: base, ramp, plateau, drop, then base again, all inside lab.yaml's ``load_s``), so
the scripts do not depend on how the real scenario is tuned. A script says how ``spec.replicas``
moves (``steps``: run seconds, replicas); a scale-up creates pods that serve 96 s later, a
scale-down deletes the newest pods at once. Requests follow the curve deterministically (one
where its cumulative count passes a whole number), each with the TTFT the case gives it.

Every case is the good run with one thing changed, named for the check(s) it must fail.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from slolab.backends import fake, fakescript
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.run import request as request_mod

WARM_S = 96.0  # created 0 + start 1 + load 90 + Ready 5 s later
BASE_RPS = 4.0
#: (at_s, factor) after the load's start: 120 s base, 180 s ramp to 3×, 480 s plateau, 60 s drop
CURVE = [(0.0, 1.0), (120.0, 1.0), (300.0, 3.0), (780.0, 3.0), (840.0, 1.0)]
RAMP_S = WARM_S + 120.0
PLATEAU_END_S = WARM_S + 780.0
AFTER_S = WARM_S + 840.0


def scenario(lab: lab_mod.Lab) -> scenario_mod.Scenario:
    """The lab's scenario with its graded profile swapped for CURVE (same name and lengths)."""
    real = scenario_mod.load(lab.scenario)
    profile = real.profile(lab.grading.params.profile)
    curve = [scenario_mod.RatePoint(at_s=a, factor=f) for a, f in CURVE]
    scripted = profile.model_copy(update={"rate_rps": BASE_RPS, "rate_curve": curve})
    return real.model_copy(update={"traffic": {**real.traffic, lab.grading.params.profile: scripted}})


@dataclasses.dataclass
class Case:
    """One scripted run: replica steps, TTFT by arrival, failures by arrival, the load's rate."""

    steps: list[tuple[float, int]]
    ttft_s: Callable[[float], float] = lambda t: 0.3
    fail: Callable[[float], bool] = lambda t: False
    rate_scale: float = 1.0


def _good_ttft(t: float) -> float:
    # the cold start: 5 s TTFT for the 90 s after the ramp starts, inside any sane allowance
    return 5.0 if RAMP_S <= t < RAMP_S + 90 else 0.3


GOOD = Case(
    steps=[(0.0, 1), (RAMP_S + 30, 2), (RAMP_S + 75, 3), (AFTER_S + 300, 2), (AFTER_S + 360, 1)],
    ttft_s=_good_ttft,
)

CASES: dict[str, Case] = {
    "good": GOOD,
    "slow-plateau": dataclasses.replace(
        GOOD, ttft_s=lambda t: 8.0 if PLATEAU_END_S - 200 <= t < PLATEAU_END_S else _good_ttft(t)
    ),
    "failed-requests": dataclasses.replace(GOOD, fail=lambda t: AFTER_S + 100 <= t < AFTER_S + 105),
    # every pod gone for a minute of the plateau: each request refused at once, no first token
    "refused-on-the-plateau": dataclasses.replace(
        GOOD, fail=lambda t: PLATEAU_END_S - 60 <= t < PLATEAU_END_S
    ),
    "late-scale-down": dataclasses.replace(
        GOOD, steps=[(0.0, 1), (RAMP_S + 30, 2), (RAMP_S + 75, 3), (AFTER_S + 420, 2), (AFTER_S + 480, 1)]
    ),
    "overprovisioned": dataclasses.replace(GOOD, steps=[(0.0, 1), (WARM_S + 30, 4)]),
    "flapping": dataclasses.replace(
        GOOD,
        steps=[(0.0, 1), (RAMP_S + 30, 3)]
        + [(RAMP_S + 200 + 120 * i, 1 if i % 2 == 0 else 3) for i in range(4)]
        + [(AFTER_S + 300, 1)],
    ),
    "no-load": dataclasses.replace(GOOD, rate_scale=0.05),
}


class Scaled(fakescript.Workload):
    """A Workload whose ``spec.replicas`` follows ``steps``; pods are bound to a GPU node."""

    def __init__(self, steps: list[tuple[float, int]], **kw: Any) -> None:
        super().__init__(**kw)
        self.steps = steps

    def desired(self, t_s: float) -> int:
        return ([n for at, n in self.steps if at <= t_s] or [self.steps[0][1]])[-1]

    def objects_at(self, t_s: float) -> list[dict[str, Any]]:
        objects = super().objects_at(t_s)
        for obj in objects:
            if obj["kind"] == "Deployment":
                obj["spec"]["replicas"] = self.desired(t_s)
                obj["status"]["updatedReplicas"] = obj["status"]["replicas"]
            if obj["kind"] == "Pod":
                obj["spec"] = {
                    "nodeName": "gpu-1",
                    "containers": [{"name": "server", "resources": {"limits": {"nvidia.com/gpu": 1}}}],
                }
                obj["status"]["phase"] = "Running"
        return objects

    def change_times(self) -> list[float]:
        return sorted({*super().change_times(), *(at for at, _ in self.steps)})


def workload(case: Case) -> Scaled:
    """Pods that follow ``case.steps``: a scale-up adds pods, a scale-down deletes the newest."""
    pods: list[fakescript.Pod] = []
    alive: list[int] = []
    for at_s, n in case.steps:
        while len(alive) < n:
            alive.append(len(pods))
            pods.append(fakescript.Pod(f"p{len(pods)}", at_s))
        while len(alive) > n:
            i = alive.pop()
            pods[i] = dataclasses.replace(pods[i], deleted_s=at_s)
    return Scaled(case.steps, replicas=1, pods=pods)


def requests(case: Case, profile: scenario_mod.TrafficProfile, end_s: float) -> list[request_mod.Request]:
    """One request each time the curve's cumulative count passes a whole number, from WARM_S."""
    out: list[request_mod.Request] = []
    count = 0
    t = WARM_S
    while t < end_s:
        expected = profile.cumulative_requests(t - WARM_S) * case.rate_scale
        while count + 0.5 <= expected:
            failed = case.fail(t)
            out.append(
                fake.request(
                    len(out),
                    t,
                    ttft_s=case.ttft_s(t),
                    status=503 if failed else 200,
                    error="HTTP 503" if failed else None,
                )
            )
            count += 1
        t = round(t + 0.05, 6)
    return out


def backend(lab: lab_mod.Lab, name: str) -> fake.FakeBackend:
    """The FakeBackend the keda-scaling grader runs on in case ``name``."""
    case = CASES[name]
    scn = scenario(lab)
    profile = scn.profile(lab.grading.params.profile)
    end_s = WARM_S + lab.grading.params.load_s + 60
    assert math.isfinite(end_s)
    return workload(case).backend(lab, scn, requests=requests(case, profile, end_s), rate_rps=BASE_RPS)
