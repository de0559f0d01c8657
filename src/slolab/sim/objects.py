"""The simulator's typed Kubernetes objects (Pod, Container, Node) and how they render as API dicts.

Each stored object carries a ``store.Meta`` (name, uid, ownerReferences, deletionTimestamp ...).
Specs stay the dicts the learner wrote (deep-copied); status is tracked in Python fields, which
keeps the kubelet's and the engine's hot paths free of dict writes, and is rendered the way
``kubectl get -o json`` shows it: pod phase and conditions with lastTransitionTime,
containerStatuses with state, lastState, restartCount, ready and started.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from decimal import Decimal
from typing import Any, ClassVar

from slolab.sim import quantity

#: The run starts at this wall time in rendered timestamps (virtual seconds are added to it).
EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z


def timestamp(t_s: float | None) -> str | None:
    """Virtual seconds → RFC 3339 time, as the API server renders it."""
    if t_s is None:
        return None
    return _rfc3339(t_s)


@functools.lru_cache(maxsize=4096)
def _rfc3339(t_s: float) -> str:
    """A pod's conditions keep their times, and the API view renders them on every read: each
    time is formatted once."""
    return datetime.datetime.fromtimestamp(EPOCH + t_s, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@dataclasses.dataclass(eq=False)
class Node:
    """A node: labels and taints from kind-config.yaml, capacity from the scenario's pool.

    ``ready`` False means the node's kubelet has stopped (``Cluster.set_node_ready``). The Ready
    condition the API shows is ``ready_status``: the kubelet posts "True" when it runs, and the
    node lifecycle controller (sim/nodelifecycle.py) sets "Unknown" once the kubelet has been
    silent for node-monitor-grace-period.
    """

    api_version: ClassVar[str] = "v1"
    kind: ClassVar[str] = "Node"

    meta: Any  # store.Meta
    taints: list[dict[str, str]]
    allocatable: dict[str, Decimal]
    ready: bool = True
    ready_status: str = "True"  # the Ready condition's status: True, False or Unknown
    unschedulable: bool = False
    spec: dict[str, Any] = dataclasses.field(default_factory=dict)
    capacity: dict[str, Decimal] | None = None  # status.capacity where it differs from allocatable

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def labels(self) -> dict[str, str]:
        return self.meta.labels

    def to_api(self, now_s: float = 0.0, store: Any = None) -> dict[str, Any]:
        ready = (
            {"type": "Ready", "status": "True", "reason": "KubeletReady"}
            if self.ready_status == "True"
            else {
                "type": "Ready",
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
            }
        )
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": self.meta.to_api(),
            "spec": {"taints": [dict(t) for t in self.taints], "unschedulable": self.unschedulable},
            "status": {
                "allocatable": {k: str(v) for k, v in self.allocatable.items()},
                "capacity": {k: str(v) for k, v in (self.capacity or self.allocatable).items()},
                "conditions": [ready],
            },
        }


@dataclasses.dataclass
class Condition:
    status: bool
    last_transition_s: float
    reason: str | None = None


@dataclasses.dataclass
class Container:
    """One container of a pod: its spec and the kubelet's view of its state."""

    spec: dict[str, Any]
    restart_count: int = 0
    state: str = "waiting"  # waiting | running | terminated
    reason: str | None = "ContainerCreating"
    message: str | None = None
    started_at_s: float | None = None
    finished_at_s: float | None = None
    exit_code: int | None = None
    last_state: dict[str, Any] | None = None
    ready: bool = False
    started: bool = False
    instance: int = 0  # bumps on every (re)start, like a container ID
    listening: bool = False  # the server answers on its port
    engine_port: int | None = None  # the port the server listens on
    engine: Any = None  # sim.engine.Engine while the process runs
    model_loaded_at_s: float | None = None
    load_time_s: float | None = None
    stopping: bool = False  # a kill is under way
    workers: dict[str, Any] = dataclasses.field(default_factory=dict)  # probe workers by kind
    exited: Any = None  # SimPy event: the process ended (exit_code, reason)
    process: Any = None  # SimPy process: the kubelet's worker for this container
    server: Any = None  # SimPy process: the server starting up (loading the model)
    killer: Any = None  # SimPy process: a graceful kill under way
    lost: bool = False  # its node stopped: processes gone, status as last posted

    @property
    def name(self) -> str:
        return self.spec["name"]

    def to_api(self) -> dict[str, Any]:
        if self.state == "running":
            state: dict[str, Any] = {"running": {"startedAt": timestamp(self.started_at_s)}}
        elif self.state == "terminated":
            state = {
                "terminated": {
                    "exitCode": self.exit_code,
                    "reason": self.reason,
                    "startedAt": timestamp(self.started_at_s),
                    "finishedAt": timestamp(self.finished_at_s),
                }
            }
        else:
            state = {"waiting": {k: v for k, v in (("reason", self.reason), ("message", self.message)) if v}}
        out = {
            "name": self.name,
            "image": self.spec.get("image"),
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": state,
            "containerID": f"containerd://{self.instance:064x}" if self.instance else None,
        }
        if self.last_state:
            out["lastState"] = {"terminated": dict(self.last_state)}
        return out


@dataclasses.dataclass(eq=False)
class Pod:
    """A pod: its spec as written in the template, and the kubelet's view of its status."""

    api_version: ClassVar[str] = "v1"
    kind: ClassVar[str] = "Pod"

    meta: Any  # store.Meta
    spec: dict[str, Any]
    containers: list[Container]
    node: str | None = None
    ip: str | None = None
    phase: str = "Pending"
    conditions: dict[str, Condition] = dataclasses.field(default_factory=dict)
    ready_since_s: float | None = None
    first_ready_s: float | None = None
    unreachable: str | None = None  # why connections fail although the pod looks Ready (node down)
    nominated_node: str | None = None  # status.nominatedNodeName: set by the scheduler's preemption
    netem: Any = None  # sim/netem.py Delay on the pod's traffic (a Chaos Mesh NetworkChaos delay)

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def namespace(self) -> str:
        return self.meta.namespace

    @property
    def labels(self) -> dict[str, str]:
        return self.meta.labels

    @property
    def created_s(self) -> float:
        return self.meta.creation_s

    @property
    def owner(self) -> str | None:
        """Name of the controller that owns the pod (its ReplicaSet)."""
        ref = self.meta.controller_ref()
        return None if ref is None else ref.name

    @property
    def deletion_s(self) -> float | None:
        return self.meta.deletion_s

    @property
    def grace_period_s(self) -> float | None:
        return self.meta.deletion_grace_period_s

    @property
    def terminating(self) -> bool:
        return self.meta.deletion_s is not None

    @property
    def ready(self) -> bool:
        cond = self.conditions.get("Ready")
        return bool(cond and cond.status)

    @property
    def active(self) -> bool:
        """Counted by its ReplicaSet: not terminating and not finished (controller.FilterActivePods)."""
        return self.meta.deletion_s is None and self.phase not in {"Succeeded", "Failed"}

    def deletion_grace_s(self, requested_s: float | None) -> float:
        """pod strategy CheckGracefulDelete: the pod's own grace period unless one is given;
        a pod no node runs yet, or one that has finished, goes at once."""
        if self.node is None or self.phase in {"Succeeded", "Failed"}:
            return 0.0
        if requested_s is None:
            return float(self.spec.get("terminationGracePeriodSeconds", 30))
        return float(requested_s)

    def available(self, now_s: float, min_ready_s: float) -> bool:
        """Ready for at least minReadySeconds (podutil.IsPodAvailable)."""
        return self.ready and self.ready_since_s is not None and now_s - self.ready_since_s >= min_ready_s

    def requests(self) -> dict[str, Decimal]:
        """Sum of container requests; a limit stands in for a missing request (API defaulting)."""
        total: dict[str, Decimal] = {"pods": Decimal(1)}
        for c in self.spec.get("containers", []):
            res = c.get("resources") or {}
            merged = {**(res.get("limits") or {}), **(res.get("requests") or {})}
            for name, value in quantity.resources(merged).items():
                total[name] = total.get(name, Decimal(0)) + value
        return total

    def set_condition(self, kind: str, status: bool, now_s: float, reason: str | None = None) -> bool:
        cond = self.conditions.get(kind)
        if cond is not None and cond.status == status:
            return False
        self.conditions[kind] = Condition(status, now_s, reason)
        return True

    def restarts(self) -> int:
        return sum(c.restart_count for c in self.containers)

    def to_api(self, now_s: float = 0.0, store: Any = None) -> dict[str, Any]:
        spec = dict(self.spec)
        if self.node:
            spec["nodeName"] = self.node
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": self.meta.to_api(),
            "spec": spec,
            "status": {
                "phase": self.phase,
                "podIP": self.ip,
                "hostIP": None,
                "conditions": [
                    {
                        "type": k,
                        "status": "True" if c.status else "False",
                        "lastTransitionTime": timestamp(c.last_transition_s),
                        **({"reason": c.reason} if c.reason else {}),
                    }
                    for k, c in self.conditions.items()
                ],
                "containerStatuses": [c.to_api() for c in self.containers],
                **({"nominatedNodeName": self.nominated_node} if self.nominated_node else {}),
            },
        }
