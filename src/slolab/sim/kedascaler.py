"""KEDA's scalers on the simulator: the prometheus, cpu and memory triggers of a ScaledObject.

Upstream: kedacore/keda v2.20.2
- pkg/scalers/prometheus_scaler.go:45-61 (the metadata: serverAddress, query, threshold required;
  activationThreshold 0 and ignoreNullValues true by default), :190-202 (the HPA metric:
  External, named ``s<index>-prometheus``), :204-308 (ExecutePromQuery: an instant query at
  now; a non-2xx answer is "prometheus query api returned error. status: N"; an empty result or
  a series without a value is 0 with ignoreNullValues, an error without; more than one element
  is an error whatever ignoreNullValues says; NaN and ±Inf are 0 with ignoreNullValues, an
  error without), :310-320 (the trigger is active while value > activationThreshold);
- pkg/scalers/scaler.go:94-163 (metricType defaults to AverageValue, Utilization is refused for
  external scalers; targets and values are quantities of milli precision, and a negative, NaN
  or infinite value becomes 0);
- pkg/scalers/cpu_memory_scaler.go:23-124 (``value`` required, ``metricType`` Utilization or
  AverageValue and nothing else, ``containerName`` makes a ContainerResource metric; the
  deprecated ``type`` parameter is refused);
- pkg/scalers/scalersconfig/typed_config.go (error wording for missing and unparsable values).

The lab's Prometheus is the one charts/slolab-platform installs: kube-prometheus-stack with
``fullnameOverride: kps`` in namespace slolab-system (make cluster), so its Service answers at
``http://kps-prometheus.slolab-system.svc:9090`` (charts/slolab-platform/templates/endpoints.yaml,
charts/llm-serving values ``prometheus.address``); the operator's governing Service
``prometheus-operated`` serves the same Prometheus. KEDA's operator, which runs the queries, is
installed by the same chart into the same namespace, so the short names resolve too. Any other
serverAddress is a server KEDA cannot reach: a name the cluster DNS does not know gives "no such
host", loopback gives "connection refused", another port of the Service times out (KEDA's HTTP
client gives up after its 3 s default), as Go's HTTP client words them.

Not modelled (refused when applied, naming the field): authenticationRef and every auth,
TLS, header and query-parameter setting (unsafeSsl, timeout, namespace, customHeaders,
queryParameters, awsRegion, identityOwner, authModes), trigger types other than prometheus,
cpu and memory. ``metricName`` is accepted and ignored, as KEDA 2.x ignores it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import objects

#: the lab Prometheus's Service, as charts/slolab-platform names it (values.yaml fullnameOverride
#: kps; installed into slolab-system by make cluster), and its port
PROMETHEUS_NAMESPACE = "slolab-system"
PROMETHEUS_PORT = 9090
PROMETHEUS_URL = f"http://kps-prometheus.{PROMETHEUS_NAMESPACE}.svc:{PROMETHEUS_PORT}"
PROMETHEUS_SERVICES = ("kps-prometheus", "prometheus-operated")
#: how a Service's name resolves from a pod of its own namespace (the DNS search path)
_DNS_SUFFIXES = ("", *(f".{PROMETHEUS_NAMESPACE}{d}" for d in ("", ".svc", ".svc.cluster.local")))
#: kube-dns on kind (the resolver Go's error names)
CLUSTER_DNS = "10.96.0.10:53"

PROMETHEUS_PARAMS = ("serverAddress", "query", "threshold", "activationThreshold", "ignoreNullValues")
PROMETHEUS_INERT = ("metricName",)
PROMETHEUS_NOT_MODELLED = (
    "unsafeSsl",
    "timeout",
    "namespace",
    "customHeaders",
    "queryParameters",
    "awsRegion",
    "identityOwner",
    "authModes",
)
RESOURCE_PARAMS = ("value", "containerName")
TYPES = ("prometheus", "cpu", "memory")

_URL = re.compile(r"^(?P<scheme>https?)://(?P<host>[^/:?#]+)(?::(?P<port>\d+))?(?P<path>[^?#]*)")
_FLOAT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True}
_BOOLS.update({"0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False})


class ScalerError(Exception):
    """A scaler failed to get its metric; the message is KEDA's ``err.Error()``."""


@dataclasses.dataclass(frozen=True)
class Trigger:
    """One entry of ``spec.triggers``, parsed as its scaler parses it."""

    index: int
    type: str  # prometheus | cpu | memory
    name: str = ""
    metric_type: str = "AverageValue"
    use_cached_metrics: bool = False
    server_address: str = ""
    query: str = ""
    threshold: float = 0.0
    activation_threshold: float = 0.0
    ignore_null_values: bool = True
    value: str = ""
    container_name: str = ""

    @property
    def external(self) -> bool:
        return self.type == "prometheus"

    @property
    def metric_name(self) -> str:
        """GenerateMetricNameWithIndex: the External metric's name (resource triggers: the resource)."""
        return f"s{self.index}-{self.type}" if self.external else self.type

    def metric_spec(self) -> dict[str, Any]:
        """GetMetricSpecForScaling: this trigger's entry of the HPA's ``spec.metrics``."""
        if self.external:
            return {
                "type": "External",
                "external": {
                    "metric": {"name": self.metric_name},
                    "target": target(self.metric_type, self.threshold),
                },
            }
        if self.metric_type == "Utilization":
            tgt: dict[str, Any] = {"type": "Utilization", "averageUtilization": int(self.value)}
        else:
            tgt = {"type": "AverageValue", "averageValue": self.value}
        if self.container_name:
            return {
                "type": "ContainerResource",
                "containerResource": {"name": self.type, "container": self.container_name, "target": tgt},
            }
        return {"type": "Resource", "resource": {"name": self.type, "target": tgt}}


def milli(value: float) -> float:
    """quantityFromFloat64: milli precision; negative, NaN and infinite values are 0."""
    if math.isnan(value) or math.isinf(value) or value < 0:
        return 0.0
    return float(f"{value:.3f}")


def quantity(value: float) -> str:
    """A quantity as the API server writes it (canonical DecimalSI: 4, 500m, 1500m, 2k)."""
    m = round(milli(value) * 1000)
    if m % 1000:
        return f"{m}m"
    n, suffix = m // 1000, ""
    for s in ("k", "M", "G", "T", "P", "E"):
        if n == 0 or n % 1000:
            break
        n, suffix = n // 1000, s
    return f"{n}{suffix}"


def target(metric_type: str, value: float) -> dict[str, Any]:
    """GetMetricTargetMili."""
    key = "averageValue" if metric_type == "AverageValue" else "value"
    return {"type": metric_type, key: quantity(value)}


# ---- parsing -------------------------------------------------------------------------------------
def parse(doc: yamlfile.Document, index: int) -> tuple[Trigger | None, list[errors.Problem]]:
    """The trigger at ``spec.triggers[index]`` of ``doc``, or the problems that stop KEDA using it."""
    base: tuple[str | int, ...] = ("spec", "triggers", index)
    raw = doc.data["spec"]["triggers"][index] or {}
    problems: list[errors.Problem] = []

    def problem(path: tuple[str | int, ...], message: str) -> None:
        problems.append(errors.Problem(doc.file, message, yamlfile.dotted(path), doc.line_of(path)))

    kind = raw.get("type")
    if kind not in TYPES:
        problem((*base, "type"), f"trigger type {kind!r} is not modelled by the simulator; it models {TYPES}")
        return None, problems
    meta = raw.get("metadata") or {}
    for key, val in meta.items():
        if not isinstance(val, str):
            problem(
                (*base, "metadata", key),
                f'Invalid value: "{type(val).__name__}": spec.triggers[{index}].metadata.{key} in body '
                "must be of type string (quote it)",
            )
    if problems:
        return None, problems
    metric_type = raw.get("metricType") or ""
    fields: dict[str, Any] = {
        "index": index,
        "type": kind,
        "name": raw.get("name") or "",
        "use_cached_metrics": bool(raw.get("useCachedMetrics", False)),
    }

    def required(key: str) -> str | None:
        if not meta.get(key):
            problem((*base, "metadata"), f'missing required parameter "{key}" in [triggerMetadata]')
            return None
        return meta[key]

    def number(key: str, default: float | None) -> float:
        val = meta.get(key) if default is not None else required(key)
        if not val:
            return default or 0.0
        if not _FLOAT.match(val.strip()):
            problem((*base, "metadata", key), f'unable to set param "{key}" value "{val}": not a number')
            return 0.0
        return float(val)

    if kind == "prometheus":
        for key in meta:
            if key in PROMETHEUS_NOT_MODELLED:
                problem((*base, "metadata", key), "is not modelled by the simulator")
            elif key not in PROMETHEUS_PARAMS and key not in PROMETHEUS_INERT:
                problem(
                    (*base, "metadata", key),
                    "is not a parameter of KEDA's prometheus scaler (KEDA would ignore it); "
                    f"it takes {', '.join(PROMETHEUS_PARAMS)}",
                )
        if metric_type == "Utilization":
            problem((*base, "metricType"), "error getting scaler metric type: Utilization is not supported")
        elif metric_type not in ("", "AverageValue", "Value"):
            problem((*base, "metricType"), f"metricType {metric_type!r} must be AverageValue or Value")
        ignore = meta.get("ignoreNullValues", "true")
        if ignore not in _BOOLS:
            problem(
                (*base, "metadata", "ignoreNullValues"),
                f'unable to set param "ignoreNullValues" value "{ignore}": unable to parse boolean value',
            )
        fields.update(
            metric_type=metric_type or "AverageValue",
            server_address=required("serverAddress") or "",
            query=required("query") or "",
            threshold=number("threshold", None),
            activation_threshold=number("activationThreshold", 0.0),
            ignore_null_values=_BOOLS.get(ignore, True),
        )
    else:
        for key in meta:
            if key == "type":
                problem(
                    (*base, "metadata", key), "the 'type' setting was removed in KEDA v2.18; use metricType"
                )
            elif key not in RESOURCE_PARAMS:
                problem((*base, "metadata", key), f"is not a parameter of KEDA's {kind} scaler")
        value = required("value") or ""
        if metric_type not in ("Utilization", "AverageValue"):
            problem(
                (*base, "metricType"),
                f"error parsing {kind} metadata: unknown metric type: {metric_type}, "
                "allowed values are 'Utilization' or 'AverageValue'",
            )
        elif metric_type == "Utilization" and value and not value.strip().lstrip("-").isdigit():
            problem((*base, "metadata", "value"), f'strconv.ParseInt: parsing "{value}": invalid syntax')
        fields.update(metric_type=metric_type, value=value, container_name=meta.get("containerName", ""))
    if raw.get("useCachedMetrics") and kind != "prometheus":
        problem(
            (*base, "useCachedMetrics"), f'property "useCachedMetrics" is not supported for "{kind}" scaler'
        )
    if problems:
        return None, problems
    return Trigger(**fields), problems


# ---- the prometheus query ------------------------------------------------------------------------
def _unreachable(address: str) -> str | None:
    """Go's HTTP client error for a serverAddress that is not the lab Prometheus, or None."""
    m = _URL.match(address)
    if m is None:
        return f'unsupported protocol scheme "{address.partition(":")[0] if "://" in address else ""}"'
    scheme, host, path = m["scheme"], m["host"], m["path"] or ""
    port = int(m["port"]) if m["port"] else (443 if scheme == "https" else 80)
    names = {f"{s}{d}" for s in PROMETHEUS_SERVICES for d in _DNS_SUFFIXES}
    if host in ("localhost", "127.0.0.1", "::1"):
        return f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    if host not in names:
        return f"dial tcp: lookup {host} on {CLUSTER_DNS}: no such host"
    if scheme != "http":
        return "http: server gave HTTP response to HTTPS client"
    if port != PROMETHEUS_PORT:
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    if path not in ("", "/"):
        return "prometheus query api returned error. status: 404"
    return None


def query_url(trigger: Trigger, now_s: float) -> str:
    """The URL KEDA requests (prometheus_scaler.go:205-207), for error messages."""
    stamp = objects.timestamp(now_s)
    return f"{trigger.server_address}/api/v1/query?query={query_escape(trigger.query)}&time={stamp}"


def query_escape(text: str) -> str:
    """Go's url.QueryEscape."""
    out = []
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in "-_.~"):
            out.append(ch)
        elif ch == " ":
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in ch.encode())
    return "".join(out)


def execute(trigger: Trigger, api: Any) -> float:
    """ExecutePromQuery through ``api.prom_query``; raises ScalerError as KEDA fails."""
    reason = _unreachable(trigger.server_address)
    if reason is not None:
        if reason.startswith("prometheus query api"):
            raise ScalerError(reason)
        raise ScalerError(f'Get "{query_url(trigger, api.now_s)}": {reason}')
    try:
        result = api.prom_query(trigger.query)
    except errors.PromQLError as exc:
        raise ScalerError("prometheus query api returned error. status: 400") from exc
    if result and not isinstance(result[0], dict):
        # a scalar or string result: data.result is [time, "value"], not a list of series
        raise ScalerError(
            "json: cannot unmarshal number into Go struct field .data.result of type "
            'struct { Metric struct {} "json:\\"metric\\""; Value []interface {} "json:\\"value\\"" }'
        )
    if not result:
        if trigger.ignore_null_values:
            return 0.0
        raise ScalerError("prometheus metrics 'prometheus' target may be lost, the result is empty")
    if len(result) > 1:
        raise ScalerError(f"prometheus query {trigger.query} returned multiple elements")
    value = result[0].get("value") or []
    if not value:  # a range vector: its series carry "values"
        if trigger.ignore_null_values:
            return 0.0
        raise ScalerError("prometheus metrics 'prometheus' target may be lost, the value list is empty")
    v = float(value[1])
    if math.isnan(v) or math.isinf(v):
        if trigger.ignore_null_values:
            return 0.0
        shown = "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
        raise ScalerError(f"prometheus query returns {shown}")
    return v
