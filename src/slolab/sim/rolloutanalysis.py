"""The AnalysisRuns of a Rollout's canary: created for an analysis step or in the background,
terminated when no longer needed, and what their outcome does to the Rollout.

Upstream: argoproj/argo-rollouts v1.9.1 rollout/analysis.go (reconcileAnalysisRuns,
reconcileStepBasedAnalysisRun, reconcileBackgroundAnalysisRun, needsNewAnalysisRun,
cancelAnalysisRuns, createAnalysisRun, newAnalysisRunFromRollout: runs named
<rollout>-<hash>-<revision>[-<step>], owned by the Rollout, labelled with the step index or
rollout-type Background; an Inconclusive run pauses the Rollout (InconclusiveAnalysis), an Error
or Failed one aborts it) and utils/analysis/factory.go (BuildArgumentsForRolloutAnalysisRun:
valueFrom.podTemplateHashValue Latest / Stable; NewAnalysisRunFromTemplates: the templates'
metrics and args merged, the Rollout's values winning). A mixin of sim/rollout.py's Controller.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from slolab.run import timeline
from slolab.sim import analysis, analysisspec, replicaset, rolloutspec, rolloutstate, store

if TYPE_CHECKING:
    from slolab.sim import controller

Rollout = rolloutstate.Rollout
ROLLOUT = rolloutstate.ROLLOUT
HASH_LABEL = rolloutstate.HASH_LABEL
CANARY_PAUSE_STEP = rolloutstate.CANARY_PAUSE_STEP
INCONCLUSIVE_ANALYSIS = rolloutstate.INCONCLUSIVE_ANALYSIS
STEP_INDEX_LABEL = "rollouts.argoproj.io/step-index"  # v1alpha1.RolloutCanaryStepIndexLabel


class AnalysisRuns:
    """The AnalysisRun half of rolloutCanary; the Controller provides api, record, _add_pause, _abort."""

    api: controller.API

    def record(
        self, ro: Rollout, reason: str, message: str, type: str = timeline.NORMAL, **data: Any
    ) -> None:
        raise NotImplementedError

    def _add_pause(self, ro: Rollout, reason: str) -> None:
        raise NotImplementedError

    def _abort(self, ro: Rollout, message: str) -> None:
        raise NotImplementedError

    def _run(self, ro: Rollout, name: str) -> analysis.AnalysisRun | None:
        return self.api.store.get(*analysisspec.ANALYSIS_RUN, name, ro.meta.namespace) if name else None

    def _terminate(self, run: analysis.AnalysisRun | None) -> None:
        """cancelAnalysisRuns: spec.terminate on a run that has not completed."""
        if run is None or run.completed or run.terminating:
            return
        run.spec = {**run.spec, "terminate": True}
        self.api.store.update(run, spec_changed=True)

    def _analysis_runs(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> None:
        """reconcileAnalysisRuns for the canary: the step's run, then the background one."""
        owned = [r for r in self.api.store.dependents(ro) if isinstance(r, analysis.AnalysisRun)]
        if ro.abort or ro.promote_full or not ro.stable_hash:
            for run in owned:
                self._terminate(run)
            ro.step_run = ro.background_run = ""
            return
        ro.step_run = self._step_run(ro, new_rs, stable_rs)
        ro.background_run = self._background_run(ro, new_rs, stable_rs)
        for run in owned:
            if run.name not in (ro.step_run, ro.background_run):
                self._terminate(run)

    def _needs_new_run(self, ro: Rollout, run: analysis.AnalysisRun | None) -> bool:
        """needsNewAnalysisRun."""
        if run is None:
            return True
        if ro.controller_pause and CANARY_PAUSE_STEP not in ro.pause_conditions:
            return run.phase == analysis.INCONCLUSIVE
        return False

    def _react(self, ro: Rollout, run: analysis.AnalysisRun, what: str) -> None:
        """An Inconclusive run pauses the rollout; an Error or Failed one aborts it."""
        if run.phase == analysis.INCONCLUSIVE:
            self._add_pause(ro, INCONCLUSIVE_ANALYSIS)
        elif run.phase in (analysis.ERROR, analysis.FAILED):
            message = f"{what} analysis phase error/failed" + (f": {run.message}" if run.message else "")
            self._abort(ro, message)

    def _step_run(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> str:
        """reconcileStepBasedAnalysisRun."""
        step, index = ro.current_step()
        run = self._run(ro, ro.step_run)
        if ro.pause_conditions or ro.abort:
            return ro.step_run
        from_previous = run is not None and run.meta.labels.get(STEP_INDEX_LABEL) != str(index)
        if step is None or "analysis" not in step or from_previous:
            self._terminate(run)
            return ""
        if self._needs_new_run(ro, run):
            run = self._create_run(
                ro, step["analysis"], new_rs, stable_rs, str(index), {STEP_INDEX_LABEL: str(index)}
            )
            return run.name if run is not None else ""
        assert run is not None
        self._react(ro, run, "Step-based")
        return run.name

    def _background_run(
        self, ro: Rollout, new_rs: replicaset.ReplicaSet, stable_rs: replicaset.ReplicaSet | None
    ) -> str:
        """reconcileBackgroundAnalysisRun."""
        block = ro.canary.get("analysis")
        run = self._run(ro, ro.background_run)
        if not block:
            self._terminate(run)
            return ""
        _, index = ro.current_step()
        before_start = "startingStep" in block and index < int(block["startingStep"])
        if ro.fully_promoted() or not ro.stable_hash or before_start:
            return ""
        if INCONCLUSIVE_ANALYSIS in ro.pause_conditions:
            return ro.background_run
        if self._needs_new_run(ro, run):
            run = self._create_run(ro, block, new_rs, stable_rs, "", {"rollout-type": "Background"})
            return run.name if run is not None else ""
        assert run is not None
        self._react(ro, run, "Background")
        return run.name

    def _create_run(
        self,
        ro: Rollout,
        block: dict[str, Any],
        new_rs: replicaset.ReplicaSet,
        stable_rs: replicaset.ReplicaSet | None,
        infix: str,
        labels: dict[str, str],
    ) -> analysis.AnalysisRun | None:
        """newAnalysisRunFromRollout + NewAnalysisRunFromTemplates (args merged: the Rollout's
        values win over the templates')."""
        st = self.api.store
        metrics: list[dict[str, Any]] = []
        args: dict[str, str | None] = {}
        for ref in block.get("templates") or []:
            key = (
                analysisspec.CLUSTER_ANALYSIS_TEMPLATE
                if ref.get("clusterScope")
                else analysisspec.ANALYSIS_TEMPLATE
            )
            template = st.get(
                *key, ref.get("templateName"), "" if ref.get("clusterScope") else ro.meta.namespace
            )
            if template is None:
                self.record(
                    ro,
                    timeline.ANALYSIS_TEMPLATE_NOT_FOUND,
                    f"{key[1]} {ref.get('templateName')!r} not found",
                    timeline.WARNING,
                )
                return None
            metrics.extend(copy.deepcopy(template.spec.get("metrics") or []))
            for a in template.spec.get("args") or []:
                if a.get("value") is not None or a["name"] not in args:
                    args[a["name"]] = None if a.get("value") is None else str(a["value"])
        for a in block.get("args") or []:
            source = (a.get("valueFrom") or {}).get("podTemplateHashValue")
            if source == "Latest":
                args[a["name"]] = new_rs.meta.labels.get(HASH_LABEL, "")
            elif source == "Stable":
                args[a["name"]] = stable_rs.meta.labels.get(HASH_LABEL, "") if stable_rs is not None else ""
            else:
                args[a["name"]] = None if a.get("value") is None else str(a["value"])
        h = new_rs.meta.labels.get(HASH_LABEL, "")
        name = "-".join(p for p in (ro.name, h, str(ro.revision), infix) if p)
        n, base = 1, name
        while (
            st.get(*analysisspec.ANALYSIS_RUN, name, ro.meta.namespace) is not None
        ):  # CreateWithCollisionCounter
            name = f"{base}.{n}"
            n += 1
        run = analysis.AnalysisRun(
            meta=store.Meta(
                name=name,
                namespace=ro.meta.namespace,
                labels={**labels, HASH_LABEL: h, **(ro.spec.get("selector") or {}).get("matchLabels", {})},
                annotations={rolloutspec.REVISION: str(ro.revision)},
                owner_references=[store.OwnerReference(*ROLLOUT, ro.name, ro.meta.uid)],
            ),
            spec={"metrics": metrics, "args": [{"name": k, "value": v} for k, v in args.items()]},
        )
        self.record(
            ro,
            timeline.ANALYSIS_RUN_RUNNING,
            f"Analysis Run '{name}' Status New: 'Running' Previous: ''",
            analysis_run=name,
        )
        st.create(run)
        return run
