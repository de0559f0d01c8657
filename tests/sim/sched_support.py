"""A bare simulated cluster for scheduler tests: nodes as the documentation examples draw them,
pods placed by hand (bound) or left to the scheduler (pending). Pods carry no container
processes, so only the scheduler and the controllers that act on pods' placement run."""

from __future__ import annotations

from typing import Any

from slolab.catalog import scenario as scenario_mod
from slolab.sim import cluster as cluster_mod
from slolab.sim import objects, quantity, store

NS = "lab-test"


def node(name: str, labels: dict[str, str] | None = None, taints=None, gpus: int = 0) -> objects.Node:
    cap = {
        "cpu": "8",
        "memory": "32Gi",
        "pods": "110",
        **({"nvidia.com/gpu": str(gpus)} if gpus else {}),
    }
    return objects.Node(
        meta=store.Meta(name=name, labels={"kubernetes.io/hostname": name, **(labels or {})}),
        taints=[dict(t) for t in taints or []],
        allocatable=quantity.resources(cap),
    )


def cluster(nodes: list[objects.Node], seed: int = 1) -> cluster_mod.Cluster:
    return cluster_mod.Cluster(scenario_mod.load("llama-8b-h100"), nodes, seed, NS)


def pod(
    name: str, labels: dict[str, str] | None = None, requests: dict[str, Any] | None = None, **spec: Any
) -> objects.Pod:
    container = {"name": "c", "image": "busybox", "resources": {"requests": requests or {"cpu": "100m"}}}
    return objects.Pod(
        meta=store.Meta(name=name, namespace=NS, labels=dict(labels or {})),
        spec={"containers": [container], **spec},
        containers=[],
    )


def add(sim: cluster_mod.Cluster, p: objects.Pod, on: str | None = None) -> objects.Pod:
    """Create ``p``: bound to ``on`` (as if scheduled earlier) or pending for the scheduler."""
    p.node = on
    sim.store.create(p)
    sim.env.run(until=sim.env.now + 1)
    return p


def failures(sim: cluster_mod.Cluster, name: str) -> list[str]:
    return [e.message for e in sim.recorder.events if e.reason == "FailedScheduling" and e.name == name]
