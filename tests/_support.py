"""Helpers shared by slolab's own tests (importable as ``_support``: tests/ is on pythonpath)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import simpy

from slolab.run import request as request_mod
from slolab.sim import engine as engine_mod

ROOT = Path(__file__).resolve().parents[1]


def make_targets() -> set[str]:
    """The targets the Makefile defines (workflows may call only these)."""
    import re

    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, flags=re.MULTILINE))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(
    *args: str, workspace: Path | None = None, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``slolab ARGS`` in a fresh process, as `make` does; workspace root optional."""
    env = {**os.environ, "SLOLAB_ROOT": str(ROOT)}
    if workspace is not None:
        env["SLOLAB_WORKSPACE"] = str(workspace)
    return subprocess.run(
        [sys.executable, "-m", "slolab.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def grade(lab: str, workspace: Path, seed: int) -> dict:
    """Grade ``workspace`` (a lab's folder) on sim with ``seed``; the JSON report."""
    reports = workspace / "reports"
    proc = run_cli(
        "grade", lab, "--backend", "sim", "--seed", str(seed), "--no-plot", "--workspace", str(workspace)
    )
    latest = reports / "latest.json"
    assert proc.returncode in (0, 1), f"grade crashed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    assert latest.is_file(), f"no report written:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(latest.read_text())
    assert (proc.returncode == 0) == report["passed"], "exit code and report disagree"
    return report


def submit_at(
    engine: engine_mod.Engine, arrivals: Iterable[tuple[float, int, int]], timeout_s: float = 180.0
) -> list[request_mod.Request]:
    """Submit (arrival_s, prompt_tokens, max_tokens) requests at their arrival times."""
    env = engine.env
    reqs = [
        request_mod.Request(id=i, arrival_s=a, prompt_tokens=p, max_tokens=m, timeout_s=timeout_s)
        for i, (a, p, m) in enumerate(sorted(arrivals))
    ]

    def arrive(env: simpy.Environment):
        for req in reqs:
            if req.arrival_s > env.now:
                yield env.timeout(req.arrival_s - env.now)
            engine.submit(req)

    env.process(arrive(env))
    return reqs


@contextlib.contextmanager
def serving(
    preset: str, served_model_name: str, log_path: Path, seed: int, env: dict[str, str] | None = None
) -> Iterator[str]:
    """A fresh `slolab serve` process on 127.0.0.1 (a 0.2 s model load); its host:port once it
    logged that the model loaded (at most 30 s). Terminated on exit, killed if it does not stop.
    ``env``: variables added to the process's environment (a model version's SLOLAB_SERVE_*)."""
    from slolab.serve import server as serve_server

    port = free_port()
    argv = [sys.executable, "-m", "slolab.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--preset", preset, "--served-model-name", served_model_name]
    argv += ["--load-time-s", "0.2", "--seed", str(seed)]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env} if env else None
        )
    try:
        deadline = time.monotonic() + 30
        while not serve_server.LOADED_RE.search(log_path.read_text()):
            assert proc.poll() is None, f"slolab serve exited {proc.returncode}:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"slolab serve did not load in 30 s:\n{log_path.read_text()}"
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def drive_completions(
    address: str, model: str, prompt: str, max_tokens: int, stop: threading.Event, errors_: list[str]
) -> None:
    """Back-to-back completions to a `slolab serve` until ``stop`` (requests for its histograms and
    gauges); a failed request is recorded in ``errors_`` and ends this driver."""
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens}).encode()
    while not stop.is_set():
        req = urllib.request.Request(
            f"http://{address}/v1/completions", body, {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                response.read()
        except OSError as exc:
            errors_.append(f"{address}: {exc}")
            return
