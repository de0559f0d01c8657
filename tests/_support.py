"""Helpers shared by slolab's own tests (importable as ``_support``: tests/ is on pythonpath)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
