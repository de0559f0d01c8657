"""`slolab grade --backend cluster` as a user (or the operator's grading Job) runs it: a real
process, the API emulator as the cluster, the reference SSE server as the lab's Service, the
locust generator as load; the report and the compact summary the Job leaves for the operator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from slolab.kube import client
from slolab.load import refserver

# a real process grading against the reference SSE server and locust on 127.0.0.1
pytestmark = [pytest.mark.wallclock, pytest.mark.slow]

LAB_YAML = """\
name: demo
title: Demo on a cluster
summary: The grading CLI on the cluster backend.
scenario: demo
difficulty: beginner
estimated_minutes: 10
time_limit_minutes: 30
backends: [sim, kind, cluster]
fault:
  summary: nothing
  fails: [failed_requests]
slos:
  failed_requests:
    title: No request failed
    objective: max
    target: 0
    unit: requests
    window: steady load
    hint: Look at the errors.
  ttft_p99_s:
    title: p99 TTFT under 1 s
    objective: max
    target: 1
    unit: s
    window: steady load
    hint: Look at the queue.
grading:
  target: {deployment: llm, service: llm}
seeds: [3]
"""

SCENARIO_YAML = """\
name: demo
title: Demo scenario
description: One model server.
model:
  preset: llama-3.1-8b-h100
  served_model_name: llama
  load_time_s: {distribution: constant, value: 30}
topology:
  pools:
    - name: gpu
      match_labels: {slolab.dev/pool: gpu}
      capacity: {nvidia.com/gpu: "8"}
traffic:
  steady:
    rate_rps: 20
    prompt_tokens: {distribution: constant, value: 64}
    output_tokens: {distribution: constant, value: 8}
    timeout_s: 10
"""

GRADER = """
from slolab.load import requestlog


def test_failed_requests(lab, load, verdict):
    log = load.run("steady", 2.0)  # the generator's start-up (a process) is not part of the window
    window = requestlog.Window("steady load", log.started_s, log.stopped_s)
    verdict.require_load(log, window=window, min_requests=10)
    verdict("failed_requests", len(log.failed()), window=window)
    lab.cluster.rollout_restart("Deployment", "llm")


def test_ttft_p99_s(lab, verdict):
    log = lab.logs()[0]
    window = requestlog.Window("steady load", log.started_s, log.stopped_s)
    verdict("ttft_p99_s", round(log.ttft_quantile_s(0.99), 3), window=window)
"""


def make_root(root: Path) -> None:
    (root / "labs/demo/grader").mkdir(parents=True)
    (root / "scenarios/demo").mkdir(parents=True)
    (root / "charts").mkdir()
    (root / "labs/demo/lab.yaml").write_text(LAB_YAML, encoding="utf-8")
    (root / "labs/demo/grader/test_demo.py").write_text(textwrap.dedent(GRADER), encoding="utf-8")
    (root / "scenarios/demo/scenario.yaml").write_text(SCENARIO_YAML, encoding="utf-8")


def test_grade_on_the_cluster_backend_writes_report_and_summary(emulator, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_root(root)
    kube = client.connect("emu", timeout_s=5)
    meta = {"namespace": "lab-demo", "resourceVersion": "1"}
    kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab-demo"}})
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "llm", **meta},
            "spec": {"ports": [{"port": 80, "targetPort": "http"}]},
        }
    )
    kube.create(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm", **meta}, "spec": {}}
    )
    server = refserver.RefServer(ttft_s=0.05, itl_s=0.002, model="llama")
    server.start()
    try:
        summary = tmp_path / "termination-log"
        env = {
            **os.environ,
            "SLOLAB_ROOT": str(root),
            "SLOLAB_WORKSPACE": str(tmp_path / "workspace"),
            "SLOLAB_SERVICE_URL": server.url,
            "KUBE_CONTEXT": "emu",
        }
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "slolab.cli", "grade", "demo", "--backend", "cluster"),
                *("--no-plot", "--summary-file", str(summary)),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BACKEND=cluster (context emu)" in proc.stderr
    done = json.loads(summary.read_text())
    assert (done["lab"], done["backend"], done["score"], done["passed"], done["total"]) == (
        "demo",
        "cluster",
        "2/2",
        2,
        2,
    )
    assert len(summary.read_bytes()) < 4096
    report = json.loads((tmp_path / "workspace/demo/reports/latest.json").read_text())
    assert report["backend"] == "cluster" and report["loads"][0]["failed"] == 0
    assert any(e["reason"] == "RolloutRestart" for e in report["events"])
    annotations = kube.get("Deployment", "llm", "lab-demo")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
