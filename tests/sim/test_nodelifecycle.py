"""The node lifecycle controller and the DefaultTolerationSeconds admission (kubernetes v1.35).

Docs: https://kubernetes.io/docs/concepts/architecture/nodes/#node-controller ("If the node
becomes unreachable ... the node controller ... sets the Ready condition to Unknown" after
node-monitor-grace-period) and
https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
(the node.kubernetes.io/unreachable taint, the 300 s tolerations added to every pod).
"""

from __future__ import annotations

from sim_support import SOUND, events, manifest, start

from slolab.run import timeline
from slolab.sim import drain, nodelifecycle


def ready_cluster(replicas=2):
    sim = start(manifest(replicas=replicas, probes=SOUND))
    sim.env.run(until=150)
    return sim


def node_api(sim, name):
    return next(n for n in sim.api_objects("Node") if n["metadata"]["name"] == name)


def test_pods_get_the_default_noexecute_tolerations_of_300s():
    sim = ready_cluster(replicas=1)
    (pod,) = sim.pods.values()
    tolerations = pod.to_api()["spec"]["tolerations"]
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert {
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        } in tolerations
    # the template's own toleration is kept
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in tolerations


def test_a_pod_that_tolerates_unreachable_itself_keeps_its_own_toleration():
    own = {
        "key": "node.kubernetes.io/unreachable",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 30,
    }
    docs = manifest(replicas=1, probes=SOUND)
    docs[0].data["spec"]["template"]["spec"]["tolerations"].append(own)
    sim = start(docs)
    sim.env.run(until=1)
    (pod,) = sim.pods.values()
    unreachable = [t for t in pod.spec["tolerations"] if t["key"] == "node.kubernetes.io/unreachable"]
    assert unreachable == [own]


def test_a_silent_node_turns_unknown_after_the_grace_period_and_is_tainted():
    sim = ready_cluster()
    node = next(iter(sim.pods.values())).node
    down_at = sim.env.now
    sim.set_node_ready(node, False)
    sim.env.run(until=down_at + nodelifecycle.NODE_MONITOR_GRACE_PERIOD_S - 10)
    assert node_api(sim, node)["status"]["conditions"][0]["status"] == "True"
    assert all(p.ready for p in sim.pods.values())
    sim.env.run(until=down_at + nodelifecycle.NODE_MONITOR_GRACE_PERIOD_S + 6)
    ready = node_api(sim, node)["status"]["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    (went,) = events(sim, timeline.NODE_NOT_READY, node)
    # the last lease renewal is at most 10 s before the stop; monitor passes every 5 s
    assert down_at + 40 < went.time_s <= down_at + 55
    taints = {(t["key"], t["effect"]) for t in node_api(sim, node)["spec"]["taints"]}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in taints
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in taints
    # its pods are marked not Ready and leave the Service's endpoints
    assert not any(p.ready for p in sim.pods.values())
    (ep,) = sim.api_objects("Endpoints")
    assert ep["subsets"] == []
    sim.set_node_ready(node, True)
    sim.env.run(until=sim.env.now + 6)
    assert node_api(sim, node)["status"]["conditions"][0]["status"] == "True"
    taints = {t["key"] for t in node_api(sim, node)["spec"]["taints"]}
    assert "node.kubernetes.io/unreachable" not in taints


def test_a_cordoned_node_gets_the_unschedulable_taint():
    sim = ready_cluster(replicas=1)
    node = next(iter(sim.pods.values())).node
    drain.cordon(sim, node)
    sim.env.run(until=sim.env.now + 1)
    taints = {(t["key"], t["effect"]) for t in node_api(sim, node)["spec"]["taints"]}
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in taints
    drain.cordon(sim, node, unschedulable=False)
    sim.env.run(until=sim.env.now + 1)
    assert "node.kubernetes.io/unschedulable" not in {t["key"] for t in node_api(sim, node)["spec"]["taints"]}


def test_pods_of_a_lost_node_are_evicted_300_s_after_the_unreachable_taint():
    # taint-based evictions: the node lifecycle controller's node.kubernetes.io/unreachable
    # NoExecute taint, the DefaultTolerationSeconds admission's 300 s toleration of it, and the
    # taint eviction controller (sim/tainteviction.py) deleting the pods when it runs out
    sim = ready_cluster()
    node = next(iter(sim.pods.values())).node
    before = set(sim.pods)
    sim.set_node_ready(node, False)
    sim.env.run(until=sim.env.now + 60)
    (tainted,) = [e for e in events(sim, timeline.TAINTED, node) if e.data.get("effect") == "NoExecute"]
    sim.env.run(until=tainted.time_s + 299)
    assert all(not sim.pods[name].terminating for name in before)
    sim.env.run(until=tainted.time_s + 301)
    assert all(sim.pods[name].terminating for name in before if name in sim.pods)
    marked = [e for e in events(sim, timeline.TAINT_MANAGER_EVICTION) if e.name in before]
    assert marked and all(abs(e.time_s - tainted.time_s - 300) < 1 for e in marked)
