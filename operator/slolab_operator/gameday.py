"""A game day's bookkeeping in the Lab's ``status.gameDay``: what the chaos schedule has done.

The schedule itself (which injections are due, which pods they hit) is ``slolab.run.chaos``,
shared with anything else that runs a scenario's chaos; this module keeps the operator's record
of it, so that no injection runs twice across operator restarts: ``done`` (per step, how many
of its occurrences are done; what ``chaos.due`` is asked with), ``injections`` (how many ran)
and the latest ``events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slolab.run import chaos

#: How many injections ``status.gameDay.events`` keeps.
EVENTS_KEPT = 20


def record(
    game_day: Mapping[str, Any] | None, injection: chaos.Injection, event: Mapping[str, Any]
) -> dict[str, Any]:
    """``status.gameDay`` after ``injection`` ran (``event`` is its entry in ``events``)."""
    state = dict(game_day or {})
    done = dict(state.get("done") or {})
    done[str(injection.step)] = injection.done_after
    events = [*list(state.get("events") or []), dict(event)][-EVENTS_KEPT:]
    return {"injections": int(state.get("injections") or 0) + 1, "done": done, "events": events}
