"""Per-pod lifecycle times read from a run's timeline: created, started, loaded, Ready, gone.

Graders use it to ask when a pod could really serve: Ready *and* its server answering. The
timeline reasons it reads (constants of ``slolab.run.timeline``; every backend emits them):
ReplicaSet ``SuccessfulCreate`` (with ``pod``), Pod ``Started`` (a container (re)start),
``ModelLoaded`` (with ``load_s``: the server answers /health), ``Ready`` / ``NotReady``,
``Killing``, ``Deleted``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from slolab.run import timeline


@dataclasses.dataclass
class PodTimes:
    name: str
    created_s: float | None = None
    starts: int = 0
    load_s: list[float] = dataclasses.field(default_factory=list)
    serving_ready_s: float | None = None  # first instant Ready while its model was loaded
    ready_before_loaded_s: float | None = None  # first instant Ready while still loading
    kills: list[str] = dataclasses.field(default_factory=list)
    gone_s: float | None = None

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)


def collect(events: Iterable[Any]) -> dict[str, PodTimes]:
    """PodTimes for every pod that appears in ``events`` (in time order)."""
    pods: dict[str, PodTimes] = {}
    loaded: dict[str, bool] = {}
    ready: dict[str, bool] = {}

    def get(name: str) -> PodTimes:
        return pods.setdefault(name, PodTimes(name))

    for e in events:
        if e.kind == "ReplicaSet" and e.reason == timeline.SUCCESSFUL_CREATE:
            get(e.data["pod"]).created_s = e.time_s
            continue
        if e.kind != "Pod":
            continue
        p = get(e.name)
        if e.reason == timeline.STARTED:
            p.starts += 1
            loaded[e.name] = False
        elif e.reason == timeline.MODEL_LOADED:
            loaded[e.name] = True
            p.load_s.append(float(e.data.get("load_s", 0.0)))
        elif e.reason == timeline.READY:
            ready[e.name] = True
            if not loaded.get(e.name) and p.ready_before_loaded_s is None:
                p.ready_before_loaded_s = e.time_s
        elif e.reason == timeline.NOT_READY:
            ready[e.name] = False
        elif e.reason == timeline.KILLING:
            p.kills.append(e.message)
        elif e.reason == timeline.DELETED:
            p.gone_s = e.time_s
        if p.serving_ready_s is None and ready.get(e.name) and loaded.get(e.name):
            p.serving_ready_s = e.time_s
    return pods
