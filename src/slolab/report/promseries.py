"""The timeline's series from PromQL over the run, through ``lab.prom`` on every backend.

Range queries over the whole run (run seconds, ``step_s`` apart), the same on sim (the run's
TSDB), kind/cluster (the platform's Prometheus) and fake (scripted answers):

* replicas: ``kube_deployment_spec_replicas`` (desired), ``kube_deployment_status_replicas``
  (all pods, surge included) and ``kube_deployment_status_replicas_available`` of the lab's
  Deployment, and ``kube_horizontalpodautoscaler_status_desired_replicas`` of the namespace's
  HPAs when there are any (kube-state-metrics). When the lab's target is an Argo Rollout
  (``target_kind``) instead: ``kube_replicaset_status_ready_replicas`` of each ReplicaSet the
  Rollout owns, joined through ``kube_replicaset_owner{owner_kind="Rollout",owner_name=...}``
  (kube-state-metrics v2.20.0 docs/metrics/workload/replicaset-metrics.md), one series per
  ReplicaSet (``slolab.report.canaryweight`` names them stable/canary and derives the weight);
* queue: ``vllm:num_requests_waiting`` and ``vllm:num_requests_running`` summed over the lab's
  namespace (vLLM, research/components.md §1);
* TTFT p99: ``histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket
  [1m])))`` in the namespace, in ms, drawn against the SLO line.

``fetch`` never raises for missing metrics: a Prom that cannot answer (a BackendError, e.g. no
Prometheus reachable) or answers with no series gives a ``note`` per panel that the plot shows
instead of a line ("no metrics: ..."). The result is small plain data, pickled to the plot worker.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from slolab import errors
from slolab.backends import base

#: Points per range query at most (the step grows for long runs).
MAX_POINTS = 400
#: The step of the range queries: the default scrape interval of kube-prometheus-stack.
STEP_S = 15.0
PANELS = ("replicas", "queue", "ttft")
#: The label of the Deployment's desired replicas on the replicas panel (scale markers use it).
DESIRED = "desired"
HPA_DESIRED = "kube_horizontalpodautoscaler_status_desired_replicas"
DEPLOYMENT = "Deployment"
ROLLOUT = "Rollout"
#: The label prefix of a Rollout's ReplicaSet's ready replicas (the ReplicaSet's name follows).
READY_RS = "ready replicaset "


@dataclasses.dataclass(frozen=True)
class Query:
    panel: str
    label: str
    expr: str
    scale: float = 1.0
    #: a label of the answer's series: one line per value, labelled ``label + value``; empty:
    #: the answer is one series (a ``sum``)
    by: str = ""


def _matcher(**labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def _workload(namespace: str, name: str, kind: str) -> list[Query]:
    if kind == ROLLOUT:
        owner = _matcher(namespace=namespace, owner_kind=ROLLOUT, owner_name=name)
        ready = (
            f"kube_replicaset_status_ready_replicas{{{_matcher(namespace=namespace)}}}"
            f" * on (namespace, replicaset) group_left () kube_replicaset_owner{{{owner}}}"
        )
        return [Query("replicas", READY_RS, f"sum by (replicaset) ({ready})", by="replicaset")]
    deploy = _matcher(namespace=namespace, deployment=name)
    return [
        Query("replicas", DESIRED, f"sum(kube_deployment_spec_replicas{{{deploy}}})"),
        Query("replicas", "all pods", f"sum(kube_deployment_status_replicas{{{deploy}}})"),
        Query("replicas", "available", f"sum(kube_deployment_status_replicas_available{{{deploy}}})"),
    ]


def queries(namespace: str, deployment: str, kind: str = DEPLOYMENT) -> list[Query]:
    """The timeline's queries for the lab's workload ``deployment`` in ``namespace``: a
    Deployment, or with ``kind`` ``ROLLOUT`` the Argo Rollout of that name."""
    ns = _matcher(namespace=namespace)
    ttft = f"rate(vllm:time_to_first_token_seconds_bucket{{{ns}}}[1m])"
    return [
        *_workload(namespace, deployment, kind),
        Query("queue", "waiting", f"sum(vllm:num_requests_waiting{{{ns}}})"),
        Query("queue", "running", f"sum(vllm:num_requests_running{{{ns}}})"),
        Query("ttft", "TTFT p99 (server)", f"histogram_quantile(0.99, sum by (le) ({ttft}))", 1000.0),
        # what the autoscalers in the namespace want (an HPA's, or the one KEDA made); no series
        # and no line when there is none
        Query("replicas", "HPA desired", f"sum({HPA_DESIRED}{{{ns}}})"),
    ]


def target_kind(cluster: base.Cluster, name: str) -> str:
    """``ROLLOUT`` when the lab's target ``name`` is an Argo Rollout (canary-rollout: the Rollout
    takes the Deployment's place, as charts/llm-serving makes it), else ``DEPLOYMENT``."""
    try:
        return ROLLOUT if cluster.get(ROLLOUT, name) is not None else DEPLOYMENT
    except errors.SlolabError:  # no Argo Rollouts API on this cluster
        return DEPLOYMENT


def step_for(end_s: float) -> float:
    """``STEP_S``, or a whole multiple of it that keeps a run under ``MAX_POINTS`` points."""
    return STEP_S * max(1, math.ceil(end_s / STEP_S / MAX_POINTS))


def _points(series: dict[str, Any], scale: float) -> list[tuple[float, float]]:
    """One series of a range answer as (t_s, value) pairs."""
    return [(float(t), float(v) * scale) for t, v in series.get("values", [])]


def _lines(q: Query, result: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """{label: points} of one answer: its one series (a ``sum``), or one per value of ``q.by``."""
    if not q.by:
        return {q.label: _points(result[0], q.scale)} if result else {}
    by_value = ((str(s.get("metric", {}).get(q.by, "")), s) for s in result)
    return {q.label + value: _points(s, q.scale) for value, s in sorted(by_value, key=lambda vs: vs[0])}


def fetch(prom: base.Prom, wanted: list[Query], end_s: float, step_s: float | None = None) -> dict[str, Any]:
    """Ask ``prom`` each query over ``[0, end_s]``: ``{"series": {panel: {label: points}},
    "notes": {panel: why it has no line}, "exprs": {panel: [expr, ...]}}`` (for a Rollout the
    caller adds ``"images": {ReplicaSet: image}``, ``canaryweight.images``)."""
    step = step_s or step_for(end_s)
    series: dict[str, dict[str, list[tuple[float, float]]]] = {p: {} for p in PANELS}
    exprs: dict[str, list[str]] = {p: [] for p in PANELS}
    failure: str | None = None
    for q in wanted:
        exprs[q.panel].append(q.expr)
        if failure is not None:
            continue
        try:
            lines = _lines(q, prom.query_range(q.expr, 0.0, end_s, step))
        except errors.SlolabError as exc:  # no Prometheus, or none yet on this backend
            failure = str(exc).splitlines()[0]
            continue
        for label, points in lines.items():
            if any(not math.isnan(v) for _, v in points):
                series[q.panel][label] = points
    notes = {}
    for panel in PANELS:
        if series[panel]:
            continue
        notes[panel] = (
            f"no metrics: {failure}"
            if failure
            else "no metrics: " + " and ".join(exprs[panel]) + " returned no data"
        )
    return {"series": series, "notes": notes, "exprs": exprs, "step_s": step}


def empty(reason: str) -> dict[str, Any]:
    """``fetch``'s shape with no data, every panel noting ``reason``."""
    return {
        "series": {p: {} for p in PANELS},
        "notes": {p: f"no metrics: {reason}" for p in PANELS},
        "exprs": {p: [] for p in PANELS},
        "step_s": STEP_S,
    }
