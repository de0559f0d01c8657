"""The timeline of a canary (issue 13 item 5): a Rollout's ReplicaSets and weight over time, its
AnalysisRuns' outcomes, and marker labels that do not overlap.

Documented behaviour followed: without a traffic router the canary's weight is its share of the
pods (argo-rollouts v1.9.1 pkg/kubectl-argo-rollouts/info/rollout_info.go NewRolloutInfo,
ActualWeight: the canary's available pods over the Rollout's); a promotion's event names the new
stable pod template hash (utils/conditions/conditions.go RolloutCompletedMessage); a Rollout's
ReplicaSet is ``<rollout>-<hash>`` (rollout/replicaset.go); the ReplicaSet's owner is joined
through ``kube_replicaset_owner{owner_kind, owner_name}`` (kube-state-metrics v2.20.0
docs/metrics/workload/replicaset-metrics.md).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from slolab import errors
from slolab.backends import sim as sim_backend
from slolab.catalog import lab as lab_mod
from slolab.grading import graderun
from slolab.metrics import local
from slolab.report import canaryweight, jsonreport, promseries, timeline
from slolab.workspace import variants

NS = "lab-canary-rollout"


def completed(t: float, revision: int, pod_hash: str, why: str = "Completed all 6 canary steps") -> dict:
    message = f"Rollout completed update to revision {revision} ({pod_hash}): {why}"
    return {"time_s": t, "kind": "Rollout", "name": "llm", "reason": "RolloutCompleted", "message": message}


def test_a_canary_is_the_replicaset_scaled_up_after_the_stable_one_and_its_weight_its_share() -> None:
    """Stable "aaa" (4 pods); canary "bbb" gets 1 pod (weight 1/5 = 20%, then 1/4 = 25% once a
    stable pod went: maxSurge 1, maxUnavailable 0), 2 of 4 (50%), then is promoted at 50 s: "aaa"
    scales down as the old one, which is no canary (weight 0)."""
    series = {
        "llm-aaa": [(0, 4), (15, 4), (30, 3), (45, 2), (60, 1), (75, 0)],
        "llm-bbb": [(0, 0), (15, 1), (30, 1), (45, 2), (60, 4), (75, 4)],
    }
    events = [completed(5, 1, "aaa", "Initial deploy"), completed(50, 2, "bbb")]
    labelled, weight = canaryweight.lines(series, events, "llm")
    assert list(labelled) == ["aaa stable → old", "bbb canary → stable"]
    assert weight == [(0, 0.0), (15, 20.0), (30, 25.0), (45, 50.0), (60, 0.0), (75, 0.0)]


def test_an_aborted_canary_goes_to_zero_and_no_pod_ready_is_no_weight() -> None:
    series = {"llm-aaa": [(0, 0), (15, 4), (30, 4), (45, 4)], "llm-bad": [(0, 0), (15, 0), (30, 1), (45, 0)]}
    # no RolloutCompleted in the run (on kind the first revision completed before it): the
    # ReplicaSet whose pods were ready first is the stable one
    labelled, weight = canaryweight.lines(series, [], "llm")
    assert list(labelled) == ["aaa stable", "bad canary"]
    assert math.isnan(weight[0][1]) and weight[1:] == [(15, 0.0), (30, 20.0), (45, 0.0)]


def test_analysis_outcomes_keep_each_metrics_last_measurement() -> None:
    measurements = {"error-ratio": [[60, "[0]", "Successful"], [90, "[0.0350154870]", "Failed"]]}
    events = [
        {"time_s": 30, "kind": "Rollout", "name": "llm", "reason": "AnalysisRunRunning", "message": ""},
        {"time_s": 90, "kind": "AnalysisRun", "name": "llm-b-2-1", "reason": "MetricFailed", "message": ""},
        {"time_s": 90, "kind": "AnalysisRun", "name": "llm-b-2-1", "reason": "AnalysisRunFailed",
         "message": "Analysis Completed. Result: Failed",
         "data": {"phase": "Failed", "measurements": measurements}},
        {"time_s": 99, "kind": "AnalysisRun", "name": "llm-c-3-1", "reason": "AnalysisRunSuccessful",
         "message": "Analysis Completed. Result: Successful"},
    ]  # fmt: skip
    got = canaryweight.analysis_outcomes(events)
    assert [(r["name"], r["phase"], r["measurements"]) for r in got] == [
        ("llm-b-2-1", "Failed", {"error-ratio": "[0.035] Failed"}),
        ("llm-c-3-1", "Successful", {}),  # kind's events carry no measurements
    ]


def test_labels_close_together_are_staggered_and_one_at_the_right_edge_ends_at_its_line() -> None:
    markers = [(100.0, "set image serve:0.2.0"), (105.0, "llm aborted rev 2"), (110.0, "x"), (500.0, "far")]
    # 725 pt for 1000 s; a label of n characters is about 5 (n + 1) pt: 20 characters, 145 s
    places = timeline.stagger([*markers, (990.0, "llm promoted rev 3")], 1000.0, 725.0)
    assert [row for row, _ in places] == [0, 1, 2, 0, 0]
    assert [left for _, left in places[:4]] == [0.0] * 4  # each starts at its line
    assert places[4][1] == pytest.approx(-19 * timeline.LABEL_FONT_PT * timeline.CHAR_WIDTH_EM)  # ends there
    # more labels than rows: the fourth goes right of the row that ends first, clear of it
    crowded = timeline.stagger([(0.0, "a" * 20), (0.0, "b" * 30), (0.0, "c" * 25), (0.0, "d")], 1000.0, 725.0)
    row, left = crowded[3]
    assert row == 0 and left == pytest.approx(22 * timeline.LABEL_FONT_PT * timeline.CHAR_WIDTH_EM)


def test_short_labels() -> None:
    def ev(kind: str, reason: str, message: str, **data: str) -> dict:
        return {"time_s": 1, "kind": kind, "name": "llm", "reason": reason, "message": message, "data": data}

    assert timeline.short_label(
        ev("Grader", "SetImage", "set image rollout/llm slolab-serve=slolab/serve:0.2.0")
    ) == ("set image serve:0.2.0")
    aborted = "Rollout aborted update to revision 2: Step-based analysis phase error/failed: Metric ..."
    assert timeline.short_label(ev("Rollout", "RolloutAborted", aborted)) == "llm aborted rev 2"
    assert timeline.short_label(completed(1, 3, "bbb")) == "llm promoted rev 3"
    assert timeline.short_label(completed(1, 1, "aaa", "Initial deploy")) == "llm deployed rev 1"
    assert timeline.short_label(ev("PodChaos", "Applied", "", target="lab/llm-0")) == "PodChaos llm-0"
    long = timeline.short_label(
        ev("Grader", "RolloutRestart", "kubectl rollout restart deployment/llm-long-name")
    )
    assert len(long) == timeline.LABEL_CHARS and long.endswith("…")


def test_images_are_those_of_the_rollouts_replicasets() -> None:
    def rs(name: str, owner: str, *images: str) -> dict:
        containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
        return {
            "metadata": {"name": name, "ownerReferences": [{"kind": "Rollout", "name": owner}]},
            "spec": {"template": {"spec": {"containers": containers}}},
        }

    class Cluster:
        def list(self, kind: str) -> list[dict]:
            assert kind == "ReplicaSet"
            return [rs("llm-a", "llm", "docker.io/slolab/serve:0.1.0"), rs("x-b", "x", "nginx"),
                    rs("llm-c", "llm", "slolab/serve:0.2.0", "busybox:1")]  # fmt: skip

    assert canaryweight.images(Cluster(), "llm") == {"llm-a": "serve:0.1.0", "llm-c": "serve:0.2.0+busybox:1"}


def test_the_target_kind_and_its_queries() -> None:
    class Cluster:
        def __init__(self, kinds: dict[str, str] | None) -> None:
            self.kinds = kinds

        def get(self, kind: str, name: str) -> dict | None:
            if self.kinds is None:  # as KubeCluster on a cluster without the Rollout API may
                raise errors.BackendError("the server could not find the requested resource")
            return {"kind": kind, "metadata": {"name": name}} if self.kinds.get(name) == kind else None

    assert promseries.target_kind(Cluster({"llm": "Rollout"}), "llm") == promseries.ROLLOUT
    assert promseries.target_kind(Cluster({"llm": "Deployment"}), "llm") == promseries.DEPLOYMENT
    assert promseries.target_kind(Cluster(None), "llm") == promseries.DEPLOYMENT
    [ready] = [q for q in promseries.queries(NS, "llm", promseries.ROLLOUT) if q.panel == "replicas" and q.by]
    assert (
        'kube_replicaset_owner{namespace="lab-canary-rollout",owner_kind="Rollout",owner_name="llm"}'
        in ready.expr
    )
    assert not any("kube_deployment" in q.expr for q in promseries.queries(NS, "llm", promseries.ROLLOUT))


@pytest.fixture(scope="module")
def canary_run(tmp_path_factory: pytest.TempPathFactory) -> sim_backend.SimBackend:
    """canary-rollout's reference solution on sim: the regressed image under load until aborted."""
    lab = lab_mod.load("canary-rollout")
    ws = tmp_path_factory.mktemp("ws") / lab.name
    variants.write(variants.solution_files(lab), ws)
    backend = sim_backend.SimBackend(lab, ws, seed=1)
    handle = backend.load.start("chat-steady")
    backend.clock.sleep(200)
    backend.cluster.set_image("Rollout", "llm", "slolab-serve", "slolab/serve:0.2.0")
    backend.clock.sleep(350)  # aborted at about 390 s; the canary pod goes once 4 stable pods serve
    backend.load.stop(handle)
    return backend


def test_a_short_canary_run_draws_its_replicasets_weight_and_analysis(canary_run, tmp_path: Path) -> None:
    snap = graderun.Snapshot.of(canary_run, plot=True)
    events = [jsonreport.event_dict(e) for e in snap.events]
    doc = {
        "lab": "canary-rollout",
        "backend": "sim",
        "seed": 1,
        "score": "?",
        "run_s": snap.run_s,
        "events": events,
    }
    data = timeline.prepare(doc, prom=snap.prom_series, logs=snap.logs)
    labels = list(data["prom"]["series"]["replicas"])
    # "<hash> <image> <role>": the images from the ReplicaSets' pod templates (canaryweight.images)
    assert sorted(label.split(" ", 1)[1] for label in labels) == ["serve:0.1.0 stable", "serve:0.2.0 canary"]
    weights = [w for _, w in data["weight"] if not math.isnan(w)]
    # the first step: one canary pod among 4 stable (surge: 20%) or 3 (25%); aborted: back to 0
    assert max(weights) in (20.0, 25.0) and weights[-1] == 0.0
    assert [(r["phase"], sorted(r["measurements"])) for r in data["analyses"]] == [
        ("Failed", ["error-ratio", "ttft-p95"])
    ]
    assert [label for _, label in data["markers"]] == [
        "llm deployed rev 1",
        "set image serve:0.2.0",
        "llm aborted rev 2",
    ]
    out = timeline.draw(tmp_path / "timeline.png", data)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_rollout_query_gives_the_same_series_on_a_real_prometheus(canary_run, tmp_path: Path) -> None:
    """The run's samples backfilled into Prometheus 2.42 (as tests/promql/test_conformance.py):
    the report's per-ReplicaSet query is valid PromQL there and answers as slolab's engine does."""
    local.binary_or_skip()
    local.binary_or_skip(name="promtool")
    [q] = [q for q in promseries.queries(NS, "llm", promseries.ROLLOUT) if q.by]
    path = tmp_path / "run.om"
    canary_run.prom.export_openmetrics(path)
    start, end, step = sim_backend.OFFSET_S + 60.0, sim_backend.OFFSET_S + 550.0, 15.0
    ours = canary_run.prom.engine.query_range(q.expr, start, end, step)
    with local.LocalPrometheus([], openmetrics_file=path) as server:
        theirs = server.client().query_range(q.expr, start, end, step)

    def keyed(result: list[dict]) -> dict[str, list[tuple[float, float]]]:
        return {s["metric"]["replicaset"]: [(float(t), float(v)) for t, v in s["values"]] for s in result}

    assert len(ours) == 2 and all(set(s["metric"]) == {"replicaset"} for s in theirs)
    assert keyed(theirs) == keyed(ours)
