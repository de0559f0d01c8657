"""BACKEND=auto|kind|cluster, `make doctor` and `make cluster` with fake docker/kind binaries on
PATH and a real API emulator behind the kubeconfig contexts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from rich.console import Console

from slolab import clusterup, doctor, errors
from slolab.backends import choose
from slolab.catalog import versionimages


def fake_bin(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An otherwise empty PATH folder (plus /bin for sh)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/bin")
    return folder


def with_kind(folder: Path, clusters: str = "slolab", version: str = "v0.32.0") -> None:
    fake_bin(
        folder,
        "kind",
        f'case "$1" in\n  get) printf "{clusters}\\n" ;;\n'
        f'  version) echo "kind {version} go1.24.4 linux/amd64" ;;\n'
        "esac\n",
    )


def test_auto_without_kind_picks_sim_and_says_why(bin_dir: Path) -> None:
    choice = choose.choose("auto")
    assert choice.backend == "sim" and "kind is not installed" in choice.reason
    with pytest.raises(errors.BackendError, match="BACKEND=kind cannot be used: kind is not installed"):
        choose.choose("kind")


def test_auto_without_slolab_cluster_picks_sim(bin_dir: Path) -> None:
    with_kind(bin_dir, clusters="someone-else")
    choice = choose.choose("auto")
    assert choice.backend == "sim" and "no kind cluster named 'slolab'" in choice.reason
    assert "make cluster" in choice.reason


def test_auto_picks_kind_when_slolab_cluster_answers(bin_dir: Path, emulator) -> None:
    with_kind(bin_dir)
    choice = choose.choose("auto")
    assert (choice.backend, choice.context) == ("kind", "kind-slolab")
    assert choice.line() == "BACKEND=kind (context kind-slolab): slolab's kind cluster 'slolab' answers"


def test_auto_falls_back_when_kind_cluster_does_not_answer(bin_dir: Path, emulator) -> None:
    with_kind(bin_dir)
    emulator.stop()
    choice = choose.choose("auto")
    assert choice.backend == "sim" and "exists but does not answer" in choice.reason


def test_auto_never_uses_another_context(bin_dir: Path, emulator) -> None:
    # the kubeconfig's current context is "emu" and answers, but it is not slolab's kind cluster
    with_kind(bin_dir, clusters="")
    assert choose.choose("auto").backend == "sim"


def test_cluster_needs_the_context_named(bin_dir: Path, emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBE_CONTEXT", raising=False)
    with pytest.raises(errors.BackendError, match="needs the kubeconfig context named explicitly") as exc:
        choose.choose("cluster")
    assert "emu" in exc.value.next_step and "kind-slolab" in exc.value.next_step
    with pytest.raises(errors.BackendError, match="'prod' is not a context"):
        choose.choose("cluster", "prod")
    choice = choose.choose("cluster", "emu")
    assert (choice.backend, choice.context) == ("cluster", "emu")
    monkeypatch.setenv("KUBE_CONTEXT", "emu")
    assert choose.choose("cluster").context == "emu"


def test_unknown_backend_is_bad_input() -> None:
    with pytest.raises(errors.InputError, match="expected one of auto, sim, kind, cluster"):
        choose.choose("minikube")


def test_doctor_reports_missing_and_old_tools(bin_dir: Path) -> None:
    fake_bin(bin_dir, "docker", 'echo "Cannot connect to the Docker daemon" >&2; exit 1\n')
    with_kind(bin_dir, version="v0.20.0")
    found = {c.name: c for c in doctor.checks()}
    assert found["docker"].status == doctor.MISSING and "does not answer" in found["docker"].detail
    assert found["kind"].status == doctor.MISSING and "older than 0.32.0" in found["kind"].detail
    assert found["helm"].status == doctor.OK and found["kubectl"].status == doctor.OK
    console = Console(record=True, width=200)
    assert doctor.run(console) == 1
    assert "Missing for the kind path: docker, kind" in console.export_text()


def test_doctor_all_present(bin_dir: Path, emulator) -> None:
    fake_bin(bin_dir, "docker", 'echo "27.5.1"\n')
    with_kind(bin_dir)
    found = {c.name: c for c in doctor.checks()}
    assert all(found[n].status == doctor.OK for n in ("docker", "kind", "kubectl", "helm", "cluster"))
    assert found["engine"].status in (doctor.OK, doctor.OPTIONAL)  # the simulator works either way


def test_doctor_says_which_engine_build_the_simulator_runs(monkeypatch) -> None:
    from slolab.sim import native

    monkeypatch.setenv("SLOLAB_ENGINE", "python")
    native.choice.cache_clear()
    try:
        engine = doctor.check_engine()
    finally:
        native.choice.cache_clear()
    assert engine.status == doctor.OPTIONAL and "SLOLAB_ENGINE=python" in engine.detail
    assert "make native" in engine.fix


def test_make_cluster_runs_each_step_and_stops_at_a_failure(bin_dir: Path) -> None:
    fake_bin(bin_dir, "docker", 'echo "27.5.1"\n')
    with_kind(bin_dir, clusters="")
    ran: list[list[str]] = []
    console = Console(record=True, width=300)
    assert clusterup.run(console, runner=lambda argv: ran.append(argv) or 0) == 0
    firsts = [" ".join(a[:3]) if a[0] in ("kind", "docker") else " ".join(a[1:3]) for a in ran]
    versions = len(versionimages.version_images(clusterup.SERVE_IMAGE))  # tests/test_version_images.py
    assert ran[4 + versions][-1].endswith("charts/slolab-platform")
    assert firsts == [
        "kind create cluster",
        "docker build -f",
        "docker build -f",
        *["docker build -f"] * versions,
        "kind load docker-image",
        "dependency build",
        "upgrade --install",
        "upgrade --install",
    ]
    assert all("--kube-context" in a for a in ran[-2:])
    assert "make lab NAME=readiness-probes BACKEND=kind" in console.export_text()

    ran.clear()
    console = Console(record=True, width=300)
    assert (
        clusterup.run(console, runner=lambda argv: ran.append(argv) or (1 if argv[0] == "kind" else 0)) == 1
    )
    assert len(ran) == 1
    assert "rerun `make cluster`" in console.export_text()


def test_make_cluster_refuses_without_docker(bin_dir: Path) -> None:
    with_kind(bin_dir)
    with pytest.raises(errors.ToolError, match="make cluster needs docker"):
        clusterup.run(Console(record=True), runner=lambda argv: 0)


# -- the pinned node image ------------------------------------------------------------------


def test_every_kind_node_runs_the_pinned_image_and_validation_matches_it() -> None:
    import re

    import yaml

    from slolab import lint, paths
    from slolab.catalog import k8svalidate, kindconfig
    from slolab.sim import manifests

    config = yaml.safe_load(paths.kind_config().read_text(encoding="utf-8"))
    images = [node.get("image") for node in config["nodes"]]
    assert images == [kindconfig.NODE_IMAGE] * len(config["nodes"]), images
    match = re.fullmatch(r"kindest/node:v(\d+)\.(\d+)\.(\d+)@sha256:[0-9a-f]{64}", kindconfig.NODE_IMAGE)
    assert match, "pin kindest/node by version and digest"
    minor = f"{match.group(1)}.{match.group(2)}"
    assert kindconfig.KUBERNETES_VERSION.startswith(minor + ".")
    for version in (k8svalidate.DEFAULT_KUBE_VERSION, lint.KUBE_VERSION, manifests.KUBE_VERSION):
        assert version == kindconfig.KUBERNETES_VERSION
    assert k8svalidate.has_schema("Deployment", "apps/v1", kindconfig.KUBERNETES_VERSION)
    readme = (paths.root() / "README.md").read_text(encoding="utf-8")
    assert f"Kubernetes {minor}" in readme
    assert not re.search(r"Kubernetes 1\.(\d+)", readme.replace(f"Kubernetes {minor}", "")), (
        "the README names another Kubernetes version"
    )
    workflow = (paths.root() / ".github/workflows/e2e-kind.yaml").read_text(encoding="utf-8")
    assert "KIND_VERSION: v0.32.0" in workflow and f"v{minor}." in workflow
    assert doctor.KIND_MIN[:2] == (0, 32)
