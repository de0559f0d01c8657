"""chaos-pod-kill on kind: the lab's chaos (chaos/schedule.yaml) is a Chaos Mesh v2.8.3 object
that the platform's Chaos Mesh runs against the model pods of every workspace of the lab.

- The Schedule validates against the upstream Schedule CRD (shared/crds, as
  tests/test_crd_conformance.py reads them), and the simulator accepts every field of it (its
  allowed-field check, sim/modelled.py), so it means the same on both paths.
- Its pod selector names the lab's namespace and selects the model server's pods of the fault,
  the reference solution, each mutation and each alternative fix (their pod template labels).
- charts/slolab-platform installs Chaos Mesh (components.chaosMesh.enabled) in the release's
  namespace; tests/test_platform_chart.py checks its containerd runtime and GPU toleration.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from test_crd_conformance import CRDs, _candidates, require_crd_dir

from slolab import paths
from slolab.catalog import lab as lab_mod
from slolab.catalog import yamlfile
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
    for alternative in sorted(p for p in (LAB_DIR / "alternatives").iterdir() if p.is_dir()):
        out[f"alternative {alternative.name}"] = {
            **out["solution"],
            **{f.name: f.read_text(encoding="utf-8") for f in alternative.glob("*.yaml")},
        }
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
