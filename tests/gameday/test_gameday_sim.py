"""A game day on the simulator (slolab.gameday.run): the schedule runs in time, each injection is
in the run log and scored, and the score is deterministic for a seed (issue 12 item 5).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gameday_support import chaos_mesh_modelled, run_record, solution_plan

from slolab.gameday import plan


def test_node_loss_is_injected_logged_and_scored(tmp_path: Path) -> None:
    p = solution_plan(tmp_path, actions={plan.NODE_DOWN, plan.NODE_UP})
    data = run_record(p)
    assert [(i["at_s"], i["action"]) for i in data["injections"]] == [(390, plan.NODE_DOWN)]
    actions = [line["action"] for line in data["log"]]
    assert plan.NODE_DOWN in actions and plan.NODE_UP in actions
    # the lost node's NotReady is observed on the timeline, at the injection
    assert any(line["detail"].startswith("NodeNotReady") and line["at_s"] == 390 for line in data["log"])
    s = data["score"]
    assert s["requests"] > 0.9 * 15 * 600  # the chat profile's 15 req/s ran the whole 10 minutes
    assert s["budget_burned_pct"] > 0  # every pod of the reference fix sits on the one GPU node
    assert data["hypothesis"]["held"] is False


def test_two_runs_of_a_seed_score_the_same(tmp_path: Path) -> None:
    p = solution_plan(tmp_path, actions={plan.NODE_DOWN, plan.NODE_UP})
    assert run_record(p) == run_record(p)


@pytest.mark.skipif(
    not chaos_mesh_modelled(), reason="the simulator does not model Chaos Mesh's Schedule yet"
)
def test_the_full_schedule_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    p = solution_plan(tmp_path)
    first = run_record(p)
    assert first == run_record(p)
    assert {i["action"] for i in first["injections"]} == set(plan.INJECTIONS)
    assert {m["kind"] for m in first["manifests"]} == {"Schedule", "NetworkChaos"}
