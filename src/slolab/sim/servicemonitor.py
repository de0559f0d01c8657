"""ServiceMonitor (monitoring.coreos.com/v1): scrape the pods behind Services the monitor selects.

Upstream: prometheus-operator v0.86 Documentation/api-reference (ServiceMonitorSpec, Endpoint)
and pkg/prometheus/promcfg.go (generateServiceMonitorConfig): Services of the monitor's own
namespace (no namespaceSelector) whose labels match ``selector.matchLabels`` are discovered
with the endpoints role, which lists every pod behind the Service, ready or not; only the
Service port named ``port`` is kept; each target gets ``namespace``, ``service``, ``pod``,
``container`` (the container that has the port's targetPort), ``endpoint`` (the port name),
``job`` (the Service's name when ``jobLabel`` is unset) and ``instance`` (podIP:port), plus
the Service labels named in ``targetLabels`` and the pod labels named in ``podTargetLabels``.

Modelled: spec.selector.matchLabels, spec.endpoints[].port/path/interval, spec.targetLabels,
spec.podTargetLabels. Everything else (namespaceSelector, jobLabel, relabelings,
metricRelabelings, targetPort, scheme, tlsConfig, honorLabels, ...) is refused when applied,
naming the field.
"""

from __future__ import annotations

from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import controller, podmonitor, store

SERVICEMONITOR = (podmonitor.API_VERSION, "ServiceMonitor")


def _validate(doc: yamlfile.Document) -> list[errors.Problem]:
    return podmonitor.validate_endpoints(doc, "endpoints", "a Service port (targetPort is not modelled)")


KIND = controller.Kind(
    *SERVICEMONITOR,
    fields=(
        *controller.META_FIELDS,
        "spec.selector",  # empty: every Service of the namespace
        "spec.selector.matchLabels.*",
        "spec.endpoints[*].port",
        "spec.endpoints[*].path",
        "spec.endpoints[*].interval",
        "spec.targetLabels[*]",
        "spec.podTargetLabels[*]",
    ),
    new=lambda meta, spec: store.Generic(*SERVICEMONITOR, meta, spec),
    validate=_validate,
)


def endpoints(monitor: Any, services: list[Any]) -> list[podmonitor.Endpoint]:
    """One Endpoint per (selected Service, monitor endpoint whose port the Service has)."""
    spec = monitor.spec
    match = {str(k): str(v) for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items()}
    pod_labels = tuple(str(label) for label in spec.get("podTargetLabels") or ())
    service_labels = tuple(str(label) for label in spec.get("targetLabels") or ())
    out: list[podmonitor.Endpoint] = []
    for svc in services:
        if not controller.labels_selected({"matchLabels": match}, svc.meta.labels) or not svc.selector:
            continue
        ports = {p.get("name"): p for p in svc.spec.get("ports") or [] if p.get("name")}
        for ep in spec.get("endpoints") or []:
            port = ports.get(ep["port"])
            if port is None:
                continue
            out.append(
                podmonitor.Endpoint(
                    job=svc.meta.name,
                    match_labels=svc.selector,
                    port=ep["port"],
                    path=ep.get("path") or "/metrics",
                    interval_s=podmonitor.duration_s(ep["interval"]) if ep.get("interval") else None,
                    pod_target_labels=pod_labels,
                    service=svc.meta.name,
                    target_port=port.get("targetPort", port.get("port")),
                    service_labels=tuple(
                        (podmonitor.sanitize(k), svc.meta.labels[k])
                        for k in service_labels
                        if svc.meta.labels.get(k)
                    ),
                )
            )
    return out
