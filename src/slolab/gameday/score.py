"""A game day's score: the share of the SLO error budget burned, time to recover, the hypothesis.

Following research/round2-autoscaling-canary-gameday.md §3:

- **Budget burned** (Harness's SLO probe: "the percentage change in the error budget during the
  chaos execution"): the run's error budget is (1 − availability SLO) × the requests the plan's
  profile is expected to send over the whole run (``plan.Plan.budget_failures``; the requests
  sent when no plan sizes it); the share burned is failed requests / that budget. The stop
  condition (``slolab.gameday.stop``) burns the same budget, so a run it stopped at 100 % scores
  at least 100 % burned. The score is the budget left, in Harness's SLO
  dashboard bands: Healthy > 75 %, Observe 50–75 %, Need Attention 25–50 %, Unhealthy 0–25 %,
  Exhausted 0 % (or less: more failures than the budget allows).
- **Time to recover** after each injection (the FIS/Steadybit run log's "inject → verify"): the
  run is cut into windows of :data:`WINDOW_S`; a window's requests are those that arrived in it,
  its failures those the client saw fail in it (a stream cut by an injection counts when it is
  cut, not when it started), and it is within SLO when failures / requests is at most the error
  budget and the p99 TTFT of its requests that got a first token is at most the bound. An
  injection's recovery is the end of the last window out of SLO between the injection and the
  next one (or the end), minus the injection time: 0 when no window left the SLO, ``None`` ("not
  recovered") when the last window before the next injection is still out of it.
- **Hypothesis** (Chaos Toolkit's steady-state hypothesis, AWS FIS's template): it held when the
  run's availability met the SLO, the run's p99 TTFT met the bound, every injection recovered,
  and no stop condition halted the chaos (an experiment stopped by its stop condition has
  failed, as an AWS FIS experiment that a stop condition stops ends ``stopped``).

Pure: the same request log and injections give the same score (a seed gives the same run).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from slolab.gameday import plan as plan_mod
from slolab.load import requestlog

#: Width of the windows the error rate and p99 TTFT are judged in, seconds.
WINDOW_S = 30.0

#: Harness SLO dashboard bands of the error budget left: (lowest remaining %, band), best first.
BANDS: tuple[tuple[float, str], ...] = (
    (75.0, "Healthy"),
    (50.0, "Observe"),
    (25.0, "Need Attention"),
    (0.0, "Unhealthy"),
)
EXHAUSTED = "Exhausted"


def burned_pct(failed: float, allowed: float) -> float:
    """% of an error budget of ``allowed`` failures that ``failed`` failures burned (100 for any
    failure when nothing may fail)."""
    return 100.0 * failed / allowed if allowed > 0 else (100.0 if failed else 0.0)


def band(remaining_pct: float) -> str:
    """Harness's band for ``remaining_pct`` of the error budget left (> 75 Healthy … ≤ 0 Exhausted)."""
    if remaining_pct <= 0.0:
        return EXHAUSTED
    for lowest, name in BANDS:
        if remaining_pct > lowest:
            return name
    return EXHAUSTED


@dataclasses.dataclass(frozen=True)
class Sample:
    """What the score needs of one request: arrival and, for a failure, when the client saw it
    fail (seconds after the load started), success, TTFT."""

    arrival_s: float
    ok: bool
    ttft_s: float | None
    failed_s: float | None = None

    @property
    def outcome_s(self) -> float:
        """When the request's outcome counts: its failure, else its arrival."""
        return self.arrival_s if self.ok or self.failed_s is None else self.failed_s


@dataclasses.dataclass(frozen=True)
class Window:
    start_s: float
    requests: int
    failed: int
    ttft_p99_s: float | None
    within_slo: bool

    @property
    def error_rate(self) -> float:
        """Failures seen in the window over requests that arrived in it (capped at 1)."""
        return min(1.0, self.failed / self.requests) if self.requests else float(self.failed > 0)


@dataclasses.dataclass(frozen=True)
class Injection:
    """One injection of the schedule as it ran: when, what, what the runner saw it do."""

    at_s: float
    action: str
    detail: str


@dataclasses.dataclass(frozen=True)
class Recovery:
    injection: Injection
    #: seconds from the injection until back within SLO; None: not recovered before the next one
    recovered_s: float | None
    peak_error_rate: float
    peak_ttft_p99_s: float | None

    @property
    def slo_held(self) -> bool:
        return self.recovered_s == 0.0


@dataclasses.dataclass(frozen=True)
class Score:
    requests: int
    failed: int
    availability_pct: float
    ttft_p99_s: float | None
    budget_burned_pct: float
    windows: tuple[Window, ...]
    recoveries: tuple[Recovery, ...]
    slo: plan_mod.Slo
    #: the failures the error budget allows (``plan.Plan.budget_failures``)
    budget_failures: float
    #: when a stop condition halted the chaos (seconds after T0), and why; None: it ran to the end
    stopped_at_s: float | None = None
    stop_reason: str | None = None

    @property
    def budget_remaining_pct(self) -> float:
        """The error budget left, 0 when exhausted (``budget_burned_pct`` says by how much)."""
        return max(0.0, 100.0 - self.budget_burned_pct)

    @property
    def band(self) -> str:
        return band(self.budget_remaining_pct)

    @property
    def availability_met(self) -> bool:
        return self.requests > 0 and self.availability_pct >= self.slo.availability_pct

    @property
    def ttft_met(self) -> bool:
        return self.ttft_p99_s is not None and self.ttft_p99_s <= self.slo.ttft_p99_s

    @property
    def hypothesis_held(self) -> bool:
        return (
            self.availability_met
            and self.ttft_met
            and all(r.recovered_s is not None for r in self.recoveries)
            and self.stopped_at_s is None
        )

    def budget_left_at(self) -> list[tuple[float, float]]:
        """(end of window, % of the run's error budget left) after each window: the burn-down."""
        out, failed = [(0.0, 100.0)], 0
        for w in self.windows:
            failed += w.failed
            left = max(0.0, 100.0 - burned_pct(failed, self.budget_failures))
            out.append((w.start_s + WINDOW_S, left))
        return out


def samples(log: requestlog.RequestLog, start_s: float) -> list[Sample]:
    """The log's requests as :class:`Sample` s, times relative to ``start_s`` (the load's start)."""
    return [
        Sample(
            r.arrival_s - start_s,
            r.ok,
            r.ttft_s if r.ok else None,
            None if r.ok or r.finish_s is None else r.finish_s - start_s,
        )
        for r in log
    ]


def windows(
    requests: Sequence[Sample], duration_s: float, slo: plan_mod.Slo, width_s: float = WINDOW_S
) -> tuple[Window, ...]:
    count = max(1, math.ceil(duration_s / width_s))

    def bucket(t_s: float) -> int | None:
        return min(int(t_s // width_s), count - 1) if 0 <= t_s < duration_s else None

    arrived = [0] * count
    failed = [0] * count
    ttfts: list[list[float]] = [[] for _ in range(count)]
    for r in requests:
        k = bucket(r.arrival_s)
        if k is None:
            continue
        arrived[k] += 1
        if r.ttft_s is not None:
            ttfts[k].append(r.ttft_s)
        if not r.ok:
            seen = bucket(r.outcome_s)
            failed[k if seen is None else seen] += 1
    out = []
    for k in range(count):
        p99 = requestlog.quantile(ttfts[k], 0.99)
        rate_ok = failed[k] <= slo.error_budget * arrived[k]
        ttft_ok = p99 is None or p99 <= slo.ttft_p99_s
        served = p99 is not None or arrived[k] == failed[k] == 0
        out.append(Window(k * width_s, arrived[k], failed[k], p99, rate_ok and ttft_ok and served))
    return tuple(out)


def recoveries(
    injections: Sequence[Injection], wins: Sequence[Window], duration_s: float
) -> tuple[Recovery, ...]:
    """Time to recover after each injection (see the module docstring)."""
    ordered = sorted(injections, key=lambda i: i.at_s)
    out = []
    for n, inj in enumerate(ordered):
        until = ordered[n + 1].at_s if n + 1 < len(ordered) else duration_s
        span = [w for w in wins if w.start_s + WINDOW_S > inj.at_s and w.start_s < until]
        bad = [w for w in span if not w.within_slo]
        if not bad:
            recovered: float | None = 0.0
        elif span and bad[-1] is span[-1]:
            recovered = None
        else:
            recovered = max(0.0, bad[-1].start_s + WINDOW_S - inj.at_s)
        ttfts = [w.ttft_p99_s for w in span if w.ttft_p99_s is not None]
        out.append(
            Recovery(
                injection=inj,
                recovered_s=recovered,
                peak_error_rate=max((w.error_rate for w in span), default=0.0),
                peak_ttft_p99_s=max(ttfts) if ttfts else None,
            )
        )
    return tuple(out)


def judged(request: Sample, duration_s: float) -> bool:
    """Whether a request counts: it arrived in ``[0, duration_s)`` after T0."""
    return 0 <= request.arrival_s < duration_s


def score(
    requests: Sequence[Sample],
    injections: Sequence[Injection],
    duration_s: float,
    slo: plan_mod.Slo,
    *,
    budget_failures: float | None = None,
    stopped_at_s: float | None = None,
    stop_reason: str | None = None,
) -> Score:
    """Score a game day from its requests (arrivals in ``[0, duration_s)``) and injections.

    ``budget_failures``: the error budget in failed requests (the plan's,
    ``plan.Plan.budget_failures``); default the error budget of the requests judged.
    ``stopped_at_s``/``stop_reason``: a stop condition halted the chaos then (the hypothesis
    does not hold)."""
    judged_ = [r for r in requests if judged(r, duration_s)]
    failed = sum(1 for r in judged_ if not r.ok)
    allowed = slo.error_budget * len(judged_) if budget_failures is None else budget_failures
    burned = burned_pct(failed, allowed)
    wins = windows(judged_, duration_s, slo)
    return Score(
        requests=len(judged_),
        failed=failed,
        availability_pct=100.0 * (len(judged_) - failed) / len(judged_) if judged_ else 0.0,
        ttft_p99_s=requestlog.quantile([r.ttft_s for r in judged_ if r.ttft_s is not None], 0.99),
        budget_burned_pct=burned,
        windows=wins,
        recoveries=recoveries(injections, wins, duration_s),
        slo=slo,
        budget_failures=allowed,
        stopped_at_s=stopped_at_s,
        stop_reason=stop_reason,
    )
