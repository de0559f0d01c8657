"""The arrival schedule of an open-loop run: when each request is sent and how long it is.

The draws follow ``slolab.sim.traffic.OpenLoop`` exactly: for each request one
``rng.expovariate(rate_rps)`` gap, then one prompt-length draw, then one output-length draw,
each length rounded and at least 1; the run ends at the first gap that reaches
``duration_s``. So the same ``random.Random`` seed gives the real load generator the same
arrival offsets and lengths as the simulator (up to float rounding of the sum of gaps: the
simulator adds each gap to its clock, this module to the offset from the start). Use
``traffic_seed`` for the seed string the ``sim`` backend gives a profile's n-th run.

Pure and seeded: no clock, no network, no gevent; the generator process and tests share it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator

from slolab.catalog import scenario as scenario_mod


@dataclasses.dataclass(frozen=True, slots=True)
class Arrival:
    """One planned request: its index, its offset from the run start, and its lengths in tokens."""

    index: int
    offset_s: float
    prompt_tokens: int
    max_tokens: int


def traffic_seed(seed: int | str, profile: str, count: int) -> str:
    """The seed string of the ``count``-th run of ``profile`` (the one backends/sim.py builds)."""
    return f"{seed}:traffic:{profile}:{count}"


def arrivals(
    profile: scenario_mod.TrafficProfile,
    rng: random.Random,
    duration_s: float | None = None,
    max_requests: int | None = None,
) -> Iterator[Arrival]:
    """Poisson arrivals of ``profile``, in order, until ``duration_s`` or ``max_requests``.

    ``duration_s`` defaults to the profile's own; with neither (and no ``max_requests``) the
    schedule never ends and the caller stops taking from it.
    """
    if duration_s is None:
        duration_s = profile.duration_s
    elif profile.duration_s is not None:
        duration_s = min(duration_s, profile.duration_s)
    rate = profile.rate_rps
    prompt, output = profile.prompt_tokens, profile.output_tokens
    offset_s = 0.0
    index = 0
    while max_requests is None or index < max_requests:
        gap = rng.expovariate(rate)
        if duration_s is not None and offset_s + gap >= duration_s:
            return
        offset_s += gap
        yield Arrival(
            index=index,
            offset_s=offset_s,
            prompt_tokens=max(1, round(prompt.draw(rng))),
            max_tokens=max(1, round(output.draw(rng))),
        )
        index += 1
