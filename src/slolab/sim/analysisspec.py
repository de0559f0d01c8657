"""AnalysisTemplate and ClusterAnalysisTemplate: the fields the simulator models, and their checks.

Upstream: argoproj/argo-rollouts v1.9.1 pkg/apis/rollouts/v1alpha1/analysis_types.go (Metric,
Argument, MetricProvider, EffectiveCount), utils/analysis/factory.go (ValidateMetrics,
ValidateMetric: the limits, "interval must be specified when count > 1"), utils/template
(``{{args.name}}`` substitution) and docs/features/analysis.md
(https://argo-rollouts.readthedocs.io/en/stable/features/analysis/). Modelled: args (value, or
none for the Rollout to supply), metrics with interval, initialDelay, count, successCondition,
failureCondition (the expression subset of sim/expr.py, compiled when applied), failureLimit,
inconclusiveLimit, consecutiveErrorLimit and the prometheus provider (address, query; timeout
and insecure accepted, the simulator's Prometheus answers at once). Not modelled (an error):
other providers, consecutiveSuccessLimit, dryRun, measurementRetention, args from secrets,
rangeQuery, headers and authentication.
"""

from __future__ import annotations

import re
from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import controller, expr, store

API_VERSION = "argoproj.io/v1alpha1"
ANALYSIS_TEMPLATE = (API_VERSION, "AnalysisTemplate")
CLUSTER_ANALYSIS_TEMPLATE = (API_VERSION, "ClusterAnalysisTemplate")
ANALYSIS_RUN = (API_VERSION, "AnalysisRun")
#: defaults.DefaultConsecutiveErrorLimit
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4

_METRIC = "spec.metrics[*]"
FIELDS = (
    *controller.META_FIELDS,
    "spec.args[*].name",
    "spec.args[*].value",
    f"{_METRIC}.name",
    f"{_METRIC}.interval",
    f"{_METRIC}.initialDelay",
    f"{_METRIC}.count",
    f"{_METRIC}.successCondition",
    f"{_METRIC}.failureCondition",
    f"{_METRIC}.failureLimit",
    f"{_METRIC}.inconclusiveLimit",
    f"{_METRIC}.consecutiveErrorLimit",
    f"{_METRIC}.provider.prometheus.address",
    f"{_METRIC}.provider.prometheus.query",
)
INERT = (
    f"{_METRIC}.provider.prometheus.timeout",
    f"{_METRIC}.provider.prometheus.insecure",
)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_ARG = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")


def duration_s(text: Any) -> float:
    """v1alpha1.DurationString.Duration (Go's time.ParseDuration): "30s", "1m30s", "500ms"."""
    s = str(text).strip()
    if s in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    while pos < len(s):
        m = _DURATION.match(s, pos)
        if m is None:
            raise ValueError(f"time: invalid duration {s!r}")
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return total


def int_value(value: Any) -> int:
    """intstr IntValue: an int, or a string holding one."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def arg_names(text: str) -> list[str]:
    """The ``{{args.name}}`` placeholders of ``text``."""
    return _ARG.findall(text)


def resolve(text: str, args: dict[str, str | None]) -> str:
    """templateutil.ResolveArgs: substitute ``{{args.name}}``; an arg without value is an error."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        value = args.get(name)
        if value is None:
            raise ValueError(f"failed to resolve {{{{args.{name}}}}}")
        return value

    return _ARG.sub(sub, text)


def metric_problems(metric: dict[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """ValidateMetric, plus what the simulator needs to run it: (field under the metric, message)."""
    out: list[tuple[tuple[str, ...], str]] = []

    def number(key: str, default: int) -> int | None:
        if key not in metric:
            return default
        try:
            return int_value(metric[key])
        except (TypeError, ValueError):
            out.append(
                ((key,), f"must be an integer (got {metric[key]!r}); arguments in limits are not modeled")
            )
            return None

    count = number("count", 0)
    failure_limit = number("failureLimit", 0)
    inconclusive_limit = number("inconclusiveLimit", 0)
    error_limit = number("consecutiveErrorLimit", DEFAULT_CONSECUTIVE_ERROR_LIMIT)
    if failure_limit is not None and failure_limit < -1:
        out.append((("failureLimit",), "failureLimit must be >= 0, or -1 to be disabled"))
    if failure_limit == -1:  # consecutiveSuccessLimit is not modelled, so it is 0
        out.append((("failureLimit",), "failureLimit and consecutiveSuccessLimit cannot both be disabled"))
    if inconclusive_limit is not None and inconclusive_limit < 0:
        out.append((("inconclusiveLimit",), "inconclusiveLimit must be >= 0"))
    if error_limit is not None and error_limit < 0:
        out.append((("consecutiveErrorLimit",), "consecutiveErrorLimit must be >= 0"))
    if count and count > 0:
        if failure_limit is not None and failure_limit >= 0 and count < failure_limit:
            out.append(
                (
                    ("count",),
                    f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                    f"({failure_limit} + 0) if both >= 0",
                )
            )
        if inconclusive_limit is not None and count < inconclusive_limit:
            out.append((("count",), "count must be >= inconclusiveLimit"))
    if count and count > 1 and not metric.get("interval"):
        out.append((("interval",), "interval must be specified when count > 1"))
    for key, word in (("interval", "interval"), ("initialDelay", "startDelay")):
        if metric.get(key):
            try:
                duration_s(metric[key])
            except ValueError as e:
                out.append(((key,), f"invalid {word} string: {e}"))
    prometheus = (metric.get("provider") or {}).get("prometheus")
    if not prometheus:
        out.append(
            (("provider",), "a metric needs provider.prometheus (the only provider the simulator models)")
        )
    elif not str(prometheus.get("query") or "").strip():
        out.append((("provider", "prometheus", "query"), "the prometheus provider needs a query"))
    for key in ("successCondition", "failureCondition"):
        if key in metric:
            try:
                expr.compile_condition(str(metric[key]))
            except expr.ExprError as e:
                out.append(((key,), f"{e} (sim/expr.py documents the supported subset of expr-lang)"))
    return out


def _validate(doc: yamlfile.Document) -> list[errors.Problem]:
    """ValidateMetrics on an AnalysisTemplate or ClusterAnalysisTemplate, and its arguments."""
    spec = doc.data.get("spec") or {}
    metrics = spec.get("metrics") or []
    problems: list[errors.Problem] = []

    def problem(path: tuple[str | int, ...], message: str) -> None:
        problems.append(
            errors.Problem(doc.file, message, field=yamlfile.dotted(path), line=doc.line_of(path))
        )

    if not metrics:
        problem(("spec", "metrics"), "no metrics specified")
    declared = {str(a.get("name")) for a in spec.get("args") or []}
    seen: set[str] = set()
    for i, metric in enumerate(metrics):
        base: tuple[str | int, ...] = ("spec", "metrics", i)
        name = str(metric.get("name") or "")
        if not name:
            problem((*base, "name"), "a metric needs a name")
        elif name in seen:
            problem((*base, "name"), f"metrics[{i}]: duplicate name '{name}'")
        seen.add(name)
        for sub, message in metric_problems(metric):
            problem((*base, *sub), message)
        query = str(((metric.get("provider") or {}).get("prometheus") or {}).get("query") or "")
        for arg in arg_names(query):
            if arg not in declared:
                problem(
                    (*base, "provider", "prometheus", "query"),
                    f"{{{{args.{arg}}}}} is not declared in spec.args",
                )
    return problems


def _kind(key: tuple[str, str], namespaced: bool) -> controller.Kind:
    return controller.Kind(
        *key,
        fields=FIELDS,
        inert=INERT,
        namespaced=namespaced,
        new=lambda meta, spec: store.Generic(*key, meta, spec),
        validate=_validate,
    )


TEMPLATE_KIND = _kind(ANALYSIS_TEMPLATE, namespaced=True)
CLUSTER_TEMPLATE_KIND = _kind(CLUSTER_ANALYSIS_TEMPLATE, namespaced=False)
