"""Scheduler plugins TaintToleration and NodeUnschedulable.

Upstream: kubernetes v1.35 pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go
(Filter: the first NoSchedule or NoExecute taint the pod does not tolerate makes the node
UnschedulableAndUnresolvable, reason "node(s) had untolerated taint(s)", the wording since
v1.34, which no longer prints the taint's key and value; Score: the number of PreferNoSchedule
taints not tolerated by the pod's tolerations whose effect is PreferNoSchedule or empty,
normalized in reverse), pkg/apis/core/v1/helper TolerationsTolerateTaint and
core/v1 Toleration.ToleratesTaint (Equal compares the value, Exists any value; an empty key
with Exists tolerates every taint; an empty effect matches every effect), and
plugins/nodeunschedulable/node_unschedulable.go (spec.unschedulable, tolerated only by a
toleration of node.kubernetes.io/unschedulable:NoSchedule). Docs: "Taints and Tolerations"
(kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/).
"""

from __future__ import annotations

from typing import Any

from slolab.sim import objects
from slolab.sim import sched_framework as fw

UNTOLERATED = "node(s) had untolerated taint(s)"
UNSCHEDULABLE_NODE = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def tolerates_taint(tol: dict[str, Any], taint: dict[str, Any]) -> bool:
    """Toleration.ToleratesTaint."""
    effect = tol.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = tol.get("key")
    if key and key != taint.get("key"):
        return False
    op = tol.get("operator") or "Equal"
    if op == "Exists":
        return True
    if op == "Equal":
        return bool(key) and str(tol.get("value", "") or "") == str(taint.get("value", "") or "")
    return False


def tolerates(tolerations: list[dict[str, Any]] | None, taint: dict[str, Any]) -> bool:
    """v1helper.TolerationsTolerateTaint."""
    return any(tolerates_taint(t, taint) for t in tolerations or [])


def untolerated(
    taints: list[dict[str, Any]], tolerations: list[dict[str, Any]] | None, effects: frozenset[str]
) -> dict[str, Any] | None:
    """v1helper.FindMatchingUntoleratedTaint: the first taint with one of ``effects`` not tolerated."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerates(tolerations, taint):
            return taint
    return None


HARD = frozenset({"NoSchedule", "NoExecute"})


def filter_unschedulable(pod: objects.Pod, info: fw.NodeInfo) -> fw.Status | None:
    """NodeUnschedulable.Filter."""
    if info.node.unschedulable and not tolerates(pod.spec.get("tolerations"), UNSCHEDULABLE_TAINT):
        return fw.unresolvable(UNSCHEDULABLE_NODE)
    return None


def filter(pod: objects.Pod, info: fw.NodeInfo) -> fw.Status | None:
    """TaintToleration.Filter."""
    if info.node.taints and untolerated(info.node.taints, pod.spec.get("tolerations"), HARD) is not None:
        return fw.unresolvable(UNTOLERATED)
    return None


def score(pod: objects.Pod, info: fw.NodeInfo) -> float:
    """TaintToleration.Score: intolerable PreferNoSchedule taints (fewer is better)."""
    if not info.node.taints:
        return 0.0
    prefer = [
        t for t in pod.spec.get("tolerations") or [] if t.get("effect") in (None, "", "PreferNoSchedule")
    ]
    return float(
        sum(1 for t in info.node.taints if t.get("effect") == "PreferNoSchedule" and not tolerates(prefer, t))
    )


def normalize(scores: dict[str, float]) -> dict[str, float]:
    return fw.default_normalize(scores, reverse=True)
