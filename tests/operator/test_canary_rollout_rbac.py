"""canary-rollout graded in the cluster: every API request the grader makes through the kube
backend (labs/canary-rollout/grader/conftest.py: ``set_image`` on the Rollout, then looks at the
Rollout, its ReplicaSets, its pods and its AnalysisRuns) is one that charts/slolab-operator's
grader role allows in lab-<name>, the way the API server's RBAC authorizer decides
(https://kubernetes.io/docs/reference/access-authn-authz/rbac/, tests/operator/rbac.py)."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import yaml
from rbac import asked, chart_rules, refused

from slolab.backends import kube
from slolab.catalog import lab as lab_mod
from slolab.kube import client, observe
from slolab.workspace import variants
from slolab_operator import namespace_for

LAB = "canary-rollout"


class _Clock:
    def now_s(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass


def test_the_grader_role_allows_what_the_canary_grader_asks(emulator, kubeconfig: Path, helm: Path) -> None:
    api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig), context="emulator")
    k = client.Kube(api, "emulator")
    ns = namespace_for(LAB)
    k.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    lab = lab_mod.load(LAB)
    [rollout] = [
        d
        for text in variants.fault_files(lab).values()
        for d in yaml.safe_load_all(text)
        if d and d["kind"] == "Rollout"
    ]
    k.create({**rollout, "metadata": {**rollout["metadata"], "namespace": ns}})
    k.create(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisRun",
            "metadata": {
                "name": "llm-abc-2",
                "namespace": ns,
                "labels": rollout["spec"]["selector"]["matchLabels"],
            },
            "spec": {"metrics": []},
        }
    )
    before = len(emulator.requests())
    view = kube.KubeClusterView(k, ns, _Clock(), observe.Observer(k, ns, 0.0))
    params = lab.grading.params
    selector = rollout["spec"]["selector"]["matchLabels"]
    # what the grader's follow(), look() and get_rollout() call
    view.set_image("Rollout", "llm", params.container, params.bad_image)
    assert view.get("Rollout", "llm") is not None
    view.list("ReplicaSet", labels=selector)
    view.list("Pod", labels=selector)
    assert [r["metadata"]["name"] for r in view.list("AnalysisRun")] == ["llm-abc-2"]
    assert view.get("AnalysisRun", "llm-abc-2") is not None
    accesses = asked(emulator.requests()[before:])
    assert {(a.group, a.resource) for a in accesses} >= {
        ("argoproj.io", "rollouts"),
        ("argoproj.io", "analysisruns"),
        ("apps", "replicasets"),
        ("", "pods"),
    }
    denied = refused(chart_rules(helm)["ClusterRole", "slolab-operator-grader"], accesses, ns)
    assert not denied, "requests the grader role would refuse:\n" + "\n".join(denied)
