"""PodMonitor (monitoring.coreos.com/v1): which pods the lab's Prometheus scrapes, where and how often.

Upstream: prometheus-operator v0.86 Documentation/api-reference (PodMonitorSpec,
PodMetricsEndpoint) and pkg/prometheus/promcfg.go (generatePodMonitorConfig): the pods of the
PodMonitor's own namespace (no namespaceSelector) whose labels match ``selector.matchLabels``
are discovered (kubernetes_sd role pod, one target per container port), only the container
port named ``port`` is kept, pods in phase Succeeded or Failed are dropped, and each target gets
the labels ``namespace``, ``pod``, ``container``, ``endpoint`` (the port name), ``job``
(``<namespace>/<PodMonitor name>`` when ``jobLabel`` is unset) and ``instance`` (podIP:port),
plus each pod label named in ``podTargetLabels``, its name sanitised to [a-zA-Z0-9_]. The
scrape interval is the endpoint's ``interval``, else the Prometheus' scrapeInterval (the
scenario's ``metrics.scrape_interval_s``).

Modelled: spec.selector.matchLabels, spec.podMetricsEndpoints[].port/path/interval,
spec.podTargetLabels. Everything else (namespaceSelector, jobLabel, relabelings,
metricRelabelings, scrapeTimeout, honorLabels, portNumber, tlsConfig, ...) is refused when
applied, naming the field. ServiceMonitor: sim/servicemonitor.py, which reuses ``Endpoint``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import controller, store

API_VERSION = "monitoring.coreos.com/v1"
PODMONITOR = (API_VERSION, "PodMonitor")

_DURATION = re.compile(r"^((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")


def duration_s(text: str) -> float:
    """A Prometheus duration (``15s``, ``1m30s``, ``500ms``) in seconds; ValueError if malformed."""
    m = _DURATION.match(str(text))
    if not text or m is None or not any(m.groups()):
        raise ValueError(f"not a Prometheus duration: {text!r} (e.g. 15s, 1m)")
    h, mi, s, ms = (int(g) if g else 0 for g in (m.group(2), m.group(4), m.group(6), m.group(8)))
    return h * 3600 + mi * 60 + s + ms / 1000


def sanitize(name: str) -> str:
    """A Kubernetes label name as a Prometheus label name (invalid characters become ``_``)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """One podMetricsEndpoints entry of one PodMonitor, ready to discover targets."""

    job: str
    match_labels: dict[str, str]
    port: str
    path: str
    interval_s: float | None
    pod_target_labels: tuple[str, ...]
    #: a ServiceMonitor's endpoint: the Service, its port's targetPort, the Service labels to copy
    service: str | None = None
    target_port: Any = None
    service_labels: tuple[tuple[str, str], ...] = ()

    def container_port(self, container_spec: dict[str, Any]) -> int | None:
        """The port of the container this endpoint scrapes, or None if the container has none."""
        ports = container_spec.get("ports") or []
        if self.service is None:  # a PodMonitor names a container port
            return next((int(p["containerPort"]) for p in ports if p.get("name") == self.port), None)
        target = self.target_port
        if isinstance(target, str) and not target.isdigit():
            return next((int(p["containerPort"]) for p in ports if p.get("name") == target), None)
        number = int(target)
        return number if any(int(p["containerPort"]) == number for p in ports) else None


def validate_endpoints(doc: yamlfile.Document, key: str, port_of: str) -> list[errors.Problem]:
    """The checks a monitor's endpoint list gets, shared by PodMonitor (``podMetricsEndpoints``,
    ports of containers) and ServiceMonitor (``endpoints``, ports of Services): at least one
    endpoint, each with a named port, and an interval Prometheus can parse."""
    spec = doc.data.get("spec") or {}
    problems: list[errors.Problem] = []
    endpoints = spec.get(key) or []
    if not endpoints:
        problems.append(
            errors.Problem(
                doc.file,
                f"spec.{key} must list at least one endpoint",
                field=f"spec.{key}",
                line=doc.line_of(("spec",)),
            )
        )
    for i, ep in enumerate(endpoints):
        path = ("spec", key, i)
        if not isinstance(ep, dict) or not isinstance(ep.get("port"), str) or not ep.get("port"):
            problems.append(
                errors.Problem(
                    doc.file,
                    f"each endpoint needs port: the name of {port_of}",
                    field=f"spec.{key}[{i}].port",
                    line=doc.line_of(path),
                )
            )
            continue
        if "interval" in ep:
            try:
                duration_s(ep["interval"])
            except ValueError as exc:
                problems.append(
                    errors.Problem(
                        doc.file,
                        str(exc),
                        field=f"spec.{key}[{i}].interval",
                        line=doc.line_of((*path, "interval")),
                    )
                )
    return problems


def _validate(doc: yamlfile.Document) -> list[errors.Problem]:
    return validate_endpoints(doc, "podMetricsEndpoints", "a container port (portNumber is not modelled)")


KIND = controller.Kind(
    *PODMONITOR,
    fields=(
        *controller.META_FIELDS,
        "spec.selector",  # empty: every pod of the namespace
        "spec.selector.matchLabels.*",
        "spec.podMetricsEndpoints[*].port",
        "spec.podMetricsEndpoints[*].path",
        "spec.podMetricsEndpoints[*].interval",
        "spec.podTargetLabels[*]",
    ),
    new=lambda meta, spec: store.Generic(*PODMONITOR, meta, spec),
    validate=_validate,
)


def endpoints(monitor: Any) -> list[Endpoint]:
    """The endpoints of one stored PodMonitor."""
    spec = monitor.spec
    match = {str(k): str(v) for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items()}
    targets = tuple(str(label) for label in spec.get("podTargetLabels") or ())
    job = f"{monitor.meta.namespace}/{monitor.meta.name}"
    return [
        Endpoint(
            job=job,
            match_labels=match,
            port=ep["port"],
            path=ep.get("path") or "/metrics",
            interval_s=duration_s(ep["interval"]) if ep.get("interval") else None,
            pod_target_labels=targets,
        )
        for ep in spec.get("podMetricsEndpoints") or []
    ]
