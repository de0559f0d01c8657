"""A game day's bookkeeping in the Lab's ``status.gameDay``: what the game-day mode has done.

The schedule itself is ``slolab.gameday.plan`` (the same one ``slolab gameday`` runs on sim) and
``slolab_operator.chaos`` runs it; this module keeps the operator's record of it, so that no step
runs twice across operator restarts: ``startedAt`` (the game day's clock) and ``endedAt``, ``done`` (per step
key, 1 once done: ``schedule`` for the pod-kill Schedule, the step's index in the plan,
``chaos-<i>`` for a scenario ``chaos:`` step, ``drained-<node>``), ``injections`` (how many ran),
the latest ``events``, and the nodes the schedule acts on: ``draining`` (a drain whose evictions
are still refused), ``drainedNode`` and ``lostNode``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from slolab_operator import conditions

#: How many injections ``status.gameDay.events`` keeps.
EVENTS_KEPT = 20


class State:
    """``status.gameDay`` as read, changed in place; ``changed`` says whether to patch it."""

    def __init__(self, game_day: Mapping[str, Any] | None) -> None:
        data = dict(game_day or {})
        data["done"] = dict(data.get("done") or {})
        data["events"] = list(data.get("events") or [])
        data["injections"] = int(data.get("injections") or 0)
        self.data = data
        self.changed = False

    def done(self, key: str) -> bool:
        return bool(self.data["done"].get(key))

    def get(self, field: str) -> Any:
        return self.data.get(field)

    @property
    def draining(self) -> str | None:
        return self.data.get("draining")

    def set(self, field: str, value: Any) -> None:
        if self.data.get(field) != value:
            self.changed = True
            if value is None:
                self.data.pop(field, None)
            else:
                self.data[field] = value

    def record(
        self, key: str, at: datetime.datetime, action: str, message: str, step: int | None = None
    ) -> None:
        """Step ``key`` is done (``message`` says what it did)."""
        self.data["done"][key] = 1
        self.data["injections"] += 1
        event: dict[str, Any] = {"action": action, "at": conditions.timestamp(at), "message": message}
        if step is not None:
            event["step"] = step
        self.data["events"] = [*self.data["events"], event][-EVENTS_KEPT:]
        self.changed = True
