"""Fixtures of the operator tests: an emulated API server, real helm, and the operator in KopfRunner."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import kubernetes
import pytest
from kube_emulator import KubeEmulator
from operator_support import Operator

from slolab_operator import config, crd, releases


@pytest.fixture
def emulator() -> Iterator[KubeEmulator]:
    """kmock's KubernetesEmulator on 127.0.0.1, with the Lab CRD from charts/slolab-operator/crds/."""
    with KubeEmulator([crd.path()]) as api:
        yield api


@pytest.fixture
def kubeconfig(emulator: KubeEmulator, tmp_path: Path) -> Path:
    return emulator.kubeconfig(tmp_path / "kubeconfig.yaml")


@pytest.fixture
def helm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """helm's cache, config and data (and its discovery cache under $HOME) in the test's folder."""
    home = tmp_path / "home"
    for name, sub in (
        ("HELM_CACHE_HOME", "cache"),
        ("HELM_CONFIG_HOME", "config"),
        ("HELM_DATA_HOME", "data"),
    ):
        (home / sub).mkdir(parents=True)
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def operator_config(helm: Path, kubeconfig: Path, helm_home: Path) -> config.Config:
    """The operator's settings for the emulator: short polls, no OpenAPI validation in helm."""
    return config.Config(
        helm=helm,
        kubeconfig=kubeconfig,
        image="slolab/operator:test",
        helm_openapi_validation=False,
        helm_timeout_s=30,
        grade_poll_s=0.2,
        chaos_interval_s=0.2,
        retry_s=0.5,
    )


@pytest.fixture
def api(kubeconfig: Path) -> Iterator[kubernetes.client.ApiClient]:
    """The test's own client of the emulator (the operator has another)."""
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    client = kubernetes.client.ApiClient(configuration)
    yield client
    client.close()


@pytest.fixture
def operator(operator_config: config.Config) -> Callable[..., contextlib.AbstractContextManager[Operator]]:
    """``with operator(): ...`` runs the operator against the emulator until the block ends."""

    def start(helm: releases.Releases | None = None) -> Operator:
        return Operator(operator_config, helm=helm)

    return start


@pytest.fixture
def catalog_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of labs/ and scenarios/ (charts/ linked) as SLOLAB_ROOT, for tests that change them."""
    import shutil

    from slolab import paths
    from slolab.catalog import lab, scenario

    root = tmp_path / "root"
    root.mkdir()
    shutil.copytree(paths.labs_dir(), root / "labs")
    shutil.copytree(paths.scenarios_dir(), root / "scenarios")
    (root / "charts").symlink_to(paths.charts_dir())
    shutil.copy(paths.kind_config(), root / "kind-config.yaml")
    monkeypatch.setenv("SLOLAB_ROOT", str(root))
    lab.load.cache_clear()
    scenario.load.cache_clear()
    return root
