"""Horizontal Pod Autoscaler (autoscaling/v2): the kind and the controller's sync loop.

Upstream: kubernetes v1.35 pkg/controller/podautoscaler/horizontal.go (``Run``,
``enqueueHPA``, ``processNextWorkItem``, ``reconcileKey``, ``reconcileAutoscaler``,
``setStatus``, ``setCondition``), rate_limiters.go (``NewDefaultHPARateLimiter``: every HPA is
queued again one resync period after it was processed, and first one period after it was
added), and pkg/apis/autoscaling/v2/defaults.go (minReplicas 1; no metrics: CPU at 80 %
utilization; behavior filled in when set). The metric step is ``hpa_metrics`` (with the replica
calculator ``hpa_replicas``), the normalisation ``hpa_behavior``, the API's validation
``hpa_validation``.

Modelled: ``--horizontal-pod-autoscaler-sync-period`` 15 s, each HPA on its own phase; the
target through the scale subresource of any kind registered with ``scale=True`` (Deployment
now), found by group and kind as the RESTMapper does; target replicas 0 disables scaling;
replicas outside min/max are brought back first; ``validateAndParseSelector`` (no selector:
SelectorRequired; pods selected by two HPAs' selectors: AmbiguousSelector, and neither scales);
when every metric fails (or some fail and the rest would scale down) the sync stops with
FailedComputeMetricsReplicas, keeping desiredReplicas; status currentReplicas, desiredReplicas,
currentMetrics, lastScaleTime and the conditions AbleToScale, ScalingActive, ScalingLimited with
upstream's reasons and messages (lastTransitionTime moves only when the status flips); events
SuccessfulRescale ("New size: N; reason: ..."), FailedGetScale, FailedComputeMetricsReplicas
and the per-metric ones of ``hpa_metrics``, as ``kubectl describe hpa`` shows them; per-HPA
tolerances (``behavior.scale{Up,Down}.tolerance``, feature HPAConfigurableTolerance, beta and on
in v1.35), else the controller's 10 %. Not modelled: a failing scale update (the simulated
API never refuses it), the controller's own metrics (monitor/), scaling to zero
(HPAScaleToZero, alpha, off).

Upstream functions are cited by name, without line numbers: the v1.35.0 tree could not be
fetched whole here, so they were read from indexed copies of those files (a horizontal.go with
``validateAndParseSelector``, a replica_calculator.go with ``Tolerances``) and may differ from
the tag in details not described above.
"""

from __future__ import annotations

import copy
from typing import Any

from slolab.run import timeline
from slolab.sim import (
    controller,
    hpa_behavior,
    hpa_metrics,
    hpa_replicas,
    hpa_validation,
    objects,
    quantity,
    store,
)

HPA = ("autoscaling/v2", "HorizontalPodAutoscaler")

_SELECTOR = (
    "selector.matchLabels.*",
    "selector.matchExpressions[*].key",
    "selector.matchExpressions[*].operator",
    "selector.matchExpressions[*].values[*]",
)
_TARGET = ("target.type", "target.averageUtilization", "target.averageValue", "target.value")
_RULES = (
    "stabilizationWindowSeconds",
    "selectPolicy",
    "tolerance",
    "policies[*].type",
    "policies[*].value",
    "policies[*].periodSeconds",
)

FIELDS = (
    *controller.META_FIELDS,
    "spec.scaleTargetRef.apiVersion",
    "spec.scaleTargetRef.kind",
    "spec.scaleTargetRef.name",
    "spec.minReplicas",
    "spec.maxReplicas",
    "spec.metrics[*].type",
    "spec.metrics[*].resource.name",
    *(f"spec.metrics[*].resource.{f}" for f in _TARGET),
    "spec.metrics[*].containerResource.name",
    "spec.metrics[*].containerResource.container",
    *(f"spec.metrics[*].containerResource.{f}" for f in _TARGET),
    "spec.metrics[*].pods.metric.name",
    *(f"spec.metrics[*].pods.metric.{f}" for f in _SELECTOR),
    *(f"spec.metrics[*].pods.{f}" for f in _TARGET),
    "spec.metrics[*].object.describedObject.apiVersion",
    "spec.metrics[*].object.describedObject.kind",
    "spec.metrics[*].object.describedObject.name",
    "spec.metrics[*].object.metric.name",
    *(f"spec.metrics[*].object.metric.{f}" for f in _SELECTOR),
    *(f"spec.metrics[*].object.{f}" for f in _TARGET),
    "spec.metrics[*].external.metric.name",
    *(f"spec.metrics[*].external.metric.{f}" for f in _SELECTOR),
    *(f"spec.metrics[*].external.{f}" for f in _TARGET),
    *(f"spec.behavior.{d}.{f}" for d in ("scaleUp", "scaleDown") for f in _RULES),
)

SYNC_PERIOD_S = 15.0
DEFAULT_CPU_UTILIZATION = 80

# Event reasons (pkg/controller/podautoscaler/horizontal.go)
SUCCESSFUL_RESCALE = "SuccessfulRescale"
FAILED_GET_SCALE = "FailedGetScale"
FAILED_COMPUTE_METRICS_REPLICAS = "FailedComputeMetricsReplicas"
SELECTOR_REQUIRED = "SelectorRequired"
AMBIGUOUS_SELECTOR = "AmbiguousSelector"


def defaulted(spec: dict[str, Any]) -> dict[str, Any]:
    """``SetDefaults_HorizontalPodAutoscaler``: the spec the API server stores for ``spec``."""
    out = copy.deepcopy(spec)
    out.setdefault("minReplicas", 1)
    if not out.get("metrics"):
        out["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION},
                },
            }
        ]
    behavior = hpa_behavior.defaulted_behavior(out.get("behavior"))
    if behavior is not None:
        out["behavior"] = behavior
    return out


def new(meta: store.Meta, spec: dict[str, Any]) -> store.Generic:
    """The stored HorizontalPodAutoscaler of an applied (or a KEDA-made) spec, defaulted."""
    return store.Generic(*HPA, meta, defaulted(spec))


KIND = controller.Kind(*HPA, fields=FIELDS, new=new, validate=hpa_validation.validate)


Key = str  # the HPA's uid: a deleted and re-created HPA starts over, as reconcileKey's NotFound does


def tolerances(spec: dict[str, Any]) -> hpa_replicas.Tolerances:
    """``tolerancesForHpa``: behavior.scale{Up,Down}.tolerance, else the controller's 10 %."""
    behavior = spec.get("behavior") or {}
    out = {}
    for direction, name in (("scaleDown", "scale_down"), ("scaleUp", "scale_up")):
        value = (behavior.get(direction) or {}).get("tolerance")
        out[name] = float(quantity.parse(value)) if value is not None else hpa_replicas.DEFAULT_TOLERANCE
    return hpa_replicas.Tolerances(**out)


class Controller(controller.Controller):
    """The horizontal-pod-autoscaler controller: each HPA once per sync period, on its own phase."""

    name = "horizontal-pod-autoscaler"
    owns = (KIND,)
    watches = (HPA,)

    def __init__(self, api: controller.API, sync_period_s: float = SYNC_PERIOD_S) -> None:
        super().__init__(api)
        self.sync_period_s = sync_period_s
        self.calculator = hpa_replicas.Calculator(api)
        self.metrics_step = hpa_metrics.MetricsStep(api, self.calculator)
        self.states: dict[Key, hpa_behavior.State] = {}
        self.due_s: dict[Key, float] = {}
        self._timers: set[float] = set()
        #: hpaSelectors: each HPA's last scale selector by namespace/name (None until it synced)
        self.selectors: dict[tuple[str, str], dict[str, Any] | None] = {}

    # ---- the work queue -----------------------------------------------------------------------
    def reconcile(self) -> bool:
        now = self.api.now_s
        changed = False
        live: set[Key] = set()
        names = set()
        for hpa in self.api.store.list(*HPA):
            key = hpa.meta.uid
            live.add(key)
            names.add((hpa.meta.namespace, hpa.meta.name))
            self.selectors.setdefault((hpa.meta.namespace, hpa.meta.name), None)  # enqueueHPA: Nothing
            due = self.due_s.setdefault(key, hpa.meta.creation_s + self.sync_period_s)
            if due <= now + 1e-6:
                self.due_s[key] = now + self.sync_period_s
                changed |= self.reconcile_autoscaler(hpa, key)
        for key in [k for k in self.due_s if k not in live]:
            del self.due_s[key]
            self.states.pop(key, None)
        for gone in [k for k in self.selectors if k not in names]:
            del self.selectors[gone]  # deleteHPA
        self._timers = {t for t in self._timers if t > now}
        for due in set(self.due_s.values()) - self._timers:
            self._timers.add(due)
            self.api.requeue_at(self, due)
        return changed

    # ---- reconcileAutoscaler ------------------------------------------------------------------
    def reconcile_autoscaler(self, hpa: store.Generic, key: Key) -> bool:
        now = self.api.now_s
        spec = defaulted(hpa.spec)  # objects a controller made (KEDA's) may come undefaulted
        original = copy.deepcopy(hpa.status)
        conditions = copy.deepcopy(hpa.status.get("conditions") or [])
        ref = spec.get("scaleTargetRef") or {}
        name = hpa.meta.name
        target, error = self._target(ref, hpa.meta.namespace)
        if target is None:
            self.api.record(HPA[1], name, FAILED_GET_SCALE, error, timeline.WARNING)
            _set(
                conditions,
                "AbleToScale",
                "False",
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: {error}",
                now,
            )
            return self._write(hpa, original, {**hpa.status, "conditions": conditions})
        _set(
            conditions,
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
            now,
        )
        scale = self._scale(target)
        current = scale.spec_replicas
        state = self.states.setdefault(key, hpa_behavior.State())
        state.record_initial(current, now)
        min_replicas, max_replicas = int(spec["minReplicas"]), int(spec["maxReplicas"])
        behavior = spec.get("behavior")
        statuses: list[dict[str, Any]] = []
        desired, reason, rescale = 0, "", True
        if current == 0 and min_replicas != 0:
            rescale = False
            _set(
                conditions,
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
                now,
            )
        elif current > max_replicas:
            desired, reason = max_replicas, "Current number of replicas above Spec.MaxReplicas"
        elif current < min_replicas:
            desired, reason = min_replicas, "Current number of replicas below Spec.MinReplicas"
        else:
            result = self._metrics(hpa, scale, spec, conditions, now)
            if result.error is not None:
                old = hpa.status  # setCurrentReplicasAndMetricsInStatus: desiredReplicas stays
                new_status = _status(
                    current,
                    old.get("desiredReplicas", 0),
                    old.get("lastScaleTime"),
                    result.statuses,
                    conditions,
                )
                changed = self._write(hpa, original, new_status)
                self.api.record(HPA[1], name, FAILED_COMPUTE_METRICS_REPLICAS, result.error, timeline.WARNING)
                return changed
            statuses = result.statuses
            desired = result.replicas
            if desired > current:
                reason = f"{result.metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            if behavior is None:
                limited = state.normalize(current, desired, min_replicas, max_replicas, now)
            else:
                limited = state.normalize_with_behaviors(
                    behavior, current, desired, min_replicas, max_replicas, now
                )
            _set(conditions, "AbleToScale", "True", *limited.able_to_scale, now)
            flag, limit_reason, limit_message = limited.scaling_limited
            _set(conditions, "ScalingLimited", "True" if flag else "False", limit_reason, limit_message, now)
            desired = limited.replicas
            rescale = desired != current
        if rescale:
            self.api.store.scale(target, desired)
            _set(
                conditions,
                "AbleToScale",
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
                now,
            )
            self.api.record(
                HPA[1],
                name,
                SUCCESSFUL_RESCALE,
                f"New size: {desired}; reason: {reason}",
                replicas=desired,
                previous=current,
            )
            state.store_scale_event(behavior, current, desired, now)
        else:
            desired = current
        last_scale = objects.timestamp(now) if rescale else hpa.status.get("lastScaleTime")
        new_status = _status(current, desired, last_scale, statuses, conditions)
        return self._write(hpa, original, new_status) or rescale

    def _metrics(
        self,
        hpa: store.Generic,
        scale: hpa_metrics.Scale,
        spec: dict[str, Any],
        conditions: list[dict[str, Any]],
        now_s: float,
    ) -> hpa_metrics.Result:
        """``computeReplicasForMetrics`` with ``validateAndParseSelector`` and its condition."""
        error = self._selector_error(hpa, scale, conditions, now_s)
        if error is not None:
            return hpa_metrics.Result(error=error)
        result = self.metrics_step.compute(hpa, scale, spec["metrics"], tolerances(spec))
        assert result.condition is not None
        c = result.condition
        _set(conditions, c.type, c.status, c.reason, c.message, now_s)
        return result

    def _selector_error(
        self, hpa: store.Generic, scale: hpa_metrics.Scale, conditions: list[dict[str, Any]], now_s: float
    ) -> str | None:
        """``validateAndParseSelector``: a selector, and no pod of it under two HPAs' selectors."""
        name, namespace = hpa.meta.name, hpa.meta.namespace
        if not scale.selector:
            message = "selector is required"
            self.api.record(HPA[1], name, SELECTOR_REQUIRED, message, timeline.WARNING)
            _set(
                conditions,
                "ScalingActive",
                "False",
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
                now_s,
            )
            return message
        self.selectors[(namespace, name)] = scale.selector
        pods = self.calculator.pods(namespace, scale.selector)
        selecting = sorted(
            f"{ns}/{n}"
            for (ns, n), selector in self.selectors.items()
            if selector
            and ns == namespace
            and any(controller.labels_selected(selector, p.labels) for p in pods)
        )
        if len(selecting) <= 1:
            return None
        text = ",".join(f"{k}={v}" for k, v in sorted((scale.selector.get("matchLabels") or {}).items()))
        message = f"pods by selector {text} are controlled by multiple HPAs: [{' '.join(selecting)}]"
        self.api.record(HPA[1], name, AMBIGUOUS_SELECTOR, message, timeline.WARNING)
        _set(conditions, "ScalingActive", "False", "AmbiguousSelector", message, now_s)
        return message

    # ---- the scale subresource ----------------------------------------------------------------
    def _target(self, ref: dict[str, Any], namespace: str) -> tuple[Any, str]:
        """The object behind scaleTargetRef, or None and the error the API would give."""
        api_version, kind, name = ref.get("apiVersion") or "", ref.get("kind") or "", ref.get("name") or ""
        if api_version.count("/") > 1:
            return None, f"unexpected GroupVersion string: {api_version}"
        group = api_version.split("/")[0] if "/" in api_version else ""
        matches = [k for k in _kinds() if k.kind == kind and _group(k.api_version) == group]
        if not matches:
            return None, f'no matches for kind "{kind}" in group "{group}"'
        k = matches[0]
        if not k.scale:
            return None, "the server could not find the requested resource"
        obj = self.api.store.get(k.api_version, k.kind, name, namespace if k.namespaced else "")
        if obj is None:
            resource = f"{kind.lower()}s" + (f".{group}" if group else "")
            return None, f'{resource} "{name}" not found'
        return obj, ""

    def _scale(self, target: Any) -> hpa_metrics.Scale:
        status = target.to_api(self.api.now_s, self.api.store).get("status") or {}
        selector = (target.spec.get("selector") or {}) if isinstance(target.spec, dict) else {}
        return hpa_metrics.Scale(
            spec_replicas=int(target.spec.get("replicas", 1)),
            status_replicas=int(status.get("replicas") or 0),
            selector=selector,
        )

    def _write(self, hpa: store.Generic, original: dict[str, Any], status: dict[str, Any]) -> bool:
        """``updateStatusIfNeeded``."""
        if status == original:
            return False
        hpa.status = status
        self.api.store.update(hpa)
        return True


def _status(
    current: int,
    desired: int,
    last_scale_time: str | None,
    metrics: list[dict[str, Any]] | None,
    conditions: list[dict[str, Any]],
) -> dict[str, Any]:
    """``setStatus``, serialised as the API does: currentReplicas and lastScaleTime are omitted
    when empty, desiredReplicas never is."""
    out: dict[str, Any] = {}
    if last_scale_time is not None:
        out["lastScaleTime"] = last_scale_time
    if current:
        out["currentReplicas"] = current
    out["desiredReplicas"] = desired
    if metrics:
        out["currentMetrics"] = metrics
    out["conditions"] = conditions
    return out


def _set(
    conditions: list[dict[str, Any]], type_: str, status: str, reason: str, message: str, now_s: float
) -> None:
    """``setConditionInList``: lastTransitionTime moves only when the status changes."""
    existing = next((c for c in conditions if c["type"] == type_), None)
    if existing is None:
        existing = {"type": type_, "status": ""}
        conditions.append(existing)
    if existing["status"] != status:
        existing["lastTransitionTime"] = objects.timestamp(now_s)
    existing.update(status=status, reason=reason, message=message)


def _group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def _kinds() -> list[controller.Kind]:
    # registry imports this module, so the kinds are looked up when a sync needs them
    from slolab.sim import registry

    return list(registry.kinds().values())
