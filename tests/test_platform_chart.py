"""charts/slolab-platform, kind-config.yaml, the e2e-kind workflow, and the optional custom
resources of charts/llm-serving that the platform's controllers run, agree with each other.

The platform chart pins its upstream charts in Chart.yaml; they cannot be fetched here (no
network), so helm lints and renders it without them (slolab.lint.usable_chart). What is
checked: the pins, helm lint --strict and strict Kubernetes 1.36 validation of the chart's own
templates with each ci/ case, the settings kind needs (Prometheus node port mapped by
kind-config.yaml, containerd for Chaos Mesh and its toleration of the GPU taint, the fake GPU
pool label on the GPU worker), the Prometheus address the labs use, and the workflow that runs
all of it on a real kind cluster.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from _support import make_targets

from slolab import errors, lint, paths
from slolab.catalog import k8svalidate, kindconfig, yamlfile
from slolab.catalog import lab as lab_mod
from slolab.kube import labs as kube_labs
from slolab.workspace import render as render_mod

CHART = paths.charts_dir() / "slolab-platform"
SERVING = paths.charts_dir() / "llm-serving"
WORKFLOW = paths.root() / ".github" / "workflows" / "e2e-kind.yaml"
RELEASE, NAMESPACE = "slolab-platform", "slolab-system"  # as make cluster installs it (clusterup.py)

#: Chart, version and repository of each dependency, from shared/research/components.md, but
#: metrics-server, whose pin cites its upstream release tag in Chart.yaml (UPSTREAM_TAGS).
PINS = {
    "keda": ("2.20.2", "https://kedacore.github.io/charts", "components.keda.enabled"),
    "kube-prometheus-stack": (
        "88.5.3",
        "oci://ghcr.io/prometheus-community/charts",
        "components.kubePrometheusStack.enabled",
    ),
    "metrics-server": (
        "3.13.1",
        "https://kubernetes-sigs.github.io/metrics-server/",
        "components.metricsServer.enabled",
    ),
    "argo-rollouts": ("2.41.0", "https://argoproj.github.io/argo-helm", "components.argoRollouts.enabled"),
    "chaos-mesh": ("2.8.3", "https://charts.chaos-mesh.org", "components.chaosMesh.enabled"),
    "fake-gpu-operator": (
        "0.2.0",
        "oci://ghcr.io/run-ai/fake-gpu-operator",
        "components.fakeGpuOperator.enabled",
    ),
}

#: Pins not in components.md: the release tag and commit Chart.yaml's comment must cite.
UPSTREAM_TAGS = {
    "metrics-server": ("metrics-server-helm-chart-3.13.1", "842dcc8c42f22cc19f10c7d5f2d32a9f4b6013b0"),
}


def chart_yaml() -> dict[str, Any]:
    return yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))


def values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


def render(values_file: Path | None = None) -> dict[str, dict]:
    """The platform chart's own objects as {kind: object}, release and namespace as make cluster."""
    with lint.usable_chart(CHART) as (chart_dir, _):
        docs = lint.render(chart_dir, values_file, release=RELEASE, namespace=NAMESPACE)
    return {d.data["kind"]: d.data for d in docs}


# -- Chart.yaml: the pins --------------------------------------------------------------------


def test_dependencies_are_pinned() -> None:
    deps = {d["name"]: (d["version"], d["repository"], d["condition"]) for d in chart_yaml()["dependencies"]}
    assert deps == PINS
    for dep in chart_yaml()["dependencies"]:
        assert re.fullmatch(r"\d+\.\d+\.\d+", dep["version"]), f"{dep['name']}: pin an exact version"
        assert "alias" not in dep  # subchart values keep the upstream chart's name


def test_conditions_are_slolab_values_on_by_default() -> None:
    """Each condition is a key of this chart's `components` block (not an `enabled` key pushed
    into an upstream chart's values, which its schema may refuse), and true by default."""
    components = values()["components"]
    for _, _, condition in PINS.values():
        _, key, leaf = condition.split(".")
        assert components[key][leaf] is True, condition


def test_pins_match_the_research() -> None:
    candidates = [
        paths.root().parent / "shared" / "research" / "components.md",
        Path("/work/shared/research/components.md"),
    ]
    notes = next((p for p in candidates if p.is_file()), None)
    if notes is None:
        pytest.skip(f"components.md not found (tried {', '.join(map(str, candidates))})")
    text = notes.read_text(encoding="utf-8")
    for name, (version, repository, _) in PINS.items():
        if name in UPSTREAM_TAGS:
            continue  # test_pins_not_in_the_research_cite_their_tag
        assert version in text, f"{name} {version} is not in {notes}"
        host = repository.split("://", 1)[1].split("/", 1)[0]
        assert host in text, f"{name}'s repository host {host} is not in {notes}"


def test_pins_not_in_the_research_cite_their_tag() -> None:
    """The comment above such a dependency in Chart.yaml names its release tag and commit."""
    lines = (CHART / "Chart.yaml").read_text(encoding="utf-8").splitlines()
    for name, (tag, commit) in UPSTREAM_TAGS.items():
        at = lines.index(f"  - name: {name}")
        comment = []
        for line in reversed(lines[:at]):
            if not line.strip().startswith("#"):
                break
            comment.append(line)
        cited = " ".join(comment)
        assert tag in cited and commit in cited, f"{name}: cite {tag} ({commit}) above it in Chart.yaml"
        assert PINS[name][0] in tag


def test_chart_lock_if_any_matches_the_pins() -> None:
    """A Chart.lock is only committed once a real `helm dependency update` made it."""
    lock = CHART / "Chart.lock"
    if not lock.exists():
        pytest.skip("no Chart.lock yet: `helm dependency build` (make cluster) writes one")
    locked = {
        d["name"]: d["version"] for d in yaml.safe_load(lock.read_text(encoding="utf-8"))["dependencies"]
    }
    assert locked == {name: pin[0] for name, pin in PINS.items()}


# -- helm: lint and render -------------------------------------------------------------------


def test_unfetched_dependencies_are_named(helm: Path) -> None:
    missing = lint.missing_dependencies(CHART)
    if not missing:
        pytest.skip("the dependencies are fetched here (charts/slolab-platform/charts/)")
    assert sorted(missing) == sorted(PINS)
    # helm v4 refuses the chart as it is until `helm dependency build`: the reason for usable_chart
    proc = subprocess.run([str(helm), "lint", "--strict", str(CHART)], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "chart directory is missing these dependencies" in proc.stdout


CASES = [None, *lint.ci_values(CHART)]


@pytest.mark.parametrize("case", CASES, ids=[c.name if c else "defaults" for c in CASES])
def test_lint_strict_and_render_valid(helm: Path, case: Path | None) -> None:
    with lint.usable_chart(CHART) as (chart_dir, _):
        proc = lint.helm_lint(chart_dir, case)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout
        docs = lint.render(chart_dir, case, release=RELEASE, namespace=NAMESPACE)
    assert docs
    problems = [p for d in docs for p in k8svalidate.validate(d, lint.KUBE_VERSION)]
    assert not problems, "\n".join(map(str, problems))


def test_endpoints_name_the_prometheus_the_labs_use(helm: Path) -> None:
    data = render()["ConfigMap"]["data"]
    serving = yaml.safe_load((SERVING / "values.yaml").read_text(encoding="utf-8"))
    assert (
        data["prometheus-url"]
        == serving["prometheus"]["address"]
        == "http://kps-prometheus.slolab-system.svc:9090"
    )
    assert data["prometheus-node-port"] == "30090"
    assert {
        data[k] for k in ("keda", "metrics-server", "argo-rollouts", "chaos-mesh", "fake-gpu-operator")
    } == {"true"}


def test_components_can_be_switched_off(helm: Path) -> None:
    data = render(CHART / "ci" / "03-no-prometheus-values.yaml")["ConfigMap"]["data"]
    assert data["kube-prometheus-stack"] == "false"
    assert "prometheus-url" not in data
    data = render(CHART / "ci" / "02-observability-only-values.yaml")["ConfigMap"]["data"]
    assert data["keda"] == data["metrics-server"] == data["chaos-mesh"] == "false"
    assert "prometheus-node-port" not in data  # a ClusterIP Service


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"chaos-mesh": {"chaosDaemon": {"runtime": "docker"}}}, "set chaosDaemon.runtime to containerd"),
        ({"kube-prometheus-stack": {"fullnameOverride": ""}}, 'set it (slolab uses "kps")'),
        ({"kube-prometheus-stack": {"prometheus": {"service": {"nodePort": None}}}}, "(30090)"),
        ({"components": {"istio": {"enabled": True}}}, "additional properties 'istio' not allowed"),
    ],
    ids=["chaos-docker-runtime", "kps-no-fullname", "prometheus-no-node-port", "unknown-component"],
)
def test_bad_values_say_how_to_fix(helm: Path, tmp_path: Path, override: dict, expected: str) -> None:
    file = tmp_path / "override-values.yaml"
    file.write_text(yaml.safe_dump(override), encoding="utf-8")
    with pytest.raises(errors.InputError) as info:
        render(file)
    assert expected in str(info.value)


def test_notes_end_with_the_next_command(helm: Path) -> None:
    with lint.usable_chart(CHART) as (chart_dir, _):
        proc = subprocess.run(
            [str(helm), "install", RELEASE, str(chart_dir), "--dry-run=client", "-n", NAMESPACE],
            capture_output=True,
            text=True,
        )
    assert proc.returncode == 0, proc.stderr
    notes = proc.stdout.split("NOTES:\n", 1)[1].strip().splitlines()
    assert "http://127.0.0.1:30090" in "\n".join(notes)
    assert notes[-1].startswith(f"Next: kubectl -n {NAMESPACE} get pods")


def test_values_schema_is_strict_on_slolab_blocks() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.validate(values())
    assert schema["additionalProperties"] is False
    assert schema["properties"]["components"]["additionalProperties"] is False
    for name in PINS:
        assert schema["properties"][name]["type"] == "object"  # upstream values pass through
        assert name in schema["properties"][name]["description"]


# -- kind-config.yaml and the values kind needs ----------------------------------------------


def kind_nodes() -> list[kindconfig.NodeSpec]:
    return kindconfig.load()[1]


def kind_port_mappings() -> list[dict[str, Any]]:
    doc = yaml.safe_load(paths.kind_config().read_text(encoding="utf-8"))
    return [m for node in doc["nodes"] for m in node.get("extraPortMappings") or []]


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, str]) -> bool:
    """Whether any toleration matches ``taint`` (Kubernetes' ToleratesTaint)."""
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        if t.get("operator", "Equal") == "Exists" and t.get("key") in (None, taint["key"]):
            return True
        if t.get("key") == taint["key"] and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def test_kind_nodes() -> None:
    nodes = kind_nodes()
    assert [n.role for n in nodes] == ["control-plane", "worker", "worker"]
    cpu, gpu = nodes[1], nodes[2]
    assert cpu.labels["slolab.dev/pool"] == "cpu" and not cpu.taints
    assert gpu.labels["slolab.dev/pool"] == "gpu"
    assert gpu.labels["nvidia.com/gpu.present"] == "true"
    assert gpu.taints == ({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},)


def test_node_ports_are_mapped_to_the_laptop() -> None:
    """Prometheus' node port and the model Service's (llm-serving ci/06) reach 127.0.0.1."""
    kps = values()["kube-prometheus-stack"]["prometheus"]["service"]
    model = yaml.safe_load((SERVING / "ci" / "06-nodeport-values.yaml").read_text(encoding="utf-8"))
    mapped = {m["containerPort"]: m for m in kind_port_mappings()}
    for port in (kps["nodePort"], model["service"]["nodePort"]):
        assert port in mapped, f"node port {port} is not in kind-config.yaml's extraPortMappings"
        assert mapped[port]["listenAddress"] == "127.0.0.1"
        assert mapped[port].get("protocol", "TCP") == "TCP"
        assert 30000 <= port <= 32767


def test_fake_gpu_pool_is_the_gpu_worker() -> None:
    topology = values()["fake-gpu-operator"]["topology"]
    key = topology["nodePoolLabelKey"]
    pooled = [n for n in kind_nodes() if n.labels.get(key) in topology["nodePools"]]
    assert [n.labels["slolab.dev/pool"] for n in pooled] == ["gpu"]
    assert all(pool["gpuCount"] >= 1 for pool in topology["nodePools"].values())


def test_chaos_mesh_uses_containerd_and_reaches_the_gpu_worker() -> None:
    daemon = values()["chaos-mesh"]["chaosDaemon"]
    assert (daemon["runtime"], daemon["socketPath"]) == ("containerd", "/run/containerd/containerd.sock")
    for node in kind_nodes():
        if node.role == "worker":
            assert all(tolerates(daemon["tolerations"], t) for t in node.taints), node.name


def _flag(args: list[str], name: str) -> str | None:
    """The value of ``--name=value`` in a container's args (the last one wins, as pflag does)."""
    found = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return found[-1] if found else None


def test_metrics_server_reads_kind_kubelets_at_the_simulators_resolution() -> None:
    """kind's kubelets have self-signed certificates; the resolution is the simulator's."""
    metricsserver = pytest.importorskip(
        "slolab.sim.metricsserver", reason="the simulator's metrics-server (branch hpa) is not merged"
    )
    ms = values()["metrics-server"]
    args = [*ms["defaultArgs"], *ms["args"]]
    assert "--kubelet-insecure-tls" in args
    resolution = _flag(args, "metric-resolution")
    assert resolution is not None and re.fullmatch(r"\d+s", resolution), resolution
    assert float(resolution[:-1]) == metricsserver.METRIC_RESOLUTION_S
    # the upstream chart's own defaultArgs, which this list replaces, are all kept
    for upstream in (
        "--cert-dir=/tmp",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        "--kubelet-use-node-status-port",
    ):
        assert upstream in ms["defaultArgs"], upstream


def test_prometheus_selects_every_monitor() -> None:
    spec = values()["kube-prometheus-stack"]["prometheus"]["prometheusSpec"]
    assert spec["podMonitorSelectorNilUsesHelmValues"] is False
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False


# -- .github/workflows/e2e-kind.yaml ---------------------------------------------------------


def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def run_lines() -> list[str]:
    job = next(iter(workflow()["jobs"].values()))
    return [line.strip() for step in job["steps"] for line in str(step.get("run", "")).splitlines()]


def test_workflow_triggers_and_timeouts() -> None:
    doc = workflow()
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    assert triggers["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    assert len(jobs) == 1
    job = next(iter(jobs.values()))
    assert job["runs-on"] == "ubuntu-latest"
    for step in job["steps"]:
        assert step.get("run") or step.get("uses"), step
        if "run" in step and "make " in step["run"]:
            assert step.get("timeout-minutes"), f"step {step.get('name')!r} has no timeout"


#: What the untimed steps (checkout, setup-python) may take, minutes.
UNTIMED_STEPS_MIN = 5


def matrix_labs() -> list[str]:
    job = next(iter(workflow()["jobs"].values()))
    return job["strategy"]["matrix"]["lab"]


def test_workflow_grades_every_lab_that_runs_on_kind() -> None:
    """Each lab of the catalog that lists kind among its backends has a job in the matrix."""
    job = next(iter(workflow()["jobs"].values()))
    assert job["env"]["LAB"] == "${{ matrix.lab }}"
    on_kind = {name for name in lab_mod.names() if "kind" in lab_mod.load(name).backends}
    assert on_kind <= set(matrix_labs()), sorted(on_kind - set(matrix_labs()))


def step(name_start: str) -> dict[str, Any]:
    job = next(iter(workflow()["jobs"].values()))
    return next(s for s in job["steps"] if s["name"].startswith(name_start))


def _deadlines_s(node: Any) -> float:
    """The sum of a lab's grading deadlines and durations (every number under a ``*_s`` key)."""
    if isinstance(node, dict):
        return sum(
            float(v) if k.endswith("_s") and isinstance(v, int | float) else _deadlines_s(v)
            for k, v in node.items()
        )
    if isinstance(node, list):
        return sum(_deadlines_s(v) for v in node)
    return 0.0


def test_workflow_budgets_are_consistent() -> None:
    """The job's timeout holds every step's; each step outlasts the wait inside it."""
    job = next(iter(workflow()["jobs"].values()))
    timed = sum(s.get("timeout-minutes", 0) for s in job["steps"])
    assert job["timeout-minutes"] >= timed + UNTIMED_STEPS_MIN, (job["timeout-minutes"], timed)
    assert job["timeout-minutes"] <= 360  # GitHub-hosted runners' limit
    # `make lab` waits for Ready for kube.labs.wait_ready's default; the step must outlast it
    # so the CLI's own diagnostic prints.
    wait_s = inspect.signature(kube_labs.wait_ready).parameters["timeout_s"].default
    assert step("make lab")["timeout-minutes"] * 60 >= wait_s + 120
    # `make grade` runs the grader in real time: at most the sum of the lab's deadlines, for
    # every lab of the matrix.
    for lab in matrix_labs():
        raw = yaml.safe_load((paths.labs_dir() / lab / "lab.yaml").read_text(encoding="utf-8"))
        deadlines_s = _deadlines_s(raw["grading"])
        assert deadlines_s > 600, f"{lab}: the lab's grading deadlines were not found"
        assert step("make grade")["timeout-minutes"] * 60 >= deadlines_s + 120, lab
    # make cluster: helm waits 15 + 5 min for the platform and the operator, plus kind and builds.
    assert step("make cluster")["timeout-minutes"] >= 15 + 5 + 10


def test_workflow_collects_diagnostics_on_failure() -> None:
    diag = step("Collect diagnostics")
    assert diag["if"] == "failure()"
    script = diag["run"]
    for wanted in (
        "logs deployment/slolab-operator",
        "get events -A",
        'get lab "${LAB}" -o yaml',
        "kind export logs diagnostics/",
    ):
        assert wanted in script, wanted
    upload = step("Upload")
    assert "diagnostics/" in upload["with"]["path"]


@pytest.mark.parametrize("lab", matrix_labs())
def test_workflow_runs_cluster_lab_solution_grade_in_order(lab: str) -> None:
    lines = [line.replace("${LAB}", lab) for line in run_lines()]
    wanted = [
        "make cluster",
        f"make lab NAME={lab} BACKEND=kind",
        f".tools/bin/kubectl apply -n lab-{lab} -f labs/{lab}/solution/",
        f"make grade NAME={lab} BACKEND=kind",
    ]
    positions = [lines.index(w) for w in wanted]
    assert positions == sorted(positions), lines
    assert "kind" in lab_mod.load(lab).backends
    assert (paths.labs_dir() / lab / "solution").is_dir()


def test_workflow_deletes_what_an_apply_of_the_solution_cannot() -> None:
    """keda-scaling's solution removes the fault's HPA; `kubectl apply` never deletes, so the
    workflow deletes it before it applies the solution (as the lab's README tells the learner)."""
    lines = run_lines()
    delete = lines.index(".tools/bin/kubectl -n lab-${LAB} delete hpa llm")
    assert delete < lines.index(".tools/bin/kubectl apply -n lab-${LAB} -f labs/${LAB}/solution/")
    assert step("Delete the fault's HPA")["if"] == "matrix.lab == 'keda-scaling'"
    assert "delete hpa llm" in (paths.labs_dir() / "keda-scaling" / "README.md").read_text(encoding="utf-8")


def test_workflow_make_targets_exist() -> None:
    called = {m for line in run_lines() for m in re.findall(r"\bmake\s+([a-z][\w-]*)", line)}
    assert {"setup", "cluster", "lab", "grade"} <= called
    missing = called - make_targets()
    assert not missing, f"the workflow calls make targets the Makefile does not define: {sorted(missing)}"


def test_workflow_uploads_the_reports() -> None:
    job = next(iter(workflow()["jobs"].values()))
    upload = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()"
    assert "workspace/${{ env.LAB }}/reports/" in upload["with"]["path"]


# -- charts/llm-serving: the optional custom resources the platform runs ---------------------


def serving(tmp_path: Path, *overlays: dict) -> dict[str, dict]:
    """charts/llm-serving rendered as the labs render it, as {kind: object}."""
    files = render_mod.render("llm-serving", [{"fullnameOverride": "llm"}, *overlays], namespace="lab-01")
    objects: dict[str, dict] = {}
    for f in files:
        path = tmp_path / f.name
        path.write_text(f.text, encoding="utf-8")
        for doc in yamlfile.load_all(path):
            objects[doc.data["kind"]] = doc.data
    return objects


def ci(name: str) -> dict:
    return yaml.safe_load((SERVING / "ci" / name).read_text(encoding="utf-8"))


def test_scaled_object_takes_over_the_replicas(helm: Path, tmp_path: Path) -> None:
    objects = serving(tmp_path, ci("07-scaledobject-values.yaml"))
    assert set(objects) == {"Deployment", "Service", "ScaledObject", "PodMonitor"}
    assert "replicas" not in objects["Deployment"]["spec"]  # the HPA owns it
    spec = objects["ScaledObject"]["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 4)
    trigger = spec["triggers"][0]
    assert (trigger["type"], trigger["metricType"]) == ("prometheus", "AverageValue")
    assert trigger["metadata"] == {
        "serverAddress": "http://kps-prometheus.slolab-system.svc:9090",
        "query": 'sum(vllm:num_requests_waiting{namespace="lab-01",model_name="llama-3.1-8b"})',
        "threshold": "4",
        "activationThreshold": "0",
        "ignoreNullValues": "false",
    }
    pod_monitor = objects["PodMonitor"]["spec"]
    assert pod_monitor["selector"]["matchLabels"] == objects["Deployment"]["spec"]["selector"]["matchLabels"]
    assert pod_monitor["podMetricsEndpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


def test_rollout_replaces_the_deployment_with_the_same_pods(helm: Path, tmp_path: Path) -> None:
    with_rollout = serving(tmp_path, ci("08-rollout-values.yaml"))
    assert set(with_rollout) == {"Rollout", "AnalysisTemplate", "PodMonitor", "Service"}
    plain = serving(tmp_path, {**ci("08-rollout-values.yaml"), "rollout": {"enabled": False}})
    rollout, deployment = with_rollout["Rollout"]["spec"], plain["Deployment"]["spec"]
    assert rollout["template"] == deployment["template"]
    assert rollout["selector"] == deployment["selector"]
    assert rollout["replicas"] == deployment["replicas"] == 4
    canary = rollout["strategy"]["canary"]
    assert (canary["maxSurge"], canary["maxUnavailable"]) == (1, 0)
    assert canary["steps"][0] == {"setWeight": 25}
    analysis = canary["analysis"]
    template = with_rollout["AnalysisTemplate"]
    assert analysis["templates"] == [{"templateName": template["metadata"]["name"]}]
    assert analysis["args"] == [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]
    metric = template["spec"]["metrics"][0]
    query = metric["provider"]["prometheus"]["query"]
    assert 'rollouts_pod_template_hash="{{args.canary-hash}}"' in query  # Argo's placeholder, not helm's
    assert query.startswith("histogram_quantile(0.95, ")
    assert metric["successCondition"].endswith("result[0] <= 2")
    assert metric["failureCondition"].endswith("result[0] > 2")  # NaN meets neither: Inconclusive
    assert "rollouts-pod-template-hash" in with_rollout["PodMonitor"]["spec"]["podTargetLabels"]


def test_scaled_object_scales_the_rollout(helm: Path, tmp_path: Path) -> None:
    objects = serving(tmp_path, ci("10-rollout-scaledobject-values.yaml"))
    target = objects["ScaledObject"]["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "llm"}
    assert "replicas" not in objects["Rollout"]["spec"]
    assert "AnalysisTemplate" not in objects
    assert objects["ScaledObject"]["spec"]["triggers"][0]["metadata"]["query"] == (
        'sum(vllm:num_requests_running{namespace="lab-01"})'
    )


@pytest.mark.parametrize(
    ("overlay", "expected"),
    [
        (
            {"scaledObject": {"enabled": True, "minReplicaCount": 5, "maxReplicaCount": 2}},
            "which KEDA rejects",
        ),
        ({"rollout": {"enabled": True, "maxSurge": "0%", "maxUnavailable": 0}}, "set one of them above 0"),
        (
            {
                "rollout": {"enabled": True, "analysis": {"enabled": True}},
                "podMonitor": {"enabled": True, "podTargetLabels": []},
            },
            "does not copy rollouts-pod-template-hash",
        ),
        ({"scaledObject": {"enabled": True, "metricType": "Utilization"}}, "scaledObject.metricType"),
    ],
    ids=["min-above-max", "canary-cannot-move", "analysis-without-label", "metric-type"],
)
def test_optional_resources_refuse_bad_values(helm: Path, overlay: dict, expected: str) -> None:
    with pytest.raises(errors.InputError) as info:
        render_mod.render("llm-serving", [{"fullnameOverride": "llm"}, overlay], source="v.yaml")
    assert expected in str(info.value)
