"""Run a game day: warm up, start steady load, apply the chaos schedule in time, score it.

The procedure of a facilitated game day (research §3.2: T0 baseline → inject → detect → recover
→ verify → scorecard), on one backend: wait until the target Deployment is Ready (at most
``plan.WARMUP_TIMEOUT_S``), start the scenario's steady profile (T0), create the pod-kill
Schedule, then at each step's time apply the NetworkChaos, or drain / uncordon / lose / give back
the node that holds most of the target's pods; at T0 + duration delete the Chaos Mesh objects
(the end of the experiment), stop the load and score the request log (``slolab.gameday.score``).
Every action goes into the run log with the ready pods it found, and the timeline's chaos events
(pods deleted and evicted, nodes NotReady, Chaos Mesh's records) as what was observed.

Between steps the runner waits through the plan's stop condition (``slolab.gameday.stop``,
evaluated every 15 s of run time on the requests finished so far). When it trips, as an AWS FIS
experiment whose stop-condition alarm goes off, the chaos is rolled back at once: the Chaos Mesh
objects are deleted, a drained node uncordoned, a lost node given back (each a line of the run
log), and none of the plan's remaining steps runs; the load goes on to the planned end and the
whole run is scored.

The chaos itself is done by a :class:`Chaos` (``slolab.gameday.simchaos`` on the simulator).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from slolab import errors
from slolab.backends import base
from slolab.gameday import chaosmesh, score, stop
from slolab.gameday import plan as plan_mod
from slolab.load import requestlog
from slolab.run import timeline
from slolab.workspace import variants


class Chaos(Protocol):
    """The chaos a game day does to a backend's cluster."""

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        """Create Chaos Mesh objects in the lab's namespace (``kubectl apply``)."""

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        """Delete Chaos Mesh objects (``kubectl delete``): the end of the experiment."""

    def drain(self, node: str) -> None:
        """``kubectl drain`` (cordon, then evict every pod that is not a DaemonSet's)."""

    def uncordon(self, node: str) -> None:
        """``kubectl uncordon``."""

    def set_node_ready(self, node: str, ready: bool) -> None:
        """The node's kubelet stops (False: the node is lost) or comes back (True)."""


@dataclasses.dataclass(frozen=True)
class LogLine:
    """One line of the run log (research §3.2: Time | Action | Observed | Steady state OK?)."""

    at_s: float
    action: str
    target: str
    detail: str


@dataclasses.dataclass
class Result:
    plan: plan_mod.Plan
    score: score.Score
    log: list[LogLine]
    #: ready_pods / pods step series, seconds after T0
    series: dict[str, list[tuple[float, float]]]
    #: seconds from the backend's start to T0 (the warm-up)
    warmup_s: float
    manifests: list[dict[str, Any]]
    #: the stop condition's trip: when it halted the chaos and why; None: the plan ran to the end
    trip: stop.Trip | None = None

    @property
    def stopped_at_s(self) -> float | None:
        return None if self.trip is None else self.trip.at_s

    @property
    def stop_reason(self) -> str | None:
        return None if self.trip is None else self.trip.reason


def selector(cluster: base.Cluster, name: str) -> dict[str, str]:
    """The target Deployment's ``spec.selector.matchLabels``: the pods the chaos selects."""
    deployment = cluster.get("Deployment", name)
    if deployment is None:
        raise errors.BackendError(
            f"no Deployment {name!r} in {cluster.namespace}: nothing for the game day to run against",
            "Check the workspace's deployment.yaml (metadata.name), or `make reset NAME=<lab>`.",
        )
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels")
    if not labels:
        raise errors.BackendError(
            f"Deployment {name!r} has no spec.selector.matchLabels for the chaos to select its pods",
            "Check the workspace's deployment.yaml.",
        )
    return dict(labels)


def ready(cluster: base.Cluster, name: str) -> bool:
    d = cluster.get("Deployment", name) or {}
    want = (d.get("spec") or {}).get("replicas", 1)
    return bool(d) and (d.get("status") or {}).get("readyReplicas", 0) >= want


def _ready_pods(cluster: base.Cluster, labels: Mapping[str, str]) -> int:
    pods = cluster.list("Pod", labels=dict(labels))
    return sum(
        1
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
        and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (p.get("status") or {}).get("conditions") or []
        )
    )


def busiest_node(cluster: base.Cluster, labels: Mapping[str, str]) -> str:
    """The node with most of the selected pods (ties: the first by name); a GPU node when none."""
    counts: dict[str, int] = {}
    for p in cluster.list("Pod", labels=dict(labels)):
        node = (p.get("spec") or {}).get("nodeName")
        if node and not p["metadata"].get("deletionTimestamp"):
            counts[node] = counts.get(node, 0) + 1
    if counts:
        return sorted(counts, key=lambda n: (-counts[n], n))[0]
    nodes = sorted(n["metadata"]["name"] for n in cluster.list("Node"))
    if not nodes:
        raise errors.BackendError("the cluster has no nodes to drain")
    return nodes[-1]


def _workspace(plan: plan_mod.Plan, tmp: Path) -> Path:
    if plan.manifests_from == "workspace":
        return plan.workspace
    folder = tmp / plan.lab.name
    variants.write(variants.fault_files(plan.lab), folder)
    return folder


def run(plan: plan_mod.Plan, backend_factory: Any, chaos_factory: Any) -> Result:
    """Run ``plan``: ``backend_factory(lab, workspace, seed)`` opens the backend, and
    ``chaos_factory(backend)`` gives its :class:`Chaos`."""
    with tempfile.TemporaryDirectory(prefix="slolab-gameday-") as tmp:
        backend = backend_factory(plan.lab, _workspace(plan, Path(tmp)), plan.seed)
        try:
            return _run(plan, backend, chaos_factory(backend))
        finally:
            backend.close()


def _run(plan: plan_mod.Plan, backend: base.Backend, chaos: Chaos) -> Result:
    target = plan.lab.grading.target.deployment
    cluster, clock = backend.cluster, backend.clock
    labels = selector(cluster, target)
    if not cluster.wait_for(lambda: ready(cluster, target), timeout_s=plan_mod.WARMUP_TIMEOUT_S, poll_s=5.0):
        raise errors.BackendError(
            f"Deployment {target!r} was not Ready within {plan_mod.WARMUP_TIMEOUT_S:g} s, so the game day "
            "did not start",
            f"Run `make grade NAME={plan.lab.name}` and fix what keeps it from starting.",
        )
    t0 = clock.now_s()
    handle = backend.load.start(plan.profile)
    log: list[LogLine] = []
    injections: list[score.Injection] = []
    manifests: list[dict[str, Any]] = []
    if any(s.action == plan_mod.POD_KILL for s in plan.steps):
        manifests.append(chaosmesh.pod_kill_schedule(cluster.namespace, labels, plan.kill_every_s, plan.team))
        chaos.apply(manifests[:1])
        log.append(LogLine(0.0, "schedule", "Schedule/gameday-pod-kill", manifests[0]["spec"]["schedule"]))
    nodes: dict[str, str] = {}  # the node drained and the node lost (not yet given back), by action
    watch = stop.Watch(stop.StopCondition.of(plan), clock, t0, lambda: backend.load.so_far(handle))
    trip = None
    for step in plan.steps:
        trip = watch.wait_until(step.at_s)
        if trip is not None:
            roll_back(trip, chaos, manifests, nodes, log)
            break
        what, detail = _act(plan, step, cluster, chaos, labels, nodes, manifests)
        log.append(LogLine(step.at_s, step.action, what, detail))
        if step.action in plan_mod.INJECTIONS:
            injections.append(score.Injection(step.at_s, step.action, f"{what}: {detail}"))
    if trip is None and (trip := watch.wait_until(plan.duration_s)) is not None:
        roll_back(trip, chaos, manifests, nodes, log)
    watch.wait_until(plan.duration_s)
    # the end of the experiment: no injection after it (a kill due at the very end would cut
    # streams while the load drains)
    chaos.delete(manifests)
    request_log = backend.load.stop(handle)
    result_score = score_run(plan, request_log, t0, injections, trip)
    series = {name: series_from(points, t0) for name, points in backend.series().items() if name in SERIES}
    note_events(log, backend.events, t0, plan.duration_s)
    return Result(plan, result_score, log, series, t0, manifests, trip)


def score_run(
    plan: plan_mod.Plan,
    request_log: requestlog.RequestLog,
    t0: float,
    injections: list[score.Injection],
    trip: stop.Trip | None,
) -> score.Score:
    """The game day's score from its request log (times on the backend clock, T0 at ``t0``),
    against the plan's error budget, with the stop condition's trip if any."""
    return score.score(
        score.samples(request_log, t0),
        injections,
        plan.duration_s,
        plan.slo,
        budget_failures=plan.budget_failures,
        stopped_at_s=None if trip is None else trip.at_s,
        stop_reason=None if trip is None else trip.reason,
    )


def roll_back(
    trip: stop.Trip,
    chaos: Chaos,
    manifests: list[dict[str, Any]],
    nodes: dict[str, str],
    log: list[LogLine],
) -> None:
    """The stop condition went off: log it, then undo what the chaos did so far, as AWS FIS rolls
    back an experiment's actions when a stop condition stops it (Chaos Mesh recovers what a
    deleted chaos object injected; a drained node is uncordoned, a lost node comes back)."""
    log.append(LogLine(trip.at_s, stop.ACTION, stop.TARGET, trip.detail))
    if manifests:
        chaos.delete(manifests)
    for doc in manifests:
        log.append(
            LogLine(
                trip.at_s,
                "delete",
                f"{doc['kind']}/{doc['metadata']['name']}",
                "kubectl delete: Chaos Mesh ends the chaos and recovers what it injected (stop condition)",
            )
        )
    if plan_mod.DRAIN in nodes:
        node = nodes.pop(plan_mod.DRAIN)
        chaos.uncordon(node)
        log.append(LogLine(trip.at_s, plan_mod.UNCORDON, f"Node/{node}", "kubectl uncordon (stop condition)"))
    if plan_mod.NODE_DOWN in nodes:
        node = nodes.pop(plan_mod.NODE_DOWN)
        chaos.set_node_ready(node, True)
        log.append(
            LogLine(
                trip.at_s, plan_mod.NODE_UP, f"Node/{node}", "kubelet back: the node returns (stop condition)"
            )
        )


def _act(
    plan: plan_mod.Plan,
    step: plan_mod.Step,
    cluster: base.Cluster,
    chaos: Chaos,
    labels: Mapping[str, str],
    nodes: dict[str, str],
    manifests: list[dict[str, Any]],
) -> tuple[str, str]:
    """Do ``step`` (the pod kills are the Schedule's); what it acted on and what it did."""
    ready_now = _ready_pods(cluster, labels)
    if step.action == plan_mod.POD_KILL:
        return (
            "Schedule/gameday-pod-kill",
            f"Chaos Mesh Schedule kills one pod (ready pods before: {ready_now})",
        )
    if step.action == plan_mod.NETWORK_DELAY:
        doc = chaosmesh.network_delay(
            cluster.namespace, labels, step.duration_s or 60.0, plan.team, plan.latency_ms, plan.jitter_ms
        )
        manifests.append(doc)
        chaos.apply([doc])
        delay = doc["spec"]["delay"]
        return (
            "NetworkChaos/gameday-network-delay",
            f"delay {delay['latency']} ± {delay['jitter']} for {doc['spec']['duration']}",
        )
    if step.action == plan_mod.DRAIN:
        node = nodes[plan_mod.DRAIN] = busiest_node(cluster, labels)
        chaos.drain(node)
        return f"Node/{node}", f"kubectl drain (ready pods before: {ready_now})"
    if step.action == plan_mod.NODE_DOWN:
        node = nodes[plan_mod.NODE_DOWN] = busiest_node(cluster, labels)
        chaos.set_node_ready(node, False)
        return f"Node/{node}", f"kubelet stops: the node is lost (ready pods before: {ready_now})"
    undo = plan_mod.DRAIN if step.action == plan_mod.UNCORDON else plan_mod.NODE_DOWN
    if undo not in nodes:
        return "Node/-", f"{step.action}: no node was {'drained' if undo == plan_mod.DRAIN else 'lost'}"
    node = nodes.pop(undo)
    if step.action == plan_mod.UNCORDON:
        chaos.uncordon(node)
        return f"Node/{node}", "kubectl uncordon"
    chaos.set_node_ready(node, True)
    return f"Node/{node}", "kubelet back: the node returns"


#: The backend's step series the report draws.
SERIES = ("pods", "ready_pods")


def series_from(points: list[tuple[float, float]], t0: float) -> list[tuple[float, float]]:
    """A step series from T0 on, in seconds after T0 (starting with its value at T0)."""
    before = [v for t, v in points if t <= t0]
    return ([(0.0, before[-1])] if before else []) + [(t - t0, v) for t, v in points if t > t0]


#: Timeline reasons worth a line in the run log: what the chaos did, seen from the cluster.
_NOTED = {
    timeline.DELETED,
    timeline.NODE_NOT_READY,
    timeline.NODE_READY,
    timeline.FAILED_SCHEDULING,
    timeline.EVICTED,
    timeline.EVICTION_REFUSED,
    timeline.DRAINED,
    timeline.DRAIN_FAILED,
}


def note_events(log: list[LogLine], events: list[base.Event], t0: float, duration_s: float) -> None:
    """Add the timeline's chaos-related events (pods killed, nodes lost, pods left Pending)."""
    seen: set[tuple[str, str]] = set()
    # a drain retries a refused eviction every 5 s: one line per pod and message, with the count
    # and the time of the last retry (as kubectl folds a repeated event: "x12 over 55s")
    repeats: dict[tuple[str, str, str], tuple[int, int, float]] = {}  # -> (index in log, count, last)
    for e in events:
        at = e.time_s - t0
        if not 0 <= at < duration_s:
            continue
        chaos_kind = e.kind in ("PodChaos", "NetworkChaos", "Schedule")
        if not chaos_kind and e.reason not in _NOTED:
            continue
        if e.reason == timeline.EVICTION_REFUSED:
            fold = (e.name, e.reason, e.message)
            if fold in repeats:
                index, count, _ = repeats[fold]
                repeats[fold] = (index, count + 1, at)
                continue
        key = (e.reason, e.name) if e.reason == timeline.FAILED_SCHEDULING else (str(at), e.name)
        if key in seen:
            continue
        seen.add(key)
        if e.reason == timeline.EVICTION_REFUSED:
            repeats[(e.name, e.reason, e.message)] = (len(log), 1, at)
        log.append(LogLine(at, "observed", f"{e.kind}/{e.name}", f"{e.reason}: {e.message}"))
    for index, count, last in repeats.values():
        if count > 1:
            retried = f" (×{count}, retried until T+{int(last) // 60:02d}:{int(last) % 60:02d})"
            log[index] = dataclasses.replace(log[index], detail=log[index].detail + retried)
    log.sort(key=lambda line: (line.at_s, line.action == "observed"))
