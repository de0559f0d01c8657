"""The scheduler's plugins against the examples of their kubernetes.io documentation pages.

Pages: "Taints and Tolerations", "Assigning Pods to Nodes", "Pod Topology Spread Constraints",
"Pod Priority and Preemption" (kubernetes.io/docs/concepts/scheduling-eviction/...). Node and
pod names follow the pages' examples.
"""

from __future__ import annotations

from sched_support import NS, add, cluster, failures, node, pod

NO_SCHEDULE = {"key": "key1", "value": "value1", "effect": "NoSchedule"}


# ---- taint-and-toleration ----------------------------------------------------------------------
def test_equal_and_exists_tolerations_tolerate_the_documented_taint():
    # "kubectl taint nodes node1 key1=value1:NoSchedule"; both documented tolerations match it
    for toleration in (
        {"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoSchedule"},
        {"key": "key1", "operator": "Exists", "effect": "NoSchedule"},
        {"operator": "Exists"},  # an empty key with Exists matches every taint
    ):
        sim = cluster([node("node1", taints=[NO_SCHEDULE])])
        p = add(sim, pod("p", tolerations=[toleration]))
        assert p.node == "node1", toleration


def test_a_wrong_value_or_effect_does_not_tolerate():
    sim = cluster([node("node1", taints=[NO_SCHEDULE])])
    p = add(sim, pod("p", tolerations=[{"key": "key1", "operator": "Equal", "value": "other"}]))
    q = add(sim, pod("q", tolerations=[{"key": "key1", "operator": "Exists", "effect": "NoExecute"}]))
    assert p.node is None and q.node is None
    assert failures(sim, "p") == [
        "0/1 nodes are available: 1 node(s) had untolerated taint(s). no new claims to deallocate, "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    ]


def test_the_documented_three_taints_with_two_tolerations_do_not_schedule():
    # node1: key1=value1:NoSchedule, key1=value1:NoExecute, key2=value2:NoSchedule; the pod
    # tolerates the first two: "the pod will not be able to schedule onto the node"
    taints = [
        NO_SCHEDULE,
        {**NO_SCHEDULE, "effect": "NoExecute"},
        {"key": "key2", "value": "value2", "effect": "NoSchedule"},
    ]
    tolerations = [
        {"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoSchedule"},
        {"key": "key1", "operator": "Equal", "value": "value1", "effect": "NoExecute"},
    ]
    sim = cluster([node("node1", taints=taints)])
    assert add(sim, pod("p", tolerations=tolerations)).node is None


def test_prefer_no_schedule_is_avoided_when_another_node_fits():
    # "the system will try to avoid placing a pod that does not tolerate the taint on the node"
    soft = {"key": "key1", "value": "value1", "effect": "PreferNoSchedule"}
    placed = set()
    for seed in range(5):
        sim = cluster([node("node1", taints=[soft]), node("node2")], seed=seed)
        placed.add(add(sim, pod("p")).node)
    assert placed == {"node2"}
    sim = cluster([node("node1", taints=[soft])])
    assert add(sim, pod("p")).node == "node1", "a PreferNoSchedule taint never filters"


def test_gpu_node_message_counts_each_node_once():
    # the example: a tainted GPU node, two nodes without GPUs
    gpu_taint = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    sim = cluster([node("gpu", taints=[gpu_taint], gpus=2), node("cpu1"), node("cpu2")])
    p = add(sim, pod("p", requests={"nvidia.com/gpu": "1"}))
    assert p.node is None
    assert failures(sim, "p") == [
        "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient nvidia.com/gpu. "
        "no new claims to deallocate, preemption: 0/3 nodes are available: "
        "1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    ]


# ---- assign-pod-node ---------------------------------------------------------------------------
ZONE = "topology.kubernetes.io/zone"


def test_required_node_affinity_of_the_documented_example():
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {
                                "key": ZONE,
                                "operator": "In",
                                "values": ["antarctica-east1", "antarctica-west1"],
                            }
                        ]
                    }
                ]
            }
        }
    }
    sim = cluster([node("n1", {ZONE: "europe-west1"}), node("n2", {ZONE: "antarctica-west1"})])
    assert add(sim, pod("with-node-affinity", affinity=affinity)).node == "n2"
    sim = cluster([node("n1", {ZONE: "europe-west1"})])
    assert add(sim, pod("p", affinity=affinity)).node is None
    assert "1 node(s) didn't match Pod's node affinity/selector." in failures(sim, "p")[0]


def test_preferred_node_affinity_weights_pick_the_heavier_label():
    # the "node affinity weight" example: label-1=key-1 weight 1, label-2=key-2 weight 50; a node
    # with label-2 scores higher
    affinity = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 1,
                    "preference": {
                        "matchExpressions": [{"key": "label-1", "operator": "In", "values": ["key-1"]}]
                    },
                },
                {
                    "weight": 50,
                    "preference": {
                        "matchExpressions": [{"key": "label-2", "operator": "In", "values": ["key-2"]}]
                    },
                },
            ]
        }
    }
    for seed in range(5):
        sim = cluster([node("node1", {"label-1": "key-1"}), node("node2", {"label-2": "key-2"})], seed=seed)
        assert add(sim, pod("with-affinity-preferred-weight", affinity=affinity)).node == "node2"


def _anti(app: str) -> dict:
    return {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {
                "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": [app]}]},
                "topologyKey": "kubernetes.io/hostname",
            }
        ]
    }


def test_redis_cache_and_web_store_colocate_one_per_node():
    # the documented "more practical use case": 3 redis-cache replicas spread by anti-affinity,
    # 3 web-store replicas with affinity to the cache and anti-affinity to each other
    sim = cluster([node("node-1"), node("node-2"), node("node-3")])
    caches = [
        add(sim, pod(f"redis-cache-{i}", {"app": "store"}, affinity={"podAntiAffinity": _anti("store")}))
        for i in range(3)
    ]
    web_affinity = {"podAntiAffinity": _anti("web-store"), "podAffinity": _anti("store")}
    webs = [add(sim, pod(f"web-server-{i}", {"app": "web-store"}, affinity=web_affinity)) for i in range(3)]
    assert sorted(p.node for p in caches) == ["node-1", "node-2", "node-3"]
    assert sorted(p.node for p in webs) == ["node-1", "node-2", "node-3"]
    fourth = add(sim, pod("redis-cache-3", {"app": "store"}, affinity={"podAntiAffinity": _anti("store")}))
    assert fourth.node is None
    assert failures(sim, "redis-cache-3")[0].startswith(
        # the caches' own anti-affinity is checked first (filtering.go: existing pods, then the pod's)
        "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules."
    )


def test_pod_affinity_with_no_match_anywhere_is_unresolvable():
    sim = cluster([node("node-1")])
    p = add(sim, pod("web", {"app": "web"}, affinity={"podAffinity": _anti("store")}))
    assert p.node is None
    assert failures(sim, "web")[0] == (
        "0/1 nodes are available: 1 node(s) didn't match pod affinity rules. no new claims to deallocate, "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )


def test_existing_pods_anti_affinity_keeps_others_away():
    sim = cluster([node("node-1"), node("node-2")])
    add(sim, pod("loner", {"app": "loner"}, affinity={"podAntiAffinity": _anti("web")}), on="node-1")
    assert add(sim, pod("web", {"app": "web"})).node == "node-2"


# ---- topology-spread-constraints ---------------------------------------------------------------
def _zones(sim_seed: int = 1):
    nodes = [
        node("node1", {"zone": "zoneA"}),
        node("node2", {"zone": "zoneA"}),
        node("node3", {"zone": "zoneB"}),
        node("node4", {"zone": "zoneB"}),
    ]
    sim = cluster(nodes, seed=sim_seed)
    for i, n in enumerate(("node1", "node2", "node3")):
        add(sim, pod(f"p{i}", {"foo": "bar"}), on=n)
    return sim


def _spread(key: str, max_skew: int = 1, when: str = "DoNotSchedule", **extra) -> dict:
    return {
        "maxSkew": max_skew,
        "topologyKey": key,
        "whenUnsatisfiable": when,
        "labelSelector": {"matchLabels": {"foo": "bar"}},
        **extra,
    }


def test_single_constraint_puts_the_fourth_pod_in_zone_b():
    # "If mypod were placed onto zoneA, the Pods distribution would become [3, 1], the actual skew
    # is then 2 (3 - 1), which violates maxSkew: 1": only node3 or node4 fit
    for seed in range(6):
        sim = _zones(seed)
        p = add(sim, pod("mypod", {"foo": "bar"}, topologySpreadConstraints=[_spread("zone")]))
        assert p.node in {"node3", "node4"}


def test_two_constraints_leave_only_node4():
    # "multiple topology spread constraints": zone maxSkew 1 and node maxSkew 1 → node4 only
    for seed in range(4):
        sim = _zones(seed)
        p = add(
            sim, pod("mypod", {"foo": "bar"}, topologySpreadConstraints=[_spread("zone"), _spread("node")])
        )
        assert p.node is None or p.node == "node4"
    # the page's nodes carry a "node" label: give them one and retry
    sim = _zones()
    for n in sim.store.list("v1", "Node"):
        n.labels["node"] = n.name
    p = add(sim, pod("mypod", {"foo": "bar"}, topologySpreadConstraints=[_spread("zone"), _spread("node")]))
    assert p.node == "node4"


def test_a_node_without_the_topology_key_is_unresolvable():
    sim = _zones()
    p = add(sim, pod("mypod", {"foo": "bar"}, topologySpreadConstraints=[_spread("rack")]))
    assert p.node is None
    assert (
        "4 node(s) didn't match pod topology spread constraints (missing required label)"
        in failures(sim, "mypod")[0]
    )


def test_min_domains_counts_missing_domains_as_zero():
    # minDomains 3 with two zones: the global minimum is 0, so a zone already holding maxSkew
    # matching pods takes no more ("the global minimum is treated as 0")
    sim = cluster([node("n1", {"zone": "a"}), node("n2", {"zone": "b"})])
    add(sim, pod("p0", {"foo": "bar"}), on="n1")
    add(sim, pod("p1", {"foo": "bar"}), on="n2")
    p = add(sim, pod("mypod", {"foo": "bar"}, topologySpreadConstraints=[_spread("zone", minDomains=3)]))
    assert p.node is None
    assert "2 node(s) didn't match pod topology spread constraints." in failures(sim, "mypod")[0]
    q = add(sim, pod("other", {"foo": "bar"}, topologySpreadConstraints=[_spread("zone")]))
    assert q.node in {"n1", "n2"}


def test_schedule_anyway_prefers_the_emptier_zone():
    for seed in range(6):
        sim = _zones(seed)
        p = add(
            sim,
            pod("mypod", {"foo": "bar"}, topologySpreadConstraints=[_spread("zone", when="ScheduleAnyway")]),
        )
        assert p.node in {"node3", "node4"}


# ---- pod-priority-preemption -------------------------------------------------------------------
def test_high_priority_pod_preempts_a_low_priority_one():
    from slolab.catalog import yamlfile

    sim = cluster([node("gpu", gpus=1)])
    high = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "high-priority"},
        "value": 1000000,
        "globalDefault": False,
    }
    sim.apply([yamlfile.Document(high, "pc.yaml", {})])
    low = add(sim, pod("batch", requests={"nvidia.com/gpu": "1"}), on="gpu")
    low.spec["priority"] = 0
    p = add(sim, pod("serving", requests={"nvidia.com/gpu": "1"}, priorityClassName="high-priority"))
    assert p.spec["priority"] == 1000000
    events = [e for e in sim.recorder.events if e.reason == "Preempted"]
    assert [e.name for e in events] == ["batch"]
    assert events[0].message == f"Preempted by pod {p.meta.uid} on node gpu"
    # the preemptor waits, nominated to the node, until its victim has terminated (the pods here
    # have no containers, so the kubelet lets it go at once), then binds there
    assert failures(sim, "serving") == ["0/1 nodes are available: 1 Insufficient nvidia.com/gpu."]
    assert sim.store.get("v1", "Pod", "batch", low.namespace) is None
    assert p.node == "gpu" and p.nominated_node is None


def test_preemption_policy_never_waits():
    from slolab.catalog import yamlfile

    sim = cluster([node("gpu", gpus=1)])
    pc = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "high-priority-nonpreempting"},
        "value": 1000000,
        "preemptionPolicy": "Never",
    }
    sim.apply([yamlfile.Document(pc, "pc.yaml", {})])
    add(sim, pod("batch", requests={"nvidia.com/gpu": "1"}), on="gpu")
    p = add(
        sim, pod("serving", requests={"nvidia.com/gpu": "1"}, priorityClassName="high-priority-nonpreempting")
    )
    assert p.node is None and not [e for e in sim.recorder.events if e.reason == "Preempted"]
    assert failures(sim, "serving")[0].endswith("preemption: not eligible due to preemptionPolicy=Never.")


def test_equal_priority_pods_are_never_victims():
    sim = cluster([node("gpu", gpus=1)])
    add(sim, pod("batch", requests={"nvidia.com/gpu": "1"}), on="gpu")
    p = add(sim, pod("serving", requests={"nvidia.com/gpu": "1"}))
    assert p.node is None
    assert failures(sim, "serving")[0].endswith("1 No preemption victims found for incoming pod.")


def test_unknown_priority_class_is_refused():
    sim = cluster([node("n")])
    p = add(sim, pod("p", priorityClassName="nope"))
    assert p.node is None
    assert failures(sim, "p") == ['pods "p" is forbidden: no PriorityClass with name nope was found']


def _priority_classes(sim, **values: int) -> None:
    from slolab.catalog import yamlfile

    sim.apply(
        [
            yamlfile.Document(
                {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": n},
                    "value": v,
                },
                f"{n}.yaml",
                {},
            )
            for n, v in values.items()
        ]
    )


def _budget(sim, name: str, labels: dict[str, str], min_available: int) -> None:
    from slolab.catalog import yamlfile

    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"minAvailable": min_available, "selector": {"matchLabels": labels}},
    }
    sim.apply([yamlfile.Document(pdb, f"{name}.yaml", {})])
    sim.env.run(until=sim.env.now + 1)


def _preempted(sim) -> list[str]:
    return [e.name for e in sim.recorder.events if e.reason == "Preempted"]


def _bound(sim, name: str, node_name: str, priority: int, labels: dict[str, str] | None = None):
    """A GPU pod already running on ``node_name`` with ``priority`` (spec.priority: the admission
    that resolves a priorityClassName runs for the pods the scheduler takes)."""
    return add(sim, pod(name, labels, requests={"nvidia.com/gpu": "1"}, priority=priority), on=node_name)


def test_preemption_reprieves_a_pod_a_budget_protects_first():
    # SelectVictimsOnNode reprieves the victims that would violate a PodDisruptionBudget before
    # the others ("the scheduler tries to find victims whose PDB are not violated")
    sim = cluster([node("gpu", gpus=2)])
    _priority_classes(sim, high=1000)
    _bound(sim, "batch-a", "gpu", 10, {"app": "a"})
    _bound(sim, "batch-b", "gpu", 100, {"app": "b"})
    _budget(sim, "a", {"app": "a"}, min_available=1)
    add(sim, pod("serving", requests={"nvidia.com/gpu": "1"}, priorityClassName="high"))
    assert _preempted(sim) == ["batch-b"], "batch-a is less important, but its budget allows no disruption"


def test_without_a_budget_the_least_important_pod_is_the_victim():
    sim = cluster([node("gpu", gpus=2)])
    _priority_classes(sim, high=1000)
    _bound(sim, "batch-a", "gpu", 10, {"app": "a"})
    _bound(sim, "batch-b", "gpu", 100, {"app": "b"})
    add(sim, pod("serving", requests={"nvidia.com/gpu": "1"}, priorityClassName="high"))
    assert _preempted(sim) == ["batch-a"]


def test_preemption_picks_the_node_with_the_fewest_budget_violations():
    # pickOneNodeForPreemption: the fewest PDB violations comes before every other criterion
    sim = cluster([node("gpu-1", gpus=1), node("gpu-2", gpus=1)])
    _priority_classes(sim, high=1000)
    _bound(sim, "protected", "gpu-1", 10, {"app": "p"})
    _bound(sim, "free", "gpu-2", 100, {"app": "f"})
    _budget(sim, "p", {"app": "p"}, min_available=1)
    p = add(sim, pod("serving", requests={"nvidia.com/gpu": "1"}, priorityClassName="high"))
    assert _preempted(sim) == ["free"], "a higher-priority victim rather than a budget violation"
    assert "gpu-2" in (p.nominated_node, p.node)


def test_a_budget_does_not_stop_preemption_when_nothing_else_frees_a_node():
    # "PodDisruptionBudget is supported, but not guaranteed": preemption may violate it
    sim = cluster([node("gpu", gpus=1)])
    _priority_classes(sim, high=1000)
    _bound(sim, "protected", "gpu", 10, {"app": "p"})
    _budget(sim, "p", {"app": "p"}, min_available=1)
    add(sim, pod("serving", requests={"nvidia.com/gpu": "1"}, priorityClassName="high"))
    assert _preempted(sim) == ["protected"]


def test_preemption_prefers_the_node_whose_highest_victims_started_last():
    # pickOneNodeForPreemption, after priority, sum and count tie: the latest start time of
    # the highest-priority victims
    sim = cluster([node("gpu-1", gpus=1), node("gpu-2", gpus=1)])
    _priority_classes(sim, high=1000)
    older = _bound(sim, "older", "gpu-1", 10)
    newer = _bound(sim, "newer", "gpu-2", 10)
    # status.startTime: when the kubelet admitted each (these pods have no containers to start)
    older.set_condition("Initialized", True, 5.0)
    newer.set_condition("Initialized", True, 40.0)
    add(sim, pod("serving", requests={"nvidia.com/gpu": "1"}, priorityClassName="high"))
    assert _preempted(sim) == ["newer"]


def test_the_preemptor_is_nominated_while_its_victim_terminates_gracefully():
    # "Pod Priority and Preemption": the victims get their graceful termination period; the
    # preemptor's status.nominatedNodeName names the node meanwhile, and it is scheduled there
    # once the victims are gone
    import copy

    from sim_support import SOUND, manifest, start

    from slolab.catalog import yamlfile

    low = manifest(
        replicas=8, probes=SOUND, extra_container={"lifecycle": {"preStop": {"sleep": {"seconds": 20}}}}
    )
    sim = start(low)
    sim.env.run(until=150)
    assert sum(1 for p in sim.pods.values() if p.node) == 8, "the 8 GPUs are taken"
    pc = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "serving"},
        "value": 1000,
    }
    high = copy.deepcopy(low[0].data)
    high["metadata"]["name"] = "urgent"
    high["spec"]["replicas"] = 1
    high["spec"]["selector"]["matchLabels"] = {"app": "urgent"}
    high["spec"]["template"]["metadata"]["labels"] = {"app": "urgent"}
    high["spec"]["template"]["spec"]["priorityClassName"] = "serving"
    sim.apply([yamlfile.Document(pc, "pc.yaml", {}), yamlfile.Document(high, "urgent.yaml", {})])
    sim.env.run(until=151)
    (urgent,) = [p for p in sim.pods.values() if p.labels.get("app") == "urgent"]
    victims = [e.name for e in sim.recorder.events if e.reason == "Preempted"]
    assert len(victims) == 1, "one GPU is enough: the fewest victims"
    assert urgent.node is None and urgent.to_api()["status"]["nominatedNodeName"] == "slolab-worker2"
    assert sim.pods[victims[0]].terminating
    sim.env.run(until=175)  # the victim's 20 s preStop, then it exits
    assert urgent.node == "slolab-worker2" and urgent.nominated_node is None


def test_an_affinity_term_looks_only_in_its_namespaces():
    # "Namespace selector": a term applies to the pod's own namespace unless it lists others
    sim = cluster([node("node-1"), node("node-2")])
    add(sim, pod("cache", {"app": "store"}), on="node-1")
    anti_elsewhere = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "store"}},
                    "topologyKey": "kubernetes.io/hostname",
                    "namespaces": ["other"],
                }
            ]
        }
    }
    placed = {add(sim, pod(f"web-{i}", affinity=anti_elsewhere)).node for i in range(4)}
    assert placed >= {"node-1"}, "the cache in lab-test is not in the term's namespaces"


def test_node_affinity_policy_ignore_counts_every_node():
    # nodeAffinityPolicy (the page's "Node affinity policy"): with Honor (the default) only the
    # nodes the pod's nodeSelector allows count, so zone B (excluded) does not pull the minimum to
    # 0 and a second pod fits in zone A (skew 1 + 1 - 1 = 1); with Ignore every node counts, the
    # minimum is zone B's 0 and zone A would reach skew 2
    nodes = [node("a1", {"zone": "A", "pool": "x"}), node("b1", {"zone": "B", "pool": "y"})]
    for policy, fits in (("Honor", True), ("Ignore", False)):
        sim = cluster(nodes)
        add(sim, pod("p0", {"foo": "bar"}), on="a1")
        spread = _spread("zone", nodeAffinityPolicy=policy)
        p = add(
            sim, pod("mypod", {"foo": "bar"}, nodeSelector={"pool": "x"}, topologySpreadConstraints=[spread])
        )
        assert (p.node == "a1") is fits, policy


def test_budget_violation_counts_down_disruptions_allowed():
    # filterPodsWithPDBViolation over the potential victims in order
    import types

    from slolab.sim import sched_preemption

    def budget(allowed: int, labels: dict[str, str], namespace: str = NS, disrupted=None):
        return types.SimpleNamespace(
            meta=types.SimpleNamespace(namespace=namespace),
            spec={"selector": {"matchLabels": labels}},
            status={"disruptionsAllowed": allowed, "disruptedPods": disrupted or {}},
        )

    a, b, c, d = (pod(n, {"app": "x"}) for n in "abcd")
    unlabelled = pod("e")
    pdbs = [
        budget(1, {"app": "x"}, disrupted={"c": "2026-01-01T00:00:00Z"}),
        budget(0, {"app": "x"}, namespace="elsewhere"),
        budget(0, {}),  # an empty selector matches nothing
    ]
    violating, other = sched_preemption.split_by_pdb_violation([a, b, c, d, unlabelled], pdbs)
    assert [p.name for p in violating] == ["b", "d"]
    assert [p.name for p in other] == ["a", "c", "e"], "c's eviction is already counted: not again"
