"""The Argo Rollout kind: the fields the simulator models, their defaults, and their checks.

Upstream: argoproj/argo-rollouts v1.9.1 pkg/apis/rollouts/v1alpha1/types.go (RolloutSpec,
CanaryStrategy, CanaryStep, RolloutPause, RolloutAnalysis, AnalysisRunArgument),
pkg/apis/rollouts/validation/validation.go (ValidateRolloutStrategyCanary: setWeight within
0-100, one action per step, maxSurge and maxUnavailable not both 0, canaryService and
stableService different, the selector matching the template's labels),
utils/defaults/defaults.go (maxSurge and maxUnavailable default to "25%", replicas to 1,
revisionHistoryLimit to 10) and docs/features/canary/index.md. Everything else of a Rollout
(trafficRouting, workloadRef, blueGreen, experiment, setCanaryScale, header and mirror routes,
plugins, scaleDownDelaySeconds, ...) is not modelled and is an error naming the field.
"""

from __future__ import annotations

from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import analysisspec, controller

API_VERSION = "argoproj.io/v1alpha1"
ROLLOUT = (API_VERSION, "Rollout")
#: v1alpha1.DefaultRolloutUniqueLabelKey: the label on a Rollout's ReplicaSets, pods and Services
HASH_LABEL = "rollouts-pod-template-hash"
#: annotations.RevisionAnnotation
REVISION = "rollout.argoproj.io/revision"
DEFAULT_SURGE = DEFAULT_UNAVAILABLE = "25%"

_CANARY = "spec.strategy.canary"
_ANALYSIS = (
    "templates[*].templateName",
    "templates[*].clusterScope",
    "args[*].name",
    "args[*].value",
    "args[*].valueFrom.podTemplateHashValue",
)
FIELDS = (
    *controller.META_FIELDS,
    "spec.replicas",
    "spec.selector.matchLabels.*",
    "spec.minReadySeconds",
    "spec.revisionHistoryLimit",
    "spec.paused",
    "spec.template.metadata.labels.*",
    "spec.template.metadata.annotations.*",
    f"spec.template.spec.{controller.POD_SPEC}",
    f"{_CANARY}.canaryService",
    f"{_CANARY}.stableService",
    f"{_CANARY}.maxSurge",
    f"{_CANARY}.maxUnavailable",
    f"{_CANARY}.steps[*].setWeight",
    f"{_CANARY}.steps[*].pause",
    f"{_CANARY}.steps[*].pause.duration",
    *(f"{_CANARY}.steps[*].analysis.{f}" for f in _ANALYSIS),
    *(f"{_CANARY}.analysis.{f}" for f in _ANALYSIS),
    f"{_CANARY}.analysis.startingStep",
)
STEP_ACTIONS = ("setWeight", "pause", "analysis")


def pause_duration_s(pause: dict[str, Any]) -> float | None:
    """RolloutPause.DurationSeconds: an int is seconds, a string a Go duration; None waits forever."""
    duration = (pause or {}).get("duration")
    if duration is None:
        return None
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        return float(duration)
    text = str(duration)
    return float(text) if text.isdigit() else analysisspec.duration_s(text)


def _analysis_problems(block: Any, base: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    out: list[tuple[tuple[str | int, ...], str]] = []
    if not isinstance(block, dict) or not block.get("templates"):
        return [(base, "an analysis needs at least one template (templates[].templateName)")]
    for i, arg in enumerate(block.get("args") or []):
        source = (arg.get("valueFrom") or {}).get("podTemplateHashValue")
        if source is not None and source not in ("Latest", "Stable"):
            out.append(
                (
                    (*base, "args", i, "valueFrom", "podTemplateHashValue"),
                    f"must be Latest or Stable (got {source!r})",
                )
            )
    return out


def validate(doc: yamlfile.Document) -> list[errors.Problem]:
    """ValidateRolloutStrategyCanary and what the simulator needs (the canary strategy)."""
    spec = doc.data.get("spec") or {}
    out: list[tuple[tuple[str | int, ...], str]] = []
    canary = (spec.get("strategy") or {}).get("canary")
    if not isinstance(canary, dict):
        out.append(
            (("spec", "strategy"), "strategy.canary is required (the simulator models the canary strategy)")
        )
        canary = {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    if not selector:
        out.append(
            (("spec", "selector"), "This rollout is selecting all pods. A non-empty selector is required.")
        )
    elif any(str(labels.get(k)) != str(v) for k, v in selector.items()):
        out.append((("spec", "selector"), "`selector` does not match template `labels`"))
    if spec.get("template", {}).get("spec", {}).get("restartPolicy", "Always") != "Always":
        out.append(
            (("spec", "template", "spec", "restartPolicy"), "a Rollout's pods must use restartPolicy Always")
        )
    surge, unavailable = (
        canary.get("maxSurge", DEFAULT_SURGE),
        canary.get("maxUnavailable", DEFAULT_UNAVAILABLE),
    )
    if str(surge).rstrip("%") in ("0", "0.0") and str(unavailable).rstrip("%") in ("0", "0.0"):
        out.append(
            (("spec", "strategy", "canary", "maxSurge"), "MaxSurge and MaxUnavailable both can not be zero")
        )
    if canary.get("canaryService") and canary.get("canaryService") == canary.get("stableService"):
        out.append(
            (
                ("spec", "strategy", "canary", "stableService"),
                "Invalid value: stable service and canary service must be different",
            )
        )
    for i, step in enumerate(canary.get("steps") or []):
        base: tuple[str | int, ...] = ("spec", "strategy", "canary", "steps", i)
        actions = [a for a in STEP_ACTIONS if a in (step or {})]
        if len(actions) != 1:
            out.append(
                (
                    base,
                    "Step must have one of the following set: setWeight, pause, analysis "
                    "(the ones the simulator models)",
                )
            )
            continue
        if "setWeight" in step:
            weight = step["setWeight"]
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
                out.append(((*base, "setWeight"), f"SetWeight must be between 0 and 100 (got {weight!r})"))
        if "pause" in step:
            try:
                duration = pause_duration_s(step["pause"] or {})
                if duration is not None and duration < 0:
                    out.append(((*base, "pause", "duration"), "Pause duration must be 0 or greater"))
            except (ValueError, TypeError) as e:
                out.append(((*base, "pause", "duration"), f"invalid pause duration: {e}"))
        if "analysis" in step:
            out.extend(_analysis_problems(step["analysis"], (*base, "analysis")))
    if "analysis" in canary:
        out.extend(_analysis_problems(canary["analysis"], ("spec", "strategy", "canary", "analysis")))
    return [
        errors.Problem(doc.file, message, field=yamlfile.dotted(path), line=doc.line_of(path))
        for path, message in out
    ]
