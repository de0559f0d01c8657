"""The run's timeline: Kubernetes-style events and step series, recorded as the sim runs."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Event:
    """One line of the timeline: a Kubernetes-style event, or a grader/load marker."""

    time_s: float
    kind: str  # involved object kind: Pod, Deployment, ReplicaSet, Node, PodDisruptionBudget, Load, Grader
    name: str
    reason: str  # Kubernetes reasons where they exist: Scheduled, Started, Killing, Unhealthy, BackOff…
    message: str = ""
    type: str = "Normal"  # Normal | Warning
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


class Recorder:
    """Collects events and step series (value changes only)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.series: dict[str, list[tuple[float, float]]] = {}

    def event(
        self,
        time_s: float,
        kind: str,
        name: str,
        reason: str,
        message: str = "",
        type: str = "Normal",
        **data: Any,
    ) -> None:
        self.events.append(Event(time_s, kind, name, reason, message, type, data))

    def sample(self, name: str, time_s: float, value: float) -> None:
        points = self.series.setdefault(name, [])
        if points and points[-1][1] == value:
            return
        if points and points[-1][0] == time_s:
            points[-1] = (time_s, value)
        else:
            points.append((time_s, value))
