"""`kubectl argo rollouts get rollout` as slolab.report.rolloutview prints it (argo-rollouts v1.9.1
pkg/kubectl-argo-rollouts/info/rollout_info.go NewRolloutInfo, cmd/get/get_rollout.go PrintRollout)."""

from __future__ import annotations

from slolab.report import rolloutview

STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]


def rollout(index, abort=False, phase="Paused", available=4):
    return {
        "metadata": {"name": "llm", "namespace": "lab-x"},
        "spec": {"replicas": 4, "strategy": {"canary": {"steps": STEPS}}},
        "status": {
            "phase": phase,
            "message": "CanaryPauseStep",
            "currentStepIndex": index,
            "abort": abort,
            "currentPodHash": "new",
            "stableRS": "old",
            "replicas": 4,
            "updatedReplicas": 1,
            "readyReplicas": 4,
            "availableReplicas": available,
        },
    }


def replicaset(h, replicas, revision, image):
    return {
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"llm-{h}",
            "labels": {rolloutview.HASH_LABEL: h},
            "annotations": {rolloutview.REVISION: str(revision)},
        },
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "s", "image": image}]}}},
        "status": {"availableReplicas": replicas},
    }


def test_set_weight_is_the_last_set_weight_reached():
    """GetCurrentSetWeight: the last setWeight at or before the step; 0 aborted; 100 past the end."""
    assert rolloutview.set_weight(rollout(1)) == 25
    assert rolloutview.set_weight(rollout(3)) == 50
    assert rolloutview.set_weight(rollout(1, abort=True)) == 0
    assert rolloutview.set_weight(rollout(4)) == 100


def test_a_paused_canary():
    rss = [replicaset("old", 3, 1, "serve:0.1.0"), replicaset("new", 1, 2, "serve:0.2.0")]
    run = {
        "kind": "AnalysisRun",
        "metadata": {"name": "llm-new-2-1", "annotations": {rolloutview.REVISION: "2"}},
        "status": {"phase": "Running", "metricResults": [{"successful": 2, "failed": 0, "error": 1}]},
    }
    lines = rolloutview.get_rollout(rollout(1), rss, [run])
    text = "\n".join(lines)
    assert "Status:          ॥ Paused" in text
    assert "  Step:          1/4" in text and "  SetWeight:     25" in text
    # without a traffic router: canary available x 100 / the Rollout's available pods
    assert "  ActualWeight:  25" in text
    assert "Images:          serve:0.1.0 (stable)" in text and "                 serve:0.2.0 (canary)" in text
    assert lines[-5].startswith("├──# revision:2") and lines[-1].startswith("   └──⧉ llm-old")
    assert "α llm-new-2-1" in text and "✔ 2,✖ 1" in text
