"""The HPA's replica calculator: from metric values to a proposed replica count, per metric kind.

Upstream: kubernetes v1.35 pkg/controller/podautoscaler/replica_calculator.go
(``Tolerances.isWithin``, ``GetResourceReplicas``, ``GetRawResourceReplicas``,
``GetMetricReplicas``, ``calcPlainMetricReplicas``, ``GetObjectMetricReplicas``,
``getUsageRatioReplicaCount``, ``GetObjectPerPodMetricReplicas``, ``getReadyPodsCount``,
``GetExternalMetricReplicas``, ``GetExternalPerPodMetricReplicas``, ``groupPods``,
``calculateRequests``) and metrics/utilization.go (``GetResourceUtilizationRatio``,
``GetMetricUsageRatio``). Values are milli-units in integers as upstream keeps them
(``MilliValue``, rounded up), so the integer truncations of the utilization percentage and of
the averages are the same. Errors carry upstream's messages; ``hpa_metrics`` wraps them as
``horizontal.go`` does.

How pods count (``groupPods``): deleted or Failed pods are ignored; Pending pods are unready;
pods without a metric are missing; for CPU only, a pod is also unready while its Ready
condition is False within ``--horizontal-pod-autoscaler-cpu-initialization-period`` (5 min)
of its start, or when its metric was taken less than one window after its last readiness
transition, and after that period when it has never been Ready and became unready within
``--horizontal-pod-autoscaler-initial-readiness-delay`` (30 s) of its start. On a scale-up,
missing and unready pods count as using 0; on a scale-down, missing pods count as using the
target (resource: ``max(100 %, target)`` of the request); a change of direction cancels it.
The pod's ``status.startTime`` is when the kubelet admitted it (its Initialized condition).
Not modelled: pod-level resources (KEP-2837) and restartable init containers in the requests.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from slolab.sim import controller, metricsapi, quantity

CPU_INITIALIZATION_PERIOD_S = 300.0
INITIAL_READINESS_DELAY_S = 30.0
DEFAULT_TOLERANCE = 0.1
MAX_INT32 = 2**31 - 1


class MetricError(Exception):
    """A proposal could not be computed; the message is upstream's error text."""


def milli(value: float | Decimal) -> int:
    """``resource.Quantity.MilliValue``: the value in milli-units, rounded up."""
    return math.ceil(Decimal(str(value)) * 1000)


@dataclasses.dataclass(frozen=True)
class Tolerances:
    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def is_within(self, usage_ratio: float) -> bool:
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


@dataclasses.dataclass(frozen=True)
class Groups:
    """``groupPods``' result."""

    ready_count: int
    unready: set[str]
    missing: set[str]
    ignored: set[str]


class Calculator:
    """``ReplicaCalculator`` over the simulated store and metrics APIs."""

    def __init__(
        self,
        api: controller.API,
        cpu_initialization_period_s: float = CPU_INITIALIZATION_PERIOD_S,
        initial_readiness_delay_s: float = INITIAL_READINESS_DELAY_S,
    ) -> None:
        self.api = api
        self.cpu_initialization_period_s = cpu_initialization_period_s
        self.initial_readiness_delay_s = initial_readiness_delay_s

    # ---- pods ---------------------------------------------------------------------------------
    def pods(self, namespace: str, selector: dict[str, Any]) -> list[Any]:
        return [
            p
            for p in self.api.store.list("v1", "Pod", namespace)
            if controller.labels_selected(selector, p.labels)
        ]

    def group_pods(
        self, pods: list[Any], metrics: Mapping[str, metricsapi.PodMetric], resource: str
    ) -> Groups:
        now = self.api.now_s
        ready_count, unready, missing, ignored = 0, set(), set(), set()
        for pod in pods:
            if pod.terminating or pod.phase == "Failed":
                ignored.add(pod.name)
                continue
            if pod.phase == "Pending":
                unready.add(pod.name)
                continue
            metric = metrics.get(pod.name)
            if metric is None:
                missing.add(pod.name)
                continue
            if resource == "cpu" and self._cpu_unready(pod, metric, now):
                unready.add(pod.name)
                continue
            ready_count += 1
        return Groups(ready_count, unready, missing, ignored)

    def _cpu_unready(self, pod: Any, metric: metricsapi.PodMetric, now_s: float) -> bool:
        condition = pod.conditions.get("Ready")
        started = pod.conditions.get("Initialized")
        if condition is None or started is None:
            return True
        start_s = started.last_transition_s
        if start_s + self.cpu_initialization_period_s > now_s:
            return (
                not condition.status
            ) or metric.timestamp_s < condition.last_transition_s + metric.window_s
        return (
            not condition.status
        ) and start_s + self.initial_readiness_delay_s > condition.last_transition_s

    def ready_pods_count(self, namespace: str, selector: dict[str, Any]) -> int:
        """``getReadyPodsCount``: Running and Ready."""
        pods = self.pods(namespace, selector)
        if not pods:
            raise MetricError("no pods returned by selector while calculating replica count")
        return sum(1 for p in pods if p.phase == "Running" and p.ready)

    @staticmethod
    def requests(pods: list[Any], container: str | None, resource: str) -> dict[str, int]:
        """``calculateRequests`` (milli-units), with the API's defaulting of requests from limits."""
        out: dict[str, int] = {}
        for pod in pods:
            total = 0
            found = container is None
            for c in pod.spec.get("containers") or []:
                if container is not None and c["name"] != container:
                    continue
                res = c.get("resources") or {}
                value = (res.get("requests") or {}).get(resource, (res.get("limits") or {}).get(resource))
                if value is None:
                    raise MetricError(
                        f"missing request for {resource} in container {c['name']} of Pod {pod.name}"
                    )
                total += milli(quantity.parse(value))
                found = True
            if not found:
                raise MetricError(f"container {container} not found in Pod {pod.name}")
            out[pod.name] = total
        return out

    # ---- resource metrics ---------------------------------------------------------------------
    def _resource_metrics(
        self, resource: str, namespace: str, selector: dict[str, Any], container: str | None
    ) -> tuple[dict[str, metricsapi.PodMetric], float]:
        """``GetResourceMetric`` of metrics/client.go, as milli-values."""
        api = self.api.metrics.resource
        try:
            if api is None:
                raise metricsapi.MetricsUnavailable(
                    "unable to fetch metrics from resource metrics API: the server could not find the "
                    "requested resource (get pods.metrics.k8s.io)"
                )
            raw = api.pod_metrics(resource, namespace, selector, container)
        except metricsapi.MetricsUnavailable as exc:
            raise MetricError(f"unable to get metrics for resource {resource}: {exc}") from exc
        if not raw:
            raise MetricError(
                f"unable to get metrics for resource {resource}: "
                "no metrics returned from resource metrics API"
            )
        metrics = {n: dataclasses.replace(m, value=milli(m.value)) for n, m in raw.items()}
        return metrics, next(iter(metrics.values())).timestamp_s

    def _counted(
        self,
        namespace: str,
        selector: dict[str, Any],
        metrics: dict[str, metricsapi.PodMetric],
        resource: str,
    ) -> tuple[list[Any], Groups]:
        """The selected pods and their groups; ``metrics`` keeps only those of pods that count
        (the start GetResourceReplicas and calcPlainMetricReplicas share)."""
        pods = self.pods(namespace, selector)
        if not pods:
            raise MetricError("no pods returned by selector while calculating replica count")
        groups = self.group_pods(pods, metrics, resource)
        for name in groups.ignored | groups.unready:
            metrics.pop(name, None)
        if not metrics:
            raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
        return pods, groups

    def resource_replicas(
        self,
        current: int,
        target_utilization: int,
        resource: str,
        tolerances: Tolerances,
        namespace: str,
        selector: dict[str, Any],
        container: str | None,
    ) -> tuple[int, int, int, float]:
        """``GetResourceReplicas``: (replicas, utilization %, raw average milli-value, timestamp)."""
        metrics, timestamp_s = self._resource_metrics(resource, namespace, selector, container)
        pods, groups = self._counted(namespace, selector, metrics, resource)
        requests = self.requests(pods, container, resource)
        ratio, utilization, raw = _utilization_ratio(metrics, requests, target_utilization)
        if not _fills_in(groups, ratio):
            if tolerances.is_within(ratio):
                return current, utilization, raw, timestamp_s
            return math.ceil(ratio * groups.ready_count), utilization, raw, timestamp_s
        fallback = max(100, target_utilization)
        _fill_in(metrics, groups, ratio, lambda name: requests[name] * fallback // 100)
        new_ratio, _, _ = _utilization_ratio(metrics, requests, target_utilization)
        replicas = _rebalanced(current, ratio, new_ratio, len(metrics), tolerances)
        return replicas, utilization, raw, timestamp_s

    def raw_resource_replicas(
        self,
        current: int,
        target_milli: int,
        resource: str,
        tolerances: Tolerances,
        namespace: str,
        selector: dict[str, Any],
        container: str | None,
    ) -> tuple[int, int, float]:
        """``GetRawResourceReplicas``: (replicas, average milli-value, timestamp)."""
        metrics, timestamp_s = self._resource_metrics(resource, namespace, selector, container)
        replicas, usage = self.plain_replicas(
            metrics, current, target_milli, tolerances, namespace, selector, resource
        )
        return replicas, usage, timestamp_s

    # ---- custom and external metrics ----------------------------------------------------------
    def plain_replicas(
        self,
        metrics: dict[str, metricsapi.PodMetric],
        current: int,
        target_milli: int,
        tolerances: Tolerances,
        namespace: str,
        selector: dict[str, Any],
        resource: str,
    ) -> tuple[int, int]:
        """``calcPlainMetricReplicas``: (replicas, average milli-value)."""
        _, groups = self._counted(namespace, selector, metrics, resource)
        ratio, usage = _usage_ratio(metrics, target_milli)
        if not _fills_in(groups, ratio):
            if tolerances.is_within(ratio):
                return current, usage
            return math.ceil(ratio * groups.ready_count), usage
        _fill_in(metrics, groups, ratio, lambda name: target_milli)
        new_ratio, _ = _usage_ratio(metrics, target_milli)
        return _rebalanced(current, ratio, new_ratio, len(metrics), tolerances), usage

    def usage_ratio_replicas(
        self,
        current: int,
        usage_ratio: float,
        tolerances: Tolerances,
        namespace: str,
        selector: dict[str, Any],
    ) -> int:
        """``getUsageRatioReplicaCount``: ready pods times the ratio (a Value target)."""
        if current == 0:
            return math.ceil(usage_ratio)
        if tolerances.is_within(usage_ratio):
            return current
        try:
            ready = self.ready_pods_count(namespace, selector)
        except MetricError as exc:
            raise MetricError(f"unable to calculate ready pods: {exc}") from exc
        return min(MAX_INT32, math.ceil(usage_ratio * ready))

    @staticmethod
    def per_pod_replicas(
        status_replicas: int, usage_milli: int, target_milli: int, tolerances: Tolerances
    ) -> tuple[int, int]:
        """``GetObjectPerPodMetricReplicas`` / ``GetExternalPerPodMetricReplicas`` (an AverageValue
        target): (replicas, average milli-value over the target's status.replicas)."""
        replicas = status_replicas
        ratio = usage_milli / (target_milli * replicas) if replicas else math.inf
        if not tolerances.is_within(ratio):
            replicas = min(MAX_INT32, math.ceil(usage_milli / target_milli))
        average = math.ceil(usage_milli / status_replicas) if status_replicas else 0
        return replicas, average


def _utilization_ratio(
    metrics: Mapping[str, metricsapi.PodMetric], requests: Mapping[str, int], target_utilization: int
) -> tuple[float, int, int]:
    """``GetResourceUtilizationRatio``: (ratio, utilization %, raw average milli-value)."""
    metrics_total = requests_total = entries = 0
    for name, metric in metrics.items():
        if name not in requests:
            continue
        metrics_total += int(metric.value)
        requests_total += requests[name]
        entries += 1
    if requests_total == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = metrics_total * 100 // requests_total
    return utilization / target_utilization, utilization, metrics_total // entries


def _usage_ratio(metrics: Mapping[str, metricsapi.PodMetric], target_milli: int) -> tuple[float, int]:
    """``GetMetricUsageRatio``: (ratio, average milli-value)."""
    usage = sum(int(m.value) for m in metrics.values()) // len(metrics)
    return usage / target_milli, usage


def _fills_in(groups: Groups, ratio: float) -> bool:
    """Whether missing or unready pods must be filled in before the ratio is recomputed: some
    are missing, or some are unready while the ratio would scale up."""
    return bool(groups.missing) or (bool(groups.unready) and ratio > 1.0)


def _fill_in(
    metrics: dict[str, metricsapi.PodMetric], groups: Groups, ratio: float, at_target: Callable[[str], int]
) -> None:
    """Upstream's conservative assumption: a missing pod uses ``at_target(name)`` when scaling down
    and 0 when scaling up; an unready pod uses 0 when scaling up."""
    if groups.missing:
        if ratio < 1.0:
            for name in groups.missing:
                metrics[name] = metricsapi.PodMetric(at_target(name), 0.0, 0.0)
        elif ratio > 1.0:
            for name in groups.missing:
                metrics[name] = metricsapi.PodMetric(0, 0.0, 0.0)
    if groups.unready and ratio > 1.0:
        for name in groups.unready:
            metrics[name] = metricsapi.PodMetric(0, 0.0, 0.0)


def _rebalanced(current: int, ratio: float, new_ratio: float, counted: int, tolerances: Tolerances) -> int:
    """The end of GetResourceReplicas / calcPlainMetricReplicas once missing and unready pods
    were filled in: no change within tolerance or when the direction flips."""
    if tolerances.is_within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current
    replicas = math.ceil(new_ratio * counted)
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas
