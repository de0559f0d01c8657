"""catalog.apivalidation: what the API server and kubectl refuse beyond the schema, in their words."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from slolab.catalog import apivalidation, k8svalidate, yamlfile

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  initContainers:
    - name: init
      image: busybox
      ports: [{containerPort: 9000}]
  containers:
    - name: server
      image: slolab/serve:0.1.0
      ports:
        - {name: http, containerPort: 8000, hostPort: 0}
        - {name: metrics, containerPort: 9100}
      readinessProbe:
        httpGet: {path: /health, port: http}
      livenessProbe:
        tcpSocket: {port: 8000}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: llm
  namespace: lab-demo
spec:
  type: NodePort
  selector: {app: llm}
  ports:
    - {name: http, port: 80, targetPort: http, nodePort: 30080}
    - {name: raw, port: 8000, targetPort: 0}
"""


def validate(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "x.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return [str(p) for doc in yamlfile.load_all(path, "x.yaml") for p in k8svalidate.validate(doc)]


def test_valid_ports_pass(tmp_path):
    assert validate(tmp_path, POD) == []
    assert validate(tmp_path, SERVICE) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "{name: metrics, containerPort: 9100}",
            "{name: metrics, containerPort: 70000}",
            "x.yaml:15: spec.containers[0].ports[1].containerPort: Invalid value: 70000: "
            "must be between 1 and 65535, inclusive",
        ),
        (
            "{name: metrics, containerPort: 9100}",
            "{name: metrics, containerPort: 0}",
            "x.yaml:15: spec.containers[0].ports[1].containerPort: Required value",
        ),
        (
            "containerPort: 8000, hostPort: 0}",
            "containerPort: 8000, hostPort: -1}",
            "x.yaml:14: spec.containers[0].ports[0].hostPort: Invalid value: -1: "
            "must be between 1 and 65535, inclusive",
        ),
        (
            "ports: [{containerPort: 9000}]",
            "ports: [{containerPort: 65536}]",
            "x.yaml:9: spec.initContainers[0].ports[0].containerPort: Invalid value: 65536: "
            "must be between 1 and 65535, inclusive",
        ),
        (
            "tcpSocket: {port: 8000}",
            "tcpSocket: {port: 80000}",
            "x.yaml:19: spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: 80000: "
            "must be between 1 and 65535, inclusive",
        ),
    ],
)
def test_container_ports_out_of_range(tmp_path, old, new, expected):
    assert old in POD
    assert validate(tmp_path, POD.replace(old, new)) == [expected]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "port: 80,",
            "port: 0,",
            "x.yaml:10: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            "targetPort: 0}",
            "targetPort: 65536}",
            "x.yaml:11: spec.ports[1].targetPort: Invalid value: 65536: "
            "must be between 1 and 65535, inclusive",
        ),
        (
            "nodePort: 30080",
            "nodePort: 8080",
            "x.yaml:10: spec.ports[0].nodePort: Invalid value: 8080: "
            "provided port is not in the valid range. The range of valid ports is 30000-32767",
        ),
    ],
)
def test_service_ports_out_of_range(tmp_path, old, new, expected):
    assert old in SERVICE
    assert validate(tmp_path, SERVICE.replace(old, new)) == [expected]


def test_a_deployments_template_is_checked_and_every_problem_listed(tmp_path):
    text = """\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: llm}
        spec:
          selector: {matchLabels: {app: llm}}
          template:
            metadata: {labels: {app: llm}}
            spec:
              containers:
                - name: server
                  image: x
                  ports: [{containerPort: 70000, hostPort: 70001}]
        """
    assert validate(tmp_path, text) == [
        "x.yaml:12: spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: "
        "must be between 1 and 65535, inclusive",
        "x.yaml:12: spec.template.spec.containers[0].ports[0].hostPort: Invalid value: 70001: "
        "must be between 1 and 65535, inclusive",
    ]


def test_the_namespace_must_be_the_labs_or_left_out(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(
        SERVICE
        + "---\n"
        + SERVICE.replace("name: llm", "name: other").replace("lab-demo", "default")
        + "---\n"
        + SERVICE.replace("name: llm", "name: third").replace("  namespace: lab-demo\n", "")
        + "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: lab-demo, namespace: ignored}\n",
        encoding="utf-8",
    )
    docs = yamlfile.load_all(path, "x.yaml")
    assert [str(p) for p in apivalidation.namespace_problems(docs, "lab-demo")] == [
        'x.yaml:17: metadata.namespace: the namespace from the provided object "default" does not match '
        "the namespace \"lab-demo\". You must pass '--namespace=default' to perform this operation."
    ]
