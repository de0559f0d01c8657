"""The AnalysisRun controller: it takes each metric's measurements through the prometheus provider
and decides the run's outcome.

Upstream: argoproj/argo-rollouts v1.9.1
- analysis/analysis.go: reconcileAnalysisRun (args resolved first: an unresolved one makes the
  run Error, "Unable to resolve metric arguments"), generateMetricTasks (the first measurement
  at once or after initialDelay from the run's start; the next one interval after the last
  finished, or DefaultErrorRetryInterval (10 s) after an Error; none once count is reached or
  the run is terminating), runMeasurements (the counters: count, successful, failed,
  inconclusive, error, consecutiveError), assessMetricStatus and
  assessMetricFailureInconclusiveOrError (Failed when failed > failureLimit, Inconclusive when
  inconclusive > inconclusiveLimit, Error when consecutiveError > consecutiveErrorLimit
  (default 4); Successful once count is reached; a terminated run is Successful unless a metric
  did worse), assessRunStatus (the worst metric decides, in the order Successful < Running <
  Pending < Inconclusive < Error < Failed: utils/analysis/helpers.go IsWorse), and the events
  Metric<Phase> and AnalysisRun<Phase> (recordAnalysisRunCompletionEvent);
- metricproviders/prometheus/prometheus.go: Run and processResponse (a vector becomes
  ``result`` as a list of floats, empty when nothing matched; a scalar a float; the value
  recorded as "[v1,v2]"; a query error is a measurement Error);
- utils/evaluate/evaluate.go EvaluateResult (no conditions: Successful; only a success
  condition: Failed when it is false; only a failure condition: Successful when it is false;
  both false: Inconclusive; an evaluation error: Error).
Queries run through the simulator's PromQL at the instant of the measurement
(``controller.API.prom_query``), as KEDA's prometheus scaler does. Not modelled: other
providers, dry-run metrics, measurement retention (every measurement is kept), consecutiveSuccessLimit.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import Any, ClassVar

from slolab import errors
from slolab.run import timeline
from slolab.sim import analysisspec, controller, expr, objects, store

SUCCESSFUL, RUNNING, PENDING = "Successful", "Running", "Pending"
INCONCLUSIVE, ERROR, FAILED = "Inconclusive", "Error", "Failed"
COMPLETED = (SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE)
_ORDER = (SUCCESSFUL, RUNNING, PENDING, INCONCLUSIVE, ERROR, FAILED)  # analysisStatusOrder
ERROR_RETRY_S = 10.0  # DefaultErrorRetryInterval
_EPS = 1e-9


def is_worse(current: str, new: str) -> bool:
    return _ORDER.index(new) > _ORDER.index(current)


@dataclasses.dataclass
class Measurement:
    phase: str
    value: str
    started_s: float
    finished_s: float
    message: str = ""

    def to_api(self) -> dict[str, Any]:
        out = {
            "phase": self.phase,
            "value": self.value,
            "startedAt": objects.timestamp(self.started_s),
            "finishedAt": objects.timestamp(self.finished_s),
        }
        if self.message:
            out["message"] = self.message
        return out


@dataclasses.dataclass
class MetricResult:
    name: str
    phase: str = RUNNING
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    message: str = ""
    measurements: list[Measurement] = dataclasses.field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "phase": self.phase,
            "count": self.count,
            "successful": self.successful,
            "failed": self.failed,
            "inconclusive": self.inconclusive,
            "error": self.error,
            "consecutiveError": self.consecutive_error,
            "measurements": [m.to_api() for m in self.measurements],
        }
        if self.message:
            out["message"] = self.message
        return out


@dataclasses.dataclass(eq=False)
class AnalysisRun:
    """spec: metrics (the templates', merged), args (name, value), terminate."""

    api_version: ClassVar[str] = analysisspec.API_VERSION
    kind: ClassVar[str] = "AnalysisRun"

    meta: store.Meta
    spec: dict[str, Any]
    phase: str = PENDING
    message: str = ""
    started_s: float | None = None
    completed_s: float | None = None
    results: dict[str, MetricResult] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED

    @property
    def terminating(self) -> bool:
        return bool(self.spec.get("terminate"))

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return self.spec.get("metrics") or []

    def to_api(self, now_s: float, st: store.Store) -> dict[str, Any]:
        summary = {"count": len(self.metrics), SUCCESSFUL: 0, FAILED: 0, INCONCLUSIVE: 0, ERROR: 0}
        for r in self.results.values():
            if r.phase in summary:
                summary[r.phase] += 1
        status: dict[str, Any] = {
            "phase": self.phase,
            "metricResults": [r.to_api() for r in self.results.values()],
            "runSummary": {
                "count": summary["count"],
                "successful": summary[SUCCESSFUL],
                "failed": summary[FAILED],
                "inconclusive": summary[INCONCLUSIVE],
                "error": summary[ERROR],
            },
        }
        if self.message:
            status["message"] = self.message
        if self.started_s is not None:
            status["startedAt"] = objects.timestamp(self.started_s)
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.meta.to_api(),
            "spec": copy.deepcopy(self.spec),
            "status": status,
        }


RUN_KIND = controller.Kind(*analysisspec.ANALYSIS_RUN)


def evaluate(metric: dict[str, Any], result: Any) -> str:
    """evaluate.EvaluateResult: the phase of one measurement (raises ExprError on Error)."""
    success_text, failure_text = metric.get("successCondition"), metric.get("failureCondition")
    success = failure = False
    if success_text:
        success = expr.compile_condition(str(success_text)).condition(result)
    if failure_text:
        failure = expr.compile_condition(str(failure_text)).condition(result)
    if not success_text and not failure_text:
        return SUCCESSFUL
    if success_text and not failure_text:
        failure = not success
    elif failure_text and not success_text:
        success = not failure
    if failure:
        return FAILED
    return SUCCESSFUL if success else INCONCLUSIVE


def _format(v: float) -> str:
    """model.SampleValue.String (strconv.FormatFloat 'f', -1)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)).removesuffix(".0") if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


def limits(metric: dict[str, Any]) -> tuple[int, int, int]:
    """(failureLimit, inconclusiveLimit, consecutiveErrorLimit) with their defaults."""
    return (
        analysisspec.int_value(metric.get("failureLimit", 0)),
        analysisspec.int_value(metric.get("inconclusiveLimit", 0)),
        analysisspec.int_value(
            metric.get("consecutiveErrorLimit", analysisspec.DEFAULT_CONSECUTIVE_ERROR_LIMIT)
        ),
    )


def effective_count(metric: dict[str, Any]) -> int | None:
    """Metric.EffectiveCount: 1 without count and interval, None (forever) with interval only."""
    count = analysisspec.int_value(metric.get("count", 0) or 0)
    if count == 0:
        return None if metric.get("interval") else 1
    return count


def failure_inconclusive_or_error(metric: dict[str, Any], r: MetricResult) -> tuple[str, str]:
    """assessMetricFailureInconclusiveOrError: ("", "") when no limit is exceeded."""
    failure_limit, inconclusive_limit, error_limit = limits(metric)
    phase, message = "", ""
    if failure_limit >= 0 and r.failed > failure_limit:
        phase, message = FAILED, f"failed ({r.failed}) > failureLimit ({failure_limit})"
    if r.inconclusive > inconclusive_limit:
        phase = INCONCLUSIVE
        message = f"inconclusive ({r.inconclusive}) > inconclusiveLimit ({inconclusive_limit})"
    if r.consecutive_error > error_limit:
        phase = ERROR
        message = f"consecutiveErrors ({r.consecutive_error}) > consecutiveErrorLimit ({error_limit})"
    return phase, message


def assess_metric(metric: dict[str, Any], r: MetricResult, terminating: bool) -> str:
    """assessMetricStatus."""
    if r.phase in COMPLETED:
        return r.phase
    if not r.measurements:
        return SUCCESSFUL if terminating else PENDING
    phase, _ = failure_inconclusive_or_error(metric, r)
    if phase:
        return phase
    count = effective_count(metric)
    if count is not None and r.count >= count:
        return SUCCESSFUL
    return SUCCESSFUL if terminating else RUNNING


class Controller(controller.Controller):
    """reconcileAnalysisRun for every AnalysisRun that has not completed."""

    name = "analysis-controller"
    owns = (analysisspec.TEMPLATE_KIND, analysisspec.CLUSTER_TEMPLATE_KIND, RUN_KIND)
    watches = (analysisspec.ANALYSIS_RUN,)

    def reconcile(self) -> bool:
        changed = False
        for run in self.api.store.list(*analysisspec.ANALYSIS_RUN):
            if not run.completed:
                changed |= self.sync(run)
        return changed

    def sync(self, run: AnalysisRun) -> bool:
        now = self.api.now_s
        changed = run.started_s is None
        if run.started_s is None:
            run.started_s = now
        args = {str(a.get("name")): a.get("value") for a in run.spec.get("args") or []}
        try:
            queries = {
                m["name"]: analysisspec.resolve(str(m["provider"]["prometheus"]["query"]), args)
                for m in run.metrics
            }
        except ValueError as e:
            return self._finish(run, ERROR, f"Unable to resolve metric arguments: {e}")
        for metric in run.metrics:
            r = run.results.setdefault(metric["name"], MetricResult(metric["name"]))
            if self._due(run, metric, r, now):
                self._measure(metric, r, queries[metric["name"]], now)
                changed = True
        phase, message = self._assess(run)
        if phase in COMPLETED:
            return self._finish(run, phase, message)
        if not changed and run.phase == phase:
            return False  # woken early (its own write, another run's): nothing due yet
        run.phase = phase
        next_s = self._next_s(run, now)
        if next_s is not None:
            self.api.requeue_at(self, next_s)
        self.api.store.update(run)
        return True

    # generateMetricTasks
    def _due(self, run: AnalysisRun, metric: dict[str, Any], r: MetricResult, now: float) -> bool:
        next_s = self._metric_next_s(run, metric, r)
        return next_s is not None and next_s <= now + _EPS

    def _metric_next_s(self, run: AnalysisRun, metric: dict[str, Any], r: MetricResult) -> float | None:
        if r.phase in COMPLETED or run.terminating:
            return None
        assert run.started_s is not None
        if not r.measurements:
            return run.started_s + analysisspec.duration_s(metric.get("initialDelay") or 0)
        count = effective_count(metric)
        if count is not None and r.count >= count:
            return None
        last = r.measurements[-1]
        if last.phase == ERROR or not metric.get("interval"):
            interval = ERROR_RETRY_S
        else:
            interval = analysisspec.duration_s(metric["interval"])
        return last.finished_s + interval

    def _next_s(self, run: AnalysisRun, now: float) -> float | None:
        """calculateNextReconcileTime."""
        times = [
            t for m in run.metrics if (t := self._metric_next_s(run, m, run.results[m["name"]])) is not None
        ]
        return max(min(times), now) if times else None

    # prometheus provider Run + runMeasurements
    def _measure(self, metric: dict[str, Any], r: MetricResult, query: str, now: float) -> None:
        value, phase, message = "", ERROR, ""
        try:
            response = self.api.prom_query(query)
            if response and not isinstance(response[0], dict):  # a scalar: [time, "value"]
                result: Any = float(response[1])
                value = _format(result)
            else:
                result = [float(s["value"][1]) for s in response]
                value = "[" + ",".join(_format(v) for v in result) + "]"
            phase = evaluate(metric, result)
        except (errors.PromQLError, expr.ExprError, ValueError) as e:
            phase, message = ERROR, str(e)
        r.measurements.append(Measurement(phase, value, now, now, message))
        if phase == ERROR:
            r.error += 1
            r.consecutive_error += 1
        else:
            r.count += 1
            r.consecutive_error = 0
            if phase == SUCCESSFUL:
                r.successful += 1
            elif phase == FAILED:
                r.failed += 1
            else:
                r.inconclusive += 1

    # assessRunStatus
    def _assess(self, run: AnalysisRun) -> tuple[str, str]:
        worst, message = "", "Run Terminated" if run.terminating else ""
        everything = True
        for metric in run.metrics:
            r = run.results[metric["name"]]
            status = assess_metric(metric, r, run.terminating)
            if status != r.phase:
                if status in COMPLETED:
                    self.api.record(
                        "AnalysisRun",
                        run.name,
                        timeline.METRIC_PREFIX + status,
                        f"Metric '{r.name}' Completed. Result: {status}",
                        timeline.WARNING if status in (ERROR, FAILED) else timeline.NORMAL,
                        metric=r.name,
                    )
                if r.measurements:
                    r.message = r.measurements[-1].message
                r.phase = status
            if status not in COMPLETED:
                everything = False
                continue
            _, why = failure_inconclusive_or_error(metric, r)
            if not worst or is_worse(worst, status):
                worst = status
                if why:
                    message = f'Metric "{r.name}" assessed {status} due to {why}'
                    if r.message:
                        message += f': "Error Message: {r.message}"'
        if run.terminating:
            return (worst or SUCCESSFUL), message
        if not everything or not worst:
            return RUNNING, ""
        return worst, message

    def _finish(self, run: AnalysisRun, phase: str, message: str) -> bool:
        run.phase, run.message, run.completed_s = phase, message, self.api.now_s
        self.api.record(
            "AnalysisRun",
            run.name,
            timeline.ANALYSIS_RUN_PREFIX + phase,
            f"Analysis Completed. Result: {phase}" + (f": {message}" if message else ""),
            timeline.WARNING if phase in (ERROR, FAILED) else timeline.NORMAL,
            phase=phase,
            measurements={
                r.name: [(m.started_s, m.value, m.phase) for m in r.measurements]
                for r in run.results.values()
            },
        )
        self.api.store.update(run)
        return True
