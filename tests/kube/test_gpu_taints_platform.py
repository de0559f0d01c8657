"""gpu-taints on kind: the lab's workspaces against the kind cluster of kind-config.yaml and the
fake GPUs of charts/slolab-platform, checked without a cluster.

- The GPU worker is what the grader calls a GPU node (the lab's ``gpu_node_labels``), carries the
  taint kind registers at join (``register-with-taints``), and is in the node pool that
  fake-gpu-operator gives as many GPUs as the scenario's GPU pool has.
- Placed by the simulator's scheduler plugins on nodes built from kind-config.yaml (labels and
  join taints, the GPU pool's capacity), the reference solution and each alternative put the
  model server on the GPU worker only and the batch on CPU nodes only; the fault leaves the
  model server with no node at all. What the device plugin does differs on kind: see the lab's
  README, "On kind".
- Every workspace's manifests are valid Kubernetes 1.36 objects (strict), as ``slolab lint``
  checks them.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from slolab import paths
from slolab.catalog import k8svalidate, kindconfig, yamlfile
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.sim import cluster as cluster_mod
from slolab.sim import objects, sched_nodeaffinity, sched_taints
from slolab.workspace import variants

LAB = "gpu-taints"
PLATFORM = paths.charts_dir() / "slolab-platform"


def workspaces() -> dict[str, dict[str, str]]:
    lab = lab_mod.load(LAB)
    out = {"fault": variants.fault_files(lab), "solution": variants.solution_files(lab)}
    for mutation in lab.mutations:
        out[f"mutation {mutation.id}"] = variants.mutation_files(lab, mutation)
    out.update({f"alternative {fix}": files for fix, files in variants.alternative_files(lab).items()})
    return out


WORKSPACES = workspaces()


def kind_nodes() -> list[objects.Node]:
    scenario = scenario_mod.load(lab_mod.load(LAB).scenario)
    _, specs = kindconfig.load()
    return cluster_mod.build_nodes(scenario, specs)


def gpu_worker() -> kindconfig.NodeSpec:
    _, specs = kindconfig.load()
    (worker,) = [s for s in specs if s.labels.get("slolab.dev/pool") == "gpu"]
    return worker


def template(files: dict[str, str], kind: str, name: str) -> dict[str, Any]:
    for text in files.values():
        for doc in yaml.safe_load_all(text):
            if doc and doc.get("kind") == kind and doc["metadata"]["name"] == name:
                return doc["spec"]["template"]["spec"]
    raise AssertionError(f"no {kind} {name}")


def placeable(spec: dict[str, Any]) -> set[str]:
    """kind nodes whose labels and join taints let a pod of ``spec`` on (GPU counts aside)."""
    return {
        n.name
        for n in kind_nodes()
        if sched_nodeaffinity.matches(spec, n)
        and sched_taints.untolerated(n.taints, spec.get("tolerations"), sched_taints.HARD) is None
    }


def test_the_gpu_worker_is_a_gpu_node_tainted_at_join() -> None:
    lab = lab_mod.load(LAB)
    worker = gpu_worker()
    for key, value in lab.grading.params.gpu_node_labels.items():
        assert worker.labels.get(key) == value
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in worker.taints


def test_fake_gpu_operator_gives_the_worker_the_scenarios_gpus() -> None:
    values = yaml.safe_load((PLATFORM / "values.yaml").read_text(encoding="utf-8"))
    assert values["components"]["fakeGpuOperator"]["enabled"]
    topology = values["fake-gpu-operator"]["topology"]
    pool = gpu_worker().labels[topology["nodePoolLabelKey"]]
    scenario = scenario_mod.load(lab_mod.load(LAB).scenario)
    (gpu_pool,) = [p for p in scenario.topology.pools if p.device_plugin]
    assert topology["nodePools"][pool]["gpuCount"] == int(gpu_pool.capacity["nvidia.com/gpu"])


@pytest.mark.parametrize(
    "variant", [v for v in WORKSPACES if v == "solution" or v.startswith("alternative ")]
)
def test_a_fix_puts_the_model_server_on_the_gpu_worker_and_the_batch_off_it(variant: str) -> None:
    files = WORKSPACES[variant]
    gpu = gpu_worker().name
    assert placeable(template(files, "Deployment", "llm")) == {gpu}
    batch = placeable(template(files, "Deployment", "embeddings-batch"))
    assert batch and gpu not in batch
    assert gpu in placeable(template(files, "DaemonSet", "nvidia-device-plugin-daemonset"))


def test_the_fault_leaves_the_model_server_nowhere_and_lets_the_batch_onto_the_gpu_worker() -> None:
    files = WORKSPACES["fault"]
    assert placeable(template(files, "Deployment", "llm")) == set()
    assert gpu_worker().name in placeable(template(files, "Deployment", "embeddings-batch"))
    assert gpu_worker().name not in placeable(template(files, "DaemonSet", "nvidia-device-plugin-daemonset"))


@pytest.mark.parametrize("variant", sorted(WORKSPACES))
def test_every_workspace_is_valid_for_kubernetes_strictly(variant: str) -> None:
    docs = [
        yamlfile.Document(d, name, {})
        for name, text in WORKSPACES[variant].items()
        for d in yaml.safe_load_all(text)
        if d and d.get("kind") != "PodMonitor"
    ]
    problems = [p for doc in docs for p in k8svalidate.validate(doc)]
    assert not problems, problems


def test_the_solution_applied_over_the_released_fault_still_keeps_the_batch_off_the_gpu_worker() -> None:
    """On kind the fault's batch Deployment comes from the operator's Helm release, not from
    `kubectl apply`, so applying the solution's batch.yaml (no toleration, a nodeSelector) removes
    no field: client-side apply deletes only fields its last-applied-configuration annotation
    lists ("Declarative Management of Kubernetes Objects Using Configuration Files",
    kubernetes.io). The batch keeps the copied GPU toleration beside the new nodeSelector, which
    alone keeps it on the CPU pool (the lab's README, "On kind", says so)."""
    fault = template(WORKSPACES["fault"], "Deployment", "embeddings-batch")
    solution = template(WORKSPACES["solution"], "Deployment", "embeddings-batch")
    assert "tolerations" in fault and "tolerations" not in solution
    applied = {**fault, **solution}  # keys the file sets win; keys it leaves out stay
    assert applied["tolerations"] == fault["tolerations"]
    batch = placeable(applied)
    assert batch and gpu_worker().name not in batch
