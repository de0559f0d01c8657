"""One HPA sync's metric step: a proposal per metric, the largest wins, and the metric statuses.

Upstream: kubernetes v1.35 pkg/controller/podautoscaler/horizontal.go
(``computeReplicasForMetrics``, ``computeReplicasForMetric``, ``computeStatusForObjectMetric``,
``computeStatusForPodsMetric``, ``computeStatusForResourceMetricGeneric``,
``computeStatusForResourceMetric``, ``computeStatusForContainerResourceMetric``,
``computeStatusForExternalMetric``, ``getUnableComputeReplicaCountCondition``) with the metrics
client of metrics/client.go. The proposal of each metric comes from ``hpa_replicas``; the
largest valid proposal wins; when every metric is invalid, or some are and the valid ones
would scale down, the sync fails with the first invalid metric's condition (ScalingActive
False) and its error. Each invalid metric also writes its own Warning event
(FailedGetResourceMetric, FailedGetExternalMetric, ...), as upstream's condition helper does.
A metrics API nobody registered answers as the API server does for a missing APIService: on
the simulator nothing serves custom.metrics.k8s.io yet (no prometheus-adapter), so Pods and
Object metrics report that unless a test or a future module registers one. Metric label
selectors go to the provider as written; the provider interprets them.

Status values are rendered as the API renders quantities (``resource.NewMilliQuantity(v,
DecimalSI)``: ``500m``, ``2``, ``3k``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slolab.sim import controller, hpa_replicas, metricsapi, quantity

_SUFFIXES = ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k"), (0, ""))


def format_quantity(milli_value: int) -> str:
    """A milli-value as the API server prints a DecimalSI quantity (canonical form)."""
    if milli_value % 1000:
        return f"{milli_value}m"
    value = milli_value // 1000
    if value == 0:
        return "0"
    for exponent, suffix in _SUFFIXES:
        if value % 10**exponent == 0:
            return f"{value // 10**exponent}{suffix}"
    return str(value)


def selector_text(selector: dict[str, Any] | None) -> str:
    """A *metav1.LabelSelector as Go's ``%+v`` prints it in upstream's messages."""
    if selector is None:
        return "nil"
    labels = ",".join(f"{k}: {v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))
    labels = f"{labels}," if labels else ""
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key')},Operator:{e.get('operator')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or []
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


@dataclasses.dataclass
class Condition:
    type: str
    status: str
    reason: str
    message: str


@dataclasses.dataclass
class Result:
    """What ``computeReplicasForMetrics`` returns: the proposal or the error, and the statuses."""

    replicas: int = 0
    metric: str = ""
    statuses: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    error: str | None = None
    condition: Condition | None = None


@dataclasses.dataclass(frozen=True)
class Scale:
    """The scale subresource of the target: spec.replicas, status.replicas, status.selector."""

    spec_replicas: int
    status_replicas: int
    selector: dict[str, Any]


class _Failed(Exception):
    def __init__(self, reason: str, condition_error: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.condition_error = condition_error


class MetricsStep:
    """Computes the proposals of one HPA's metrics; records the events upstream records."""

    def __init__(self, api: controller.API, calculator: hpa_replicas.Calculator) -> None:
        self.api = api
        self.calc = calculator

    def compute(
        self, hpa: Any, scale: Scale, metric_specs: list[dict[str, Any]], tolerances: hpa_replicas.Tolerances
    ) -> Result:
        result = Result(statuses=[{"type": ""} for _ in metric_specs])
        invalid = 0
        first: _Failed | None = None
        for i, spec in enumerate(metric_specs):
            try:
                replicas, name, status = self._one(hpa, spec, scale, tolerances)
            except _Failed as failed:
                self.api.record(hpa.kind, hpa.meta.name, failed.reason, failed.condition_error, "Warning")
                if invalid == 0:
                    first = failed
                invalid += 1
                continue
            result.statuses[i] = status
            if result.replicas == 0 or replicas > result.replicas:
                result.replicas, result.metric = replicas, name
        if first is not None and (invalid >= len(metric_specs) or result.replicas < scale.spec_replicas):
            result.condition = Condition(
                "ScalingActive",
                "False",
                first.reason,
                f"the HPA was unable to compute the replica count: {first.condition_error}",
            )
            result.error = (
                f"invalid metrics ({invalid} invalid out of {len(metric_specs)}), first error is: {first}"
            )
            return result
        result.condition = Condition(
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {result.metric}",
        )
        return result

    # ---- computeReplicasForMetric -------------------------------------------------------------
    def _one(
        self, hpa: Any, spec: dict[str, Any], scale: Scale, tol: hpa_replicas.Tolerances
    ) -> tuple[int, str, dict[str, Any]]:
        kind = spec.get("type")
        if kind in ("Resource", "ContainerResource"):
            return self._resource(hpa, spec, scale, tol, kind)
        if kind == "Pods":
            return self._pods(hpa, spec["pods"], scale, tol)
        if kind == "Object":
            return self._object(hpa, spec["object"], scale, tol)
        if kind == "External":
            return self._external(hpa, spec["external"], scale, tol)
        message = f'unknown metric source type "{kind}"'
        raise _Failed("InvalidMetricSourceType", message, message)

    def _resource(
        self, hpa: Any, spec: dict[str, Any], scale: Scale, tol: hpa_replicas.Tolerances, kind: str
    ) -> tuple[int, str, dict[str, Any]]:
        field = "resource" if kind == "Resource" else "containerResource"
        src = spec[field]
        name, target = src["name"], src.get("target") or {}
        container = src.get("container") if kind == "ContainerResource" else None
        reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
        ns, current = hpa.meta.namespace, scale.spec_replicas
        what = "usage" if target.get("averageValue") is not None else "utilization"
        try:
            if target.get("averageValue") is not None:
                replicas, raw, _ = self.calc.raw_resource_replicas(
                    current,
                    hpa_replicas.milli(_parse(target["averageValue"])),
                    name,
                    tol,
                    ns,
                    scale.selector,
                    container,
                )
                value: dict[str, Any] = {"averageValue": format_quantity(raw)}
                metric = f"{name} resource"
            elif target.get("averageUtilization") is not None:
                replicas, utilization, raw, _ = self.calc.resource_replicas(
                    current, int(target["averageUtilization"]), name, tol, ns, scale.selector, container
                )
                value = {"averageUtilization": utilization, "averageValue": format_quantity(raw)}
                source = "resource" if container is None else "container resource"
                metric = f"{name} {source} utilization (percentage of request)"
            else:
                message = (
                    "invalid resource metric source: neither an average utilization target nor an "
                    "average value (usage) target was set"
                )
                raise _Failed(reason, message, f"failed to get {name} resource metric value: {message}")
        except hpa_replicas.MetricError as exc:
            error = f"failed to get {name} {what}: {exc}"
            wrap = f"{name} resource" if container is None else f"{container} container"
            raise _Failed(reason, error, f"failed to get {wrap} metric value: {error}") from exc
        status_src: dict[str, Any] = {"name": name, "current": value}
        if container is not None:
            status_src["container"] = container
        return replicas, metric, {"type": kind, field: status_src}

    def _pods(
        self, hpa: Any, src: dict[str, Any], scale: Scale, tol: hpa_replicas.Tolerances
    ) -> tuple[int, str, dict[str, Any]]:
        name = src["metric"]["name"]
        metric_selector = src["metric"].get("selector")
        try:
            api = self.api.metrics.custom
            try:
                if api is None:
                    raise metricsapi.MetricsUnavailable(_missing("custom", f"pods/{name}"))
                raw = api.pods(name, hpa.meta.namespace, scale.selector, metric_selector)
            except metricsapi.MetricsUnavailable as exc:
                raise hpa_replicas.MetricError(
                    f"unable to get metric {name}: unable to fetch metrics from custom metrics API: {exc}"
                ) from exc
            if not raw:
                raise hpa_replicas.MetricError(
                    f"unable to get metric {name}: no metrics returned from custom metrics API"
                )
            metrics = {n: dataclasses.replace(m, value=hpa_replicas.milli(m.value)) for n, m in raw.items()}
            target = hpa_replicas.milli(_parse(src["target"]["averageValue"]))
            replicas, usage = self.calc.plain_replicas(
                metrics, scale.spec_replicas, target, tol, hpa.meta.namespace, scale.selector, ""
            )
        except hpa_replicas.MetricError as exc:
            raise _Failed("FailedGetPodsMetric", str(exc), f"failed to get pods metric value: {exc}") from exc
        status = {"metric": _identifier(src["metric"]), "current": {"averageValue": format_quantity(usage)}}
        return replicas, f"pods metric {name}", {"type": "Pods", "pods": status}

    def _object(
        self, hpa: Any, src: dict[str, Any], scale: Scale, tol: hpa_replicas.Tolerances
    ) -> tuple[int, str, dict[str, Any]]:
        name, ref = src["metric"]["name"], src["describedObject"]
        target = src.get("target") or {}
        ns = hpa.meta.namespace
        kind = target.get("type")
        per_pod = kind == "AverageValue" and target.get("averageValue") is not None
        if not per_pod and not (kind == "Value" and target.get("value") is not None):
            message = (
                "invalid object metric source: neither a value target nor an average value target was set"
            )
            raise _Failed("FailedGetObjectMetric", message, f"failed to get object metric value: {message}")
        wrap = f"failed to get {name} object metric: " if per_pod else ""
        try:
            api = self.api.metrics.custom
            try:
                if api is None:
                    raise metricsapi.MetricsUnavailable(_missing("custom", name))
                value, _ = api.object(name, ns, ref, src["metric"].get("selector"))
            except metricsapi.MetricsUnavailable as exc:
                raise hpa_replicas.MetricError(
                    f"unable to get metric {name}: {ref.get('kind')} on {ns} {ref.get('name')}/"
                    f"unable to fetch metrics from custom metrics API: {exc}"
                ) from exc
            usage = hpa_replicas.milli(value)
            if not per_pod:
                ratio = usage / hpa_replicas.milli(_parse(target["value"]))
                replicas = self.calc.usage_ratio_replicas(scale.spec_replicas, ratio, tol, ns, scale.selector)
                current, metric = {"value": format_quantity(usage)}, f"{ref.get('kind')} metric {name}"
                status = {
                    "describedObject": dict(ref),
                    "metric": _identifier(src["metric"]),
                    "current": current,
                }
            else:
                replicas, average = self.calc.per_pod_replicas(
                    scale.status_replicas, usage, hpa_replicas.milli(_parse(target["averageValue"])), tol
                )
                metric = f"external metric {name}({selector_text(src['metric'].get('selector'))})"
                status = {
                    "metric": _identifier(src["metric"]),
                    "current": {"averageValue": format_quantity(average)},
                }
        except hpa_replicas.MetricError as exc:
            raise _Failed(
                "FailedGetObjectMetric", str(exc), f"failed to get object metric value: {wrap}{exc}"
            ) from exc
        return replicas, metric, {"type": "Object", "object": status}

    def _external(
        self, hpa: Any, src: dict[str, Any], scale: Scale, tol: hpa_replicas.Tolerances
    ) -> tuple[int, str, dict[str, Any]]:
        name = src["metric"]["name"]
        metric_selector = src["metric"].get("selector")
        target = src.get("target") or {}
        ns = hpa.meta.namespace
        label = f"external metric {name}({selector_text(metric_selector)})"
        if target.get("averageValue") is None and target.get("value") is None:
            message = (
                "invalid external metric source: neither a value target nor an average value target was set"
            )
            raise _Failed(
                "FailedGetExternalMetric", message, f"failed to get {name} external metric value: {message}"
            )
        per_pod = target.get("averageValue") is not None
        inner = (
            f"failed to get {name} external metric" if per_pod else f"failed to get external metric {name}"
        )
        wrap = f"failed to get {name} external metric value: {inner}: "
        try:
            values = self._external_values(name, ns, metric_selector)
            usage = sum(hpa_replicas.milli(v) for v in values)
            if per_pod:
                replicas, average = self.calc.per_pod_replicas(
                    scale.status_replicas, usage, hpa_replicas.milli(_parse(target["averageValue"])), tol
                )
                current = {"averageValue": format_quantity(average)}
            else:
                ratio = usage / hpa_replicas.milli(_parse(target["value"]))
                replicas = self.calc.usage_ratio_replicas(scale.spec_replicas, ratio, tol, ns, scale.selector)
                current = {"value": format_quantity(usage)}
        except hpa_replicas.MetricError as exc:
            raise _Failed("FailedGetExternalMetric", str(exc), f"{wrap}{exc}") from exc
        status = {"metric": _identifier(src["metric"]), "current": current}
        return replicas, label, {"type": "External", "external": status}

    def _external_values(self, name: str, namespace: str, selector: dict[str, Any] | None) -> list[float]:
        """``GetExternalMetric`` of metrics/client.go, errors wrapped as the replica calculator does."""
        where = f"unable to get external metric {namespace}/{name}/{selector_text(selector)}"
        api = self.api.metrics.external
        try:
            if api is None:
                raise metricsapi.MetricsUnavailable(_missing("external", name))
            values, _ = api.external(name, namespace, selector)
        except metricsapi.MetricsUnavailable as exc:
            raise hpa_replicas.MetricError(
                f"{where}: unable to fetch metrics from external metrics API: {exc}"
            ) from exc
        if not values:
            raise hpa_replicas.MetricError(f"{where}: no metrics returned from external metrics API")
        return values


def _identifier(metric: dict[str, Any]) -> dict[str, Any]:
    out = {"name": metric["name"]}
    if metric.get("selector") is not None:
        out["selector"] = metric["selector"]
    return out


def _missing(api: str, resource: str) -> str:
    group = f"{api}.metrics.k8s.io"
    return f"the server could not find the requested resource (get {resource}.{group})"


def _parse(value: Any) -> Any:
    return quantity.parse(value)
