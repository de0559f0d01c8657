"""The scheduler's snapshot of the cluster for one pass of the queue, with the indexes the
plugins query.

Upstream: kubernetes v1.35 pkg/scheduler/backend/cache (snapshot.go: NodeInfos with their pods
and requested resources; AssumePod: a pod bound in this pass counts at once for the pods after
it) and framework/types.go (NodeInfo.PodsWithAffinity, PodsWithRequiredAntiAffinity, which the
InterPodAffinity plugin walks). The indexes are the simulator's own, so that a pass over a
thousand pods stays cheap; each answers what the upstream plugins compute by walking the pods:
- which pods a label selector matches (memoized per selector and pod);
- per pod affinity term, the placed pods it matches per value of its topology key;
- the affinity terms that placed pods carry, per value of their topology key;
- per label selector and namespace, the placed pods it matches on each node (topology spread);
- per node affinity of a pod template, the nodes it matches.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from slolab.sim import objects, sched_interpod, sched_nodeaffinity
from slolab.sim import sched_framework as fw

ROLES = ("affinity", "anti", "preferred", "preferred_anti")


class Snapshot:
    """Nodes with their assigned pods (bound, or assumed in this pass) and the indexes."""

    def __init__(
        self,
        nodes: list[objects.Node],
        pods: list[objects.Pod],
        requests_of: Callable[[objects.Pod], dict[str, int]],
        terms_of: Callable[[objects.Pod], sched_interpod.Terms],
    ) -> None:
        self.requests_of = requests_of
        self.terms_of = terms_of
        self.infos = [fw.NodeInfo(n) for n in nodes]
        self.by_name = {i.name: i for i in self.infos}
        self.nominated: dict[str, list[objects.Pod]] = {}
        self._match: dict[tuple[str, str], bool] = {}
        self._term_counts: dict[
            tuple[str, frozenset[str], str], tuple[sched_interpod.Term, Counter[str]]
        ] = {}
        # (role, term key, weight) -> (the term, placed pods carrying it per topology value)
        self.carried: dict[
            tuple[str, tuple[str, frozenset[str], str], int], tuple[sched_interpod.Term, Counter[str]]
        ] = {}
        self._node_counts: dict[tuple[str, str], tuple[fw.Selector, str, dict[str, int]]] = {}
        self._affinity: dict[str, frozenset[str]] = {}
        self._preferred: dict[tuple[str, str], float] = {}
        self._affinity_key: dict[str, str] = {}
        for p in pods:
            if p.node is not None:
                info = self.by_name.get(p.node)
                if info is not None and p.phase not in {"Succeeded", "Failed"}:
                    self.assume(p, info)
            elif p.nominated_node and not p.terminating:
                self.nominated.setdefault(p.nominated_node, []).append(p)

    # ---- placing pods ---------------------------------------------------------------------------
    def assume(self, pod: objects.Pod, info: fw.NodeInfo) -> None:
        """The pod runs on ``info``'s node from now on in this pass; every index follows."""
        info.add(pod, self.requests_of(pod))
        labels = info.node.labels
        for term, counts in self._term_counts.values():
            value = labels.get(term.topology_key)
            if value is not None and self.term_matches(term, pod):
                counts[value] += 1
        if not pod.terminating:
            for selector, namespace, per_node in self._node_counts.values():
                if pod.namespace == namespace and self.matches(selector, pod):
                    per_node[info.name] = per_node.get(info.name, 0) + 1
        terms = self.terms_of(pod)
        if terms.empty:
            return
        for role in ROLES:
            for term in getattr(terms, role):
                value = labels.get(term.topology_key)
                if value is None:
                    continue
                key = (role, term.key, term.weight)
                entry = self.carried.get(key)
                if entry is None:
                    entry = self.carried[key] = (term, Counter())
                entry[1][value] += 1

    def placed(self) -> list[tuple[objects.Pod, fw.NodeInfo]]:
        return [(p, i) for i in self.infos for p in i.pods]

    # ---- label selectors -------------------------------------------------------------------------
    def matches(self, selector: fw.Selector, pod: objects.Pod) -> bool:
        key = (selector.key, pod.meta.uid)
        hit = self._match.get(key)
        if hit is None:
            hit = self._match[key] = selector.matches(pod.labels)
        return hit

    def term_matches(self, term: sched_interpod.Term, pod: objects.Pod) -> bool:
        return pod.namespace in term.namespaces and self.matches(term.selector, pod)

    def term_counts(self, term: sched_interpod.Term) -> Counter[str]:
        """Placed pods ``term`` matches, per value of its topology key on their nodes."""
        entry = self._term_counts.get(term.key)
        if entry is None:
            counts: Counter[str] = Counter()
            for info in self.infos:
                value = info.node.labels.get(term.topology_key)
                if value is not None:
                    counts[value] += sum(1 for p in info.pods if self.term_matches(term, p))
            entry = self._term_counts[term.key] = (term, counts)
        return entry[1]

    def node_counts(self, selector: fw.Selector, namespace: str) -> dict[str, int]:
        """Placed pods, not terminating, of ``namespace`` that ``selector`` matches, per node."""
        key = (selector.key, namespace)
        entry = self._node_counts.get(key)
        if entry is None:
            per_node = {
                info.name: sum(
                    1
                    for p in info.pods
                    if p.namespace == namespace and not p.terminating and self.matches(selector, p)
                )
                for info in self.infos
            }
            entry = self._node_counts[key] = (selector, namespace, per_node)
        return entry[2]

    # ---- node affinity ---------------------------------------------------------------------------
    def affinity_nodes(self, pod: objects.Pod) -> frozenset[str]:
        """The nodes NodeAffinity's required part (nodeSelector and required terms) lets ``pod``
        onto, memoized per pod template's node affinity."""
        uid = pod.meta.uid
        akey = self._affinity_key.get(uid)
        if akey is None:
            spec = pod.spec
            required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
            akey = self._affinity_key[uid] = json.dumps([spec.get("nodeSelector"), required], sort_keys=True)
        hit = self._affinity.get(akey)
        if hit is None:
            hit = self._affinity[akey] = frozenset(
                i.name for i in self.infos if sched_nodeaffinity.matches(pod.spec, i.node)
            )
        return hit

    def preferred_score(self, pod: objects.Pod, info: fw.NodeInfo) -> float:
        """NodeAffinity.Score, memoized per preferred terms and node."""
        uid = "preferred:" + pod.meta.uid
        pkey = self._affinity_key.get(uid)
        if pkey is None:
            preferred = ((pod.spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
                "preferredDuringSchedulingIgnoredDuringExecution"
            )
            pkey = self._affinity_key[uid] = json.dumps(preferred, sort_keys=True) if preferred else ""
        if not pkey:
            return 0.0
        key = (pkey, info.name)
        hit = self._preferred.get(key)
        if hit is None:
            hit = self._preferred[key] = sched_nodeaffinity.score(pod, info)
        return hit

    def with_nominated(
        self, pod: objects.Pod, info: fw.NodeInfo, priority_of: Callable[[objects.Pod], int]
    ) -> fw.NodeInfo:
        """addGENominatedPods: pods nominated here with priority >= the pod's hold their room."""
        nominated = self.nominated.get(info.name)
        if not nominated:
            return info
        prio = priority_of(pod)
        others = [p for p in nominated if p is not pod and priority_of(p) >= prio]
        if not others:
            return info
        out = info.clone()
        for p in others:
            out.add(p, self.requests_of(p))
        return out
