"""The policy/v1 Eviction API: the pods/eviction subresource of the simulated API server.

Upstream: kubernetes v1.35 pkg/registry/core/pod/storage/eviction.go, EvictionREST.Create:
- a pod that ``canIgnorePDB`` (phase Succeeded, Failed or Pending, or already being deleted) is
  deleted without looking at budgets;
- ``getPodDisruptionBudgets``: the PDBs of the pod's namespace whose selector matches its labels
  (an empty selector matches nothing here, unlike the disruption controller's);
  more than one is a 500 ("This pod has more than one PodDisruptionBudget, which the eviction
  subresource does not support.");
- a pod that is not Ready, while the budget is met (currentHealthy >= desiredHealthy > 0), is
  deleted without using up a disruption (unhealthyPodEvictionPolicy IfHealthyBudget, the default);
- ``checkAndDecrement``: a budget whose status is older than its spec (observedGeneration <
  generation) or with disruptionsAllowed 0 answers 429 TooManyRequests "Cannot evict pod as it
  would violate the pod's disruption budget." with a DisruptionBudget cause ("The disruption
  budget NAME needs N healthy pods and has M currently"); a negative disruptionsAllowed is a 403;
  otherwise disruptionsAllowed goes down by one and the pod is written to status.disruptedPods
  (the disruption controller, sim/disruption.py, drops it again after DeletionTimeout, 2 min,
  if the pod is not deleted by then);
- the pod gets the DisruptionTarget condition (reason EvictionByEvictionAPI, "Eviction API:
  evicting") and is deleted gracefully with the eviction's deleteOptions (its own
  terminationGracePeriodSeconds unless a grace period is given).
Docs: https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/ and
https://kubernetes.io/docs/tasks/run-application/configure-pdb/ ("Unhealthy Pod Eviction Policy").
Not modelled: unhealthyPodEvictionPolicy AlwaysAllow (refused when a PDB is applied), dry run,
the DisruptedPods size limit (2000), preconditions on the pod's UID or resourceVersion.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from slolab.run import timeline
from slolab.sim import controller, disruption, objects, store

if TYPE_CHECKING:
    from slolab.sim import cluster as cluster_mod

TOO_MANY_REQUESTS = 429
MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."


@dataclasses.dataclass
class EvictionError(Exception):
    """The API server refused the eviction: ``code`` is the HTTP status, ``causes`` the
    StatusCause messages (``kubectl`` prints the message, the causes are in the Status body)."""

    code: int
    message: str
    causes: list[str] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        return self.message

    @property
    def too_many_requests(self) -> bool:
        """apierrors.IsTooManyRequests: retry later (a budget forbids it now)."""
        return self.code == TOO_MANY_REQUESTS


def can_ignore_pdb(pod: objects.Pod) -> bool:
    """canIgnorePDB: a finished, pending or terminating pod is deleted without a budget check."""
    return pod.phase in {"Succeeded", "Failed", "Pending"} or pod.terminating


def budgets_for(st: store.Store, pod: objects.Pod) -> list[store.Generic]:
    """getPodDisruptionBudgets: PDBs of the pod's namespace whose non-empty selector matches it."""
    out = []
    for pdb in st.list("policy/v1", "PodDisruptionBudget", pod.namespace):
        selector = pdb.spec.get("selector") or {}
        if not selector.get("matchLabels"):
            continue  # a nil or empty selector matches nothing here
        if controller.labels_selected(selector, pod.labels):
            out.append(pdb)
    return out


def evict(cluster: cluster_mod.Cluster, pod: objects.Pod, grace_period_s: float | None = None) -> None:
    """POST pods/<name>/eviction. Raises EvictionError (429 when a budget forbids it)."""
    st = cluster.store
    if st.get("v1", "Pod", pod.name, pod.namespace) is not pod:
        raise EvictionError(404, f'pods "{pod.name}" not found')
    if can_ignore_pdb(pod):
        _delete(cluster, pod, grace_period_s)
        return
    pdbs = budgets_for(st, pod)
    if len(pdbs) > 1:
        raise EvictionError(
            500,
            "This pod has more than one PodDisruptionBudget, "
            "which the eviction subresource does not support.",
        )
    if pdbs:
        pdb = pdbs[0]
        status = pdb.status
        healthy, desired = int(status.get("currentHealthy", 0)), int(status.get("desiredHealthy", 0))
        if not (not pod.ready and healthy >= desired and desired > 0):
            check_and_decrement(cluster, pdb, pod)
    _delete(cluster, pod, grace_period_s)


def check_and_decrement(cluster: cluster_mod.Cluster, pdb: store.Generic, pod: objects.Pod) -> None:
    """checkAndDecrement: use up one of the budget's allowed disruptions, or refuse."""
    status = pdb.status
    name = pdb.meta.name
    if int(status.get("observedGeneration", 0)) < pdb.meta.generation:
        _refused(cluster, pod, [f"The disruption budget {name} is still being processed by the server."])
    allowed = int(status.get("disruptionsAllowed", 0))
    if allowed < 0:
        raise EvictionError(403, "pdb disruptions allowed is negative")
    if allowed == 0:
        _refused(
            cluster,
            pod,
            [
                f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} healthy pods "
                f"and has {status.get('currentHealthy', 0)} currently"
            ],
        )
    disrupted = dict(status.get("disruptedPods") or {})
    disrupted[pod.name] = objects.timestamp(cluster.now_s)
    pdb.status = {**status, "disruptionsAllowed": allowed - 1, "disruptedPods": disrupted}
    for c in cluster.controllers:
        if isinstance(c, disruption.Controller):
            c.note_disruption(pdb, pod)
    cluster.store.update(pdb)


def _refused(cluster: cluster_mod.Cluster, pod: objects.Pod, causes: list[str]) -> None:
    cluster.record(
        "Pod", pod.name, timeline.EVICTION_REFUSED, f"{MESSAGE} {' '.join(causes)}", timeline.WARNING
    )
    raise EvictionError(TOO_MANY_REQUESTS, MESSAGE, causes)


def _delete(cluster: cluster_mod.Cluster, pod: objects.Pod, grace_period_s: float | None) -> None:
    if not pod.terminating:
        pod.set_condition("DisruptionTarget", True, cluster.now_s, "EvictionByEvictionAPI")
        cluster.record("Pod", pod.name, timeline.EVICTED, "Eviction API: evicting")
    cluster.store.delete(pod, grace_period_s=grace_period_s)
