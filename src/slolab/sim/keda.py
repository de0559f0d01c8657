"""KEDA's ScaledObject controller: it owns the HPA ``keda-hpa-<name>`` and runs a scale loop per
ScaledObject that scales between 0 (or idleReplicaCount) and the HPA's range.

Upstream: kedacore/keda v2.20.2
- controllers/keda/scaledobject_controller.go:155-324 (Reconcile: conditions initialised, the
  ``scaledobject.keda.sh/name`` label, the scale target checked (it must exist and have the scale
  subresource; status scaleTargetKind, scaleTargetGVKR, originalReplicaCount), triggersTypes,
  the HPA created or updated, a new scale loop when the HPA is new or the generation moved;
  Ready True ScaledObjectReady, or False ScaledObjectCheckFailed with the error; Fallback False
  NoFallbackFound without a valid fallback), :508-590 (the HPA renamed when
  horizontalPodAutoscalerConfig.name changes);
- pkg/scaling/scale_handler.go:120-213 (the loop: a check at once, then every pollingInterval
  (default 30 s); "Started scalers watch" the first time), :285-403 (checkScalers, the fallback
  events, handleResult: conditions, lastActiveTime, triggersActivity);
- pkg/scaling/executor/scale_scaledobjects.go:37-331 (RequestScale: Active True/False; 0 -> max(min,
  1) when a trigger is active (KEDAScaleTargetActivated); to idleReplicaCount or 0 when none is,
  only after cooldownPeriod (default 300 s) since lastActiveTime, or initialCooldownPeriod
  (default 0) since creation when it never was active (KEDAScaleTargetDeactivated; meanwhile
  Active False ScalerCooldown); Ready False TriggerError on errors without fallback, Unknown
  PartialTriggerError on errors while active; HPAActive mirrors the HPA's ScalingActive).
The HPA it owns is built in sim/kedahpa.py; triggers, fallback and the metrics adapter are in
sim/kedascaler.py and sim/kedaadapter.py; the fields and the webhook in sim/kedaspec.py.

Pausing (scaledobject_controller.go:240-426): ``autoscaling.keda.sh/paused`` (a boolean; a
non-boolean value counts as true) or ``paused-replicas`` stop the loop, delete the HPA and hold
the paused replica count (status pausedReplicaCount); ``paused-scale-in``/``-out`` keep both
and disable that direction in the HPA's behavior; removing them unpauses (Paused False
ScaledObjectUnpaused). Deleting it stops the loop and, with
advanced.restoreToOriginalReplicaCount, scales the target back to status.originalReplicaCount
(scaledobject_finalizer.go:39-101); its HPA goes with it (garbage collection). Not modelled:
ScaledJobs, push scalers, the HPA's ownership transfer, HPA edits made by hand (KEDA
watches its HPA and puts the spec back; here nothing else writes it).
"""

from __future__ import annotations

import copy
from typing import Any

from slolab.run import timeline
from slolab.sim import controller, kedaadapter, kedahpa, kedaspec, objects, store

API_VERSION = kedaspec.API_VERSION
SCALEDOBJECT = (API_VERSION, "ScaledObject")
READY_MESSAGE = "ScaledObject is defined correctly and is ready for scaling"
TARGET_MESSAGE = "ScaledObject doesn't have correct scaleTargetRef specification"
DEFAULT_POLLING_S, DEFAULT_COOLDOWN_S, DEFAULT_INITIAL_COOLDOWN_S = 30, 300, 0
PAUSED = "autoscaling.keda.sh/paused"
PAUSED_REPLICAS = "autoscaling.keda.sh/paused-replicas"
PAUSE_ANNOTATIONS = (PAUSED, PAUSED_REPLICAS, kedahpa.PAUSED_SCALE_IN, kedahpa.PAUSED_SCALE_OUT)
PAUSED_MESSAGE = "ScaledObject is paused"

KIND = controller.Kind(
    *SCALEDOBJECT,
    fields=kedaspec.FIELDS,
    inert=kedaspec.INERT,
    new=lambda meta, spec: store.Generic(*SCALEDOBJECT, meta, spec),
    validate=kedaspec.validate,
    admit=kedaspec.admit,
)


class CheckFailed(Exception):
    """reconcileScaledObject failed: (message, error) as the Ready condition quotes them."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(f"{message}: {error}")
        self.message, self.error = message, error


class Controller(controller.Controller):
    """ScaledObjectReconciler plus the scale handler's loops."""

    name = "keda-operator"
    owns = (KIND,)
    watches = (SCALEDOBJECT,)

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.handler = kedaadapter.Handler(api)
        api.metrics.external = self.handler
        self._generations: dict[str, int] = {}  # scaledObjectsGenerations (a loop runs for these)
        self._next_poll_s: dict[str, float] = {}
        self._last_active_s: dict[str, float] = {}
        self._pending: set[str] = set()
        self._failures: dict[str, int] = {}  # the workqueue's per-item backoff
        self._observed: dict[str, tuple[Any, ...]] = {}  # what the predicates compare

    def on_event(self, event: store.WatchEvent) -> None:
        """GenerationChangedPredicate: status writes do not reconcile."""
        so = event.obj
        uid = so.meta.uid
        if event.type == store.DELETED:  # finalizeScaledObject
            self._stop_loop(so)
            advanced = so.spec.get("advanced") or {}
            original = so.status.get("originalReplicaCount")
            if advanced.get("restoreToOriginalReplicaCount") and "scaleTargetGVKR" in so.status:
                target = self.handler.target_of(so)
                if target is not None and original is not None:
                    self.api.store.scale(target, int(original))
            self.api.record(
                so.kind,
                so.meta.name,
                timeline.SCALED_OBJECT_DELETED,
                "ScaledObject was deleted",
                timeline.WARNING,
            )
            self.handler.clear(so)
            self._observed.pop(uid, None)
            return
        # GenerationChangedPredicate or one of the Paused*Predicates
        seen = (so.meta.generation, *(so.meta.annotations.get(k) for k in PAUSE_ANNOTATIONS))
        if self._observed.get(uid) != seen:
            if self._observed.get(uid, (None,))[0] != so.meta.generation:
                for warning in kedaspec.warnings(so.spec):  # the webhook's, on create and update
                    self.api.record(so.kind, so.meta.name, timeline.KEDA_SCALER_INFO, warning)
            self._observed[uid] = seen
            self._pending.add(uid)
            self.api.enqueue(self)

    def reconcile(self) -> bool:
        now = self.api.now_s
        for so in self.api.store.list(*SCALEDOBJECT):
            uid = so.meta.uid
            if uid in self._pending:
                self._pending.discard(uid)
                self.sync(so)
            due = self._next_poll_s.get(uid)
            if due is not None and due <= now + 1e-9:
                interval = float(so.spec.get("pollingInterval", DEFAULT_POLLING_S))
                self._next_poll_s[uid] = now + interval
                self.api.requeue_at(self, now + interval)
                self.check(so)
        return True

    # ---- Reconcile ------------------------------------------------------------------------------
    def sync(self, so: store.Generic) -> None:
        """Reconcile one ScaledObject."""
        so.status.setdefault("conditions", kedaadapter.initial_conditions())
        try:
            message = self._reconcile(so)
        except CheckFailed as exc:
            full = f"{exc.message}: {exc.error}"
            kedaadapter.set_condition(so, "Ready", "False", timeline.SCALED_OBJECT_CHECK_FAILED, full)
            kedaadapter.set_condition(so, "Active", "Unknown", "UnknownState", "ScaledObject check failed")
            self.api.record(
                so.kind, so.meta.name, timeline.SCALED_OBJECT_CHECK_FAILED, full, timeline.WARNING
            )
            # controller-runtime requeues a failed reconcile: 5 ms doubling per failure, at most 1000 s
            n = self._failures.get(so.meta.uid, 0)
            self._failures[so.meta.uid] = n + 1
            self._pending.add(so.meta.uid)
            self.api.requeue_at(self, self.api.now_s + min(0.005 * 2**n, 1000.0))
        else:
            self._failures.pop(so.meta.uid, None)
            if kedaadapter.get_condition(so, "Ready")["status"] != "True":
                self.api.record(
                    so.kind, so.meta.name, timeline.SCALED_OBJECT_READY, "ScaledObject is ready for scaling"
                )
            kedaadapter.set_condition(so, "Ready", "True", "ScaledObjectReady", message)
        if not kedaadapter.valid_fallback(so):
            kedaadapter.set_condition(
                so, "Fallback", "False", "NoFallbackFound", "No fallbacks are active on this scaled object"
            )
        self.api.store.update(so)

    def _reconcile(self, so: store.Generic) -> str:
        paused = kedaadapter.get_condition(so, "Paused")["status"] == "True"
        if PAUSED_REPLICAS in so.meta.annotations or kedahpa.bool_annotation(so, PAUSED):
            return self._pause(so, paused)
        if kedahpa.bool_annotation(so, kedahpa.PAUSED_SCALE_IN) or kedahpa.bool_annotation(
            so, kedahpa.PAUSED_SCALE_OUT
        ):
            kedaadapter.set_condition(so, "Paused", "True", "ScaledObjectPaused", PAUSED_MESSAGE)
            if not paused:
                self.api.record(so.kind, so.meta.name, timeline.SCALED_OBJECT_PAUSED, PAUSED_MESSAGE)
        elif paused:
            message = "pause annotation removed for ScaledObject"
            kedaadapter.set_condition(so, "Paused", "False", "ScaledObjectUnpaused", message)
            self.api.record(so.kind, so.meta.name, timeline.SCALED_OBJECT_UNPAUSED, message)
            so.status.pop("pausedReplicaCount", None)
        if so.meta.labels.get(kedaadapter.OWNER_LABEL) != so.meta.name:
            so.meta.labels = {**so.meta.labels, kedaadapter.OWNER_LABEL: so.meta.name}
        self._check_target(so)
        types = list(dict.fromkeys(str(t.get("type")) for t in so.spec.get("triggers") or []))
        so.status["triggersTypes"] = ",".join(types)
        created = kedahpa.ensure(self.api, so, self.handler.scalers(so))
        if created or self._generations.get(so.meta.uid) != so.meta.generation:
            if so.meta.uid not in self._generations:
                self.api.record(so.kind, so.meta.name, timeline.KEDA_SCALERS_STARTED, "Started scalers watch")
            self._generations[so.meta.uid] = so.meta.generation
            self._next_poll_s[so.meta.uid] = self.api.now_s
        return READY_MESSAGE

    def _pause(self, so: store.Generic, paused: bool) -> str:
        """handlePause: stop the loop, delete the HPA, hold the paused replica count if given."""
        if not paused:
            kedaadapter.set_condition(so, "Paused", "True", "ScaledObjectPaused", PAUSED_MESSAGE)
            self.api.record(so.kind, so.meta.name, timeline.SCALED_OBJECT_PAUSED, PAUSED_MESSAGE)
        self._stop_loop(so)
        kedahpa.delete(self.api, so)
        text = so.meta.annotations.get(PAUSED_REPLICAS)
        if text is not None:
            if not text.strip().lstrip("+-").isdigit():
                raise CheckFailed(
                    "failed to scale target to paused replica count",
                    "failed to parse paused replica count: "
                    f'strconv.ParseInt: parsing "{text}": invalid syntax',
                )
            target = self.handler.target_of(so)
            if target is not None:
                self.api.store.scale(target, int(text))
            so.status["pausedReplicaCount"] = int(text)
        return PAUSED_MESSAGE

    def _stop_loop(self, so: store.Generic) -> None:
        """stopScaleLoop (DeleteScalableObject)."""
        if self._generations.pop(so.meta.uid, None) is not None:
            self.api.record(so.kind, so.meta.name, timeline.KEDA_SCALERS_STOPPED, "Stopped scalers watch")
            self.handler.clear(so)
        self._next_poll_s.pop(so.meta.uid, None)

    def _check_target(self, so: store.Generic) -> None:
        """checkTargetResourceIsScalable."""
        from slolab.sim import registry  # registry lists this module's controller: import on use

        ref = so.spec["scaleTargetRef"]
        api_version, kind = ref.get("apiVersion") or "apps/v1", ref.get("kind") or "Deployment"
        declared = registry.kinds().get((api_version, kind))
        if declared is None:
            error = f'no matches for kind "{kind}" in version "{api_version}"'
            self.api.record(
                so.kind, so.meta.name, timeline.SCALED_OBJECT_UPDATE_FAILED, error, timeline.WARNING
            )
            raise CheckFailed(TARGET_MESSAGE, error)
        group, _, version = api_version.rpartition("/")
        resource = kind.lower() + "s"
        target = self.handler.target_of(so)
        if target is None:
            self.api.record(
                so.kind,
                so.meta.name,
                timeline.SCALED_OBJECT_CHECK_FAILED,
                "Target resource doesn't exist",
                timeline.WARNING,
            )
            raise CheckFailed(
                TARGET_MESSAGE, f'{resource}{"." + group if group else ""} "{ref["name"]}" not found'
            )
        if not declared.scale:
            self.api.record(
                so.kind,
                so.meta.name,
                timeline.SCALED_OBJECT_CHECK_FAILED,
                "Target resource doesn't expose /scale subresource",
                timeline.WARNING,
            )
            raise CheckFailed(
                TARGET_MESSAGE, f"the server could not find the requested resource ({resource}/scale)"
            )
        so.status["scaleTargetKind"] = f"{group}/{version}.{kind}"
        so.status["scaleTargetGVKR"] = {
            "group": group,
            "version": version,
            "kind": kind,
            "resource": resource,
        }
        so.status.setdefault("originalReplicaCount", int(target.spec.get("replicas", 1)))

    # ---- the scale loop (checkScalers, RequestScale, handleResult) -----------------------------
    def check(self, so: store.Generic) -> None:
        """One poll of the ScaledObject's triggers and KEDA's own scaling decision."""
        fallback_was = kedaadapter.get_condition(so, "Fallback")["status"]
        state = self.handler.state(so)
        if state.fallback_active and fallback_was != "True":
            self.api.record(
                so.kind,
                so.meta.name,
                timeline.SCALED_OBJECT_FALLBACK_ACTIVATED,
                "ScaledObject fallback is active",
            )
        elif not state.fallback_active and fallback_was == "True":
            self.api.record(
                so.kind,
                so.meta.name,
                timeline.SCALED_OBJECT_FALLBACK_DEACTIVATED,
                "ScaledObject fallback is no longer active",
            )
        before = copy.deepcopy(so.status)
        kedaadapter.set_condition(so, "Ready", "True", "ScaledObjectReady", READY_MESSAGE)
        names = so.status.get("externalMetricNames") or []
        so.status["triggersActivity"] = {n: {"isActive": n in state.active_triggers} for n in names}
        if self.handler.target_of(so) is None:
            gvkr = so.status.get("scaleTargetGVKR") or {}
            group = f".{gvkr['group']}" if gvkr.get("group") else ""
            resource = gvkr.get("resource", "deployments")
            error = f'{resource}{group} "{so.spec["scaleTargetRef"]["name"]}" not found'
            kedaadapter.set_condition(
                so,
                "Ready",
                "False",
                "ErrorGettingCurrentReplicas",
                f"Error getting current replicas count for ScaleTarget: {error}",
            )
        else:
            self._request_scale(so, state)
            kedahpa.health(self.api, so)
        if not state.is_error:
            self.handler.forget(so)
        if so.status != before:
            self.api.store.update(so)

    def _request_scale(self, so: store.Generic, state: kedaadapter.State) -> None:
        spec, now = so.spec, self.api.now_s
        current = self.handler.current_replicas(so)
        low = int(spec.get("minReplicaCount", 0))
        idle = spec.get("idleReplicaCount")
        fallback = spec.get("fallback")
        if state.is_active:
            kedaadapter.set_condition(
                so, "Active", "True", "ScalerActive", "Scaling is performed because triggers are active"
            )
            if (idle is not None and current < low) or current == 0:
                replicas = max(low, 1)
                self._scale(so, replicas)
                self.api.record(
                    so.kind,
                    so.meta.name,
                    timeline.KEDA_SCALE_TARGET_ACTIVATED,
                    f"Scaled {so.status.get('scaleTargetKind')} {self._target_path(so)} from {current} to "
                    f"{replicas}, triggered by {';'.join(state.active_triggers)}",
                )
                self._set_last_active(so, now)
            elif state.is_error:
                kedaadapter.set_condition(
                    so,
                    "Ready",
                    "Unknown",
                    "PartialTriggerError",
                    "Some triggers defined in ScaledObject are not working correctly",
                )
            else:
                self._set_last_active(so, now)
            return
        kedaadapter.set_condition(
            so,
            "Active",
            "False",
            "ScalerNotActive",
            "Scaling is not performed because triggers are not active",
        )
        if state.is_error and fallback is not None and int(fallback.get("replicas", 0)) != 0:
            return  # the HPA lands on fallback.replicas once failureThreshold has passed
        if state.is_error and fallback is None:
            kedaadapter.set_condition(
                so,
                "Ready",
                "False",
                "TriggerError",
                "Triggers defined in ScaledObject are not working correctly",
            )
        elif (idle is not None and current > idle) or (current > 0 and low == 0):
            self._scale_to_idle(so, current)
        elif idle is None and current < low:
            self._scale(so, low)

    def _scale_to_idle(self, so: store.Generic, current: int) -> None:
        """scaleToZeroOrIdle: only once the cooldown has passed."""
        now, spec = self.api.now_s, so.spec
        last = self._last_active_s.get(so.meta.uid)
        if last is None:
            ready = (
                so.meta.creation_s + float(spec.get("initialCooldownPeriod", DEFAULT_INITIAL_COOLDOWN_S))
                < now
            )
        else:
            ready = last + float(spec.get("cooldownPeriod", DEFAULT_COOLDOWN_S)) < now
        if not ready:
            kedaadapter.set_condition(
                so, "Active", "False", "ScalerCooldown", "Scaler cooling down because triggers are not active"
            )
            return
        idle = spec.get("idleReplicaCount")
        replicas = int(idle) if idle is not None else int(spec.get("minReplicaCount", 0))
        self._scale(so, replicas)
        self.api.record(
            so.kind,
            so.meta.name,
            timeline.KEDA_SCALE_TARGET_DEACTIVATED,
            f"Deactivated {so.status.get('scaleTargetKind')} {self._target_path(so)} "
            f"from {current} to {replicas}",
        )

    def _scale(self, so: store.Generic, replicas: int) -> None:
        target = self.handler.target_of(so)
        if target is not None:
            self.api.store.scale(target, replicas)

    def _set_last_active(self, so: store.Generic, now_s: float) -> None:
        self._last_active_s[so.meta.uid] = now_s
        so.status["lastActiveTime"] = objects.timestamp(now_s)

    def _target_path(self, so: store.Generic) -> str:
        return f"{so.meta.namespace}/{so.spec['scaleTargetRef']['name']}"
