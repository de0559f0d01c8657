"""The simulator's Kubernetes behaviour against the documented semantics it claims to follow."""

from __future__ import annotations

import copy

import pytest
from sim_support import PROBE, SOUND, events, manifest, start

from slolab import errors
from slolab.catalog import kindconfig, yamlfile
from slolab.run import request, timeline
from slolab.sim import deployment, objects, replicaset, store

# ---- Deployment --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "want"),
    [
        (3, None, None, (1, 0)),  # 25 % → surge rounds up, unavailable rounds down
        (10, None, None, (3, 2)),
        (4, 0, 0, (0, 1)),  # both 0 → maxUnavailable 1 (ResolveFenceposts)
        (4, "50%", 1, (2, 1)),
    ],
)
def test_fenceposts(replicas, surge, unavailable, want):
    rolling = {k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable)) if v is not None}
    d = deployment.Deployment(
        store.Meta("d", "ns"), {"replicas": replicas, "template": {}, "strategy": {"rollingUpdate": rolling}}
    )
    assert d.fenceposts() == want


@pytest.mark.parametrize(("surge", "unavailable"), [(1, 0), (0, 1), (2, 1)])
def test_rolling_update_respects_surge_and_unavailable(surge, unavailable):
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    sim = start(manifest(replicas=3, probes=SOUND, strategy=strategy))
    sim.env.run(until=150)
    st = sim.store
    d = st.get("apps/v1", "Deployment", "llm", "lab-test")
    assert d.complete(st, sim.env.now)
    sim.rollout_restart("llm")
    worst_total, worst_available = 0, 3
    while not (d.complete(st, sim.env.now) and sim.env.now > 200):
        sim.env.run(until=sim.env.now + 1)
        worst_total = max(worst_total, sum(rs.replicas for rs in d.replicasets(st)))
        worst_available = min(
            worst_available, sum(rs.available_replicas(st, sim.env.now) for rs in d.replicasets(st))
        )
        assert sim.env.now < 2000, "rollout did not finish"
    assert worst_total <= 3 + surge
    assert worst_available >= 3 - unavailable
    assert len(d.replicasets(st)) == 2 and d.old_rss(st)[0].replicas == 0


def test_recreate_stops_old_pods_before_new_ones():
    sim = start(manifest(replicas=2, probes=SOUND, strategy={"type": "Recreate"}))
    sim.env.run(until=150)
    sim.rollout_restart("llm")
    sim.env.run(until=sim.env.now + 5)
    st = sim.store
    d = st.get("apps/v1", "Deployment", "llm", "lab-test")
    assert d.new_rs(st).replicas == 2 and all(not p.ready for p in d.new_rs(st).pods(st))
    assert not d.old_rss(st)[0].pods(st), "old pods must be gone before the new ones start"


def test_progress_deadline_exceeded_is_reported():
    probes = {"readinessProbe": {"httpGet": {"path": "/nope", "port": "http"}, "periodSeconds": 5}}
    sim = start(manifest(replicas=1, probes=probes))
    sim.env.run(until=700)
    api = sim.api_objects("Deployment")[0]
    progressing = next(c for c in api["status"]["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "ProgressDeadlineExceeded"


def _pod(name, created_s, **kw):
    return objects.Pod(store.Meta(name, "ns", creation_s=created_s), {}, [], **kw)


def test_replicaset_deletes_not_ready_pods_first():
    ready = _pod("a", 0.0, node="n", phase="Running")
    ready.set_condition("Ready", True, 5.0)
    ready.ready_since_s = 5.0
    pending = _pod("b", 1.0)
    not_ready = _pod("c", 2.0, node="n", phase="Running")
    assert replicaset.pods_to_delete([ready, not_ready, pending], 2) == [pending, not_ready]


# ---- kubelet and probes ----------------------------------------------------------------------------


def test_without_probes_a_pod_is_ready_before_its_model_loaded():
    sim = start(manifest(replicas=1))
    sim.env.run(until=10)
    pod = next(iter(sim.pods.values()))
    assert pod.ready and not pod.containers[0].listening
    req = request.Request(0, sim.env.now, 100, 10)
    sim.send("llm", req)
    assert req.status == request.NO_RESPONSE and "connection refused" in req.error


def test_startup_probe_gates_readiness_until_the_server_answers():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=200)
    pod = next(iter(sim.pods.values()))
    loaded = events(sim, timeline.MODEL_LOADED, pod.name)[0].time_s
    ready = events(sim, timeline.READY, pod.name)[0].time_s
    assert loaded <= ready <= loaded + 10  # next startup tick, then readiness at once
    assert not events(sim, timeline.KILLING)


def test_liveness_kills_a_loading_server_and_backs_off_exponentially():
    probes = {
        "livenessProbe": {**PROBE, "initialDelaySeconds": 30, "periodSeconds": 10, "failureThreshold": 3}
    }
    sim = start(manifest(replicas=1, probes=probes))
    sim.env.run(until=600)
    pod = next(iter(sim.pods.values()))
    kills = events(sim, timeline.KILLING, pod.name)
    assert "failed liveness probe" in kills[0].message
    starts = [e.time_s for e in events(sim, timeline.STARTED, pod.name)]
    assert 49 <= kills[0].time_s - starts[0] <= 52  # failures at 30, 40, 50 s
    delays = [e.data["delay_s"] for e in events(sim, timeline.BACK_OFF, pod.name)]
    assert delays[:4] == [10, 20, 40, 80]
    assert pod.containers[0].restart_count >= 3 and not events(sim, timeline.MODEL_LOADED, pod.name)
    status = pod.to_api()["status"]["containerStatuses"][0]
    assert status["lastState"]["terminated"]["reason"] == "Error"


def test_initial_delay_is_compared_in_whole_seconds():
    probes = {"readinessProbe": {**PROBE, "initialDelaySeconds": 120, "periodSeconds": 1}}
    sim = start(manifest(replicas=1, probes=probes))
    sim.env.run(until=200)
    pod = next(iter(sim.pods.values()))
    started = events(sim, timeline.STARTED, pod.name)[0].time_s
    ready = events(sim, timeline.READY, pod.name)[0].time_s
    assert 120 <= ready - started <= 121.5


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ({"httpGet": {"path": "/health", "port": "metrics"}}, "unable to find port"),
        ({"httpGet": {"path": "/healthz", "port": 8000}}, "statuscode: 404"),
        ({"httpGet": {"path": "/health", "port": 8000, "scheme": "HTTPS"}}, "HTTPS client"),
        ({"tcpSocket": {"port": 9000}}, "connection refused"),
    ],
)
def test_failing_probe_handlers(handler, message):
    sim = start(manifest(replicas=1, probes={"readinessProbe": {**handler, "periodSeconds": 5}}))
    sim.env.run(until=150)
    pod = next(iter(sim.pods.values()))
    assert not pod.ready
    assert any(message in e.message for e in events(sim, timeline.UNHEALTHY, pod.name)[-3:])


def test_success_threshold_needs_consecutive_successes():
    probes = {"readinessProbe": {**PROBE, "periodSeconds": 5, "successThreshold": 3}}
    sim = start(manifest(replicas=1, probes=probes))
    sim.env.run(until=200)
    pod = next(iter(sim.pods.values()))
    loaded = events(sim, timeline.MODEL_LOADED, pod.name)[0].time_s
    ready = events(sim, timeline.READY, pod.name)[0].time_s
    assert loaded + 10 <= ready <= loaded + 15


def test_no_gpu_crashes_at_startup():
    sim = start(manifest(replicas=1, resources={}))
    sim.env.run(until=100)
    pod = next(iter(sim.pods.values()))
    assert any("No CUDA GPUs" in e.message for e in events(sim, timeline.SERVER_EXITED, pod.name))
    assert pod.containers[0].reason == "CrashLoopBackOff" or pod.containers[0].restart_count >= 1


def test_graceful_termination_finishes_streams_in_flight():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=120)
    reqs = [request.Request(i, sim.env.now, 500, 400) for i in range(5)]
    for r in reqs:
        sim.send("llm", r)
    sim.env.run(until=sim.env.now + 0.5)
    pod = next(iter(sim.pods.values()))
    sim.delete_pod(pod)
    late = request.Request(99, sim.env.now, 100, 10)
    sim.send("llm", late)
    sim.env.run(until=sim.env.now + 40)
    assert all(r.ok for r in reqs), [r.error for r in reqs]
    assert late.error == "connection refused: no ready endpoints"


def test_grace_period_cuts_streams_still_open():
    extra = {"lifecycle": {"preStop": {"sleep": {"seconds": 10}}}}
    docs = manifest(replicas=1, probes=SOUND, extra_container=extra)
    docs[0].data["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 12
    sim = start(docs)
    sim.env.run(until=120)
    reqs = [request.Request(i, sim.env.now, 500, 3000) for i in range(3)]  # ~23 s of decode > 12 s grace
    for r in reqs:
        sim.send("llm", r)
    sim.env.run(until=sim.env.now + 1)
    sim.delete_pod(next(iter(sim.pods.values())))
    sim.env.run(until=sim.env.now + 30)
    assert all(r.status == request.NO_RESPONSE and "stream cut" in r.error for r in reqs)


# ---- scheduler -------------------------------------------------------------------------------------


def test_gpu_taint_without_toleration_is_unschedulable():
    sim = start(manifest(replicas=1, tolerations=False, node_selector=False))
    sim.env.run(until=5)
    failed = events(sim, timeline.FAILED_SCHEDULING)
    # kube-scheduler v1.35 wording (since v1.34 the taint's key and value are not printed); the
    # control plane and GPU node are tainted, the CPU node has no GPU; nodes ruled out by a taint
    # are "not helpful" for preemption, and the CPU node has no lower-priority pod to evict
    assert failed[0].message == (
        "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint(s). "
        "no new claims to deallocate, preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
    )


def test_gpus_run_out():
    sim = start(manifest(replicas=10, probes=SOUND))
    sim.env.run(until=5)
    scheduled = [p for p in sim.pods.values() if p.node]
    assert len(scheduled) == 8  # the GPU pool has 8
    assert any("Insufficient nvidia.com/gpu" in e.message for e in events(sim, timeline.FAILED_SCHEDULING))


def test_control_plane_taint_comes_from_kind_config():
    _, specs = kindconfig.load()
    cp = next(s for s in specs if s.role == "control-plane")
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in cp.taints
    gpu = next(s for s in specs if s.labels.get("slolab.dev/pool") == "gpu")
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in gpu.taints
    assert [s.name for s in specs] == ["slolab-control-plane", "slolab-worker", "slolab-worker2"]


# ---- what is not modelled ----------------------------------------------------------------------------


def test_an_unknown_image_is_not_modelled():
    docs = manifest(replicas=1)
    data = copy.deepcopy(docs[0].data)
    data["spec"]["template"]["spec"]["containers"][0]["image"] = "ghcr.io/llm-d/llm-d-inference-sim:v0.10.2"
    with pytest.raises(errors.NotModelledError, match="llm-d-inference-sim"):
        start([yamlfile.Document(data, "deployment.yaml", {}), docs[1]])
