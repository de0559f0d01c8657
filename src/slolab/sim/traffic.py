"""Open-loop traffic in virtual time: Poisson arrivals, each request on its own.

The rate is the profile's ``rate_rps``, or ``rate_rps × factor(t)`` along its ``rate_curve``
(a non-homogeneous Poisson process), ``t`` counted from the start of the run.

Arrivals never wait for earlier responses (open loop), as vLLM's benchmark_serving and
inference-perf do, so overload shows up as queueing and errors rather than a lower rate. The
schedule (gaps and lengths) is ``slolab.run.schedule``'s, the one the real load generator
sends for the same seed.

Requests are delivered in bursts: every arrival that comes before the environment's next event
is sent at once, each at its own time (``send(req, at_s)``), because nothing in the cluster can
change before that event. Only when an event is due first does the generator wait for it, so a
burst costs one SimPy event however many requests it holds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from slolab.catalog import scenario as scenario_mod
from slolab.run import request as request_mod
from slolab.run import schedule


class OpenLoop:
    """One running traffic profile; ``send(req, at_s)`` delivers each request at its arrival time."""

    def __init__(
        self,
        env: Any,
        profile_name: str,
        profile: scenario_mod.TrafficProfile,
        rng: random.Random,
        send: Callable[[request_mod.Request, float], None],
        first_id: int = 0,
    ) -> None:
        self.env = env
        self.profile_name = profile_name
        self.profile = profile
        self.rng = rng
        self.send = send
        self.requests: list[request_mod.Request] = []
        self.started_s = env.now
        self.stopped_s: float | None = None
        self._first_id = first_id
        self._in_flight_from = 0  # requests before this index are done
        self._process = env.process(self._arrivals())

    def _arrivals(self):
        env, profile, send, requests = self.env, self.profile, self.send, self.requests
        start_s, timeout_s, name = self.started_s, profile.timeout_s, self.profile_name
        next_id = self._first_id
        Request = request_mod.Request
        for offsets, prompts, outputs in schedule.blocks(profile, self.rng):
            for offset_s, prompt, output in zip(offsets, prompts, outputs, strict=True):
                at_s = start_s + offset_s
                if env.peek() <= at_s:  # something happens first: let it
                    yield env.timeout(at_s - env.now)
                if self.stopped_s is not None:
                    return
                req = Request(
                    id=next_id,
                    arrival_s=at_s,
                    prompt_tokens=prompt,
                    max_tokens=output,
                    timeout_s=timeout_s,
                    profile=name,
                )
                next_id += 1
                requests.append(req)
                send(req, at_s)
        if profile.duration_s is not None:
            end_s = start_s + profile.duration_s
            if end_s > env.now:
                yield env.timeout(end_s - env.now)
            if self.stopped_s is None:
                self.stopped_s = end_s

    def stop(self) -> None:
        if self.stopped_s is None:
            self.stopped_s = self.env.now

    def finished(self) -> list[request_mod.Request]:
        """Requests sent and done so far, in arrival order (the engines serving them must be
        synced to now); the load goes on."""
        self.in_flight()  # moves the cursor past the requests done in order
        requests, i = self.requests, self._in_flight_from
        return requests[:i] + [r for r in requests[i:] if r.status is not None]

    def in_flight(self) -> int:
        """Requests sent and not done (the engines serving them must be synced to now)."""
        requests = self.requests
        i = self._in_flight_from
        while i < len(requests) and requests[i].status is not None:
            i += 1
        self._in_flight_from = i
        return sum(1 for r in requests[i:] if r.status is None)
