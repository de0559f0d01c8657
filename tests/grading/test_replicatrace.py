"""grading.replicatrace: looks at a Deployment through lab.cluster, and what they add up to."""

from __future__ import annotations

import pytest

from slolab.backends import fake
from slolab.catalog import lab as lab_mod
from slolab.grading import replicatrace


def deployment(replicas: int, pods: int, ready: int) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llm"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "llm"}}},
        "status": {"replicas": pods, "readyReplicas": ready},
    }


def pod(name: str, node: str | None, phase: str = "Running", gpu: object = 1, key: str = "limits") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "llm"}},
        "spec": {
            **({"nodeName": node} if node else {}),
            "containers": [{"name": "s", "resources": {key: {"nvidia.com/gpu": gpu}}}],
        },
        "status": {"phase": phase},
    }


def backend(steps) -> fake.FakeBackend:
    return fake.FakeBackend(lab_mod.load("readiness-probes"), object_steps=steps)


def test_a_look_counts_gpus_of_bound_unfinished_pods_only() -> None:
    b = backend(
        [
            (
                0,
                [
                    deployment(4, 4, 1),
                    pod("a", "gpu-1"),
                    pod("b", "gpu-1", gpu="2", key="requests"),
                    pod("c", None, phase="Pending"),  # not scheduled: holds nothing
                    pod("d", "gpu-2", phase="Succeeded"),
                    {**pod("e", "gpu-2"), "metadata": {"name": "e", "labels": {"app": "other"}}},
                ],
            )
        ]
    )
    s = replicatrace.look(b.cluster, "llm", 0.0)
    assert (s.desired, s.pods, s.ready, s.gpus) == (4, 4, 1, 3.0)
    assert replicatrace.look(b.cluster, "nope", 0.0).desired is None


def test_follow_changes_turns_gpu_seconds_and_settling() -> None:
    def at(n: int) -> list[dict]:
        return [deployment(n, n, n), *(pod(f"p{i}", "gpu-1") for i in range(n))]

    b = backend([(0, at(1)), (30, at(3)), (100, at(1)), (130, at(2)), (200, at(1))])
    trace = replicatrace.Trace("llm")
    trace.follow(b, 300, 5)
    assert b.clock.now_s() == 300 and len(trace.samples) == 61
    turns, changes = trace.direction_changes(0, 300)
    assert [str(c) for c in changes] == ["30 s: 1 → 3", "100 s: 3 → 1", "130 s: 1 → 2", "200 s: 2 → 1"]
    assert turns == 3
    assert trace.direction_changes(0, 120)[0] == 1
    # 1 GPU for 30 s, 3 for 70 s, 1 for 30 s, 2 for 70 s, 1 for 100 s
    assert trace.gpu_seconds(0, 300) == pytest.approx(30 + 210 + 30 + 140 + 100)
    # a window that starts between looks holds the earlier look's value from its start
    assert trace.gpu_seconds(102, 112) == pytest.approx(10)
    assert trace.settled_s(1, 0, 300) == 200
    assert trace.settled_s(1, 0, 150) is None
    assert trace.settled_s(2, 120, 300) == 120
    assert trace.peak(0, 300).pods == 3
    assert replicatrace.summary(trace.samples) == "desired 1→3→1→2→1, at most 3 pods (3 GPUs)"


def test_follow_refuses_a_non_positive_period() -> None:
    with pytest.raises(ValueError, match="every_s must be > 0"):
        replicatrace.Trace("llm").follow(backend([]), 10, 0)


def hpa(name: str, target: str, metrics: list, current: list | None = None) -> dict:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "metrics": metrics,
        },
        "status": {"currentMetrics": current} if current is not None else {},
    }


CPU = {
    "type": "Resource",
    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
}
QUEUE = {
    "type": "External",
    "external": {
        "metric": {
            "name": "s0-prometheus",
            "selector": {"matchLabels": {"scaledobject.keda.sh/name": "llm"}},
        },
        "target": {"type": "AverageValue", "averageValue": "40"},
    },
}


def queue_now(value: str) -> dict:
    return {
        "type": "External",
        "external": {"metric": {"name": "s0-prometheus"}, "current": {"averageValue": value}},
    }


def test_a_look_reads_the_signal_of_each_hpa_that_scales_the_deployment() -> None:
    cpu_now = {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 52}}}
    b = backend(
        [
            (
                0,
                [
                    deployment(1, 1, 1),
                    hpa("llm", "llm", [CPU], [cpu_now]),
                    hpa("keda-hpa-llm", "llm", [QUEUE], [queue_now("137500m")]),
                    hpa("other", "not-llm", [CPU], [cpu_now]),  # scales another workload
                ],
            )
        ]
    )
    s = replicatrace.look(b.cluster, "llm", 0.0)
    assert s.signals == (
        replicatrace.Signal("keda-hpa-llm", "s0-prometheus (External, AverageValue)", 137.5, 40.0),
        replicatrace.Signal("llm", "cpu utilization", 52.0, 80.0, "%"),
    )


def test_signal_summary_gives_the_range_read_against_the_target() -> None:
    looks = [
        replicatrace.Sample(t, 1, 1, 1, 1.0, replicatrace.signals(hpa("keda-hpa-llm", "llm", [QUEUE], cur)))
        for t, cur in ((0, None), (15, [queue_now("12")]), (30, [queue_now("37300m")]))
    ]
    assert replicatrace.signal_summary(looks) == [
        "HPA keda-hpa-llm: s0-prometheus (External, AverageValue) 12–37.3 (target 40)"
    ]
    cold = [replicatrace.Sample(0, 1, 1, 1, 1.0, replicatrace.signals(hpa("llm", "llm", [CPU])))]
    assert replicatrace.signal_summary(cold) == ["HPA llm: cpu utilization no reading (target 80 %)"]
    assert replicatrace.signal_summary([replicatrace.Sample(0, 1, 1, 1, 1.0)]) == []


def test_follow_reads_the_autoscalers_once_per_hpa_sync_period() -> None:
    def at(value: str) -> list[dict]:
        return [deployment(1, 1, 1), hpa("keda-hpa-llm", "llm", [QUEUE], [queue_now(value)])]

    b = backend([(0, at("5")), (20, at("30")), (40, at("50"))])
    reads = []
    listing = b.cluster.list

    def counted(kind: str, *args, **kw):
        if kind == "HorizontalPodAutoscaler":
            reads.append(b.clock.now_s())
        return listing(kind, *args, **kw)

    b.cluster.list = counted
    trace = replicatrace.Trace("llm")
    trace.follow(b, 60, 5)
    assert reads == [0, 15, 30, 45, 60]
    # each read holds until the next: the 20 s change is seen at 30 s, the 40 s one at 45 s
    assert [s.signals[0].current for s in trace.samples] == [5, 5, 5, 5, 5, 5, 30, 30, 30, 50, 50, 50, 50]
