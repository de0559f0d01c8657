"""A game day on kind/cluster (slolab.gameday.kuberun): the injections come from the Lab's
status.gameDay, which the operator's game-day mode writes (tests/operator/test_operator_gameday.py
runs that mode against the API emulator). Chaos Mesh's @every fires one period after the Schedule
is created (https://chaos-mesh.org/docs/define-scheduling-rules/), so the kills are counted from the
game day's startedAt.
"""

from __future__ import annotations

import datetime

import pytest

from slolab import errors
from slolab.gameday import kuberun, plan

T0 = datetime.datetime(2026, 12, 6, 4, 0, 0, tzinfo=datetime.UTC)


def stamp(seconds: float) -> str:
    return (T0 + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_injections_are_placed_in_seconds_after_the_load_started() -> None:
    p = plan.make("readiness-probes", team="k", duration_s=1800, backend="kind")
    game_day = {
        "startedAt": stamp(3),
        "events": [
            {"action": "pod-kill", "at": stamp(3), "message": "Schedule gameday-pod-kill @every 5m"},
            {"action": "network-delay", "at": stamp(363), "message": "NetworkChaos", "step": 1},
            {"action": "drain", "at": stamp(724), "message": "node gpu cordoned", "step": 2},
            {"action": "drained", "at": stamp(760), "message": "node gpu drained"},
            {"action": "uncordon", "at": stamp(994), "message": "node gpu uncordoned", "step": 3},
            {"action": "node-down", "at": stamp(1173), "message": "node gpu lost", "step": 5},
            {"action": "node-up", "at": stamp(1443), "message": "node gpu back", "step": 6},
        ],
    }
    found, log = kuberun.injections(game_day, T0, p)
    assert [(i.at_s, i.action) for i in found] == [
        (303, plan.POD_KILL),
        (363, plan.NETWORK_DELAY),
        (603, plan.POD_KILL),
        (724, plan.DRAIN),
        (903, plan.POD_KILL),
        (1173, plan.NODE_DOWN),
        (1203, plan.POD_KILL),
        (1503, plan.POD_KILL),
    ]
    assert [line.at_s for line in log] == sorted(line.at_s for line in log)
    assert {line.action for line in log} >= {"drained", plan.UNCORDON, plan.NODE_UP}


def test_a_game_day_the_operator_never_started_says_where_to_look() -> None:
    p = plan.make("readiness-probes", team="k", duration_s=1800, backend="kind")
    with pytest.raises(errors.BackendError, match="never started the game day"):
        kuberun.injections({}, T0, p)
