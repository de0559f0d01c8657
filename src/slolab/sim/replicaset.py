"""ReplicaSet controller: keep ``spec.replicas`` active pods, deleting the least valuable first.

Upstream: kubernetes v1.35 pkg/controller/replicaset/replica_set.go (syncReplicaSet,
manageReplicas) and pkg/controller/controller_utils.go (ActivePodsWithRanks: unassigned <
assigned, Pending < Unknown < Running, not ready < ready, ready for less time < longer, more
restarts < fewer, newer < older). Modelled: pods found through their controller ownerReference
(whoever owns the ReplicaSet: a Deployment today, an Argo Rollout later), create/delete to
converge, deletion ranking, status replicas / readyReplicas / availableReplicas with
minReadySeconds. Not modelled: slow-start batching of creates (creates succeed at once), the
pod-deletion-cost annotation, expectations, adoption of orphan pods by selector, ReplicaSets
applied by hand (only a controller creates them).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

from slolab.run import timeline
from slolab.sim import controller, objects, store

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
REVISION = "deployment.kubernetes.io/revision"


@dataclasses.dataclass(eq=False)
class ReplicaSet:
    api_version: ClassVar[str] = "apps/v1"
    kind: ClassVar[str] = "ReplicaSet"

    meta: store.Meta
    spec: dict[str, Any]  # replicas, minReadySeconds, selector, template

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def replicas(self) -> int:
        return int(self.spec.get("replicas", 1))

    @property
    def template(self) -> dict[str, Any]:
        return self.spec["template"]

    @property
    def min_ready_s(self) -> float:
        return float(self.spec.get("minReadySeconds", 0))

    @property
    def template_hash(self) -> str:
        return self.meta.labels.get("pod-template-hash", "")

    @property
    def created_s(self) -> float:
        return self.meta.creation_s

    @property
    def revision(self) -> int:
        return int(self.meta.annotations.get(REVISION, "0"))

    def pods(self, st: store.Store) -> list[objects.Pod]:
        """Every pod this ReplicaSet controls, terminating ones included."""
        return st.dependents(self)

    def active_pods(self, st: store.Store) -> list[objects.Pod]:
        return [p for p in st.dependents(self) if p.active]

    def ready_replicas(self, st: store.Store) -> int:
        return sum(1 for p in self.active_pods(st) if p.ready)

    def available_replicas(self, st: store.Store, now_s: float) -> int:
        min_ready_s = self.min_ready_s
        return sum(1 for p in self.active_pods(st) if p.available(now_s, min_ready_s))

    def to_api(self, now_s: float, st: store.Store) -> dict[str, Any]:
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": self.meta.to_api(),
            "spec": {
                "replicas": self.replicas,
                "minReadySeconds": int(self.min_ready_s),
                "selector": copy.deepcopy(self.spec.get("selector") or {}),
                "template": self.template,
            },
            "status": {
                "replicas": len(self.active_pods(st)),
                "readyReplicas": self.ready_replicas(st),
                "availableReplicas": self.available_replicas(st, now_s),
                "observedGeneration": self.meta.generation,
            },
        }


def _rank(pod: objects.Pod) -> tuple:
    """Sort key: pods first in this order are deleted first (ActivePodsWithRanks)."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.phase, 0)
    ready_since = pod.ready_since_s if pod.ready else None
    return (
        pod.node is not None,
        phase_rank,
        pod.ready,
        -(ready_since if ready_since is not None else 0.0),
        -pod.restarts(),
        -pod.created_s,
    )


def pods_to_delete(pods: list[objects.Pod], count: int) -> list[objects.Pod]:
    return sorted(pods, key=_rank)[:count]


class Controller(controller.Controller):
    """manageReplicas for every ReplicaSet of the store, whoever owns it."""

    name = "replicaset"
    owns = (controller.Kind("apps/v1", "ReplicaSet", scale=True),)
    watches = (("apps/v1", "ReplicaSet"), ("v1", "Pod"))

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.rng_names = api.rng("names")

    def reconcile(self) -> bool:
        changed = False
        for rs in self.api.store.list("apps/v1", "ReplicaSet"):
            changed |= self.manage(rs)
        return changed

    def manage(self, rs: ReplicaSet) -> bool:
        """Converge ``rs`` on ``spec.replicas``: create or delete pods. True when something changed."""
        active = rs.active_pods(self.api.store)
        diff = len(active) - rs.replicas
        if diff < 0:
            for _ in range(-diff):
                self.create_pod(rs)
            return True
        if diff > 0:
            for pod in pods_to_delete(active, diff):
                self.delete_pod(rs, pod)
            return True
        return False

    def create_pod(self, rs: ReplicaSet) -> objects.Pod:
        """controller.PodControl CreatePods: a pod from the template, owned by ``rs``."""
        api = self.api
        suffix = "".join(self.rng_names.choice(_NAME_ALPHABET) for _ in range(5))
        meta = rs.template.get("metadata") or {}
        spec = copy.deepcopy(rs.template["spec"])
        pod = objects.Pod(
            meta=store.Meta(
                name=f"{rs.name}-{suffix}",
                namespace=rs.meta.namespace,
                labels=dict(meta.get("labels") or {}),
                annotations=dict(meta.get("annotations") or {}),
                owner_references=[store.OwnerReference("apps/v1", "ReplicaSet", rs.name, rs.meta.uid)],
            ),
            spec=spec,
            containers=[objects.Container(spec=c) for c in spec.get("containers") or []],
        )
        pod.set_condition("PodScheduled", False, api.now_s)
        api.record(
            "ReplicaSet", rs.name, timeline.SUCCESSFUL_CREATE, f"Created pod: {pod.name}", pod=pod.name
        )
        api.store.create(pod)
        return pod

    def delete_pod(self, rs: ReplicaSet, pod: objects.Pod) -> None:
        """PodControl DeletePod: graceful deletion with the pod's own grace period."""
        if pod.terminating:
            return
        self.api.record(
            "ReplicaSet", rs.name, timeline.SUCCESSFUL_DELETE, f"Deleted pod: {pod.name}", pod=pod.name
        )
        self.api.store.delete(pod)
