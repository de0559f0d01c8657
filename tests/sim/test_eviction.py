"""The Eviction API and ``kubectl drain`` on the simulator (kubernetes v1.35).

Docs: https://kubernetes.io/docs/concepts/scheduling-eviction/api-eviction/,
https://kubernetes.io/docs/tasks/run-application/configure-pdb/ and
https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/.
"""

from __future__ import annotations

import pytest
from sim_support import NS, SOUND, events, manifest, start

from slolab.catalog import yamlfile
from slolab.run import request, timeline
from slolab.sim import drain, eviction


def pdb_doc(**spec):
    data = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "llm"},
        "spec": {"selector": {"matchLabels": {"app": "llm"}}, **spec},
    }
    return yamlfile.Document(data, "pdb.yaml", {})


def ready_cluster(replicas=3, pdb=None, extra_container=None):
    docs = manifest(replicas=replicas, probes=SOUND, extra_container=extra_container)
    sim = start([*docs, *([pdb_doc(**pdb)] if pdb is not None else [])])
    sim.env.run(until=150)
    assert sum(p.ready for p in sim.pods.values()) == replicas
    return sim


def pdb_status(sim):
    (pdb,) = sim.api_objects("PodDisruptionBudget")
    return pdb["status"]


def test_an_eviction_the_budget_forbids_answers_429_with_upstreams_message():
    # configure-pdb: minAvailable 3 of 3 pods leaves no disruption allowed
    sim = ready_cluster(pdb={"minAvailable": 3})
    pod = next(iter(sim.pods.values()))
    with pytest.raises(eviction.EvictionError) as exc:
        eviction.evict(sim, pod)
    assert exc.value.code == 429 and exc.value.too_many_requests
    assert str(exc.value) == "Cannot evict pod as it would violate the pod's disruption budget."
    assert exc.value.causes == ["The disruption budget llm needs 3 healthy pods and has 3 currently"]
    assert not pod.terminating


def test_an_allowed_eviction_uses_up_the_budget_and_deletes_gracefully():
    prestop = {"lifecycle": {"preStop": {"sleep": {"seconds": 10}}}}
    sim = ready_cluster(pdb={"maxUnavailable": 1}, extra_container=prestop)
    first, second = list(sim.pods.values())[:2]
    eviction.evict(sim, first)
    assert first.terminating and first.grace_period_s == 30  # the pod's own grace period
    conds = {c["type"]: c for c in first.to_api()["status"]["conditions"]}
    assert conds["DisruptionTarget"]["status"] == "True"
    assert conds["DisruptionTarget"]["reason"] == "EvictionByEvictionAPI"
    st = pdb_status(sim)
    assert st["disruptionsAllowed"] == 0 and first.name in st["disruptedPods"]
    with pytest.raises(eviction.EvictionError) as exc:  # the budget is used up until a replacement is Ready
        eviction.evict(sim, second)
    assert exc.value.code == 429
    sim.env.run(until=sim.env.now + 150)
    assert pdb_status(sim)["disruptionsAllowed"] == 1
    eviction.evict(sim, second)
    assert second.terminating


def test_an_unready_pod_is_evicted_without_using_up_the_budget_while_it_is_met():
    # configure-pdb, Unhealthy Pod Eviction Policy IfHealthyBudget: a running pod that is not
    # Ready may be evicted when currentHealthy >= desiredHealthy
    sim = ready_cluster(replicas=3, pdb={"minAvailable": 2})
    sim.scale("apps/v1", "Deployment", "llm", 4)
    sim.env.run(until=sim.env.now + 10)  # the fourth pod runs, loading, not Ready
    loading = next(p for p in sim.pods.values() if not p.ready and p.phase == "Running")
    before = pdb_status(sim)["disruptionsAllowed"]
    eviction.evict(sim, loading)
    assert loading.terminating
    assert pdb_status(sim)["disruptionsAllowed"] == before


def test_two_budgets_on_one_pod_are_a_500_and_pods_without_budget_just_go():
    sim = ready_cluster(replicas=2)
    pod = next(iter(sim.pods.values()))
    eviction.evict(sim, pod)
    assert pod.terminating
    other = yamlfile.Document({**pdb_doc(maxUnavailable=1).data, "metadata": {"name": "other"}}, "b.yaml", {})
    sim.apply([pdb_doc(maxUnavailable=1), other])
    sim.env.run(until=sim.env.now + 1)
    survivor = next(p for p in sim.pods.values() if not p.terminating and p.ready)
    with pytest.raises(eviction.EvictionError) as exc:
        eviction.evict(sim, survivor)
    assert exc.value.code == 500 and "more than one PodDisruptionBudget" in str(exc.value)


def test_a_terminating_pod_leaves_the_services_endpoints_at_once():
    # Pod Lifecycle, "Termination of Pods": the endpoints controller removes the pod from the
    # endpoints as soon as it is terminating, while its preStop hook still runs
    prestop = {"lifecycle": {"preStop": {"sleep": {"seconds": 20}}}}
    sim = ready_cluster(replicas=2, extra_container=prestop)
    pod = next(iter(sim.pods.values()))
    eviction.evict(sim, pod)
    (ep,) = sim.api_objects("Endpoints")
    names = [a["targetRef"]["name"] for s in ep["subsets"] for a in s["addresses"]]
    assert pod.name not in names and len(names) == 1


def test_drain_cordons_then_retries_every_5s_until_the_budget_allows():
    # safely-drain-node: "kubectl drain ... will respect the PodDisruptionBudgets ... if the
    # budget does not allow it, the eviction is refused (429) and retried"
    sim = ready_cluster(replicas=2, pdb={"minAvailable": 2})
    node = next(iter(sim.pods.values())).node
    d = drain.start(sim, drain.Drain(node=node, timeout_s=60))
    sim.env.run(until=sim.env.now + 0.001)
    assert sim.get("v1", "Node", node).unschedulable
    assert events(sim, timeline.NODE_NOT_SCHEDULABLE)
    sim.env.run(until=sim.env.now + 61)
    retries = [line for line in d.output if "(will retry after 5s)" in line]
    # two pods, each tried at 0, 5, ... 55 s, and 60 s ends the drain
    assert len(retries) == 2 * 12
    assert "Cannot evict pod as it would violate the pod's disruption budget." in retries[0]
    assert d.error == "drain did not complete within 60s" and not d.done
    assert all(not p.terminating for p in sim.pods.values())


def test_drain_evicts_each_pod_and_waits_until_it_is_gone():
    sim = ready_cluster(replicas=2)
    node = next(iter(sim.pods.values())).node
    d = drain.start(sim, drain.Drain(node=node))
    sim.env.run(until=sim.env.now + 120)
    assert d.done and d.output[0] == f"node/{node} cordoned" and d.output[-1] == f"node/{node} drained"
    evicted = [line for line in d.output if line.endswith(" evicted")]
    assert len(evicted) == 2
    # every replacement is Pending: the only GPU node is cordoned
    assert all(p.node is None for p in sim.pods.values())
    assert events(sim, timeline.FAILED_SCHEDULING)


def test_a_drain_with_grace_lets_streams_in_flight_finish():
    sim = ready_cluster(replicas=1)
    (pod,) = sim.pods.values()
    reqs = [request.Request(i, sim.env.now, 200, 200, timeout_s=60) for i in range(4)]
    for r in reqs:
        sim.send("llm", r)
    d = drain.start(sim, drain.Drain(node=pod.node))
    sim.env.run(until=sim.env.now + 60)
    sim.sync_engines()
    assert d.done and all(r.ok for r in reqs), [r.error for r in reqs]


def test_unmanaged_pods_stop_a_drain_without_force():
    sim = ready_cluster(replicas=1)
    (pod,) = sim.pods.values()
    pod.meta.owner_references = []
    d = drain.start(sim, drain.Drain(node=pod.node))
    sim.env.run(until=sim.env.now + 1)
    assert d.error is not None and "use --force to override" in d.error
    assert not pod.terminating and sim.store.get("v1", "Pod", pod.name, NS) is pod
