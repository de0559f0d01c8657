"""One client request as the client saw it: arrival, outcome, first token, finish and every token time.

The record every backend's request log holds and every grader and report reads: the simulator's
traffic (``slolab.sim.traffic``) and the real load generator (``slolab.load.generate``, through
its request file ``slolab.load.record``) both produce it, the real-time server
(``slolab.serve.realtime``) streams from it. Times are absolute seconds on the run's clock
(virtual seconds on ``sim``); lengths are tokens.

Token times are kept plainly, one absolute time per token received (``token_times_s``). A
producer that holds them more compactly, as the simulator's engine does (one list of step end
times per engine, and per request the ranges of steps that gave it a token), hands the record a
:class:`TokenTimes` source and the request's key in it instead: the plain list is built from
them on first read, and kept once the request is done, so a run whose token times nobody reads
never builds them, and a request costs the producer no extra object. A producer must not change
a request's token times after it set ``status``.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

#: HTTP status for "no HTTP response": connection refused, reset, or stream cut.
NO_RESPONSE = 0


class TokenTimes(Protocol):
    """A producer's own form of its requests' token times."""

    def expand(self, key: Any) -> list[float]:
        """The absolute time of every token the request of ``key`` received so far, in order."""
        ...


class Request:
    """One request, from its arrival to its last token or its error."""

    __slots__ = (
        "_token_key",
        "_token_source",
        "_token_times_s",
        "arrival_s",
        "error",
        "finish_s",
        "first_token_s",
        "id",
        "max_tokens",
        "output_tokens",
        "pod",
        "profile",
        "prompt_tokens",
        "scheduled_s",
        "status",
        "timeout_s",
    )

    def __init__(
        self,
        id: int,
        arrival_s: float,
        prompt_tokens: int,
        max_tokens: int,
        timeout_s: float = 180.0,
        profile: str = "",
        *,
        scheduled_s: float | None = None,
        status: int | None = None,
        error: str | None = None,
        pod: str | None = None,
        first_token_s: float | None = None,
        finish_s: float | None = None,
        output_tokens: int = 0,
        token_times_s: list[float] | None = None,
    ) -> None:
        self.id = id
        self.arrival_s = arrival_s
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.profile = profile
        #: the planned arrival (the schedule's offset); None where the client has no lag of its own
        self.scheduled_s = scheduled_s
        #: None while in flight; the HTTP status, or NO_RESPONSE
        self.status = status
        self.error = error
        #: the pod that served it, where the backend knows (the simulator does)
        self.pod = pod
        self.first_token_s = first_token_s
        self.finish_s = finish_s
        self.output_tokens = output_tokens
        self._token_times_s = token_times_s  # None: none yet (the list is made when first read)
        self._token_source: TokenTimes | None = None
        self._token_key: Any = None

    def __repr__(self) -> str:
        return (
            f"Request(id={self.id}, arrival_s={self.arrival_s!r}, status={self.status!r}, "
            f"error={self.error!r}, first_token_s={self.first_token_s!r}, finish_s={self.finish_s!r}, "
            f"output_tokens={self.output_tokens})"
        )

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

    @property
    def token_times_s(self) -> list[float]:
        """Absolute time of every token received, first token included."""
        source = self._token_source
        if source is not None:
            times = source.expand(self._token_key)
            if self.status is None:  # still in flight: more may come
                return times
            self._token_source = self._token_key = None  # done: final, keep the plain list
        else:
            times = self._token_times_s
            if times is not None:
                return times
            times = []
        self._token_times_s = times
        return times

    @token_times_s.setter
    def token_times_s(self, times: list[float]) -> None:
        self._token_times_s, self._token_source, self._token_key = times, None, None

    def defer_token_times(self, source: TokenTimes, key: Any) -> None:
        """Token times come from ``source`` under ``key``, expanded when first read (see the
        module docstring)."""
        self._token_source, self._token_key = source, key

    def inter_token_gaps_s(self) -> list[float]:
        """Gaps between successive tokens (TPOT/ITL samples), excluding TTFT."""
        return [b - a for a, b in itertools.pairwise(self.token_times_s)]

    def fail(self, now_s: float, error: str, status: int = NO_RESPONSE) -> None:
        """End the request with an error seen by the client at ``now_s``; tokens so far are kept
        (and counted in ``output_tokens``; a deferred source's producer counts its own)."""
        if self.status is None:
            self.status = status
            self.error = error
            self.finish_s = now_s
            if self._token_source is None and self._token_times_s:
                self.output_tokens = max(self.output_tokens, len(self._token_times_s))
