"""Scheduler plugin DefaultPreemption: evict lower-priority pods so a pending pod fits.

Upstream: kubernetes v1.35 pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go
(PodEligibleToPreemptOthers, SelectVictimsOnNode) and pkg/scheduler/framework/preemption/
preemption.go (Evaluator.Preempt: nodesWherePreemptionMightHelp skips nodes whose filter status
was UnschedulableAndUnresolvable, "Preemption is not helpful for scheduling"; on the others,
remove every pod of lower priority, check that the pod fits, then reprieve victims while it
still fits: first those whose eviction would violate a PodDisruptionBudget, then the others,
each group from the most important (highest priority, then earliest started);
filterPodsWithPDBViolation: a pod violates a budget of its namespace whose non-empty selector
matches its labels, unless the budget lists it in status.disruptedPods, once the budget's
status.disruptionsAllowed, counted down over the potential victims, goes below zero; a node
where the pod does not fit even with every lower-priority pod gone is "No preemption victims
found for incoming pod"; pickOneNodeForPreemption: the fewest budget violations, then the
lowest highest-victim priority, then the lowest sum of priorities, then the fewest victims,
then the latest start among the highest-priority victims, then the first node;
prepareCandidate: delete the victims with their grace period (a budget does not stop them:
preemption violates one when nothing else frees the node), event Preempted "Preempted by pod
<uid> on node <node>", clear the nominatedNodeName of lower-priority pods nominated to that
node, and set the preemptor's status.nominatedNodeName). A pod with preemptionPolicy Never does
not preempt, nor does one whose nominated node still has a lower-priority pod terminating. A
pod's start is its status.startTime, the kubelet's admission (the Initialized condition). Not
modelled: extenders.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any

from slolab.sim import controller, objects, priority
from slolab.sim import sched_framework as fw

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclasses.dataclass
class Candidate:
    node: fw.NodeInfo
    victims: list[objects.Pod]
    pdb_violations: int = 0


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


def _started_s(p: objects.Pod) -> float:
    """GetPodStartTime: status.startTime (the Initialized condition), else now (the latest)."""
    initialized = p.conditions.get("Initialized")
    return initialized.last_transition_s if initialized is not None else float("inf")


def split_by_pdb_violation(
    pods: list[objects.Pod], pdbs: list[Any]
) -> tuple[list[objects.Pod], list[objects.Pod]]:
    """filterPodsWithPDBViolation: (violating, non-violating) of ``pods``, in their order."""
    allowed = [int((pdb.status or {}).get("disruptionsAllowed", 0)) for pdb in pdbs]
    violating: list[objects.Pod] = []
    other: list[objects.Pod] = []
    for p in pods:
        violated = False
        if p.labels:  # a pod without labels matches no budget
            for i, pdb in enumerate(pdbs):
                selector = pdb.spec.get("selector") or {}
                if pdb.meta.namespace != p.namespace or not selector.get("matchLabels"):
                    continue  # another namespace, or an empty selector: matches nothing
                if not controller.labels_selected(selector, p.labels):
                    continue
                if p.name in ((pdb.status or {}).get("disruptedPods") or {}):
                    continue  # the API server has processed its eviction already
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else other).append(p)
    return violating, other


def select_victims(
    pod: objects.Pod,
    info: fw.NodeInfo,
    requests_of: Callable[[objects.Pod], dict[str, int]],
    fits: Callable[[fw.NodeInfo, list[objects.Pod]], bool],
    pdbs: list[Any] | None = None,
) -> tuple[list[objects.Pod], int] | None:
    """SelectVictimsOnNode: the lower-priority pods whose removal lets ``pod`` fit, reprieving
    as many as it can (budget-violating ones first), and how many of them violate a budget."""
    prio = priority.of(pod)
    trial = info.clone()
    lower = sorted((p for p in info.pods if priority.of(p) < prio), key=_importance)
    if not lower:
        return None
    for p in lower:
        trial.remove(p, requests_of(p))
    if not fits(trial, list(lower)):
        return None
    violating, other = split_by_pdb_violation(lower, pdbs or [])
    victims: list[objects.Pod] = []
    removed = list(lower)
    violations = 0
    for group in (violating, other):
        for p in group:  # reprieve the most important first
            trial.add(p, requests_of(p))
            removed.remove(p)
            if not fits(trial, removed):
                trial.remove(p, requests_of(p))
                removed.append(p)
                victims.append(p)
                violations += group is violating
    victims.sort(key=_importance)
    return victims, violations


def preempt(
    pod: objects.Pod,
    infos: list[fw.NodeInfo],
    statuses: dict[str, fw.Status],
    requests_of: Callable[[objects.Pod], dict[str, int]],
    fits: Callable[[fw.NodeInfo, list[objects.Pod]], bool],
    pdbs: list[Any] | None = None,
) -> Result:
    """Evaluator.Preempt up to the choice of a candidate (the caller carries it out); ``pdbs``
    are the cluster's PodDisruptionBudgets."""
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
        found = select_victims(pod, info, requests_of, fits, pdbs)
        if found is None:
            reasons[NO_VICTIMS] += 1
            continue
        candidates.append(Candidate(info, *found))
    if not candidates:
        detail = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))
        return Result(None, f"preemption: 0/{len(infos)} nodes are available: {detail}.")

    def rank(c: Candidate) -> tuple[int, int, int, int, float]:
        prios = [priority.of(v) for v in c.victims]
        highest = max(prios, default=-(2**31))
        earliest = min((_started_s(v) for v in c.victims if priority.of(v) == highest), default=float("inf"))
        # min() keeps the first of equals: the first node wins the last tie
        return (c.pdb_violations, highest, sum(p + 2**31 for p in prios), len(c.victims), -earliest)

    return Result(min(candidates, key=rank), "")
