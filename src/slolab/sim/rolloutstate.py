"""The Argo Rollout object of the simulator: what the Rollout controller keeps in status, and how
``kubectl argo rollouts`` reads and patches it.

Upstream: argoproj/argo-rollouts v1.9.1 pkg/apis/rollouts/v1alpha1/types.go (RolloutStatus:
currentPodHash, stableRS, currentStepIndex, abort, abortedAt, pauseConditions, controllerPause,
promoteFull, canary.currentStepAnalysisRunStatus / currentBackgroundAnalysisRunStatus),
utils/replicaset/canary.go (GetCurrentCanaryStep, GetCurrentSetWeight, GetCanaryReplicasOrWeight),
utils/rollout/rolloututil.go (CalculateRolloutPhase: Healthy, Progressing, Paused, Degraded and
their messages), utils/conditions/conditions.go (the Progressing, Available, Healthy and Completed
conditions), and pkg/kubectl-argo-rollouts/cmd/{promote,abort} (promote unpauses: spec.paused false
and the pause conditions cleared, ``--full`` sets status.promoteFull; abort sets status.abort).
The controller that moves it is sim/rollout.py.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

from slolab.sim import analysisspec, objects, replicaset, rolloutcanary, rolloutspec, store

ROLLOUT = rolloutspec.ROLLOUT
HASH_LABEL = rolloutspec.HASH_LABEL
CANARY_PAUSE_STEP = "CanaryPauseStep"
INCONCLUSIVE_ANALYSIS = "InconclusiveAnalysis"
HEALTHY, PROGRESSING, PAUSED, DEGRADED = "Healthy", "Progressing", "Paused", "Degraded"


@dataclasses.dataclass(eq=False)
class Rollout:
    api_version: ClassVar[str] = rolloutspec.API_VERSION
    kind: ClassVar[str] = "Rollout"

    meta: store.Meta
    spec: dict[str, Any]
    current_pod_hash: str = ""
    step_hash: str = ""
    stable_hash: str = ""
    current_step_index: int | None = None
    abort: bool = False
    aborted_at_s: float | None = None
    abort_message: str = ""
    pause_conditions: dict[str, float] = dataclasses.field(default_factory=dict)  # reason -> start
    controller_pause: bool = False
    promote_full: bool = False
    step_run: str = ""  # the current step's AnalysisRun
    background_run: str = ""
    observed_generation: int = 0
    revision: int = 0
    #: (generation, the spec it copied, the copy): to_api's spec, made once per spec
    _spec_snapshot: tuple[int, dict[str, Any], dict[str, Any]] | None = None

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def replicas(self) -> int:
        return int(self.spec.get("replicas", 1))

    @property
    def canary(self) -> dict[str, Any]:
        return (self.spec.get("strategy") or {}).get("canary") or {}

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.canary.get("steps") or []

    def current_step(self) -> tuple[dict[str, Any] | None, int]:
        """GetCurrentCanaryStep: (the step or None when all are done, its index)."""
        index = self.current_step_index or 0
        steps = self.steps
        return (steps[index] if index < len(steps) else None), index

    def set_weight(self) -> int:
        """GetCurrentSetWeight: 0 while aborted, 100 past the last step, else the last setWeight."""
        if self.abort:
            return 0
        step, index = self.current_step()
        if step is None:
            return 100
        for s in reversed(self.steps[: index + 1]):
            if "setWeight" in s:
                return int(s["setWeight"])
        return 0

    def desired_weight(self) -> int:
        """GetCanaryReplicasOrWeight without setCanaryScale."""
        if self.promote_full or not self.stable_hash or self.current_pod_hash == self.stable_hash:
            return 100
        return self.set_weight()

    def fully_promoted(self) -> bool:
        return bool(self.stable_hash) and self.stable_hash == self.current_pod_hash

    def replicasets(self, st: store.Store) -> list[replicaset.ReplicaSet]:
        return [o for o in st.dependents(self) if isinstance(o, replicaset.ReplicaSet)]

    def rs_by_hash(self, st: store.Store, h: str) -> replicaset.ReplicaSet | None:
        if not h:
            return None
        return next((rs for rs in self.replicasets(st) if rs.meta.labels.get(HASH_LABEL) == h), None)

    # ---- status -------------------------------------------------------------------------------
    def counts(self, st: store.Store, now_s: float) -> dict[str, int]:
        rss = self.replicasets(st)
        new = self.rs_by_hash(st, self.current_pod_hash)
        pods = [p for rs in rss for p in rs.active_pods(st)]
        return {
            "replicas": len(pods),
            "updatedReplicas": len(new.active_pods(st)) if new else 0,
            "readyReplicas": sum(1 for p in pods if p.ready),
            "availableReplicas": sum(rs.available_replicas(st, now_s) for rs in rss),
        }

    def phase(self, st: store.Store, now_s: float) -> tuple[str, str]:
        """CalculateRolloutPhase (with the controller's messages)."""
        if self.observed_generation != self.meta.generation:
            return PROGRESSING, "waiting for rollout spec update to be observed"
        if self.abort:
            message = f"RolloutAborted: Rollout aborted update to revision {self.revision}"
            return DEGRADED, message + (f": {self.abort_message}" if self.abort_message else "")
        if self.spec.get("paused"):
            return PAUSED, "manually paused"
        for reason in self.pause_conditions:
            return PAUSED, reason
        c = self.counts(st, now_s)
        if c["updatedReplicas"] < self.replicas:
            return PROGRESSING, "more replicas need to be updated"
        if c["availableReplicas"] < c["updatedReplicas"]:
            return PROGRESSING, "updated replicas are still becoming available"
        if c["replicas"] > c["updatedReplicas"]:
            return PROGRESSING, "old replicas are pending termination"
        if not self.fully_promoted():
            return PROGRESSING, "waiting for all steps to complete"
        return HEALTHY, ""

    def _spec_copy(self) -> dict[str, Any]:
        """A copy of the spec, made once per spec (graders and kube-state-metrics read the
        Rollout often); a new spec object or generation makes a new copy."""
        snap = self._spec_snapshot
        if snap is None or snap[0] != self.meta.generation or snap[1] is not self.spec:
            snap = self._spec_snapshot = (self.meta.generation, self.spec, copy.deepcopy(self.spec))
        return snap[2]

    def to_api(self, now_s: float, st: store.Store) -> dict[str, Any]:
        c = self.counts(st, now_s)
        phase, message = self.phase(st, now_s)
        meta = self.meta.to_api()
        meta["annotations"] = {**meta["annotations"], rolloutspec.REVISION: str(self.revision)}
        canary: dict[str, Any] = {}
        for key, run_name in (
            ("currentStepAnalysisRunStatus", self.step_run),
            ("currentBackgroundAnalysisRunStatus", self.background_run),
        ):
            run = st.get(*analysisspec.ANALYSIS_RUN, run_name, self.meta.namespace) if run_name else None
            if run is not None:
                canary[key] = {"name": run.name, "status": run.phase, "message": run.message}
        progressing = (
            ("False", "RolloutAborted")
            if self.abort
            else ("Unknown", "RolloutPaused")
            if self.pause_conditions or self.spec.get("paused")
            else ("True", "NewReplicaSetAvailable")
            if phase == HEALTHY
            else ("True", "ReplicaSetUpdated")
        )
        available = (
            c["availableReplicas"]
            >= self.replicas
            - rolloutcanary.fenceposts(
                self.replicas, self.canary.get("maxSurge", "25%"), self.canary.get("maxUnavailable", "25%")
            )[1]
        )
        status: dict[str, Any] = {
            **c,
            "phase": phase,
            "message": message,
            "observedGeneration": str(self.observed_generation),
            "currentPodHash": self.current_pod_hash,
            "stableRS": self.stable_hash,
            "canary": canary,
            "abort": self.abort,
            "controllerPause": self.controller_pause,
            "pauseConditions": [
                {"reason": r, "startTime": objects.timestamp(t)} for r, t in self.pause_conditions.items()
            ],
            "selector": ",".join(
                f"{k}={v}" for k, v in (self.spec.get("selector") or {}).get("matchLabels", {}).items()
            ),
            "conditions": [
                {"type": "Progressing", "status": progressing[0], "reason": progressing[1]},
                {
                    "type": "Available",
                    "status": "True" if available else "False",
                    "reason": "AvailableReason",
                },
                {
                    "type": "Healthy",
                    "status": "True" if phase == HEALTHY else "False",
                    "reason": "RolloutHealthy" if phase == HEALTHY else "RolloutNotHealthy",
                },
                {
                    "type": "Completed",
                    "status": "True" if self.fully_promoted() else "False",
                    "reason": "RolloutCompleted" if self.fully_promoted() else "RolloutNotCompleted",
                },
            ],
        }
        if self.current_step_index is not None:
            status["currentStepIndex"] = self.current_step_index
        if self.aborted_at_s is not None:
            status["abortedAt"] = objects.timestamp(self.aborted_at_s)
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": meta,
            "spec": self._spec_copy(),
            "status": status,
        }


def promote(st: store.Store, ro: Rollout, full: bool = False) -> None:
    """``kubectl argo rollouts promote [--full]``: unpause (spec.paused false, the pause
    conditions cleared), or with --full skip the remaining steps and analyses."""
    if full:
        ro.promote_full = True
    ro.pause_conditions.clear()
    if ro.spec.get("paused"):
        ro.spec = {**ro.spec, "paused": False}
        st.update(ro, spec_changed=True)
    else:
        st.update(ro)


def abort(st: store.Store, ro: Rollout, now_s: float) -> None:
    """``kubectl argo rollouts abort``: status.abort true; the canary goes back to 0."""
    ro.abort, ro.aborted_at_s, ro.abort_message = True, now_s, ""
    st.update(ro)


def step_string(step: dict[str, Any]) -> str:
    """rolloututil.CanaryStepString."""
    if "setWeight" in step:
        return f"setWeight: {step['setWeight']}"
    if "pause" in step:
        duration = (step["pause"] or {}).get("duration")
        return "pause" if duration is None else f"pause: {duration}"
    return "analysis"
