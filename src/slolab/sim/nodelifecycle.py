"""Node lifecycle controller: a node whose kubelet went silent becomes Unknown, its pods NotReady,
and it is tainted so that the taint eviction controller moves its pods away.

Upstream: kubernetes v1.35 pkg/controller/nodelifecycle/node_lifecycle_controller.go:
- ``monitorNodeHealth`` every --node-monitor-period (5 s); ``tryUpdateNodeHealth``: the probe
  time is the kubelet's last Lease renewal (every 10 s, a quarter of its 40 s lease); once it is
  older than --node-monitor-grace-period (50 s since v1.32, kubernetes/kubernetes#126287; it was
  40 s) the Ready condition is set to Unknown, reason NodeStatusUnknown, "Kubelet stopped posting
  node status.", and ``RecordNodeStatusChange`` writes the NodeNotReady event;
- ``markPodsNotReady`` (controller_utils.go MarkPodsNotReady): every pod of the node gets
  Ready False and a NodeNotReady event, so it leaves its Services' endpoints;
- ``doNoExecuteTaintingPass``: Ready Unknown → taint node.kubernetes.io/unreachable:NoExecute,
  Ready False → node.kubernetes.io/not-ready:NoExecute (with timeAdded), Ready True → neither;
- ``doNodeProcessingPassWorker`` (TaintNodesByCondition): the same keys with effect
  NoSchedule, and node.kubernetes.io/unschedulable:NoSchedule while spec.unschedulable.
Docs: https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller and
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions.
The eviction of pods after their tolerationSeconds is the taint eviction controller's
(pkg/controller/tainteviction, sim/tainteviction.py); the default tolerations of 300 s come from
the DefaultTolerationSeconds admission (sim/defaulttolerations.py).
The sim's kubelets never report Ready False themselves (a stopped kubelet is silent), so only the
Unknown path arises. Not modelled: zone states and eviction rate limits (--node-eviction-rate,
unhealthy-zone-threshold), node-startup-grace-period (nodes are up from the start).
"""

from __future__ import annotations

import math
from typing import Any

from slolab.run import timeline
from slolab.sim import controller, objects, store

NODE_MONITOR_PERIOD_S = 5.0
NODE_MONITOR_GRACE_PERIOD_S = 50.0
LEASE_RENEW_S = 10.0

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


def wanted_taints(node: objects.Node) -> list[tuple[str, str]]:
    """(key, effect) of the taints this controller keeps on ``node``."""
    out: list[tuple[str, str]] = []
    key = {"Unknown": UNREACHABLE, "False": NOT_READY}.get(node.ready_status)
    if key is not None:
        out += [(key, "NoSchedule"), (key, "NoExecute")]
    if node.unschedulable:
        out.append((UNSCHEDULABLE, "NoSchedule"))
    return out


class Controller(controller.Controller):
    """monitorNodeHealth every 5 s; the taints follow the Ready condition and spec.unschedulable."""

    name = "node-lifecycle"
    watches = (("v1", "Node"),)
    resync_s = NODE_MONITOR_PERIOD_S

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.last_renew_s: dict[str, float] = {}  # node -> the kubelet's last Lease renewal

    def on_event(self, event: store.WatchEvent) -> None:
        node = event.obj
        if event.type == store.DELETED:
            self.last_renew_s.pop(node.name, None)
            return
        if not node.ready and node.name not in self.last_renew_s:
            now = self.api.now_s
            self.last_renew_s[node.name] = math.floor(now / LEASE_RENEW_S) * LEASE_RENEW_S
        elif node.ready:
            self.last_renew_s.pop(node.name, None)
        self.api.enqueue(self)  # taints follow spec.unschedulable at once

    def reconcile(self) -> bool:
        changed = False
        for node in self.api.store.list("v1", "Node"):
            changed |= self.monitor(node)
        return changed

    def monitor(self, node: objects.Node) -> bool:
        now = self.api.now_s
        renewed = self.last_renew_s.get(node.name)
        changed = False
        silent = renewed is not None and now > renewed + NODE_MONITOR_GRACE_PERIOD_S
        if silent and node.ready_status != "Unknown":
            node.ready_status = "Unknown"
            self.api.record(
                "Node",
                node.name,
                timeline.NODE_NOT_READY,
                f"Node {node.name} status is now: NodeNotReady",
                timeline.WARNING,
            )
            self.mark_pods_not_ready(node)
            changed = True
        changed |= self.sync_taints(node)
        if changed:
            self.api.store.update(node)
        return changed

    def mark_pods_not_ready(self, node: objects.Node) -> None:
        """MarkPodsNotReady: Ready False on every pod of the node."""
        now = self.api.now_s
        for pod in self.api.store.list("v1", "Pod"):
            if pod.node != node.name:
                continue
            self.api.record("Pod", pod.name, timeline.NODE_NOT_READY, "Node is not ready", timeline.WARNING)
            if pod.set_condition("Ready", False, now):
                pod.ready_since_s = None
                self.api.store.update(pod)

    def sync_taints(self, node: objects.Node) -> bool:
        """Add and remove this controller's taints (timeAdded on NoExecute ones)."""
        wanted = wanted_taints(node)
        ours = {UNREACHABLE, NOT_READY, UNSCHEDULABLE}
        kept: list[dict[str, Any]] = []
        changed = False
        for t in node.taints:
            if t.get("key") in ours and (t.get("key"), t.get("effect")) not in wanted:
                self.api.record("Node", node.name, timeline.UNTAINTED, f"{t['key']}:{t['effect']}")
                changed = True
                continue
            kept.append(t)
        present = {(t.get("key"), t.get("effect")) for t in kept}
        for key, effect in wanted:
            if (key, effect) in present:
                continue
            taint: dict[str, Any] = {"key": key, "effect": effect}
            if effect == "NoExecute":
                taint["timeAdded"] = objects.timestamp(self.api.now_s)
            kept.append(taint)
            self.api.record("Node", node.name, timeline.TAINTED, f"{key}:{effect}", key=key, effect=effect)
            changed = True
        if changed:
            node.taints = kept
        return changed
