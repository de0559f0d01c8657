"""Status conditions in the shape of ``metav1.Condition``.

Upstream: k8s.io/apimachinery v0.35 pkg/apis/meta/v1/types.go (Condition) and
pkg/api/meta/conditions.go (SetStatusCondition): one entry per type; ``lastTransitionTime``
changes only when ``status`` changes; reason is one CamelCase word, message is for people.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterable, Mapping
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]

INSTALLED = "Installed"
FAULT_INJECTED = "FaultInjected"
READY = "Ready"
GRADED = "Graded"
#: The order conditions are listed in.
ORDER = (INSTALLED, FAULT_INJECTED, READY, GRADED)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def timestamp(when: datetime.datetime) -> str:
    """RFC 3339 in UTC with a Z, as the API server writes times."""
    return when.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def find(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    for condition in conditions or ():
        if condition.get("type") == type_:
            return condition
    return None


def is_true(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> bool:
    condition = find(conditions, type_)
    return condition is not None and condition.get("status") == "True"


def set_condition(
    conditions: Iterable[Mapping[str, Any]] | None,
    type_: str,
    status: Status,
    reason: str,
    message: str,
    *,
    at: datetime.datetime | None = None,
    generation: int | None = None,
) -> list[dict[str, Any]]:
    """A new list with condition ``type_`` set; the time moves only when the status changes."""
    out = [copy.deepcopy(dict(c)) for c in conditions or () if c.get("type") != type_]
    old = find(conditions, type_)
    changed = old is None or old.get("status") != status
    entry: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": timestamp(at or now()) if changed else old["lastTransitionTime"],
    }
    if generation is not None:
        entry["observedGeneration"] = generation
    out.append(entry)
    rank = {name: i for i, name in enumerate(ORDER)}
    out.sort(key=lambda c: rank.get(c["type"], len(ORDER)))
    return out


class Conditions:
    """The conditions of one Lab while a handler runs: read from status, written to the patch.

    Each ``set`` lands in ``patch.status.conditions`` right away (kopf applies the patch when
    the handler returns or raises), so a handler that fails half-way still reports why.
    """

    def __init__(self, status: Mapping[str, Any], patch: Any, generation: int | None = None) -> None:
        # Another handler of the same kopf cycle may have set conditions already; start from those.
        pending = (patch.get("status") or {}).get("conditions") if hasattr(patch, "get") else None
        source = pending if pending is not None else status.get("conditions")
        self._items = [dict(c) for c in (source or [])]
        self._patch = patch
        self._generation = generation
        self._dirty = False

    def set(self, type_: str, status: Status, reason: str, message: str) -> None:
        old = find(self._items, type_)
        if (
            old is not None
            and (old.get("status"), old.get("reason"), old.get("message")) == (status, reason, message)
            and (self._generation is None or old.get("observedGeneration") == self._generation)
        ):
            return
        self._items = set_condition(self._items, type_, status, reason, message, generation=self._generation)
        self._patch.status["conditions"] = self._items
        self._dirty = True

    def get(self, type_: str) -> Mapping[str, Any] | None:
        return find(self._items, type_)

    def is_true(self, type_: str) -> bool:
        return is_true(self._items, type_)
