"""Pods per node over time, the way ``kubectl get pods -o wide`` would show them if you watched:
the timeline's "pods per node" panel.

From the grade's events (every backend records them, kubectl's wording): a pod counts on a node
from its ``Scheduled`` event ("Successfully assigned <namespace>/<pod> to <node>", kube-scheduler
v1.35 schedule_one.go) until it is gone (``Deleted``); a pod created by its controller
(``SuccessfulCreate`` "Created pod: <pod>") and not yet scheduled counts as Pending. Each node
is a step line; Pending is a dashed red one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from slolab.run import timeline as run_timeline

_ASSIGNED = re.compile(r"^Successfully assigned (?:[^/\s]+/)?(\S+) to (\S+)$")
_CREATED = re.compile(r"^Created pod: (\S+)$")
PENDING = "Pending"


def series(events: Iterable[dict[str, Any]]) -> dict[str, list[tuple[float, int]]]:
    """node (and ``PENDING``) -> (time, pods) steps, in time order, from grade-document events."""
    where: dict[str, str] = {}  # pod -> node, or PENDING
    counts: dict[str, int] = {}
    out: dict[str, list[tuple[float, int]]] = {}

    def move(t_s: float, pod: str, to: str | None) -> None:
        before = where.pop(pod, None)
        for key, delta in ((before, -1), (to, 1)):
            if key is None:
                continue
            counts[key] = counts.get(key, 0) + delta
            steps = out.setdefault(key, [])
            if steps and steps[-1][0] == t_s:
                steps[-1] = (t_s, counts[key])
            else:
                steps.append((t_s, counts[key]))
        if to is not None:
            where[pod] = to

    for e in sorted(events, key=lambda e: e["time_s"]):
        reason, message = e.get("reason"), e.get("message") or ""
        if reason == run_timeline.SCHEDULED and (m := _ASSIGNED.match(message)):
            move(e["time_s"], m.group(1), m.group(2))
        elif reason == run_timeline.SUCCESSFUL_CREATE and (m := _CREATED.match(message)):
            if m.group(1) not in where:
                move(e["time_s"], m.group(1), PENDING)
        elif reason == run_timeline.DELETED and e.get("kind") == "Pod" and e.get("name") in where:
            move(e["time_s"], e["name"], None)
    return out


def draw(ax: Any, steps: dict[str, list[tuple[float, int]]], end_s: float) -> None:
    """The panel: one step line per node, Pending dashed red; a note when no pod was placed."""
    ax.set_ylabel("pods per node")
    if not steps:
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.text(
            0.5, 0.5, "no scheduling events", transform=ax.transAxes, ha="center", va="center", color="0.4"
        )
        return
    for name in sorted(steps, key=lambda n: (n == PENDING, n)):
        ts, vs = zip(*steps[name], strict=True)
        style = {"color": "tab:red", "linestyle": "--"} if name == PENDING else {}
        ax.step([*ts, end_s], [*vs, vs[-1]], where="post", label=name, **style)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper right", fontsize="small", ncols=min(4, len(steps)))
