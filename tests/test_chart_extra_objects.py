"""charts/llm-serving ``extraObjects``: whole objects released with the model server, rendered
verbatim (no tpl), in the release namespace unless they name one.

The convention followed is prometheus-community kube-prometheus-stack's
templates/extra-objects.yaml (``extraManifests``) and bitnami's templates/extra-list.yaml
(``extraDeploy``): one document per list item; slolab's chart differs in never running ``tpl``.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from slolab import errors, paths
from slolab.workspace import render

CHART = "llm-serving"
CHART_DIR = paths.charts_dir() / CHART
CASE = CHART_DIR / "ci" / "13-extra-objects-values.yaml"


def case_values() -> dict:
    return yaml.safe_load(CASE.read_text(encoding="utf-8"))


def objects(files: list[render.RenderedFile], name: str) -> list[dict]:
    [file] = [f for f in files if f.name == name]
    return [d for d in yaml.safe_load_all(file.text) if d]


def test_rendered_verbatim_in_the_release_namespace_unless_named(helm: Path) -> None:
    values = case_values()
    files = render.render(CHART, [values], namespace="lab-01", header=None)
    # helm orders a release's objects by kind (ConfigMap before DaemonSet).
    by_kind = {o["kind"]: o for o in objects(files, "extra-objects.yaml")}
    daemonset, configmap = by_kind["DaemonSet"], by_kind["ConfigMap"]
    # No namespace in the value: the release's, and nothing else changed.
    wanted = copy.deepcopy(values["extraObjects"][0])
    wanted["metadata"]["namespace"] = "lab-01"
    assert daemonset == wanted
    # A namespace of its own is kept.
    assert configmap["metadata"]["namespace"] == "slolab-system"
    # No tpl: a Go template in an object stays text.
    assert configmap["data"]["greeting"] == "Hello {{ .Release.Name }}"
    # The values themselves are untouched (the namespace goes into a copy).
    assert "namespace" not in values["extraObjects"][0]["metadata"]


def test_none_by_default(helm: Path) -> None:
    files = render.render(CHART, [{"fullnameOverride": "llm"}], namespace="lab-01", header=None)
    assert "extra-objects.yaml" not in {f.name for f in files}


@pytest.mark.parametrize(
    ("item", "field", "expected"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "a"}}, "extraObjects[0]", "apiVersion"),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, "extraObjects[0].metadata", "name"),
        ("kind: ConfigMap", "extraObjects[0]", "object"),
    ],
    ids=["no-apiVersion", "no-name", "a-string"],
)
def test_the_schema_names_the_item_and_what_it_lacks(
    helm: Path, item: object, field: str, expected: str
) -> None:
    with pytest.raises(errors.InputError) as info:
        render.render(CHART, [{"extraObjects": [item]}], source="labs/demo/fault/values.yaml")
    [problem] = info.value.problems
    assert problem.file == "labs/demo/fault/values.yaml"
    assert problem.field == field and expected in problem.message, problem


def test_the_template_refuses_what_the_schema_would_when_it_is_skipped(helm: Path) -> None:
    """helm template --skip-schema-validation: the template's own fail says how to fix it."""
    proc = subprocess.run(
        [str(helm), "template", "llm", str(CHART_DIR), "--skip-schema-validation", "-f", "-"],
        input='{"extraObjects": [{"kind": "ConfigMap"}]}',
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    wanted = "extraObjects[0] is not a Kubernetes object: give it apiVersion, kind and metadata.name"
    assert wanted in proc.stderr
