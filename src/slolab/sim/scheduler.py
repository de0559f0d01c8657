"""kube-scheduler: filter nodes, score the rest, bind; FailedScheduling when none fits.

Upstream: kubernetes v1.35 pkg/scheduler/framework/plugins/{noderesources/fit.go,
nodeaffinity, tainttoleration, nodeunschedulable} and schedule_one.go. Modelled filters:
NodeUnschedulable, NodeResourcesFit (requests, extended resources such as nvidia.com/gpu,
pod count), NodeAffinity (nodeSelector and required node affinity with In, NotIn, Exists,
DoesNotExist, Gt, Lt), TaintToleration (NoSchedule and NoExecute taints must be tolerated).
Score: NodeResourcesFit LeastAllocated; ties broken at random (selectHost). The failure message
has upstream's shape: "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, …".
Runs as a watch-driven controller: pending pods are (re)tried, oldest first, whenever a pod or
node changes (the scheduling queue's move-on-cluster-event). Binding sets spec.nodeName and the
pod IP; the node's kubelet picks the pod up from its watch. A NotReady node is not filtered out:
that needs the node lifecycle controller's not-ready taint, which is not modelled yet.
Not modelled: preferred affinity, inter-pod (anti-)affinity, topology spread, preemption.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from slolab.run import timeline
from slolab.sim import controller, objects


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, str]) -> bool:
    """v1helper.TolerationsTolerateTaint."""
    for tol in tolerations or []:
        effect = tol.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        key = tol.get("key")
        op = tol.get("operator", "Equal")
        if not key:
            if op == "Exists":
                return True
            continue
        if key != taint.get("key"):
            continue
        if op == "Exists" or (op == "Equal" and str(tol.get("value", "")) == taint.get("value", "")):
            return True
    return False


def _expression_matches(expr: dict[str, Any], labels: dict[str, str]) -> bool:
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


def node_affinity_matches(spec: dict[str, Any], node: objects.Node) -> bool:
    if not objects.labels_match(spec.get("nodeSelector") or {}, node.labels):
        return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    return any(
        all(_expression_matches(e, node.labels) for e in term.get("matchExpressions") or []) for term in terms
    )


POD_FIELDS = (
    "nodeSelector.*",
    "tolerations[*].*",
    *(
        f"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[*]"
        f".matchExpressions[*].{f}"
        for f in ("key", "operator", "values[*]")
    ),
    "containers[*].resources.requests.*",
    "containers[*].resources.limits.*",
)
POD_INERT = ("schedulerName",)


class Scheduler(controller.Controller):
    """Schedules pending pods in creation order, the moment they appear or the cluster changes."""

    name = "scheduler"
    watches = (("v1", "Pod"), ("v1", "Node"))
    pod_fields = POD_FIELDS
    pod_inert = POD_INERT

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.rng = api.rng("scheduler")
        self.last_failure: dict[str, str] = {}
        self._ip = 0

    def reconcile(self) -> bool:
        api = self.api
        st = api.store
        pods = st.list("v1", "Pod")
        pending = sorted((p for p in pods if p.node is None and not p.terminating), key=lambda p: p.created_s)
        nodes = st.list("v1", "Node")
        changed = False
        for pod in pending:
            node, message = self.schedule(pod, nodes, st.list("v1", "Pod"))
            if node is None:
                if self.last_failure.get(pod.name) != message:
                    self.last_failure[pod.name] = message
                    pod.set_condition("PodScheduled", False, api.now_s, "Unschedulable")
                    api.record("Pod", pod.name, timeline.FAILED_SCHEDULING, message, timeline.WARNING)
                    st.update(pod)
                continue
            self.bind(pod, node, nodes.index(node))
            changed = True
        return changed

    def bind(self, pod: objects.Pod, node: objects.Node, node_index: int) -> None:
        api = self.api
        pod.node = node.name
        self._ip += 1
        pod.ip = f"10.244.{node_index + 1}.{self._ip % 250 + 2}"
        pod.set_condition("PodScheduled", True, api.now_s)
        api.record(
            "Pod",
            pod.name,
            timeline.SCHEDULED,
            f"Successfully assigned {pod.namespace}/{pod.name} to {node.name}",
            node=node.name,
        )
        api.store.update(pod)

    def allocated(self, node: objects.Node, pods: list[objects.Pod]) -> dict[str, Decimal]:
        used: dict[str, Decimal] = {}
        for pod in pods:
            if pod.node == node.name and pod.phase not in {"Succeeded", "Failed"}:
                for k, v in pod.requests().items():
                    used[k] = used.get(k, Decimal(0)) + v
        return used

    def filter(self, pod: objects.Pod, node: objects.Node, used: dict[str, Decimal]) -> str | None:
        """None when the pod fits ``node``, else upstream's reason string."""
        if node.unschedulable:
            return "node(s) were unschedulable"
        for taint in node.taints:
            if taint.get("effect") in {"NoSchedule", "NoExecute"} and not tolerates(
                pod.spec.get("tolerations") or [], taint
            ):
                value = f"={taint['value']}" if taint.get("value") else ""
                return f"node(s) had untolerated taint {{{taint['key']}{value}: }}"
        if not node_affinity_matches(pod.spec, node):
            return "node(s) didn't match Pod's node affinity/selector"
        for name, want in pod.requests().items():
            if want and used.get(name, Decimal(0)) + want > node.allocatable.get(name, Decimal(0)):
                return "Too many pods" if name == "pods" else f"Insufficient {name}"
        return None

    def schedule(
        self, pod: objects.Pod, nodes: list[objects.Node], pods: list[objects.Pod]
    ) -> tuple[objects.Node | None, str]:
        """Pick a node for ``pod``; (None, message) when no node fits."""
        reasons: Counter[str] = Counter()
        feasible: list[tuple[float, objects.Node]] = []
        for node in nodes:
            used = self.allocated(node, pods)
            reason = self.filter(pod, node, used)
            if reason:
                reasons[reason] += 1
                continue
            feasible.append((self._score(pod, node, used), node))
        if not feasible:
            detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: kv[0]))
            msg = (
                f"0/{len(nodes)} nodes are available: {detail}. preemption: 0/{len(nodes)} nodes are "
                "available: not modelled by the simulator."
            )
            return None, msg
        best = max(score for score, _ in feasible)
        choices = [node for score, node in feasible if score == best]
        return self.rng.choice(choices), ""

    @staticmethod
    def _score(pod: objects.Pod, node: objects.Node, used: dict[str, Decimal]) -> float:
        """LeastAllocated over cpu and memory (default weights 1:1), 0..100."""
        scores = []
        for name in ("cpu", "memory"):
            cap = node.allocatable.get(name, Decimal(0))
            if cap <= 0:
                continue
            want = used.get(name, Decimal(0)) + pod.requests().get(name, Decimal(0))
            scores.append(float((cap - want) * 100 / cap))
        return round(sum(scores) / len(scores)) if scores else 0.0
