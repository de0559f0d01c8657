"""The kind/cluster backend end to end on loopback: the API emulator as the cluster, the
reference SSE server as the lab's Service, the locust generator as the load."""

from __future__ import annotations

from pathlib import Path

import pytest

from slolab import errors
from slolab.backends import base, kube
from slolab.catalog import lab as lab_mod
from slolab.kube import client
from slolab.load import refserver

NS = "lab-readiness-probes"


def seed_namespace(k: client.Kube, node_port: int = 30080) -> None:
    meta = {"namespace": NS, "resourceVersion": "1"}
    k.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "resourceVersion": "1"}})
    k.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "llm", **meta},
            "spec": {
                "type": "NodePort",
                "ports": [{"port": 80, "nodePort": node_port, "targetPort": "http"}],
            },
        }
    )
    k.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "llm", "generation": 1, **meta},
            "spec": {"replicas": 3, "template": {"metadata": {"labels": {"app": "llm"}}}},
        }
    )


@pytest.fixture
def server():
    srv = refserver.RefServer(ttft_s=0.02, itl_s=0.001, model="llama-3.1-8b")
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.wallclock
def test_grader_procedure_on_a_live_namespace(emulator, server, monkeypatch, tmp_path: Path) -> None:
    k = client.connect("emu", timeout_s=5)
    seed_namespace(k)
    monkeypatch.setenv("SLOLAB_SERVICE_URL", server.url)
    lab = lab_mod.load("readiness-probes")
    backend = base.open_backend("cluster", lab, tmp_path, 1, context="emu")
    try:
        assert backend.cluster.get("Deployment", "llm")["spec"]["replicas"] == 3
        log = backend.load.run("chat", 1.5)
        assert len(log) > 5 and all(r.ok for r in log), [r.error for r in log if not r.ok][:3]
        assert all(r.ttft_s is not None and r.ttft_s >= 0.02 for r in log)
        backend.cluster.rollout_restart("Deployment", "llm")
        annotations = k.get("Deployment", "llm", NS)["spec"]["template"]["metadata"]["annotations"]
        assert kube.RESTARTED_AT in annotations
        assert [e.reason for e in backend.events if e.kind == "Grader"] == ["RolloutRestart"]
        assert backend.logs() == [log]
    finally:
        backend.close()


def test_kind_reaches_the_service_through_the_published_node_port(emulator) -> None:
    k = client.connect("emu", timeout_s=5)
    seed_namespace(k)
    assert kube.service_url(k, "kind", NS, "llm", in_cluster=False) == "http://127.0.0.1:30080"
    assert kube.service_url(k, "kind", NS, "llm", in_cluster=True) == f"http://llm.{NS}.svc:80"


def test_a_service_kind_does_not_publish_is_explained(emulator) -> None:
    k = client.connect("emu", timeout_s=5)
    seed_namespace(k, node_port=31999)
    with pytest.raises(errors.BackendError, match="not reachable from this machine: it has node port 31999"):
        kube.service_url(k, "kind", NS, "llm", in_cluster=False)
    with pytest.raises(errors.BackendError, match="no address reachable from this machine"):
        kube.service_url(k, "cluster", NS, "llm", in_cluster=False)


def test_a_lab_that_was_not_started_says_how(emulator, tmp_path: Path) -> None:
    with pytest.raises(errors.BackendError, match="namespace lab-readiness-probes does not exist") as exc:
        base.open_backend("cluster", lab_mod.load("readiness-probes"), tmp_path, 1, context="emu")
    assert "make lab NAME=readiness-probes BACKEND=cluster" in exc.value.next_step


@pytest.mark.wallclock
def test_long_waits_report_progress(emulator, server, monkeypatch, tmp_path: Path) -> None:
    k = client.connect("emu", timeout_s=5)
    seed_namespace(k)
    monkeypatch.setenv("SLOLAB_SERVICE_URL", server.url)
    monkeypatch.setattr(kube, "PROGRESS_EVERY_S", 0.2)
    backend = base.open_backend("cluster", lab_mod.load("readiness-probes"), tmp_path, 1, context="emu")
    lines: list[str] = []
    backend.progress.say = lines.append
    try:
        backend.clock.sleep(0.5)
        assert "running 0 s" in lines[0] and any("s to go" in line for line in lines[1:])
        assert all("0 pods, 0 ready, 0 restarts" in line for line in lines)
        lines.clear()
        ready_at = backend.clock.now_s() + 0.5
        assert backend.cluster.wait_for(lambda: backend.clock.now_s() >= ready_at, timeout_s=5, poll_s=0.05)
        assert any("of at most 5 s" in line for line in lines) and "done after" in lines[-1]
        lines.clear()
        assert not backend.cluster.wait_for(lambda: False, timeout_s=0.1, poll_s=0.05)
        assert lines and "gave up after" in lines[-1]
    finally:
        backend.close()
