"""An operator restart half-way through an install converges: the new operator finishes what
the old one started, without a second install when the first one completed.

The old operator "dies" at three points: before helm ran, after helm finished but before the
Lab's status was written, and with helm itself killed (the release left pending-install, which
is what a helm process killed mid-install leaves behind)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from operator_support import condition, create_lab, helm_encode, helm_release, lab, wait_condition, wait_for

from slolab_operator import config, releases, spec

SECRET = "sh.helm.release.v1.llm.v1"


class DiesDuringInstall:
    """Releases whose install hangs (before or after running helm for real), like an operator
    process that stopped there; everything else goes to the real helm."""

    def __init__(self, real: releases.Releases, run_helm: bool) -> None:
        self.real, self.run_helm = real, run_helm
        self.reached = threading.Event()

    async def current(self, namespace: str, name: str) -> releases.Revision | None:
        return await self.real.current(namespace, name)

    async def install(
        self, namespace: str, name: str, chart_dir: Path, values: dict, description: str
    ) -> Any:
        if self.run_helm:
            await self.real.install(namespace, name, chart_dir, values, description)
        self.reached.set()
        await asyncio.Event().wait()  # never returns; cancelled when the operator stops

    async def values(self, namespace: str, name: str, revision: int) -> dict:
        return await self.real.values(namespace, name, revision)

    async def uninstall(self, namespace: str, name: str) -> None:
        await self.real.uninstall(namespace, name)


def _helm_writes(requests: list, since: int) -> list[tuple[str, str]]:
    return [
        (r.method, r.path) for r in requests[since:] if r.user_agent.startswith("Helm") and r.method != "GET"
    ]


@pytest.mark.parametrize("point", ["before-helm", "after-helm", "helm-killed"])
def test_restart_mid_install_converges(
    emulator, operator, operator_config: config.Config, api, point: str
) -> None:
    real = releases.HelmReleases(
        operator_config.helm,
        kubeconfig=operator_config.kubeconfig,
        timeout_s=30,
        openapi_validation=False,
    )
    dying = DiesDuringInstall(real, run_helm=point != "before-helm")
    with operator(helm=dying):
        create_lab(api, "mallory", lab="readiness-probes")
        wait_for("the install to be under way", lambda: dying.reached.is_set())
    # The old operator is gone; it wrote no status for the install.
    left = lab(emulator, "mallory")
    assert "observedResetGeneration" not in (left.get("status") or {})
    assert condition(left, "Ready") is None or condition(left, "Ready")["status"] != "True"
    assert emulator.get("v1/namespaces", None, "lab-mallory") is not None

    if point == "helm-killed":
        secret = emulator.get("v1/secrets", "lab-mallory", SECRET)
        record = helm_release(secret)
        record["info"]["status"] = "pending-install"
        secret["metadata"]["labels"]["status"] = "pending-install"
        secret["data"]["release"] = helm_encode(record)
        kubernetes.client.CoreV1Api(api).replace_namespaced_secret(SECRET, "lab-mallory", secret)

    seen = len(emulator.requests())
    with operator():
        found = wait_condition(emulator, "mallory", "Ready")
    writes = _helm_writes(emulator.requests(), seen)

    # Converged: one release, revision 1, deployed, holding the starting state.
    secrets = {
        n
        for n, s in emulator.objects("v1/secrets", "lab-mallory").items()
        if "owner" in s["metadata"]["labels"]
    }
    assert secrets == {SECRET}
    record = helm_release(emulator.get("v1/secrets", "lab-mallory", SECRET))
    assert record["info"]["status"] == "deployed"
    assert record["info"]["description"] == spec.parse("mallory", {"lab": "readiness-probes"}).marker()
    assert found["status"]["observedResetGeneration"] == 0
    assert condition(found, "FaultInjected")["status"] == "True"
    deployment = "/apis/apps/v1/namespaces/lab-mallory/deployments/llm"
    created = ("POST", "/api/v1/namespaces/lab-mallory/secrets")
    if point == "before-helm":
        assert writes.count(created) == 1  # installed once, by the new operator
    elif point == "after-helm":
        assert writes == []  # adopted: the old operator's install was complete
    else:
        assert ("DELETE", deployment) in writes  # the stuck release was uninstalled...
        assert writes.index(("DELETE", deployment)) < writes.index(created)  # ...then installed
