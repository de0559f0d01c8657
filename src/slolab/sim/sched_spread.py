"""Scheduler plugin PodTopologySpread: maxSkew over topology domains, hard and soft.

Upstream: kubernetes v1.35 pkg/scheduler/framework/plugins/podtopologyspread/{common.go,
filtering.go, scoring.go}. For each constraint the plugin counts the pods matching its
labelSelector (in the pod's namespace, terminating pods left out) per domain, the value of
topologyKey on the eligible nodes: those that carry every constraint's key and, with
nodeAffinityPolicy Honor (the default), match the pod's nodeSelector and required node
affinity; with nodeTaintsPolicy Honor (default Ignore), whose taints the pod tolerates.
Filter (whenUnsatisfiable DoNotSchedule): skew = count in the node's domain + 1 if the pod
matches its own selector - the global minimum over the domains (0 when there are fewer
domains than minDomains) must be <= maxSkew, else "node(s) didn't match pod topology spread
constraints" (Unschedulable); a node without a constraint's key is
"node(s) didn't match pod topology spread constraints (missing required label)"
(UnschedulableAndUnresolvable). Score (ScheduleAnyway): per node the sum over constraints of
count * log(domains + 2) + (maxSkew - 1), lower better, normalized as
100 * (max + min - s) / max; nodes without the keys score 0. matchLabelKeys adds the pod's
values of those labels to the selector. Not modelled: the cluster-level default constraints
(applied to pods without constraints; scoring only). Counts come from the snapshot's indexes
(sim/sched_snapshot.py). Docs: "Pod Topology Spread Constraints"
(kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from slolab.sim import objects, sched_taints
from slolab.sim import sched_framework as fw

if TYPE_CHECKING:
    from slolab.sim import sched_snapshot

SKEW = "node(s) didn't match pod topology spread constraints"
MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"


@dataclasses.dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    hard: bool
    selector: fw.Selector
    min_domains: int | None
    honor_affinity: bool
    honor_taints: bool


def constraints_of(pod: objects.Pod) -> list[Constraint]:
    out = []
    for c in pod.spec.get("topologySpreadConstraints") or []:
        raw: dict[str, Any] | None = c.get("labelSelector")
        keys = c.get("matchLabelKeys") or []
        if keys:
            raw = dict(raw or {})
            extra = [{"key": k, "operator": "In", "values": [pod.labels[k]]} for k in keys if k in pod.labels]
            raw["matchExpressions"] = [*(raw.get("matchExpressions") or []), *extra]
        out.append(
            Constraint(
                max_skew=int(c["maxSkew"]),
                topology_key=c["topologyKey"],
                hard=c.get("whenUnsatisfiable", "DoNotSchedule") == "DoNotSchedule",
                selector=fw.Selector(raw),
                min_domains=int(c["minDomains"]) if c.get("minDomains") is not None else None,
                honor_affinity=c.get("nodeAffinityPolicy", "Honor") == "Honor",
                honor_taints=c.get("nodeTaintsPolicy", "Ignore") == "Honor",
            )
        )
    return out


def _eligible(
    pod: objects.Pod, c: Constraint, keys: list[str], info: fw.NodeInfo, snap: sched_snapshot.Snapshot
) -> bool:
    node = info.node
    if not all(k in node.labels for k in keys):
        return False
    if c.honor_affinity and info.name not in snap.affinity_nodes(pod):
        return False
    hard = sched_taints.HARD
    return not (c.honor_taints and sched_taints.untolerated(node.taints, pod.spec.get("tolerations"), hard))


def _domains(
    pod: objects.Pod, c: Constraint, keys: list[str], nodes: list[fw.NodeInfo], snap: sched_snapshot.Snapshot
) -> dict[str, int]:
    """Matching pods per domain over the eligible nodes (every eligible domain listed, 0 or more)."""
    per_node = snap.node_counts(c.selector, pod.namespace)
    domains: dict[str, int] = {}
    for info in nodes:
        if _eligible(pod, c, keys, info, snap):
            value = info.node.labels[c.topology_key]
            domains[value] = domains.get(value, 0) + per_node.get(info.name, 0)
    return domains


@dataclasses.dataclass
class State:
    constraints: list[Constraint]
    counts: list[dict[str, int]]  # per constraint: domain -> matching pods
    min_match: list[int]
    self_match: list[int]  # 1 where the pod matches the constraint's own selector
    checks: list[tuple[str, dict[str, int], int]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        # (topology key, domain counts, the most a domain may hold already): skew <= maxSkew
        self.checks = [
            (c.topology_key, d, c.max_skew + low - own)
            for c, d, low, own in zip(
                self.constraints, self.counts, self.min_match, self.self_match, strict=True
            )
        ]


def pre_filter(
    pod: objects.Pod, constraints: list[Constraint], nodes: list[fw.NodeInfo], snap: sched_snapshot.Snapshot
) -> State:
    hard = [c for c in constraints if c.hard]
    keys = [c.topology_key for c in hard]
    counts: list[dict[str, int]] = []
    mins: list[int] = []
    for c in hard:
        domains = _domains(pod, c, keys, nodes, snap)
        counts.append(domains)
        low = min(domains.values(), default=0)
        if c.min_domains is not None and len(domains) < c.min_domains:
            low = 0
        mins.append(low)
    return State(hard, counts, mins, [1 if c.selector.matches(pod.labels) else 0 for c in hard])


def filter(pod: objects.Pod, state: State, info: fw.NodeInfo) -> fw.Status | None:
    labels = info.node.labels
    for key, _, _ in state.checks:
        if key not in labels:
            return fw.unresolvable(MISSING_LABEL)
    for key, domains, most in state.checks:
        if domains.get(labels[key], 0) > most:
            return fw.unschedulable(SKEW)
    return None


@dataclasses.dataclass
class ScoreState:
    constraints: list[Constraint]
    counts: list[dict[str, int]]
    weights: list[float]


def pre_score(
    pod: objects.Pod,
    constraints: list[Constraint],
    nodes: list[fw.NodeInfo],
    feasible: list[fw.NodeInfo],
    snap: sched_snapshot.Snapshot,
) -> ScoreState:
    soft = [c for c in constraints if not c.hard]
    keys = [c.topology_key for c in soft]
    counts, weights = [], []
    for c in soft:
        domains_feasible = {
            i.node.labels[c.topology_key] for i in feasible if c.topology_key in i.node.labels
        }
        weights.append(math.log(len(domains_feasible) + 2))
        counts.append(_domains(pod, c, keys, nodes, snap))
    return ScoreState(soft, counts, weights)


def score(state: ScoreState, info: fw.NodeInfo) -> float | None:
    """None for a node lacking a constraint's key (upstream's ignoredNodes, scored 0)."""
    labels = info.node.labels
    total = 0.0
    for c, domains, w in zip(state.constraints, state.counts, state.weights, strict=True):
        value = labels.get(c.topology_key)
        if value is None:
            return None
        total += domains.get(value, 0) * w + (c.max_skew - 1)
    return total


def normalize(scores: dict[str, float | None]) -> dict[str, float]:
    known = [s for s in scores.values() if s is not None]
    hi, lo = max(known, default=0.0), min(known, default=0.0)
    out = {}
    for n, s in scores.items():
        if s is None:
            out[n] = 0.0
        elif hi == 0:
            out[n] = float(fw.MAX_NODE_SCORE)
        else:
            out[n] = float(int(fw.MAX_NODE_SCORE * (hi + lo - s) / hi))
    return out
