"""Scheduler plugin DefaultPreemption: evict lower-priority pods so a pending pod fits.

Upstream: kubernetes v1.35 pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go
(PodEligibleToPreemptOthers, SelectVictimsOnNode) and pkg/scheduler/framework/preemption/
preemption.go (Evaluator.Preempt: nodesWherePreemptionMightHelp skips nodes whose filter status
was UnschedulableAndUnresolvable, "Preemption is not helpful for scheduling"; on the others,
remove every pod of lower priority, check that the pod fits, then reprieve victims from the
most important (highest priority, then earliest started) while it still fits; a node where it
does not fit even so is "No preemption victims found for incoming pod";
pickOneNodeForPreemption: the lowest highest-victim priority, then the lowest sum of
priorities, then the fewest victims, then the first node; prepareCandidate: delete the victims
with their grace period, event Preempted "Preempted by pod <uid> on node <node>", clear the
nominatedNodeName of lower-priority pods nominated to that node, and set the preemptor's
status.nominatedNodeName). A pod with preemptionPolicy Never does not preempt, nor does one
whose nominated node still has a lower-priority pod terminating. Not modelled:
PodDisruptionBudget violations as a criterion, extenders.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable

from slolab.sim import objects, priority
from slolab.sim import sched_framework as fw

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclasses.dataclass
class Candidate:
    node: fw.NodeInfo
    victims: list[objects.Pod]


@dataclasses.dataclass
class Result:
    candidate: Candidate | None
    message: str  # "preemption: ..." for the FailedScheduling event; "" on success


def eligible(pod: objects.Pod, infos: dict[str, fw.NodeInfo]) -> str | None:
    """PodEligibleToPreemptOthers: None when it may preempt, else why not."""
    if pod.spec.get("preemptionPolicy") == priority.NEVER:
        return "not eligible due to preemptionPolicy=Never."
    nominated = infos.get(pod.nominated_node or "")
    if nominated is not None:
        prio = priority.of(pod)
        if any(p.terminating and priority.of(p) < prio for p in nominated.pods):
            return "not eligible due to a terminating pod on the nominated node."
    return None


def _importance(p: objects.Pod) -> tuple[int, float]:
    """MoreImportantPod: higher priority, then earlier start, first."""
    return (-priority.of(p), p.created_s)


def select_victims(
    pod: objects.Pod,
    info: fw.NodeInfo,
    requests_of: Callable[[objects.Pod], dict[str, int]],
    fits: Callable[[fw.NodeInfo, list[objects.Pod]], bool],
) -> list[objects.Pod] | None:
    """SelectVictimsOnNode: the fewest lower-priority pods whose removal lets ``pod`` fit."""
    prio = priority.of(pod)
    trial = info.clone()
    lower = sorted((p for p in info.pods if priority.of(p) < prio), key=_importance)
    if not lower:
        return None
    for p in lower:
        trial.remove(p, requests_of(p))
    if not fits(trial, list(lower)):
        return None
    victims: list[objects.Pod] = []
    removed = list(lower)
    for p in lower:  # reprieve the most important first
        trial.add(p, requests_of(p))
        removed.remove(p)
        if not fits(trial, removed):
            trial.remove(p, requests_of(p))
            removed.append(p)
            victims.append(p)
    return victims


def preempt(
    pod: objects.Pod,
    infos: list[fw.NodeInfo],
    statuses: dict[str, fw.Status],
    requests_of: Callable[[objects.Pod], dict[str, int]],
    fits: Callable[[fw.NodeInfo, list[objects.Pod]], bool],
) -> Result:
    """Evaluator.Preempt up to the choice of a candidate (the caller carries it out)."""
    by_name = {i.name: i for i in infos}
    why_not = eligible(pod, by_name)
    if why_not:
        return Result(None, f"preemption: {why_not}")
    reasons: Counter[str] = Counter()
    candidates: list[Candidate] = []
    for info in infos:
        status = statuses.get(info.name)
        if status is None or status.code == fw.UNRESOLVABLE:
            reasons[NOT_HELPFUL] += 1
            continue
        victims = select_victims(pod, info, requests_of, fits)
        if victims is None:
            reasons[NO_VICTIMS] += 1
            continue
        candidates.append(Candidate(info, victims))
    if not candidates:
        detail = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))
        return Result(None, f"preemption: 0/{len(infos)} nodes are available: {detail}.")

    def rank(c: Candidate) -> tuple[int, int, int]:
        prios = [priority.of(v) for v in c.victims]
        return (max(prios, default=-(2**31)), sum(p + 2**31 for p in prios), len(c.victims))

    return Result(min(candidates, key=rank), "")
