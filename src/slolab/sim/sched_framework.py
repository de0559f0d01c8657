"""The scheduling framework's vocabulary: node infos, filter statuses, label selectors, scores.

Upstream: kubernetes v1.35 pkg/scheduler/framework (types.go NodeInfo with its Requested
resources and pods; interface.go Status codes Unschedulable and UnschedulableAndUnresolvable;
plugins/helper/normalize_score.go DefaultNormalizeScore) and
staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go LabelSelectorAsSelector. Each
plugin (sim/sched_*.py) is a module with the extension points it implements: ``pre_filter``
(once per pod and cycle), ``filter`` (per node: None or a Status), ``score`` (per feasible node)
and ``normalize``; sim/scheduler.py runs them in the default profile's order.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from slolab.sim import objects

UNSCHEDULABLE = "Unschedulable"  # preemption may help (resources, anti-affinity, spread)
UNRESOLVABLE = "UnschedulableAndUnresolvable"  # preemption cannot help (taints, node affinity)
MAX_NODE_SCORE = 100

ZERO = Decimal(0)


@dataclasses.dataclass(frozen=True)
class Status:
    """A filter's verdict on one node: its code and the reasons ``kubectl describe`` shows."""

    code: str
    reasons: tuple[str, ...]


def unschedulable(*reasons: str) -> Status:
    return Status(UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(UNRESOLVABLE, reasons)


def milli(resources: dict[str, Decimal]) -> dict[str, int]:
    """Quantities as integer thousandths, rounded up as resource.Quantity.MilliValue does: exact
    integer arithmetic for the fit and the scores."""
    return {k: int((v * 1000).to_integral_value(rounding="ROUND_CEILING")) for k, v in resources.items()}


class NodeInfo:
    """A node with the pods assigned to it (bound, or assumed in this cycle) and the sum of their
    requests, in thousandths (``milli``)."""

    __slots__ = ("allocatable", "name", "node", "pods", "requested")

    def __init__(self, node: objects.Node) -> None:
        self.node = node
        self.name = node.name
        self.pods: list[objects.Pod] = []
        self.requested: dict[str, int] = {}
        self.allocatable = milli(node.allocatable)

    def add(self, pod: objects.Pod, requests: dict[str, int]) -> None:
        self.pods.append(pod)
        req = self.requested
        for k, v in requests.items():
            req[k] = req.get(k, 0) + v

    def remove(self, pod: objects.Pod, requests: dict[str, int]) -> None:
        self.pods.remove(pod)
        req = self.requested
        for k, v in requests.items():
            req[k] = req.get(k, 0) - v

    def clone(self) -> NodeInfo:
        out = NodeInfo(self.node)
        out.pods = list(self.pods)
        out.requested = dict(self.requested)
        return out


def _expression(expr: dict[str, Any], labels: dict[str, str]) -> bool:
    """One requirement of a label selector (In, NotIn, Exists, DoesNotExist)."""
    key, op = expr["key"], expr["operator"]
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    raise ValueError(f"label selector operator {op!r} is not valid")


class Selector:
    """A compiled metav1.LabelSelector; ``key`` identifies equal selectors (for the caches)."""

    __slots__ = ("exprs", "key", "labels", "nothing")

    def __init__(self, raw: dict[str, Any] | None) -> None:
        self.nothing = raw is None
        raw = raw or {}
        self.labels = tuple(sorted((k, str(v)) for k, v in (raw.get("matchLabels") or {}).items()))
        self.exprs = tuple(
            (e["key"], e["operator"], tuple(sorted(str(v) for v in e.get("values") or [])))
            for e in raw.get("matchExpressions") or []
        )
        self.key = repr((self.nothing, self.labels, self.exprs))

    def matches(self, labels: dict[str, str]) -> bool:
        if self.nothing:
            return False
        for k, v in self.labels:
            if labels.get(k) != v:
                return False
        for key, op, values in self.exprs:
            if not _expression({"key": key, "operator": op, "values": values}, labels):
                return False
        return True


def default_normalize(scores: dict[str, float], reverse: bool = False) -> dict[str, float]:
    """helper.DefaultNormalizeScore: scale to 0..100 by the highest score; ``reverse`` flips it
    (a high raw score is bad). All zero: 0, or 100 everywhere when reversed."""
    top = max(scores.values(), default=0.0)
    if top == 0:
        return {n: (MAX_NODE_SCORE if reverse else 0.0) for n in scores}
    out = {}
    for n, s in scores.items():
        v = MAX_NODE_SCORE * s // top
        out[n] = MAX_NODE_SCORE - v if reverse else v
    return out
