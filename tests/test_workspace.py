"""make lab / reset / hint / solution: nothing the learner wrote is ever lost."""

from __future__ import annotations

import json

import pytest
from _support import grade, run_cli

pytestmark = pytest.mark.slow

LAB = "readiness-probes"


@pytest.fixture
def root(tmp_path, helm):
    return tmp_path / "workspace"


def test_lab_creates_the_workspace_and_prints_the_briefing(root):
    proc = run_cli("lab", LAB, "--backend", "sim", workspace=root)
    assert proc.returncode == 0, proc.stderr
    assert (root / LAB / "deployment.yaml").is_file() and (root / LAB / "service.yaml").is_file()
    for needle in ("Your task", "No container restarts", "Time limit 45 min", f"make grade NAME={LAB}"):
        assert needle in proc.stdout, proc.stdout
    state = json.loads((root / LAB / ".slolab" / "state.json").read_text())
    assert state["lab"] == LAB and state["deadline"] > state["created_at"]


def test_second_lab_keeps_the_learners_files(root):
    run_cli("lab", LAB, workspace=root)
    file = root / LAB / "deployment.yaml"
    file.write_text(file.read_text() + "# my note\n")
    proc = run_cli("lab", LAB, workspace=root)
    assert proc.returncode == 0
    assert file.read_text().endswith("# my note\n")
    assert "Kept your files" in proc.stdout


def test_reset_backs_up_then_restores_the_fault(root):
    run_cli("lab", LAB, workspace=root)
    file = root / LAB / "deployment.yaml"
    original = file.read_text()
    file.write_text("# my edit\n" + original)
    proc = run_cli("reset", LAB, workspace=root)
    assert proc.returncode == 0, proc.stderr
    assert file.read_text() == original
    backups = list((root / ".backups").iterdir())
    assert len(backups) == 1 and (backups[0] / "deployment.yaml").read_text().startswith("# my edit")
    assert "saved in" in proc.stdout


def test_hints_come_one_at_a_time(root):
    run_cli("lab", LAB, workspace=root)
    outs = [run_cli("hint", LAB, workspace=root).stdout for _ in range(4)]
    assert "Hint 1/3" in outs[0] and "Hint 2/3" in outs[1] and "Hint 3/3" in outs[2]
    assert "All 3 hints are shown" in outs[3]


def test_solution_is_recorded_as_revealed(root):
    run_cli("lab", LAB, workspace=root)
    proc = run_cli("solution", LAB, workspace=root)
    assert proc.returncode == 0 and "startupProbe" in proc.stdout
    state = json.loads((root / LAB / ".slolab" / "state.json").read_text())
    assert state["solution_revealed_at"]


def test_copying_the_solution_passes_and_the_fault_fails(root):
    run_cli("lab", LAB, workspace=root)
    ws = root / LAB
    assert not grade(LAB, ws, seed=1)["passed"]
    from slolab.catalog import lab as lab_mod

    for file in lab_mod.load(LAB).solution_dir.glob("*.yaml"):
        (ws / file.name).write_text(file.read_text())
    assert grade(LAB, ws, seed=1)["passed"]


def test_the_briefing_reflows_the_readme_task_to_the_terminal_width(tmp_path):
    """The README is hard-wrapped markdown; the panel re-flows its paragraphs instead of keeping
    the README's line ends inside its own, and keeps the lab's title out of the border."""
    from rich.console import Console

    from slolab.catalog import lab as lab_mod
    from slolab.report import briefing

    lab = lab_mod.load(LAB)
    (tmp_path / "deployment.yaml").write_text("kind: Deployment\n")
    console = Console(record=True, width=120, color_system=None)
    briefing.show(console, lab, tmp_path, True, "sim", None)
    lines = [line.strip("│ ") for line in console.export_text().splitlines()]
    task = " ".join(briefing.task_text(lab).replace("`", "").split())
    start = next(i for i, line in enumerate(lines) if line.startswith(task[:30]))
    shown = " ".join(" ".join(lines[start : start + 4]).split())
    assert shown.startswith(task)
    assert all(len(line) > 60 for line in lines[start : start + 2])  # full lines, not the README's
    assert any(line == lab.title for line in lines)
