"""The taint eviction controller against "Taints and Tolerations" (kubernetes.io/docs/concepts/
scheduling-eviction/taint-and-toleration/): NoExecute evicts pods that do not tolerate the
taint at once, pods that tolerate it with tolerationSeconds after that long, and pods that
tolerate it without tolerationSeconds stay."""

from __future__ import annotations

from sched_support import add, cluster, node, pod

NO_EXECUTE = {"key": "key1", "value": "value1", "effect": "NoExecute"}


def _taint(sim, name, taint):
    n = sim.store.get("v1", "Node", name)
    n.taints.append(dict(taint))
    sim.store.update(n)


def _untaint(sim, name):
    n = sim.store.get("v1", "Node", name)
    n.taints.clear()
    sim.store.update(n)


def _evictions(sim):
    return [(e.time_s, e.name, e.message) for e in sim.recorder.events if e.reason == "TaintManagerEviction"]


def test_untolerated_no_execute_evicts_at_once_and_tolerated_stays():
    sim = cluster([node("node1")])
    plain = add(sim, pod("plain"), on="node1")
    forever = add(
        sim,
        pod(
            "forever",
            tolerations=[{"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoExecute"}],
        ),
        on="node1",
    )
    t0 = sim.env.now
    _taint(sim, "node1", NO_EXECUTE)
    sim.env.run(until=sim.env.now + 1000)
    assert _evictions(sim) == [(t0, "plain", "Marking for deletion Pod lab-test/plain")]
    assert plain.conditions["DisruptionTarget"].reason == "DeletionByTaintManager"
    assert sim.store.get("v1", "Pod", "forever", forever.namespace) is not None


def test_toleration_seconds_delays_the_eviction():
    # the page's example: tolerationSeconds 3600 "the pod will stay bound for 3600 seconds"
    tol = {
        "key": "key1",
        "operator": "Equal",
        "value": "value1",
        "effect": "NoExecute",
        "tolerationSeconds": 3600,
    }
    sim = cluster([node("node1")])
    add(sim, pod("p", tolerations=[tol]), on="node1")
    _taint(sim, "node1", NO_EXECUTE)
    sim.env.run(until=3600)
    assert _evictions(sim) == []
    sim.env.run(until=3602)
    assert _evictions(sim) == [(3601.0, "p", "Marking for deletion Pod lab-test/p")]


def test_taint_removed_before_toleration_seconds_cancels():
    tol = {"key": "key1", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    sim = cluster([node("node1")])
    add(sim, pod("p", tolerations=[tol]), on="node1")
    _taint(sim, "node1", NO_EXECUTE)
    sim.env.run(until=100)
    _untaint(sim, "node1")
    sim.env.run(until=1000)
    assert _evictions(sim) == [(100.0, "p", "Cancelling deletion of Pod lab-test/p")]


def test_no_schedule_taints_never_evict():
    sim = cluster([node("node1")])
    add(sim, pod("p"), on="node1")
    _taint(sim, "node1", {**NO_EXECUTE, "effect": "NoSchedule"})
    sim.env.run(until=100)
    assert _evictions(sim) == []
