"""chaos-pod-kill on kind: the lab's chaos (chaos/schedule.yaml) is a Chaos Mesh v2.8.3 object
that the platform's Chaos Mesh runs against the model pods of every workspace of the lab.

- The Schedule validates against the upstream Schedule CRD (shared/crds, as
  tests/test_crd_conformance.py reads them), and the simulator accepts every field of it (its
  allowed-field check, sim/modelled.py), so it means the same on both paths.
- Its pod selector names the lab's namespace and selects the model server's pods of the fault,
  the reference solution, each mutation and each alternative fix (their pod template labels).
- charts/slolab-platform installs Chaos Mesh (components.chaosMesh.enabled) in the release's
  namespace; tests/test_platform_chart.py checks its containerd runtime and GPU toleration.
- Every workspace (fault, solution, mutations, alternatives) and the chaos manifest are valid
  for Kubernetes 1.36 with strict schemas, and their custom objects conform to the upstream
  CRDs (../shared/crds), as `kubectl apply` on kind would take them.
- The cluster has the scenario's two GPU workers (its kind-config.yaml, which the e2e workflow
  creates before `make cluster`), and the solution applied over the operator's release of the
  fault still needs the fault's hostname pin removed (the workflow and the README do it).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from test_crd_conformance import CRDs, _candidates, require_crd_dir

from slolab import paths
from slolab.catalog import k8svalidate, kindconfig, yamlfile
from slolab.catalog import lab as lab_mod
from slolab.sim import modelled
from slolab.workspace import variants

LAB = "chaos-pod-kill"
LAB_DIR = paths.root() / "labs" / LAB
SCHEDULE = LAB_DIR / "chaos" / "schedule.yaml"


def workspaces() -> dict[str, dict[str, str]]:
    """{variant: {file: YAML text}} of every workspace the lab defines."""
    lab = lab_mod.load(LAB)
    out = {"fault": variants.fault_files(lab), "solution": variants.solution_files(lab)}
    for mutation in lab.mutations:
        out[f"mutation {mutation.id}"] = variants.mutation_files(lab, mutation)
    out.update({f"alternative {fix}": files for fix, files in variants.alternative_files(lab).items()})
    return out


WORKSPACES = workspaces()


def schedule() -> yamlfile.Document:
    (doc,) = yamlfile.load_all(SCHEDULE, "labs/chaos-pod-kill/chaos/schedule.yaml")
    return doc


def test_the_schedule_conforms_to_the_upstream_crd_and_the_simulator_models_it() -> None:
    doc = schedule()
    assert CRDs(require_crd_dir(_candidates())).validate(doc.data) == []
    assert modelled.check(doc) == []


def test_the_platform_installs_chaos_mesh() -> None:
    values = yaml.safe_load(
        (paths.charts_dir() / "slolab-platform" / "values.yaml").read_text(encoding="utf-8")
    )
    assert values["components"]["chaosMesh"]["enabled"]


@pytest.mark.parametrize("variant", sorted(WORKSPACES))
def test_the_schedule_selects_the_model_pods(variant: str) -> None:
    spec: dict[str, Any] = schedule().data["spec"]
    selector = spec["podChaos"]["selector"]
    assert selector["namespaces"] == [f"lab-{LAB}"]
    dep = next(
        d
        for d in yaml.safe_load_all(WORKSPACES[variant]["deployment.yaml"])
        if d and d["kind"] == "Deployment"
    )
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in selector["labelSelectors"].items()), (
        f"{variant}: {selector['labelSelectors']} does not select pods labelled {labels}"
    )


def _docs(variant: str) -> list[yamlfile.Document]:
    return [
        yamlfile.Document(d, f"labs/{LAB} {variant}: {name}", {})
        for name, text in WORKSPACES[variant].items()
        for d in yaml.safe_load_all(text)
        if d
    ]


@pytest.mark.parametrize("variant", sorted(WORKSPACES))
def test_every_workspace_is_valid_strictly_and_against_the_upstream_crds(variant: str) -> None:
    docs = _docs(variant)
    builtin = [d for d in docs if k8svalidate.has_schema(d.data["kind"], d.data["apiVersion"])]
    custom = [d for d in docs if d not in builtin]
    assert {d.data["kind"] for d in builtin} >= {"Deployment", "Service"}
    problems = k8svalidate.validate_all(builtin, k8svalidate.DEFAULT_KUBE_VERSION)
    assert not problems, "\n".join(map(str, problems))
    crds = CRDs(require_crd_dir(_candidates()))
    assert [p for d in custom for p in crds.validate(d.data)] == []


def test_the_chaos_manifest_is_in_the_lab_namespace_and_strictly_valid_metadata() -> None:
    doc = schedule()
    assert doc.data["metadata"]["namespace"] == f"lab-{LAB}"
    assert not k8svalidate.has_schema(doc.data["kind"], doc.data["apiVersion"])  # a custom resource
    assert CRDs(require_crd_dir(_candidates())).validate(doc.data) == []


def test_the_scenarios_kind_cluster_has_two_gpu_workers_and_the_workflow_creates_it() -> None:
    lab = lab_mod.load(LAB)
    config = paths.root() / "scenarios" / lab.scenario / "kind-config.yaml"
    _, nodes = kindconfig.load(config)
    gpu = [n for n in nodes if n.labels.get("slolab.dev/pool") == "gpu"]
    assert len(gpu) == 2
    workflow = (paths.root() / ".github" / "workflows" / "e2e-kind.yaml").read_text(encoding="utf-8")
    assert f"--config scenarios/{lab.scenario}/kind-config.yaml" in workflow


def test_the_solution_over_the_released_fault_keeps_the_pin_until_it_is_removed() -> None:
    """On kind the fault's Deployment comes from the operator's Helm release, so `kubectl apply`
    of the solution removes no nodeSelector key it never applied ("Declarative Management of
    Kubernetes Objects Using Configuration Files", kubernetes.io): the hostname pin would stay.
    The workflow removes it with a JSON patch before it applies the solution; the README says so."""

    def selector(variant: str) -> dict[str, str]:
        dep = next(d.data for d in _docs(variant) if d.data["kind"] == "Deployment")
        return dep["spec"]["template"]["spec"].get("nodeSelector") or {}

    fault, solution = selector("fault"), selector("solution")
    assert "kubernetes.io/hostname" in fault and "kubernetes.io/hostname" not in solution
    assert "kubernetes.io/hostname" in {**fault, **solution}
    workflow = (paths.root() / ".github" / "workflows" / "e2e-kind.yaml").read_text(encoding="utf-8")
    patch = "/spec/template/spec/nodeSelector/kubernetes.io~1hostname"
    assert patch in workflow
    assert patch in (LAB_DIR / "README.md").read_text(encoding="utf-8")
