"""The scoreboard: every team's game day on the same lab and seed, ranked.

Rank (best first): less of the error budget burned (the primary score, research §3.3; budget
left is the same order until it is exhausted, burned goes on past 100 %), then less total
time recovering (``record.recovery_total_s``), then the team's name. Only runs of the same lab
and seed are ranked together: the same scenario, SLOs, load and chaos schedule.

A run its stop condition halted (``slolab.gameday.stop``) is marked in the ``stopped`` column
with the time it stopped (as AWS FIS lists an experiment's state ``stopped``); its rank still
follows from its score: the load ran to the end, so the budget it burned is comparable.
"""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

from slolab.gameday import record


@dataclasses.dataclass(frozen=True)
class Board:
    lab: str
    seed: int
    rows: list[dict[str, Any]]


def boards(name: str | None = None) -> list[Board]:
    """Every scoreboard under ``record.root()`` (only lab ``name``'s when given), by lab and seed."""
    base = record.root()
    out = []
    labs = [base / name] if name else sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    for lab_dir in labs:
        if not lab_dir.is_dir():
            continue
        seeds = sorted(
            (p for p in lab_dir.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
        )
        for seed_dir in seeds:
            rows = [record.read(f) for f in sorted(seed_dir.glob("*.json"))]
            if rows:
                out.append(Board(lab_dir.name, int(seed_dir.name), ranked(rows)))
    return out


def ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        rows,
        key=lambda r: (r["score"]["budget_burned_pct"], r["score"]["recovery_total_s"], r["team"]),
    )


COLUMNS = (
    "#",
    "team",
    "budget burned",
    "band",
    "availability",
    "p99 TTFT",
    "recovering",
    "hypothesis",
    "stopped",
    "when",
)


def stopped(row: dict[str, Any]) -> str:
    """ "■ T+06:45" for a run its stop condition halted, "–" otherwise (older records too)."""
    at = record.stopped_at_s(row)
    if at is None:
        return "–"
    t = round(at)
    return f"■ T+{t // 60:02d}:{t % 60:02d}"


def cells(rank: int, row: dict[str, Any]) -> tuple[str, ...]:
    s = row["score"]
    ttft = "–" if s["ttft_p99_s"] is None else f"{s['ttft_p99_s']:.2f} s"
    return (
        str(rank),
        row["team"],
        f"{s['budget_burned_pct']:.1f} %",
        s["band"],
        f"{s['availability_pct']:.3f} %",
        ttft,
        f"{s['recovery_total_s']:.0f} s" + ("" if s["recovered_all"] else " (not all)"),
        "held" if row["hypothesis"]["held"] else "not held",
        stopped(row),
        row.get("recorded_at", ""),
    )


def html_page(all_boards: list[Board]) -> str:
    """A self-contained HTML page of the scoreboards (inline CSS, no external assets)."""
    parts = []
    for b in all_boards:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells(i, row)) + "</tr>"
            for i, row in enumerate(b.rows, 1)
        )
        parts.append(
            f"<h2>{html.escape(b.lab)} · seed {b.seed}</h2>"
            f'<table class="board"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        )
    content = (
        "".join(parts)
        or "<p>No game days recorded yet. "
        "Run <code>make gameday NAME=&lt;lab&gt; TEAM=&lt;team&gt;</code>.</p>"
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>slolab game-day scoreboard</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 10px;text-align:left}"
        "th{background:#f2f2f2}</style></head>"
        f"<body><h1>Game-day scoreboard</h1>{content}</body></html>\n"
    )


def write_html(all_boards: list[Board]) -> Path:
    out = record.root() / "scoreboard.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_page(all_boards), encoding="utf-8")
    return out
