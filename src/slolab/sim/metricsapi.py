"""The aggregated metrics APIs of the simulated cluster, as the HPA controller sees them.

Upstream: kubernetes v1.35 pkg/controller/podautoscaler/metrics/client.go (``MetricsClient``:
``GetResourceMetric``, ``GetRawMetric``, ``GetObjectMetric``, ``GetExternalMetric``, each
returning values and the time they were taken, or an error). On a cluster these are three
APIService registrations served by add-ons: metrics.k8s.io by metrics-server,
custom.metrics.k8s.io by an adapter such as prometheus-adapter, external.metrics.k8s.io by
KEDA's metrics adapter. Here each is an object a controller module registers on
``controller.API.metrics`` when it is constructed (``metricsserver`` the resource API, ``keda``
the external one); an API nobody registered is ``None``, and a consumer reports it as the API
server would ("the server could not find the requested resource").

Values are plain floats in the API's units (CPU in cores, memory in bytes, custom and external
metrics as their quantity's value), not the milli-units of the Go client.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

#: a label selector (matchLabels, matchExpressions) or None
Selector = dict[str, Any] | None


class MetricsUnavailable(Exception):
    """A metrics API answered with an error; the message is what the HPA's condition and event quote."""


@dataclasses.dataclass(frozen=True, slots=True)
class PodMetric:
    """One pod's value of a metric (``metrics.PodMetric``): when it was taken and over what window."""

    value: float
    timestamp_s: float
    window_s: float


class ResourceMetrics(Protocol):
    """metrics.k8s.io, as metrics-server serves it."""

    def pod_metrics(
        self, resource: str, namespace: str, selector: dict[str, Any], container: str | None = None
    ) -> dict[str, PodMetric]:
        """Usage of ``resource`` ("cpu", "memory") by the pods ``selector`` matches, by pod name;
        summed over the pod's containers, or of ``container`` only. Raises MetricsUnavailable."""
        ...


class CustomMetrics(Protocol):
    """custom.metrics.k8s.io (a Pods or Object metric)."""

    def pods(
        self,
        metric_name: str,
        namespace: str,
        selector: dict[str, Any],
        metric_selector: dict[str, Any] | None,
    ) -> dict[str, PodMetric]: ...

    def object(
        self,
        metric_name: str,
        namespace: str,
        object_ref: dict[str, Any],
        metric_selector: dict[str, Any] | None,
    ) -> tuple[float, float]:
        """(value, timestamp_s) of the described object's metric. Raises MetricsUnavailable."""
        ...


class ExternalMetrics(Protocol):
    """external.metrics.k8s.io, as KEDA's metrics adapter serves it."""

    def external(
        self, metric_name: str, namespace: str, metric_selector: Selector
    ) -> tuple[list[float], float]:
        """(values, timestamp_s) of every series of ``metric_name`` the selector matches.
        Raises MetricsUnavailable."""
        ...


@dataclasses.dataclass
class MetricsAPIs:
    """The registered metrics APIs of one simulated cluster (None: not installed)."""

    resource: ResourceMetrics | None = None
    custom: CustomMetrics | None = None
    external: ExternalMetrics | None = None
