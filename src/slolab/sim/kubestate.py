"""kube-state-metrics for the simulator: the series it exposes for the API objects of a run.

Upstream: kube-state-metrics v2.20.0, internal/store/{pod,deployment,replicaset,
horizontalpodautoscaler}.go and docs/metrics/workload/*-metrics.md. Each generator reads the
API-shaped object (as ``kubectl get -o json`` shows it), so it works on what the simulator's
API view returns and needs nothing of the simulator's internals:

- one series per family and object with the default labels first (``namespace`` and ``pod``,
  ``uid``; ``deployment``; ``replicaset``; ``horizontalpodautoscaler``), then the family's own;
- conditions as three series, ``condition``/``status`` = true|false|unknown, one of them 1
  (``addConditionMetrics``); the pod phase as five series, one of them 1;
- a label whose value is empty is dropped, as Prometheus drops it at ingestion.

Families modelled: kube_pod_info, _owner, _created, _start_time, _deletion_timestamp,
_status_phase, _status_ready, _status_scheduled, kube_pod_container_status_{ready,running,
waiting,waiting_reason,last_terminated_reason,restarts_total}; kube_deployment_{spec_replicas,
status_replicas,_ready,_available,_unavailable,_updated, metadata_generation,
status_observed_generation, status_condition}; kube_replicaset_{spec_replicas,status_replicas,
status_ready_replicas,status_fully_labeled_replicas,owner,metadata_generation,
status_observed_generation}; kube_horizontalpodautoscaler_{spec_min_replicas,
spec_max_replicas,status_current_replicas,status_desired_replicas,status_condition,
metadata_generation,spec_target_metric,status_target_metric} (the target-metric families one
series per metric and value kind, ``metric_target_type`` value|average|utilization, quantities
as ``float(MilliValue) / 1000``). Not modelled: *_labels and *_annotations (opt-in allowlists
upstream), resource requests/limits families.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from slolab.sim import quantity

#: One series' sample: (metric name, labels, value).
Sample = tuple[str, dict[str, str], float]

PHASES = ("Pending", "Succeeded", "Failed", "Unknown", "Running")
CONDITION_STATUSES = ("True", "False", "Unknown")


def _epoch_s(timestamp: str | None) -> float | None:
    if not timestamp:
        return None
    parsed = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def _labels(*pairs: tuple[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in pairs if v not in (None, "")}


def _conditions(
    name: str, base: dict[str, str], status: str | None, key: str = "condition"
) -> Iterator[Sample]:
    for option in CONDITION_STATUSES:
        yield name, {**base, key: option.lower()}, float(status == option)


def _controller(meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)


def _owners(name: str, base: dict[str, str], meta: Mapping[str, Any]) -> Iterator[Sample]:
    refs = meta.get("ownerReferences") or []
    if not refs:
        yield (
            name,
            {**base, "owner_kind": "<none>", "owner_name": "<none>", "owner_is_controller": "<none>"},
            1.0,
        )
    for ref in refs:
        flag = "true" if ref.get("controller") else "false"
        yield (
            name,
            {
                **base,
                **_labels(("owner_kind", ref.get("kind")), ("owner_name", ref.get("name"))),
                "owner_is_controller": flag,
            },
            1.0,
        )


def pod(obj: Mapping[str, Any]) -> Iterator[Sample]:
    """internal/store/pod.go."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    base = _labels(("namespace", meta.get("namespace")), ("pod", meta["name"]), ("uid", meta.get("uid")))
    owner = _controller(meta) or {}
    yield (
        "kube_pod_info",
        {
            **base,
            **_labels(
                ("host_ip", status.get("hostIP")),
                ("pod_ip", status.get("podIP")),
                ("node", spec.get("nodeName")),
                ("created_by_kind", owner.get("kind")),
                ("created_by_name", owner.get("name")),
                ("priority_class", spec.get("priorityClassName")),
            ),
            "host_network": "true" if spec.get("hostNetwork") else "false",
        },
        1.0,
    )
    yield from _owners("kube_pod_owner", base, meta)
    created = _epoch_s(meta.get("creationTimestamp"))
    if created is not None:
        yield "kube_pod_created", dict(base), created
    started = _epoch_s(status.get("startTime"))
    if started is not None:
        yield "kube_pod_start_time", dict(base), started
    deleted = _epoch_s(meta.get("deletionTimestamp"))
    if deleted is not None:
        yield "kube_pod_deletion_timestamp", dict(base), deleted
    phase = status.get("phase")
    if phase:
        for option in PHASES:
            yield "kube_pod_status_phase", {**base, "phase": option}, float(phase == option)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            yield from _conditions("kube_pod_status_ready", base, cond.get("status"))
        elif cond.get("type") == "PodScheduled":
            yield from _conditions("kube_pod_status_scheduled", base, cond.get("status"))
    for cs in status.get("containerStatuses") or []:
        labels = {**base, "container": cs["name"]}
        state = cs.get("state") or {}
        yield "kube_pod_container_status_ready", dict(labels), float(bool(cs.get("ready")))
        yield "kube_pod_container_status_running", dict(labels), float("running" in state)
        yield "kube_pod_container_status_waiting", dict(labels), float("waiting" in state)
        if "waiting" in state:
            reason = (state["waiting"] or {}).get("reason")
            yield "kube_pod_container_status_waiting_reason", {**labels, **_labels(("reason", reason))}, 1.0
        last = (cs.get("lastState") or {}).get("terminated")
        if last is not None:
            reason = last.get("reason")
            yield (
                "kube_pod_container_status_last_terminated_reason",
                {**labels, **_labels(("reason", reason))},
                1.0,
            )
        yield "kube_pod_container_status_restarts_total", dict(labels), float(cs.get("restartCount") or 0)


def deployment(obj: Mapping[str, Any]) -> Iterator[Sample]:
    """internal/store/deployment.go."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    base = _labels(("namespace", meta.get("namespace")), ("deployment", meta["name"]))
    yield "kube_deployment_spec_replicas", dict(base), float(spec.get("replicas", 1))
    for family, field in (
        ("kube_deployment_status_replicas", "replicas"),
        ("kube_deployment_status_replicas_ready", "readyReplicas"),
        ("kube_deployment_status_replicas_available", "availableReplicas"),
        ("kube_deployment_status_replicas_unavailable", "unavailableReplicas"),
        ("kube_deployment_status_replicas_updated", "updatedReplicas"),
        ("kube_deployment_status_observed_generation", "observedGeneration"),
    ):
        yield family, dict(base), float(status.get(field) or 0)
    yield "kube_deployment_metadata_generation", dict(base), float(meta.get("generation") or 0)
    for cond in status.get("conditions") or []:
        labels = {**base, "condition": cond["type"]}
        yield from _conditions("kube_deployment_status_condition", labels, cond.get("status"), key="status")


def replicaset(obj: Mapping[str, Any]) -> Iterator[Sample]:
    """internal/store/replicaset.go."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    base = _labels(("namespace", meta.get("namespace")), ("replicaset", meta["name"]))
    yield "kube_replicaset_spec_replicas", dict(base), float(spec.get("replicas", 1))
    for family, field in (
        ("kube_replicaset_status_replicas", "replicas"),
        ("kube_replicaset_status_ready_replicas", "readyReplicas"),
        ("kube_replicaset_status_fully_labeled_replicas", "fullyLabeledReplicas"),
        ("kube_replicaset_status_observed_generation", "observedGeneration"),
    ):
        yield family, dict(base), float(status.get(field) or 0)
    yield "kube_replicaset_metadata_generation", dict(base), float(meta.get("generation") or 0)
    yield from _owners("kube_replicaset_owner", base, meta)


def horizontalpodautoscaler(obj: Mapping[str, Any]) -> Iterator[Sample]:
    """internal/store/horizontalpodautoscaler.go."""
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    base = _labels(("namespace", meta.get("namespace")), ("horizontalpodautoscaler", meta["name"]))
    yield "kube_horizontalpodautoscaler_metadata_generation", dict(base), float(meta.get("generation") or 0)
    yield "kube_horizontalpodautoscaler_spec_max_replicas", dict(base), float(spec["maxReplicas"])
    yield "kube_horizontalpodautoscaler_spec_min_replicas", dict(base), float(spec.get("minReplicas", 1))
    yield (
        "kube_horizontalpodautoscaler_status_current_replicas",
        dict(base),
        float(status.get("currentReplicas") or 0),
    )
    yield (
        "kube_horizontalpodautoscaler_status_desired_replicas",
        dict(base),
        float(status.get("desiredReplicas") or 0),
    )
    for cond in status.get("conditions") or []:
        labels = {**base, "condition": cond["type"]}
        yield from _conditions(
            "kube_horizontalpodautoscaler_status_condition", labels, cond.get("status"), key="status"
        )
    yield from _target_metrics(
        "kube_horizontalpodautoscaler_spec_target_metric", base, spec.get("metrics"), "target"
    )
    yield from _target_metrics(
        "kube_horizontalpodautoscaler_status_target_metric", base, status.get("currentMetrics"), "current"
    )


#: a metric source type → the field that holds it (autoscaling/v2 MetricSpec / MetricStatus)
_SOURCES = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "External": "external",
}


def _target_metrics(name: str, base: dict[str, str], metrics: list[Any], key: str) -> Iterator[Sample]:
    """createHPASpecTargetMetric (``key`` target) / createHPAStatusTargetMetric (``key`` current)."""
    for m in metrics or []:
        src = (m or {}).get(_SOURCES.get((m or {}).get("type", ""), ""))
        if not isinstance(src, dict):
            continue  # an unknown type, or a status entry without its source (a failed metric)
        metric_name = (
            src.get("name")
            if m["type"] in ("Resource", "ContainerResource")
            else ((src.get("metric") or {}).get("name"))
        )
        values = src.get(key) or {}
        labels = {**base, **_labels(("metric_name", metric_name), ("container", src.get("container")))}
        for field, kind in (("value", "value"), ("averageValue", "average")):
            if values.get(field) is not None:
                milli = math.ceil(quantity.parse(values[field]) * 1000)  # MilliValue
                yield name, {**labels, "metric_target_type": kind}, milli / 1000
        if values.get("averageUtilization") is not None:
            yield name, {**labels, "metric_target_type": "utilization"}, float(values["averageUtilization"])


#: kind → its generator
GENERATORS = {
    "Pod": pod,
    "Deployment": deployment,
    "ReplicaSet": replicaset,
    "HorizontalPodAutoscaler": horizontalpodautoscaler,
}


def samples(objects: Iterable[Mapping[str, Any]]) -> list[Sample]:
    """Every kube-state-metrics series of ``objects`` (other kinds are not exported)."""
    out: list[Sample] = []
    for obj in objects:
        generator = GENERATORS.get(obj.get("kind", ""))
        if generator is not None:
            out.extend(generator(obj))
    return out
