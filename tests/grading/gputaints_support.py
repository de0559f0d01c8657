"""Scripted runs of the gpu-taints lab for its grader's unit tests (fake backend).

The good run: a CPU node and a GPU node (labelled nvidia.com/gpu.present=true, 8 allocatable
GPUs); the device plugin's DaemonSet pod on the GPU node from 2 s; the two model-server pods of
Deployment ``llm`` on the GPU node, one GPU each, Ready from GOOD_READY_S; the batch pod on the
CPU node; the chat load from the bound (240 s) at 8 req/s with 0.2 s TTFTs. Every other case is
the good run with one thing changed, named for the check it must fail.
"""

from __future__ import annotations

from typing import Any

from slolab.backends import fake
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.run import timeline

NS = "lab-gpu-taints"
GPU_NODE, CPU_NODE = "gpu-1", "cpu-1"
GOOD_READY_S = 100.0
SLOW_READY_S = 300.0
BOUND_S = 240.0
END_S = 360.0
RATE_RPS = 8.0
SELECTOR = {"app.kubernetes.io/name": "llm-serving", "app.kubernetes.io/instance": "llm"}
UNSCHEDULABLE = (
    "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). no new claims to "
    "deallocate, preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
    "1 Preemption is not helpful for scheduling."
)

#: case -> the checks it must fail
CASES = {
    "good": set(),
    "slow-ready": {"gpu_ready_s"},
    "two-gpus": {"gpu_ready_s"},
    "squatter": {"gpu_squatters"},
    "pending": {"pending_pods"},
    "slow-requests": {"slow_or_failed_pct"},
    "no-load": {"slow_or_failed_pct"},  # Inconclusive
}


def _node(name: str, gpu: bool) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, **({"nvidia.com/gpu.present": "true"} if gpu else {})}
    allocatable = {"cpu": "16", "memory": "64Gi", "pods": "110", **({"nvidia.com/gpu": "8"} if gpu else {})}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"allocatable": allocatable},
    }


def _pod(
    name: str, node: str | None, *, ready: bool, gpus: int = 0, owner: str = "ReplicaSet", labels=None
) -> dict[str, Any]:
    resources = {"limits": {"nvidia.com/gpu": str(gpus)}} if gpus else {"requests": {"cpu": "2"}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": dict(labels or {}),
            "ownerReferences": [{"kind": owner, "name": name.rsplit("-", 1)[0], "controller": True}],
        },
        "spec": {"nodeName": node, "containers": [{"name": "c", "resources": resources}]}
        if node
        else {"containers": [{"name": "c", "resources": resources}]},
        "status": {
            "phase": "Running" if node else "Pending",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def _objects(case: str, t_s: float) -> list[dict[str, Any]]:
    ready_s = SLOW_READY_S if case == "slow-ready" else GOOD_READY_S
    ready = t_s >= ready_s
    gpus = 2 if case == "two-gpus" else 1
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llm", "namespace": NS},
        "spec": {"replicas": 2, "selector": {"matchLabels": SELECTOR}},
        "status": {"replicas": 2, "readyReplicas": 2 if ready else 0},
    }
    pods = [
        _pod("nvidia-device-plugin-daemonset-abcde", GPU_NODE, ready=True, owner="DaemonSet"),
        _pod("llm-5d4f-aaaaa", GPU_NODE, ready=ready, gpus=gpus, labels=SELECTOR),
        _pod("llm-5d4f-bbbbb", GPU_NODE, ready=ready, gpus=gpus, labels=SELECTOR),
        _pod(
            "embeddings-batch-7c9-ccccc",
            GPU_NODE if case == "squatter" and t_s >= 50 else CPU_NODE,
            ready=True,
        ),
    ]
    if case == "pending":
        pods.append(_pod("embeddings-batch-7c9-ddddd", None, ready=False))
    return [_node(GPU_NODE, True), _node(CPU_NODE, False), deployment, *pods]


def backend(lab: lab_mod.Lab, case: str) -> fake.FakeBackend:
    """The FakeBackend the gpu-taints grader runs on in ``case``."""
    scenario = scenario_mod.load(lab.scenario)
    times = sorted({0.0, 50.0, GOOD_READY_S, SLOW_READY_S})
    steps = [(t, _objects(case, t)) for t in times]
    slow = case == "slow-requests"
    requests = fake.steady(rate_rps=RATE_RPS, start_s=BOUND_S, end_s=END_S, ttft_s=0.2, profile="chat")
    if slow:  # every 20th request waits 3 s for its first token: 5 %
        requests = [
            fake.request(r.id, r.arrival_s, ttft_s=3.0 if r.id % 20 == 0 else 0.2, profile="chat")
            for r in requests
        ]
    if case == "no-load":  # the load reached nothing: no request in the log
        requests = []
    events = []
    if case == "pending":
        events.append(
            fake.base.Event(
                1.0,
                "Pod",
                "embeddings-batch-7c9-ddddd",
                timeline.FAILED_SCHEDULING,
                UNSCHEDULABLE,
                timeline.WARNING,
            )
        )
    return fake.FakeBackend(
        lab,
        scenario,
        objects=steps[0][1],
        object_steps=steps[1:],
        requests=requests,
        rate_rps=RATE_RPS,
        events=events,
        namespace=NS,
    )
