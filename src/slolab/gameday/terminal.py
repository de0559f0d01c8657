"""A game day and the scoreboard in the terminal (rich tables), from the records."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from slolab.gameday import htmlreport, scoreboard


def show_run(console: Console, data: dict[str, Any]) -> None:
    """The score, the verdict, and the run log's actions with whether the SLO held at each."""
    s = data["score"]
    held = data["hypothesis"]["held"]
    console.print(
        f"[bold]Game day {data['lab']}[/bold] · team {data['team']} · seed {data['seed']} · "
        f"{data['duration_s'] / 60:g} min on {data['backend']} ({data['manifests_from']})"
    )
    console.print(data["hypothesis"]["text"])
    table = Table(title="Run log", title_justify="left")
    for col in ("time", "action", "target", "observed", "SLO held"):
        table.add_column(col, overflow="fold")
    for t, action, target, observed, ok in htmlreport.log_rows(data):
        if action == "observed":  # the cluster's events: in the HTML report's log only
            continue
        table.add_row(t, action, target, observed, "[green]yes[/green]" if ok else "[red]no[/red]")
    console.print(table)
    ttft = "–" if s["ttft_p99_s"] is None else f"{s['ttft_p99_s']:.2f} s"
    mark = "[green]✓ held[/green]" if held else "[red]✗ did not hold[/red]"
    console.print(
        f"Hypothesis {mark}: error budget burned {s['budget_burned_pct']:.1f} % "
        f"({s['budget_remaining_pct']:.1f} % left, {s['band']}); availability {s['availability_pct']:.3f} % "
        f"(SLO ≥ {data['slo']['availability_pct']:g} %), "
        f"p99 TTFT {ttft} (SLO ≤ {data['slo']['ttft_p99_s']:g} s), "
        f"{s['recovery_total_s']:.0f} s recovering."
    )
    banner = htmlreport.stop_banner(data)
    if banner:
        console.print(
            f"[bold red]■ {banner}.[/bold red] The load ran on to the end: the score covers the recovery."
        )


def show_boards(console: Console, boards: list[scoreboard.Board]) -> None:
    for b in boards:
        table = Table(title=f"Game-day scoreboard: {b.lab} · seed {b.seed}", title_justify="left")
        # the terminal leaves out when each run was recorded (scoreboard.html has it)
        for col in scoreboard.COLUMNS[:-1]:
            table.add_column(col)
        for i, row in enumerate(b.rows, 1):
            table.add_row(*scoreboard.cells(i, row)[:-1])
        console.print(table)
