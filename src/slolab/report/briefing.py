"""The briefing panel ``make lab`` prints: the task, the SLOs, the time limit, what to run next."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from slolab import paths
from slolab.catalog import lab as lab_mod


def task_text(lab: lab_mod.Lab) -> str:
    """The ``## Your task`` section of the lab's README (the whole summary when absent)."""
    readme = lab.directory / "README.md"
    if readme.is_file():
        match = re.search(
            r"^## Your task\s*\n(.*?)(?=^## |\Z)", readme.read_text(encoding="utf-8"), re.M | re.S
        )
        if match:
            return match.group(1).strip()
    return lab.summary.strip()


def slo_table(lab: lab_mod.Lab) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("SLO")
    table.add_column("target", justify="right")
    table.add_column("judged over")
    for slo in lab.slos.values():
        table.add_row(slo.title, slo.expected(), slo.window)
    return table


def show(
    console: Console, lab: lab_mod.Lab, workspace: Path, created: bool, backend: str, state: Any
) -> None:
    ws = paths.relative(workspace)
    files = sorted(p.name for p in workspace.glob("*.yaml"))
    where = (
        f"✓ Created {ws}/ with the lab's starting state: {', '.join(files)}"
        if created
        else f"✓ Kept your files in {ws}/ ({', '.join(files)}); `make reset NAME={lab.name}` starts over"
    )
    deadline = ""
    if state is not None:
        end = datetime.datetime.fromisoformat(state.deadline)
        deadline = f" (until {end.strftime('%H:%M UTC')})"
    body = Group(
        Text(lab.title, style="bold"),
        Text(lab.summary.strip()),
        Text(""),
        Text("Your task", style="bold"),
        Markdown(task_text(lab)),  # the README's paragraphs re-flowed to the panel's width
        Text(""),
        slo_table(lab),
        Text(""),
        Text(
            f"Time limit {lab.time_limit_minutes} min{deadline} · difficulty {lab.difficulty} · "
            f"backend {backend} · briefing labs/{lab.name}/README.md"
        ),
    )
    # the title goes in the body: a long one would be cut off in the border of an 80-column terminal
    console.print(Panel(body, title=f"slolab · {lab.name}", title_align="left"))
    if backend == "sim":
        console.print(where)
        console.print(
            f"Next:\n  edit   {ws}/*.yaml (`kubectl explain` documents every field)\n"
            f"  grade  make grade NAME={lab.name}\n"
            f"  hint   make hint NAME={lab.name}"
        )
        return
    ns = f"lab-{lab.name}"
    flag = f"BACKEND={backend}"
    deployment = lab.grading.target.deployment
    console.print(f"✓ The lab runs in namespace {ns}; {ws}/ holds the same manifests for reference.")
    console.print(
        f"Next:\n  look   kubectl -n {ns} get pods,events\n"
        f"  fix    kubectl -n {ns} edit deployment {deployment} (or kubectl apply -n {ns} -f <your files>)\n"
        f"  grade  make grade NAME={lab.name} {flag}\n"
        f"  hint   make hint NAME={lab.name}\n"
        f"  reset  make reset NAME={lab.name} {flag}"
    )
