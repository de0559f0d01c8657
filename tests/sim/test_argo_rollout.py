"""Argo Rollouts' canary on the simulator (argoproj/argo-rollouts v1.9.1; sim/rollout.py).

Each test cites the documented behaviour it checks: docs/features/canary/index.md (C),
docs/features/analysis.md (A), docs/generated/kubectl-argo-rollouts (K), and the examples in
utils/replicaset/canary.go's CalculateReplicaCountsForBasicCanary comment (R).
"""

from __future__ import annotations

import pytest
import yaml
from rollout_support import (
    abort,
    deployed,
    get,
    promote,
    replicas,
    rollout_docs,
    runs,
    set_metric,
    status,
    template,
    update,
)
from sim_support import NS, events, start

from slolab import errors, paths
from slolab.catalog import kindconfig, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab.sim import cluster as cluster_mod
from slolab.sim import manifests, modelled, rolloutcanary, rolloutspec
from slolab.workspace import render

HASH = rolloutspec.HASH_LABEL


@pytest.mark.parametrize(
    ("replicas", "weight", "new", "stable", "unavailable", "surge", "expected"),
    [
        # (R) examples of CalculateReplicaCountsForBasicCanary's comment
        (10, 10, 0, 10, 1, 1, (1, 9)),
        (10, 30, 0, 10, 0, 3, (3, 10)),
        (10, 30, 0, 10, 5, 0, (0, 7)),
        (1, 5, 0, 1, 0, 1, (1, 1)),
        (1, 95, 0, 1, 0, 1, (1, 1)),
        # canary_test.go "Do not round past maxSurge with uneven setWeight divisor" (parts 1, 2)
        (10, 5, 0, 10, 1, 0, (0, 9)),
        (10, 5, 0, 9, 1, 0, (1, 9)),
    ],
)
def test_basic_canary_replica_counts(replicas, weight, new, stable, unavailable, surge, expected):
    got = rolloutcanary.basic_canary(
        replicas,
        weight,
        rolloutcanary.RS(new, new),
        rolloutcanary.RS(stable, stable),
        [],
        surge,
        unavailable,
    )
    assert got == expected


def test_weight_is_the_replica_ratio():
    """(C) "if a Rollout has 10 Replicas and 10% for the first setWeight step, the controller
    will scale the new desired ReplicaSet to 1 replicas and the old stable ReplicaSet to 9"."""
    assert rolloutcanary.approximate(10, 10, 0) == (1, 9)
    assert rolloutcanary.approximate(4, 25, 1) == (1, 3)
    assert rolloutcanary.approximate(3, 50, 0) == (2, 1), "a tie rounds the canary up"


def test_initial_deploy_skips_the_steps():
    """(C) the first rollout has no stable ReplicaSet: it goes to 100% at once ("Initial deploy")."""
    sim = deployed(rollout_docs([{"setWeight": 25}, {"pause": {}}]))
    s = status(sim)
    assert s["phase"] == "Healthy" and s["stableRS"] == s["currentPodHash"]
    assert s["currentStepIndex"] == 2 and s["availableReplicas"] == 4
    (rs,) = sim.api_objects("ReplicaSet")
    assert rs["metadata"]["labels"][HASH] == s["stableRS"]
    assert all(p.labels[HASH] == s["stableRS"] for p in sim.pods.values())
    assert [e.message.split(":")[-1].strip() for e in events(sim, "RolloutCompleted")] == ["Initial deploy"]


def test_steps_pause_with_and_without_duration_then_promote():
    """(C) setWeight scales the canary to its share; pause {duration} waits that long; pause {}
    waits for `kubectl argo rollouts promote` (K); after the last step the canary takes 100%."""
    docs = rollout_docs([{"setWeight": 25}, {"pause": {"duration": "60s"}}, {"setWeight": 50}, {"pause": {}}])
    sim = deployed(docs)
    update(sim, docs)
    while not events(sim, "RolloutStepCompleted"):  # the canary pod loads its model (about 100 s)
        sim.env.run(until=sim.env.now + 1)
    assert replicas(sim) == (1, 3)
    sim.env.run(until=sim.env.now + 200)
    completed = events(sim, "RolloutStepCompleted")
    assert [e.data["step"] for e in completed][:2] == [1, 2]
    assert completed[1].time_s - completed[0].time_s == pytest.approx(60)
    sim.env.run(until=sim.env.now + 300)
    s = status(sim)
    assert replicas(sim) == (2, 2)
    assert (s["phase"], s["message"], s["currentStepIndex"]) == ("Paused", "CanaryPauseStep", 3)
    sim.env.run(until=sim.env.now + 600)
    assert status(sim)["currentStepIndex"] == 3, "an indefinite pause waits"
    promote(sim)
    sim.env.run(until=sim.env.now + 400)
    s = status(sim)
    assert (s["phase"], s["stableRS"]) == ("Healthy", s["currentPodHash"])
    assert replicas(sim) == (4, 0)


def test_max_surge_and_max_unavailable_bound_the_pods():
    """(C) maxSurge 1 / maxUnavailable 0: never more than replicas + 1 pods, never fewer available."""
    docs = rollout_docs([{"setWeight": 50}, {"pause": {}}])
    sim = deployed(docs)
    update(sim, docs)
    most = 0
    for _ in range(60):
        sim.env.run(until=sim.env.now + 5)
        ro = get(sim)
        most = max(most, sum(rs.replicas for rs in ro.replicasets(sim.store)))
        assert status(sim)["availableReplicas"] >= 4
    assert most == 5
    assert replicas(sim) == (2, 2)


def test_abort_scales_the_canary_down_and_the_stable_back_up():
    """(C, K) abort: the canary goes back to 0, stable back to full, the Rollout is Degraded,
    and spec.template still holds the new version."""
    docs = rollout_docs([{"setWeight": 50}, {"pause": {}}])
    sim = deployed(docs)
    update(sim, docs)
    sim.env.run(until=sim.env.now + 400)
    assert replicas(sim) == (2, 2)
    abort(sim)
    sim.env.run(until=sim.env.now + 300)
    s = status(sim)
    assert replicas(sim) == (0, 4)
    assert s["phase"] == "Degraded" and s["message"].startswith(
        "RolloutAborted: Rollout aborted update to revision 2"
    )
    assert s["currentStepIndex"] == 0 and s["abort"] is True
    assert s["stableRS"] != s["currentPodHash"]


def test_canary_and_stable_services_select_by_pod_template_hash():
    """(C) canaryService and stableService get a rollouts-pod-template-hash selector; while
    aborted the canary Service points at the stable pods too (rollout/service.go)."""
    docs = rollout_docs([{"setWeight": 25}, {"pause": {}}], services=True)
    sim = deployed(docs)
    stable_hash = status(sim)["stableRS"]
    update(sim, docs)
    sim.env.run(until=sim.env.now + 300)
    svc = {s["metadata"]["name"]: s["spec"]["selector"] for s in sim.api_objects("Service")}
    canary_hash = status(sim)["currentPodHash"]
    assert svc["llm-stable"][HASH] == stable_hash and svc["llm-canary"][HASH] == canary_hash
    assert HASH not in svc["llm"], "the Service both versions sit behind is left alone"
    endpoints = {e["metadata"]["name"]: e for e in sim.api_objects("Endpoints")}
    (canary_ep,) = endpoints["llm-canary"]["subsets"]
    assert len(canary_ep["addresses"]) == 1 and len(endpoints["llm"]["subsets"][0]["addresses"]) == 4
    abort(sim)
    sim.env.run(until=sim.env.now + 5)
    svc = {s["metadata"]["name"]: s["spec"]["selector"] for s in sim.api_objects("Service")}
    assert svc["llm-canary"][HASH] == stable_hash


def test_step_analysis_success_moves_on_and_failure_aborts():
    """(A) an analysis step waits for its AnalysisRun: Successful goes to the next step, Failed
    aborts the rollout."""
    check = template(successCondition="result[0] < 2")
    docs = rollout_docs(
        [{"setWeight": 25}, {"analysis": {"templates": [{"templateName": "check"}]}}, {"pause": {}}],
        extra=[check],
    )
    sim = deployed(docs)
    set_metric(sim, 1.0)
    update(sim, docs)
    sim.env.run(until=sim.env.now + 200)
    s = status(sim)
    assert s["currentStepIndex"] == 2 and s["phase"] == "Paused"
    (run,) = runs(sim).values()
    assert run["status"]["phase"] == "Successful"
    assert run["metadata"]["name"] == f"llm-{s['currentPodHash']}-2-1", "<rollout>-<hash>-<revision>-<step>"
    assert run["status"]["metricResults"][0]["measurements"][0]["value"] == "[1]"

    docs[0].data["spec"]["template"]["spec"]["containers"][0]["args"].append("--max-num-seqs=64")
    set_metric(sim, 5.0)
    sim.apply([docs[0]])
    sim.env.run(until=sim.env.now + 200)
    s = status(sim)
    assert s["phase"] == "Degraded" and "Step-based analysis phase error/failed" in s["message"]
    assert 'Metric "m" assessed Failed due to failed (1) > failureLimit (0)' in s["message"]
    assert replicas(sim)[0] == 0


def test_inconclusive_analysis_pauses_until_promoted():
    """(A) "If ... neither the success nor the failure condition is met, the measurement is
    Inconclusive" and an Inconclusive run pauses the Rollout; promote starts a new run."""
    check = template(successCondition="result[0] < 2", failureCondition="result[0] > 4")
    docs = rollout_docs(
        [{"setWeight": 25}, {"analysis": {"templates": [{"templateName": "check"}]}}], extra=[check]
    )
    sim = deployed(docs)
    set_metric(sim, 3.0)
    update(sim, docs)
    sim.env.run(until=sim.env.now + 200)
    s = status(sim)
    assert (s["phase"], s["message"]) == ("Paused", "InconclusiveAnalysis")
    assert s["canary"]["currentStepAnalysisRunStatus"]["status"] == "Inconclusive"
    set_metric(sim, 1.0)
    promote(sim)
    sim.env.run(until=sim.env.now + 400)
    assert len(runs(sim)) == 2
    assert status(sim)["phase"] == "Healthy"


def test_background_analysis_aborts_on_failure_and_passes_the_canary_hash():
    """(A) background analysis runs from startingStep while the steps go on; valueFrom
    podTemplateHashValue Latest is the canary's hash; a Failed run aborts."""
    check = template(successCondition="result[0] < 2", interval="30s", args=["canary-hash"])
    analysis = {
        "templates": [{"templateName": "check"}],
        "startingStep": 1,
        "args": [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
    }
    docs = rollout_docs([{"setWeight": 25}, {"pause": {"duration": 600}}], analysis=analysis, extra=[check])
    sim = deployed(docs)
    set_metric(sim, 1.0)
    update(sim, docs)
    sim.env.run(until=sim.env.now + 200)
    (run,) = runs(sim).values()
    assert run["spec"]["args"] == [{"name": "canary-hash", "value": status(sim)["currentPodHash"]}]
    assert run["status"]["phase"] == "Running" and run["metadata"]["labels"]["rollout-type"] == "Background"
    set_metric(sim, 9.0)
    sim.env.run(until=sim.env.now + 31)
    s = status(sim)
    assert s["phase"] == "Degraded" and "Background analysis phase error/failed" in s["message"]


def test_invalid_rollouts_are_clear_errors():
    docs = rollout_docs([{"setWeight": 150}, {"setWeight": 10, "pause": {}}], surge=0, unavailable=0)
    docs[0].data["spec"]["strategy"]["canary"]["trafficRouting"] = {"nginx": {"stableIngress": "x"}}
    with pytest.raises(errors.NotModelledError) as e:
        start(docs)
    text = str(e.value)
    assert "SetWeight must be between 0 and 100" in text
    assert "Step must have one of the following set" in text
    assert "MaxSurge and MaxUnavailable both can not be zero" in text


def test_trafficrouting_is_not_modelled():
    docs = rollout_docs([{"setWeight": 10}])
    docs[0].data["spec"]["strategy"]["canary"]["trafficRouting"] = {"nginx": {"stableIngress": "x"}}
    fields = [p.field for p in modelled.check(yamlfile.Document(docs[0].data, "rollout.yaml", {}))]
    assert fields == ["spec.strategy.canary.trafficRouting"]


def test_promote_full_skips_the_remaining_steps_and_analysis():
    """(K) `promote --full`: "skip all remaining steps and analysis" and go to 100%."""
    check = template(successCondition="result[0] < 2", interval="30s", count=100)
    docs = rollout_docs(
        [{"setWeight": 25}, {"analysis": {"templates": [{"templateName": "check"}]}}, {"pause": {}}],
        extra=[check],
    )
    sim = deployed(docs)
    set_metric(sim, 1.0)
    update(sim, docs)
    sim.env.run(until=sim.env.now + 200)
    (run,) = runs(sim).values()
    assert run["status"]["phase"] == "Running"
    promote(sim, full=True)
    sim.env.run(until=sim.env.now + 400)
    s = status(sim)
    assert s["phase"] == "Healthy" and s["stableRS"] == s["currentPodHash"] and s["currentStepIndex"] == 3
    (run,) = runs(sim).values()
    assert run["spec"]["terminate"] is True and run["status"]["phase"] == "Successful", (
        "terminated, not failed"
    )
    assert "Full promotion requested" in events(sim, "RolloutCompleted")[-1].message


def test_spec_paused_holds_the_rollout():
    """(C) spec.paused: the Rollout stops stepping and says Paused "manually paused"."""
    docs = rollout_docs([{"setWeight": 25}, {"pause": {"duration": 10}}, {"setWeight": 50}])
    sim = deployed(docs)
    docs[0].data["spec"]["paused"] = True
    sim.apply([docs[0]])
    update(sim, docs)
    sim.env.run(until=sim.env.now + 400)
    s = status(sim)
    assert (s["phase"], s["message"], s["currentStepIndex"]) == ("Paused", "manually paused", 0)
    promote(sim)  # kubectl argo rollouts promote unpauses: spec.paused false
    sim.env.run(until=sim.env.now + 600)
    assert status(sim)["phase"] == "Healthy"


def test_revision_history_limit_deletes_the_oldest_idle_replicasets():
    docs = rollout_docs([{"setWeight": 50}], replicas=1)
    docs[0].data["spec"]["revisionHistoryLimit"] = 1
    sim = deployed(docs)
    for arg in ("--max-num-seqs=64", "--max-num-seqs=32"):
        update(sim, docs, arg)
        sim.env.run(until=sim.env.now + 400)
    revisions = sorted(
        int(rs["metadata"]["annotations"][rolloutspec.REVISION]) for rs in sim.api_objects("ReplicaSet")
    )
    assert revisions == [2, 3], "the stable ReplicaSet and one old one"


def test_the_chart_s_rollout_and_analysis_run_on_the_simulator(helm, tmp_path):
    """charts/llm-serving with rollout.enabled and rollout.analysis.enabled (the chart's own
    AnalysisTemplate on the canary's p95 TTFT): every field it renders is modelled, the first
    revision is promoted, and a new template goes through the chart's steps and analysis."""
    scenario = scenario_mod.load("llama-8b-h100-canary")
    values = yaml.safe_load((paths.scenarios_dir() / scenario.name / "values.yaml").read_text())
    values["rollout"]["analysis"] = {"enabled": True}
    for f in render.render("llm-serving", [values], namespace=NS):
        (tmp_path / f.name).write_text(f.text)
    docs = manifests.load(tmp_path)
    _, specs = kindconfig.load()
    sim = cluster_mod.Cluster(scenario, cluster_mod.build_nodes(scenario, specs), 1, NS)
    sim.apply(docs)
    sim.env.run(until=200)
    assert status(sim)["phase"] == "Healthy"
    rollout_doc = next(d for d in docs if d.data["kind"] == "Rollout")
    update(sim, [rollout_doc])
    sim.env.run(until=sim.env.now + 150)
    (run,) = runs(sim).values()
    assert run["spec"]["args"] == [{"name": "canary-hash", "value": status(sim)["currentPodHash"]}]
