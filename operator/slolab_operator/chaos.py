"""A game day's chaos: the scenario's schedule run by a kopf timer until the Lab's deadline.

With ``spec.gameDay``, a timer (interval ``Config.chaos_interval_s``) asks the schedule
(``slolab.run.chaos``) which injections are due since ``startedAt``, kills the pods each one
picks (seeded, so a rerun picks the same) and records every injection in ``status.gameDay``
(``slolab_operator.gameday``), so none runs twice across operator restarts.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

import kopf

from slolab.run import chaos as chaos_schedule
from slolab_operator import conditions, gameday, kube, spec
from slolab_operator import deps as deps_mod
from slolab_operator.conditions import READY


async def inject(
    deps: deps_mod.Deps, name: str, spec_: Any, status: Any, patch: kopf.Patch, logger: logging.Logger
) -> None:
    """Run the chaos steps of Lab ``name`` that are due and not yet done."""
    try:
        run = spec.parse(name, spec_, deps.config.lab_overlay())
    except spec.SpecError:
        return
    steps = run.scenario.chaos
    if not steps or not conditions.is_true(status.get("conditions"), READY) or not status.get("startedAt"):
        return
    started = conditions.parse_time(status["startedAt"])
    deadline = started + datetime.timedelta(minutes=run.time_limit_minutes)
    now = conditions.now()
    todo = chaos_schedule.due(
        steps,
        (now - started).total_seconds(),
        (deadline - started).total_seconds(),
        (status.get("gameDay") or {}).get("done"),
    )
    if not todo:
        return
    api, state = deps.api(), status.get("gameDay")
    try:
        for injection in todo:
            step = steps[injection.step]
            pods = await api.list_pods(run.namespace, step.selector)
            targets = chaos_schedule.pick(pods, step.count, run.seed, injection.step, injection.occurrence)
            killed = [t for t in targets if await api.delete_pod(run.namespace, t)]
            selector = ",".join(f"{k}={v}" for k, v in step.selector.items())
            message = (
                f"{step.action} {', '.join(killed)}"
                if killed
                else f"{step.action}: no running pod matches {selector}"
            )
            logger.info(
                "game day %s: step %d occurrence %d: %s", name, injection.step, injection.occurrence, message
            )
            event = {
                "step": injection.step,
                "action": step.action,
                "at": conditions.timestamp(now),
                "targets": killed,
                "message": message,
            }
            state = gameday.record(state, injection, event)
    except kube.KubeError as exc:
        raise deps_mod.retry(exc, deps.config.retry_s) from None
    finally:
        if state is not None and state != status.get("gameDay"):
            patch.status["gameDay"] = state
