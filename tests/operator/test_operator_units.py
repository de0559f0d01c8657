"""The operator's small pieces on their own: conditions, settings, spec checks, the Helm wrapper."""

from __future__ import annotations

import datetime
import json
import stat
import subprocess
import sys
from pathlib import Path

import kopf
import pytest
import yaml

from slolab_operator import conditions, config, releases, spec

T0 = datetime.datetime(2026, 5, 1, 10, 0, tzinfo=datetime.UTC)


# -- conditions --------------------------------------------------------------------------------


def test_transition_time_moves_only_when_the_status_changes() -> None:
    first = conditions.set_condition([], "Ready", "False", "Installing", "a", at=T0)
    assert first == [
        {
            "type": "Ready",
            "status": "False",
            "reason": "Installing",
            "message": "a",
            "lastTransitionTime": "2026-05-01T10:00:00Z",
        }
    ]
    later = T0 + datetime.timedelta(minutes=1)
    same = conditions.set_condition(first, "Ready", "False", "InstallFailed", "b", at=later)
    assert same[0]["lastTransitionTime"] == "2026-05-01T10:00:00Z" and same[0]["reason"] == "InstallFailed"
    flipped = conditions.set_condition(same, "Ready", "True", "LabReady", "c", at=later)
    assert flipped[0]["lastTransitionTime"] == "2026-05-01T10:01:00Z"
    assert first[0]["message"] == "a"  # inputs are not modified


def test_conditions_are_listed_in_a_fixed_order() -> None:
    items: list = []
    for type_ in ("Graded", "Ready", "Installed", "Custom", "FaultInjected"):
        items = conditions.set_condition(items, type_, "True", "R", "m", at=T0)
    assert [c["type"] for c in items] == ["Installed", "FaultInjected", "Ready", "Graded", "Custom"]


def test_conditions_write_the_patch_only_on_change() -> None:
    patch = kopf.Patch()
    status = {"conditions": conditions.set_condition([], "Ready", "True", "LabReady", "m", at=T0)}
    cond = conditions.Conditions(status, patch)
    cond.set("Ready", "True", "LabReady", "m")
    assert patch == {}
    cond.set("Installed", "True", "Deployed", "x")
    assert [c["type"] for c in patch["status"]["conditions"]] == ["Installed", "Ready"]
    # A second handler of the same cycle starts from what the first one set.
    again = conditions.Conditions(status, patch)
    assert again.is_true("Installed")


# -- settings ----------------------------------------------------------------------------------


def test_config_from_env() -> None:
    env = {
        "SLOLAB_OPERATOR_HELM": "/usr/local/bin/helm",
        "SLOLAB_OPERATOR_IMAGE": "r/slolab/operator:1",
        "SLOLAB_OPERATOR_HELM_OPENAPI_VALIDATION": "false",
        "SLOLAB_OPERATOR_HELM_TIMEOUT_S": "120",
        "SLOLAB_OPERATOR_GRADE_POLL_S": "2.5",
        "SLOLAB_OPERATOR_OPERATOR_NAMESPACE": "",
        "KUBECONFIG": "/home/me/.kube/config:/other",
    }
    cfg = config.Config.from_env(env)
    assert cfg.helm == Path("/usr/local/bin/helm") and cfg.image == "r/slolab/operator:1"
    assert (cfg.helm_openapi_validation, cfg.helm_timeout_s, cfg.grade_poll_s) == (False, 120, 2.5)
    assert cfg.operator_namespace == "slolab-system"  # empty keeps the default
    assert cfg.kubeconfig == Path("/home/me/.kube/config")
    in_cluster = config.Config.from_env({**env, "KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert in_cluster.kubeconfig is None


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("SLOLAB_OPERATOR_HELM_TIMEOUT_S", "5m", "SLOLAB_OPERATOR_HELM_TIMEOUT_S='5m'"),
        ("SLOLAB_OPERATOR_HELM_OPENAPI_VALIDATION", "maybe", "expected true or false"),
    ],
)
def test_bad_config_names_the_variable(key: str, value: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        config.Config.from_env({key: value, "SLOLAB_OPERATOR_HELM": "helm"})


# -- spec --------------------------------------------------------------------------------------


def test_defaults_come_from_lab_yaml() -> None:
    run = spec.parse("x", {"lab": "readiness-probes"})
    assert (run.seed, run.time_limit_minutes, run.game_day, run.reset_generation, run.grade_request) == (
        1,
        45,
        False,
        0,
        0,
    )
    assert run.namespace == "lab-x" and run.chart == "llm-serving"


def test_marker_names_the_starting_state() -> None:
    run = spec.parse("x", {"lab": "readiness-probes"})
    again = spec.parse("y", {"lab": "readiness-probes", "seed": 9, "gradeRequest": 4})
    reset = spec.parse("x", {"lab": "readiness-probes", "resetGeneration": 2})
    assert run.marker() == again.marker()  # seed, name and grade requests do not change what is installed
    assert run.marker().startswith("slolab lab=readiness-probes reset=0 values=")
    assert reset.marker().startswith("slolab lab=readiness-probes reset=2 values=")
    assert run.marker().split("values=")[1] == reset.marker().split("values=")[1]


def test_a_sim_only_lab_is_refused(catalog_root: Path) -> None:
    file = catalog_root / "labs" / "readiness-probes" / "lab.yaml"
    doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    doc["backends"] = ["sim"]
    file.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(spec.SpecError) as info:
        spec.parse("x", {"lab": "readiness-probes"})
    assert info.value.reason == "UnsupportedLab"
    assert "make lab NAME=readiness-probes" in info.value.message


def test_a_broken_lab_yaml_is_a_catalog_error(catalog_root: Path) -> None:
    file = catalog_root / "labs" / "readiness-probes" / "lab.yaml"
    file.write_text(file.read_text(encoding="utf-8").replace("difficulty: beginner", "difficulty: trivial"))
    with pytest.raises(spec.SpecError) as info:
        spec.parse("x", {"lab": "readiness-probes"})
    assert info.value.reason == "CatalogError" and "difficulty" in info.value.message


def test_a_missing_spec() -> None:
    with pytest.raises(spec.SpecError, match="spec is missing"):
        spec.parse("x", None)


# -- the Helm wrapper, with a stand-in helm that records its arguments -------------------------

FAKE_HELM = r"""#!{python}
import json, sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:1] == ["version"]:
    sys.stdout.write("v4.1.4")
elif args[:2] == ["show", "chart"]:
    print("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
elif args[:1] == ["upgrade"] and {fail!r}:
    sys.stderr.write({fail!r})
    sys.exit(1)
elif args[:1] == ["upgrade"]:
    print(json.dumps({{"name": args[1], "namespace": "lab-x", "version": 1, "manifest": "",
                      "info": {{"status": "deployed", "last_deployed": "2026-05-01T10:00:00Z",
                               "description": "d"}},
                      "chart": {{"metadata": {{"apiVersion": "v2", "name": "demo", "version": "0.1.0"}}}}}}))
"""


def fake_helm(tmp_path: Path, fail: str = "") -> tuple[Path, Path]:
    log = tmp_path / "helm-args.jsonl"
    helm = tmp_path / "helm"
    helm.write_text(FAKE_HELM.format(python=sys.executable, log=str(log), fail=fail), encoding="utf-8")
    helm.chmod(helm.stat().st_mode | stat.S_IXUSR)
    chart = tmp_path / "chart"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n", encoding="utf-8")
    return helm, log


def _calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("validate", [True, False])
def test_install_passes_disable_openapi_validation_whole(tmp_path: Path, validate: bool) -> None:
    import asyncio

    helm, log = fake_helm(tmp_path)
    wrapper = releases.HelmReleases(helm, timeout_s=42, openapi_validation=validate)
    rev = asyncio.run(wrapper.install("lab-x", "llm", tmp_path / "chart", {"a": None}, "marker"))
    assert (rev.revision, rev.status, rev.chart) == (1, "deployed", "demo-0.1.0")
    (upgrade,) = [c for c in _calls(log) if c[0] == "upgrade"]
    assert ("--disable-openapi-validation" in upgrade) is not validate
    assert [a for a in upgrade if len(a) == 1] == ["-"]  # values on stdin; no flag split into characters
    assert upgrade[upgrade.index("--description") + 1] == "marker"
    assert upgrade[upgrade.index("--namespace") + 1] == "lab-x"
    assert upgrade[upgrade.index("--timeout") + 1] == "42s"
    assert (
        "--create-namespace" not in upgrade
        and "--wait" not in upgrade
        and "--rollback-on-failure" not in upgrade
    )


@pytest.mark.parametrize(
    ("stderr", "transient"),
    [
        ("Error: execution error at (demo/templates/x.yaml:1:1): set service.type", False),
        ("Error: Kubernetes cluster unreachable: connection refused", True),
    ],
)
def test_helm_failures_say_whether_to_retry(tmp_path: Path, stderr: str, transient: bool) -> None:
    import asyncio

    helm, _ = fake_helm(tmp_path, fail=stderr)
    wrapper = releases.HelmReleases(helm)
    with pytest.raises(releases.ReleaseError) as info:
        asyncio.run(wrapper.install("lab-x", "llm", tmp_path / "chart", {}, "m"))
    assert info.value.transient is transient
    assert str(info.value).startswith("helm upgrade --install llm -n lab-x failed: ")
    assert "Error: " not in str(info.value)


@pytest.mark.slow  # a fresh Python process imports kopf
def test_python_m_slolab_operator_runs_kopf() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "slolab_operator", "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "--all-namespaces" in proc.stdout and "--liveness" in proc.stdout


def test_cluster_values_overlay_goes_over_the_fault() -> None:
    from slolab_operator import config as config_mod
    from slolab_operator import spec as spec_mod

    cfg = config_mod.Config.from_env(
        {"SLOLAB_OPERATOR_LAB_VALUES": '{"service": {"type": "NodePort", "nodePort": 30080}}'}
    )
    run = spec_mod.parse("readiness-probes", {"lab": "readiness-probes"}, cfg.lab_overlay())
    values = run.values()
    assert values["service"] == {"type": "NodePort", "nodePort": 30080}
    assert values["livenessProbe"]["initialDelaySeconds"] == 30  # the fault is still there
    plain = spec_mod.parse("readiness-probes", {"lab": "readiness-probes"})
    assert plain.marker() != run.marker()  # a changed overlay is a different starting state
    import pytest

    with pytest.raises(ValueError, match="SLOLAB_OPERATOR_LAB_VALUES must be a JSON object"):
        config_mod.Config.from_env({"SLOLAB_OPERATOR_LAB_VALUES": "[1]"}).lab_overlay()
