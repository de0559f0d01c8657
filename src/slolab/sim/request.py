"""A client request as the simulator tracks it, from arrival to its last token or its error.

Token times are not stored per request: an engine keeps one list of step end times, and a
request keeps the index ranges of the steps in which it received a token (one range, or more
after a recompute preemption). Inter-token gaps are derived from those on demand.
"""

from __future__ import annotations

import dataclasses
import itertools

#: HTTP status for "no HTTP response": connection refused, reset, or stream cut.
NO_RESPONSE = 0


@dataclasses.dataclass(slots=True, eq=False)
class Request:
    """One request. Times are absolute virtual seconds; lengths are tokens."""

    id: int
    arrival_s: float
    prompt_tokens: int
    max_tokens: int
    timeout_s: float = 180.0
    profile: str = ""
    status: int | None = None  # None while in flight; HTTP status, or NO_RESPONSE
    error: str | None = None
    pod: str | None = None
    first_token_s: float | None = None
    finish_s: float | None = None
    output_tokens: int = 0
    # token emission record: engine step-end list + [start, end) step ranges with one token each
    step_ends: list[float] | None = None
    segments: list[list[int]] = dataclasses.field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status is not None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_token_s is None else self.first_token_s - self.arrival_s

    @property
    def e2e_s(self) -> float | None:
        return None if self.finish_s is None else self.finish_s - self.arrival_s

    def token_times_s(self) -> list[float]:
        """Absolute time of every token received, first token included."""
        if self.step_ends is None:
            return [] if self.first_token_s is None else [self.first_token_s]
        out: list[float] = []
        for start, end in self.segments:
            out.extend(self.step_ends[start:end])
        return out

    def inter_token_gaps_s(self) -> list[float]:
        """Gaps between successive tokens (TPOT/ITL samples), excluding TTFT."""
        times = self.token_times_s()
        return [b - a for a, b in itertools.pairwise(times)]

    def fail(self, now_s: float, error: str, status: int = NO_RESPONSE) -> None:
        """End the request with an error seen by the client at ``now_s``."""
        if self.status is None:
            self.status = status
            self.error = error
            self.finish_s = now_s
