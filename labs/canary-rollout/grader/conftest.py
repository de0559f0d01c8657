"""The canary-rollout grading run: two rollouts of the Rollout under steady traffic.

1. wait until the Rollout is Healthy with every pod ready (up to warmup_timeout_s);
2. start the scenario's constant traffic; after baseline_s on the running version, ship the
   regressed image (``kubectl argo rollouts set image``) and follow the Rollout every every_s
   until it was aborted and its canary pods are gone, or it promoted the image, or
   bad_follow_s passed;
3. ship the healthy image and follow it until it is promoted (Healthy, stable = that version),
   or good_follow_s passed;
4. stop the load and let requests in flight finish.

Each look records the Rollout's phase, step and abort, the analysis runs it owns, and the
share of the ready pods (the Service's endpoints: without a traffic router that is the share
of traffic) that run each image. Whatever judges the canary (an analysis step, background
analysis, nothing) is judged by what happened to the Rollout and to the requests, never by
its YAML.

Built on the grader kit (slolab.grading); the parameters are grader/params.py's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from slolab.load import requestlog
from slolab.report import rolloutview

HASH = "rollouts-pod-template-hash"


@dataclasses.dataclass(frozen=True)
class Look:
    """One look at the Rollout and its pods."""

    t_s: float
    phase: str
    message: str
    step: int | None
    aborted: bool
    promoted: bool  # stable = the current template, Healthy
    ready: dict[str, int]  # ready, not terminating pods by image
    runs: tuple[tuple[str, str], ...]  # (AnalysisRun, phase)

    def share(self, image: str) -> float:
        total = sum(self.ready.values())
        return 100.0 * self.ready.get(image, 0) / total if total else 0.0


@dataclasses.dataclass
class Rollout:
    """One rollout of an image: when it started, what the looks saw, how it ended."""

    image: str
    window: requestlog.Window
    looks: list[Look]
    aborted_s: float | None  # run seconds of the first look that saw it aborted
    promoted_s: float | None
    view: list[str]  # `kubectl argo rollouts get rollout` when the follow ended

    def max_share(self) -> tuple[float, float]:
        """(highest share of ready pods running the image, when)."""
        best = max(self.looks, key=lambda lk: lk.share(self.image), default=None)
        return (best.share(self.image), best.t_s) if best else (0.0, self.window.start_s)

    def weights(self) -> str:
        """The share of ready pods on the new image each time it changed: "0% at 0 s, 25% at 101 s"."""
        out, last = [], None
        for lk in self.looks:
            share = round(lk.share(self.image))
            if share != last:
                out.append(f"{share}% at {lk.t_s - self.window.start_s:.0f} s")
                last = share
        return ", ".join(out) or "no look"

    def analysis(self, cluster) -> list[str]:
        """Each AnalysisRun the rollout made: phase, message, and its measurements."""
        names = dict.fromkeys(name for lk in self.looks for name, _ in lk.runs)
        lines = []
        for name in names:
            run = cluster.get("AnalysisRun", name)
            if run is None:
                continue
            status = run.get("status") or {}
            message = f": {status['message']}" if status.get("message") else ""
            lines.append(f"AnalysisRun {name}: {status.get('phase')}{message}")
            for result in status.get("metricResults") or []:
                values = ", ".join(
                    f"{m.get('value') or '-'} {m.get('phase')}"
                    for m in (result.get("measurements") or [])[:8]
                )
                lines.append(f"  {result.get('name')}: {values}")
        return lines or ["no AnalysisRun: nothing judged the canary"]


@dataclasses.dataclass
class CanaryRun:
    log: requestlog.RequestLog
    load: requestlog.Window
    bad: Rollout
    good: Rollout
    warmed_up: bool


def _ready(pod: dict[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _image(pod: dict[str, Any], container: str) -> str:
    return next((c.get("image", "") for c in pod["spec"]["containers"] if c.get("name") == container), "")


def look(lab, name: str, container: str, owner_kind: str = "Rollout") -> Look | None:
    """The Rollout ``name``, its ready pods by image, and its AnalysisRuns."""
    cluster = lab.cluster
    ro = cluster.get(owner_kind, name)
    if ro is None:
        return None
    status = ro.get("status") or {}
    selector = ro["spec"]["selector"]["matchLabels"]
    ready: dict[str, int] = {}
    for pod in cluster.list("Pod", labels=selector):
        if _ready(pod):
            image = _image(pod, container)
            ready[image] = ready.get(image, 0) + 1
    canary = status.get("canary") or {}
    runs = tuple(
        (r["name"], r.get("status", ""))
        for r in (
            canary.get("currentStepAnalysisRunStatus"),
            canary.get("currentBackgroundAnalysisRunStatus"),
        )
        if r
    )
    current = status.get("currentPodHash")
    return Look(
        t_s=lab.clock.now_s(),
        phase=status.get("phase", ""),
        message=status.get("message", ""),
        step=status.get("currentStepIndex"),
        aborted=bool(status.get("abort")),
        promoted=status.get("phase") == "Healthy" and bool(current) and status.get("stableRS") == current,
        ready=ready,
        runs=runs,
    )


def follow(lab, name: str, container: str, image: str, follow_s: float, every_s: float, bad: bool) -> Rollout:
    """Set ``image`` on the Rollout, then look every ``every_s`` until it ended (see the module doc)."""
    start = lab.clock.now_s()
    lab.cluster.set_image("Rollout", name, container, image)
    looks: list[Look] = []
    state: dict[str, float | None] = {"aborted": None, "promoted": None}
    seen: dict[tuple[str, str], None] = {}

    def done() -> bool:
        lk = look(lab, name, container)
        if lk is None:
            return False
        seen.update(dict.fromkeys(lk.runs))  # a run leaves the status when the rollout moves on
        lk = dataclasses.replace(lk, runs=tuple(seen))
        looks.append(lk)
        if lk.aborted and state["aborted"] is None:
            state["aborted"] = lk.t_s
        if lk.promoted and lk.share(image) == 100.0 and state["promoted"] is None:
            state["promoted"] = lk.t_s
        if bad and state["aborted"] is not None and lk.share(image) == 0.0:
            return True  # aborted and the bad pods are out of the Service
        return state["promoted"] is not None

    lab.cluster.wait_for(done, follow_s, poll_s=every_s)
    window = requestlog.Window(f"rollout of {image}", start, lab.clock.now_s())
    return Rollout(image, window, looks, state["aborted"], state["promoted"], get_rollout(lab, name))


def get_rollout(lab, name: str) -> list[str]:
    """What `kubectl argo rollouts get rollout <name>` shows now."""
    ro = lab.cluster.get("Rollout", name)
    if ro is None:
        return [f"no Rollout {name!r}"]
    selector = ro["spec"]["selector"]["matchLabels"]
    replicasets = lab.cluster.list("ReplicaSet", labels=selector)
    runs = [
        r
        for r in lab.cluster.list("AnalysisRun")
        if r["metadata"].get("labels", {}).items() >= selector.items()
    ]
    return [f"$ kubectl argo rollouts get rollout {name}", *rolloutview.get_rollout(ro, replicasets, runs)]


@pytest.fixture(scope="session")
def canary(lab, params, target, load_session) -> CanaryRun:
    """The regressed image, then the healthy one, rolled out under steady traffic."""
    name = target.deployment  # the Rollout takes the Deployment's place (charts/llm-serving)

    def serving() -> bool:
        lk = look(lab, name, params.container)
        return lk is not None and lk.promoted and lk.phase == "Healthy" and sum(lk.ready.values()) > 0

    warmed = lab.cluster.wait_for(serving, params.warmup_timeout_s, poll_s=params.every_s)
    with load_session(params.profile) as load, load.window("load"):
        load.hold("baseline", params.baseline_s)
        bad = follow(lab, name, params.container, params.bad_image, params.bad_follow_s, params.every_s, True)
        good = follow(
            lab, name, params.container, params.good_image, params.good_follow_s, params.every_s, False
        )
    whole = load.windows["load"]
    return CanaryRun(
        log=load.log,
        load=requestlog.Window("whole load", whole.start_s, whole.end_s),
        bad=bad,
        good=good,
        warmed_up=bool(warmed),
    )
