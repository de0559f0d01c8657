"""slolab.kube.client against a real HTTP API emulator (kmock) on 127.0.0.1."""

from __future__ import annotations

import pytest

from slolab import errors
from slolab.kube import client


def _deployment(name: str = "llm") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "lab-x", "resourceVersion": "1", "labels": {"app": name}},
        "spec": {"replicas": 2},
    }


def test_get_list_patch_and_missing(emulator) -> None:
    kube = client.connect("emu", timeout_s=5)
    assert kube.version()["major"] == "1"
    kube.create(_deployment())
    kube.create(_deployment("other"))
    assert [d["metadata"]["name"] for d in kube.list("Deployment", "lab-x")] == ["llm", "other"]
    assert kube.list("Deployment", "lab-x")[0]["kind"] == "Deployment"
    patched = kube.patch(
        "Deployment", "llm", {"spec": {"template": {"metadata": {"annotations": {"a": "b"}}}}}, "lab-x"
    )
    assert patched["spec"]["template"]["metadata"]["annotations"] == {"a": "b"}
    assert kube.get("Deployment", "llm", "lab-x")["spec"]["replicas"] == 2
    assert kube.get("Deployment", "missing", "lab-x") is None
    kube.delete("Deployment", "other", "lab-x")
    kube.delete("Deployment", "other", "lab-x")  # deleting what is gone is not an error


def test_watch_replays_existing_objects(emulator) -> None:
    kube = client.connect("emu", timeout_s=5)
    kube.create(_deployment())
    first = next(iter(kube.watch("Deployment", "lab-x", timeout_s=2)))
    assert first["type"] == "ADDED" and first["object"]["metadata"]["name"] == "llm"


def test_unknown_kind_and_unreachable_server(emulator) -> None:
    kube = client.connect("emu", timeout_s=5)
    with pytest.raises(errors.BackendError, match="does not read Frobnicator"):
        kube.list("Frobnicator", "lab-x")
    url = emulator.url
    emulator.stop()
    with pytest.raises(errors.BackendError, match="does not answer"):
        client.connect("emu", timeout_s=2).version()
    assert url.startswith("http://127.0.0.1:")


def test_context_is_never_implicit(emulator) -> None:
    with pytest.raises(errors.BackendError, match="no kubeconfig context"):
        client.connect(None)
    with pytest.raises(errors.BackendError, match="kubeconfig context 'nope'"):
        client.connect("nope")
