"""An autoscaling lab graded in the cluster: the replica trace's looks (the Deployment, its pods
and the HorizontalPodAutoscalers that scale it, slolab.grading.replicatrace.look) are requests
charts/slolab-operator's grader role allows in lab-<name>, the way the API server's RBAC
authorizer decides (https://kubernetes.io/docs/reference/access-authn-authz/rbac/,
tests/operator/rbac.py)."""

from __future__ import annotations

from pathlib import Path

import kubernetes
import yaml
from rbac import asked, chart_rules, refused

from slolab.backends import kube
from slolab.catalog import lab as lab_mod
from slolab.grading import replicatrace
from slolab.kube import client, observe
from slolab.workspace import variants
from slolab_operator import namespace_for

LAB = "keda-scaling"


class _Clock:
    def now_s(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass


def test_the_grader_role_allows_the_replica_trace(emulator, kubeconfig: Path, helm: Path) -> None:
    api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig), context="emulator")
    k = client.Kube(api, "emulator")
    ns = namespace_for(LAB)
    k.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    fault = variants.fault_files(lab_mod.load(LAB))
    for kind in ("Deployment", "HorizontalPodAutoscaler"):
        [doc] = [d for text in fault.values() for d in yaml.safe_load_all(text) if d and d["kind"] == kind]
        k.create({**doc, "metadata": {**doc["metadata"], "namespace": ns}})
    before = len(emulator.requests())
    view = kube.KubeClusterView(k, ns, _Clock(), observe.Observer(k, ns, 0.0))
    sample = replicatrace.look(view, "llm", 0.0)
    assert sample.desired is not None
    assert [s.metric for s in sample.signals] == ["cpu utilization"], "the fault's HPA is read"
    accesses = asked(emulator.requests()[before:])
    assert {(a.group, a.resource) for a in accesses} >= {
        ("apps", "deployments"),
        ("", "pods"),
        ("autoscaling", "horizontalpodautoscalers"),
    }
    denied = refused(chart_rules(helm)["ClusterRole", "slolab-operator-grader"], accesses, ns)
    assert not denied, "requests the grader role would refuse:\n" + "\n".join(denied)
