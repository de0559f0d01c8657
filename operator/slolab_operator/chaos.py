"""A game day on kind/cluster: the operator's game-day mode, driven by a kopf timer.

With ``spec.gameDay`` on a Ready Lab the timer (interval ``Config.chaos_interval_s``) runs, from
its first tick (``status.gameDay.startedAt``) for ``spec.gameDayMinutes`` (default the time limit),
the same schedule
``slolab gameday`` runs on the simulator (``slolab.gameday.plan.schedule``), and never kills a pod
itself:

- at the start it creates the Chaos Mesh ``Schedule`` of ``PodChaos`` pod-kill (``@every`` a
  sixth of the run; ``slolab.gameday.chaosmesh``) in the lab's namespace, on the pods of the lab's
  Deployment (its ``spec.selector.matchLabels``), and one ``Schedule`` per step of the scenario's
  own ``chaos:`` list (``@every every_s``, created ``at_s`` after the start; a step without
  ``every_s`` is one ``PodChaos`` then); Chaos Mesh (slolab-platform) kills the pods;
- at 20 % it creates the ``NetworkChaos`` delay;
- at 40 % it drains the node that holds most of the lab's pods as ``kubectl drain`` does
  (kubernetes v1.35 staging/src/k8s.io/kubectl/pkg/drain: cordon.go sets spec.unschedulable,
  drain.go evictPods asks the Eviction API for each pod and retries a 429 refusal; here every
  timer tick retries until none is left), as far as the lab's own pods go (the operator may evict
  only in lab namespaces); at 55 % it uncordons that node;
- at 65 % the node is "lost" until 80 %: a pod on a node whose kubelet stopped is evicted by the
  taint eviction controller once its toleration of ``node.kubernetes.io/unreachable`` runs out
  (https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions).
  The operator cannot stop a kubelet from inside the cluster, and the node lifecycle controller
  removes an ``unreachable`` taint from a node that still reports Ready
  (pkg/controller/nodelifecycle ``markNodeAsReachable``), so it puts its own NoExecute taint
  :data:`NODE_LOST_TAINT` on the node instead: the lab's pods are evicted at once (as after the
  toleration) and none is scheduled there until the taint is removed at 80 %. On kind,
  ``docker stop <node>`` from the host is the real thing.

When its time is up or ``spec.gameDay`` is switched off, the game day ends: the timer deletes
its Chaos Mesh objects (Chaos Mesh recovers what they injected), uncordons the drained node and
takes the taint off the lost one, and records ``endedAt``.

What is done is kept in ``status.gameDay`` (``slolab_operator.gameday``): ``done`` per step, the
drain in progress and the nodes drained and lost, so no step runs twice across operator restarts,
and a step that came due while the operator was down runs once when it is back.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from slolab.gameday import chaosmesh
from slolab.gameday import plan as plan_mod
from slolab_operator import conditions, gameday, kube, spec
from slolab_operator import deps as deps_mod
from slolab_operator.conditions import READY

CHAOS_MESH = "/apis/chaos-mesh.org/v1alpha1/namespaces/{namespace}/{plural}"
NODES = "/api/v1/nodes"
#: The taint a lost node gets (see the module docstring): NoExecute evicts what does not tolerate it.
NODE_LOST_TAINT = {"key": "slolab.dev/node-lost", "value": "gameday", "effect": "NoExecute"}
SCHEDULE_KEY = "schedule"


def _path(namespace: str, plural: str) -> str:
    return CHAOS_MESH.format(namespace=namespace, plural=plural)


def active(spec_: Any, status: Any) -> bool:
    """Whether the timer has work: a game day is asked for, or one started and is not ended."""
    game_day = (status or {}).get("gameDay") or {}
    return bool((spec_ or {}).get("gameDay")) or (
        bool(game_day.get("startedAt")) and not game_day.get("endedAt")
    )


async def inject(
    deps: deps_mod.Deps, name: str, spec_: Any, status: Any, patch: kopf.Patch, logger: logging.Logger
) -> None:
    """Run the game day's steps of Lab ``name`` that are due and not yet done; end it (delete its
    Chaos Mesh objects, give its nodes back) when its time is up or spec.gameDay is switched off."""
    try:
        run = spec.parse(name, spec_, deps.config.lab_overlay())
    except spec.SpecError:
        return
    now = conditions.now()
    state = gameday.State(status.get("gameDay"))
    if state.get("endedAt") and run.game_day:
        return  # one game day per status.gameDay: clear it for another (slolab gameday does)
    api = deps.api()
    try:
        if run.game_day and conditions.is_true(status.get("conditions"), READY):
            if not state.get("startedAt"):
                state.set("startedAt", conditions.timestamp(now))
            elapsed_s = (now - conditions.parse_time(state.get("startedAt"))).total_seconds()
            duration_s = run.game_day_minutes * 60.0
            if elapsed_s <= duration_s:
                await _step(api, run, state, elapsed_s, duration_s, now, logger)
            else:
                await _end(api, run, state, now, "its time is up")
        elif state.get("startedAt") and not state.get("endedAt"):
            await _end(api, run, state, now, "spec.gameDay was switched off")
    except kube.KubeError as exc:
        raise deps_mod.retry(exc, deps.config.retry_s) from None
    finally:
        if state.changed:
            patch.status["gameDay"] = state.data


async def _end(
    api: kube.Kube, run: spec.LabRun, state: gameday.State, now: datetime.datetime, why: str
) -> None:
    """The end of the experiment: delete the Chaos Mesh objects, uncordon and untaint the nodes."""
    ns = run.namespace
    await api.delete_object(f"{_path(ns, 'schedules')}/gameday-pod-kill")
    await api.delete_object(f"{_path(ns, 'networkchaos')}/gameday-network-delay")
    for index, step in enumerate(run.scenario.chaos):
        await api.delete_object(
            f"{_path(ns, 'schedules' if step.every_s else 'podchaos')}/scenario-chaos-{index}"
        )
    drained, lost = state.get("drainedNode"), state.get("lostNode")
    if drained:
        await api.merge_patch(f"{NODES}/{drained}", {"spec": {"unschedulable": False}})
    if lost:
        await _set_taint(api, lost, add=False)
    state.set("draining", None)
    state.set("endedAt", conditions.timestamp(now))
    state.record(
        "ended", now, "ended", f"game day ended ({why}): Chaos Mesh objects deleted, nodes given back"
    )


async def _step(
    api: kube.Kube,
    run: spec.LabRun,
    state: gameday.State,
    elapsed_s: float,
    duration_s: float,
    now: datetime.datetime,
    logger: logging.Logger,
) -> None:
    ns = run.namespace
    labels = await _selector(api, run)
    steps, every_s = plan_mod.schedule(duration_s)
    if not state.done(SCHEDULE_KEY):
        doc = chaosmesh.pod_kill_schedule(ns, labels, every_s, run.name)
        await api.apply_object(_path(ns, "schedules"), doc)
        state.record(SCHEDULE_KEY, now, "pod-kill", f"Schedule gameday-pod-kill {doc['spec']['schedule']}")
    for index, extra in enumerate(run.scenario.chaos):
        key = f"chaos-{index}"
        if state.done(key) or (extra.at_s or 0.0) > elapsed_s:
            continue
        doc = _scenario_chaos(ns, index, extra, run.name)
        await api.apply_object(_path(ns, "schedules" if extra.every_s else "podchaos"), doc)
        state.record(key, now, extra.action, f"{doc['kind']} {doc['metadata']['name']}")
    if state.draining:
        await _evict(api, run, state, state.draining, now)
    for index, step in enumerate(steps):
        key = str(index)
        if step.action == plan_mod.POD_KILL or state.done(key) or step.at_s > elapsed_s:
            continue
        message = await _do(api, run, state, step, labels, now)
        logger.info("game day %s: %s at %g s: %s", run.name, step.action, step.at_s, message)
        state.record(key, now, step.action, message, step=index)


async def _do(
    api: kube.Kube,
    run: spec.LabRun,
    state: gameday.State,
    step: plan_mod.Step,
    labels: Mapping[str, str],
    now: datetime.datetime,
) -> str:
    ns = run.namespace
    if step.action == plan_mod.NETWORK_DELAY:
        doc = chaosmesh.network_delay(ns, labels, step.duration_s or 60.0, run.name)
        await api.apply_object(_path(ns, "networkchaos"), doc)
        return f"NetworkChaos gameday-network-delay for {doc['spec']['duration']}"
    if step.action == plan_mod.DRAIN:
        node = await _busiest_node(api, ns, labels)
        if node is None:
            return "drain: no pod of the lab is on a node"
        await api.merge_patch(f"{NODES}/{node}", {"spec": {"unschedulable": True}})
        state.set("drainedNode", node)
        state.set("draining", node)
        await _evict(api, run, state, node, now)
        return f"node {node} cordoned; evicting the lab's pods on it"
    if step.action == plan_mod.UNCORDON:
        node = state.get("drainedNode")
        if not node:
            return "uncordon: no node was drained"
        await api.merge_patch(f"{NODES}/{node}", {"spec": {"unschedulable": False}})
        state.set("draining", None)
        return f"node {node} uncordoned"
    if step.action == plan_mod.NODE_DOWN:
        node = await _busiest_node(api, ns, labels)
        if node is None:
            return "node loss: no pod of the lab is on a node"
        await _set_taint(api, node, add=True)
        state.set("lostNode", node)
        return f"node {node} lost: tainted {NODE_LOST_TAINT['key']}:NoExecute"
    node = state.get("lostNode")
    if not node:
        return "node back: no node was lost"
    await _set_taint(api, node, add=False)
    return f"node {node} back: taint {NODE_LOST_TAINT['key']} removed"


def _scenario_chaos(namespace: str, index: int, step: Any, team: str) -> dict[str, Any]:
    """A scenario ``chaos:`` step as a Schedule (with every_s) or a PodChaos (once)."""
    if step.every_s:
        doc = chaosmesh.pod_kill_schedule(
            namespace, step.selector, step.every_s, team, f"scenario-chaos-{index}"
        )
        if step.count > 1:
            doc["spec"]["podChaos"].update(mode="fixed", value=str(step.count))
        return doc
    return {
        "apiVersion": chaosmesh.API_VERSION,
        "kind": "PodChaos",
        "metadata": {
            "name": f"scenario-chaos-{index}",
            "namespace": namespace,
            "labels": {chaosmesh.LABEL: team},
        },
        "spec": {
            "action": "pod-kill",
            "mode": "fixed" if step.count > 1 else "one",
            **({"value": str(step.count)} if step.count > 1 else {}),
            "selector": {"namespaces": [namespace], "labelSelectors": dict(step.selector)},
        },
    }


async def _selector(api: kube.Kube, run: spec.LabRun) -> dict[str, str]:
    name = run.lab.grading.target.deployment
    deployment = await api.read_object(f"/apis/apps/v1/namespaces/{run.namespace}/deployments/{name}")
    labels = (((deployment or {}).get("spec") or {}).get("selector") or {}).get("matchLabels")
    if not labels:
        raise kube.KubeError(
            f"game day: Deployment {run.namespace}/{name} has no spec.selector.matchLabels yet", 0
        )
    return dict(labels)


def _live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pods not going away and not a DaemonSet's (kubectl drain --ignore-daemonsets)."""
    return [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and not any(o.get("kind") == "DaemonSet" for o in p["metadata"].get("ownerReferences") or [])
    ]


async def _busiest_node(api: kube.Kube, namespace: str, labels: Mapping[str, str]) -> str | None:
    counts: dict[str, int] = {}
    for p in _live(await api.list_pods(namespace, labels)):
        node = (p.get("spec") or {}).get("nodeName")
        if node:
            counts[node] = counts.get(node, 0) + 1
    return sorted(counts, key=lambda n: (-counts[n], n))[0] if counts else None


async def _evict(
    api: kube.Kube, run: spec.LabRun, state: gameday.State, node: str, now: datetime.datetime
) -> None:
    """Evict the lab's pods on ``node``; the drain is over when none is refused."""
    pods = [
        p
        for p in _live(await api.list_pods(run.namespace, {}))
        if (p.get("spec") or {}).get("nodeName") == node
    ]
    refused = [
        p["metadata"]["name"] for p in pods if not await api.evict_pod(run.namespace, p["metadata"]["name"])
    ]
    if refused:
        return
    state.set("draining", None)
    state.record(
        f"drained-{node}", now, "drained", f"node {node} drained ({len(pods)} pods evicted at the last pass)"
    )


async def _set_taint(api: kube.Kube, node: str, add: bool) -> None:
    obj = await api.read_object(f"{NODES}/{node}") or {}
    taints = [
        t for t in (obj.get("spec") or {}).get("taints") or [] if t.get("key") != NODE_LOST_TAINT["key"]
    ]
    if add:
        taints.append(dict(NODE_LOST_TAINT))
    await api.merge_patch(f"{NODES}/{node}", {"spec": {"taints": taints}})
