"""catalog.k8svalidate: strict Kubernetes schema checks that name file, line and field."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from slolab.catalog import k8svalidate, yamlfile

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm
spec:
  replicas: 2
  selector:
    matchLabels: {app: llm}
  strategy:
    rollingUpdate: {maxSurge: ~, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: llm}
    spec:
      containers:
        - name: server
          image: slolab/serve:0.1.0
          imagePullPolicy: IfNotPresent
          ports:
            - name: http
              containerPort: 8000
          resources:
            requests: {cpu: "4", memory: 16Gi, nvidia.com/gpu: 1}
"""


def load(tmp_path: Path, text: str, name: str = "deployment.yaml") -> list[yamlfile.Document]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return yamlfile.load_all(path, display=f"workspace/demo/{name}")


def problems_of(tmp_path: Path, text: str) -> list:
    return [p for doc in load(tmp_path, text) for p in k8svalidate.validate(doc)]


def test_valid_deployment_has_no_problems(tmp_path: Path) -> None:
    assert problems_of(tmp_path, DEPLOYMENT) == []


def test_typo_field(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, DEPLOYMENT.replace("imagePullPolicy", "imagePulPolicy"))
    assert problem.file == "workspace/demo/deployment.yaml"
    assert problem.line == 18
    assert problem.field == "spec.template.spec.containers[0].imagePulPolicy"
    assert problem.message == "unknown field 'imagePulPolicy' (did you mean 'imagePullPolicy'?)"
    assert str(problem).startswith("workspace/demo/deployment.yaml:18: spec.template.spec.containers[0].")


def test_wrong_type(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, DEPLOYMENT.replace("replicas: 2", "replicas: two"))
    assert (problem.line, problem.field) == (6, "spec.replicas")
    assert problem.message == "expected integer, got 'two'"


def test_missing_required_field(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, DEPLOYMENT.replace("              containerPort: 8000\n", ""))
    assert problem.field == "spec.template.spec.containers[0].ports[0].containerPort"
    assert problem.line == 20
    assert problem.message == "required field 'containerPort' is missing"


def test_every_problem_at_once(tmp_path: Path) -> None:
    text = (
        DEPLOYMENT.replace("replicas: 2", "replicas: two")
        .replace("imagePullPolicy", "imagePulPolicy")
        .replace("containerPort: 8000", "containerPortt: 8000")
        .replace("maxUnavailable: 1}", "maxUnavailable: 1.5}")
    )
    problems = problems_of(tmp_path, text)
    assert [(p.line, p.field, p.message) for p in problems] == [
        (6, "spec.replicas", "expected integer, got 'two'"),
        (10, "spec.strategy.rollingUpdate.maxUnavailable", "expected string or integer, got 1.5"),
        (
            18,
            "spec.template.spec.containers[0].imagePulPolicy",
            "unknown field 'imagePulPolicy' (did you mean 'imagePullPolicy'?)",
        ),
        (
            20,
            "spec.template.spec.containers[0].ports[0].containerPort",
            "required field 'containerPort' is missing",
        ),
        (
            21,
            "spec.template.spec.containers[0].ports[0].containerPortt",
            "unknown field 'containerPortt' (did you mean 'containerPort'?)",
        ),
    ]


def test_service_and_several_documents(tmp_path: Path) -> None:
    text = """\
        apiVersion: v1
        kind: Service
        metadata: {name: llm}
        spec:
          selector: {app: llm}
          ports:
            - {name: http, port: "80", targetPort: http}
        ---
        apiVersion: keda.sh/v1alpha1
        kind: ScaledObject
        metadata: {name: llm}
        spec: {anything: goes}
        """
    service, scaled_object = load(tmp_path, text, "all.yaml")
    [problem] = k8svalidate.validate(service)
    assert (problem.line, problem.field, problem.message) == (
        7,
        "spec.ports[0].port",
        "expected integer, got '80'",
    )
    assert k8svalidate.validate(scaled_object) == []
    assert not k8svalidate.has_schema("ScaledObject", "keda.sh/v1alpha1")
    assert k8svalidate.has_schema("PodDisruptionBudget", "policy/v1")


def test_missing_kind(tmp_path: Path) -> None:
    [problem] = problems_of(tmp_path, "apiVersion: v1\nmetadata: {name: x}\n")
    assert (problem.field, problem.message, problem.line) == ("kind", "required field 'kind' is missing", 1)


def test_enum_and_wrong_shape(tmp_path: Path) -> None:
    text = DEPLOYMENT.replace("apiVersion: apps/v1", "apiVersion: apps/v1\nstatus: 3").replace(
        "labels: {app: llm}", "labels: [app]"
    )
    messages = {(p.field, p.message) for p in problems_of(tmp_path, text)}
    assert ("status", "expected a mapping, got 3") in messages
    assert ("spec.template.metadata.labels", "expected a mapping, got a list") in messages


def test_kube_versions(tmp_path: Path) -> None:
    [doc] = load(tmp_path, DEPLOYMENT)
    assert k8svalidate.validate(doc, "1.29") == []
    assert k8svalidate.validate(doc, "v1.37.0") == []
    with pytest.raises(ValueError, match="oldest"):
        k8svalidate.validate(doc, "1.20.0")
    with pytest.raises(ValueError, match="newest"):
        k8svalidate.validate(doc, "1.99.0")


def test_validators_are_cached(tmp_path: Path) -> None:
    docs = load(
        tmp_path, DEPLOYMENT + "---\napiVersion: v1\nkind: Service\nmetadata: {name: llm}\nspec: {}\n"
    )
    for doc in docs:
        k8svalidate.validate(doc)
    start = time.perf_counter()
    for _ in range(50):
        for doc in docs:
            assert k8svalidate.validate(doc) == []
    per_pair_s = (time.perf_counter() - start) / 50
    assert per_pair_s < 0.05, f"Deployment+Service took {per_pair_s * 1000:.1f} ms"
