"""Scheduler plugin InterPodAffinity: required and preferred pod affinity and anti-affinity.

Upstream: kubernetes v1.35 pkg/scheduler/framework/plugins/interpodaffinity/{filtering.go,
scoring.go}. PreFilter counts, per topology pair (topologyKey, the value on a node), the
existing pods that match the incoming pod's required affinity terms (a pod counts when it
matches every term), its anti-affinity terms, and the existing pods whose required
anti-affinity terms match the incoming pod. Filter, in upstream's order: "node(s) didn't satisfy
existing pods anti-affinity rules" and "node(s) didn't match pod anti-affinity rules"
(Unschedulable: evicting the pods may help), then "node(s) didn't match pod affinity rules"
(UnschedulableAndUnresolvable); a pod whose affinity no existing pod matches may still go
anywhere its terms match itself (the first pod of a group). Score: per topology pair, the
weights of the incoming pod's preferred terms (affinity +, anti-affinity -) for each existing
pod they match, plus, symmetrically, the existing pods' preferred terms and their required
affinity terms (hardPodAffinityWeight 1) that match the incoming pod; normalized between the
lowest and the highest node. A term selects pods by labelSelector (a missing one selects none)
in ``namespaces`` (default: the pod's own namespace). Not modelled: namespaceSelector,
matchLabelKeys, mismatchLabelKeys (refused when applied). The counts come from the snapshot's
indexes (sim/sched_snapshot.py) rather than a walk over every pod. Docs: "Assigning Pods to
Nodes", inter-pod affinity and anti-affinity.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import TYPE_CHECKING, Any

from slolab.sim import objects
from slolab.sim import sched_framework as fw

if TYPE_CHECKING:
    from slolab.sim import sched_snapshot

EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"
AFFINITY = "node(s) didn't match pod affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1

Pair = tuple[str, str]


@dataclasses.dataclass(frozen=True)
class Term:
    selector: fw.Selector
    namespaces: frozenset[str]
    topology_key: str
    weight: int = 0

    @property
    def key(self) -> tuple[str, frozenset[str], str]:
        return (self.selector.key, self.namespaces, self.topology_key)

    def matches(self, pod: objects.Pod) -> bool:
        return pod.namespace in self.namespaces and self.selector.matches(pod.labels)


@dataclasses.dataclass(frozen=True)
class Terms:
    """A pod's affinity terms, parsed once."""

    affinity: tuple[Term, ...]
    anti: tuple[Term, ...]
    preferred: tuple[Term, ...]
    preferred_anti: tuple[Term, ...]

    @property
    def empty(self) -> bool:
        return not (self.affinity or self.anti or self.preferred or self.preferred_anti)


def _term(raw: dict[str, Any], namespace: str, weight: int = 0) -> Term:
    return Term(
        selector=fw.Selector(raw.get("labelSelector")),
        namespaces=frozenset(raw.get("namespaces") or [namespace]),
        topology_key=raw["topologyKey"],
        weight=weight,
    )


def terms_of(pod: objects.Pod) -> Terms:
    affinity = pod.spec.get("affinity") or {}
    ns = pod.namespace

    def block(name: str) -> tuple[tuple[Term, ...], tuple[Term, ...]]:
        b = affinity.get(name) or {}
        hard = tuple(_term(t, ns) for t in b.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        soft = tuple(
            _term(w.get("podAffinityTerm") or {}, ns, int(w.get("weight", 0)))
            for w in b.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        )
        return hard, soft

    aff, pref = block("podAffinity")
    anti, pref_anti = block("podAntiAffinity")
    return Terms(aff, anti, pref, pref_anti)


@dataclasses.dataclass
class State:
    terms: Terms
    existing_anti: Counter[Pair]
    affinity_counts: Counter[Pair]
    anti_counts: Counter[Pair]


def pre_filter(pod: objects.Pod, terms: Terms, snap: sched_snapshot.Snapshot) -> State:
    """PreFilter: the topology-pair counts of filtering.go."""
    existing_anti: Counter[Pair] = Counter()
    for (role, _, _), (term, counts) in snap.carried.items():
        if role == "anti" and snap.term_matches(term, pod):
            for value, n in counts.items():
                existing_anti[(term.topology_key, value)] += n
    anti_counts: Counter[Pair] = Counter()
    for term in terms.anti:
        for value, n in snap.term_counts(term).items():
            anti_counts[(term.topology_key, value)] += n
    affinity_counts: Counter[Pair] = Counter()
    if len(terms.affinity) == 1:
        (term,) = terms.affinity
        for value, n in snap.term_counts(term).items():
            affinity_counts[(term.topology_key, value)] += n
    elif terms.affinity:  # a pod counts only when it matches every term
        for other, info in snap.placed():
            labels = info.node.labels
            if all(snap.term_matches(t, other) for t in terms.affinity):
                for t in terms.affinity:
                    if t.topology_key in labels:
                        affinity_counts[(t.topology_key, labels[t.topology_key])] += 1
    return State(terms, +existing_anti, +affinity_counts, +anti_counts)


def filter(pod: objects.Pod, state: State, info: fw.NodeInfo) -> fw.Status | None:
    """InterPodAffinity.Filter."""
    labels = info.node.labels
    if state.existing_anti:
        for key, value in labels.items():
            if state.existing_anti.get((key, value), 0) > 0:
                return fw.unschedulable(EXISTING_ANTI)
    for t in state.terms.anti:
        value = labels.get(t.topology_key)
        if value is not None and state.anti_counts.get((t.topology_key, value), 0) > 0:
            return fw.unschedulable(ANTI)
    if state.terms.affinity:
        ok = all(
            t.topology_key in labels
            and state.affinity_counts.get((t.topology_key, labels[t.topology_key]), 0) > 0
            for t in state.terms.affinity
        )
        if not ok:
            # the first pod of a group: nothing matches anywhere, but the pod matches its own terms
            first = not state.affinity_counts and all(t.matches(pod) for t in state.terms.affinity)
            if not (first and all(t.topology_key in labels for t in state.terms.affinity)):
                return fw.unresolvable(AFFINITY)
    return None


def pre_score(pod: objects.Pod, terms: Terms, snap: sched_snapshot.Snapshot) -> Counter[Pair]:
    """PreScore: weights per topology pair (scoring.go processExistingPod, summed)."""
    scores: Counter[Pair] = Counter()
    for term in terms.preferred:
        for value, n in snap.term_counts(term).items():
            scores[(term.topology_key, value)] += term.weight * n
    for term in terms.preferred_anti:
        for value, n in snap.term_counts(term).items():
            scores[(term.topology_key, value)] -= term.weight * n
    for (role, _, weight), (term, counts) in snap.carried.items():
        if role == "anti" or not snap.term_matches(term, pod):
            continue
        w = (
            HARD_POD_AFFINITY_WEIGHT
            if role == "affinity"
            else -weight
            if role == "preferred_anti"
            else weight
        )
        for value, n in counts.items():
            scores[(term.topology_key, value)] += w * n
    return Counter({k: v for k, v in scores.items() if v})


def by_key(pairs: Counter[Pair]) -> dict[str, dict[str, int]]:
    """The pre-scored pairs grouped by topology key, for ``score``."""
    out: dict[str, dict[str, int]] = {}
    for (key, value), weight in pairs.items():
        out.setdefault(key, {})[value] = weight
    return out


def score(grouped: dict[str, dict[str, int]], info: fw.NodeInfo) -> float:
    labels = info.node.labels
    return float(sum(values.get(labels[k], 0) for k, values in grouped.items() if k in labels))


def normalize(scores: dict[str, float]) -> dict[str, float]:
    """InterPodAffinity.NormalizeScore: (s - min) * 100 / (max - min)."""
    if not scores:
        return scores
    lo, hi = min(scores.values()), max(scores.values())
    spread = hi - lo
    return {n: (fw.MAX_NODE_SCORE * (s - lo) / spread if spread > 0 else 0.0) for n, s in scores.items()}
