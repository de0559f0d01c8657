"""ReplicaSet controller: keep ``spec.replicas`` active pods, deleting the least valuable first.

Upstream: kubernetes v1.35 pkg/controller/replicaset/replica_set.go (manageReplicas) and
pkg/controller/controller_utils.go (ActivePodsWithRanks: unassigned < assigned, Pending <
Unknown < Running, not ready < ready, ready for less time < longer, more restarts < fewer,
newer < older). Modelled: create/delete to converge, deletion ranking, status replicas /
readyReplicas / availableReplicas with minReadySeconds. Not modelled: slow-start batching of
creates (creates succeed at once), the pod-deletion-cost annotation, expectations.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slolab.sim import objects


@dataclasses.dataclass(eq=False)
class ReplicaSet:
    name: str
    namespace: str
    owner: str
    template: dict[str, Any]
    template_hash: str
    replicas: int
    min_ready_s: float
    created_s: float
    revision: int
    pods: list[objects.Pod] = dataclasses.field(default_factory=list)

    def active_pods(self) -> list[objects.Pod]:
        return [p for p in self.pods if p.active]

    def ready_replicas(self) -> int:
        return sum(1 for p in self.active_pods() if p.ready)

    def available_replicas(self, now_s: float) -> int:
        return sum(1 for p in self.active_pods() if p.available(now_s, self.min_ready_s))

    def to_api(self, now_s: float) -> dict[str, Any]:
        labels = dict(self.template.get("metadata", {}).get("labels", {}))
        return {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": labels,
                "creationTimestamp": objects.timestamp(self.created_s),
                "annotations": {"deployment.kubernetes.io/revision": str(self.revision)},
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": self.owner, "controller": True}
                ],
            },
            "spec": {
                "replicas": self.replicas,
                "minReadySeconds": int(self.min_ready_s),
                "selector": {"matchLabels": labels},
                "template": self.template,
            },
            "status": {
                "replicas": len(self.active_pods()),
                "readyReplicas": self.ready_replicas(),
                "availableReplicas": self.available_replicas(now_s),
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


def manage(rs: ReplicaSet, create: Any, delete: Any) -> bool:
    """Converge ``rs`` on ``spec.replicas``: create or delete pods. True when something changed."""
    active = rs.active_pods()
    diff = len(active) - rs.replicas
    if diff < 0:
        for _ in range(-diff):
            create(rs)
        return True
    if diff > 0:
        for pod in pods_to_delete(active, diff):
            delete(pod)
        return True
    return False
