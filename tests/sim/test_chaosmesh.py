"""Chaos Mesh PodChaos, NetworkChaos and Schedule on the simulator (chaos-mesh v2.8.3).

Docs: https://chaos-mesh.org/docs/simulate-pod-chaos-on-kubernetes/,
https://chaos-mesh.org/docs/simulate-network-chaos-on-kubernetes/ and
https://chaos-mesh.org/docs/define-scheduling-rules/. Every manifest here also validates against
the upstream CRDs (shared/crds), field names included.
"""

from __future__ import annotations

import random

import pytest
from sim_support import SOUND, events, manifest, start
from test_crd_conformance import CRDs, _candidates, require_crd_dir

from slolab import errors
from slolab.catalog import yamlfile
from slolab.run import request, timeline
from slolab.sim import chaosexperiment, eviction

API = "chaos-mesh.org/v1alpha1"
SELECTOR = {"namespaces": ["lab-test"], "labelSelectors": {"app": "llm"}}


def doc(kind, name, spec, annotations=None):
    meta = {"name": name, **({"annotations": annotations} if annotations else {})}
    return yamlfile.Document(
        {"apiVersion": API, "kind": kind, "metadata": meta, "spec": spec}, f"{name}.yaml", {}
    )


def pod_chaos(name="kill", **spec):
    return doc("PodChaos", name, {"action": "pod-kill", "mode": "one", "selector": SELECTOR, **spec})


def network_chaos(name="slow", **spec):
    base = {"action": "delay", "mode": "all", "selector": SELECTOR, "delay": {"latency": "500ms"}}
    return doc("NetworkChaos", name, {**base, **spec})


def ready_cluster(replicas=3, extra=()):
    sim = start([*manifest(replicas=replicas, probes=SOUND), *extra])
    sim.env.run(until=150)
    assert sum(p.ready for p in sim.pods.values()) == replicas
    return sim


def status(sim, kind, name):
    return next(o for o in sim.api_objects(kind) if o["metadata"]["name"] == name)["status"]


def conditions(st):
    return {c["type"]: c["status"] for c in st["conditions"]}


@pytest.fixture(scope="module")
def crds():
    return CRDs(require_crd_dir(_candidates()))


def test_every_chaos_manifest_here_conforms_to_the_upstream_crds(crds):
    schedule = doc(
        "Schedule",
        "every",
        {
            "schedule": "@every 60s",
            "type": "PodChaos",
            "historyLimit": 2,
            "concurrencyPolicy": "Forbid",
            "podChaos": {"action": "pod-kill", "mode": "one", "selector": SELECTOR},
        },
    )
    delay = {"latency": "200ms", "jitter": "50ms", "correlation": "25"}
    for d in (
        pod_chaos(),
        pod_chaos(action="container-kill", containerNames=["server"]),
        pod_chaos(action="pod-failure", duration="60s"),
        network_chaos(delay=delay, duration="2m"),
        schedule,
    ):
        assert crds.validate(d.data) == [], d.data


def test_pod_kill_deletes_one_pod_at_once_cutting_its_streams_and_ignores_the_budget():
    pdb = yamlfile.Document(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "llm"},
            "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "llm"}}},
        },
        "pdb.yaml",
        {},
    )
    sim = ready_cluster(extra=[pdb])
    reqs = [request.Request(i, sim.env.now, 200, 400, timeout_s=60) for i in range(12)]
    for r in reqs:
        sim.send("llm", r)
    sim.env.run(until=sim.env.now + 1)
    before = set(sim.pods)
    victim_pod = next(iter(sim.pods.values()))
    with pytest.raises(eviction.EvictionError):  # the budget forbids any eviction
        eviction.evict(sim, victim_pod)
    sim.apply([pod_chaos()])
    sim.env.run(until=sim.env.now + 0.001)
    gone = before - set(sim.pods)
    assert len(gone) == 1  # mode one; gracePeriod 0: deleted at once, the budget notwithstanding
    st = status(sim, "PodChaos", "kill")
    (record,) = st["experiment"]["containerRecords"]
    assert (
        record["id"] == f"lab-test/{gone.pop()}"
        and record["phase"] == "Injected"
        and record["injectedCount"] == 1
    )
    assert st["experiment"]["desiredPhase"] == "Run"
    assert conditions(st) == {
        "Selected": "True",
        "AllInjected": "True",
        "AllRecovered": "False",
        "Paused": "False",
    }
    assert [e.reason for e in sim.recorder.events if e.kind == "PodChaos"] == ["Started", "Applied"]
    sim.env.run(until=sim.env.now + 1)
    sim.sync_engines()
    cut = [r for r in reqs if r.status == request.NO_RESPONSE and "stream cut" in (r.error or "")]
    assert cut, "streams on the killed pod were cut"


@pytest.mark.parametrize(
    ("mode", "value", "killed"),
    [
        ("all", None, 3),
        ("fixed", "2", 2),
        ("fixed", "5", 3),
        ("fixed-percent", "50", 2),
        ("fixed-percent", "34", 2),
    ],
)
def test_modes_choose_how_many_pods(mode, value, killed):
    sim = ready_cluster()
    spec = {"mode": mode, **({"value": value} if value else {})}
    sim.apply([pod_chaos(**spec)])
    sim.env.run(until=sim.env.now + 0.001)
    assert len(status(sim, "PodChaos", "kill")["experiment"]["containerRecords"]) == killed


def test_random_max_percent_chooses_between_none_and_that_share_rounding_up():
    # mode.go: a percentage drawn from [0, value], then ceil(count * percentage / 100)
    rngs = (random.Random(f"draw:{i}") for i in range(300))
    counts = {len(chaosexperiment.filter_by_mode("random-max-percent", "50", 4, r)) for r in rngs}
    assert counts == {0, 1, 2}


def test_selecting_nothing_is_a_failed_event_and_no_records():
    sim = ready_cluster(replicas=1)
    sim.apply([pod_chaos(selector={"namespaces": ["lab-test"], "labelSelectors": {"app": "nothing"}})])
    sim.env.run(until=sim.env.now + 1)
    st = status(sim, "PodChaos", "kill")
    assert "containerRecords" not in st["experiment"] and conditions(st)["Selected"] == "False"
    (failed,) = events(sim, "Failed")
    assert failed.message == "Failed to select targets: no pod is selected"
    sim.apply([pod_chaos("zero", mode="fixed", value="0")])
    sim.env.run(until=sim.env.now + 1)
    assert events(sim, "Failed")[-1].message == (
        "Failed to select targets: cannot select any object as value below or equal 0"
    )


def test_container_kill_restarts_the_container_and_keeps_the_pod():
    sim = ready_cluster(replicas=1)
    (pod,) = sim.pods.values()
    sim.apply([pod_chaos(action="container-kill", containerNames=["server"])])
    sim.env.run(until=sim.env.now + 1)
    assert sim.pods == {pod.name: pod} and pod.containers[0].last_state["exitCode"] == 137
    sim.env.run(until=sim.env.now + 15)  # restarted after the 10 s back-off
    assert pod.containers[0].restart_count == 1
    (record,) = status(sim, "PodChaos", "kill")["experiment"]["containerRecords"]
    assert record["id"] == f"lab-test/{pod.name}/server"


def test_pod_failure_stops_serving_for_its_duration_then_recovers():
    sim = ready_cluster(replicas=1)
    (pod,) = sim.pods.values()
    sim.apply([pod_chaos(action="pod-failure", duration="120s")])
    sim.env.run(until=sim.env.now + 60)
    assert not pod.ready and pod.containers[0].spec["image"].endswith("pause:latest")
    st = status(sim, "PodChaos", "kill")
    assert conditions(st)["AllInjected"] == "True"
    sim.env.run(until=sim.env.now + 300)
    st = status(sim, "PodChaos", "kill")
    assert st["experiment"]["desiredPhase"] == "Stop" and conditions(st)["AllRecovered"] == "True"
    assert pod.containers[0].spec["image"] == "slolab/serve:0.1.0" and pod.ready
    reasons = [e.reason for e in sim.recorder.events if e.kind == "PodChaos"]
    assert reasons == ["Started", "Applied", "TimeUp", "Recovered"]


def test_pod_failure_without_duration_is_refused_when_applied():
    sim = ready_cluster(replicas=1)
    with pytest.raises(errors.InputError, match=r"spec\.duration is required for pod-failure"):
        sim.apply([pod_chaos(action="pod-failure")])


def ttft_s(sim, n=20, gap_s=2.0):
    reqs = []
    for i in range(n):
        r = request.Request(1000 + i + len(sim.recorder.events), sim.env.now, 100, 20, timeout_s=60)
        sim.send("llm", r)
        reqs.append(r)
        sim.env.run(until=sim.env.now + gap_s)
    sim.env.run(until=sim.env.now + 10)
    sim.sync_engines()
    assert all(r.ok for r in reqs), [r.error for r in reqs]
    return [r.ttft_s for r in reqs]


def test_network_delay_adds_its_latency_to_the_first_token_until_its_duration_ends():
    sim = ready_cluster(replicas=1)
    base = ttft_s(sim)
    sim.apply(
        [network_chaos(delay={"latency": "500ms", "jitter": "100ms", "correlation": "25"}, duration="120s")]
    )
    sim.env.run(until=sim.env.now + 0.001)
    delayed = ttft_s(sim)
    added = [d - b for d, b in zip(sorted(delayed), sorted(base), strict=True)]
    assert min(added) > 0.4 - 0.05 and max(added) < 0.6 + 0.05  # latency ± jitter
    assert max(delayed) - min(delayed) > 0.05  # jitter spreads it
    sim.env.run(until=sim.env.now + 120)
    st = status(sim, "NetworkChaos", "slow")
    assert conditions(st)["AllRecovered"] == "True"
    after = ttft_s(sim)
    assert max(after) < min(delayed)


def test_a_paused_network_chaos_is_recovered_and_resumes_when_unpaused():
    sim = ready_cluster(replicas=1)
    (pod,) = sim.pods.values()
    sim.apply([network_chaos()])
    sim.env.run(until=sim.env.now + 1)
    assert pod.netem is not None
    sim.apply([network_chaos(**{})])  # unchanged: nothing happens
    paused = network_chaos()
    paused.data["metadata"]["annotations"] = {chaosexperiment.PAUSE_ANNOTATION: "true"}
    sim.apply([paused])
    sim.env.run(until=sim.env.now + 1)
    st = status(sim, "NetworkChaos", "slow")
    assert (
        pod.netem is None
        and conditions(st)["Paused"] == "True"
        and st["experiment"]["desiredPhase"] == "Stop"
    )
    sim.apply([network_chaos()])
    sim.env.run(until=sim.env.now + 1)
    assert pod.netem is not None
    assert [e.reason for e in sim.recorder.events if e.kind == "NetworkChaos"] == [
        "Started",
        "Applied",
        "Paused",
        "Recovered",
        "Started",
        "Applied",
    ]


def schedule(
    name="every", policy="Forbid", history=None, cron="@every 60s", kind="PodChaos", inner=None, **extra
):
    spec = {"schedule": cron, "type": kind, "concurrencyPolicy": policy, **extra}
    if history is not None:
        spec["historyLimit"] = history
    key = {"PodChaos": "podChaos", "NetworkChaos": "networkChaos"}[kind]
    spec[key] = inner or {"action": "pod-kill", "mode": "one", "selector": SELECTOR}
    return doc("Schedule", name, spec)


def spawned(sim):
    return [e for e in sim.recorder.events if e.reason == timeline.SCHEDULE_SPAWNED]


def test_a_schedule_every_60s_kills_a_pod_each_minute_and_keeps_its_history():
    sim = ready_cluster()
    t0 = sim.env.now
    sim.apply([schedule(history=2)])
    sim.env.run(until=t0 + 305)
    times = [e.time_s - t0 for e in spawned(sim)]
    assert times == pytest.approx([60, 120, 180, 240, 300], abs=1)
    kills = [e for e in sim.recorder.events if e.kind == "PodChaos" and e.reason == "Applied"]
    assert len(kills) == 5
    st = status(sim, "Schedule", "every")
    assert len(st["active"]) == 2 and st["time"] is not None  # historyLimit 2: older ones deleted
    assert all(o["metadata"]["labels"]["managed-by"] == "every" for o in sim.api_objects("PodChaos"))


def test_a_cron_schedule_runs_on_the_wall_clock_minutes():
    sim = ready_cluster()
    sim.apply([schedule(cron="*/5 * * * *", history=1)])
    sim.env.run(until=1000)
    # the run starts at 2026-01-01T00:00:00Z: */5 fires at 300, 600 and 900 s
    assert [e.time_s for e in spawned(sim)] == [300, 600, 900]


def test_forbid_skips_a_run_while_the_last_chaos_still_runs_and_allow_does_not():
    long_delay = {
        "action": "delay",
        "mode": "all",
        "selector": SELECTOR,
        "delay": {"latency": "10ms"},
        "duration": "90s",
    }
    sim = ready_cluster(replicas=1)
    sim.apply([schedule(kind="NetworkChaos", inner=long_delay, history=5)])
    sim.env.run(until=sim.env.now + 245)
    forbid = [e for e in sim.recorder.events if e.reason == timeline.SCHEDULE_FORBID]
    assert forbid and "is still running" in forbid[0].message
    n_forbid = len(spawned(sim))
    sim2 = ready_cluster(replicas=1)
    sim2.apply([schedule(policy="Allow", kind="NetworkChaos", inner=long_delay, history=5)])
    sim2.env.run(until=sim2.env.now + 245)
    assert len(spawned(sim2)) == 4 > n_forbid
    assert not [e for e in sim2.recorder.events if e.reason == timeline.SCHEDULE_FORBID]


def test_deleting_a_schedule_deletes_its_chaos_and_recovers_it():
    delay = {"action": "delay", "mode": "all", "selector": SELECTOR, "delay": {"latency": "10ms"}}
    sim = ready_cluster(replicas=1)
    (pod,) = sim.pods.values()
    sim.apply([schedule(kind="NetworkChaos", inner=delay, history=3)])
    sim.env.run(until=sim.env.now + 61)
    assert pod.netem is not None
    sim.delete(API, "Schedule", "every")
    sim.env.run(until=sim.env.now + 1)
    assert sim.api_objects("NetworkChaos") == [] and pod.netem is None


def test_bad_schedules_are_refused_naming_the_field():
    sim = ready_cluster(replicas=1)
    with pytest.raises(errors.InputError) as exc:
        sim.apply(
            [
                schedule(cron="every minute"),
                schedule(
                    "s2",
                    kind="PodChaos",
                    inner={"action": "pod-failure", "mode": "one", "selector": SELECTOR},
                ),
            ]
        )
    text = str(exc.value.problems)
    assert "unparseable schedule: every minute" in text and "spec.podChaos.duration is required" in text


@pytest.mark.parametrize(("deadline", "first_s"), [(None, 440), (10, 480)])
def test_starting_deadline_limits_how_far_back_a_missed_run_is_made_up(deadline, first_s):
    # getRecentUnmetScheduleTime: the latest missed run since the last schedule time, or only
    # within startingDeadlineSeconds of now when it is set. Every minute on the wall clock, paused
    # until 440 s: the run of 420 s is made up at once, unless the deadline (10 s) lets it go and
    # the next one (480 s) is the first.
    sim = ready_cluster(replicas=1)
    t0 = sim.env.now
    extra = (
        {"cron": "* * * * *"}
        if deadline is None
        else {"cron": "* * * * *", "startingDeadlineSeconds": deadline}
    )
    paused = schedule(history=1, **extra)
    paused.data["metadata"]["annotations"] = {chaosexperiment.PAUSE_ANNOTATION: "true"}
    sim.apply([paused])
    sim.env.run(until=440)
    assert spawned(sim) == [] and t0 < 420
    sim.apply([schedule(history=1, **extra)])
    sim.env.run(until=500)
    assert spawned(sim)[0].time_s == pytest.approx(first_s, abs=0.01)
