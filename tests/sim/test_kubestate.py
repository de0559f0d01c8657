"""kube-state-metrics series from API-shaped objects, as kube-state-metrics v2.20.0 writes them."""

from __future__ import annotations

from slolab.sim import kubestate

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "llm-abc-x1",
        "namespace": "lab-a",
        "uid": "u1",
        "creationTimestamp": "2026-01-01T00:00:10Z",
        "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "llm-abc", "controller": True}
        ],
    },
    "spec": {"nodeName": "slolab-worker2", "containers": [{"name": "server"}]},
    "status": {
        "phase": "Running",
        "podIP": "10.244.3.2",
        "hostIP": None,
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False"},
        ],
        "containerStatuses": [
            {
                "name": "server",
                "ready": False,
                "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 137, "reason": "Error"}},
            }
        ],
    },
}


def series(samples, name):
    return [(labels, value) for n, labels, value in samples if n == name]


def test_pod_families() -> None:
    out = kubestate.samples([POD])
    base = {"namespace": "lab-a", "pod": "llm-abc-x1", "uid": "u1"}
    (info,) = series(out, "kube_pod_info")
    assert info == (
        {
            **base,
            "pod_ip": "10.244.3.2",
            "node": "slolab-worker2",
            "created_by_kind": "ReplicaSet",
            "created_by_name": "llm-abc",
            "host_network": "false",
        },
        1.0,
    )  # empty host_ip and priority_class are dropped, as Prometheus drops empty labels
    phases = dict((labels["phase"], value) for labels, value in series(out, "kube_pod_status_phase"))
    assert phases == {"Pending": 0.0, "Succeeded": 0.0, "Failed": 0.0, "Unknown": 0.0, "Running": 1.0}
    ready = dict((labels["condition"], value) for labels, value in series(out, "kube_pod_status_ready"))
    assert ready == {"true": 0.0, "false": 1.0, "unknown": 0.0}
    assert series(out, "kube_pod_container_status_restarts_total") == [({**base, "container": "server"}, 2.0)]
    assert series(out, "kube_pod_container_status_waiting_reason") == [
        ({**base, "container": "server", "reason": "CrashLoopBackOff"}, 1.0)
    ]
    assert series(out, "kube_pod_container_status_last_terminated_reason") == [
        ({**base, "container": "server", "reason": "Error"}, 1.0)
    ]
    assert series(out, "kube_pod_container_status_running") == [({**base, "container": "server"}, 0.0)]
    (created,) = series(out, "kube_pod_created")
    assert created[1] == 1_767_225_610.0
    assert series(out, "kube_pod_deletion_timestamp") == []
    assert series(out, "kube_pod_owner") == [
        ({**base, "owner_kind": "ReplicaSet", "owner_name": "llm-abc", "owner_is_controller": "true"}, 1.0)
    ]


def test_deployment_and_replicaset_families() -> None:
    dep = {
        "kind": "Deployment",
        "metadata": {"name": "llm", "namespace": "lab-a", "generation": 3},
        "spec": {"replicas": 4},
        "status": {
            "replicas": 5,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "unavailableReplicas": 2,
            "updatedReplicas": 1,
            "observedGeneration": 3,
            "conditions": [{"type": "Available", "status": "False"}],
        },
    }
    rs = {
        "kind": "ReplicaSet",
        "metadata": {
            "name": "llm-abc",
            "namespace": "lab-a",
            "generation": 1,
            "ownerReferences": [{"kind": "Deployment", "name": "llm", "controller": True}],
        },
        "spec": {"replicas": 2},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    out = kubestate.samples([dep, rs, {"kind": "Service", "metadata": {"name": "llm"}}])
    d = {"namespace": "lab-a", "deployment": "llm"}
    assert series(out, "kube_deployment_spec_replicas") == [(d, 4.0)]
    assert series(out, "kube_deployment_status_replicas_unavailable") == [(d, 2.0)]
    cond = {
        (labels["condition"], labels["status"]): v
        for labels, v in series(out, "kube_deployment_status_condition")
    }
    assert cond == {("Available", "true"): 0.0, ("Available", "false"): 1.0, ("Available", "unknown"): 0.0}
    r = {"namespace": "lab-a", "replicaset": "llm-abc"}
    assert series(out, "kube_replicaset_status_ready_replicas") == [(r, 1.0)]
    assert series(out, "kube_replicaset_owner") == [
        ({**r, "owner_kind": "Deployment", "owner_name": "llm", "owner_is_controller": "true"}, 1.0)
    ]
    assert not [n for n, _, _ in out if n.startswith("kube_service")]


def test_hpa_families() -> None:
    hpa = {
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-llm", "namespace": "lab-a", "generation": 1},
        "spec": {"minReplicas": 1, "maxReplicas": 8},
        "status": {
            "currentReplicas": 2,
            "desiredReplicas": 5,
            "conditions": [{"type": "AbleToScale", "status": "True"}],
        },
    }
    out = kubestate.samples([hpa])
    h = {"namespace": "lab-a", "horizontalpodautoscaler": "keda-hpa-llm"}
    assert series(out, "kube_horizontalpodautoscaler_status_desired_replicas") == [(h, 5.0)]
    assert series(out, "kube_horizontalpodautoscaler_spec_max_replicas") == [(h, 8.0)]
    assert len(series(out, "kube_horizontalpodautoscaler_status_condition")) == 3
