"""The grade in the terminal: a table of every check, then what to look at, then the next step.

Reads the grade document of ``jsonreport``. Rendered with rich to a string, in colour on a
terminal and as plain text (no escape codes) anywhere else, e.g. CI logs and ``| less``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from slolab import paths

MARKS = {
    "passed": ("✓", "green"),
    "failed": ("✗", "red"),
    "inconclusive": ("?", "yellow"),
    "error": ("!", "red"),
    "not run": ("–", "dim"),
}


def _mark(status: str) -> tuple[str, str]:
    return MARKS.get(status, ("?", "yellow"))


#: below this width the Window goes under each check's title instead of in its own column
WIDE = 110


def _table(doc: dict[str, Any], width: int) -> Table:
    wide = width >= WIDE
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, leading=0 if wide else 1)
    table.add_column("Check" if wide else "Check / Window", overflow="fold", ratio=3)
    table.add_column("Result", no_wrap=True)
    table.add_column("Observed", justify="right", no_wrap=True)
    table.add_column("Expected", no_wrap=True)
    if wide:
        table.add_column("Window", overflow="fold", ratio=2)
    for check in doc["checks"]:
        mark, style = _mark(check["status"])
        title = (
            Text(check["title"]) if wide else Text.assemble(check["title"], "\n", (check["window"], "dim"))
        )
        cells = [
            title,
            Text(f"{mark} {check['status']}", style=style),
            check["observed_text"],
            check["expected"],
        ]
        table.add_row(*cells, *([check["window"]] if wide else []))
    return table


def _details(check: dict[str, Any]) -> list[Text]:
    """What a person needs to act on one check that did not pass."""
    status = check["status"]
    mark, style = _mark(status)
    lines = [Text.assemble((f"{mark} ", style), (check["title"], "bold"), f" ({status})")]
    if status in ("failed", "inconclusive"):
        lines.append(
            Text(f"  observed {check['observed_text']}, expected {check['expected']}, over {check['window']}")
        )
    lines += [Text(f"  {line.strip()}") for line in check.get("evidence") or []]
    if status == "failed" and check.get("hint"):
        lines.append(Text.assemble("  ", ("Hint:", "bold"), f" {' '.join(check['hint'].split())}"))
    elif status == "inconclusive":  # a hint is written for a failure: it would guess at a cause
        lines.append(
            Text.assemble(
                "  ",
                ("Not judged:", "bold"),
                " there was too little to measure. A failure above is often why; fix it and grade again.",
            )
        )
    return lines


def next_step(doc: dict[str, Any]) -> str:
    if doc["passed"]:
        return "All SLOs met. Try another lab: `make list`."
    statuses = {c["status"] for c in doc["checks"]}
    if statuses & {"failed", "inconclusive"}:
        return f"Stuck? `make hint NAME={doc['lab']}`"
    return f"Fix the error above, then grade again: `make grade NAME={doc['lab']}`"


def render(doc: dict[str, Any], *, width: int = 100, color: bool = False) -> str:
    """The grade as terminal text; ANSI colour only when ``color``."""
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    console.print(_table(doc, width))
    for check in doc["checks"]:
        if check["status"] != "passed":
            console.print()
            for line in _details(check):
                console.print(line, soft_wrap=True)
    passed, total = doc["score"].split("/")
    console.print()
    grade_style = "bold green" if doc["passed"] else "bold red"
    console.print(Text(f"Grade: {passed}/{total} checks passed.", style=grade_style))
    files = doc.get("files") or {}
    for label in ("json", "junit", "timeline", "metrics"):
        if files.get(label):
            line = f"  {label:<8} {paths.relative(Path(files[label]))}"
            if label == "metrics":
                line += f"  (query it: make promql NAME={doc['lab']} EXPR='...')"
            console.print(Text(line), soft_wrap=True)
    console.print(Text(next_step(doc)), soft_wrap=True)
    text = out.getvalue()
    return text if color else "".join(line.rstrip() + "\n" for line in text.splitlines())
