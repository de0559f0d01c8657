"""A game day on kind or a cluster: real time, the operator's game-day mode, locust load.

The same procedure as on the simulator (``slolab.gameday.run``), with the chaos done by the
operator (``slolab_operator.chaos``) instead of the runner: the Lab is started (or kept) and
Ready, the target Deployment Ready, the locust load of the kind backend starts (T0), then the
runner switches the Lab's game-day mode on (``spec.gameDay: true``, ``spec.gameDayMinutes``; a
previous game day's ``status.gameDay`` is cleared first), so that the operator creates the Chaos
Mesh Schedule and NetworkChaos and drains and loses a node on the same schedule; after the
duration the runner switches it off, stops the load and scores the request log.

Injection times come from the Lab's ``status.gameDay``: the operator's events (``at``) for the
network delay, drain and node loss, and the pod-kill Schedule's ``@every`` counted from the game
day's ``startedAt`` (Chaos Mesh fires one period after the Schedule is created) until the game
day ended (``endedAt``: the operator deleted the Schedule).

The stop condition (``slolab.gameday.stop``) is evaluated every 15 s on the requests the locust
child finished so far (its live request file, ``ProcessLoad.so_far``). When it trips, the runner
switches the game-day mode off at once (the same patch it makes at the end), and the operator
ends the game day at its next tick: it deletes its Chaos Mesh objects, uncordons the drained node
and takes the lost node's taint off, and does none of the remaining steps
(``slolab_operator.chaos``). The load runs on to the planned end.
"""

from __future__ import annotations

import datetime
import math
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slolab import errors
from slolab.backends import base
from slolab.gameday import plan as plan_mod
from slolab.gameday import run as run_mod
from slolab.gameday import score, stop


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def injections(
    game_day: Mapping[str, Any],
    t0_wall: datetime.datetime,
    plan: plan_mod.Plan,
    stopped_at_s: float | None = None,
) -> tuple[list[score.Injection], list[run_mod.LogLine]]:
    """The injections and run-log lines of the operator's ``status.gameDay``, in seconds after T0
    (``t0_wall``, when the load started). The Schedule's kills are counted until the game day
    ended (``endedAt``), else until ``stopped_at_s`` (the stop condition switched it off)."""
    started = game_day.get("startedAt")
    if not started:
        raise errors.BackendError(
            "the operator never started the game day (no status.gameDay.startedAt)",
            f"Check the operator's log: `kubectl -n slolab-system logs deploy/slolab-operator`, and "
            f"`kubectl get lab {plan.name} -o yaml`.",
        )
    offset_s = (_time(started) - t0_wall).total_seconds()
    found: list[score.Injection] = []
    log: list[run_mod.LogLine] = []
    for event in game_day.get("events") or []:
        at_s = (_time(event["at"]) - t0_wall).total_seconds()
        action = event.get("action", "")
        log.append(run_mod.LogLine(at_s, action, f"Lab/{plan.name}", event.get("message", "")))
        if action in plan_mod.INJECTIONS and action != plan_mod.POD_KILL and 0 <= at_s < plan.duration_s:
            found.append(score.Injection(at_s, action, event.get("message", "")))
    kills_until_s = plan.duration_s
    if game_day.get("endedAt"):
        kills_until_s = min(kills_until_s, (_time(game_day["endedAt"]) - t0_wall).total_seconds())
    elif stopped_at_s is not None:
        kills_until_s = min(kills_until_s, stopped_at_s)
    k = 1
    while offset_s + k * plan.kill_every_s < kills_until_s:
        at_s = offset_s + k * plan.kill_every_s
        found.append(
            score.Injection(at_s, plan_mod.POD_KILL, "Chaos Mesh Schedule gameday-pod-kill kills one pod")
        )
        log.append(
            run_mod.LogLine(at_s, plan_mod.POD_KILL, "Schedule/gameday-pod-kill", "one pod killed (@every)")
        )
        k += 1
    return sorted(found, key=lambda i: i.at_s), sorted(log, key=lambda line: line.at_s)


def run(plan: plan_mod.Plan, context: str | None, say: Any = print) -> run_mod.Result:
    """The game day of ``plan`` on the live namespace through ``context`` (kind: kind-slolab)."""
    from slolab.kube import client, labs

    kube = client.connect(context)
    labs.start(kube, plan.lab, seed=plan.seed)
    with tempfile.TemporaryDirectory(prefix="slolab-gameday-") as tmp:
        backend = base.open_backend(plan.backend, plan.lab, Path(tmp), plan.seed, context=context)
        try:
            return _run(plan, backend, kube, say)
        finally:
            kube.patch("Lab", plan.name, {"spec": {"gameDay": False}})
            backend.close()


def _run(plan: plan_mod.Plan, backend: base.Backend, kube: Any, say: Any) -> run_mod.Result:
    target = plan.lab.grading.target.deployment
    cluster, clock = backend.cluster, backend.clock
    if not cluster.wait_for(
        lambda: run_mod.ready(cluster, target), timeout_s=plan_mod.WARMUP_TIMEOUT_S, poll_s=5.0
    ):
        raise errors.BackendError(
            f"Deployment {target!r} was not Ready within {plan_mod.WARMUP_TIMEOUT_S:g} s",
            f"Look with `kubectl -n lab-{plan.name} get pods,events`.",
        )
    t0, t0_wall = clock.now_s(), datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    handle = backend.load.start(plan.profile)
    kube.patch("Lab", plan.name, {"status": {"gameDay": None}}, subresource="status")
    minutes = math.ceil(plan.duration_s / 60)  # the operator's game day covers the whole run
    kube.patch("Lab", plan.name, {"spec": {"gameDay": True, "gameDayMinutes": minutes}})
    say(f"  game day on: the operator runs the chaos for {plan.duration_s / 60:g} min (real time)")
    watch = stop.Watch(stop.StopCondition.of(plan), clock, t0, lambda: backend.load.so_far(handle))
    trip = None
    while (now_s := clock.now_s() - t0) < plan.duration_s:
        tripped = watch.wait_until(min(plan.duration_s, (math.floor(now_s / 60.0) + 1) * 60.0))
        if tripped is not None:
            trip = tripped
            kube.patch("Lab", plan.name, {"spec": {"gameDay": False}})
            say(
                f"  ■ T+{trip.at_s / 60:.1f} min: stop condition: {trip.reason}. Game-day mode switched off: "
                "the operator deletes its chaos and gives the nodes back; the load runs on to the end."
            )
            continue
        say(f"  T+{(clock.now_s() - t0) / 60:.0f} min of {plan.duration_s / 60:g}")
    kube.patch("Lab", plan.name, {"spec": {"gameDay": False}})
    request_log = backend.load.stop(handle)
    lab = kube.get("Lab", plan.name) or {}
    found, log = injections(
        (lab.get("status") or {}).get("gameDay") or {},
        t0_wall,
        plan,
        None if trip is None else trip.at_s,
    )
    if trip is not None:
        log.append(run_mod.LogLine(trip.at_s, stop.ACTION, stop.TARGET, trip.detail))
        log.append(
            run_mod.LogLine(
                trip.at_s,
                "game-day-off",
                f"Lab/{plan.name}",
                "spec.gameDay: false: the operator deletes its Chaos Mesh objects, uncordons the "
                "drained node and gives the lost node back, and runs no further step",
            )
        )
    result_score = run_mod.score_run(plan, request_log, t0, found, trip)
    series = {
        name: run_mod.series_from(points, t0)
        for name, points in backend.series().items()
        if name in run_mod.SERIES
    }
    run_mod.note_events(log, backend.events, t0, plan.duration_s)
    return run_mod.Result(plan, result_score, log, series, t0, [], trip)
