"""Kubelet work is interruptible: deletion, container kill and a stopped node cut what a pod was doing."""

from __future__ import annotations

from sim_support import NS, SOUND, events, manifest, start

from slolab.run import request, timeline


def only_pod(sim):
    (pod,) = [p for p in sim.pods.values() if not p.terminating]
    return pod


def serving(sim, n=5, output_tokens=2000):
    """A pod that serves, with ``n`` long streams open on it."""
    sim.env.run(until=130)
    pod = only_pod(sim)
    assert pod.ready and pod.containers[0].listening
    reqs = [request.Request(i, sim.env.now, 500, output_tokens) for i in range(n)]
    for r in reqs:
        sim.send("llm", r)
    sim.env.run(until=sim.env.now + 1)
    assert all(r.status is None and r.pod == pod.name for r in reqs)
    return pod, reqs


def test_deleting_a_pod_while_its_image_pulls_stops_the_pull_at_once():
    sim = start(manifest(replicas=1, probes=SOUND), cached_images=[])
    sim.env.run(until=10)
    pod = only_pod(sim)
    assert events(sim, timeline.PULLING, pod.name) and not events(sim, timeline.PULLED, pod.name)
    sim.delete_pod(pod)
    sim.env.run(until=sim.env.now + 0.001)
    assert sim.store.get("v1", "Pod", pod.name, NS) is None, "the pod must not wait out the 60 s pull"
    assert [e.time_s for e in events(sim, timeline.DELETED, pod.name)] == [10.0]
    sim.env.run(until=100)
    assert not events(sim, timeline.PULLED, pod.name) and not events(sim, timeline.STARTED, pod.name)


def test_deleting_a_pod_while_its_model_loads_interrupts_the_load():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=30)
    pod = only_pod(sim)
    assert pod.containers[0].state == "running" and not pod.containers[0].listening
    sim.delete_pod(pod)
    sim.env.run(until=sim.env.now + 0.001)
    assert sim.store.get("v1", "Pod", pod.name, NS) is None
    assert pod.containers[0].exit_code == 143  # SIGTERM during the load
    sim.env.run(until=200)
    assert not events(sim, timeline.MODEL_LOADED, pod.name)


def test_kill_container_cuts_streams_in_flight_and_the_container_restarts():
    sim = start(manifest(replicas=1, probes=SOUND))
    pod, reqs = serving(sim)
    killed_at = sim.env.now
    sim.kill_container(pod.name)
    late = request.Request(99, sim.env.now, 100, 10)
    sim.send("llm", late)
    assert all(r.status == request.NO_RESPONSE and "stream cut" in r.error for r in reqs), [
        r.error for r in reqs
    ]
    assert all(r.finish_s == killed_at for r in reqs)
    assert late.status == request.NO_RESPONSE  # not listening any more, even in the same instant
    sim.env.run(until=sim.env.now + 200)
    c = pod.containers[0]
    assert c.restart_count == 1 and c.last_state["exitCode"] == 137
    assert [e.data["delay_s"] for e in events(sim, timeline.BACK_OFF, pod.name)] == [10]
    assert pod.ready and c.listening, "the restarted container loads again and serves"


def test_force_delete_kills_at_once_and_the_replicaset_replaces_the_pod():
    sim = start(manifest(replicas=1, probes=SOUND))
    pod, reqs = serving(sim)
    sim.delete_pod(pod, grace_period_s=0)
    assert sim.store.get("v1", "Pod", pod.name, NS) is None
    assert all(r.status == request.NO_RESPONSE and "stream cut" in r.error for r in reqs)
    sim.env.run(until=sim.env.now + 1)
    replacement = only_pod(sim)
    assert replacement is not pod and replacement.owner == pod.owner


def test_a_stopped_node_cuts_streams_keeps_the_last_status_and_restarts_when_back():
    sim = start(manifest(replicas=1, probes=SOUND))
    pod, reqs = serving(sim)
    down_at = sim.env.now
    sim.set_node_ready(pod.node, False)
    assert all(r.status == request.NO_RESPONSE and "stream cut: node" in r.error for r in reqs)
    sim.env.run(until=sim.env.now + 30)
    # nobody posts the pod's status: within node-monitor-grace-period (tests/sim/test_nodelifecycle.py
    # has what comes after) the API still shows it Ready and Running, so it stays an endpoint,
    # and connections to it time out
    api = next(p for p in sim.api_objects("Pod") if p["metadata"]["name"] == pod.name)
    assert api["status"]["phase"] == "Running"
    assert {c["type"]: c["status"] for c in api["status"]["conditions"]}["Ready"] == "True"
    late = request.Request(99, sim.env.now, 100, 10)
    sim.send("llm", late)
    assert late.status == request.NO_RESPONSE and "timed out" in late.error
    assert not [e for e in events(sim, timeline.UNHEALTHY, pod.name) if e.time_s > down_at], "probes stopped"
    assert pod.containers[0].restart_count == 0
    sim.set_node_ready(pod.node, True)
    sim.env.run(until=sim.env.now + 150)
    c = pod.containers[0]
    assert c.restart_count == 1 and c.last_state["exitCode"] == 255 and c.last_state["reason"] == "Unknown"
    assert pod.ready and c.listening
    ok = request.Request(100, sim.env.now, 100, 10)
    sim.send("llm", ok)
    sim.env.run(until=sim.env.now + 5)
    sim.sync_engines()
    assert ok.ok, ok.error


def test_a_pod_deleted_while_its_node_is_stopped_stays_terminating_until_the_node_is_back():
    sim = start(manifest(replicas=1, probes=SOUND))
    pod, _ = serving(sim, n=1)
    sim.set_node_ready(pod.node, False)
    sim.delete_pod(pod)
    sim.env.run(until=sim.env.now + 300)
    assert sim.store.get("v1", "Pod", pod.name, NS) is pod and pod.terminating
    sim.set_node_ready(pod.node, True)
    sim.env.run(until=sim.env.now + 1)
    assert sim.store.get("v1", "Pod", pod.name, NS) is None


def on_bind(sim, action):
    """Run ``action(pod)`` the moment a pod is bound, before its container processes begin."""
    done: set[str] = set()

    def handler(event):
        pod = event.obj
        if event.type == "MODIFIED" and pod.node and pod.name not in done:
            done.add(pod.name)
            action(pod)

    sim.store.watch("v1", "Pod", handler)


def test_a_pod_deleted_in_the_instant_it_is_bound_goes_without_starting():
    sim = start(manifest(replicas=1, probes=SOUND))
    first: list[str] = []
    on_bind(sim, lambda pod: (first.append(pod.name), sim.delete_pod(pod)) if not first else None)
    sim.env.run(until=150)
    assert sim.store.get("v1", "Pod", first[0], NS) is None
    assert not events(sim, timeline.STARTED, first[0])
    assert only_pod(sim).ready, "its replacement runs"


def test_a_node_stopping_in_the_instant_a_pod_is_bound_holds_the_pod_until_it_is_back():
    sim = start(manifest(replicas=1, probes=SOUND))
    on_bind(sim, lambda pod: sim.set_node_ready(pod.node, False))
    sim.env.run(until=150)
    pod = only_pod(sim)
    assert not events(sim, timeline.STARTED, pod.name) and not pod.containers[0].listening
    sim.set_node_ready(pod.node, True)
    sim.env.run(until=sim.env.now + 150)
    assert pod.ready and pod.containers[0].listening and pod.containers[0].restart_count == 0
