"""Helpers of the operator tests: the operator in KopfRunner, Labs through the API, polling."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Callable
from typing import Any

import kopf
import kubernetes
from kopf.testing import KopfRunner

from slolab_operator import GROUP, PLURAL, VERSION, config, handlers, kube, releases

#: Upper bound for anything the operator does in these tests (each step takes well under 2 s).
WAIT_S = 20.0
LABS = f"{GROUP}/{VERSION}/{PLURAL}"


class Operator:
    """One operator process's worth: a fresh registry in KopfRunner, stopped on exit."""

    def __init__(self, cfg: config.Config, helm: releases.Releases | None = None) -> None:
        self.registry = kopf.OperatorRegistry()
        self.deps = handlers.register(
            self.registry, cfg, helm=helm, api=kube.Kube.from_config(cfg.kubeconfig)
        )
        settings = kopf.OperatorSettings()
        handlers.configure(settings)
        self.runner = KopfRunner(
            ["run", "--standalone", "--all-namespaces", "--verbose"],
            registry=self.registry,
            settings=settings,
            timeout=30,
        )

    def __enter__(self) -> Operator:
        self.runner.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.runner.__exit__(*exc)


def wait_for(what: str, fn: Callable[[], Any], timeout_s: float = WAIT_S) -> Any:
    """Poll ``fn`` until it returns something truthy; fail with ``what`` and the last value."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}; last: {last!r}")


def lab_body(name: str, **spec: Any) -> dict[str, Any]:
    """A Lab object with ``spec`` (the emulator adds resourceVersion, uid and creationTimestamp)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Lab",
        "metadata": {"name": name},
        "spec": spec,
    }


def create_lab(api: kubernetes.client.ApiClient, name: str, **spec: Any) -> dict[str, Any]:
    return kubernetes.client.CustomObjectsApi(api).create_cluster_custom_object(
        GROUP, VERSION, PLURAL, lab_body(name, **spec)
    )


def patch_lab(api: kubernetes.client.ApiClient, name: str, spec: dict[str, Any]) -> None:
    kubernetes.client.CustomObjectsApi(api).patch_cluster_custom_object(
        GROUP, VERSION, PLURAL, name, {"spec": spec}
    )


def delete_lab(api: kubernetes.client.ApiClient, name: str) -> None:
    kubernetes.client.CustomObjectsApi(api).delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)


def condition(lab: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for c in ((lab or {}).get("status") or {}).get("conditions") or ():
        if c.get("type") == type_:
            return c
    return None


def lab(emulator: Any, name: str) -> dict[str, Any] | None:
    return emulator.get(LABS, None, name)


def wait_condition(
    emulator: Any, name: str, type_: str, status: str = "True", reason: str | None = None
) -> dict:
    """Wait until Lab ``name`` has condition ``type_`` with ``status`` (and ``reason``); the Lab."""

    def check() -> dict[str, Any] | None:
        found = lab(emulator, name)
        c = condition(found, type_)
        if c and c["status"] == status and (reason is None or c.get("reason") == reason):
            return found
        return None

    try:
        return wait_for(f"Lab {name} condition {type_}={status} {reason or ''}", check)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nLab status: {(lab(emulator, name) or {}).get('status')}") from None


def helm_release(secret: dict[str, Any]) -> dict[str, Any]:
    """The release record helm keeps in a Secret: base64 (API) of base64 (helm) of gzip of JSON."""
    helm_encoded = base64.b64decode(secret["data"]["release"])
    return json.loads(gzip.decompress(base64.b64decode(helm_encoded)))


def helm_encode(release: dict[str, Any]) -> str:
    """The inverse of :func:`helm_release`, for a Secret's ``data.release``."""
    helm_encoded = base64.b64encode(gzip.compress(json.dumps(release).encode()))
    return base64.b64encode(helm_encoded).decode()
