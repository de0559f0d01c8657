"""What the API server checks on an autoscaling/v2 HorizontalPodAutoscaler before it is stored.

Upstream: kubernetes v1.35 pkg/apis/autoscaling/validation/validation.go
(``ValidateHorizontalPodAutoscalerSpec``, ``validateMetricSpec``, ``validateMetricTarget``,
``validateResourceSource``, ``validatePodsSource``, ``validateObjectSource``,
``validateExternalSource``, ``validateBehavior``, ``validateScalingRules``) and
pkg/apis/autoscaling/v2/defaults.go. Each problem is worded as the API server's field error
(``Invalid value``, ``Required value``, ``Unsupported value``), naming file, line and field.
Not modelled: the HPAScaleToZero feature gate (alpha, off: minReplicas must be >= 1); label
selector syntax checks beyond the field list (``sim/hpa.py``). Where upstream accepts a field
the controller then ignores (``averageUtilization`` next to a ``value`` on an External metric),
it is refused here too, so a learner never trusts a field that does nothing.
"""

from __future__ import annotations

from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import quantity

SOURCE_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
SOURCE_FIELD = {
    "Resource": "resource",
    "ContainerResource": "containerResource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}
TARGET_TYPES = ("Utilization", "Value", "AverageValue")
SELECT_POLICIES = ("Disabled", "Max", "Min")
POLICY_TYPES = ("Percent", "Pods")
MAX_STABILIZATION_S = 3600
MAX_PERIOD_S = 1800

Path = tuple[str | int, ...]


class _Checker:
    def __init__(self, doc: yamlfile.Document) -> None:
        self.doc = doc
        self.problems: list[errors.Problem] = []

    def add(self, path: Path, message: str) -> None:
        self.problems.append(
            errors.Problem(self.doc.file, message, field=yamlfile.dotted(path), line=self.doc.line_of(path))
        )

    def invalid(self, path: Path, value: Any, detail: str) -> None:
        self.add(path, f"Invalid value: {_show(value)}: {detail}")

    def required(self, path: Path, detail: str = "") -> None:
        self.add(path, f"Required value: {detail}" if detail else "Required value")

    def unsupported(self, path: Path, value: Any, supported: tuple[str, ...]) -> None:
        options = ", ".join(f'"{s}"' for s in supported)
        self.add(path, f"Unsupported value: {_show(value)}: supported values: {options}")


def _show(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _positive_quantity(c: _Checker, path: Path, value: Any) -> None:
    try:
        ok = quantity.parse(value) > 0
    except ValueError:
        c.invalid(path, value, "must be a quantity such as 500m, 2 or 1Gi")
        return
    if not ok:
        c.invalid(path, value, "must be positive")


def _target(c: _Checker, path: Path, target: dict[str, Any]) -> None:
    """validateMetricTarget."""
    kind = target.get("type")
    if not kind:
        c.required((*path, "type"), "must specify a metric target type")
    elif kind not in TARGET_TYPES:
        c.invalid((*path, "type"), kind, "must be either Utilization, Value, or AverageValue")
    for name in ("value", "averageValue"):
        if name in target:
            _positive_quantity(c, (*path, name), target[name])
    utilization = target.get("averageUtilization")
    if utilization is not None and int(utilization) < 1:
        c.invalid((*path, "averageUtilization"), utilization, "must be greater than 0")


def _resource(c: _Checker, path: Path, src: dict[str, Any], container: bool) -> None:
    """validateResourceSource / validateContainerResourceSource."""
    if not src.get("name"):
        c.required((*path, "name"), "must specify a resource name")
    if container and not src.get("container"):
        c.required((*path, "container"), "must specify a container")
    target = src.get("target") or {}
    _target(c, (*path, "target"), target)
    has_util, has_value = "averageUtilization" in target, "averageValue" in target
    if not has_util and not has_value:
        c.required(
            (*path, "target", "averageUtilization"),
            "must set either a target raw value or a target utilization",
        )
    if has_util and has_value:
        c.add(
            (*path, "target", "averageValue"),
            "Forbidden: may not set both a target raw value and a target utilization",
        )
    if "value" in target:
        c.add(
            (*path, "target", "value"),
            "is ignored by the HPA controller for resource metrics; use averageValue",
        )


def _metric_name(c: _Checker, path: Path, src: dict[str, Any]) -> None:
    if not (src.get("metric") or {}).get("name"):
        c.required((*path, "metric", "name"), "must specify a metric name")


def _pods(c: _Checker, path: Path, src: dict[str, Any]) -> None:
    """validatePodsSource."""
    _metric_name(c, path, src)
    target = src.get("target") or {}
    _target(c, (*path, "target"), target)
    if "averageValue" not in target:
        c.required((*path, "target", "averageValue"), "must specify a positive target averageValue")
    for extra in ("value", "averageUtilization"):
        if extra in target:
            c.add(
                (*path, "target", extra),
                "is ignored by the HPA controller for Pods metrics; use averageValue",
            )


def _value_source(c: _Checker, path: Path, src: dict[str, Any], kind: str) -> None:
    """validateObjectSource / validateExternalSource: value or averageValue, not both."""
    _metric_name(c, path, src)
    target = src.get("target") or {}
    _target(c, (*path, "target"), target)
    has_value, has_average = "value" in target, "averageValue" in target
    if not has_value and not has_average:
        detail = (
            "must set either a target value or averageValue"
            if kind == "Object"
            else "must set either a target value for metric or a per-pod target"
        )
        c.required((*path, "target", "averageValue"), detail)
    if has_value and has_average:
        if kind == "External":
            c.add(
                (*path, "target", "value"),
                "Forbidden: may not set both a target value for metric and a per-pod target",
            )
        else:  # upstream accepts both; the controller reads the one target.type names
            unused = "averageValue" if target.get("type") == "Value" else "value"
            c.add(
                (*path, "target", unused),
                f"is ignored by the HPA controller when target.type is {target.get('type')}",
            )
    if "averageUtilization" in target:
        c.add(
            (*path, "target", "averageUtilization"),
            f"is ignored by the HPA controller for {kind} metrics (it reads value or averageValue)",
        )
    if kind == "Object":
        described = src.get("describedObject") or {}
        for name in ("kind", "name"):
            if not described.get(name):
                c.required((*path, "describedObject", name))


def _metric(c: _Checker, path: Path, spec: dict[str, Any]) -> None:
    """validateMetricSpec."""
    kind = spec.get("type")
    present = [t for t, f in SOURCE_FIELD.items() if f in spec]
    if not kind:
        c.required((*path, "type"), "must specify a metric source type")
        return
    if kind not in SOURCE_TYPES:
        c.unsupported((*path, "type"), kind, SOURCE_TYPES)
        return
    if len(present) > 1 or (present and present[0] != kind):
        c.add((*path, SOURCE_FIELD[present[-1]]), "Forbidden: must populate the given metric source only")
    src = spec.get(SOURCE_FIELD[kind])
    if not isinstance(src, dict):
        c.required((*path, SOURCE_FIELD[kind]), "must populate information for the given metric source")
        return
    sub = (*path, SOURCE_FIELD[kind])
    if kind in ("Resource", "ContainerResource"):
        _resource(c, sub, src, kind == "ContainerResource")
    elif kind == "Pods":
        _pods(c, sub, src)
    else:
        _value_source(c, sub, src, kind)


def _rules(c: _Checker, path: Path, rules: dict[str, Any]) -> None:
    """validateScalingRules."""
    window = rules.get("stabilizationWindowSeconds")
    if window is not None:
        if int(window) < 0:
            c.invalid((*path, "stabilizationWindowSeconds"), window, "must be greater than or equal to zero")
        elif int(window) > MAX_STABILIZATION_S:
            c.invalid(
                (*path, "stabilizationWindowSeconds"),
                window,
                f"must be less than or equal to {MAX_STABILIZATION_S}",
            )
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        c.unsupported((*path, "selectPolicy"), select, SELECT_POLICIES)
    if "policies" in rules and not rules["policies"]:
        c.required((*path, "policies"), "must specify at least one Policy")
    for i, policy in enumerate(rules.get("policies") or []):
        p = (*path, "policies", i)
        if policy.get("type") not in POLICY_TYPES:
            c.unsupported((*p, "type"), policy.get("type"), POLICY_TYPES)
        value = policy.get("value")
        if value is None or int(value) <= 0:
            c.invalid((*p, "value"), value, "must be greater than zero")
        period = policy.get("periodSeconds")
        if period is None or int(period) <= 0:
            c.invalid((*p, "periodSeconds"), period, "must be greater than zero")
        elif int(period) > MAX_PERIOD_S:
            c.invalid((*p, "periodSeconds"), period, f"must be less than or equal to {MAX_PERIOD_S}")
    tolerance = rules.get("tolerance")
    if tolerance is not None:
        try:
            negative = quantity.parse(tolerance) < 0
        except ValueError:
            negative = True
        if negative:
            c.invalid((*path, "tolerance"), tolerance, "must be greater than or equal to 0")


def validate(doc: yamlfile.Document) -> list[errors.Problem]:
    """Every API validation problem of one HorizontalPodAutoscaler document."""
    c = _Checker(doc)
    spec = doc.data.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    for name in ("kind", "name"):
        if not ref.get(name):
            c.required(("spec", "scaleTargetRef", name))
    min_replicas = spec.get("minReplicas", 1)
    max_replicas = spec.get("maxReplicas")
    if int(min_replicas) < 1:
        c.invalid(("spec", "minReplicas"), min_replicas, "must be greater than or equal to 1")
    if max_replicas is None:
        c.required(("spec", "maxReplicas"), "must specify maxReplicas")
    elif int(max_replicas) < 1:
        c.invalid(("spec", "maxReplicas"), max_replicas, "must be greater than 0")
    elif int(max_replicas) < int(min_replicas):
        c.invalid(("spec", "maxReplicas"), max_replicas, "must be greater than or equal to `minReplicas`")
    for i, metric in enumerate(spec.get("metrics") or []):
        _metric(c, ("spec", "metrics", i), metric)
    behavior = spec.get("behavior") or {}
    for direction in ("scaleUp", "scaleDown"):
        if isinstance(behavior.get(direction), dict):
            _rules(c, ("spec", "behavior", direction), behavior[direction])
    return c.problems
