"""Taint eviction controller: delete pods that do not tolerate their node's NoExecute taints.

Upstream: kubernetes v1.35 pkg/controller/tainteviction/taint_eviction.go (processPodOnNode:
a pod bound to a node with NoExecute taints is deleted at once when one of them is not
tolerated; when all are, after the smallest tolerationSeconds among the matching tolerations
(getMinTolerationTime; a toleration without tolerationSeconds tolerates forever, and a
negative value means 0), counted from when the controller first saw the pod under those taints;
the scheduled deletion is cancelled when the taints go; addConditionAndDeletePod: the
DisruptionTarget condition with reason DeletionByTaintManager, then a delete with the pod's own
grace period; events TaintManagerEviction "Marking for deletion Pod <ns>/<name>" and
"Cancelling deletion of Pod <ns>/<name>"). Docs: "Taints and Tolerations", taint based
evictions. It acts on any NoExecute taint, whoever set it (kubectl, the node lifecycle
controller's node.kubernetes.io/not-ready and unreachable). Not modelled: the rate limits of
the node lifecycle controller's zone eviction (that controller's own work).
"""

from __future__ import annotations

from typing import Any

from slolab.run import timeline
from slolab.sim import controller, objects, sched_taints

NO_EXECUTE = frozenset({"NoExecute"})


def min_toleration_s(tolerations: list[dict[str, Any]], taints: list[dict[str, Any]]) -> float | None:
    """getMinTolerationTime over the tolerations that match ``taints``; None means forever."""
    lowest: float | None = None
    for taint in taints:
        for tol in tolerations:
            if not sched_taints.tolerates_taint(tol, taint):
                continue
            seconds = tol.get("tolerationSeconds")
            if seconds is None:
                continue
            value = max(0.0, float(seconds))
            lowest = value if lowest is None else min(lowest, value)
    return lowest


class Controller(controller.Controller):
    """The taint eviction controller (the former NoExecuteTaintManager)."""

    name = "taint-eviction-controller"
    watches = (("v1", "Pod"), ("v1", "Node"))

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.since: dict[str, float] = {}  # pod uid -> when its node's tolerated NoExecute taints were seen
        self._due: set[float] = set()  # requeues already asked for

    def reconcile(self) -> bool:
        st = self.api.store
        now = self.api.now_s
        nodes = {n.name: n for n in st.list("v1", "Node")}
        changed = False
        seen: set[str] = set()
        for pod in st.list("v1", "Pod"):
            if pod.node is None or pod.terminating:
                continue
            node = nodes.get(pod.node)
            taints = [t for t in node.taints if t.get("effect") == "NoExecute"] if node else []
            uid = pod.meta.uid
            if not taints:
                if uid in self.since:
                    del self.since[uid]
                    self.api.record(
                        "Pod",
                        pod.name,
                        timeline.TAINT_MANAGER_EVICTION,
                        f"Cancelling deletion of Pod {pod.namespace}/{pod.name}",
                    )
                continue
            tolerations = pod.spec.get("tolerations") or []
            if sched_taints.untolerated(taints, tolerations, NO_EXECUTE) is not None:
                self.evict(pod)
                changed = True
                continue
            wait_s = min_toleration_s(tolerations, taints)
            if wait_s is None:
                continue
            seen.add(uid)
            start = self.since.setdefault(uid, now)
            if now >= start + wait_s:
                self.evict(pod)
                changed = True
            elif start + wait_s not in self._due:
                self._due.add(start + wait_s)
                self.api.requeue_at(self, start + wait_s)
        for uid in list(self.since):
            if uid not in seen and st.by_uid(uid) is None:
                del self.since[uid]
        return changed

    def evict(self, pod: objects.Pod) -> None:
        """addConditionAndDeletePod."""
        api = self.api
        self.since.pop(pod.meta.uid, None)
        pod.set_condition("DisruptionTarget", True, api.now_s, "DeletionByTaintManager")
        api.record(
            "Pod",
            pod.name,
            timeline.TAINT_MANAGER_EVICTION,
            f"Marking for deletion Pod {pod.namespace}/{pod.name}",
            node=pod.node,
        )
        api.store.delete(pod)
