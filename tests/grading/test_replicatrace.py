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
