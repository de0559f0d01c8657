"""The game day's stop condition (slolab.gameday.stop): once the share of the error budget burned
reaches STOP_BURN (default 100 %), the chaos halts and is rolled back, as AWS FIS stops an
experiment whose stop-condition alarm goes off and rolls its actions back (research §3.1, §3.3;
Chaos Mesh's abortWithStatusCheck, the Chaos Toolkit's safeguard). The load runs on to the planned
end, and the whole run is scored. tests/gameday/test_kuberun.py covers kind/cluster.
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
from pathlib import Path

import pytest
from _support import ROOT, run_cli
from gameday_support import LAB, run_record, solution_plan
from rich.console import Console

from slolab import errors
from slolab.gameday import htmlreport, plan, scoreboard, stop, terminal
from slolab.run import request

pytestmark = pytest.mark.slow  # game days of 10 simulated minutes

CHAOS_LAB = "chaos-pod-kill"


def _chaos_actions(data: dict) -> list[tuple[float, str]]:
    return [(line["at_s"], line["action"]) for line in data["log"] if line["action"] in plan.ACTIONS]


def _stop_lines(data: dict) -> list[dict]:
    return [line for line in data["log"] if line["action"] == stop.ACTION]


@pytest.fixture(scope="module")
def fault_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """chaos-pod-kill's untouched fault workspace, with the default stop condition and with it off."""
    tmp = tmp_path_factory.mktemp("fault")
    p = solution_plan(tmp, lab_name=CHAOS_LAB, files="fault", stop_burn_pct=plan.DEFAULT_STOP_BURN_PCT)
    return {"stopped": run_record(p), "off": run_record(dataclasses.replace(p, stop_burn_pct=None))}


def test_a_game_day_that_burns_its_budget_is_stopped_and_rolled_back(fault_runs: dict) -> None:
    data = fault_runs["stopped"]
    at = data["stopped_at_s"]
    # evaluated every 15 s of run time: the fault burns the budget within the first period
    assert at == stop.EVALUATION_PERIOD_S
    (line,) = _stop_lines(data)
    assert (line["at_s"], line["target"]) == (at, "StopCondition")
    assert line["detail"].startswith("error budget burned ")
    assert line["detail"].endswith(" ≥ 100 %: chaos halted, actions rolled back")
    assert data["stop_reason"] in line["detail"] and data["stop_burn_pct"] == 100
    # rolled back at once: the pod-kill Schedule is deleted at the stop, in the run log
    deletes = [(x["at_s"], x["target"]) for x in data["log"] if x["action"] == "delete"]
    assert deletes == [(at, "Schedule/gameday-pod-kill")]
    # and no injection of the plan ran after it
    assert data["injections"] == []
    assert all(t <= at for t, _ in _chaos_actions(data))
    # the load ran on to the planned end and the whole run is scored: the same requests as the
    # run without a stop condition, windows to the end, the budget burned past the threshold
    assert data["score"]["requests"] == fault_runs["off"]["score"]["requests"] > 0.9 * 12 * 600
    assert data["windows"][-1]["start_s"] == 570
    assert data["score"]["budget_burned_pct"] >= 100
    assert data["hypothesis"]["held"] is False


def test_with_the_stop_condition_off_every_injection_runs(fault_runs: dict) -> None:
    data = fault_runs["off"]
    assert data["stop_burn_pct"] is None and data["stopped_at_s"] is None and data["stop_reason"] is None
    assert _stop_lines(data) == []
    assert {i["action"] for i in data["injections"]} == set(plan.INJECTIONS)
    assert {a for _, a in _chaos_actions(data)} == set(plan.ACTIONS)
    assert data["score"]["budget_burned_pct"] > 100  # it would have tripped


@pytest.mark.parametrize(
    ("lab_name", "after", "rolled_back", "never"),
    [
        # the reference fix of readiness-probes has its pods on the one GPU node: the drain at
        # 240 s burns the budget; the stop uncordons the node before the plan's uncordon (330 s)
        (LAB, plan.DRAIN, plan.UNCORDON, plan.NODE_DOWN),
        # chaos-pod-kill's reference fix burns it once its node is lost at 390 s: the stop
        # brings the node back before the plan's node-up (480 s)
        (CHAOS_LAB, plan.NODE_DOWN, plan.NODE_UP, plan.POD_KILL),
    ],
)
def test_the_stop_gives_back_a_drained_or_lost_node(
    tmp_path: Path, lab_name: str, after: str, rolled_back: str, never: str
) -> None:
    p = solution_plan(tmp_path, lab_name=lab_name, stop_burn_pct=100.0)
    data = run_record(p)
    at = data["stopped_at_s"]
    step_at = {s.action: s.at_s for s in p.steps if s.action != plan.POD_KILL}
    undo_at = step_at[rolled_back]
    assert at is not None and step_at[after] < at < undo_at and at % stop.EVALUATION_PERIOD_S == 0
    by_action = {a: t for t, a in _chaos_actions(data)}
    # the node the step took is given back at the stop, with the stop condition named
    (undo,) = [x for x in data["log"] if x["action"] == rolled_back]
    assert undo["at_s"] == at and undo["detail"].endswith("(stop condition)")
    node = next(x["target"] for x in data["log"] if x["action"] == after)
    assert undo["target"] == node
    # the Chaos Mesh objects went at the stop; nothing of the plan ran after it
    assert {x["target"] for x in data["log"] if x["action"] == "delete" and x["at_s"] == at} == {
        "Schedule/gameday-pod-kill",
        "NetworkChaos/gameday-network-delay",
    }
    assert all(t <= at for t, _ in _chaos_actions(data))
    assert never not in by_action or by_action[never] < at
    assert max(i["at_s"] for i in data["injections"]) < at
    # stopped at 100 %: the score burns the same budget, so it shows at least that much
    assert data["score"]["budget_burned_pct"] >= 100
    assert run_record(p) == data  # deterministic for a seed, stop included


def test_a_reference_run_under_a_high_threshold_is_not_stopped(tmp_path: Path) -> None:
    off = solution_plan(tmp_path, lab_name=CHAOS_LAB, stop_burn_pct=None)
    data_off = run_record(off)
    burned = data_off["score"]["budget_burned_pct"]
    # a threshold just above what the whole run burns never trips: the condition and the score
    # burn the same budget, and the failures seen by any check are among the run's
    data = run_record(dataclasses.replace(off, stop_burn_pct=burned + 0.01))
    assert data["stopped_at_s"] is None and _stop_lines(data) == []
    assert data["hypothesis"]["held"] is False  # it burned past 100 % (but was not stopped)
    # evaluating the condition changes nothing of the run
    assert {k: v for k, v in data.items() if k != "stop_burn_pct"} == {
        k: v for k, v in data_off.items() if k != "stop_burn_pct"
    }


def test_the_budget_is_the_plans_expected_requests() -> None:
    p = plan.make(LAB, duration_s=600)
    profile = p.scenario.traffic[p.profile]
    assert p.expected_requests == pytest.approx(profile.rate_rps * 600)
    assert p.budget_failures == pytest.approx((1 - p.slo.availability_pct / 100) * profile.rate_rps * 600)
    cond = stop.StopCondition.of(p)
    assert cond is not None and cond.threshold_pct == 100
    allowed = p.budget_failures

    def failed(at_s: float, status: int | None = 503) -> request.Request:
        r = request.Request(0, at_s, 10, 10)
        r.status = status
        return r

    t0 = 50.0
    few = [failed(t0 + 1)] * int(allowed)
    enough = few + [failed(t0 + 2)] * 2
    # the requests that count are those that arrived in the run and finished failed
    ignored = [failed(t0 - 1), failed(t0 + 600), failed(t0 + 3, None), failed(t0 + 4, 200)]
    assert cond.check(15.0, few + ignored * 10, t0) is None
    trip = cond.check(30.0, enough, t0)
    assert trip is not None and trip.at_s == 30.0 and trip.burned_pct >= 100
    assert stop.StopCondition.of(dataclasses.replace(p, stop_burn_pct=None)) is None


@pytest.mark.parametrize(
    ("text", "pct"),
    [("100", 100.0), ("50", 50.0), ("150 %", 150.0), ("12.5%", 12.5), ("off", None), ("OFF", None)],
)
def test_stop_burn_values(text: str, pct: float | None) -> None:
    assert plan.parse_stop_burn(text) == pct


@pytest.mark.parametrize("text", ["", "abc", "0", "-5", "nan", "inf", "100 percent", "1e999"])
def test_bad_stop_burn_values_say_what_is_accepted(text: str) -> None:
    with pytest.raises(errors.InputError) as caught:
        plan.parse_stop_burn(text)
    message = str(caught.value)
    assert "STOP_BURN (--stop-burn)" in message and "above 0" in message and "off" in message
    assert caught.value.exit_code == 2


def test_a_bad_stop_burn_exits_2_before_the_game_day(tmp_path: Path) -> None:
    result = run_cli("gameday", LAB, "--stop-burn", "lots", "--duration", "10m")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "STOP_BURN (--stop-burn): 'lots' is not a stop condition" in result.stderr
    assert "STOP_BURN=off" in result.stderr  # what to run next
    assert "Game day" not in result.stdout


def test_the_makefile_passes_stop_burn_through() -> None:
    dry = subprocess.run(
        ["make", "-n", "gameday", "NAME=x", "STOP_BURN=off", "TEAM=t"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "gameday x --team t --stop-burn off" in " ".join(dry.stdout.split())


# -- what the stopped run looks like: report, terminal, scoreboard ------------------------------


def test_the_report_shows_the_stop(fault_runs: dict) -> None:
    page = htmlreport.page(fault_runs["stopped"])
    assert (
        '<div id="stopped" class="verdict stopped">Stopped at T+00:15: the stop condition (error '
        "budget burned ≥ 100 %) halted the chaos; the rest of the plan did not run.</div>"
    ) in page
    # under the hypothesis, before the verdict
    assert page.index("<h2>Hypothesis</h2>") < page.index('id="stopped"') < page.index('id="verdict"')
    # a marker on every timeline panel at the stop, unlike the injections' dashed lines
    svg = htmlreport.timeline_svg(fault_runs["stopped"])
    assert [f'<g class="stop" data-panel="{i}">' in svg for i in range(htmlreport.PANELS)] == [True] * 4
    assert svg.count('class="stop"') == htmlreport.PANELS
    # the stop's line in the run log
    assert "<td>stop</td><td>StopCondition</td><td>error budget burned" in page
    plain = htmlreport.page(fault_runs["off"])
    assert 'id="stopped"' not in plain and 'class="stop"' not in plain


def test_the_terminal_says_it_stopped(fault_runs: dict) -> None:
    out = io.StringIO()
    terminal.show_run(Console(file=out, width=400, color_system=None), fault_runs["stopped"])
    text = out.getvalue()
    assert "Stopped at T+00:15: the stop condition (error budget burned ≥ 100 %) halted the chaos" in text
    assert "StopCondition" in text
    out = io.StringIO()
    terminal.show_run(Console(file=out, width=400, color_system=None), fault_runs["off"])
    assert "Stopped at" not in out.getvalue()


def test_the_scoreboard_marks_stopped_runs_and_reads_older_records(fault_runs: dict) -> None:
    stopped = {**fault_runs["stopped"], "team": "stopped"}
    ran = {**fault_runs["off"], "team": "ran"}
    # a record written before stop conditions: none of their fields
    older = {
        k: v
        for k, v in fault_runs["off"].items()
        if k not in ("stop_burn_pct", "stopped_at_s", "stop_reason")
    }
    older = {**older, "team": "older"}
    rows = scoreboard.ranked([stopped, ran, older])
    # ranked by the score as before: the stopped run burned less, the same load to the end
    assert [r["team"] for r in rows] == ["stopped", "older", "ran"]
    col = scoreboard.COLUMNS.index("stopped")
    assert [scoreboard.cells(i, r)[col] for i, r in enumerate(rows, 1)] == ["■ T+00:15", "–", "–"]
    assert scoreboard.COLUMNS[-1] == "when"
    page = scoreboard.html_page([scoreboard.Board(CHAOS_LAB, 1, rows)])
    assert "<th>stopped</th>" in page and "<td>■ T+00:15</td>" in page
