"""HPA manifests, a fake external metrics API and readers of the HPA's status and events (tests/sim)."""

from __future__ import annotations

from typing import Any

from slolab.catalog import yamlfile
from slolab.sim import metricsapi

HPA_KIND = "HorizontalPodAutoscaler"


def hpa_doc(metrics: list[dict[str, Any]] | None = None, name: str = "llm", **spec: Any) -> yamlfile.Document:
    data: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": HPA_KIND,
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
            "minReplicas": 1,
            "maxReplicas": 4,
            **({"metrics": metrics} if metrics is not None else {}),
            **spec,
        },
    }
    return yamlfile.Document(data, "hpa.yaml", {})


def external(name: str, average_value: str | None = None, value: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = (
        {"type": "AverageValue", "averageValue": average_value}
        if average_value is not None
        else {"type": "Value", "value": value}
    )
    return {"type": "External", "external": {"metric": {"name": name}, "target": target}}


def cpu(utilization: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": utilization}},
    }


class FakeExternal:
    """external.metrics.k8s.io with values a test sets: a float, a list of series, or an error."""

    def __init__(self, **values: Any) -> None:
        self.values: dict[str, Any] = dict(values)
        self.calls: list[tuple[str, str, Any]] = []

    def external(self, metric_name: str, namespace: str, metric_selector: Any) -> tuple[list[float], float]:
        self.calls.append((metric_name, namespace, metric_selector))
        value = self.values[metric_name]
        if isinstance(value, Exception):
            raise value
        return (list(value) if isinstance(value, list) else [float(value)]), 0.0


def status(sim, name: str = "llm") -> dict[str, Any]:
    return next(o for o in sim.api_objects(HPA_KIND) if o["metadata"]["name"] == name)["status"]


def condition(sim, type_: str, name: str = "llm") -> dict[str, Any]:
    return next(c for c in status(sim, name)["conditions"] if c["type"] == type_)


def hpa_events(sim, reason: str | None = None) -> list[Any]:
    return [e for e in sim.recorder.events if e.kind == HPA_KIND and (reason is None or e.reason == reason)]


def rescales(sim) -> list[tuple[float, str]]:
    return [(e.time_s, e.message) for e in hpa_events(sim, "SuccessfulRescale")]


def replicas(sim) -> int:
    (dep,) = sim.api_objects("Deployment")
    return dep["spec"]["replicas"]


def unavailable(message: str) -> metricsapi.MetricsUnavailable:
    return metricsapi.MetricsUnavailable(message)
