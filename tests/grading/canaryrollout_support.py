"""Scripted runs of the canary-rollout lab for its grader's unit tests (fake backend).

What the grader sees: a Rollout ``llm`` that is Healthy on 0.1.0 from the start (so the load
starts at 0 s), four ready pods, and from the moment the grader ships an image (BAD_S =
baseline_s = 120 s, then whenever the first rollout ended) what the case scripts: the canary
pod ready 105 s after the step starts, then aborted (the canary leaves the Service when a
fourth stable pod is ready) or walked to 100%. A second rollout's script starts with its
canary pod (its first instant still shows how the first rollout ended, as the grader's last
look of it must see). The script does not react to the grader's
``set image``: its times are the run seconds the grader sets the images at (the grader looks
every 5 s, so a rollout that ends at a multiple of 5 s ends its follow there). Requests arrive
at 12 req/s; a canary pod of 0.2.0 fails every 80th request routed to the whole fleet while it
is in the Service (1.25%, as 5% of a quarter).

Every case is the good run with one thing changed, named for the check(s) it must fail.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slolab.backends import fake
from slolab.catalog import lab as lab_mod
from slolab.run import request as request_mod

RATE_RPS = 12.0
BAD_S = 120.0  # lab.yaml baseline_s after the load's start at 0
OLD, BAD, GOOD = "slolab/serve:0.1.0", "slolab/serve:0.2.0", "slolab/serve:0.2.1"
CONTAINER = "slolab-serve"
COLD_S = 105.0  # a canary pod serves this long after its step starts


@dataclasses.dataclass(frozen=True)
class Stage:
    """From ``at_s``: ready pods by image, and the Rollout's status."""

    at_s: float
    pods: dict[str, int]
    phase: str = "Progressing"
    message: str = ""
    step: int | None = 0
    abort: bool = False
    stable: str = "old"
    current: str = "old"
    runs: tuple[tuple[str, str], ...] = ()  # (name, phase) of the AnalysisRuns the status shows


@dataclasses.dataclass(frozen=True)
class Case:
    stages: list[Stage]
    fail_between: tuple[float, float] | None  # when the bad canary is in the Service
    rate_scale: float = 1.0
    analysis: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # run -> status


def _walk(start_s: float, image: str, old: str, tag: str, base: str, runs=()) -> list[Stage]:
    """A rollout of ``image`` walked 25, 50, 75, 100% (a cold start and 45 s per step)."""
    out = [Stage(start_s, {old: 4}, current=tag, stable=base)]
    for i, n in enumerate((1, 2, 3)):
        out.append(
            Stage(
                start_s + COLD_S + 150 * i,
                {old: 4 - n, image: n},
                step=2 * i + 1,
                current=tag,
                stable=base,
                runs=runs,
            )
        )
    out.append(
        Stage(start_s + COLD_S + 440, {image: 4}, "Healthy", step=6, current=tag, stable=tag, runs=runs)
    )
    return out


def _aborted(start_s: float, image: str, old: str, tag: str, base: str, run: str) -> list[Stage]:
    """A rollout of ``image`` aborted 60 s after its canary serves; the canary leaves the
    Service a cold start (90 s) later."""
    message = "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase error/failed"
    return [
        Stage(start_s, {old: 4}, current=tag, stable=base),
        Stage(
            start_s + COLD_S, {old: 3, image: 1}, step=1, current=tag, stable=base, runs=((run, "Running"),)
        ),
        Stage(
            start_s + COLD_S + 60,
            {old: 3, image: 1},
            "Degraded",
            message,
            step=0,
            abort=True,
            current=tag,
            stable=base,
        ),
        Stage(
            start_s + COLD_S + 150,
            {old: 4},
            "Degraded",
            message,
            step=0,
            abort=True,
            current=tag,
            stable=base,
        ),
    ]


BAD_END_S = BAD_S + COLD_S + 150  # 375: the bad canary left the Service
GOOD_RUN = {
    "phase": "Successful",
    "metricResults": [{"name": "error-ratio", "measurements": [{"value": "[0]", "phase": "Successful"}]}],
}
BAD_RUN = {
    "phase": "Failed",
    "message": 'Metric "error-ratio" assessed Failed due to failed (1) > failureLimit (0)',
    "metricResults": [{"name": "error-ratio", "measurements": [{"value": "[0.04]", "phase": "Failed"}]}],
}
HEALTHY = Stage(0.0, {OLD: 4}, "Healthy", step=6)

GOOD_CASE = Case(
    stages=[
        HEALTHY,
        *_aborted(BAD_S, BAD, OLD, "bad", "old", "llm-bad-2-1"),
        *_walk(BAD_END_S, GOOD, OLD, "good", "old", runs=(("llm-good-3-1", "Successful"),))[1:],
    ],
    fail_between=(BAD_S + COLD_S, BAD_END_S),
    analysis={"llm-bad-2-1": BAD_RUN, "llm-good-3-1": GOOD_RUN},
)
#: the bad version walked to every pod (nothing judged it): followed until promoted at 665 s
BAD_PROMOTED_S = BAD_S + COLD_S + 440
CASES: dict[str, Case] = {
    "good": GOOD_CASE,
    "no-analysis": Case(
        stages=[
            HEALTHY,
            *_walk(BAD_S, BAD, OLD, "bad", "old"),
            *_walk(BAD_PROMOTED_S, GOOD, BAD, "good", "bad")[1:],
        ],
        fail_between=(BAD_S + COLD_S, BAD_PROMOTED_S),
    ),
    "always-abort": Case(
        stages=[
            HEALTHY,
            *_aborted(BAD_S, BAD, OLD, "bad", "old", "llm-bad-2-1"),
            *_aborted(BAD_END_S, GOOD, OLD, "good", "old", "llm-good-3-1")[1:],
        ],
        fail_between=(BAD_S + COLD_S, BAD_END_S),
        analysis={"llm-bad-2-1": BAD_RUN, "llm-good-3-1": {**BAD_RUN, "phase": "Error"}},
    ),
    "no-load": dataclasses.replace(GOOD_CASE, rate_scale=0.05),
}


def _objects(case: Case, stage: Stage) -> list[dict[str, Any]]:
    labels = {"app": "llm"}
    status: dict[str, Any] = {
        "phase": stage.phase,
        "message": stage.message,
        "currentStepIndex": stage.step,
        "abort": stage.abort,
        "stableRS": stage.stable,
        "currentPodHash": stage.current,
        "canary": (
            {"currentStepAnalysisRunStatus": {"name": stage.runs[-1][0], "status": stage.runs[-1][1]}}
            if stage.runs
            else {}
        ),
    }
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "llm"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"spec": {"containers": [{"name": CONTAINER, "image": OLD}]}},
        },
        "status": status,
    }
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"p-{image.rsplit(':', 1)[1]}-{i}", "labels": labels},
            "spec": {"containers": [{"name": CONTAINER, "image": image}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
        for image, n in stage.pods.items()
        for i in range(n)
    ]
    runs = [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {"name": name},
            "status": st,
        }
        for name, st in case.analysis.items()
    ]
    return [rollout, *pods, *runs]


def requests(case: Case, end_s: float) -> list[request_mod.Request]:
    """12 req/s from 0 s; every 80th fails with HTTP 500 while the bad canary serves."""
    out: list[request_mod.Request] = []
    step = 1.0 / (RATE_RPS * case.rate_scale)
    t, n = 0.0, 0
    while t < end_s:
        failing = case.fail_between is not None and case.fail_between[0] <= t < case.fail_between[1]
        failed = failing and n % 80 == 0
        out.append(
            fake.request(
                len(out),
                round(t, 6),
                ttft_s=0.1,
                status=500 if failed else 200,
                error="HTTP 500" if failed else None,
            )
        )
        n += 1
        t += step
    return out


def backend(lab: lab_mod.Lab, name: str) -> fake.FakeBackend:
    """The FakeBackend the canary-rollout grader runs on in case ``name``."""
    from slolab.catalog import scenario as scenario_mod

    case = CASES[name]
    end_s = BAD_S + lab.grading.params.bad_follow_s + lab.grading.params.good_follow_s + 60
    steps = [(s.at_s, _objects(case, s)) for s in case.stages[1:]]
    return fake.FakeBackend(
        lab,
        scenario_mod.load(lab.scenario),
        objects=_objects(case, case.stages[0]),
        object_steps=steps,
        requests=requests(case, end_s),
        rate_rps=RATE_RPS,
    )
