"""Scheduler plugin NodeResourcesFit: requests against allocatable, and LeastAllocated scoring.

Upstream: kubernetes v1.35 pkg/scheduler/framework/plugins/noderesources/fit.go (Filter:
fitsRequest: the pod count against allocatable pods, "Too many pods"; each requested resource,
extended ones such as nvidia.com/gpu included, against allocatable minus what the node's pods
request: "Insufficient <resource>", one reason per resource short; a resource the node does not
advertise has 0 allocatable; all are Unschedulable, so preemption may help) and
least_allocated.go (score per resource (allocatable - requested) * 100 / allocatable, cpu and
memory weighted 1:1). Extended resources are integers and never overcommitted: a GPU is
requested whole or not at all (the API refuses fractions: docs "Schedule GPUs").
"""

from __future__ import annotations

from slolab.sim import objects
from slolab.sim import sched_framework as fw


def filter(requests: dict[str, int], info: fw.NodeInfo) -> fw.Status | None:
    """NodeResourcesFit.Filter (fitsRequest), on thousandths."""
    allocatable = info.allocatable
    requested = info.requested
    reasons = []
    for name, want in requests.items():
        if want and requested.get(name, 0) + want > allocatable.get(name, 0):
            reasons.append("Too many pods" if name == "pods" else f"Insufficient {name}")
    return fw.unschedulable(*reasons) if reasons else None


def score(requests: dict[str, int], info: fw.NodeInfo) -> float:
    """LeastAllocated over cpu and memory (default weights 1:1), 0..100."""
    total, n = 0.0, 0
    for name in ("cpu", "memory"):
        cap = info.allocatable.get(name, 0)
        if cap <= 0:
            continue
        want = info.requested.get(name, 0) + requests.get(name, 0)
        total += max(0, cap - want) * 100 / cap
        n += 1
    return float(round(total / n)) if n else 0.0


def pod_requests(pod: objects.Pod) -> dict[str, int]:
    """The pod's requests in thousandths (a limit stands in for a missing request)."""
    return fw.milli(pod.requests())
