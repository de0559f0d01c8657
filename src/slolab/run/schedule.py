"""The arrival schedule of an open-loop run: when each request is sent and how long it is.

Poisson arrivals: exponential gaps of mean ``1 / rate_rps``; each request's prompt and output
lengths are drawn from the profile's distributions, clipped to their ``min``/``max``, rounded
(half to even) and at least 1. The run ends at the first gap that reaches ``duration_s``.

The simulator's traffic (``slolab.sim.traffic.OpenLoop``) and the real load generator both take
their schedule from here, so the same seed sends the same arrival offsets and lengths to a
simulated and a real server. Use ``traffic_seed`` for the seed string the ``sim`` backend gives
a profile's n-th run.

Draws are made in blocks with NumPy (a simulated hour at 60 req/s is 200,000 requests): one
``numpy.random.Generator`` per stream (gaps, prompt lengths, output lengths), seeded from the
caller's ``random.Random``, so a request's values do not depend on the block size.

Pure and seeded: no clock, no network, no gevent; the generator process and tests share it.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterator

import numpy

from slolab.catalog import scenario as scenario_mod
from slolab.catalog import schema

#: requests drawn at once
BLOCK = 1024


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


def blocks(
    profile: scenario_mod.TrafficProfile,
    rng: random.Random,
    duration_s: float | None = None,
    max_requests: int | None = None,
) -> Iterator[tuple[list[float], list[int], list[int]]]:
    """The schedule in blocks: (offsets from the start in seconds, prompt lengths, output lengths).

    ``duration_s`` defaults to the profile's own (the shorter of the two if both are given);
    with neither, and no ``max_requests``, the schedule never ends and the caller stops taking
    from it."""
    if duration_s is None:
        duration_s = profile.duration_s
    elif profile.duration_s is not None:
        duration_s = min(duration_s, profile.duration_s)
    seeds = numpy.random.SeedSequence(rng.getrandbits(128)).spawn(3)
    gaps_rng, prompt_rng, output_rng = (numpy.random.default_rng(s) for s in seeds)
    scale = 1.0 / profile.rate_rps
    offset_s = 0.0
    left = math.inf if max_requests is None else max_requests
    while left > 0:
        n = int(min(BLOCK, left))
        gaps = gaps_rng.exponential(scale, n)
        gaps[0] += offset_s
        offsets = numpy.cumsum(gaps)
        if duration_s is not None and offsets[-1] >= duration_s:
            n = int(numpy.searchsorted(offsets, duration_s, side="left"))
            left = 0
        else:
            left -= n
            offset_s = float(offsets[-1])
        prompts = _lengths(profile.prompt_tokens, prompt_rng, n)
        outputs = _lengths(profile.output_tokens, output_rng, n)
        if n:
            yield offsets[:n].tolist(), prompts, outputs


def arrivals(
    profile: scenario_mod.TrafficProfile,
    rng: random.Random,
    duration_s: float | None = None,
    max_requests: int | None = None,
) -> Iterator[Arrival]:
    """Poisson arrivals of ``profile``, one by one, in order (``blocks`` says how long)."""
    index = 0
    for offsets, prompts, outputs in blocks(profile, rng, duration_s, max_requests):
        for offset_s, prompt, output in zip(offsets, prompts, outputs, strict=True):
            yield Arrival(index=index, offset_s=offset_s, prompt_tokens=prompt, max_tokens=output)
            index += 1


def _lengths(dist: schema.Distribution, gen: numpy.random.Generator, n: int) -> list[int]:
    """``n`` token counts from ``dist``: clipped to [min, max], rounded half to even, at least 1."""
    if dist.distribution == "constant":
        x = numpy.full(n, float(dist.value))  # type: ignore[arg-type]
    elif dist.distribution == "normal":
        x = gen.normal(dist.mean, dist.stddev, n)
    elif dist.distribution == "lognormal":
        x = gen.lognormal(math.log(dist.median), dist.sigma, n)  # type: ignore[arg-type]
    else:
        x = gen.uniform(dist.low, dist.high, n)
    if dist.min is not None or dist.max is not None:
        x = numpy.clip(x, dist.min, dist.max)
    return numpy.maximum(numpy.rint(x), 1).astype(numpy.int64).tolist()
