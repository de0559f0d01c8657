"""The arrival schedule of an open-loop run: when each request is sent and how long it is.

Poisson arrivals: exponential gaps of mean ``1 / rate_rps``; each request's prompt and output
lengths are drawn from the profile's distributions, clipped to their ``min``/``max``, rounded
(half to even) and at least 1. The run ends at the first arrival at or after ``duration_s``.

A profile with a ``rate_curve`` is a non-homogeneous Poisson process of piecewise-linear rate
λ(t). It is drawn exactly by time rescaling: if E_1 < E_2 < ... are the arrival times of a
unit-rate Poisson process, Λ⁻¹(E_1) < Λ⁻¹(E_2) < ... are those of the process of rate λ,
where Λ(t) = ∫₀ᵗ λ is the cumulative intensity (Çinlar 1975, *Introduction to Stochastic
Processes*, ch. 4; the time-rescaling theorem of Brown, Barbieri, Ventura, Kass and Frank
2002, *Neural Computation* 14(2):325-346). On each linear piece Λ is quadratic, so Λ⁻¹ is a
closed-form root, computed for a whole block at once; unlike thinning (Lewis and Shedler
1979) no draw is rejected. When the curve ends at factor 0, Λ stops growing and so do the
arrivals. Without a curve the constant-rate draw is unchanged, bit for bit.

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
    warp = None if profile.rate_curve is None else RateCurve(profile)
    # without a curve, gaps in seconds; with one, gaps of the unit-rate process
    scale = 1.0 / profile.rate_rps if warp is None else 1.0
    end_s = math.inf if duration_s is None else duration_s
    level = 0.0  # the last arrival, in the unit-rate process's time with a curve
    left = math.inf if max_requests is None else max_requests
    while left > 0:
        n = int(min(BLOCK, left))
        gaps = gaps_rng.exponential(scale, n)
        gaps[0] += level
        levels = numpy.cumsum(gaps)
        offsets = levels if warp is None else warp.inverse(levels)
        if offsets[-1] >= end_s:
            n = int(numpy.searchsorted(offsets, end_s, side="left"))
            left = 0
        else:
            left -= n
            level = float(levels[-1])
        prompts = _lengths(profile.prompt_tokens, prompt_rng, n)
        outputs = _lengths(profile.output_tokens, output_rng, n)
        if n:
            yield offsets[:n].tolist(), prompts, outputs


class RateCurve:
    """The cumulative intensity Λ of a profile's piecewise-linear rate, and its inverse.

    Knots are the curve's points; Λ at each knot is the area under the rate before it. On the
    piece after knot i the rate is a + b·τ (τ seconds past the knot), so Λ grows by
    a·τ + b·τ²/2, and a rise of Δ is reached at τ = 2Δ / (a + √(a² + 2bΔ)), a form that stays
    exact when b = 0 and does not cancel when b < 0. After the last knot the rate is constant.
    """

    def __init__(self, profile: scenario_mod.TrafficProfile) -> None:
        curve = profile.rate_curve
        if curve is None:
            raise ValueError("RateCurve needs a profile with a rate_curve")
        self.at_s = numpy.array([p.at_s for p in curve], dtype=float)
        self.rate = profile.rate_rps * numpy.array([p.factor for p in curve], dtype=float)
        widths_s = numpy.diff(self.at_s)
        self.slope = numpy.append(numpy.diff(self.rate) / widths_s, 0.0)
        areas = widths_s * (self.rate[:-1] + self.rate[1:]) / 2
        self.level = numpy.concatenate(([0.0], numpy.cumsum(areas)))
        self.final_rate = float(self.rate[-1])
        self.width_s = numpy.append(widths_s, math.inf)

    def inverse(self, levels: numpy.ndarray) -> numpy.ndarray:
        """Λ⁻¹ of each value in ``levels`` (sorted, ≥ 0): the time in seconds at which the mean
        count reaches it; ``inf`` past the total when the rate ends at 0."""
        i = numpy.searchsorted(self.level, levels, side="right") - 1
        rise = levels - self.level[i]
        a, b = self.rate[i], self.slope[i]
        with numpy.errstate(divide="ignore", invalid="ignore"):
            tau = 2 * rise / (a + numpy.sqrt(numpy.maximum(a * a + 2 * b * rise, 0.0)))
        last = i == len(self.level) - 1
        if self.final_rate == 0:
            tau[last & (rise > 0)] = math.inf
        tau[rise == 0] = 0.0
        # rounding must not carry a time past the end of its piece (offsets stay sorted)
        return self.at_s[i] + numpy.minimum(tau, self.width_s[i])


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
