"""Scheduler plugin NodeAffinity: nodeSelector, required and preferred node affinity.

Upstream: kubernetes v1.35 pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go
(Filter: spec.nodeSelector and requiredDuringSchedulingIgnoredDuringExecution must both match,
else UnschedulableAndUnresolvable "node(s) didn't match Pod's node affinity/selector"; Score:
the sum of the weights of the preferred terms the node matches, normalized by the highest) and
staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go (terms are
ORed, a term's requirements ANDed; an empty term matches nothing; operators In, NotIn, Exists,
DoesNotExist, Gt, Lt; matchFields with metadata.name, which the DaemonSet controller uses).
Docs: "Assigning Pods to Nodes" (kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/).
"""

from __future__ import annotations

from typing import Any

from slolab.sim import objects
from slolab.sim import sched_framework as fw

MISMATCH = "node(s) didn't match Pod's node affinity/selector"


def _requirement(expr: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op, values = expr["key"], expr["operator"], [str(v) for v in expr.get("values") or []]
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in {"Gt", "Lt"}:
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, ValueError, IndexError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def term_matches(term: dict[str, Any], node: objects.Node) -> bool:
    """A NodeSelectorTerm: every matchExpression on labels and matchField on fields."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    if not all(_requirement(e, node.labels) for e in exprs):
        return False
    return all(_requirement(f, {"metadata.name": node.name}) for f in fields)


def required_terms(spec: dict[str, Any]) -> list[dict[str, Any]] | None:
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    return None if required is None else list(required.get("nodeSelectorTerms") or [])


def matches(spec: dict[str, Any], node: objects.Node) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): nodeSelector and the required terms."""
    labels = node.labels
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != str(v):
            return False
    terms = required_terms(spec)
    if terms is None:
        return True
    return any(term_matches(t, node) for t in terms)


def filter(pod: objects.Pod, info: fw.NodeInfo) -> fw.Status | None:
    """NodeAffinity.Filter."""
    if not matches(pod.spec, info.node):
        return fw.unresolvable(MISMATCH)
    return None


def score(pod: objects.Pod, info: fw.NodeInfo) -> float:
    """NodeAffinity.Score: sum of the weights of matching preferred terms."""
    preferred = ((pod.spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "preferredDuringSchedulingIgnoredDuringExecution"
    ) or []
    return float(
        sum(int(p.get("weight", 0)) for p in preferred if term_matches(p.get("preference") or {}, info.node))
    )


def normalize(scores: dict[str, float]) -> dict[str, float]:
    return fw.default_normalize(scores)
