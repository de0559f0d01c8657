"""A game day on kind/cluster (slolab.gameday.kuberun): the injections come from the Lab's
status.gameDay, which the operator's game-day mode writes (tests/operator/test_operator_gameday.py
runs that mode against the API emulator). Chaos Mesh's @every fires one period after the Schedule
is created (https://chaos-mesh.org/docs/define-scheduling-rules/), so the kills are counted from the
game day's startedAt.
"""

from __future__ import annotations

import dataclasses
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


# -- the procedure, against stand-ins for the kind backend and the API ---------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now_s(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class Cluster:
    namespace = "lab-readiness-probes"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        assert (kind, name) == ("Deployment", "llm")
        ready = 3 if self.clock.now_s() >= 100 else 0  # Ready 100 s after the backend opened
        return {"spec": {"replicas": 3}, "status": {"readyReplicas": ready}}

    def wait_for(self, condition, timeout_s: float, poll_s: float = 1.0) -> bool:
        while not condition():
            if self.clock.now_s() >= timeout_s:
                return False
            self.clock.sleep(poll_s)
        return True


class Load:
    """10 requests/s that take 2 s; those that arrive in ``failing`` (seconds after the start)
    fail after 0.1 s. ``so_far`` is the live request log: what finished by now."""

    def __init__(self, clock: Clock, failing: tuple[float, float] | None = None) -> None:
        self.clock = clock
        self.started_s = None
        self.failing = failing
        self.peeks: list[float] = []

    def start(self, profile: str):
        self.started_s = self.clock.now_s()
        return profile

    def _requests(self) -> list:
        from slolab.run import request

        reqs = []
        for i in range(int((self.clock.now_s() - self.started_s) * 10)):
            r = request.Request(i, self.started_s + i / 10, 100, 100)
            if self.failing and self.failing[0] <= i / 10 < self.failing[1]:
                r.status, r.finish_s = 503, r.arrival_s + 0.1
            else:
                r.status, r.first_token_s, r.finish_s = 200, r.arrival_s + 0.2, r.arrival_s + 2
            reqs.append(r)
        return reqs

    def so_far(self, handle) -> list:
        self.peeks.append(self.clock.now_s() - self.started_s)
        return [r for r in self._requests() if r.finish_s <= self.clock.now_s()]

    def stop(self, handle, drain_s=None):
        from slolab.load import requestlog

        return requestlog.RequestLog(self._requests(), profile=handle, started_s=self.started_s)


class Backend:
    def __init__(self, failing: tuple[float, float] | None = None) -> None:
        self.clock = Clock()
        self.cluster = Cluster(self.clock)
        self.load = Load(self.clock, failing)
        self.events = []

    def series(self) -> dict:
        return {"ready_pods": [(0.0, 0.0), (100.0, 3.0)], "other": [(0.0, 1.0)]}


class Kube:
    """The Lab as the operator keeps it: the game day started 2 s after the load; switched off,
    it ends (endedAt) at the operator's next tick, 5 s later."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock
        self.patches: list[tuple] = []
        self.switched_off_s: float | None = None  # since the load started (T0)

    def patch(self, kind: str, name: str, body: dict, namespace=None, *, subresource=None) -> dict:
        self.patches.append((name, body, subresource))
        if body.get("spec", {}).get("gameDay") is False and self.clock and self.switched_off_s is None:
            self.switched_off_s = self.clock.now_s() - 100  # T0: Ready 100 s after the backend opened
        return {}

    def get(self, kind: str, name: str, namespace=None) -> dict:
        game_day = {"startedAt": stamp(2), "events": []}
        if self.switched_off_s is not None:
            ended = stamp(self.switched_off_s + 5)
            game_day["endedAt"] = ended
            game_day["events"] = [
                {
                    "action": "ended",
                    "at": ended,
                    "message": "game day ended (spec.gameDay was switched off): Chaos Mesh objects "
                    "deleted, nodes given back",
                }
            ]
        return {"status": {"gameDay": game_day}}


def test_the_runner_starts_the_load_then_the_game_day_and_switches_it_off(monkeypatch) -> None:
    p = plan.make("readiness-probes", team="k", duration_s=600, backend="kind")
    # the load starts at T0 on the wall clock
    monkeypatch.setattr(
        kuberun.datetime,
        "datetime",
        type("D", (datetime.datetime,), {"now": staticmethod(lambda tz=None: T0)}),
    )
    kube, backend = Kube(), Backend()
    result = kuberun._run(p, backend, kube, lambda line: None)
    assert kube.patches == [
        ("readiness-probes", {"status": {"gameDay": None}}, "status"),
        ("readiness-probes", {"spec": {"gameDay": True, "gameDayMinutes": 10}}, None),
        ("readiness-probes", {"spec": {"gameDay": False}}, None),
    ]
    assert backend.clock.now_s() == 100 + 600  # warm-up, then the game day in (here virtual) real time
    # kills every 100 s from the game day's start, 2 s after the load's
    injected = [(r.injection.at_s, r.injection.action) for r in result.score.recoveries]
    assert injected == [(102 + 100 * k, plan.POD_KILL) for k in range(5)]
    assert result.score.requests == 6000 and result.score.failed == 0
    assert result.score.hypothesis_held
    assert result.series == {"ready_pods": [(0.0, 3.0)]}
    # the stop condition read the live request log every 15 s and never went off
    assert backend.load.peeks == [15.0 * k for k in range(1, 41)]
    assert result.stopped_at_s is None and result.score.stopped_at_s is None


def _wall_clock_at_t0(monkeypatch) -> None:
    monkeypatch.setattr(
        kuberun.datetime,
        "datetime",
        type("D", (datetime.datetime,), {"now": staticmethod(lambda tz=None: T0)}),
    )


def test_the_stop_condition_switches_the_game_day_off_when_the_live_log_burns_the_budget(
    monkeypatch,
) -> None:
    # AWS FIS: a stop condition's alarm stops the experiment and rolls its actions back; here
    # the runner switches the operator's game-day mode off, and the operator cleans up
    p = plan.make("readiness-probes", team="k", duration_s=600, backend="kind")
    assert p.stop_burn_pct == 100 and p.budget_failures < 100  # 10 s of failures burn it
    _wall_clock_at_t0(monkeypatch)
    backend = Backend(failing=(200.0, 400.0))
    kube = Kube(backend.clock)
    said: list[str] = []
    result = kuberun._run(p, backend, kube, said.append)
    # tripped at the first evaluation after the failures began, and switched off right then
    assert result.stopped_at_s == 210.0
    assert kube.switched_off_s == 210.0
    assert kube.patches == [
        ("readiness-probes", {"status": {"gameDay": None}}, "status"),
        ("readiness-probes", {"spec": {"gameDay": True, "gameDayMinutes": 10}}, None),
        ("readiness-probes", {"spec": {"gameDay": False}}, None),  # the stop
        ("readiness-probes", {"spec": {"gameDay": False}}, None),  # the end, as always
    ]
    assert any("stop condition: error budget burned" in line for line in said)
    # no evaluation after the trip, but the load ran to the planned end and all of it is scored
    assert backend.load.peeks == [15.0 * k for k in range(1, 15)]
    assert backend.clock.now_s() == 100 + 600
    assert result.score.requests == 6000 and result.score.failed == 2000
    # the kills stopped when the operator ended the game day (5 s after the switch-off)
    injected = [(r.injection.at_s, r.injection.action) for r in result.score.recoveries]
    assert injected == [(102.0, plan.POD_KILL), (202.0, plan.POD_KILL)]
    stop_lines = [line for line in result.log if line.action == "stop"]
    assert [(line.at_s, line.target) for line in stop_lines] == [(210.0, "StopCondition")]
    assert stop_lines[0].detail.endswith("≥ 100 %: chaos halted, actions rolled back")
    assert {"game-day-off", "ended"} <= {line.action for line in result.log}
    assert result.score.stopped_at_s == 210.0 and result.score.stop_reason == result.stop_reason
    assert result.score.budget_burned_pct >= 100 and not result.score.hypothesis_held


def test_with_the_stop_condition_off_the_game_day_runs_on(monkeypatch) -> None:
    p = dataclasses.replace(
        plan.make("readiness-probes", team="k", duration_s=600, backend="kind"), stop_burn_pct=None
    )
    _wall_clock_at_t0(monkeypatch)
    backend = Backend(failing=(200.0, 400.0))
    kube = Kube(backend.clock)
    result = kuberun._run(p, backend, kube, lambda line: None)
    assert result.stopped_at_s is None and backend.load.peeks == []
    assert kube.switched_off_s == 600.0  # only at the end
    assert len(result.score.recoveries) == 5  # every kill
