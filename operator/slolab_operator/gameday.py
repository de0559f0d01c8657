"""A game day's chaos schedule: which injections are due, and which pods they hit.

The schedule is the scenario's ``chaos:`` list (:class:`slolab.catalog.scenario.ChaosStep`,
Chaos Mesh words: a ``pod-kill`` of ``count`` pods chosen among those matching a label
selector, once at ``at_s`` and/or every ``every_s`` seconds). Time runs from the Lab's
``status.startedAt`` and stops at its deadline.

The operator's timer calls :func:`due` on every tick with what is done so far
(``status.gameDay.done``: per step, how many of its occurrences are done). An operator that
was down for a while does not burst: of the occurrences that came due meanwhile, only the
latest runs, and all of them count as done. Targets are picked with ``random.Random`` seeded
from the Lab's seed, the step and the occurrence, so a rerun of the same game day with the
same pods kills the same ones.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from slolab.catalog import scenario as scenario_mod

#: How many injections ``status.gameDay.events`` keeps.
EVENTS_KEPT = 20


@dataclasses.dataclass(frozen=True)
class Injection:
    """Occurrence ``occurrence`` (0-based) of step ``step``, due ``due_s`` after the start."""

    step: int
    occurrence: int
    due_s: float
    #: How many occurrences of the step are done once this one ran (the missed ones included).
    done_after: int


def occurrences(step: scenario_mod.ChaosStep, elapsed_s: float, limit_s: float) -> int:
    """How many occurrences of ``step`` are due by ``elapsed_s`` (none after ``limit_s``)."""
    start = step.at_s or 0.0
    horizon = min(elapsed_s, limit_s)
    if horizon < start:
        return 0
    if step.every_s is None:
        return 1
    return math.floor((horizon - start) / step.every_s) + 1


def due(
    steps: Sequence[scenario_mod.ChaosStep],
    elapsed_s: float,
    limit_s: float,
    done: Mapping[str, int] | None = None,
) -> list[Injection]:
    """The injections to run now, at most one per step, in schedule order."""
    done = done or {}
    out = []
    for index, step in enumerate(steps):
        total = occurrences(step, elapsed_s, limit_s)
        already = int(done.get(str(index), 0))
        if total > already:
            latest = total - 1
            due_s = (step.at_s or 0.0) + latest * (step.every_s or 0.0)
            out.append(Injection(step=index, occurrence=latest, due_s=due_s, done_after=total))
    return sorted(out, key=lambda i: (i.due_s, i.step))


def pick(pods: Iterable[Mapping[str, Any]], count: int, seed: int, step: int, occurrence: int) -> list[str]:
    """Names of ``count`` running pods, chosen reproducibly; pods already going away are skipped."""
    names = sorted(
        p["metadata"]["name"]
        for p in pods
        if not (p.get("metadata") or {}).get("deletionTimestamp")
        and (p.get("status") or {}).get("phase", "Running") in ("Running", "Pending")
    )
    rng = random.Random(f"{seed}/{step}/{occurrence}")
    return sorted(rng.sample(names, min(count, len(names))))


def record(
    game_day: Mapping[str, Any] | None, injection: Injection, event: Mapping[str, Any]
) -> dict[str, Any]:
    """``status.gameDay`` after ``injection`` ran (``event`` is its entry in ``events``)."""
    state = dict(game_day or {})
    done = dict(state.get("done") or {})
    done[str(injection.step)] = injection.done_after
    events = [*list(state.get("events") or []), dict(event)][-EVENTS_KEPT:]
    return {"injections": int(state.get("injections") or 0) + 1, "done": done, "events": events}
