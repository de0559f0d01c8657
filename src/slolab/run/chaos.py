"""A chaos schedule: which injections are due, and which pods they hit.

The schedule is a scenario's ``chaos:`` list (:class:`slolab.catalog.scenario.ChaosStep`, Chaos
Mesh words: a ``pod-kill`` of ``count`` pods chosen among those matching a label selector, once
at ``at_s`` and/or every ``every_s`` seconds). Time runs from the run's start and stops at its
limit (a game day's deadline).

Pure and seeded, so every runner of a schedule decides the same way: the operator's game-day
timer (``slolab_operator.chaos``, which keeps what is done in the Lab's ``status.gameDay``) and
anything that replays a game day in virtual time. A caller asks :func:`due` with what is done so
far (per step, how many of its occurrences are done). A runner that was down for a while does not
burst: of the occurrences that came due meanwhile, only the latest runs, and all of them count as
done. Targets are picked with ``random.Random`` seeded from the run's seed, the step and the
occurrence, so a rerun with the same pods hits the same ones.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from slolab.catalog import scenario as scenario_mod


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
    """The injections to run now, at most one per step, in schedule order.

    ``done`` maps a step's index, as a string (a JSON object key), to its occurrences done."""
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
    """Names of ``count`` running pods (API-shaped dicts), chosen reproducibly; pods already going
    away are skipped."""
    names = sorted(
        p["metadata"]["name"]
        for p in pods
        if not (p.get("metadata") or {}).get("deletionTimestamp")
        and (p.get("status") or {}).get("phase", "Running") in ("Running", "Pending")
    )
    rng = random.Random(f"{seed}/{step}/{occurrence}")
    return sorted(rng.sample(names, min(count, len(names))))
