"""The scoreboard (slolab.gameday.scoreboard) and the CLI around it: `slolab gameday NAME --team`
records reports/gameday/<lab>/<seed>/<team>.json and an HTML report next to it;
`slolab scoreboard` ranks the teams of one lab and seed, least error budget burned first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _support import run_cli
from gameday_support import LAB, chaos_mesh_modelled, solution_plan

from slolab.gameday import plan, play, scoreboard

pytestmark = pytest.mark.slow  # game days on sim, some in fresh processes


def row(team: str, burned: float, recovering_s: float) -> dict:
    return {
        "team": team,
        "score": {
            "budget_burned_pct": burned,
            "recovery_total_s": recovering_s,
            "budget_remaining_pct": max(0.0, 100 - burned),
        },
    }


def test_ranked_by_budget_burned_then_time_recovering_then_name() -> None:
    rows = [row("c", 40, 10), row("b", 10, 300), row("a", 40, 10), row("d", 10, 100), row("e", 500, 0)]
    assert [r["team"] for r in scoreboard.ranked(rows)] == ["d", "b", "a", "c", "e"]


@pytest.fixture
def gameday_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "gameday"
    monkeypatch.setenv("SLOLAB_GAMEDAY_DIR", str(out))
    return out


def test_plays_are_recorded_per_lab_seed_and_team(gameday_dir: Path, tmp_path: Path) -> None:
    for team in ("b", "a"):
        p = solution_plan(tmp_path, team=team, actions={plan.NODE_DOWN, plan.NODE_UP})
        played = play.play(p)
        assert played.record == gameday_dir / LAB / "1" / f"{team}.json"
        assert played.report == played.record.with_suffix(".html")
        assert played.report.read_text().startswith("<!doctype html>")
    (board,) = scoreboard.boards(LAB)
    assert (board.lab, board.seed) == (LAB, 1)
    # the same manifests and seed: the same score, so the name decides
    assert [r["team"] for r in board.rows] == ["a", "b"]
    assert scoreboard.boards("no-such-lab") == []


@pytest.mark.skipif(
    not chaos_mesh_modelled(), reason="the simulator does not model Chaos Mesh's Schedule yet"
)
def test_teams_runs_are_recorded_and_ranked(gameday_dir: Path, tmp_path: Path) -> None:
    from slolab.catalog import lab as lab_mod
    from slolab.workspace import variants

    lab = lab_mod.load(LAB)
    fixed, broken = tmp_path / "fixed" / LAB, tmp_path / "broken" / LAB
    variants.write(variants.solution_files(lab), fixed)
    variants.write(variants.fault_files(lab), broken)
    for team, ws in (("fixers", fixed), ("faulty", broken)):
        result = run_cli("gameday", LAB, "--team", team, "--duration", "10m", "--workspace", str(ws))
        assert result.returncode == 0, result.stderr
        assert "Report:" in result.stdout and "make scoreboard" in result.stdout
    folder = gameday_dir / LAB / "1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "faulty.html",
        "faulty.json",
        "fixers.html",
        "fixers.json",
    ]
    records = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
    assert records["fixers"]["seed"] == records["faulty"]["seed"] == 1

    board = run_cli("scoreboard", LAB)
    assert board.returncode == 0, board.stderr
    lines = [line for line in board.stdout.splitlines() if "fixers" in line or "faulty" in line]
    order = [("fixers" if "fixers" in line else "faulty") for line in lines]
    expected = [r["team"] for r in scoreboard.ranked(list(records.values()))]
    assert order == expected
    html = (gameday_dir / "scoreboard.html").read_text()
    assert html.index(expected[0]) < html.index(expected[1])


def test_an_empty_scoreboard_says_what_to_run(gameday_dir: Path) -> None:
    result = run_cli("scoreboard")
    assert result.returncode == 0
    assert "make gameday NAME=<lab> TEAM=<team>" in result.stdout
