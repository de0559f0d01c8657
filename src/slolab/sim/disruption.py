"""Disruption controller: the status of every PodDisruptionBudget.

Upstream: kubernetes v1.35 pkg/controller/disruption/disruption.go: trySync, getPodsForPdb (the
selector over the PDB's namespace; an empty selector selects every pod), getExpectedPodCount
(maxUnavailable: expectedPods from the owners' scale, maxUnavailable scaled rounding up,
desiredHealthy = expected - maxUnavailable, at least 0; minAvailable as an int: desiredHealthy is
that int and expectedPods the number of selected pods; minAvailable as a percent: expectedPods
from the owners' scale, desiredHealthy scaled rounding up), getExpectedScale and its finders
(getPodDeployment: a pod's ReplicaSet owned by a Deployment counts the Deployment's
spec.replicas; getPodReplicaSet: a ReplicaSet owned by anything else counts its own
spec.replicas; getScaleController: any other owner with the scale subresource, its
spec.replicas; a pod with no controller is unmanaged; an owner that cannot be found fails the
sync), countHealthyPods (Ready, not being deleted, not in disruptedPods within
DeletionTimeout = 2 min), buildDisruptedPodMap (entries expire after DeletionTimeout, with a
recheck then), updatePdbStatus (disruptionsAllowed = currentHealthy - desiredHealthy, 0 when
negative or when expectedPods is 0; observedGeneration) and failSafe (disruptionsAllowed 0,
condition reason SyncFailed); k8s.io/component-helpers/apps/poddisruptionbudget
UpdateDisruptionAllowedCondition (DisruptionAllowed True/SufficientPods when disruptions are
allowed, False/InsufficientPods otherwise). Events NoPods and UnmanagedPods are recorded when
they start to apply (upstream repeats them on every sync; the event recorder folds repeats).
Not modelled: the Eviction API that consumes disruptionsAllowed and writes disruptedPods (issue
12: it would call ``disruptions_allowed`` and add to ``status.disruptedPods``), the
stale-DisruptionTarget-condition worker, unhealthyPodEvictionPolicy and matchExpressions
(refused when applied), ReplicationControllers and StatefulSets.
"""

from __future__ import annotations

import math
from typing import Any

from slolab.run import timeline
from slolab.sim import controller, objects, store

DELETION_TIMEOUT_S = 120.0

KIND = controller.Kind(
    "policy/v1",
    "PodDisruptionBudget",
    fields=(
        *controller.META_FIELDS,
        "spec.minAvailable",
        "spec.maxUnavailable",
        "spec.selector.matchLabels.*",
    ),
    new=lambda meta, spec: store.Generic("policy/v1", "PodDisruptionBudget", meta, spec),
)


class SyncError(Exception):
    """trySync failed; the PDB falls back to failSafe."""


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SyncError(f"invalid value for IntOrString: {value!r}")
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise SyncError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")
    try:
        pct = int(value[:-1])
    except ValueError as exc:
        raise SyncError(f"invalid value for IntOrString: {value!r}") from exc
    x = pct * total / 100
    return math.ceil(x) if round_up else math.floor(x)


class Controller(controller.Controller):
    """trySync for every PodDisruptionBudget when a PDB, a pod or a pod's owner changes."""

    name = "disruption"
    owns = (KIND,)
    watches = (
        ("policy/v1", "PodDisruptionBudget"),
        ("v1", "Pod"),
        ("apps/v1", "ReplicaSet"),
        ("apps/v1", "Deployment"),
    )

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self._noted: dict[tuple[str, str], str] = {}
        self.disrupted: dict[str, dict[str, float]] = {}  # PDB uid -> pod name -> eviction time

    def note_disruption(self, pdb: store.Generic, pod: objects.Pod) -> None:
        """What the Eviction API does when it admits an eviction (status.disruptedPods)."""
        self.disrupted.setdefault(pdb.meta.uid, {})[pod.name] = self.api.now_s
        self.api.enqueue(self)

    def reconcile(self) -> bool:
        changed = False
        for pdb in self.api.store.list("policy/v1", "PodDisruptionBudget"):
            changed |= self.sync(pdb)
        return changed

    def pods_for(self, pdb: store.Generic) -> list[objects.Pod]:
        """getPodsForPdb."""
        selector = pdb.spec.get("selector") or {}
        pods = self.api.store.list("v1", "Pod", pdb.meta.namespace)
        return [p for p in pods if controller.labels_selected(selector, p.labels)]

    def disruptions_allowed(self, pdb: store.Generic) -> int:
        """What the Eviction API would check before it evicts a pod the PDB selects."""
        return int(pdb.status.get("disruptionsAllowed", 0))

    def sync(self, pdb: store.Generic) -> bool:
        now_s = self.api.now_s
        pods = self.pods_for(pdb)
        try:
            expected, desired, unmanaged = self.expected_pod_count(pdb, pods)
        except SyncError as exc:
            self._note(
                pdb,
                timeline.CALCULATE_EXPECTED_POD_COUNT_FAILED,
                f"Failed to calculate the number of expected pods: {exc}",
            )
            return self._write(pdb, self._fail_safe(pdb, str(exc)))
        if not pods:
            self._note(pdb, timeline.NO_PODS, "No matching pods found", timeline.NORMAL)
        elif unmanaged:
            self._note(
                pdb,
                "UnmanagedPods",
                "Pods selected by this PodDisruptionBudget were found to be unmanaged: "
                + ", ".join(unmanaged),
            )
        else:
            self._noted.pop((pdb.meta.namespace, pdb.meta.name), None)
        disrupted, recheck_s = self._disrupted_pods(pdb, pods, now_s)
        healthy = sum(
            1
            for p in pods
            if not p.terminating
            and not (p.name in disrupted and disrupted[p.name] + DELETION_TIMEOUT_S > now_s)
            and p.ready
        )
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        status: dict[str, Any] = {
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "disruptionsAllowed": allowed,
            "observedGeneration": pdb.meta.generation,
        }
        if disrupted:
            status["disruptedPods"] = {name: objects.timestamp(t) for name, t in disrupted.items()}
        status["conditions"] = [
            self._condition(pdb, allowed > 0, "SufficientPods" if allowed > 0 else "InsufficientPods", "")
        ]
        if recheck_s is not None:
            self.api.requeue_at(self, recheck_s)
        return self._write(pdb, status)

    def expected_pod_count(self, pdb: store.Generic, pods: list[objects.Pod]) -> tuple[int, int, list[str]]:
        """getExpectedPodCount: (expectedPods, desiredHealthy, unmanaged pod names)."""
        spec = pdb.spec
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = self.expected_scale(pods)
            max_unavailable = scaled_value(spec["maxUnavailable"], expected, True)
            return expected, max(0, expected - max_unavailable), unmanaged
        min_available = spec.get("minAvailable")
        if min_available is None:
            return 0, 0, []
        if isinstance(min_available, int) and not isinstance(min_available, bool):
            return len(pods), min_available, []
        expected, unmanaged = self.expected_scale(pods)
        return expected, scaled_value(min_available, expected, True), unmanaged

    def expected_scale(self, pods: list[objects.Pod]) -> tuple[int, list[str]]:
        """getExpectedScale: the sum of the scale of every controller of the selected pods."""
        st = self.api.store
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = pod.meta.controller_ref()
            if ref is None:
                unmanaged.append(pod.name)
                continue
            if ref.uid in scales:
                continue
            owner = st.by_uid(ref.uid)
            if owner is None or owner.meta.name != ref.name:
                raise SyncError(f"found no controllers for pod {pod.name!r}")
            if owner.kind == "ReplicaSet":
                top = st.owner_of(owner)
                if top is not None and top.kind == "Deployment":  # getPodDeployment
                    scales[top.meta.uid] = int(top.spec.get("replicas", 1))
                    continue
            if "replicas" not in owner.spec and owner.kind not in {"ReplicaSet", "Deployment"}:
                raise SyncError(f"{owner.kind} {owner.meta.name!r} does not implement the scale subresource")
            # getPodReplicaSet / getScaleController
            scales[owner.meta.uid] = int(owner.spec.get("replicas", 1))
        return sum(scales.values()), unmanaged

    def _disrupted_pods(
        self, pdb: store.Generic, pods: list[objects.Pod], now_s: float
    ) -> tuple[dict[str, float], float | None]:
        """buildDisruptedPodMap over the times the Eviction API recorded (``note_disruption``)."""
        recorded = self.disrupted.get(pdb.meta.uid, {})
        result: dict[str, float] = {}
        recheck: float | None = None
        for pod in pods:
            if pod.terminating or pod.name not in recorded:
                continue
            expires = recorded[pod.name] + DELETION_TIMEOUT_S
            if expires < now_s:
                self.api.record(
                    "Pod",
                    pod.name,
                    timeline.NOT_DELETED,
                    f"Pod was expected by PDB {pdb.meta.namespace}/{pdb.meta.name} "
                    "to be deleted but it wasn't",
                    timeline.WARNING,
                )
                continue
            result[pod.name] = recorded[pod.name]
            recheck = expires if recheck is None else min(recheck, expires)
        self.disrupted[pdb.meta.uid] = result
        return result, recheck

    def _fail_safe(self, pdb: store.Generic, message: str) -> dict[str, Any]:
        status = {k: v for k, v in pdb.status.items() if k != "conditions"}
        status["disruptionsAllowed"] = 0
        status["conditions"] = [self._condition(pdb, False, "SyncFailed", message)]
        return status

    def _condition(self, pdb: store.Generic, allowed: bool, reason: str, message: str) -> dict[str, Any]:
        """apimeta.SetStatusCondition: lastTransitionTime moves only when the status does."""
        status = "True" if allowed else "False"
        old = next((c for c in pdb.status.get("conditions") or [] if c["type"] == "DisruptionAllowed"), None)
        since = (
            old["lastTransitionTime"]
            if old and old["status"] == status
            else objects.timestamp(self.api.now_s)
        )
        return {
            "type": "DisruptionAllowed",
            "status": status,
            "reason": reason,
            "message": message,
            "observedGeneration": pdb.status.get("observedGeneration", pdb.meta.generation),
            "lastTransitionTime": since,
        }

    def _write(self, pdb: store.Generic, status: dict[str, Any]) -> bool:
        if status == pdb.status:
            return False
        pdb.status = status
        self.api.store.update(pdb)
        return True

    def _note(self, pdb: store.Generic, reason: str, message: str, type_: str = timeline.WARNING) -> None:
        key = (pdb.meta.namespace, pdb.meta.name)
        if self._noted.get(key) == reason:
            return
        self._noted[key] = reason
        self.api.record("PodDisruptionBudget", pdb.meta.name, reason, message, type_)
