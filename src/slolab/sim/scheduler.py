"""kube-scheduler: the scheduling queue and cycle (filter, score, bind; preemption on failure).

Upstream: kubernetes v1.35 pkg/scheduler/schedule_one.go (schedulePod: findNodesThatFitPod,
prioritizeNodes with the default profile's plugin weights, selectHost: the highest total score,
ties broken at random; handleSchedulingFailure: the FailedScheduling event and the
PodScheduled=False condition; the FitError message of framework/types.go: "0/N nodes are
available: " the per-reason node counts sorted as strings, then ". " the PostFilter plugins'
messages: the DynamicResources plugin's "no new claims to deallocate" (enabled by default since
DRA went GA in v1.34) and DefaultPreemption's "preemption: ..."), internal/queue (activeQ
ordered by priority then arrival; pending pods retried when the cluster changes), and
framework/runtime (filters stop at the first failing plugin for a node; nominated pods of equal
or higher priority hold their nominated node's resources: addGENominatedPods). The plugins are
sim/sched_*.py, run in the default profile's order: NodeUnschedulable, TaintToleration,
NodeAffinity, NodeResourcesFit, PodTopologySpread, InterPodAffinity; scores TaintToleration
(weight 3), NodeAffinity (2), PodTopologySpread (2), InterPodAffinity (2), NodeResourcesFit
LeastAllocated (1); PostFilter DefaultPreemption (sim/sched_preemption.py). Priorities come
from sim/priority.py; each pass works on a snapshot of the nodes and their pods
(sim/sched_snapshot.py), where a pod bound earlier in the pass counts at once (AssumePod).
Binding sets spec.nodeName and the pod IP; the node's kubelet picks the pod up from its watch.
Not modelled: NodeResourcesBalancedAllocation and ImageLocality scores, NodePorts, volume
plugins, percentageOfNodesToScore (every node is evaluated), backoff between attempts (a pod is
retried on every cluster change), scheduling gates, multiple profiles (schedulerName is inert).
"""

from __future__ import annotations

from collections import Counter

from slolab.run import timeline
from slolab.sim import (
    controller,
    objects,
    priority,
    sched_interpod,
    sched_nodeaffinity,
    sched_preemption,
    sched_resources,
    sched_snapshot,
    sched_spread,
    sched_taints,
)
from slolab.sim import sched_framework as fw

DRA_POSTFILTER = "no new claims to deallocate"
WEIGHTS = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesFit": 1,
}

# kept for callers of the former single-module scheduler
tolerates = sched_taints.tolerates
node_affinity_matches = sched_nodeaffinity.matches

_TERM = (
    "labelSelector.matchLabels.*",
    "labelSelector.matchExpressions[*].*",
    "labelSelector.matchExpressions[*].values[*]",
    "namespaces[*]",
    "topologyKey",
)
_NODE_TERM = (
    "matchExpressions[*].key",
    "matchExpressions[*].operator",
    "matchExpressions[*].values[*]",
    "matchFields[*].key",
    "matchFields[*].operator",
    "matchFields[*].values[*]",
)
POD_FIELDS = (
    "nodeSelector.*",
    "tolerations[*].*",
    *(
        f"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[*].{f}"
        for f in _NODE_TERM
    ),
    "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[*].weight",
    *(
        f"affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[*].preference.{f}"
        for f in _NODE_TERM
    ),
    *(
        f"affinity.{kind}.requiredDuringSchedulingIgnoredDuringExecution[*].{f}"
        for kind in ("podAffinity", "podAntiAffinity")
        for f in _TERM
    ),
    *(
        f"affinity.{kind}.preferredDuringSchedulingIgnoredDuringExecution[*].{f}"
        for kind in ("podAffinity", "podAntiAffinity")
        for f in ("weight", *(f"podAffinityTerm.{t}" for t in _TERM))
    ),
    *(
        f"topologySpreadConstraints[*].{f}"
        for f in (
            "maxSkew",
            "topologyKey",
            "whenUnsatisfiable",
            "minDomains",
            "nodeAffinityPolicy",
            "nodeTaintsPolicy",
            "matchLabelKeys[*]",
            "labelSelector.matchLabels.*",
            "labelSelector.matchExpressions[*].*",
            "labelSelector.matchExpressions[*].values[*]",
        )
    ),
    "containers[*].resources.requests.*",
    "containers[*].resources.limits.*",
)
POD_INERT = ("schedulerName",)


class Scheduler(controller.Controller):
    """Schedules pending pods by priority then age, the moment they appear or the cluster changes."""

    name = "scheduler"
    watches = (("v1", "Pod"), ("v1", "Node"), priority.PRIORITY_CLASS)
    pod_fields = POD_FIELDS
    pod_inert = POD_INERT

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.rng = api.rng("scheduler")
        self.last_failure: dict[str, str] = {}
        self._ip = 0
        self._requests: dict[str, dict[str, int]] = {}
        self._terms: dict[str, sched_interpod.Terms] = {}
        self._spread: dict[str, list[sched_spread.Constraint]] = {}

    # ---- per-pod caches (a pod's spec does not change once created) ----------------------------
    def requests_of(self, pod: objects.Pod) -> dict[str, int]:
        """The pod's requests in thousandths (sched_resources.pod_requests)."""
        r = self._requests.get(pod.meta.uid)
        if r is None:
            r = self._requests[pod.meta.uid] = sched_resources.pod_requests(pod)
        return r

    def terms_of(self, pod: objects.Pod) -> sched_interpod.Terms:
        t = self._terms.get(pod.meta.uid)
        if t is None:
            t = self._terms[pod.meta.uid] = sched_interpod.terms_of(pod)
        return t

    def spread_of(self, pod: objects.Pod) -> list[sched_spread.Constraint]:
        c = self._spread.get(pod.meta.uid)
        if c is None:
            c = self._spread[pod.meta.uid] = sched_spread.constraints_of(pod)
        return c

    # ---- the queue ----------------------------------------------------------------------------
    def reconcile(self) -> bool:
        st = self.api.store
        pods = st.list("v1", "Pod")
        pending = [p for p in pods if p.node is None and not p.terminating]
        if not pending:
            return False
        for pod in pending:
            try:
                priority.admit(st, pod)
            except priority.NotFoundError as exc:
                self.fail(pod, str(exc))
        pending = [p for p in pending if "priority" in p.spec]
        pending.sort(key=lambda p: (-priority.of(p), p.created_s))
        cycle = sched_snapshot.Snapshot(st.list("v1", "Node"), pods, self.requests_of, self.terms_of)
        changed = False
        for pod in pending:
            changed |= self.schedule_one(cycle, pod)
        return changed

    def schedule_one(self, cycle: sched_snapshot.Snapshot, pod: objects.Pod) -> bool:
        info, statuses, message = self.schedule(cycle, pod)
        if info is not None:
            cycle.assume(pod, info)  # later pods of this pass see it
            self.bind(pod, info.node, cycle.infos.index(info))
            return True
        result = sched_preemption.preempt(
            pod,
            cycle.infos,
            statuses,
            self.requests_of,
            lambda i, removed: self._fits(cycle, pod, i, removed),
            self.api.store.list("policy/v1", "PodDisruptionBudget"),
        )
        post = f"{DRA_POSTFILTER}, {result.message}" if result.message else ""
        self.fail(pod, f"{message} {post}" if post else message)
        if result.candidate is not None:
            self.prepare_candidate(cycle, pod, result.candidate)
            return True
        return False

    # ---- filter and score ---------------------------------------------------------------------
    def schedule(
        self, cycle: sched_snapshot.Snapshot, pod: objects.Pod
    ) -> tuple[fw.NodeInfo | None, dict[str, fw.Status], str]:
        """findNodesThatFitPod then prioritizeNodes: (node, {}, "") or (None, statuses, message)."""
        requests = self.requests_of(pod)
        terms = self.terms_of(pod)
        constraints = self.spread_of(pod)
        interpod = None
        if not terms.empty or cycle.carried:
            interpod = sched_interpod.pre_filter(pod, terms, cycle)
        spread = sched_spread.pre_filter(pod, constraints, cycle.infos, cycle) if constraints else None
        statuses: dict[str, fw.Status] = {}
        feasible: list[fw.NodeInfo] = []
        nominated = bool(cycle.nominated)
        allowed = cycle.affinity_nodes(pod)
        for info in cycle.infos:
            if nominated:
                info = cycle.with_nominated(pod, info, priority.of)
            status = self._filter(pod, requests, interpod, spread, info, allowed)
            if status is None:
                feasible.append(info)
            else:
                statuses[info.name] = status
        if not feasible:
            return None, statuses, fit_error(len(cycle.infos), statuses)
        if len(feasible) == 1:
            return feasible[0], {}, ""
        totals = self._scores(pod, requests, terms, constraints, feasible, cycle)
        best = max(totals.values())
        return self.rng.choice([i for i in feasible if totals[i.name] == best]), {}, ""

    @staticmethod
    def _filter(
        pod: objects.Pod,
        requests: dict[str, int],
        interpod: sched_interpod.State | None,
        spread: sched_spread.State | None,
        info: fw.NodeInfo,
        allowed: frozenset[str],
    ) -> fw.Status | None:
        """The filters in the default profile's order, up to the first that fails."""
        node = info.node
        status = None
        if node.unschedulable or node.taints:
            status = sched_taints.filter_unschedulable(pod, info) or sched_taints.filter(pod, info)
        if status is None and info.name not in allowed:
            status = fw.unresolvable(sched_nodeaffinity.MISMATCH)
        if status is None:
            status = sched_resources.filter(requests, info)
        if status is None and spread is not None:
            status = sched_spread.filter(pod, spread, info)
        if status is None and interpod is not None:
            status = sched_interpod.filter(pod, interpod, info)
        return status

    def _fits(
        self, cycle: sched_snapshot.Snapshot, pod: objects.Pod, info: fw.NodeInfo, removed: list[objects.Pod]
    ) -> bool:
        """Would ``pod`` pass every filter on ``info`` with ``removed`` gone (preemption's check)?
        A snapshot without them answers for the plugins that count pods."""
        terms, constraints = self.terms_of(pod), self.spread_of(pod)
        snap = cycle
        if removed and (not terms.empty or cycle.carried or constraints):
            gone = {id(p) for p in removed}
            pods = [p for i in cycle.infos for p in i.pods if id(p) not in gone]
            snap = sched_snapshot.Snapshot(
                [i.node for i in cycle.infos], pods, self.requests_of, self.terms_of
            )
        interpod = sched_interpod.pre_filter(pod, terms, snap) if not terms.empty or snap.carried else None
        spread = sched_spread.pre_filter(pod, constraints, snap.infos, snap) if constraints else None
        allowed = snap.affinity_nodes(pod)
        return self._filter(pod, self.requests_of(pod), interpod, spread, info, allowed) is None

    def _scores(
        self,
        pod: objects.Pod,
        requests: dict[str, int],
        terms: sched_interpod.Terms,
        constraints: list[sched_spread.Constraint],
        feasible: list[fw.NodeInfo],
        cycle: sched_snapshot.Snapshot,
    ) -> dict[str, float]:
        totals = {i.name: WEIGHTS["NodeResourcesFit"] * sched_resources.score(requests, i) for i in feasible}

        def add(plugin: str, normalized: dict[str, float]) -> None:
            for n, s in normalized.items():
                totals[n] += WEIGHTS[plugin] * s

        add("TaintToleration", sched_taints.normalize({i.name: sched_taints.score(pod, i) for i in feasible}))
        add(
            "NodeAffinity",
            sched_nodeaffinity.normalize({i.name: cycle.preferred_score(pod, i) for i in feasible}),
        )
        if any(not c.hard for c in constraints):
            state = sched_spread.pre_score(pod, constraints, cycle.infos, feasible, cycle)
            add(
                "PodTopologySpread",
                sched_spread.normalize({i.name: sched_spread.score(state, i) for i in feasible}),
            )
        if not terms.empty or cycle.carried:
            pairs = sched_interpod.pre_score(pod, terms, cycle)
            if pairs:
                grouped = sched_interpod.by_key(pairs)
                scores = {i.name: sched_interpod.score(grouped, i) for i in feasible}
                add("InterPodAffinity", sched_interpod.normalize(scores))
        return totals

    # ---- act ----------------------------------------------------------------------------------
    def bind(self, pod: objects.Pod, node: objects.Node, node_index: int) -> None:
        api = self.api
        pod.node = node.name
        pod.nominated_node = None
        self.last_failure.pop(pod.name, None)
        self._ip += 1
        pod.ip = f"10.244.{node_index + 1}.{self._ip % 250 + 2}"
        pod.set_condition("PodScheduled", True, api.now_s)
        api.record(
            "Pod",
            pod.name,
            timeline.SCHEDULED,
            f"Successfully assigned {pod.namespace}/{pod.name} to {node.name}",
            node=node.name,
        )
        api.store.update(pod)

    def fail(self, pod: objects.Pod, message: str) -> None:
        """handleSchedulingFailure: the event (once per distinct message) and the condition."""
        if self.last_failure.get(pod.name) == message:
            return
        self.last_failure[pod.name] = message
        pod.set_condition("PodScheduled", False, self.api.now_s, "Unschedulable")
        self.api.record("Pod", pod.name, timeline.FAILED_SCHEDULING, message, timeline.WARNING)
        self.api.store.update(pod)

    def prepare_candidate(
        self, cycle: sched_snapshot.Snapshot, pod: objects.Pod, candidate: sched_preemption.Candidate
    ) -> None:
        """prepareCandidate: delete the victims, move lower-priority nominations, nominate."""
        api = self.api
        node = candidate.node.name
        for victim in candidate.victims:
            if victim.terminating:
                continue
            api.record(
                "Pod",
                victim.name,
                timeline.PREEMPTED,
                f"Preempted by pod {pod.meta.uid} on node {node}",
                preemptor=pod.name,
                node=node,
            )
            api.store.delete(victim)
        prio = priority.of(pod)
        for other in cycle.nominated.get(node, []):
            if other is not pod and priority.of(other) < prio:
                other.nominated_node = None
                api.store.update(other)
        if pod.nominated_node != node:
            pod.nominated_node = node
            cycle.nominated.setdefault(node, []).append(pod)
            api.store.update(pod)


def fit_error(num_nodes: int, statuses: dict[str, fw.Status]) -> str:
    """FitError.Error() without the PostFilter part: reasons counted per node, sorted as strings."""
    counts: Counter[str] = Counter()
    for status in statuses.values():
        for reason in status.reasons:
            counts[reason] += 1
    histogram = sorted(f"{n} {r}" for r, n in counts.items())
    return f"0/{num_nodes} nodes are available: {', '.join(histogram)}."
