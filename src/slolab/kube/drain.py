"""``kubectl drain NODE`` against a live API server, for graders on kind and clusters.

It follows the same upstream as the simulator's sim/drain.py: kubernetes v1.35
staging/src/k8s.io/kubectl/pkg/drain: cordon.go (CordonHelper.PatchOrReplaceWithContext: a patch
of spec.unschedulable), filters.go (GetPodsForDeletion: DaemonSet pods skipped with
--ignore-daemonsets, pods with no controller refused without --force, finished pods evicted
whatever else holds), drain.go (evictPods: each pod through the policy/v1 Eviction subresource;
on 429 TooManyRequests "error when evicting pods/NAME -n NS (will retry after 5s): ..." and
again 5 s later, until --timeout; then waitForDelete polls every second until the pod, by UID,
is gone; "drain did not complete within <timeout>" when the timeout passes).
Docs: https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/.

What differs from kubectl: only the pods of the lab's namespace are evicted (the grader's
rights stop there; the platform's pods on the node stay), and the pods are tried in turn on one
thread rather than one goroutine each (the order of 429 retries is the same: every 5 s per pod).
Cordon and uncordon are merge patches of the Node, as ``kubectl cordon`` sends.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from slolab import errors
from slolab.kube import client as client_mod
from slolab.run import timeline

RETRY_S = 5.0  # evictPods: time.Sleep(5 * time.Second) after a 429
POLL_S = 1.0  # waitForDelete's interval

#: record(kind, name, reason, message, type): puts one event on the run's timeline now.
Record = Callable[..., None]


@dataclasses.dataclass
class Drain:
    """One ``kubectl drain``: its options, its output lines and how it ended (as sim/drain.Drain)."""

    node: str
    namespace: str
    timeout_s: float | None = None  # --timeout (None: wait for ever)
    started_s: float = 0.0
    finished_s: float | None = None
    error: str | None = None
    output: list[str] = dataclasses.field(default_factory=list)
    evicted: list[str] = dataclasses.field(default_factory=list)
    thread: threading.Thread | None = None

    @property
    def done(self) -> bool:
        return self.finished_s is not None and self.error is None


def cordon(kube: client_mod.Kube, node: str, unschedulable: bool = True) -> bool:
    """``kubectl cordon`` / ``uncordon``; False when the node already was so."""
    obj = kube.get("Node", node)
    if obj is None:
        raise errors.BackendError(
            f"no Node {node!r} on {kube.where}", "Check `kubectl get nodes`: the lab drains one of them."
        )
    if bool((obj.get("spec") or {}).get("unschedulable")) == unschedulable:
        return False
    kube.patch("Node", node, {"spec": {"unschedulable": unschedulable or None}})
    return True


def pods_for_deletion(kube: client_mod.Kube, drain: Drain) -> tuple[list[dict[str, Any]], list[str]]:
    """GetPodsForDeletion over the lab's namespace: the pods to evict and the errors that stop
    the drain (--ignore-daemonsets and --delete-emptydir-data given, --force not)."""
    pods, problems = [], []
    for pod in kube.list("Pod", drain.namespace):
        if (pod.get("spec") or {}).get("nodeName") != drain.node:
            continue
        meta = pod["metadata"]
        phase = (pod.get("status") or {}).get("phase")
        owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
        if phase in ("Succeeded", "Failed"):
            pods.append(pod)
        elif owner is not None and owner.get("kind") == "DaemonSet":
            continue
        elif owner is None:
            problems.append(
                f"cannot delete Pods that declare no controller (use --force to override): {meta['name']}"
            )
        else:
            pods.append(pod)
    return pods, problems


def start(
    kube: client_mod.Kube,
    drain: Drain,
    now_s: Callable[[], float],
    record: Record,
    *,
    retry_s: float = RETRY_S,
    poll_s: float = POLL_S,
    stop: threading.Event | None = None,
) -> Drain:
    """Cordon now and evict on a thread; ``drain.finished_s`` is set when it has ended."""
    if cordon(kube, drain.node):
        record(
            "Node",
            drain.node,
            timeline.NODE_NOT_SCHEDULABLE,
            f"Node {drain.node} status is now: NodeNotSchedulable",
        )
    drain.started_s = now_s()
    drain.output.append(f"node/{drain.node} cordoned")
    record("Node", drain.node, timeline.DRAIN_STARTED, f"kubectl drain {drain.node}")
    wait = stop or threading.Event()
    drain.thread = threading.Thread(
        target=_run,
        args=(kube, drain, now_s, record, retry_s, poll_s, wait),
        name="slolab-drain",
        daemon=True,
    )
    drain.thread.start()
    return drain


def _run(
    kube: client_mod.Kube,
    drain: Drain,
    now_s: Callable[[], float],
    record: Record,
    retry_s: float,
    poll_s: float,
    stop: threading.Event,
) -> None:
    try:
        error = _evict_all(kube, drain, now_s, record, retry_s, poll_s, stop)
    except errors.SlolabError as exc:
        error = str(exc)
    drain.finished_s = now_s()
    if error is None:
        drain.output.append(f"node/{drain.node} drained")
        record("Node", drain.node, timeline.DRAINED, f"node/{drain.node} drained")
    else:
        drain.error = error
        drain.output.append(f"error: {error}")
        record("Node", drain.node, timeline.DRAIN_FAILED, error, timeline.WARNING)


def _evict_all(
    kube: client_mod.Kube,
    drain: Drain,
    now_s: Callable[[], float],
    record: Record,
    retry_s: float,
    poll_s: float,
    stop: threading.Event,
) -> str | None:
    pods, problems = pods_for_deletion(kube, drain)
    if problems:
        return "; ".join(problems)
    deadline = None if drain.timeout_s is None else drain.started_s + drain.timeout_s
    timed_out = f"drain did not complete within {drain.timeout_s:g}s"
    pending = {p["metadata"]["name"]: p for p in pods}
    uids = {name: p["metadata"].get("uid") for name, p in pending.items()}
    next_try = dict.fromkeys(pending, 0.0)
    for name in pending:
        drain.output.append(f"evicting pod {drain.namespace}/{name}")
    while pending:  # evictPods: each pod until it is evicted, 429s retried every retry_s
        for name in sorted(pending):
            if now_s() < next_try[name]:
                continue
            try:
                kube.evict(name, drain.namespace)
            except client_mod.NotFound:
                del pending[name]
                continue
            except client_mod.TooManyRequests as exc:
                why = " ".join([exc.message, *exc.causes])
                where = f'pods/"{name}" -n "{drain.namespace}"'
                drain.output.append(f"error when evicting {where} (will retry after {retry_s:g}s): {why}")
                record("Pod", name, timeline.EVICTION_REFUSED, why, timeline.WARNING)
                next_try[name] = now_s() + retry_s
                continue
            del pending[name]
            drain.evicted.append(name)
            record("Pod", name, timeline.EVICTED, "Eviction API: evicting")
        if not pending:
            break
        if deadline is not None and now_s() >= deadline:
            return timed_out
        soonest = min(next_try[n] for n in pending) - now_s()
        if stop.wait(max(0.01, min(poll_s, soonest))):
            return "the drain was stopped"
    while True:  # waitForDelete: until each evicted pod (by UID) is gone
        live = {p["metadata"]["name"]: p["metadata"].get("uid") for p in kube.list("Pod", drain.namespace)}
        left = [n for n in drain.evicted if n in live and live[n] == uids[n]]
        if not left:
            for name in drain.evicted:
                drain.output.append(f"pod/{name} evicted")
            return None
        if deadline is not None and now_s() >= deadline:
            return timed_out
        if stop.wait(poll_s):
            return "the drain was stopped"
