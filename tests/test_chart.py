"""The charts under charts/: lint clean, every ci/ case renders to valid Kubernetes YAML,
and llm-serving renders its values the way the labs rely on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from slolab import errors, lint, paths
from slolab.catalog import k8svalidate, yamlfile
from slolab.workspace import render

CHART = "llm-serving"
CHART_DIR = paths.charts_dir() / CHART
CHARTS = sorted(p.parent for p in paths.charts_dir().glob("*/Chart.yaml"))
CI_CASES = sorted((p for chart in CHARTS for p in (chart / "ci").glob("*-values.yaml")), key=str)
LABS = {"fullnameOverride": "llm"}


def docs_of(files: list[render.RenderedFile], tmp_path: Path) -> dict[str, list[yamlfile.Document]]:
    out = {}
    for f in files:
        path = tmp_path / f.name
        path.write_text(f.text, encoding="utf-8")
        out[f.name] = yamlfile.load_all(path, display=f.name)
    return out


def render_one(tmp_path: Path, *values: dict) -> dict[str, dict]:
    """Render llm-serving with the labs' name and return {kind: object}."""
    files = render.render(CHART, [LABS, *values], namespace="lab-01")
    objects = {}
    for docs in docs_of(files, tmp_path).values():
        for doc in docs:
            objects[doc.data["kind"]] = doc.data
    return objects


def container(objects: dict[str, dict]) -> dict:
    return objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]


# -- every chart -----------------------------------------------------------------------------


@pytest.mark.parametrize("chart", CHARTS, ids=[c.name for c in CHARTS])
def test_helm_lint_strict(helm: Path, chart: Path) -> None:
    with lint.usable_chart(chart) as (chart_dir, _):
        proc = lint.helm_lint(chart_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("case", CI_CASES, ids=[f"{c.parent.parent.name}/{c.name}" for c in CI_CASES])
def test_ci_case_renders_valid_kubernetes(helm: Path, case: Path, tmp_path: Path) -> None:
    with lint.usable_chart(case.parent.parent) as (chart_dir, _):
        docs = lint.render(chart_dir, case, namespace="lab-01")
    assert docs, f"{case} rendered nothing"
    problems = [p for d in docs for p in k8svalidate.validate(d)]
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("case", CI_CASES, ids=[f"{c.parent.parent.name}/{c.name}" for c in CI_CASES])
def test_helm_lint_strict_with_ci_values(helm: Path, case: Path) -> None:
    with lint.usable_chart(case.parent.parent) as (chart_dir, _):
        proc = lint.helm_lint(chart_dir, case)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("chart", CHARTS, ids=[c.name for c in CHARTS])
def test_chart_layout(chart: Path) -> None:
    values_text = (chart / "values.yaml").read_text(encoding="utf-8")
    assert values_text.splitlines()[0] == "# yaml-language-server: $schema=values.schema.json"
    schema = json.loads((chart / "values.schema.json").read_text(encoding="utf-8"))
    defaults = yaml.safe_load(values_text)
    jsonschema.validators.validator_for(schema)(schema).validate(defaults)
    assert (chart / "templates" / "NOTES.txt").is_file()
    assert list((chart / "ci").glob("01-*-values.yaml"))


# -- llm-serving -----------------------------------------------------------------------------


def test_schema_describes_every_value() -> None:
    schema = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    for key in defaults:
        assert schema["properties"][key].get("description"), key
    for block in ("images", "model", "server", "service", "podDisruptionBudget", "hpa"):
        assert schema["properties"][block]["additionalProperties"] is False, block
    assert schema["properties"]["engine"]["enum"] == ["slolab-serve", "vllm", "llm-d-inference-sim"]


def test_defaults_render_slolab_serve(helm: Path, tmp_path: Path) -> None:
    objects = render_one(tmp_path)
    assert set(objects) == {"Deployment", "Service"}
    deployment, service = objects["Deployment"], objects["Service"]
    assert deployment["metadata"]["name"] == service["metadata"]["name"] == "llm"
    assert deployment["metadata"]["namespace"] == "lab-01"
    c = container(objects)
    assert c["image"] == "slolab/serve:0.1.0"
    assert c["command"] == ["slolab", "serve"]
    assert c["args"] == [
        "--preset=llama-3.1-8b-h100",
        "--served-model-name=llama-3.1-8b",
        "--port=8000",
        "--max-model-len=8192",
        "--max-num-seqs=256",
        "--max-num-batched-tokens=8192",
        "--load-time-s=90",
    ]
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert c["startupProbe"] == {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 30,
    }
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }


def test_labels_and_selectors(helm: Path, tmp_path: Path) -> None:
    objects = render_one(tmp_path, {"podLabels": {"team": "slo"}})
    deployment, service = objects["Deployment"], objects["Service"]
    selector = {"app.kubernetes.io/name": "llm-serving", "app.kubernetes.io/instance": "llm"}
    assert deployment["spec"]["selector"]["matchLabels"] == selector
    assert service["spec"]["selector"] == selector
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    assert pod_labels["team"] == "slo"
    for obj in (deployment, service):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == "model-server"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == "0.1.0"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


def test_vllm_engine(helm: Path, tmp_path: Path) -> None:
    objects = render_one(tmp_path, {"engine": "vllm", "server": {"extraArgs": ["--enable-prefix-caching"]}})
    c = container(objects)
    assert c["image"] == "vllm/vllm-openai:v0.33.0"
    assert c["command"] == ["vllm", "serve"]
    assert c["args"] == [
        "meta-llama/Llama-3.1-8B-Instruct",
        "--served-model-name=llama-3.1-8b",
        "--port=8000",
        "--max-model-len=8192",
        "--max-num-seqs=256",
        "--max-num-batched-tokens=8192",
        "--gpu-memory-utilization=0.9",
        "--enable-prefix-caching",
    ]
    assert c["volumeMounts"] == [{"name": "dshm", "mountPath": "/dev/shm"}]
    volumes = objects["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}}]


def test_llmd_engine(helm: Path, tmp_path: Path) -> None:
    objects = render_one(tmp_path, {"engine": "llm-d-inference-sim", "model": {"loadTimeSeconds": 30}})
    c = container(objects)
    assert c["image"] == "ghcr.io/llm-d/llm-d-inference-sim:v0.10.2"
    assert "command" not in c
    assert c["args"] == [
        "--model=llama-3.1-8b",
        "--port=8000",
        "--max-num-seqs=256",
        "--max-model-len=8192",
        "--startup-duration=30s",
    ]
    assert "volumeMounts" not in c


def test_large_numbers_render_as_integers(helm: Path, tmp_path: Path) -> None:
    objects = render_one(tmp_path, {"server": {"maxNumBatchedTokens": 2_097_152}})
    assert "--max-num-batched-tokens=2097152" in container(objects)["args"]


@pytest.mark.parametrize("probe", ["startupProbe", "readinessProbe", "livenessProbe"])
def test_a_null_probe_is_omitted(helm: Path, tmp_path: Path, probe: str) -> None:
    c = container(render_one(tmp_path, {probe: None}))
    assert probe not in c
    assert {"startupProbe", "readinessProbe", "livenessProbe"} - {probe} <= c.keys()


def test_no_probes(helm: Path, tmp_path: Path) -> None:
    files = render.render(
        CHART, [LABS, {p: None for p in ("startupProbe", "readinessProbe", "livenessProbe")}]
    )
    deployment = next(f for f in files if f.name == "deployment.yaml")
    assert "Probe" not in deployment.text


def test_probe_rendered_verbatim(helm: Path, tmp_path: Path) -> None:
    probe = {"httpGet": None, "exec": {"command": ["cat", "/tmp/ready"]}, "initialDelaySeconds": 7}
    c = container(render_one(tmp_path, {"readinessProbe": probe}))
    assert c["readinessProbe"] == {
        "exec": {"command": ["cat", "/tmp/ready"]},
        "initialDelaySeconds": 7,
        "periodSeconds": 5,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def test_nodeport(helm: Path, tmp_path: Path) -> None:
    service = render_one(tmp_path, {"service": {"type": "NodePort", "nodePort": 30080}})["Service"]
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"][0]["nodePort"] == 30080
    service = render_one(tmp_path, {"service": {"type": "NodePort"}})["Service"]
    assert "nodePort" not in service["spec"]["ports"][0]


def test_pdb(helm: Path, tmp_path: Path) -> None:
    pdb = render_one(tmp_path, {"podDisruptionBudget": {"enabled": True}})["PodDisruptionBudget"]
    assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    values = {"podDisruptionBudget": {"enabled": True, "minAvailable": "50%", "maxUnavailable": None}}
    pdb = render_one(tmp_path, values)["PodDisruptionBudget"]
    assert pdb["spec"]["minAvailable"] == "50%" and "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "llm"


def test_recreate_strategy_drops_rolling_update(helm: Path, tmp_path: Path) -> None:
    deployment = render_one(tmp_path, {"strategy": {"type": "Recreate"}})["Deployment"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


CPU_70 = {"type": "Utilization", "averageUtilization": 70}


def test_hpa_defaults_to_cpu_utilization(helm: Path, tmp_path: Path) -> None:
    objects = render_one(tmp_path, {"hpa": {"enabled": True}})
    hpa = objects["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["metadata"]["name"] == objects["Deployment"]["metadata"]["name"] == "llm"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)
    assert hpa["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }
    ]
    assert "behavior" not in hpa["spec"]
    assert "replicas" not in objects["Deployment"]["spec"]
    assert "HorizontalPodAutoscaler" not in render_one(tmp_path, {})
    assert render_one(tmp_path, {})["Deployment"]["spec"]["replicas"] == 1


def test_hpa_metrics_behavior_and_rollout_target(helm: Path, tmp_path: Path) -> None:
    metrics = [{"type": "Resource", "resource": {"name": "cpu", "target": CPU_70}}]
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    objects = render_one(
        tmp_path,
        {
            "hpa": {
                "enabled": True,
                "minReplicas": 2,
                "maxReplicas": 3,
                "metrics": metrics,
                "behavior": behavior,
            }
        },
        {"rollout": {"enabled": True}},
    )
    hpa = objects["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": "llm",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 3)
    assert hpa["spec"]["metrics"] == metrics
    assert hpa["spec"]["behavior"] == behavior
    assert "replicas" not in objects["Rollout"]["spec"]
    assert "Deployment" not in objects


def test_comments_and_header_are_kept(helm: Path) -> None:
    files = render.render(CHART, [LABS], header="Rendered for lab {release}.\nmake grade NAME=demo")
    by_name = {f.name: f.text for f in files}
    assert set(by_name) == {"deployment.yaml", "service.yaml"}
    text = by_name["deployment.yaml"]
    assert text.startswith("# Rendered for lab llm.\n# make grade NAME=demo\n")
    assert "# Probes:" in text and "https://kubernetes.io/docs/" in text
    assert "# Source:" not in text and "\n---" not in text
    assert not render.render(CHART, [LABS], header=None)[0].text.startswith("# Rendered")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"engine": "vllm", "resources": {"requests": {"nvidia.com/gpu": None}, "limits": None}},
            "needs an NVIDIA GPU",
        ),
        ({"resources": {"requests": {"nvidia.com/gpu": 2}}}, "Set both to the same count"),
        ({"service": {"nodePort": 30080}}, "set service.type to NodePort"),
        ({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}}, "set one of them above 0"),
        ({"podDisruptionBudget": {"enabled": True, "minAvailable": 1}}, "Set the other to null"),
        ({"podDisruptionBudget": {"enabled": True, "maxUnavailable": None}}, "set one of them"),
        ({"hpa": {"enabled": True}, "scaledObject": {"enabled": True}}, "Enable one of them"),
        ({"hpa": {"enabled": True, "minReplicas": 5}}, "lower the minimum or raise the maximum"),
        (
            {"hpa": {"enabled": True}, "resources": {"requests": {"cpu": None}}},
            "resources.requests.cpu is not set",
        ),
        (
            {
                "hpa": {
                    "enabled": True,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": CPU_70}}],
                },
                "resources": {"requests": {"cpu": None}},
            },
            "resources.requests.cpu is not set",
        ),
    ],
    ids=[
        "vllm-without-gpu",
        "gpu-mismatch",
        "nodeport-clusterip",
        "no-surge-no-unavailable",
        "pdb-both",
        "pdb-none",
        "hpa-and-scaledobject",
        "hpa-min-above-max",
        "hpa-default-cpu-without-request",
        "hpa-cpu-metric-without-request",
    ],
)
def test_fail_says_how_to_fix(helm: Path, values: dict, expected: str) -> None:
    with pytest.raises(errors.InputError) as info:
        render.render(CHART, [LABS, values], source="labs/demo/lab.yaml")
    message = str(info.value)
    assert message.startswith("labs/demo/lab.yaml: ")
    assert expected in message


def test_schema_rejects_unknown_and_wrong_values(helm: Path) -> None:
    with pytest.raises(errors.InputError) as info:
        render.render(
            CHART, [{"engine": "tgi", "model": {"nme": "x"}, "replicaCount": "two"}], source="v.yaml"
        )
    fields = {p.field for p in info.value.problems}
    assert {"engine", "model", "replicaCount"} <= fields
    assert all(p.file == "v.yaml" for p in info.value.problems)


def test_unknown_chart() -> None:
    with pytest.raises(errors.InputError, match="no such chart"):
        render.render("no-such-chart", [])


def test_notes_end_with_the_next_command(helm: Path) -> None:
    for values in ([], ["--set", "engine=llm-d-inference-sim"]):
        proc = subprocess.run(
            [str(helm), "install", "llm", str(CHART_DIR), "--dry-run=client", "-n", "lab-01", *values],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        notes = proc.stdout.split("NOTES:\n", 1)[1].strip().splitlines()
        assert notes[-1].startswith("Next: kubectl -n lab-01 rollout status deployment/")
    assert "WARNING: readinessProbe uses /health" in proc.stdout


# -- merge_values ----------------------------------------------------------------------------


def test_merge_values_later_wins_and_keeps_none() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": {"e": 1}, "f": 1}
    merged = render.merge_values(base, {"a": {"c": [3]}, "d": None}, None, {"a": {"g": 2}, "f": {"h": 1}})
    assert merged == {"a": {"b": 1, "c": [3], "g": 2}, "d": None, "f": {"h": 1}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": {"e": 1}, "f": 1}
    assert render.merge_values() == {}
