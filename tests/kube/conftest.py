"""A Kubernetes API emulator (kmock) on 127.0.0.1 in its own thread, and a kubeconfig for it.

The emulator runs on its own event loop in a background thread, so the synchronous kubernetes
client under test can talk to it from the test's thread (research/tooling-loopback.md §1,
gotcha 6: a sync client on the emulator's own loop would block it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml


class Emulator:
    """kmock.KubernetesEmulator + Server on a background loop; ``url``, ``objects`` access."""

    def __init__(self) -> None:
        self.url = ""
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.k: Any = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as k, kmock.Server(k, host="127.0.0.1") as srv:
            k.resources.load_bundled()
            self.k, self.url = k, str(srv.url)
            self._ready.set()
            await self._stop.wait()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("kmock emulator did not start in 10 s")

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def register_crd(self, crd_file: Path) -> None:
        """Make a CRD's resource discoverable (kmock serves any registered resource)."""
        crd = yaml.safe_load(crd_file.read_text(encoding="utf-8"))
        spec = crd["spec"]
        version = next(v for v in spec["versions"] if v.get("storage"))
        names = spec["names"]
        self.k.resources[f"{spec['group']}/{version['name']}/{names['plural']}"] = kmock.ResourceInfo(
            kind=names["kind"],
            singular=names["singular"],
            namespaced=spec["scope"] == "Namespaced",
            verbs={"get", "list", "watch", "create", "update", "patch", "delete"},
            subresources={"status"} if "status" in (version.get("subresources") or {}) else set(),
        )

    def kubeconfig(self, path: Path, context: str = "emu") -> Path:
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emu", "cluster": {"server": self.url}}],
            "users": [{"name": "emu", "user": {"token": "test"}}],
            "contexts": [{"name": context, "context": {"cluster": "emu", "user": "emu"}}],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return path


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A running emulator; KUBECONFIG points at it with contexts ``emu`` and ``kind-slolab``."""
    emu = Emulator()
    emu.start()
    try:
        cfg = emu.kubeconfig(tmp_path / "kubeconfig")
        doc = yaml.safe_load(cfg.read_text())
        doc["contexts"].append({"name": "kind-slolab", "context": {"cluster": "emu", "user": "emu"}})
        cfg.write_text(yaml.safe_dump(doc))
        monkeypatch.setenv("KUBECONFIG", str(cfg))
        # kubernetes.config reads $KUBECONFIG once at import (tooling-loopback.md gotcha 7)
        from kubernetes.config import kube_config

        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(cfg))
        yield emu
    finally:
        emu.stop()
