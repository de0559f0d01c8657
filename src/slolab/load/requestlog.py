"""The client-side request log, the same on every backend, and what graders ask of it."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator

from slolab.run import request as request_mod


@dataclasses.dataclass(frozen=True)
class Window:
    """A half-open span of run time ``[start_s, end_s)`` with a name for reports."""

    name: str
    start_s: float
    end_s: float

    def __str__(self) -> str:
        return f"{self.name} [{self.start_s:.0f} s, {self.end_s:.0f} s)"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation (numpy's default); None when empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class RequestLog:
    """Requests of one load run, in arrival order, with the rate that was asked for."""

    def __init__(
        self,
        requests: Iterable[request_mod.Request],
        *,
        profile: str = "",
        rate_rps: float | None = None,
        started_s: float = 0.0,
        stopped_s: float | None = None,
    ) -> None:
        self.requests = sorted(requests, key=lambda r: r.arrival_s)
        self.profile = profile
        self.rate_rps = rate_rps
        self.started_s = started_s
        self.stopped_s = (
            stopped_s
            if stopped_s is not None
            else (self.requests[-1].arrival_s if self.requests else started_s)
        )

    def __len__(self) -> int:
        return len(self.requests)

    def __iter__(self) -> Iterator[request_mod.Request]:
        return iter(self.requests)

    def window(self, window: Window) -> RequestLog:
        """Requests that arrived inside ``window``."""
        return RequestLog(
            (r for r in self.requests if window.start_s <= r.arrival_s < window.end_s),
            profile=self.profile,
            rate_rps=self.rate_rps,
            started_s=window.start_s,
            stopped_s=window.end_s,
        )

    def completed(self) -> list[request_mod.Request]:
        return [r for r in self.requests if r.done]

    def ok(self) -> list[request_mod.Request]:
        return [r for r in self.requests if r.ok]

    def failed(self) -> list[request_mod.Request]:
        return [r for r in self.requests if r.done and not r.ok]

    def ttfts_s(self) -> list[float]:
        return [r.ttft_s for r in self.requests if r.ok and r.ttft_s is not None]

    def ttft_quantile_s(self, q: float) -> float | None:
        return quantile(self.ttfts_s(), q)

    def achieved_rate_rps(self) -> float:
        span = self.stopped_s - self.started_s
        return len(self.requests) / span if span > 0 else 0.0

    def errors_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.failed():
            key = r.error or f"HTTP {r.status}"
            out[key] = out.get(key, 0) + 1
        return out
