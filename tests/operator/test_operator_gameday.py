"""Game-day mode (slolab_operator.chaos): the operator creates Chaos Mesh objects in the lab's
namespace instead of deleting pods itself, and its timer drives the drain (cordon, evictions
through the Eviction API, uncordon) and the node loss (a NoExecute taint put on and taken off),
each step once across restarts, with requests the chart's RBAC allows; nothing without
spec.gameDay. The schedule is slolab.gameday.plan's (tests/gameday/test_plan.py).
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import kubernetes
from operator_support import create_lab, lab, wait_condition, wait_for
from rbac import access, allows, chart_rules

from slolab.gameday import plan
from slolab_operator import chaos, gameday

SCHEDULES = "chaos-mesh.org/v1alpha1/schedules"
NETWORKCHAOS = "chaos-mesh.org/v1alpha1/networkchaos"
NODES = "v1/nodes"


# -- the status bookkeeping --------------------------------------------------------------------


def test_state_records_each_step_once_and_keeps_the_latest_events() -> None:
    state = gameday.State(None)
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    for n in range(25):
        state.record(str(n), at, "drain", f"m{n}", step=n)
    assert state.changed and state.data["injections"] == 25
    assert all(state.done(str(n)) for n in range(25)) and not state.done("25")
    assert [e["message"] for e in state.data["events"]] == [f"m{n}" for n in range(5, 25)]
    again = gameday.State(state.data)
    assert not again.changed
    again.set("draining", None)
    assert not again.changed


# -- the timer, for real -----------------------------------------------------------------------


def _node(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}


def _pod(name: str, labels: dict, node: str, namespace: str = "lab-oscar") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "llm", "image": "slolab/serve:0.1.0"}]},
        "status": {"phase": "Running"},
    }


def test_the_game_day_creates_chaos_mesh_objects_and_drives_drain_and_node_loss(
    emulator, operator, api, helm: Path
) -> None:
    core = kubernetes.client.CoreV1Api(api)
    custom = kubernetes.client.CustomObjectsApi(api)
    for name in ("gpu-worker", "cpu-worker"):
        core.create_node(_node(name))
    with operator():
        create_lab(api, "oscar", lab="readiness-probes", gameDay=True, seed=3, gameDayMinutes=1)
        create_lab(api, "peggy", lab="readiness-probes")  # no game day
        wait_condition(emulator, "oscar", "Ready")
        wait_condition(emulator, "peggy", "Ready")
        selector = emulator.get("apps/v1/deployments", "lab-oscar", "llm")["spec"]["selector"]["matchLabels"]
        for i, node in enumerate(("gpu-worker", "gpu-worker", "cpu-worker")):
            core.create_namespaced_pod("lab-oscar", _pod(f"llm-{i}", selector, node))

        # at the start: the pod-kill Schedule, on the Deployment's pods, every 60 s / 6
        schedule = wait_for("the Schedule", lambda: emulator.get(SCHEDULES, "lab-oscar", "gameday-pod-kill"))
        assert schedule["spec"]["schedule"] == "@every 10s"
        assert schedule["spec"]["podChaos"]["selector"] == {
            "namespaces": ["lab-oscar"],
            "labelSelectors": selector,
        }
        assert emulator.get(NETWORKCHAOS, "lab-oscar", "gameday-network-delay") is None

        def state() -> dict:
            return (lab(emulator, "oscar").get("status") or {}).get("gameDay") or {}

        # the game day's clock started at the first tick (gameDayMinutes: 1), written with the
        # Schedule's step (wait for it: a later write of that tick would undo the move below)
        wait_for("the game day's start", lambda: state().get("done", {}).get(chaos.SCHEDULE_KEY))
        assert state()["startedAt"]
        # move it 50 s back (as after an operator that was down): every step due by then runs
        # once, in order
        started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=50)
        custom.patch_cluster_custom_object_status(
            "slolab.dev",
            "v1alpha1",
            "labs",
            "oscar",
            {"status": {"gameDay": {"startedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ")}}},
        )
        steps, _ = plan.schedule(60)
        due = [str(i) for i, s in enumerate(steps) if s.action != plan.POD_KILL and s.at_s <= 50]

        wait_for("every step due", lambda: all(k in state().get("done", {}) for k in due))
        during = state()
        delay = emulator.get(NETWORKCHAOS, "lab-oscar", "gameday-network-delay")
        # switched off (as slolab gameday does at the end): the game day ends and cleans up
        custom.patch_cluster_custom_object(
            "slolab.dev", "v1alpha1", "labs", "oscar", {"spec": {"gameDay": False}}
        )
        wait_for("the end of the game day", lambda: state().get("endedAt"))

    game_day = state()
    assert emulator.get(SCHEDULES, "lab-oscar", "gameday-pod-kill") is None
    assert emulator.get(NETWORKCHAOS, "lab-oscar", "gameday-network-delay") is None
    assert game_day["events"][-1]["action"] == "ended"
    actions = [e["action"] for e in during["events"]]
    assert actions[0] == plan.POD_KILL
    assert [a for a in actions if a in plan.ACTIONS[1:]] == [
        plan.NETWORK_DELAY,
        plan.DRAIN,
        plan.UNCORDON,
        plan.NODE_DOWN,
        plan.NODE_UP,
    ]
    assert delay["spec"]["action"] == "delay" and delay["spec"]["selector"]["labelSelectors"] == selector
    # the drain and the loss hit the node with most of the lab's live pods; both are undone by
    # now. The drain's evictions leave gpu-worker's two pods Terminating (the emulator deletes
    # gracefully and has no kubelet or ReplicaSet controller), so the loss finds cpu-worker's.
    assert (game_day["drainedNode"], game_day["lostNode"]) == ("gpu-worker", "cpu-worker")
    gpu, cpu = emulator.get(NODES, None, "gpu-worker"), emulator.get(NODES, None, "cpu-worker")
    assert not gpu["spec"].get("unschedulable")
    assert chaos.NODE_LOST_TAINT["key"] not in [t["key"] for t in cpu["spec"].get("taints") or []]
    requests = emulator.requests()
    evictions = {
        r.path.split("/")[-2] for r in requests if r.method == "POST" and r.path.endswith("/eviction")
    }
    assert evictions == {"llm-0", "llm-1"}
    node_patches = [r.path for r in requests if r.method == "PATCH" and r.path.startswith("/api/v1/nodes/")]
    # cordon, uncordon, taint, untaint, and the end's uncordon and untaint (idempotent)
    assert set(node_patches) == {"/api/v1/nodes/gpu-worker", "/api/v1/nodes/cpu-worker"}
    assert len(node_patches) == 6
    assert not any(r.method == "DELETE" and "/pods/" in r.path for r in requests), (
        "the operator deleted a pod"
    )
    assert "gameDay" not in lab(emulator, "peggy")["status"]
    assert emulator.objects(SCHEDULES, "lab-peggy") == {}

    rules = chart_rules(helm)
    cluster, per_lab = rules["ClusterRole", "slolab-operator"], rules["ClusterRole", "slolab-operator-lab"]
    denied, checked = [], set()
    for r in requests:
        want = access(r.method, r.path, r.params)
        if not r.user_agent.startswith("slolab-operator") or want is None:
            continue
        checked.add(want.resource)
        lab_ns = (want.namespace or "").startswith("lab-")
        if not (allows(cluster, want) or (lab_ns and allows(per_lab, want))):
            denied.append(str(want))
    assert {"nodes", "pods/eviction", "schedules", "networkchaos"} <= checked
    assert any(r.method == "DELETE" and r.path.endswith("/schedules/gameday-pod-kill") for r in requests)
    assert not denied, "requests the chart's RBAC would refuse:\n" + "\n".join(sorted(set(denied)))


def test_switched_off_mid_run_the_game_day_rolls_back_and_runs_no_further_step(
    emulator, operator, api
) -> None:
    # what slolab gameday's stop condition does (slolab.gameday.stop, AWS FIS stop conditions):
    # spec.gameDay goes false in the middle of the schedule; the operator deletes its Chaos Mesh
    # objects, uncordons a node it is draining, takes the taint off a node it lost, and does none
    # of the remaining steps. Two labs on their own nodes: one stopped while its node is cordoned
    # (10-minute schedule moved 250 s on: drain at 240 s done, uncordon at 330 s not), one while
    # its node is lost (moved 400 s on: node-down at 390 s done, node-up at 480 s not).
    core = kubernetes.client.CoreV1Api(api)
    custom = kubernetes.client.CustomObjectsApi(api)
    cases = {"rita": ("gpu-r", "cpu-r", 250), "sam": ("gpu-s", "cpu-s", 400)}
    for gpu, cpu, _ in cases.values():
        core.create_node(_node(gpu))
        core.create_node(_node(cpu))

    def state(name: str) -> dict:
        return (lab(emulator, name).get("status") or {}).get("gameDay") or {}

    steps, _ = plan.schedule(600)
    with operator():
        for name in cases:
            create_lab(api, name, lab="readiness-probes", gameDay=True, seed=3, gameDayMinutes=10)
        for name, (gpu, cpu, back_s) in cases.items():
            ns = f"lab-{name}"
            wait_condition(emulator, name, "Ready")
            selector = emulator.get("apps/v1/deployments", ns, "llm")["spec"]["selector"]["matchLabels"]
            for i, node in enumerate((gpu, gpu, cpu)):
                core.create_namespaced_pod(ns, _pod(f"llm-{i}", selector, node, ns))
            wait_for(f"{name}'s start", lambda name=name: state(name).get("done", {}).get(chaos.SCHEDULE_KEY))
            started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=back_s)
            custom.patch_cluster_custom_object_status(
                "slolab.dev",
                "v1alpha1",
                "labs",
                name,
                {"status": {"gameDay": {"startedAt": started.strftime("%Y-%m-%dT%H:%M:%SZ")}}},
            )
            due = [str(i) for i, s in enumerate(steps) if s.action != plan.POD_KILL and s.at_s <= back_s]
            wait_for(
                f"{name}'s steps due", lambda name=name, due=due: all(k in state(name)["done"] for k in due)
            )
        # mid-run: rita's gpu node is cordoned, sam's cpu node carries the node-lost taint
        assert emulator.get(NODES, None, "gpu-r")["spec"].get("unschedulable") is True
        sam_cpu_taints = emulator.get(NODES, None, "cpu-s")["spec"].get("taints") or []
        assert chaos.NODE_LOST_TAINT["key"] in [t["key"] for t in sam_cpu_taints]
        for name in cases:
            assert emulator.get(NETWORKCHAOS, f"lab-{name}", "gameday-network-delay") is not None
            custom.patch_cluster_custom_object(
                "slolab.dev", "v1alpha1", "labs", name, {"spec": {"gameDay": False}}
            )
        for name in cases:
            wait_for(f"{name}'s end", lambda name=name: state(name).get("endedAt"))
        # a few ticks more: no step runs after the end (a tick that still had the status from
        # before the end may end it once more: deleting and giving back again changes nothing)
        time.sleep(1.0)
        ended = {name: state(name) for name in cases}

    for name, (_, _, back_s) in cases.items():
        ns = f"lab-{name}"
        assert emulator.get(SCHEDULES, ns, "gameday-pod-kill") is None
        assert emulator.get(NETWORKCHAOS, ns, "gameday-network-delay") is None
        assert ended[name]["events"][-1]["action"] == "ended"
        assert "spec.gameDay was switched off" in ended[name]["events"][-1]["message"]
        # none of the steps due after the switch-off ran
        not_due = {str(i) for i, s in enumerate(steps) if s.action != plan.POD_KILL and s.at_s > back_s}
        assert not_due and not not_due & set(ended[name]["done"])
    assert not emulator.get(NODES, None, "gpu-r")["spec"].get("unschedulable")
    for node in ("gpu-s", "cpu-s", "gpu-r", "cpu-r"):
        taints = emulator.get(NODES, None, node)["spec"].get("taints") or []
        assert chaos.NODE_LOST_TAINT["key"] not in [t["key"] for t in taints], node
    assert ended["rita"]["drainedNode"] == "gpu-r" and "lostNode" not in ended["rita"]
    assert ended["sam"]["lostNode"] == "cpu-s"


def test_a_scenario_chaos_step_becomes_a_chaos_mesh_object() -> None:
    """scenario.yaml ``chaos:`` steps (Chaos Mesh words: pod-kill of ``count`` pods among a label
    selector): with every_s a Schedule, without it one PodChaos; both valid upstream objects."""
    import test_crd_conformance as conformance

    from slolab.catalog import scenario

    crds = conformance.CRDs(conformance.require_crd_dir(conformance._candidates()))
    labels = {"app.kubernetes.io/name": "llm-serving"}
    every = scenario.ChaosStep(at_s=30, every_s=120, selector=labels, count=2)
    once = scenario.ChaosStep(at_s=60, selector=labels)
    schedule = chaos._scenario_chaos("lab-x", 0, every, "team")
    assert (schedule["kind"], schedule["spec"]["schedule"]) == ("Schedule", "@every 2m")
    assert schedule["spec"]["podChaos"]["mode"] == "fixed" and schedule["spec"]["podChaos"]["value"] == "2"
    pod_chaos = chaos._scenario_chaos("lab-x", 1, once, "team")
    assert (pod_chaos["kind"], pod_chaos["spec"]["mode"]) == ("PodChaos", "one")
    assert pod_chaos["spec"]["selector"] == {"namespaces": ["lab-x"], "labelSelectors": labels}
    assert crds.validate(schedule) == [] and crds.validate(pod_chaos) == []
