"""kubectl drain, uncordon and server-side apply through the kube backend's Cluster view, on the
API emulator (tests/kube_emulator.py: the pods/eviction subresource and its budget check).

Behaviour asserted, as documented:
- https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/: drain cordons the node,
  evicts its pods through the Eviction API and "kubectl drain will retry" while a
  PodDisruptionBudget forbids it; DaemonSet pods are skipped with --ignore-daemonsets;
- https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/: "429 Too Many Requests:
  ... the eviction is not currently allowed because of the configured PodDisruptionBudget";
- https://kubernetes.io/docs/reference/using-api/server-side-apply/: an apply creates the object
  when it is absent, and its managedFields name the field manager.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from slolab import errors
from slolab.backends import kube as kube_backend
from slolab.catalog import yamlfile
from slolab.kube import client as client_mod
from slolab.kube import drain as drain_mod
from slolab.kube import observe
from slolab.run import timeline

NS = "lab-chaos-pod-kill"
LABELS = {"app.kubernetes.io/name": "llm-serving", "app.kubernetes.io/instance": "llm"}


def pod(name: str, node: str, *, ready: bool = True, owner: str = "ReplicaSet") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": dict(LABELS),
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": owner, "name": "x", "uid": "u", "controller": True}
            ],
        },
        "spec": {"nodeName": node, "containers": [{"name": "server", "image": "slolab/serve"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pdb(min_available: int) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "llm", "namespace": NS},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": dict(LABELS)}},
    }


def node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}


class Clock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def now_s(self) -> float:
        return time.monotonic() - self.t0

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@pytest.fixture
def view(emulator):
    kube = client_mod.connect("emu")
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for n in ("slolab-worker2", "slolab-worker3"):
        kube.create(node(n))
    clock = Clock()
    observer = observe.Observer(kube, NS, time.time())
    return kube_backend.KubeClusterView(kube, NS, clock, observer)


def test_eviction_is_refused_with_upstreams_status_while_the_budget_forbids_it(view) -> None:
    kube = view.kube
    for name in ("a", "b"):
        kube.create(pod(name, "slolab-worker2"))
    kube.create(pdb(2))
    with pytest.raises(client_mod.TooManyRequests) as refused:
        kube.evict("a", NS)
    assert refused.value.message == "Cannot evict pod as it would violate the pod's disruption budget."
    assert refused.value.causes == ["The disruption budget llm needs 2 healthy pods and has 2 currently"]
    assert kube.get("Pod", "a", NS) is not None
    kube.create(pod("c", "slolab-worker3"))  # a third Ready pod: one disruption allowed
    kube.evict("a", NS)
    terminating = kube.get("Pod", "a", NS)  # deleted gracefully: Terminating until its kubelet ends it
    assert terminating["metadata"]["deletionTimestamp"]
    kube.delete("Pod", "a", NS)  # the kubelet, once the container stopped
    assert kube.get("Pod", "a", NS) is None


def test_drain_cordons_retries_on_429_until_the_budget_allows_then_waits_for_the_pods(view) -> None:
    kube = view.kube
    kube.create(pod("a", "slolab-worker2"))
    kube.create(pod("b", "slolab-worker3"))
    daemon = pod("ds", "slolab-worker2", owner="DaemonSet")
    daemon["metadata"]["labels"] = {"app": "node-agent"}
    kube.create(daemon)
    kube.create(pdb(2))  # 2 Ready of 2 needed: the eviction of a is refused
    drain = drain_mod.start(
        kube,
        drain_mod.Drain(node="slolab-worker2", namespace=NS, timeout_s=10.0),
        view._clock.now_s,
        lambda kind, name, reason, message="", type_=timeline.NORMAL: view._observer.record(
            view._clock.now_s(), kind, name, reason, message, type=type_
        ),
        retry_s=0.2,
        poll_s=0.05,
    )
    assert kube.get("Node", "slolab-worker2")["spec"]["unschedulable"] is True
    deadline = time.monotonic() + 5
    while not any("will retry after 0.2s" in line for line in drain.output) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert drain.finished_s is None and kube.get("Pod", "a", NS) is not None
    kube.create(pod("a2", "slolab-worker3"))  # the replacement is Ready: the budget allows one
    assert view.wait_for(lambda: "a" in drain.evicted, timeout_s=5, poll_s=0.05)
    time.sleep(0.2)
    assert drain.finished_s is None, "the drain waits until the evicted pod is gone"
    kube.delete("Pod", "a", NS)  # the kubelet ends the Terminating pod
    assert view.wait_for(lambda: drain.finished_s is not None, timeout_s=5, poll_s=0.05)
    assert drain.done, drain.output
    assert drain.evicted == ["a"]
    assert kube.get("Pod", "a", NS) is None and kube.get("Pod", "ds", NS) is not None
    assert (
        drain.output[0] == "node/slolab-worker2 cordoned"
        and drain.output[-1] == "node/slolab-worker2 drained"
    )
    reasons = [(e.kind, e.name, e.reason) for e in view._observer.events()]
    assert ("Node", "slolab-worker2", timeline.NODE_NOT_SCHEDULABLE) in reasons
    assert ("Pod", "a", timeline.EVICTION_REFUSED) in reasons
    assert ("Pod", "a", timeline.EVICTED) in reasons
    assert reasons[-1] == ("Node", "slolab-worker2", timeline.DRAINED)


def test_drain_that_the_budget_never_allows_times_out(view) -> None:
    kube = view.kube
    kube.create(pod("a", "slolab-worker2"))
    kube.create(pdb(1))
    drain = view.drain("slolab-worker2", timeout_s=0.5)
    assert view.wait_for(lambda: drain.finished_s is not None, timeout_s=8, poll_s=0.05)
    assert not drain.done
    assert drain.error == "drain did not complete within 0.5s"
    assert kube.get("Pod", "a", NS) is not None
    assert any(e.reason == timeline.DRAIN_FAILED for e in view._observer.events())


def test_drain_refuses_a_pod_without_a_controller(view) -> None:
    bare = pod("bare", "slolab-worker2")
    bare["metadata"]["ownerReferences"] = []
    view.kube.create(bare)
    drain = view.drain("slolab-worker2", timeout_s=5)
    assert view.wait_for(lambda: drain.finished_s is not None, timeout_s=5, poll_s=0.05)
    assert drain.error == "cannot delete Pods that declare no controller (use --force to override): bare"


def test_uncordon(view) -> None:
    drain_mod.cordon(view.kube, "slolab-worker3")
    assert view.kube.get("Node", "slolab-worker3")["spec"]["unschedulable"] is True
    view.uncordon("slolab-worker3")
    assert not view.kube.get("Node", "slolab-worker3")["spec"].get("unschedulable")
    assert [e.reason for e in view._observer.events()] == [timeline.NODE_SCHEDULABLE]


def test_a_missing_node_is_named(view) -> None:
    with pytest.raises(errors.BackendError, match="no Node 'nope'"):
        view.uncordon("nope")


def test_apply_creates_the_chaos_schedule_server_side(view, emulator) -> None:
    from slolab import paths

    docs = yamlfile.load_all(paths.labs_dir() / "chaos-pod-kill" / "chaos" / "schedule.yaml", "schedule.yaml")
    view.apply(docs)
    got = view.kube.get("Schedule", "llm-pod-kill", NS)
    assert got is not None and got["spec"]["podChaos"]["action"] == "pod-kill"
    view.apply(docs)  # again: an update, not a conflict
    requests = [r for r in emulator.api.requests() if r.path.endswith("/schedules/llm-pod-kill")]
    assert {r.method for r in requests} >= {"PATCH", "GET"}
    assert all(r.params.get("fieldManager") == "slolab-grader" for r in requests if r.method == "PATCH")
    view.kube.delete("Schedule", "llm-pod-kill", NS)
    assert view.kube.get("Schedule", "llm-pod-kill", NS) is None
    assert [e.reason for e in view._observer.events()] == [timeline.APPLIED, timeline.APPLIED]


def test_a_drain_under_way_stops_when_the_backend_closes(view) -> None:
    view.kube.create(pod("a", "slolab-worker2"))
    view.kube.create(pdb(1))  # never allows: the drain would retry until its timeout
    drain = view.drain("slolab-worker2", timeout_s=600)
    view.stopped.set()  # KubeBackend.close
    assert view.wait_for(lambda: drain.finished_s is not None, timeout_s=8, poll_s=0.05)
    assert drain.error == "the drain was stopped"
