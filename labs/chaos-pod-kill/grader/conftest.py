"""The chaos-pod-kill grading run: steady load, then a node drain and scheduled pod kills.

1. wait until the target Deployment serves (``wait_serving``, up to warmup_timeout_s);
2. start the scenario's `chat` profile and let it run steady_s;
3. apply the lab's chaos (chaos/schedule.yaml: a Chaos Mesh Schedule that kills one model pod
   every 5 minutes) and `kubectl drain` the node that runs the most model pods (planned
   maintenance, --timeout drain_timeout_s); uncordon it when the drain has ended;
4. keep the load on until chaos_s after the chaos started, then stop it and let requests in
   flight finish; delete the Schedule.

Every step goes through the backend's Cluster protocol (slolab.backends.base: apply, drain,
uncordon, delete), so the run is the same on sim, kind and a cluster.

The drain is judged from kubectl drain until the pods serve again as many as when it began (at
the latest until the next pod kill). The serving capacity through the run is read from the
timeline: a pod serves from the instant it is Ready with its model loaded until it is NotReady,
evicted, killed, deleted or its container restarts. Built on the grader kit
(slolab.grading.fixtures); the parameters are grader/params.py's.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

import pytest

from slolab.catalog import yamlfile
from slolab.load import requestlog
from slolab.run import timeline


@dataclasses.dataclass
class ChaosRun:
    log: requestlog.RequestLog
    steady: requestlog.Window
    chaos: requestlog.Window
    run: requestlog.Window
    drain: requestlog.Window  # from kubectl drain until it ended (or the whole chaos window)
    drain_recovery: requestlog.Window  # from kubectl drain until its pods were replaced
    drain_node: str | None
    drain_done: bool
    drain_output: list[str]
    drained_pods: list[str]  # the pods the drain evicted
    capacity: list[tuple[float, int]]  # (time, pods serving) steps from the timeline
    kills: list[float]  # when Chaos Mesh killed a pod


def serving_steps(events: list[Any], pods: set[str] | None = None) -> list[tuple[float, int]]:
    """Pods serving over time: Ready with the model loaded, not stopping, not gone."""
    loaded: dict[str, bool] = {}
    ready: dict[str, bool] = {}
    serving: set[str] = set()
    steps: list[tuple[float, int]] = [(0.0, 0)]
    for e in events:
        if e.kind != "Pod" or (pods is not None and e.name not in pods):
            continue
        name = e.name
        if e.reason == timeline.STARTED:
            loaded[name], ready[name] = False, ready.get(name, False)
        elif e.reason == timeline.MODEL_LOADED:
            loaded[name] = True
        elif e.reason == timeline.READY:
            ready[name] = True
        elif e.reason in (timeline.NOT_READY, timeline.NODE_NOT_READY):
            ready[name] = False
        elif e.reason in (timeline.KILLING, timeline.DELETED, timeline.CONTAINER_KILLED, timeline.EVICTED):
            ready[name] = loaded[name] = False
        now = ready.get(name, False) and loaded.get(name, False)
        if now != (name in serving):
            (serving.add if now else serving.discard)(name)
            if steps[-1][0] == e.time_s:
                steps[-1] = (e.time_s, len(serving))
            else:
                steps.append((e.time_s, len(serving)))
    return steps


def recovery(
    drain: requestlog.Window, capacity: list[tuple[float, int]], kills: list[float], end_s: float
) -> requestlog.Window:
    """From the drain's start until as many pods serve as when it began, once it has ended; at
    the latest until the next pod kill (then the kill, not the drain, takes pods away)."""
    limit = min([k for k in kills if k > drain.start_s] + [end_s])
    at_start = ([n for t, n in capacity if t < drain.start_s] or [0])[-1]
    back = next((t for t, n in capacity if t >= drain.end_s and n >= at_start), None)
    if back is None:
        back = limit if ([n for t, n in capacity if t <= drain.end_s] or [0])[-1] < at_start else drain.end_s
    stop = min(max(back, drain.end_s), limit)
    return requestlog.Window("drain until replaced", drain.start_s, max(stop, drain.start_s + 1.0))


def busiest_node(cluster: Any, deployment: str) -> str | None:
    """The node that runs the most of the target's pods (ties: by name)."""
    dep = cluster.get("Deployment", deployment) or {}
    selector = ((dep.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    nodes = Counter(
        p["spec"].get("nodeName")
        for p in cluster.list("Pod", labels=selector)
        if p["spec"].get("nodeName") and not p["metadata"].get("deletionTimestamp")
    )
    if not nodes:
        return None
    return min(nodes, key=lambda n: (-nodes[n], n))


@pytest.fixture(scope="session")
def chaos_run(lab, params, target, wait_serving, load_session) -> ChaosRun:
    """Steady load on a serving Deployment, then a node drain and Chaos Mesh pod kills under it."""
    wait_serving(params.warmup_timeout_s)
    chaos_docs = yamlfile.load_all(lab.lab.directory / "chaos" / "schedule.yaml", "chaos/schedule.yaml")
    with load_session(params.profile) as load:
        steady = load.hold("steady state", params.steady_s)
        with load.window("chaos"):
            start_s = lab.clock.now_s()
            lab.cluster.apply(chaos_docs)
            node = busiest_node(lab.cluster, target.deployment)
            drain = lab.cluster.drain(node, timeout_s=params.drain_timeout_s) if node else None
            if drain is not None:
                lab.cluster.wait_for(lambda: drain.finished_s is not None, params.drain_timeout_s + 1)
                lab.cluster.uncordon(node)
            drain_end = drain.finished_s if drain is not None and drain.finished_s is not None else None
            lab.clock.sleep(max(0.0, start_s + params.chaos_s - lab.clock.now_s()))
    lab.cluster.delete(chaos_docs)  # the chaos ends with the run (on kind, no more pod kills)
    chaos = load.windows["chaos"]
    events = list(lab.events)
    evicted = [e.name for e in events if e.kind == "Pod" and e.reason == timeline.EVICTED]
    kills = [e.time_s for e in events if e.kind == "PodChaos" and e.reason == timeline.CHAOS_APPLIED]
    capacity = serving_steps(events)
    drain_window = requestlog.Window(
        "node drain", start_s, drain_end if drain_end is not None else chaos.end_s
    )
    return ChaosRun(
        log=load.log,
        steady=steady,
        chaos=chaos,
        run=requestlog.Window("whole load", steady.start_s, chaos.end_s),
        drain=drain_window,
        drain_recovery=recovery(drain_window, capacity, kills, chaos.end_s),
        drain_node=node,
        drain_done=bool(drain is not None and drain.done),
        drain_output=list(drain.output) if drain is not None else [],
        drained_pods=evicted,
        capacity=capacity,
        kills=kills,
    )
