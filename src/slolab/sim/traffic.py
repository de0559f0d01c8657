"""Open-loop traffic in virtual time: Poisson arrivals, each request on its own.

Arrivals never wait for earlier responses (open loop), as vLLM's benchmark_serving and
inference-perf do, so overload shows up as queueing and errors rather than a lower rate.
Prompt and output lengths are drawn from the profile's distributions.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from slolab.catalog import scenario as scenario_mod
from slolab.sim import request as request_mod


class OpenLoop:
    """One running traffic profile; ``send`` delivers each request at its arrival time."""

    def __init__(
        self,
        env: Any,
        profile_name: str,
        profile: scenario_mod.TrafficProfile,
        rng: random.Random,
        send: Callable[[request_mod.Request], None],
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
        self._next_id = first_id
        self._process = env.process(self._arrivals())

    def _arrivals(self):
        env, rng, profile = self.env, self.rng, self.profile
        end_s = None if profile.duration_s is None else self.started_s + profile.duration_s
        rate = profile.rate_rps
        prompt, output = profile.prompt_tokens, profile.output_tokens
        while self.stopped_s is None:
            gap = rng.expovariate(rate)
            if end_s is not None and env.now + gap >= end_s:
                yield env.timeout(end_s - env.now)
                self.stopped_s = end_s
                return
            yield env.timeout(gap)
            if self.stopped_s is not None:
                return
            req = request_mod.Request(
                id=self._next_id,
                arrival_s=env.now,
                prompt_tokens=max(1, round(prompt.draw(rng))),
                max_tokens=max(1, round(output.draw(rng))),
                timeout_s=profile.timeout_s,
                profile=self.profile_name,
            )
            self._next_id += 1
            self.requests.append(req)
            self.send(req)

    def stop(self) -> None:
        if self.stopped_s is None:
            self.stopped_s = self.env.now

    def in_flight(self) -> int:
        return sum(1 for r in self.requests if r.status is None)
