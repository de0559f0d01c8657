"""charts/slolab-operator: lint clean, every rendered manifest (CRD included) valid for
Kubernetes 1.36 with strict schemas, a restricted pod, and RBAC where every rule says why."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from slolab import paths
from slolab.catalog import k8svalidate, kindmanifests, yamlfile
from slolab_operator import config

CHART = paths.charts_dir() / "slolab-operator"
CASES = sorted((CHART / "ci").glob("*-values.yaml"))
NAMESPACE = "slolab-system"


def template(helm: Path, *values: Path, release: str = "slolab-operator") -> str:
    argv = [str(helm), "template", release, str(CHART), "--namespace", NAMESPACE, "--include-crds"]
    for file in values:
        argv += ["--values", str(file)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def objects(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}


@pytest.fixture(scope="module")
def rendered(helm: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return objects(template(helm))


@pytest.mark.parametrize("case", [None, *CASES], ids=["no-values", *[c.name for c in CASES]])
def test_helm_lint_strict(helm: Path, case: Path | None) -> None:
    argv = [str(helm), "lint", "--strict", str(CHART), *(["--values", str(case)] if case else [])]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_manifest_is_valid_kubernetes_1_35(helm: Path, case: Path, tmp_path: Path) -> None:
    out = tmp_path / "rendered.yaml"
    out.write_text(template(helm, case), encoding="utf-8")
    docs = yamlfile.load_all(out, display=f"helm template -f {case.name}")
    kinds = sorted(d.data["kind"] for d in docs)
    values = yaml.safe_load(case.read_text()) or {}
    kind_only = ["Role", "RoleBinding"] if values.get("kindManifests") else []
    # grader.nodeLabs (default [chaos-pod-kill]): the grader's Node rights and their binding
    node_labs = (values.get("grader") or {}).get("nodeLabs", ["chaos-pod-kill"])
    grader_nodes = ["ClusterRole", "ClusterRoleBinding"] if node_labs else []
    assert kinds == sorted(
        [
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRole",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment",
            *kind_only,
            *grader_nodes,
        ]
    )
    for doc in docs:
        assert k8svalidate.has_schema(doc.data["kind"], doc.data["apiVersion"]), doc.data["kind"]
    problems = k8svalidate.validate_all(docs, k8svalidate.DEFAULT_KUBE_VERSION)
    assert not problems, "\n".join(map(str, problems))


def test_the_crd_comes_from_crds_unchanged(rendered: dict) -> None:
    shipped = yaml.safe_load((CHART / "crds" / "labs.slolab.dev.yaml").read_text(encoding="utf-8"))
    assert rendered["CustomResourceDefinition", "labs.slolab.dev"] == shipped


def test_deployment_is_restricted(rendered: dict) -> None:
    deployment = rendered["Deployment", "slolab-operator"]
    assert deployment["metadata"]["namespace"] == NAMESPACE
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "slolab-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "slolab/operator:0.1.0"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["command"][:5] == [
        "kopf",
        "run",
        "--module=slolab_operator.main",
        "--all-namespaces",
        "--standalone",
    ]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["command"]
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["resources"]["limits"]["memory"] == "512Mi"
    # Everything that writes goes to the emptyDir on /tmp.
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    env = {e["name"]: e.get("value") for e in container["env"]}
    for name in ("HOME", "HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert env[name].startswith("/tmp"), name


def test_deployment_env_configures_the_operator(rendered: dict) -> None:
    container = rendered["Deployment", "slolab-operator"]["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for entry in container["env"]:
        if "valueFrom" in entry:
            assert entry["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
            env[entry["name"]] = NAMESPACE
        else:
            env[entry["name"]] = entry["value"]
    fields = {f.upper() for f in config.Config.__dataclass_fields__}
    unknown = [k for k in env if k.startswith(config.PREFIX) and k.removeprefix(config.PREFIX) not in fields]
    assert not unknown, f"env the operator does not read: {unknown}"
    cfg = config.Config.from_env(env)
    assert cfg.operator_namespace == NAMESPACE
    assert cfg.image == container["image"]
    # The names the operator binds and uses are the objects the chart makes.
    assert ("ClusterRole", cfg.lab_cluster_role) in rendered
    assert ("ClusterRole", cfg.grader_cluster_role) in rendered
    assert ("ServiceAccount", cfg.operator_service_account) in rendered
    assert (cfg.helm_timeout_s, cfg.grade_poll_s, cfg.grade_deadline_s, cfg.chaos_interval_s) == (
        300,
        10,
        3600,
        5,
    )


def test_custom_values_reach_the_operator(helm: Path) -> None:
    docs = objects(template(helm, CHART / "ci" / "02-custom-values.yaml", release="x"))
    pod = docs["Deployment", "slolab"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert container["image"] == "registry.example.com/slolab/operator:0.1.0-rc1"
    assert env["SLOLAB_OPERATOR_IMAGE"] == container["image"]
    assert env["SLOLAB_OPERATOR_GRADER_SERVICE_ACCOUNT"] == "grader"
    assert env["SLOLAB_OPERATOR_GRADE_POLL_S"] == "2.5"
    assert env["SLOLAB_OPERATOR_OPERATOR_SERVICE_ACCOUNT"] == "slolab-operator"
    assert "--verbose" in container["command"]
    bind = next(r for r in docs["ClusterRole", "slolab"]["rules"] if r["verbs"] == ["bind"])
    assert bind["resourceNames"] == ["slolab-lab", "slolab-grader"]
    binding = docs["ClusterRoleBinding", "slolab"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "slolab-operator", "namespace": NAMESPACE}
    ]


# -- RBAC --------------------------------------------------------------------------------------


def _rules(rendered: dict) -> dict[str, list[dict]]:
    return {name: obj["rules"] for (kind, name), obj in rendered.items() if kind in ("ClusterRole", "Role")}


def test_rbac_has_no_wildcards_and_no_cluster_wide_secrets(rendered: dict, helm: Path) -> None:
    for name, rules in _rules(rendered).items():
        for rule in rules:
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule.get(key, []), f"{name}: {rule}"
            assert "escalate" not in rule["verbs"] and "impersonate" not in rule["verbs"], f"{name}: {rule}"
    cluster_wide = {r for rule in _rules(rendered)["slolab-operator"] for r in rule["resources"]}
    assert cluster_wide == {
        "labs",
        "labs/status",
        "namespaces",
        "serviceaccounts",
        "rolebindings",
        "clusterroles",
        "nodes",
    }
    # game-day mode's drain (cordon) and node loss (a taint): get and patch nodes, nothing more
    (nodes,) = [r for r in _rules(rendered)["slolab-operator"] if "nodes" in r["resources"]]
    assert (nodes["resources"], nodes["verbs"]) == (["nodes"], ["get", "patch"])
    bind = next(r for r in _rules(rendered)["slolab-operator"] if "bind" in r["verbs"])
    assert bind["resourceNames"] == ["slolab-operator-lab", "slolab-operator-grader"]
    assert rendered["Role", "slolab-operator-events"]["metadata"]["namespace"] == NAMESPACE
    # a scenario's kind-only objects: only on kind, only the kinds the catalog admits, only in
    # its namespace
    assert ("Role", "slolab-operator-kind-manifests") not in rendered
    on_kind = objects(template(helm, CHART / "ci" / "03-kind-values.yaml"))
    kind_only = on_kind["Role", "slolab-operator-kind-manifests"]
    assert (
        on_kind["RoleBinding", "slolab-operator-kind-manifests"]["roleRef"]["name"]
        == kind_only["metadata"]["name"]
    )
    env = {
        e["name"]: e.get("value")
        for e in on_kind["Deployment", "slolab-operator"]["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["SLOLAB_OPERATOR_KIND_MANIFESTS"] == "true"
    assert kind_only["metadata"]["namespace"] == NAMESPACE == kindmanifests.NAMESPACE
    granted = {(g, r) for rule in kind_only["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    admitted = {
        (v.split("/")[0] if "/" in v else "", plural) for (v, _), plural in kindmanifests.KINDS.items()
    }
    assert granted == admitted


def test_every_rbac_rule_has_a_comment(helm: Path) -> None:
    """Each rule of every (Cluster)Role is preceded by a comment line saying why."""
    text = template(helm)
    checked = 0
    for document in text.split("\n---\n"):
        if not re.search(r"^kind: (Cluster)?Role$", document, re.M):
            continue
        lines = document.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("- apiGroups:"):
                assert lines[i - 1].strip().startswith("#"), "rule without a comment:\n" + "\n".join(
                    lines[max(0, i - 2) : i + 4]
                )
                checked += 1
    assert checked >= 20


def test_notes_end_with_the_next_command(helm: Path) -> None:
    proc = subprocess.run(
        [str(helm), "install", "slolab-operator", str(CHART), "-n", NAMESPACE, "--dry-run=client"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.split("NOTES:\n", 1)[1].strip().splitlines()
    assert notes[-1] == f"Next: kubectl -n {NAMESPACE} rollout status deployment/slolab-operator --timeout=5m"


def test_readme_and_schema_describe_every_value() -> None:
    import json

    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    defaults = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    for key in defaults:
        assert schema["properties"][key].get("description"), key
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    for key in defaults:
        assert f"`{key}" in readme, f"README.md does not mention {key}"


def test_a_drain_lab_grader_may_cordon_nodes_evict_pods_and_apply_its_chaos(rendered: dict) -> None:
    """chaos-pod-kill's grader on kind cordons and uncordons a node, evicts the lab's pods and
    applies (server-side) and deletes its Chaos Mesh Schedule: no more than that."""
    grader = _rules(rendered)["slolab-operator-grader"]
    assert {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]} in grader
    (chaos,) = [r for r in grader if r["apiGroups"] == ["chaos-mesh.org"]]
    assert (chaos["resources"], chaos["verbs"]) == (["schedules"], ["get", "create", "patch", "delete"])
    nodes = _rules(rendered)["slolab-operator-grader-nodes"]
    assert nodes == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}]
    binding = rendered["ClusterRoleBinding", "slolab-operator-grader-nodes"]
    assert binding["roleRef"]["name"] == "slolab-operator-grader-nodes"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "slolab-grader", "namespace": "lab-chaos-pod-kill"}
    ]
