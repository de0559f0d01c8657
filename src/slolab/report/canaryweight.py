"""A canary's story for the timeline: its ReplicaSets' ready pods, its weight, its analyses.

From the replicas panel's PromQL series of a Rollout (``promseries``: ready replicas of each
ReplicaSet the Rollout owns) and the run's events, the same on every backend:

* which ReplicaSet is stable when: the one named by the last ``RolloutCompleted`` event so far,
  whose message is argo-rollouts v1.9.1 utils/conditions/conditions.go RolloutCompletedMessage
  ("Rollout completed update to revision %d (%s): %s", the pod template hash; rollout/sync.go
  emits it when stableRS becomes currentPodHash); before the first such event, the ReplicaSet
  whose pods were ready first. A Rollout's ReplicaSet is named ``<rollout>-<pod template hash>``
  (rollout/replicaset.go), so the hash is the name's last part. Another ReplicaSet with ready
  pods is a canary when it was scaled up after the stable one (the update's, or an older
  revision rolled back to), else an old one on its way down after a promotion.
* the canary weight: without a traffic router the Service selects the pods of both ReplicaSets,
  so the canary's share of the traffic is its share of the pods: the canary's ready pods over
  all ready pods, in % (pkg/kubectl-argo-rollouts/info/rollout_info.go NewRolloutInfo,
  ActualWeight; docs/features/canary.md: without traffic management the controller makes a best
  effort at the last setWeight through the numbers of new and old pods); NaN when no pod is ready.
* the image of each ReplicaSet (``images``): its pod template's, read from the API when the
  grade ends (``graderun.Snapshot``), as ``kubectl argo rollouts get rollout`` shows it;
* each AnalysisRun's outcome: its ``AnalysisRun<Phase>`` event (analysis/analysis.go
  recordAnalysisRunCompletionEvent), with the last measurement of each metric when the event
  carries them (the simulator's; on kind the grader's evidence quotes the AnalysisRun).
"""

from __future__ import annotations

import math
import re
from typing import Any

from slolab import errors
from slolab.backends import base
from slolab.report import promseries
from slolab.run import timeline as run_timeline

STABLE = "stable"
CANARY = "canary"
OLD = "old"
#: the outcomes of an AnalysisRun (argo-rollouts v1.9.1 pkg/apis/rollouts/v1alpha1 AnalysisPhase)
OUTCOMES = ("Successful", "Failed", "Error", "Inconclusive")
_COMPLETED_HASH = re.compile(r"Rollout completed update to revision \d+ \(([^)]+)\)")

Points = list[tuple[float, float]]


def replicasets(prom: dict[str, Any]) -> dict[str, Points]:
    """{ReplicaSet name: ready replicas} of the replicas panel's per-ReplicaSet series."""
    panel = prom["series"].get("replicas", {})
    return {
        label.removeprefix(promseries.READY_RS): points
        for label, points in panel.items()
        if label.startswith(promseries.READY_RS)
    }


def images(cluster: base.Cluster, rollout: str) -> dict[str, str]:
    """{ReplicaSet name: its pod template's images, short ("serve:0.2.0")} of the ReplicaSets
    ``rollout`` owns now (a scaled-down one stays, up to revisionHistoryLimit); the timeline's
    labels name a version by them. Empty when they cannot be listed."""
    out = {}
    try:
        replicasets = cluster.list("ReplicaSet")
    except errors.SlolabError:  # the labels only lose their images
        return {}
    for rs in replicasets:
        meta = rs.get("metadata") or {}
        owners = meta.get("ownerReferences") or []
        if not any(o.get("kind") == promseries.ROLLOUT and o.get("name") == rollout for o in owners):
            continue
        containers = (
            (((rs.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
        ) or []
        short = dict.fromkeys(
            str(c.get("image", "")).rpartition("/")[2] for c in containers if c.get("image")
        )
        out[meta["name"]] = "+".join(short)
    return out


def completions(events: list[dict[str, Any]], rollout: str) -> list[tuple[float, str]]:
    """(time_s, pod template hash) of each ``RolloutCompleted`` of ``rollout``, by time."""
    out = []
    for e in events:
        if (
            e["kind"] == "Rollout"
            and e["name"] == rollout
            and e["reason"] == run_timeline.ROLLOUT_COMPLETED
            and (m := _COMPLETED_HASH.search(e.get("message") or ""))
        ):
            out.append((float(e["time_s"]), m.group(1)))
    return sorted(out)


def _first_ready_s(points: Points) -> float:
    return next((t for t, v in points if v > 0), math.inf)


def _value_at(points: Points, time_s: float) -> float:
    """The value of a step series at ``time_s`` (0 before its first point, NaN read as 0)."""
    value = 0.0
    for t, v in points:
        if t > time_s:
            break
        value = 0.0 if math.isnan(v) else v
    return value


def _rose_s(points: Points, time_s: float) -> float:
    """When the series last rose from no ready pod to some, at or before ``time_s`` (-inf: never)."""
    rose, before = -math.inf, 0.0
    for t, v in points:
        if t > time_s:
            break
        v = 0.0 if math.isnan(v) else v
        if v > 0 and before <= 0:
            rose = t
        before = v
    return rose


def stable_at(
    time_s: float, series: dict[str, Points], completed: list[tuple[float, str]], rollout: str
) -> str | None:
    """The stable ReplicaSet's name at ``time_s`` (see the module doc), None when none is known."""
    done = [h for t, h in completed if t <= time_s]
    if done:
        return f"{rollout}-{done[-1]}"
    first = min(series, key=lambda rs: (_first_ready_s(series[rs]), rs), default=None)
    return first if first is not None and _first_ready_s(series[first]) < math.inf else None


def role_at(rs: str, time_s: float, series: dict[str, Points], stable: str | None) -> str:
    """``STABLE``; ``CANARY`` for a ReplicaSet scaled up after the stable one last was (the new
    revision, or an older one rolled back to); else ``OLD`` (the previous stable, scaled down)."""
    if rs == stable:
        return STABLE
    if stable is None or stable not in series:
        return CANARY
    return CANARY if _rose_s(series[rs], time_s) > _rose_s(series[stable], time_s) else OLD


def lines(
    series: dict[str, Points],
    events: list[dict[str, Any]],
    rollout: str,
    images: dict[str, str] | None = None,
) -> tuple[dict[str, Points], Points]:
    """Each ReplicaSet's ready pods labelled with its hash, image (from ``images``, when known)
    and roles over the run ("4tf8lgmjt6 serve:0.1.0 stable → old", "bl9p54cc97 serve:0.2.1
    canary → stable"), and the canary weight in % at each sample."""
    completed = completions(events, rollout)
    samples = {t for points in series.values() for t, _ in points}
    roles: dict[str, list[str]] = {rs: [] for rs in series}
    weight: Points = []
    for t in sorted({*samples, *(c for c, _ in completed)}):  # a promotion after the last sample too
        stable = stable_at(t, series, completed, rollout)
        ready = {rs: _value_at(points, t) for rs, points in series.items()}
        role = {rs: role_at(rs, t, series, stable) for rs in series}
        for rs, n in ready.items():
            if n > 0 and (not roles[rs] or roles[rs][-1] != role[rs]):
                roles[rs].append(role[rs])
        if t in samples:
            total = sum(ready.values())
            canary = sum(n for rs, n in ready.items() if role[rs] == CANARY)
            weight.append((t, 100.0 * canary / total if total else math.nan))
    labelled = {}
    for rs, points in series.items():
        name = " ".join(filter(None, (rs.removeprefix(f"{rollout}-"), (images or {}).get(rs))))
        labelled[f"{name} {' → '.join(roles[rs]) or 'never ready'}"] = points
    return labelled, weight


def _number(value: Any) -> str:
    """A measurement's value as Argo stores it ("[0.035]"), shortened to 3 significant digits."""
    text = str(value)
    return re.sub(r"-?\d+\.\d+(?:e-?\d+)?", lambda m: f"{float(m.group(0)):.3g}", text)


def analysis_outcomes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each AnalysisRun that completed: ``{time_s, name, phase, message, measurements}``, the
    measurements ``{metric: "value phase"}`` of the last one per metric (empty when the event
    carries none)."""
    out = []
    for e in events:
        if e["kind"] != "AnalysisRun" or not e["reason"].startswith(run_timeline.ANALYSIS_RUN_PREFIX):
            continue
        phase = e["reason"].removeprefix(run_timeline.ANALYSIS_RUN_PREFIX)
        if phase not in OUTCOMES:
            continue
        measured = (e.get("data") or {}).get("measurements") or {}
        last = {metric: f"{_number(rows[-1][1])} {rows[-1][2]}" for metric, rows in measured.items() if rows}
        out.append(
            {
                "time_s": float(e["time_s"]),
                "name": e["name"],
                "phase": phase,
                "message": e.get("message") or "",
                "measurements": last,
            }
        )
    return out
