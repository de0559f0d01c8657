"""The phases of a traffic profile's rate curve, as windows of run time a grader judges over.

A scenario's profile may change its rate over time (``TrafficProfile.rate_curve``: points
``{at_s, factor}``, linear between points, held after the last). An autoscaling lab judges
each part of that story on its own: latency while the rate rises and holds at its peak,
cost and settling after it falls. ``phases`` cuts the curve at its points into segments and
names each by what the rate does there:

    base      flat, before the rate first rises
    ramp      rising
    plateau   flat at the profile's peak
    drop      falling
    after     flat, after the rate last fell
    hold      any other flat segment (between a rise and a fall below the peak)

and merges neighbours of the same name. Times are seconds after the load started; ``at``
shifts them to run seconds once the grader knows when that was. A profile without a curve is
one ``base`` phase. The last phase is open-ended (the rate is held after the last point) and
ends where the grader stops the load: ``at(started_s, stopped_s)`` closes it.

``expected_requests`` is the integral of the rate over a window of run seconds: a grader's
proof that the load ran (``verdict.require_load(..., expected=...)``) on a curve, where a
single base rate says nothing about a window on the ramp.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from slolab.load import requestlog

BASE = "base"
RAMP = "ramp"
PLATEAU = "plateau"
DROP = "drop"
AFTER = "after"
HOLD = "hold"


@dataclasses.dataclass(frozen=True)
class Phase:
    """One named segment of the curve, in seconds after the load started (``end_s`` inf: open)."""

    name: str
    start_s: float
    end_s: float


def _points(profile: Any) -> list[tuple[float, float]]:
    curve = getattr(profile, "rate_curve", None)
    if not curve:
        return [(0.0, 1.0)]
    return [(float(p.at_s), float(p.factor)) for p in curve]


def phases(profile: Any) -> list[Phase]:
    """The named phases of ``profile``'s rate curve (see the module docstring)."""
    points = _points(profile)
    peak = max(f for _, f in points)
    rises = [i for i in range(1, len(points)) if points[i][1] > points[i - 1][1]]
    falls = [i for i in range(1, len(points)) if points[i][1] < points[i - 1][1]]
    first_rise = rises[0] if rises else len(points)
    last_fall = falls[-1] if falls else -1
    segments: list[Phase] = []
    for i in range(1, len(points)):
        (a_s, a), (b_s, b) = points[i - 1], points[i]
        if b > a:
            name = RAMP
        elif b < a:
            name = DROP
        elif i < first_rise:
            name = BASE
        elif i > last_fall:
            name = AFTER
        elif a == peak:
            name = PLATEAU
        else:
            name = HOLD
        segments.append(Phase(name, a_s, b_s))
    tail = AFTER if falls else (PLATEAU if rises else BASE)
    segments.append(Phase(tail, points[-1][0], math.inf))
    merged: list[Phase] = []
    for seg in segments:
        if merged and merged[-1].name == seg.name:
            merged[-1] = Phase(seg.name, merged[-1].start_s, seg.end_s)
        else:
            merged.append(seg)
    return merged


def find(found: list[Phase], name: str) -> Phase:
    """The first phase called ``name``; a ValueError listing the curve's phases otherwise."""
    for p in found:
        if p.name == name:
            return p
    have = ", ".join(f"{p.name} [{p.start_s:g} s, {p.end_s:g} s)" for p in found)
    raise ValueError(f"the rate curve has no {name} phase; its phases are {have}")


def at(phase: Phase, started_s: float, stopped_s: float, name: str | None = None) -> requestlog.Window:
    """``phase`` as a window of run seconds, for a load started at ``started_s`` and stopped at
    ``stopped_s`` (the open end, and any part past the stop, is cut there)."""
    start = min(started_s + phase.start_s, stopped_s)
    end = min(started_s + phase.end_s, stopped_s)
    return requestlog.Window(name or phase.name, start, end)


def span(found: list[Phase], first: str, last: str) -> Phase:
    """From the start of phase ``first`` to the end of phase ``last``, as one phase."""
    a, b = find(found, first), find(found, last)
    if b.end_s <= a.start_s:
        raise ValueError(f"phase {last} ends before phase {first} starts")
    return Phase(f"{first} and {last}", a.start_s, b.end_s)


def expected_requests(profile: Any, window: requestlog.Window, started_s: float) -> float:
    """Mean arrivals of ``profile`` in ``window`` (run seconds) for a load started at ``started_s``
    (``TrafficProfile.expected_requests``, the integral of its rate)."""
    return float(profile.expected_requests(window.start_s - started_s, window.end_s - started_s))
