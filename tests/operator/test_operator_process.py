"""The operator as the chart runs it: ``python -m slolab_operator`` in a process of its own,
configured from SLOLAB_OPERATOR_* and KUBECONFIG, with kopf's liveness endpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from _support import free_port
from operator_support import create_lab, wait_condition, wait_for


def test_the_entry_point_runs_the_operator(
    emulator, api, kubeconfig: Path, helm: Path, helm_home: Path, tmp_path: Path
):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "SLOLAB_OPERATOR_"))}
    env.update(
        KUBECONFIG=str(kubeconfig),
        SLOLAB_OPERATOR_HELM=str(helm),
        SLOLAB_OPERATOR_HELM_OPENAPI_VALIDATION="false",
        SLOLAB_OPERATOR_OPERATOR_NAMESPACE="slolab-system",
    )
    log = (tmp_path / "operator.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "slolab_operator",
            "--standalone",
            f"--liveness=http://127.0.0.1:{port}/healthz",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        create_lab(api, "trent", lab="readiness-probes")
        found = wait_condition(emulator, "trent", "Ready")
        assert found["status"]["release"]["revision"] == 1

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        assert wait_for("kopf's /healthz", healthy, timeout_s=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
    # configure() ran before kopf started watching: no CRD scanning (the chart grants none).
    kopf_paths = {r.path for r in emulator.requests() if r.user_agent.startswith("kopf")}
    assert not [p for p in kopf_paths if "customresourcedefinitions" in p], kopf_paths
    output = (tmp_path / "operator.log").read_text(encoding="utf-8")
    assert "slolab operator: labs from" in output, output[-3000:]
    assert proc.returncode == 0, output[-3000:]
