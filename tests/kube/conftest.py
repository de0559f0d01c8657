"""The kind/cluster backend's tests run against the shared API emulator (tests/kube_emulator.py),
with a kubeconfig whose contexts ``emu`` and ``kind-slolab`` both point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_emulator import KubeEmulator

from slolab import paths

LAB_CRD = paths.charts_dir() / "slolab-operator/crds/labs.slolab.dev.yaml"


class Emulator:
    """A running KubeEmulator: ``url``, ``k`` (the kmock handler, for reactions), ``stop()``."""

    def __init__(self, api: KubeEmulator) -> None:
        self.api = api
        self.url = api.url
        self.k: Any = api.kmock
        self._stopped = False

    def stop(self) -> None:
        if not self._stopped:
            self._stopped = True
            self.api.__exit__(None, None, None)


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A running emulator (with the Lab CRD); KUBECONFIG points at it as ``emu`` and ``kind-slolab``."""
    api = KubeEmulator([LAB_CRD]).__enter__()
    emu = Emulator(api)
    try:
        cfg = api.kubeconfig(tmp_path / "kubeconfig")
        doc = yaml.safe_load(cfg.read_text())
        doc["contexts"] = [
            {"name": name, "context": {"cluster": "emulator", "user": "tester"}}
            for name in ("emu", "kind-slolab")
        ]
        doc["current-context"] = "emu"
        cfg.write_text(yaml.safe_dump(doc))
        monkeypatch.setenv("KUBECONFIG", str(cfg))
        # kubernetes.config reads $KUBECONFIG once at import (research/tooling-loopback.md gotcha 7)
        from kubernetes.config import kube_config

        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(cfg))
        yield emu
    finally:
        emu.stop()
