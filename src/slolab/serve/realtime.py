"""The serving model in real time: one simulated vLLM V1 engine whose steps end on the wall clock.

The engine is ``slolab.sim.engine.Engine``, the same iteration-level model the simulator runs
(vllm v0.33.0 vllm/v1/core/sched/scheduler.py semantics, step time of research/serving-model.md
§2.4), unchanged: for the same arrivals and seed it computes the same token times here as in a
simulation.

Design. The engine is a discrete-event model over a SimPy ``Environment`` in virtual seconds.
Here virtual time is the asyncio loop's monotonic clock (``loop.time()``) minus the moment the
model finished loading, and the asyncio loop advances the environment, never past the wall clock:

* a loop timer (``loop.call_at``) is armed at the environment's next event (``env.peek()``);
  when it fires, every event due by now is processed one at a time (``env.step()``), and after
  each event that ended an engine step, the requests that got a token in that step are counted
  (``Engine.tokens_sent``) and a stream's token is written to its socket right there, by the
  flow's ``sink`` (no task switch per token: that is what lets one core serve a few hundred
  streams at once); a request's handler task only wakes when it ends;
* an HTTP request arriving at wall time t first brings the environment to t (due events, then
  ``env.run(until=t)``) and is submitted at virtual time t, so its queueing, TTFT and token times
  are exactly what the engine computes for an arrival at t;
* ``max_steps_per_event = 1`` makes every engine step end in its own event, so tokens leave at
  step ends, one step at a time, not in batches of steps.

Why not ``simpy.rt.RealtimeEnvironment``: its ``step()`` sleeps, which would block the event loop
that serves HTTP, and requests could only be submitted between its events from another thread
(with a lock around the engine). Driving a plain ``Environment`` from the loop keeps the engine,
the HTTP handlers and the metrics in one thread with no locks.

Long runs: the engine keeps every step's end time (requests index into that list), so when it
is idle after ``ROTATE_AFTER_STEPS`` steps it is replaced by a fresh engine (virtual time 0 at
that moment, the next seed of the sequence); the counters in /metrics carry over.

Timing fidelity: a token is written when the loop gets to the step's event. The loop's timers
have 1 ms granularity (epoll rounds timeouts up to whole milliseconds), so the timer is set
1 ms early and the rest is slept (``time.sleep``, under a millisecond; a busy loop reaches the
timer late and sleeps nothing). Then the step's tokens are written one stream after another,
one ``send`` each, so with many streams the last of a step goes out later than the first (about
N × 40 µs for N streams on the 2-vCPU VM it was measured on). The lag of every token written is
measured (``slolab_serve_token_lateness_seconds`` in /metrics). When the loop falls behind (an
overloaded CPU), tokens go out late but the engine's results do not change: virtual time never
depends on when the loop got there. Metrics use the engine's times, as vLLM's use its own
timestamps.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
import time
from collections.abc import Callable
from typing import Protocol

import simpy

from slolab.catalog import presets
from slolab.run import request as request_mod
from slolab.sim import engine as engine_mod

log = logging.getLogger(__name__)

#: the loop timer fires this early; the rest is slept (epoll waits in whole milliseconds)
_EARLY_S = 0.001
#: an idle engine with this many steps behind it is replaced by a fresh one (its step times
#: are kept for the token records: 32 bytes a step, about 2 h of continuous decoding)
ROTATE_AFTER_STEPS = 1_000_000


class Flow:
    """One request in the engine, as its HTTP handler sees it."""

    __slots__ = ("last_token_s", "ready", "req", "seq", "sink", "waiter")

    def __init__(
        self, req: request_mod.Request, seq: engine_mod._Seq, sink: Callable[[Flow], None] | None
    ) -> None:
        self.req = req
        self.seq = seq
        self.sink = sink  # called at every step end that gave this request tokens (streams)
        self.ready = 0  # tokens of the steps that have ended
        self.last_token_s = math.nan  # engine time of the last of them
        self.waiter: asyncio.Future[None] | None = None

    @property
    def done(self) -> bool:
        """The request ended (all its tokens are ready, or it failed)."""
        return self.req.status is not None

    async def wait(self) -> None:
        """Until the request ends (or ``wake`` is called)."""
        waiter = asyncio.get_running_loop().create_future()
        self.waiter = waiter
        try:
            await waiter
        finally:
            self.waiter = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Observer(Protocol):
    """Receives what the engine did, in engine time (the metrics)."""

    def on_tokens(self, flow: Flow, new_tokens: int, step_end_s: float) -> None:
        """``flow`` got ``new_tokens`` in the step that ended at ``step_end_s`` (before ``flow``
        is updated: ``flow.ready`` and ``flow.last_token_s`` are still the previous ones)."""

    def on_finished(self, flow: Flow) -> None:
        """``flow`` ended (success or abort)."""


class RealtimeEngine:
    """An ``Engine`` over a SimPy environment that the running asyncio loop keeps on the wall clock.

    Create it inside the loop, when the model has loaded: that moment is virtual time 0."""

    def __init__(
        self,
        preset: presets.Preset,
        config: engine_mod.EngineConfig,
        seed: int,
        observer: Observer | None = None,
        name: str = "engine-0",
    ) -> None:
        self.observer = observer
        self._preset, self._config, self._seed, self._name = preset, config, seed, name
        self._loop = asyncio.get_running_loop()
        self._flows: dict[Flow, None] = {}  # in flight, in arrival order
        self._ids = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._generation = 0
        self._past = (0, 0, 0)  # prompt tokens, generation tokens, preemptions of replaced engines
        self._start_engine(random.Random(seed))

    def _start_engine(self, rng: random.Random) -> None:
        """A fresh engine whose virtual time 0 is now."""
        self.env = simpy.Environment()
        self.engine = engine_mod.Engine(self.env, self._preset, self._config, rng, self._name)
        self.engine.max_steps_per_event = 1  # one event per step: tokens leave at step ends
        self._origin = self._loop.time()
        self._steps_seen = 0

    # ---------------------------------------------------------------- public interface

    @property
    def config(self) -> engine_mod.EngineConfig:
        return self.engine.config

    @property
    def in_flight(self) -> int:
        """Requests submitted and not finished."""
        return len(self._flows)

    def totals(self) -> tuple[int, int, int]:
        """Prompt tokens, generation tokens and preemptions since the server started."""
        e = self.engine
        prompt, generation, preemptions = self._past
        return (
            prompt + e.prompt_tokens_total,
            generation + e.generation_tokens_total,
            preemptions + e.num_preemptions_total,
        )

    def now_s(self) -> float:
        """The wall clock in engine (virtual) seconds."""
        return self._loop.time() - self._origin

    def to_loop_time(self, engine_s: float) -> float:
        """The ``loop.time()`` of an engine time."""
        return self._origin + engine_s

    def sync(self) -> float:
        """Bring the engine to the wall clock (every due event processed); returns the time."""
        now = self.now_s()
        self._run_until(now)
        if self.env.now < now:
            self.env.run(until=now)
        return now

    def submit(self, prompt_tokens: int, max_tokens: int, sink: Callable[[Flow], None] | None = None) -> Flow:
        """A request arrives now; the caller checked the lengths against ``max_model_len``.

        ``sink(flow)`` is called at every step end that gave the request tokens (``flow.ready``
        counts them)."""
        now = self.sync()
        if not self._flows and len(self.engine.step_ends) >= ROTATE_AFTER_STEPS:
            self._rotate()
            now = self.sync()
        req = request_mod.Request(
            id=next(self._ids),
            arrival_s=now,
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            timeout_s=math.inf,  # the client's patience is its own; a disconnect aborts
        )
        seq = self.engine.submit(req)
        if seq is None:
            raise ValueError(f"the engine refused the request: {req.error}")
        flow = Flow(req, seq, sink)
        self._flows[flow] = None
        self._arm()
        return flow

    def abort(self, flow: Flow) -> None:
        """The client went away: the engine frees the request's slot (vLLM aborts on disconnect)."""
        if flow.done:
            return
        self.sync()
        self.engine.abort(flow.seq)
        if flow.done:  # it was not running yet
            self._finish(flow)
        self._arm()

    def close(self) -> None:
        """Stop the timer (the loop is closing)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = None, math.inf

    def _rotate(self) -> None:
        """Replace the idle engine by a fresh one (see the module docstring)."""
        self._past = self.totals()
        self.close()
        self._generation += 1
        self._start_engine(random.Random(f"{self._seed}/{self._generation}"))
        log.info(
            "slolab serve: engine %d started (the previous one ran %d steps)",
            self._generation,
            ROTATE_AFTER_STEPS,
        )

    # ---------------------------------------------------------------- the clock

    def _arm(self) -> None:
        """Set the loop timer at the environment's next event (``_EARLY_S`` before it)."""
        at_s = self.env.peek()
        if at_s == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at_s
        if at_s == math.inf:
            self._timer = None
        else:
            self._timer = self._loop.call_at(self._origin + at_s - _EARLY_S, self._tick)

    def _tick(self) -> None:
        due_s = self._timer_at
        self._timer, self._timer_at = None, math.inf
        wait_s = due_s - self.now_s()
        if wait_s > 0:  # less than _EARLY_S: finer than the loop's timers can wait
            time.sleep(wait_s)
        try:
            self._run_until(max(self.now_s(), due_s))  # due even if float rounding says not quite
        finally:
            self._arm()  # the clock goes on whatever happened

    def _run_until(self, now_s: float) -> None:
        """Process the events due by ``now_s``, one at a time; hand out each step's tokens."""
        env = self.env
        ends = self.engine.step_ends
        while env.peek() <= now_s:
            env.step()
            if len(ends) != self._steps_seen:
                self._steps_seen = len(ends)
                self._step_ended(ends[-1])

    def _step_ended(self, end_s: float) -> None:
        """A step ended at engine time ``end_s``: who got a token, who finished."""
        engine = self.engine
        observer = self.observer
        finished: list[Flow] = []
        for flow in self._flows:
            n = engine.tokens_sent(flow.seq)
            if n != flow.ready:
                if observer is not None:
                    observer.on_tokens(flow, n - flow.ready, end_s)
                flow.ready = n
                flow.last_token_s = end_s
                if flow.sink is not None:
                    try:
                        flow.sink(flow)
                    except Exception:  # one broken stream must not stop the others
                        log.exception("slolab serve: writing a stream failed")
            if flow.req.status is not None:
                finished.append(flow)
        for flow in finished:
            self._finish(flow)

    def _finish(self, flow: Flow) -> None:
        del self._flows[flow]
        if self.observer is not None:
            self.observer.on_finished(flow)
        flow.wake()
