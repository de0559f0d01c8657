"""DaemonSet controller: one pod per eligible node, placed by the default scheduler.

Upstream: kubernetes v1.35 pkg/controller/daemon/daemon_controller.go (manage: for each node,
NodeShouldRunDaemonPod decides shouldRun and shouldContinueRunning; a missing pod is created
where it should run, pods are deleted where they should not continue, failed pods are deleted
so that they are replaced; status: desiredNumberScheduled, currentNumberScheduled,
numberMisscheduled, numberReady, numberAvailable, updatedNumberScheduled) and
pkg/controller/daemon/util/daemonset_util.go (NewPod from the template;
AddOrUpdateDaemonPodTolerations: node.kubernetes.io/not-ready and unreachable NoExecute,
disk-pressure, memory-pressure, pid-pressure and unschedulable NoSchedule, and
network-unavailable NoSchedule for hostNetwork pods, all with operator Exists;
ReplaceDaemonSetPodNodeNameNodeAffinity: required node affinity matchFields metadata.name In
[the node], so the scheduler binds the pod there). NodeShouldRunDaemonPod checks the template's
nodeSelector and required node affinity against the node, and its taints, NoSchedule and
NoExecute, against the pod's tolerations: a node with a taint the pod does not tolerate gets no
pod at all (none Pending), and a NoExecute one also removes a pod already there. Docs:
"DaemonSet" (kubernetes.io/docs/concepts/workloads/controllers/daemonset/), "How Daemon Pods
are scheduled" and "Taints and tolerations". A grade applies the workspace once, so template
updates (updateStrategy) never happen on the simulator and are inert.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

from slolab.run import timeline
from slolab.sim import controller, objects, sched_nodeaffinity, sched_taints, store

DAEMONSET = ("apps/v1", "DaemonSet")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

AUTO_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_UNAVAILABLE = {
    "key": "node.kubernetes.io/network-unavailable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


@dataclasses.dataclass(eq=False)
class DaemonSet:
    api_version: ClassVar[str] = DAEMONSET[0]
    kind: ClassVar[str] = DAEMONSET[1]

    meta: store.Meta
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def template(self) -> dict[str, Any]:
        return self.spec["template"]

    def to_api(self, now_s: float, st: store.Store) -> dict[str, Any]:
        pods = [p for p in st.dependents(self) if p.active]
        nodes = {n.name: n for n in st.list("v1", "Node")}
        desired = [n for n in nodes.values() if should_run(self, n)[0]]
        scheduled = [p for p in pods if p.node is not None]
        misscheduled = [p for p in scheduled if p.node in nodes and not should_run(self, nodes[p.node])[0]]
        ready = [p for p in scheduled if p.ready]
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.meta.to_api(),
            "spec": copy.deepcopy(self.spec),
            "status": {
                "desiredNumberScheduled": len(desired),
                "currentNumberScheduled": len(scheduled) - len(misscheduled),
                "numberMisscheduled": len(misscheduled),
                "numberReady": len(ready),
                "numberAvailable": len(ready),
                "updatedNumberScheduled": len(scheduled),
                "observedGeneration": self.meta.generation,
            },
        }


def daemon_tolerations(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """AddOrUpdateDaemonPodTolerations: the template's tolerations plus the automatic ones."""
    tolerations = [dict(t) for t in pod_spec.get("tolerations") or []]
    auto = [*AUTO_TOLERATIONS, *([NETWORK_UNAVAILABLE] if pod_spec.get("hostNetwork") else [])]
    for tol in auto:
        if not any(t.get("key") == tol["key"] and t.get("effect") == tol["effect"] for t in tolerations):
            tolerations.append(dict(tol))
    return tolerations


def should_run(ds: DaemonSet, node: objects.Node) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning)."""
    spec = ds.template.get("spec") or {}
    if not sched_nodeaffinity.matches(spec, node):
        return False, False
    taint = sched_taints.untolerated(node.taints, daemon_tolerations(spec), sched_taints.HARD)
    if taint is not None:
        return False, taint.get("effect") != "NoExecute"
    return True, True


def pinned_affinity(spec: dict[str, Any], node_name: str) -> dict[str, Any]:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: required node affinity to ``node_name``."""
    field = {"key": "metadata.name", "operator": "In", "values": [node_name]}
    affinity = copy.deepcopy(spec.get("affinity") or {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms") or [{}]
    for term in terms:
        term["matchFields"] = [field]
    required["nodeSelectorTerms"] = terms
    return affinity


KIND = controller.Kind(
    *DAEMONSET,
    fields=(
        *controller.META_FIELDS,
        "spec.selector.matchLabels.*",
        "spec.template.metadata.labels.*",
        "spec.template.metadata.annotations.*",
        f"spec.template.spec.{controller.POD_SPEC}",
    ),
    inert=("spec.updateStrategy.**", "spec.revisionHistoryLimit", "spec.minReadySeconds"),
    pod_template=("spec", "template"),
    new=lambda meta, spec: DaemonSet(meta, spec),
)


class Controller(controller.Controller):
    """The daemon controller's manage for every DaemonSet."""

    name = "daemonset"
    owns = (KIND,)
    watches = (DAEMONSET, ("v1", "Pod"), ("v1", "Node"))
    # node agents mount the host's paths (the device plugin its kubelet socket folder); nothing the
    # simulator models reads them
    pod_inert = ("volumes[*].hostPath.**",)

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.rng_names = api.rng("daemonset-names")

    def reconcile(self) -> bool:
        st = self.api.store
        nodes = st.list("v1", "Node")
        changed = False
        for ds in st.list(*DAEMONSET):
            changed |= self.manage(ds, nodes)
        return changed

    def manage(self, ds: DaemonSet, nodes: list[objects.Node]) -> bool:
        st = self.api.store
        by_node: dict[str, list[objects.Pod]] = {}
        changed = False
        for pod in st.dependents(ds):
            if pod.terminating:
                continue
            if pod.phase == "Failed":  # deleted so that it is replaced
                self.delete_pod(ds, pod)
                changed = True
                continue
            by_node.setdefault(self._target(pod), []).append(pod)
        for node in nodes:
            run, keep = should_run(ds, node)
            pods = by_node.get(node.name, [])
            if run and not pods:
                self.create_pod(ds, node)
                changed = True
            elif pods and not keep:
                for pod in pods:
                    self.delete_pod(ds, pod)
                changed = True
            elif len(pods) > 1:  # keep the oldest
                for pod in sorted(pods, key=lambda p: p.created_s)[1:]:
                    self.delete_pod(ds, pod)
                changed = True
        return changed

    @staticmethod
    def _target(pod: objects.Pod) -> str:
        """The node a daemon pod is for (bound, or pinned by its node affinity)."""
        if pod.node is not None:
            return pod.node
        terms = sched_nodeaffinity.required_terms(pod.spec) or []
        for term in terms:
            for f in term.get("matchFields") or []:
                if f.get("key") == "metadata.name" and f.get("values"):
                    return str(f["values"][0])
        return ""

    def create_pod(self, ds: DaemonSet, node: objects.Node) -> objects.Pod:
        api = self.api
        suffix = "".join(self.rng_names.choice(_NAME_ALPHABET) for _ in range(5))
        meta = ds.template.get("metadata") or {}
        spec = copy.deepcopy(ds.template.get("spec") or {})
        spec["tolerations"] = daemon_tolerations(spec)
        spec["affinity"] = pinned_affinity(spec, node.name)
        pod = objects.Pod(
            meta=store.Meta(
                name=f"{ds.name}-{suffix}",
                namespace=ds.meta.namespace,
                labels=dict(meta.get("labels") or {}),
                annotations=dict(meta.get("annotations") or {}),
                owner_references=[store.OwnerReference(*DAEMONSET, ds.name, ds.meta.uid)],
            ),
            spec=spec,
            containers=[objects.Container(spec=c) for c in spec.get("containers") or []],
        )
        pod.set_condition("PodScheduled", False, api.now_s)
        api.record("DaemonSet", ds.name, timeline.SUCCESSFUL_CREATE, f"Created pod: {pod.name}", pod=pod.name)
        api.store.create(pod)
        return pod

    def delete_pod(self, ds: DaemonSet, pod: objects.Pod) -> None:
        self.api.record(
            "DaemonSet", ds.name, timeline.SUCCESSFUL_DELETE, f"Deleted pod: {pod.name}", pod=pod.name
        )
        self.api.store.delete(pod)
