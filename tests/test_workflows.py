"""The shape of .github/workflows/sim-platforms.yaml (it runs on GitHub's runners only): the
platforms it covers, the simulator path it runs, and that every make target it calls exists."""

from __future__ import annotations

import re
from typing import Any

import yaml
from _support import make_targets

from slolab import paths

WORKFLOW = paths.root() / ".github" / "workflows" / "sim-platforms.yaml"


def workflow() -> dict[str, Any]:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def job() -> dict[str, Any]:
    return workflow()["jobs"]["sim-path"]


def run_lines() -> list[str]:
    lab = workflow()["env"]["LAB"]
    lines = [line.strip() for step in job()["steps"] for line in str(step.get("run", "")).splitlines()]
    return [line.replace("${LAB}", lab) for line in lines]


def test_covers_macos_and_linux_arm64() -> None:
    runners = {entry["runner"] for entry in job()["strategy"]["matrix"]["include"]}
    assert any(r.startswith("macos-") for r in runners), runners
    assert any(r.endswith("-arm") and r.startswith("ubuntu-") for r in runners), runners
    assert job()["strategy"]["fail-fast"] is False


def test_runs_the_simulator_path_in_order() -> None:
    lab = workflow()["env"]["LAB"]
    lines = run_lines()
    wanted = [
        "make setup",
        f"make lab NAME={lab} BACKEND=sim",
        f"cp labs/{lab}/solution/*.yaml workspace/{lab}/",
        f"make grade NAME={lab} BACKEND=sim",
        "make test-fast",
    ]
    positions = [lines.index(w) for w in wanted]
    assert positions == sorted(positions), lines
    assert (paths.labs_dir() / lab / "solution").is_dir()


def test_budgets_and_targets() -> None:
    steps = job()["steps"]
    timed = sum(s.get("timeout-minutes", 0) for s in steps)
    assert job()["timeout-minutes"] >= timed + 5
    for step in steps:
        if "make " in str(step.get("run", "")):
            assert step.get("timeout-minutes"), step["name"]
    targets = make_targets()
    called = {m for line in run_lines() for m in re.findall(r"\bmake\s+([a-z][\w-]*)", line)}
    assert called - targets == set(), f"make targets missing from the Makefile: {called - targets}"
