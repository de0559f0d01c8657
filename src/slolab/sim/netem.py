"""netem's delay on a pod's traffic: the latency a Chaos Mesh NetworkChaos delay adds.

Upstream: Linux net/sched/sch_netem.c (``tabledist`` with no distribution table: a delay drawn
uniformly from [latency - jitter, latency + jitter); ``get_crandom``: each draw mixes the new
random number with the last one, weighted by the correlation) and tc-netem(8) ("delay TIME
[JITTER [CORRELATION]]"). Chaos Mesh v2.8.3 passes spec.delay.latency, jitter and correlation
(a percentage) to netem on the selected pods' interface (controllers/chaosimpl/networkchaos,
pkg/chaosdaemon/tc_server.go).
Where the delay lands in the simulator: a request routed to a delayed pod (sim/service.py,
``Endpoints.send``) reaches its model server that much later, so its time to first token and
its end-to-end latency grow by the delay plus whatever queueing it then meets. netem delays the
pod's egress (the server's answer), and a client sees the same added time to its first token;
the per-token gaps of a stream, which netem delays alike, are not shifted.
Not modelled: reorder, loss, duplicate, corrupt, rate, and the delay of traffic the pod sends
to other pods (the model server sends none).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any


@dataclasses.dataclass
class Delay:
    """netem delay LATENCY JITTER CORRELATION% on one pod."""

    env: Any  # simpy.Environment
    latency_s: float
    jitter_s: float
    correlation: float  # 0..1
    rng: random.Random
    last: float | None = None

    def draw_s(self) -> float:
        """tabledist(latency, jitter) with get_crandom's correlation, never below zero."""
        if self.jitter_s <= 0:
            return self.latency_s
        value = self.rng.random()
        if self.correlation > 0 and self.last is not None:
            value = value * (1 - self.correlation) + self.last * self.correlation
        self.last = value
        return max(0.0, self.latency_s - self.jitter_s + 2 * self.jitter_s * value)

    def send(self, at_s: float, deliver: Callable[[float], None]) -> None:
        """Call ``deliver(time)`` when what was sent at ``at_s`` comes out of the queue."""
        env = self.env
        event = env.timeout(max(0.0, at_s + self.draw_s() - env.now))
        event.callbacks.append(lambda _event: deliver(env.now))
