"""The gpu-taints grading run: watch the cluster place the workloads, then serve traffic.

1. look at every pod and the GPU nodes every every_s until ready_bound_s (the workspace was
   applied at 0 s): where each pod runs, whether it is Ready, the GPUs it asks for, what owns it;
2. from the bound, drive the scenario's `chat` profile for load_s, still looking;
3. stop the load and let requests in flight finish.

Whatever the learner changed (tolerations, selectors, affinity, taints, priorities), the checks
judge where pods ran and how the traffic was served, and quote the scheduler's FailedScheduling
events for pods that never ran. Built on the grader kit (slolab.grading); the parameters are
grader/params.py's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

import pytest

from slolab.grading.replicatrace import gpus
from slolab.load import requestlog
from slolab.run import timeline

GPU = "nvidia.com/gpu"


@dataclasses.dataclass(frozen=True)
class PodLook:
    name: str
    node: str | None
    phase: str
    ready: bool
    gpus: float
    owner_kind: str | None
    labels: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Look:
    t_s: float
    pods: tuple[PodLook, ...]
    gpu_nodes: frozenset[str]
    allocatable_gpus: dict[str, str | None]


def _pod(pod: dict[str, Any]) -> PodLook:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    owners = [o for o in meta.get("ownerReferences") or [] if o.get("controller")]
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return PodLook(
        name=meta["name"],
        node=spec.get("nodeName") or None,
        phase=status.get("phase") or "Pending",
        ready=ready,
        gpus=gpus(pod),
        owner_kind=owners[0].get("kind") if owners else None,
        labels=dict(meta.get("labels") or {}),
    )


def look(cluster: Any, t_s: float, gpu_node_labels: dict[str, str]) -> Look:
    """Every pod of the lab's namespace (not terminating) and the GPU nodes, at ``t_s``."""
    nodes = cluster.list("Node")
    gpu_nodes = frozenset(
        n["metadata"]["name"]
        for n in nodes
        if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in gpu_node_labels.items())
    )
    allocatable = {
        n["metadata"]["name"]: ((n.get("status") or {}).get("allocatable") or {}).get(GPU)
        for n in nodes
        if n["metadata"]["name"] in gpu_nodes
    }
    pods = tuple(_pod(p) for p in cluster.list("Pod") if not p["metadata"].get("deletionTimestamp"))
    return Look(t_s, pods, gpu_nodes, allocatable)


@dataclasses.dataclass
class PlacementRun:
    looks: list[Look]
    run: requestlog.Window  # the whole run
    bound: requestlog.Window  # from the start of the run to ready_bound_s
    after: requestlog.Window  # from the bound to the end of the run
    load: requestlog.Window
    log: requestlog.RequestLog
    failed_scheduling: dict[str, str]  # pod -> its latest FailedScheduling message
    replicas: int  # the target Deployment's spec.replicas at the end

    def squatters(self) -> dict[str, tuple[float, str]]:
        """Pods with no GPU request seen on a GPU node, DaemonSet pods (node agents) excepted:
        name -> (first time seen there, node)."""
        found: dict[str, tuple[float, str]] = {}
        for lk in self.looks:
            for p in lk.pods:
                if p.node in lk.gpu_nodes and p.gpus == 0 and p.owner_kind != "DaemonSet":
                    found.setdefault(p.name, (lk.t_s, p.node))
        return found

    def pending_after_bound(self) -> dict[str, float]:
        """Pods Pending at some look from the bound on: name -> first such look."""
        found: dict[str, float] = {}
        for lk in self.looks:
            if lk.t_s >= self.after.start_s:
                for p in lk.pods:
                    if p.phase == "Pending":
                        found.setdefault(p.name, lk.t_s)
        return found

    def where(self, names: Iterable[str]) -> list[str]:
        """One line per pod: its node at the last look and the scheduler's latest word on it."""
        last = {p.name: p for p in self.looks[-1].pods}
        lines = []
        for name in names:
            p = last.get(name)
            place = f"on {p.node} ({p.phase})" if p and p.node else "not scheduled (Pending)"
            lines.append(f"{name}: {place}")
            if name in self.failed_scheduling:
                lines.append(f"  FailedScheduling: {self.failed_scheduling[name]}")
        return lines


def _follow(lab, params, looks: list[Look], until_s: float) -> None:
    clock = lab.clock
    while (left := until_s - clock.now_s()) > 1e-9:
        clock.sleep(min(params.every_s, left))
        looks.append(look(lab.cluster, clock.now_s(), params.gpu_node_labels))


@pytest.fixture(scope="session")
def placement(lab, params, target, load_session) -> PlacementRun:
    """The cluster watched from the apply to the bound, then under the profile's load."""
    start_s = lab.clock.now_s()
    looks = [look(lab.cluster, start_s, params.gpu_node_labels)]
    bound_s = start_s + params.ready_bound_s
    _follow(lab, params, looks, bound_s)
    with load_session(params.profile) as load, load.window("load"):
        _follow(lab, params, looks, bound_s + params.load_s)
    end_s = lab.clock.now_s()
    failed = {e.name: e.message for e in lab.events if e.reason == timeline.FAILED_SCHEDULING}
    deployment = lab.cluster.get("Deployment", target.deployment)
    replicas = int(((deployment or {}).get("spec") or {}).get("replicas", 1))
    return PlacementRun(
        looks=looks,
        run=requestlog.Window("whole run", start_s, end_s),
        bound=requestlog.Window("until the bound", start_s, bound_s),
        after=requestlog.Window("after the bound", bound_s, max(end_s, bound_s + 1e-6)),
        load=load.windows["load"],
        log=load.log,
        failed_scheduling=failed,
        replicas=replicas,
    )
