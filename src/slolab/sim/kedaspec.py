"""The ScaledObject kind (keda.sh/v1alpha1): its modelled fields and the checks made when applied.

Upstream: kedacore/keda v2.20.2 apis/keda/v1alpha1/scaledobject_types.go:100-182 (the spec, its
CRD bounds and the CEL rule minReplicaCount <= maxReplicaCount), :351-398
(CheckReplicaCountBoundsAreValid, CheckFallbackValid: a fallback needs at least one trigger that
is not cpu or memory; negative counts are refused), scaletriggers_types.go:53-86
(ValidateTriggers: unique trigger names, useCachedMetrics not for cpu/memory), and the
validating webhook scaledobject_webhook.go:153-627 that the keda chart installs (verifyName,
verifyFallback, verifyReplicaCount, verifyTriggers, scale-to-zero with only cpu/memory triggers,
ValidateAndCompileScalingModifiers). Its errors are what ``kubectl apply`` prints, so they are
raised when the workspace is applied, naming file, line and field.

Not modelled (refused, naming the field): KEDA's annotations other than the four pause ones
(force-activation, transfer-hpa-ownership, hpa-excluded-labels, ...), fallback.behavior
scalingModifiers, triggers' authenticationRef. The webhook's checks against stored objects
(another HPA or ScaledObject already scaling the workload) are ``admit``, which needs an
admission hook in the simulator's apply to run in order with the other documents; the check that
the target's containers declare a cpu/memory request is not made.
"""

from __future__ import annotations

from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import controller, kedaformula, kedascaler

API_VERSION = "keda.sh/v1alpha1"
WEBHOOK = 'admission webhook "vscaledobject.kb.io" denied the request: '
MAX_LABEL = 63
MODELLED_ANNOTATIONS = (
    "autoscaling.keda.sh/paused",
    "autoscaling.keda.sh/paused-replicas",
    "autoscaling.keda.sh/paused-scale-in",
    "autoscaling.keda.sh/paused-scale-out",
)
FALLBACK_BEHAVIORS = ("static", "currentReplicas", "currentReplicasIfHigher", "currentReplicasIfLower")
_RULES = (
    "stabilizationWindowSeconds",
    "selectPolicy",
    "policies[*].type",
    "policies[*].value",
    "policies[*].periodSeconds",
)

FIELDS = (
    *controller.META_FIELDS,
    "spec.scaleTargetRef.name",
    "spec.scaleTargetRef.apiVersion",
    "spec.scaleTargetRef.kind",
    "spec.pollingInterval",
    "spec.cooldownPeriod",
    "spec.initialCooldownPeriod",
    "spec.idleReplicaCount",
    "spec.minReplicaCount",
    "spec.maxReplicaCount",
    "spec.fallback.failureThreshold",
    "spec.fallback.replicas",
    "spec.fallback.behavior",
    "spec.advanced.horizontalPodAutoscalerConfig.name",
    "spec.advanced.restoreToOriginalReplicaCount",
    *(
        f"spec.advanced.horizontalPodAutoscalerConfig.behavior.{d}.{r}"
        for d in ("scaleUp", "scaleDown")
        for r in _RULES
    ),
    "spec.advanced.scalingModifiers.formula",
    "spec.advanced.scalingModifiers.target",
    "spec.advanced.scalingModifiers.activationTarget",
    "spec.advanced.scalingModifiers.metricType",
    "spec.triggers[*].type",
    "spec.triggers[*].name",
    "spec.triggers[*].metricType",
    "spec.triggers[*].useCachedMetrics",
    "spec.triggers[*].metadata",  # empty
    "spec.triggers[*].metadata.*",
)
#: only resolves environment variables for scalers that read them, which the modelled ones do not
INERT = ("spec.scaleTargetRef.envSourceContainerName",)
#: CRD minimums of the integer fields
MINIMUMS = {
    "pollingInterval": 1,
    "cooldownPeriod": 0,
    "initialCooldownPeriod": 0,
    "idleReplicaCount": 0,
    "minReplicaCount": 0,
    "maxReplicaCount": 1,
}


def hpa_name(name: str, spec: dict[str, Any]) -> str:
    """getHPAName: advanced.horizontalPodAutoscalerConfig.name, else keda-hpa-<name>."""
    config = (spec.get("advanced") or {}).get("horizontalPodAutoscalerConfig") or {}
    return config.get("name") or f"keda-hpa-{name}"


def hpa_min_replicas(spec: dict[str, Any]) -> int:
    """GetHPAMinReplicas: minReplicaCount when above 0, else 1."""
    n = spec.get("minReplicaCount")
    return n if isinstance(n, int) and n > 0 else 1


def validate(doc: yamlfile.Document) -> list[errors.Problem]:
    """The CRD schema's and the validating webhook's checks, every problem at once."""
    data = doc.data
    spec = data.get("spec") or {}
    problems: list[errors.Problem] = []

    def problem(path: tuple[str | int, ...], message: str, webhook: bool = True) -> None:
        text = (WEBHOOK + message) if webhook else message
        problems.append(errors.Problem(doc.file, text, yamlfile.dotted(path), doc.line_of(path)))

    meta = data.get("metadata") or {}
    for key in meta.get("annotations") or {}:
        if key in MODELLED_ANNOTATIONS:
            continue
        if key.startswith(("autoscaling.keda.sh/", "scaledobject.keda.sh/", "validations.keda.sh/")):
            problem(("metadata", "annotations", key), "is not modelled by the simulator", webhook=False)
    name = str(meta.get("name", ""))
    if not (spec.get("scaleTargetRef") or {}).get("name"):
        problem(("spec", "scaleTargetRef", "name"), "Required value", webhook=False)
    for key, least in MINIMUMS.items():
        if key in spec and (
            not isinstance(spec[key], int) or isinstance(spec[key], bool) or spec[key] < least
        ):
            problem(("spec", key), f"should be an integer greater than or equal to {least}", webhook=False)
    if problems:
        return problems
    if spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
        problem(
            ("spec", "minReplicaCount"),
            "minReplicaCount must be less than or equal to maxReplicaCount",
            False,
        )
    if len(name) > MAX_LABEL:
        problem(
            ("metadata", "name"),
            f'scaledobject name "{name}" is {len(name)} characters long; must be no more '
            f'than {MAX_LABEL} characters because it is used as the "scaledobject.keda.sh/name" label value',
        )
    hpa = hpa_name(name, spec)
    if len(hpa) > MAX_LABEL:
        problem(
            ("spec", "advanced"),
            f'HPA name "{hpa}" derived from scaledobject is {len(hpa)} characters long; '
            f"must be no more than {MAX_LABEL} characters",
        )
    _replica_bounds(spec, problem)
    trigs = spec.get("triggers") or []
    if not trigs:
        problem(("spec", "triggers"), "no triggers defined in the ScaledObject/ScaledJob")
        return problems
    parsed = []
    for i, raw in enumerate(trigs):
        if (raw or {}).get("authenticationRef") is not None:
            problem(
                ("spec", "triggers", i, "authenticationRef"),
                "is not modelled by the simulator",
                webhook=False,
            )
            continue
        trig, found = kedascaler.parse(doc, i)
        problems.extend(found)
        if trig is not None:
            parsed.append(trig)
    seen: set[str] = set()
    for trig in parsed:
        if trig.name and trig.name in seen:
            problem(
                ("spec", "triggers", trig.index, "name"),
                f'triggerName "{trig.name}" is defined multiple '
                "times in the ScaledObject/ScaledJob, but it must be unique",
            )
        seen.add(trig.name)
    types = [str((t or {}).get("type")) for t in trigs]
    resource_only = all(t in ("cpu", "memory") for t in types)
    if resource_only and not spec.get("minReplicaCount"):
        problem(
            ("spec", "minReplicaCount"),
            "scaledobject has only cpu/memory triggers AND minReplica is 0 "
            "(scale to zero doesn't work in this case)",
        )
    _check_fallback(spec, resource_only, problem)
    _check_modifiers(spec, parsed, problem)
    return problems


def _replica_bounds(spec: dict[str, Any], problem: Any) -> None:
    """CheckReplicaCountBoundsAreValid."""
    low = hpa_min_replicas(spec) if "minReplicaCount" in spec else 0
    high = spec.get("maxReplicaCount", 100)
    if low > high:
        problem(
            ("spec", "minReplicaCount"), f"MinReplicaCount={low} must be less than MaxReplicaCount={high}"
        )
    idle = spec.get("idleReplicaCount")
    if idle is not None and idle >= low:
        problem(
            ("spec", "idleReplicaCount"), f"IdleReplicaCount={idle} must be less than MinReplicaCount={low}"
        )


def _check_fallback(spec: dict[str, Any], resource_only: bool, problem: Any) -> None:
    fb = spec.get("fallback")
    if fb is None:
        return
    for key in ("failureThreshold", "replicas"):
        if not isinstance(fb.get(key), int) or isinstance(fb.get(key), bool):
            problem(("spec", "fallback", key), "Required value (an integer)", webhook=False)
            return
    behavior = fb.get("behavior", "static")
    if behavior == "scalingModifiers":
        problem(
            ("spec", "fallback", "behavior"),
            "behavior scalingModifiers is not modelled by the simulator",
            False,
        )
    elif behavior not in FALLBACK_BEHAVIORS:
        problem(
            ("spec", "fallback", "behavior"),
            f"Unsupported value: {behavior!r}: supported values: "
            + ", ".join(f'"{b}"' for b in (*FALLBACK_BEHAVIORS, "scalingModifiers")),
            webhook=False,
        )
    if fb["failureThreshold"] < 0 or fb["replicas"] < 0:
        problem(
            ("spec", "fallback"),
            f"FailureThreshold={fb['failureThreshold']} & Replicas={fb['replicas']} "
            "must both be greater than or equal to 0",
        )
    elif resource_only and not (spec.get("advanced") or {}).get("scalingModifiers"):
        problem(
            ("spec", "fallback"),
            "at least one trigger (that is not cpu or memory) has to have the "
            "`AverageValue` type for the fallback to be enabled",
        )


def _check_modifiers(spec: dict[str, Any], parsed: list[kedascaler.Trigger], problem: Any) -> None:
    """ValidateAndCompileScalingModifiers."""
    sm = (spec.get("advanced") or {}).get("scalingModifiers") or {}
    if not any(sm.get(k) for k in ("formula", "target", "activationTarget", "metricType")):
        return
    path = ("spec", "advanced", "scalingModifiers")
    formula, target = str(sm.get("formula") or ""), str(sm.get("target") or "")
    if not formula:
        problem((*path, "formula"), "error ScalingModifiers.Formula is mandatory")
        return
    if not target:
        problem(
            (*path, "target"),
            "error validating formula in ScalingModifiers\nformula is given but target is empty",
        )
        return
    names = {t.name for t in parsed if t.external and t.name}
    try:
        kedaformula.compile_formula(formula, names)
    except kedaformula.FormulaError as exc:
        problem((*path, "formula"), f"error validating formula in ScalingModifiers\n{exc}")
    try:
        ok = float(target) > 0
    except ValueError:
        ok = False
    if not ok:
        problem(
            (*path, "target"),
            "error validating target in ScalingModifiers\nerror converting target for "
            f"scalingModifiers (string->float) to valid target: {target!r}",
        )
    metric_type = sm.get("metricType") or "AverageValue"
    if metric_type not in ("AverageValue", "Value"):
        problem(
            (*path, "metricType"),
            f'Unsupported value: "{metric_type}": supported values: "AverageValue", "Value"',
            webhook=False,
        )
    if sm.get("activationTarget"):
        try:
            float(str(sm["activationTarget"]))
        except ValueError:
            problem(
                (*path, "activationTarget"), "scalingModifiers.ActivationTarget parsing error", webhook=False
            )


def admit(st: Any, namespace: str, doc: yamlfile.Document) -> list[errors.Problem]:
    """The webhook's checks against the objects already stored, as ``kubectl apply`` meets them
    in order (scaledobject_webhook.go:256-426): another HPA, or another ScaledObject, already
    scaling the same workload, or another ScaledObject's HPA of the same name."""
    data = doc.data
    name = str((data.get("metadata") or {}).get("name", ""))
    spec = data.get("spec") or {}
    ref = spec.get("scaleTargetRef") or {}
    api_version, kind = ref.get("apiVersion") or "apps/v1", ref.get("kind") or "Deployment"
    gvk = f"{api_version.rpartition('/')[0]}/{api_version.rpartition('/')[2]}.{kind}"
    target = ref.get("name")
    problems: list[errors.Problem] = []

    def problem(path: tuple[str | int, ...], message: str) -> None:
        problems.append(errors.Problem(doc.file, WEBHOOK + message, yamlfile.dotted(path), doc.line_of(path)))

    for other in st.list("autoscaling/v2", "HorizontalPodAutoscaler", namespace):
        if other.meta.annotations.get("validations.keda.sh/hpa-ownership") == "false":
            continue
        oref = other.spec.get("scaleTargetRef") or {}
        same = (oref.get("apiVersion") or "apps/v1", oref.get("kind") or "Deployment", oref.get("name")) == (
            api_version,
            kind,
            target,
        )
        owned = any(r.kind == "ScaledObject" and r.name == name for r in other.meta.owner_references)
        if same and not owned:
            problem(
                ("spec", "scaleTargetRef"),
                f"the workload '{target}' of type '{gvk}' is already managed by the hpa '{other.meta.name}'",
            )
    for other in st.list(API_VERSION, "ScaledObject", namespace):
        if other.meta.name == name:
            continue
        oref = other.spec.get("scaleTargetRef") or {}
        okey = (oref.get("apiVersion") or "apps/v1", oref.get("kind") or "Deployment", oref.get("name"))
        if okey == (api_version, kind, target):
            problem(
                ("spec", "scaleTargetRef"),
                f"the workload '{target}' of type '{gvk}' is already managed by the ScaledObject "
                f"'{other.meta.name}'",
            )
        elif hpa_name(other.meta.name, other.spec) == hpa_name(name, spec):
            problem(
                ("spec", "advanced", "horizontalPodAutoscalerConfig", "name"),
                f"the HPA '{hpa_name(name, spec)}' is already managed by the ScaledObject "
                f"'{other.meta.name}'",
            )
    return problems


def warnings(spec: dict[str, Any]) -> list[str]:
    """verifyScaledObjects' warnings (recorded as KEDAScalerInfo events)."""
    low = spec.get("minReplicaCount", 0)
    idle_not_zero = spec.get("idleReplicaCount") is None or spec.get("idleReplicaCount") != 0
    cached = any((t or {}).get("useCachedMetrics") for t in spec.get("triggers") or [])
    out = []
    if "pollingInterval" in spec and low > 0 and idle_not_zero and not cached:
        out.append(
            "PollingInterval is configured but is not relevant. PollingInterval is only relevant when "
            "minReplicaCount = 0 or idleReplicaCount = 0 or useCachedMetrics is enabled"
        )
    if "cooldownPeriod" in spec and low > 0 and idle_not_zero:
        out.append(
            "CooldownPeriod is configured but is not relevant. CooldownPeriod is only relevant when "
            "minReplicaCount = 0 or idleReplicaCount = 0"
        )
    return out
