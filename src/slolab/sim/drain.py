"""``kubectl drain NODE`` as a process of the simulated cluster: cordon, then evict every pod.

Upstream: kubernetes v1.35 staging/src/k8s.io/kubectl/pkg/drain: cordon.go (CordonHelper:
spec.unschedulable = true), filters.go (GetPodsForDeletion and its filters: pods of a DaemonSet
are skipped with --ignore-daemonsets and refused without it, pods with no controller need
--force, pods with emptyDir volumes need --delete-emptydir-data, finished pods are deleted
whatever else holds), drain.go (DeleteOrEvictPods → evictPods: one goroutine per pod that
evicts through the Eviction API and, on 429 TooManyRequests, prints "error when evicting
pods/NAME -n NS (will retry after 5s): ..." and tries again 5 s later, until --timeout (0, the
default, waits for ever); then waitForDelete polls every second until the pod is gone).
Docs: https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/ and
https://kubernetes.io/docs/reference/kubectl/generated/kubectl_drain/.
The kubelet records NodeNotSchedulable when the node is cordoned (kubelet_node_status.go
recordNodeSchedulableEvent), and the node lifecycle controller adds the
node.kubernetes.io/unschedulable:NoSchedule taint (sim/nodelifecycle.py).
Not modelled: --disable-eviction (delete instead), --pod-selector, --skip-wait-for-delete-timeout,
mirror pods (the simulator has none), --dry-run.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from slolab.run import timeline
from slolab.sim import eviction, objects

if TYPE_CHECKING:
    from slolab.sim import cluster as cluster_mod

RETRY_S = 5.0  # evictPods: time.Sleep(5 * time.Second) after a 429
POLL_S = 1.0  # waitForDelete's interval


@dataclasses.dataclass
class Drain:
    """One ``kubectl drain``: its options, its output lines and how it ended."""

    node: str
    timeout_s: float | None = None  # --timeout (None: 0s, wait for ever)
    grace_period_s: float | None = None  # --grace-period (None: each pod's own)
    ignore_daemonsets: bool = True
    delete_emptydir_data: bool = True
    force: bool = False
    started_s: float = 0.0
    finished_s: float | None = None
    error: str | None = None
    output: list[str] = dataclasses.field(default_factory=list)
    process: Any = None

    @property
    def done(self) -> bool:
        return self.finished_s is not None and self.error is None


def cordon(cluster: cluster_mod.Cluster, node_name: str, unschedulable: bool = True) -> None:
    """``kubectl cordon`` / ``uncordon``: spec.unschedulable (the kubelet records the event)."""
    node = cluster.get("v1", "Node", node_name)
    if node.unschedulable == unschedulable:
        return
    node.unschedulable = unschedulable
    cluster.record(
        "Node",
        node_name,
        timeline.NODE_NOT_SCHEDULABLE if unschedulable else timeline.NODE_SCHEDULABLE,
        f"Node {node_name} status is now: {'NodeNotSchedulable' if unschedulable else 'NodeSchedulable'}",
    )
    cluster.store.update(node)


def start(cluster: cluster_mod.Cluster, drain: Drain) -> Drain:
    """Begin ``drain`` now; it runs as the simulation advances (``drain.process``)."""
    cluster.get("v1", "Node", drain.node)  # BackendError naming the node if it does not exist
    drain.started_s = cluster.now_s
    drain.process = cluster.env.process(_run(cluster, drain))
    return drain


def pods_for_deletion(cluster: cluster_mod.Cluster, drain: Drain) -> tuple[list[objects.Pod], list[str]]:
    """GetPodsForDeletion: the pods to evict, and the errors that stop the drain."""
    pods, errors = [], []
    for pod in cluster.store.list("v1", "Pod"):
        if pod.node != drain.node:
            continue
        if pod.phase in {"Succeeded", "Failed"}:
            pods.append(pod)
            continue
        owner = pod.meta.controller_ref()
        if owner is not None and owner.kind == "DaemonSet":
            if not drain.ignore_daemonsets:
                errors.append(
                    f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {pod.name}"
                )
            continue
        if owner is None and not drain.force:
            errors.append(
                f"cannot delete Pods that declare no controller (use --force to override): {pod.name}"
            )
            continue
        volumes = pod.spec.get("volumes") or []
        if any("emptyDir" in v for v in volumes) and not drain.delete_emptydir_data:
            errors.append(
                f"cannot delete Pods with local storage (use --delete-emptydir-data to override): {pod.name}"
            )
            continue
        pods.append(pod)
    return pods, errors


def _say(cluster: cluster_mod.Cluster, drain: Drain, line: str) -> None:
    drain.output.append(line)


def _run(cluster: cluster_mod.Cluster, drain: Drain):
    env = cluster.env
    cordon(cluster, drain.node)
    _say(cluster, drain, f"node/{drain.node} cordoned")
    cluster.record("Node", drain.node, timeline.DRAIN_STARTED, f"kubectl drain {drain.node}")
    pods, errors = pods_for_deletion(cluster, drain)
    if errors:
        yield from _fail(cluster, drain, "; ".join(errors))
        return
    deadline = None if drain.timeout_s is None else env.now + drain.timeout_s
    workers = [env.process(_evict_one(cluster, drain, pod, deadline)) for pod in pods]
    if workers:
        results = yield env.all_of(workers)
        failed = [str(r) for r in results.values() if r]
        if failed:
            yield from _fail(cluster, drain, failed[0])
            return
    drain.finished_s = env.now
    _say(cluster, drain, f"node/{drain.node} drained")
    cluster.record("Node", drain.node, timeline.DRAINED, f"node/{drain.node} drained")


def _fail(cluster: cluster_mod.Cluster, drain: Drain, error: str):
    drain.error = error
    drain.finished_s = cluster.now_s
    _say(cluster, drain, f"error: {error}")
    cluster.record("Node", drain.node, timeline.DRAIN_FAILED, error, timeline.WARNING)
    return
    yield


def _evict_one(cluster: cluster_mod.Cluster, drain: Drain, pod: objects.Pod, deadline: float | None):
    """evictPods' goroutine for one pod: evict, retrying every 5 s on 429, then wait for delete."""
    env = cluster.env
    _say(cluster, drain, f"evicting pod {pod.namespace}/{pod.name}")
    while True:
        if deadline is not None and env.now >= deadline:
            return f"drain did not complete within {drain.timeout_s:g}s"
        try:
            eviction.evict(cluster, pod, drain.grace_period_s)
            break
        except eviction.EvictionError as exc:
            if exc.code == 404:
                return None
            if not exc.too_many_requests:
                return f'error when evicting pods/"{pod.name}" -n "{pod.namespace}": {exc}'
            _say(
                cluster,
                drain,
                f'error when evicting pods/"{pod.name}" -n "{pod.namespace}" (will retry after 5s): {exc}',
            )
            wait_s = RETRY_S if deadline is None else min(RETRY_S, max(0.0, deadline - env.now))
            yield env.timeout(wait_s)
    while cluster.store.by_uid(pod.meta.uid) is pod:  # waitForDelete
        if deadline is not None and env.now >= deadline:
            return f"drain did not complete within {drain.timeout_s:g}s"
        yield env.timeout(POLL_S)
    _say(cluster, drain, f"pod/{pod.name} evicted")
    return None
