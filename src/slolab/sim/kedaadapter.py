"""KEDA's scale handler on the simulator: each ScaledObject's scalers, the state its scale loop
reads, fallback, and the external metrics API the HPA reads (KEDA's metrics adapter).

Upstream: kedacore/keda v2.20.2
- pkg/scaling/scale_handler.go:585-779 (GetScaledObjectMetrics: what the HPA's query of
  ``s<i>-prometheus`` runs, through pkg/provider/provider.go:75-111 and
  pkg/metricsservice/server.go:48-60: the ScaledObject named by the selector's
  ``scaledobject.keda.sh/name``, its trigger's query run now, from a poll's record only with
  ``useCachedMetrics``; a failing trigger without an active fallback is the error
  "metric:<name> encountered error"), :803-924 (getScaledObjectState: every trigger queried each
  poll; active when any trigger is; with scalingModifiers the composite value against
  activationTarget decides; only cpu/memory triggers: always active), :930-1045 (getScalerState:
  a failing trigger records KEDAScalerFailed, or KEDAMetricSourceFailed with a formula);
  :533-553 and :875-883 (any scaler error clears the scalers cache, and the next use rebuilds it,
  recording "Scaler <type> is built", scalers_builder.go:109-110);
- pkg/scaling/cache/scalers_cache.go:218-248 (a failed query is retried once with a rebuilt
  scaler; at one virtual instant the retry gives the same answer, so it is not repeated here);
- pkg/fallback/fallback.go:115-196 and :243-318 (GetMetricsWithFallback: health is counted only
  with a valid fallback; a success resets numberOfFailures to 0 (Happy), a failure adds one
  (Failing); past failureThreshold the trigger returns fallback.replicas × its target (divided
  by the ready pods for a Value target), so the HPA lands on fallback.replicas; the Fallback
  condition is True while any trigger is past its threshold);
- pkg/scaling/modifiers/formula.go:45-166 (the composite metric from the formula, or from the
  fallback value while fallback is active).

Simplification: upstream the adapter path counts failures on the scalers cache's copy of the
ScaledObject and the poll on a fresh read, so their counts can interleave oddly; here both count
on the stored status. Repeats of an identical event are recorded once until the ScaledObject's
next error-free poll (the event recorder folds repeats into a count).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any

from slolab.catalog import yamlfile
from slolab.run import timeline
from slolab.sim import controller, kedaformula, kedascaler, metricsapi, store

API_VERSION = "keda.sh/v1alpha1"
KIND = "ScaledObject"
OWNER_LABEL = "scaledobject.keda.sh/name"
COMPOSITE = "composite-metric"
CONDITIONS = ("Ready", "Active", "Fallback", "Paused")


# ---- conditions (apis/keda/v1alpha1/condition_types.go:140-272) --------------------------------
def get_condition(so: store.Generic, type_: str) -> dict[str, Any]:
    for c in so.status.get("conditions") or []:
        if c["type"] == type_:
            return c
    return {"type": type_, "status": "Unknown"}


def set_condition(so: store.Generic, type_: str, status: str, reason: str = "", message: str = "") -> None:
    conds = so.status.setdefault("conditions", initial_conditions())
    new = {"type": type_, "status": status, "reason": reason, "message": message}
    for i, c in enumerate(conds):
        if c["type"] == type_:
            conds[i] = new
            return
    conds.append(new)


def initial_conditions() -> list[dict[str, Any]]:
    """GetInitializedConditions: Paused False, the rest Unknown."""
    return [{"type": t, "status": "False" if t == "Paused" else "Unknown"} for t in CONDITIONS]


# ---- the spec, as the API types read it ----------------------------------------------------------
def modifiers(so: store.Generic) -> dict[str, Any]:
    return ((so.spec.get("advanced") or {}).get("scalingModifiers")) or {}


def using_modifiers(so: store.Generic) -> bool:
    """IsUsingModifiers."""
    return any(modifiers(so).get(k) for k in ("formula", "target", "activationTarget", "metricType"))


def valid_fallback(so: store.Generic) -> bool:
    """isFallbackEnabled && HasValidFallback (a modifiers target must be a positive integer)."""
    fb = so.spec.get("fallback")
    if fb is None:
        return False
    ok = True
    if using_modifiers(so):
        target = str(modifiers(so).get("target", ""))
        ok = target.lstrip("+-").isdigit() and int(target) > 0
    return int(fb.get("failureThreshold", 0)) >= 0 and int(fb.get("replicas", 0)) >= 0 and ok


def triggers(so: store.Generic) -> list[kedascaler.Trigger]:
    """The parsed triggers (checked when applied, so parsing cannot fail here)."""
    doc = yamlfile.Document(data={"spec": so.spec}, file="(cluster)", lines={})
    out = []
    for i in range(len(so.spec.get("triggers") or [])):
        trig, problems = kedascaler.parse(doc, i)
        assert trig is not None, problems
        out.append(trig)
    return out


@dataclasses.dataclass
class Scalers:
    """One entry of the scalers cache."""

    generation: int
    triggers: list[kedascaler.Trigger]
    formula: kedaformula.Formula | None


@dataclasses.dataclass
class State:
    """getScaledObjectState's answer."""

    is_active: bool
    is_error: bool
    active_triggers: list[str]
    fallback_active: bool


Outcome = tuple[list[float] | None, bool, str | None]  # (values, active, error)


class Handler:
    """The scale handler of one simulated KEDA operator; also its external metrics API."""

    def __init__(self, api: controller.API) -> None:
        self.api = api
        self._cache: dict[str, Scalers] = {}
        self._records: dict[tuple[str, str], Outcome] = {}  # useCachedMetrics
        self._noted: dict[tuple[str, str], str] = {}

    # ---- events ---------------------------------------------------------------------------------
    def note(self, so: store.Generic, reason: str, message: str, type_: str = timeline.NORMAL) -> None:
        key = (so.meta.uid, reason)
        if self._noted.get(key) == message:
            return
        self._noted[key] = message
        self.api.record(KIND, so.meta.name, reason, message, type_)

    def forget(self, so: store.Generic) -> None:
        for key in [k for k in self._noted if k[0] == so.meta.uid]:
            del self._noted[key]

    # ---- the scalers cache ----------------------------------------------------------------------
    def scalers(self, so: store.Generic) -> Scalers:
        """GetScalersCache: built again when the generation moved or an error cleared it."""
        cached = self._cache.get(so.meta.uid)
        if cached is not None and cached.generation == so.meta.generation:
            return cached
        trigs = triggers(so)
        for t in trigs:
            self.note(so, timeline.KEDA_SCALERS_STARTED, f"Scaler {t.type} is built")
        formula = None
        if modifiers(so).get("formula"):
            names = {t.name for t in trigs if t.external and t.name}
            formula = kedaformula.compile_formula(modifiers(so)["formula"], names)
        self._cache[so.meta.uid] = Scalers(so.meta.generation, trigs, formula)
        return self._cache[so.meta.uid]

    def clear(self, so: store.Generic) -> None:
        """ClearScalersCache."""
        self._cache.pop(so.meta.uid, None)
        for key in [k for k in self._records if k[0] == so.meta.uid]:
            del self._records[key]

    # ---- one trigger ----------------------------------------------------------------------------
    def query(self, trig: kedascaler.Trigger) -> Outcome:
        """GetMetricsAndActivity of a prometheus trigger: ([value], active, error)."""
        try:
            v = kedascaler.execute(trig, self.api)
        except kedascaler.ScalerError as exc:
            return None, False, str(exc)
        return [kedascaler.milli(v)], v > trig.activation_threshold, None

    def target_of(self, so: store.Generic) -> Any:
        ref = so.spec.get("scaleTargetRef") or {}
        return self.api.store.get(
            ref.get("apiVersion") or "apps/v1",
            ref.get("kind") or "Deployment",
            ref["name"],
            so.meta.namespace,
        )

    def current_replicas(self, so: store.Generic) -> int:
        """resolver.GetCurrentReplicas: the target's scale (spec.replicas)."""
        target = self.target_of(so)
        return 0 if target is None else int(target.spec.get("replicas", 1))

    def ready_replicas(self, so: store.Generic) -> int:
        """getReadyReplicasCount: Running and Ready pods the target's selector matches."""
        target = self.target_of(so)
        if target is None:
            return 0
        selector = target.spec.get("selector") or {}
        pods = self.api.store.list("v1", "Pod", so.meta.namespace)
        return sum(
            1
            for p in pods
            if controller.labels_selected(selector, p.labels) and p.phase == "Running" and p.ready
        )

    def with_fallback(
        self, so: store.Generic, trig: kedascaler.Trigger, out: Outcome
    ) -> tuple[Outcome, bool]:
        """GetMetricsWithFallback: ((values, active, error), fallback active)."""
        err = out[2]
        metric = trig.metric_name
        if err is None:
            if valid_fallback(so):
                so.status.setdefault("health", {})[metric] = {"numberOfFailures": 0, "status": "Happy"}
                self._fallback_condition(so)
            return out, False
        if not valid_fallback(so):
            return (None, False, err), False
        health = so.status.setdefault("health", {}).setdefault(metric, {"numberOfFailures": 0})
        health["numberOfFailures"] = int(health.get("numberOfFailures", 0)) + 1
        health["status"] = "Failing"
        self._fallback_condition(so)
        fb = so.spec["fallback"]
        if health["numberOfFailures"] <= int(fb.get("failureThreshold", 0)):
            return (None, False, err), False
        value = self._fallback_value(so, trig)
        if value is None:
            return (None, False, "error performing fallback"), False
        return ([value], False, None), True

    def _fallback_value(self, so: store.Generic, trig: kedascaler.Trigger) -> float | None:
        """doFallback: fallback.replicas (per behavior) × the target, per ready pod for Value."""
        fb = so.spec["fallback"]
        fixed = int(fb.get("replicas", 0))
        behavior = fb.get("behavior") or "static"
        current = self.current_replicas(so) if behavior != "static" else 0
        replicas = {
            "currentReplicas": current,
            "currentReplicasIfHigher": max(current, fixed),
            "currentReplicasIfLower": min(current, fixed),
        }.get(behavior, fixed)
        if using_modifiers(so):
            metric_type = modifiers(so).get("metricType") or "AverageValue"
            target = float(modifiers(so)["target"])
        else:
            metric_type, target = trig.metric_type, kedascaler.milli(trig.threshold)
        per = float(replicas)
        if metric_type == "Value":
            ready = self.ready_replicas(so)
            if ready == 0:
                return None
            per /= ready
        return math.trunc(target * 1000 * per) / 1000

    def _fallback_condition(self, so: store.Generic) -> None:
        """ScaledObjectHandler.updateStatus."""
        threshold = int(so.spec["fallback"].get("failureThreshold", 0))
        falling = any(
            h.get("status") == "Failing" and int(h.get("numberOfFailures", 0)) > threshold
            for h in (so.status.get("health") or {}).values()
        )
        if falling:
            set_condition(
                so,
                "Fallback",
                "True",
                "FallbackExists",
                "At least one trigger is falling back on this scaled object",
            )
        else:
            set_condition(
                so, "Fallback", "False", "NoFallbackFound", "No fallbacks are active on this scaled object"
            )

    def composite(
        self, so: store.Generic, sc: Scalers, values: dict[str, float], fallback: list[float]
    ) -> float | None:
        """HandleScalingModifiers: the composite value (None when the formula fails)."""
        if fallback:
            return fallback[0]
        if sc.formula is None:
            return None
        try:
            out = sc.formula.run(values)
        except kedaformula.FormulaError:
            return None
        return math.trunc(out * 1000) / 1000

    # ---- the scale loop's view ------------------------------------------------------------------
    def state(self, so: store.Generic) -> State:
        """getScaledObjectState (and the health it writes)."""
        before = copy.deepcopy(so.status)
        sc = self.scalers(so)
        is_active = is_error = fallback_active = False
        active: list[str] = []
        by_name: dict[str, float] = {}
        fallback_values: list[float] = []
        for trig in sc.triggers:
            if not trig.external:
                continue
            (values, trig_active, err), fb = self.with_fallback(so, trig, self.query(trig))
            if trig.use_cached_metrics:
                self._records[(so.meta.uid, trig.metric_name)] = (values, trig_active or fb, err)
            if fb:
                fallback_active = True
                fallback_values.extend(values or [])
            if err is not None:
                is_error = True
                reason = (
                    timeline.KEDA_METRIC_SOURCE_FAILED if using_modifiers(so) else timeline.KEDA_SCALER_FAILED
                )
                self.note(so, reason, err, timeline.WARNING)
            elif trig_active or fb:
                is_active = True
                active.append(trig.metric_name)
            if values and trig.name:
                by_name[trig.name] = values[0]
        if is_error:
            self.clear(so)
        if using_modifiers(so):
            is_active, active = False, []
            if not is_error:
                value = self.composite(so, sc, by_name, fallback_values)
                activation = float(modifiers(so).get("activationTarget") or 0)
                if value is not None and value > activation:
                    is_active, active = True, [COMPOSITE]
        if all(not t.external for t in sc.triggers) and not is_error:
            is_active = True
        if so.status != before:
            self.api.store.update(so)
        return State(is_active, is_error, active, fallback_active)

    # ---- metricsapi.ExternalMetrics ------------------------------------------------------------
    def external(
        self, metric_name: str, namespace: str, metric_selector: metricsapi.Selector
    ) -> tuple[list[float], float]:
        """GetExternalMetric -> GetScaledObjectMetrics."""
        name = ((metric_selector or {}).get("matchLabels") or {}).get(OWNER_LABEL)
        if not name:
            raise metricsapi.MetricsUnavailable("scaledObject name is not specified")
        so = self.api.store.get(API_VERSION, KIND, name, namespace)
        if so is None:
            raise metricsapi.MetricsUnavailable(
                _rpc(f'error getting scalers scaledobjects.keda.sh "{name}" not found')
            )
        before = copy.deepcopy(so.status)
        sc = self.scalers(so)
        if using_modifiers(so) and modifiers(so).get("target"):
            wanted = {n.lower() for n in so.status.get("externalMetricNames") or []}
        else:
            wanted = {metric_name.lower()}
        matching: list[float] = []
        by_name: dict[str, float] = {}
        fallback_values: list[float] = []
        is_error = fallback_active = False
        for trig in sc.triggers:
            if not trig.external or trig.metric_name.lower() not in wanted:
                continue
            record = self._records.get((so.meta.uid, trig.metric_name)) if trig.use_cached_metrics else None
            out = record if record is not None else self.query(trig)
            (values, _active, err), fb = self.with_fallback(so, trig, out)
            if fb:
                fallback_active = True
                fallback_values.extend(values or [])
            if err is not None:
                is_error = True
            matching.extend(values or [])
            if values and trig.name:
                by_name[trig.name] = values[0]
        if is_error:
            self.clear(so)
        if so.status != before:
            self.api.store.update(so)
        if is_error and not fallback_active:
            raise metricsapi.MetricsUnavailable(_rpc(f"metric:{metric_name} encountered error"))
        if not matching:
            raise metricsapi.MetricsUnavailable(_rpc(f"no matching metrics found for {metric_name}"))
        if using_modifiers(so):
            value = self.composite(so, sc, by_name, fallback_values)
            matching = [] if value is None else [value]
        return matching, self.api.now_s


def _rpc(message: str) -> str:
    """How the metrics server's gRPC error reaches the HPA (server.go:51-52)."""
    return f"rpc error: code = Unknown desc = error when getting metric values {message}"
