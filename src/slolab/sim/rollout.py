"""Argo Rollouts' Rollout controller, the canary strategy without a traffic router.

Upstream: argoproj/argo-rollouts v1.9.1
- rollout/canary.go: rolloutCanary (services, analysis runs, ReplicaSets, pause, then status),
  reconcileCanaryStableReplicaSet / reconcileCanaryReplicaSets (stable first, then the new
  ReplicaSet, then older ones), reconcileCanaryPause (a pause step adds the CanaryPauseStep
  pause condition; with a duration it is over that long after it began),
  completedCurrentCanaryStep, syncRolloutStatusCanary (RolloutStepCompleted; an abort sends
  the step index back to 0);
- rollout/analysis.go (the AnalysisRuns of the canary: sim/rolloutanalysis.py, a mixin of this
  controller);
- rollout/sync.go: createDesiredReplicaSet, shouldFullPromote ("Initial deploy", "Completed all
  N canary steps", "Full promotion requested"), promoteStable (RolloutCompleted),
  resetRolloutStatus; rollout/service.go reconcileStableAndCanaryService (the
  rollouts-pod-template-hash selector injected into stableService and canaryService; while
  aborted, canaryService points at the stable ReplicaSet too);
- rollout/pause.go CompletedCanaryPauseStep; utils/conditions/conditions.go (event reasons and
  messages).
The Rollout object, its status and phase are sim/rolloutstate.py (with ``promote`` and ``abort``,
what ``kubectl argo rollouts promote [--full]`` and ``abort`` patch); the replica arithmetic
sim/rolloutcanary.py; the fields sim/rolloutspec.py. Modelled also: spec.paused (Paused,
"manually paused"), the revision annotation, revisionHistoryLimit. Not modelled: traffic
routers, scaleDownDelaySeconds, dynamicStableScale, progressDeadlineSeconds, the rollback window,
retry after abort other than a new template, anti-affinity injection, ephemeral metadata.
"""

from __future__ import annotations

import copy
from typing import Any

from slolab.run import timeline
from slolab.sim import (
    analysis,
    analysisspec,
    controller,
    deployment,
    replicaset,
    rolloutanalysis,
    rolloutcanary,
    rolloutspec,
    rolloutstate,
    store,
)

Rollout = rolloutstate.Rollout
ROLLOUT = rolloutstate.ROLLOUT
HASH_LABEL = rolloutstate.HASH_LABEL
CANARY_PAUSE_STEP = rolloutstate.CANARY_PAUSE_STEP
promote, abort, step_string = rolloutstate.promote, rolloutstate.abort, rolloutstate.step_string

KIND = controller.Kind(
    *ROLLOUT,
    fields=rolloutspec.FIELDS,
    scale=True,
    pod_template=("spec", "template"),
    new=lambda meta, spec: Rollout(meta, spec),
    validate=rolloutspec.validate,
)


class Controller(rolloutanalysis.AnalysisRuns, controller.Controller):
    """rolloutCanary for every Rollout."""

    name = "argo-rollouts"
    owns = (KIND,)
    watches = (ROLLOUT, ("apps/v1", "ReplicaSet"), ("v1", "Pod"), analysisspec.ANALYSIS_RUN)

    def on_event(self, event: store.WatchEvent) -> None:
        obj = event.obj
        if obj.kind == "Pod" and event.type != store.DELETED and obj.ready and obj.ready_since_s is not None:
            rs = self.api.store.owner_of(obj)
            owner = self.api.store.owner_of(rs) if rs is not None else None
            if isinstance(owner, Rollout) and rs.min_ready_s > 0:
                self.api.requeue_at(self, obj.ready_since_s + rs.min_ready_s)
        self.api.enqueue(self)

    def reconcile(self) -> bool:
        changed = False
        for ro in self.api.store.list(*ROLLOUT):
            changed |= self.sync(ro)
        return changed

    def record(
        self, ro: Rollout, reason: str, message: str, type: str = timeline.NORMAL, **data: Any
    ) -> None:
        self.api.record("Rollout", ro.name, reason, message, type, **data)

    # ---- the reconcile ----------------------------------------------------------------------
    def sync(self, ro: Rollout) -> bool:
        st, now = self.api.store, self.api.now_s
        before = self._snapshot(ro)
        ro.observed_generation = ro.meta.generation
        new_hash = deployment.template_hash(ro.spec["template"])
        step_hash = deployment.template_hash({"steps": ro.steps})
        new_rs = ro.rs_by_hash(st, new_hash)
        if new_rs is None:
            new_rs = self._create_replicaset(ro, new_hash)
        if new_hash != ro.current_pod_hash or step_hash != ro.step_hash:
            self._reset(ro, new_hash, step_hash)
        stable_rs = ro.rs_by_hash(st, ro.stable_hash)
        self._services(ro, new_rs, stable_rs)
        self._analysis_runs(ro, new_rs, stable_rs)
        if not self._replicasets(ro, new_rs, stable_rs):
            self._pause(ro)
        self._status(ro, new_rs, stable_rs)
        self._cleanup(ro, new_rs, stable_rs)
        self.api.recorder.sample(
            f"rollout/{ro.name}/weight", now, float(self._actual_weight(ro, new_rs, stable_rs))
        )
        if self._snapshot(ro) != before:
            st.update(ro)
            return True
        return False

    @staticmethod
    def _snapshot(ro: Rollout) -> tuple:
        return (
            ro.current_pod_hash,
            ro.stable_hash,
            ro.current_step_index,
            ro.abort,
            tuple(ro.pause_conditions),
            ro.controller_pause,
            ro.promote_full,
            ro.step_run,
            ro.background_run,
            ro.observed_generation,
        )

    def _actual_weight(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> float:
        """The share of ready pods the canary has: without a traffic router, its traffic share."""
        st = self.api.store
        if stable_rs is None or stable_rs is new_rs:
            return 100.0
        canary = new_rs.ready_replicas(st)
        total = sum(rs.ready_replicas(st) for rs in ro.replicasets(st))
        return 100.0 * canary / total if total else 0.0

    def _create_replicaset(self, ro: Rollout, h: str) -> replicaset.ReplicaSet:
        """createDesiredReplicaSet: the template with the rollouts-pod-template-hash label, at 0."""
        st = self.api.store
        template = copy.deepcopy(ro.spec["template"])
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels[HASH_LABEL] = h
        ro.revision = (
            max(
                [
                    ro.revision,
                    *(int(rs.meta.annotations.get(rolloutspec.REVISION, "0")) for rs in ro.replicasets(st)),
                ]
            )
            + 1
        )
        rs = replicaset.ReplicaSet(
            meta=store.Meta(
                name=f"{ro.name}-{h}",
                namespace=ro.meta.namespace,
                labels=dict(labels),
                annotations={rolloutspec.REVISION: str(ro.revision)},
                owner_references=[store.OwnerReference(*ROLLOUT, ro.name, ro.meta.uid)],
            ),
            spec={
                "replicas": 0,
                "minReadySeconds": float(ro.spec.get("minReadySeconds", 0)),
                "selector": {
                    "matchLabels": {**(ro.spec.get("selector") or {}).get("matchLabels", {}), HASH_LABEL: h}
                },
                "template": template,
            },
        )
        self.record(
            ro, timeline.ROLLOUT_UPDATED, f"Rollout updated to revision {ro.revision}", revision=ro.revision
        )
        self.record(
            ro,
            timeline.NEW_REPLICA_SET_CREATED,
            f"Created ReplicaSet {rs.name} (revision {ro.revision})",
            replica_set=rs.name,
        )
        st.create(rs)
        return rs

    def _reset(self, ro: Rollout, new_hash: str, step_hash: str) -> None:
        """resetRolloutStatus, and the SkipSteps of a rollback to the stable ReplicaSet."""
        ro.current_pod_hash, ro.step_hash = new_hash, step_hash
        ro.current_step_index = 0 if ro.steps else None
        ro.abort, ro.aborted_at_s, ro.abort_message = False, None, ""
        ro.pause_conditions.clear()
        ro.controller_pause = False
        ro.promote_full = False
        if ro.stable_hash and ro.stable_hash == new_hash and ro.steps:
            ro.current_step_index = len(ro.steps)
            self.record(ro, timeline.SKIP_STEPS, "Rollback to stable ReplicaSets")

    # ---- services ------------------------------------------------------------------------------
    def _services(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> None:
        """reconcileStableAndCanaryService (ensureSVCTargets: a selector moves to a ReplicaSet
        only once it has an available pod)."""
        canary_target = stable_rs if ro.abort and stable_rs is not None else new_rs
        for key, target in (("stableService", stable_rs), ("canaryService", canary_target)):
            name = ro.canary.get(key)
            if not name or target is None:
                continue
            svc = self.api.store.get("v1", "Service", name, ro.meta.namespace)
            if svc is None:
                continue
            h = target.meta.labels.get(HASH_LABEL, "")
            if svc.spec.get("selector", {}).get(HASH_LABEL) == h:
                continue
            if target.available_replicas(self.api.store, self.api.now_s) == 0 and HASH_LABEL in (
                svc.spec.get("selector") or {}
            ):
                continue
            svc.spec = {**svc.spec, "selector": {**(svc.spec.get("selector") or {}), HASH_LABEL: h}}
            self.api.store.update(svc, spec_changed=True)

    # ---- pause and abort -------------------------------------------------------------------------
    def _add_pause(self, ro: Rollout, reason: str) -> None:
        if reason not in ro.pause_conditions:
            ro.pause_conditions[reason] = self.api.now_s
            ro.controller_pause = True
            self.record(ro, timeline.ROLLOUT_PAUSED, f"Rollout is paused ({reason})", pause_reason=reason)

    def _abort(self, ro: Rollout, message: str) -> None:
        if ro.abort:
            return
        ro.abort, ro.aborted_at_s, ro.abort_message = True, self.api.now_s, message
        self.record(
            ro,
            timeline.ROLLOUT_ABORTED,
            f"Rollout aborted update to revision {ro.revision}: {message}",
            timeline.WARNING,
            weight=ro.set_weight(),
        )

    def _pause(self, ro: Rollout) -> None:
        """reconcileCanaryPause."""
        if ro.spec.get("paused") or ro.promote_full or ro.abort:
            return
        step, _ = ro.current_step()
        if step is None or "pause" not in step:
            return
        start = ro.pause_conditions.get(CANARY_PAUSE_STEP)
        if start is None:
            if not ro.controller_pause:
                self._add_pause(ro, CANARY_PAUSE_STEP)
                duration = rolloutspec.pause_duration_s(step["pause"] or {})
                if duration is not None:
                    self.api.requeue_at(self, self.api.now_s + duration)
            return

    # ---- ReplicaSets -------------------------------------------------------------------------------
    def _view(self, rs: replicaset.ReplicaSet | None) -> rolloutcanary.RS | None:
        if rs is None:
            return None
        return rolloutcanary.RS(rs.replicas, rs.available_replicas(self.api.store, self.api.now_s))

    def _scale(self, ro: Rollout, rs: replicaset.ReplicaSet, replicas: int) -> bool:
        if rs.replicas == replicas:
            return False
        verb = "up" if replicas > rs.replicas else "down"
        revision = rs.meta.annotations.get(rolloutspec.REVISION, "0")
        self.record(
            ro,
            timeline.SCALING_REPLICA_SET,
            f"Scaled {verb} ReplicaSet {rs.name} (revision {revision}) from {rs.replicas} to {replicas}",
            replica_set=rs.name,
            replicas=replicas,
        )
        self.api.store.scale(rs, replicas)
        return True

    def _replicasets(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> bool:
        """reconcileCanaryReplicaSets. True when it scaled something (not finished)."""
        st = self.api.store
        stable = stable_rs if stable_rs is not None and stable_rs is not new_rs else None
        others = [rs for rs in ro.replicasets(st) if rs is not new_rs and rs is not stable]
        surge, unavailable = ro.canary.get("maxSurge", "25%"), ro.canary.get("maxUnavailable", "25%")
        want_new, want_stable = rolloutcanary.basic_canary(
            ro.replicas,
            ro.desired_weight(),
            self._view(new_rs),
            self._view(stable),
            [self._view(o) for o in others if o is not None],
            surge,
            unavailable,  # type: ignore[misc]
        )
        if stable is not None and self._scale(ro, stable, want_stable):
            return True
        if self._scale(ro, new_rs, want_new):
            return True
        return self._scale_down_others(ro, others)

    def _scale_down_others(self, ro: Rollout, others: list[replicaset.ReplicaSet]) -> bool:
        """scaleDownOldReplicaSetsForCanary: unavailable pods first, then within maxUnavailable."""
        st, now = self.api.store, self.api.now_s
        others = sorted((rs for rs in others if rs.replicas > 0), key=lambda rs: rs.created_s)
        if not others:
            return False
        _, unavailable = rolloutcanary.fenceposts(
            ro.replicas, ro.canary.get("maxSurge", "25%"), ro.canary.get("maxUnavailable", "25%")
        )
        available = sum(rs.available_replicas(st, now) for rs in ro.replicasets(st))
        budget = max(0, available - (ro.replicas - unavailable))
        changed = False
        for rs in others:
            unhealthy = rs.replicas - rs.available_replicas(st, now)
            take = min(rs.replicas, unhealthy + budget)
            budget -= max(0, take - unhealthy)
            if take > 0:
                changed |= self._scale(ro, rs, rs.replicas - take)
        return changed

    # ---- status ---------------------------------------------------------------------------------------
    def _completed_step(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> bool:
        """completedCurrentCanaryStep."""
        if ro.spec.get("paused"):
            return False
        step, _ = ro.current_step()
        if step is None:
            return False
        if "pause" in step:  # CompletedCanaryPauseStep
            duration = rolloutspec.pause_duration_s(step["pause"] or {})
            start = ro.pause_conditions.get(CANARY_PAUSE_STEP)
            if duration is not None:
                return start is not None and self.api.now_s >= start + duration - 1e-9
            return ro.controller_pause and start is None
        if "setWeight" in step:
            st = self.api.store
            stable = stable_rs if stable_rs is not None and stable_rs is not new_rs else None
            others = [rs for rs in ro.replicasets(st) if rs is not new_rs and rs is not stable]
            return rolloutcanary.at_desired(
                ro.replicas,
                ro.desired_weight(),
                self._view(new_rs),
                self._view(stable),
                [v for o in others if (v := self._view(o)) is not None],
                ro.canary.get("maxSurge", "25%"),
                ro.canary.get("maxUnavailable", "25%"),
                len(stable.active_pods(st)) if stable is not None else 0,
            )
        run = self._run(ro, ro.step_run)
        return run is not None and run.phase == analysis.SUCCESSFUL

    def _status(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> None:
        """syncRolloutStatusCanary."""
        steps = len(ro.steps)
        if ro.promote_full:
            ro.pause_conditions.clear()
            ro.abort = False
            if steps:
                ro.current_step_index = steps
        reason = self._full_promote_reason(ro, new_rs, stable_rs)
        if reason:
            self._promote_stable(ro, reason)
            return
        if ro.abort:
            if steps:
                ro.current_step_index = steps if ro.stable_hash == ro.current_pod_hash else 0
            return
        if self._completed_step(ro, new_rs, stable_rs):
            step, index = ro.current_step()
            assert step is not None
            ro.current_step_index = index + 1
            self.record(
                ro,
                timeline.ROLLOUT_STEP_COMPLETED,
                f"Rollout step {index + 1}/{steps} completed ({step_string(step)})",
                step=index + 1,
                weight=ro.set_weight(),
            )
            ro.pause_conditions.pop(CANARY_PAUSE_STEP, None)
            ro.controller_pause = bool(ro.pause_conditions)
            self.api.enqueue(self)  # the next step starts now

    def _full_promote_reason(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> str:
        """shouldFullPromote for the canary."""
        if stable_rs is None:
            return (
                "Initial deploy"
                if new_rs.available_replicas(self.api.store, self.api.now_s) >= ro.replicas
                else ""
            )
        if ro.abort or ro.fully_promoted():
            return ""
        if new_rs.available_replicas(self.api.store, self.api.now_s) < ro.replicas:
            return ""
        if ro.promote_full:
            return "Full promotion requested"
        _, index = ro.current_step()
        if not ro.steps or index >= len(ro.steps):
            return f"Completed all {len(ro.steps)} canary steps"
        return ""

    def _promote_stable(self, ro: Rollout, reason: str) -> None:
        """promoteStable."""
        ro.pause_conditions.clear()
        ro.controller_pause = False
        ro.abort = False
        ro.promote_full = False
        ro.current_step_index = len(ro.steps) if ro.steps else None
        if ro.stable_hash != ro.current_pod_hash:
            ro.stable_hash = ro.current_pod_hash
            self.record(
                ro,
                timeline.ROLLOUT_COMPLETED,
                f"Rollout completed update to revision {ro.revision} ({ro.current_pod_hash}): {reason}",
                revision=ro.revision,
            )
            self.api.enqueue(self)

    def _cleanup(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> None:
        """reconcileRevisionHistoryLimit: ReplicaSets with no pods beyond the limit, oldest first."""
        st = self.api.store
        limit = int(ro.spec.get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in ro.replicasets(st)
            if rs is not new_rs and rs is not stable_rs and rs.replicas == 0 and not rs.pods(st)
        ]
        for rs in sorted(idle, key=lambda rs: rs.created_s)[: max(0, len(idle) - limit)]:
            st.delete(rs)
