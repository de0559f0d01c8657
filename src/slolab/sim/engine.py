"""One vLLM V1 engine (the model server of one pod), iteration by iteration, in virtual time.

Upstream: vllm v0.33.0 vllm/v1/core/sched/scheduler.py (token budget, max_num_seqs, paged-KV
admission, recompute preemption of the last running request), step time from research
serving-model.md §2.4.

Modelled: the OpenAI front end (400 when prompt + max_tokens > max_model_len; a lognormal API
overhead before the request reaches the scheduler, part of TTFT); continuous batching with
chunked prefill (always on in V1). Per step: the running list first (a decode takes 1 token, an
unfinished prefill ``min(remaining, budget)``), KV blocks allocated as sequences grow; when a
block cannot be had, the last running request is preempted (blocks freed,
``num_computed_tokens = 0``, put at the front of waiting), and a step that preempted admits
nothing; then waiting requests FCFS while the budget, ``max_num_seqs`` and free blocks allow.
Step time ``max(T0, Toh + a_p·N_tok) + a_kv·Σctx(decoding) + a_b·B`` times a lognormal jitter of
mean 1. Each request generates exactly ``max_tokens`` tokens (as ``ignore_eos`` benchmarks do).
A client timeout aborts the request at the first step boundary after its deadline (its blocks
are freed) and the request reports the exact deadline. SIGTERM (``drain``) and SIGKILL
(``kill``) as the pod's server sees them.

Not modelled: prefix caching, speculative decoding, LoRA, multi-modal inputs, pipeline
parallelism, priority scheduling, sampling (n > 1, EOS), CPU KV offload, the tokenizer.

Speed (a step must not cost a Python loop over requests, nor a SimPy event):
* Decoding requests are kept lazily: their token count and KV size are linear in the step
  index, so a decode-only step costs O(1) whatever the batch size.
* After a step is scheduled, the decode-only steps that follow form a *run*: it lasts while
  nothing but a known finish can change the batch (no request due at the scheduler, no client
  deadline, enough KV blocks, no partial prefill; when requests wait, up to the first finish).
  Its step ends are computed lazily, only as far as needed: up to the first step boundary
  after a submitted request reaches the scheduler (that boundary gets the one SimPy event), or,
  when nothing is due, a cheap check-in event at a lower bound of the run's end.
* Step jitter is drawn per step index from its own stream, so results do not depend on how
  steps are grouped into runs. Request token fields (first_token_s, output_tokens, and the
  token times) are final once the request is done; engine gauges are exact at step boundaries.
* Token times stay compressed: one list of step end times per engine, and per request the
  ranges of steps that gave it a token (``_Seq.segments``, more than one after a recompute
  preemption). The request record (slolab.run.request) expands them only when they are read.

Lazy (``lazy=True``, the simulator's pods): the engine makes no SimPy events. Its step
boundaries are kept as times and processed when it is next called (``submit`` at a time, any
gauge, ``in_flight``, ``kill``, or ``sync``), so a burst of arrivals between two cluster events
costs no event at all. Results are the same as with events (a test runs both); ``drain``
switches to events, because ``on_idle`` must fire at the time the last request ends.

Metrics hook (the simulator's scrape, sim/vllmseries.py): with ``record_requests`` set, each
request whose first token was sampled is appended to ``first_tokens`` and each request that left
the engine (finished, client timeout, abort) to ``done``; the scrape drains both lists. ``busy_s``
is the GPU time spent in steps so far (steps are back to back within a plan). None of these
change what the engine computes.

Real time (``slolab.serve``): with ``max_steps_per_event = 1`` every step ends in its own SimPy
event; ``submit`` returns the request's scheduler handle, ``tokens_sent(handle)`` counts the
tokens of the steps that have ended, and ``abort(handle)`` takes out a request whose client
went away (vLLM aborts on disconnect). None of these change what the engine computes.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import heapq
import math
import random
from collections.abc import Callable
from typing import Any

import numpy
import simpy

from slolab.catalog import presets
from slolab.run import request as request_mod

# Request states inside the engine.
_FRONTEND, _WAITING, _PREFILL, _DECODE, _DONE = range(5)


@dataclasses.dataclass(frozen=True)
class EngineConfig:
    """The ``vllm serve`` flags the model reads."""

    max_num_seqs: int
    max_num_batched_tokens: int
    max_model_len: int
    served_model_name: str

    def __post_init__(self) -> None:
        if min(self.max_num_seqs, self.max_num_batched_tokens, self.max_model_len) < 1:
            raise ValueError(f"engine limits must be >= 1: {self}")
        if self.max_num_batched_tokens < self.max_num_seqs:  # vLLM SchedulerConfig check
            raise ValueError(
                f"max_num_batched_tokens ({self.max_num_batched_tokens}) must be greater than or "
                f"equal to max_num_seqs ({self.max_num_seqs})"
            )

    @classmethod
    def defaults(cls, preset: presets.Preset, served_model_name: str) -> EngineConfig:
        """The values ``vllm serve`` picks when no flag is given (hardware batch defaults)."""
        return cls(
            max_num_seqs=preset.default_max_num_seqs,
            max_num_batched_tokens=preset.default_max_num_batched_tokens,
            max_model_len=preset.max_model_len,
            served_model_name=served_model_name,
        )


class _Seq:
    """Scheduler state of one accepted request (vLLM's ``Request``)."""

    __slots__ = (
        "blocks",
        "computed",
        "deadline_s",
        "finish_step",
        "generated",
        "kv_base",
        "max_tokens",
        "order",
        "prompt_tokens",
        "queued_s",
        "req",
        "scheduled_s",
        "segments",
        "start_step",
        "state",
    )

    def __init__(self, req: request_mod.Request, order: int, deadline_s: float) -> None:
        self.req = req
        self.order = order  # unique tie-breaker in sorted structures
        self.prompt_tokens = req.prompt_tokens
        self.max_tokens = req.max_tokens
        self.deadline_s = deadline_s
        self.state = _FRONTEND
        self.generated = 0  # tokens sampled (while decoding: up to start_step)
        self.computed = 0  # num_computed_tokens (while not decoding)
        self.blocks = 0  # KV blocks held (while not decoding)
        self.start_step = 0  # step whose token started the decode run
        self.kv_base = 0  # while decoding: KV tokens after step s = kv_base + s
        self.finish_step = 0  # while decoding: step of the last token
        self.queued_s: float | None = None  # reached the scheduler's waiting queue (vLLM queued_ts)
        self.scheduled_s: float | None = None  # first scheduled (vLLM scheduled_ts)
        # token times: [start, end) ranges of the engine's step_ends, one token per step in each
        self.segments: list[list[int]] = []


class _TokenRanges:
    """The token times of an engine's requests as it keeps them: per request (the key, its
    ``_Seq.segments``) step ranges over the engine's step end times. A request record expands
    its own to a plain list when they are read (slolab.run.request.TokenTimes)."""

    __slots__ = ("step_ends",)

    def __init__(self, step_ends: list[float]) -> None:
        self.step_ends = step_ends

    def expand(self, key: Any) -> list[float]:
        segments: list[list[int]] = key
        out: list[float] = []
        ends = self.step_ends
        for start, end in segments:
            out.extend(ends[start:end])
        return out


class Engine:
    """One vLLM V1 engine in a SimPy environment; times in seconds of virtual time."""

    def __init__(
        self,
        env: simpy.Environment,
        preset: presets.Preset,
        config: EngineConfig,
        rng: random.Random,
        name: str,
        lazy: bool = False,
    ) -> None:
        if config.max_model_len > preset.max_model_len:
            raise ValueError(
                f"max_model_len ({config.max_model_len}) is larger than the model's "
                f"({preset.max_model_len}, {preset.model})"
            )
        if config.max_model_len > preset.kv_blocks * preset.block_size:
            raise ValueError(
                f"The model's max seq len ({config.max_model_len}) is larger than the maximum number "
                f"of tokens that can be stored in KV cache ({preset.kv_blocks * preset.block_size})"
            )
        self.env = env
        self.preset = preset
        self.config = config
        self.name = name
        self.on_idle: Callable[[], None] | None = None
        self.step_ends: list[float] = []
        self._token_ranges = _TokenRanges(self.step_ends)  # requests expand their token times from it
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0
        self.num_preemptions_total = 0
        self.request_success_total = 0
        #: metrics hook (see the module docstring): off unless the scrape turns it on
        self.record_requests = False
        self.first_tokens: list[_Seq] = []
        self.done: list[_Seq] = []
        self.busy_s_total = 0.0  # GPU time of the steps recorded in step_ends
        #: most steps one run may hold; 1 gives one SimPy event per step (real-time streaming)
        self.max_steps_per_event = 1 << 30
        self._random_block = 4096  # random numbers drawn at once
        self._short_run_steps = 32  # a run this short is computed to its end at once

        self._bs = preset.block_size
        self._num_blocks = preset.kv_blocks
        # below this many free blocks (beyond one per decoding request) blocks are counted exactly
        self._kv_margin = config.max_num_batched_tokens // preset.block_size + config.max_num_seqs + 2
        self._t0_s = preset.t0_ms / 1e3
        self._toh_s = preset.toh_ms / 1e3
        self._a_p_s = preset.a_p_ms / 1e3
        self._a_kv_s = preset.a_kv_ms / 1e3
        self._a_b_s = preset.a_b_ms / 1e3
        # two random streams from rng: step jitter by step index, front-end delay by request
        self._jit_rng = numpy.random.default_rng(rng.getrandbits(64))
        self._api_rng = numpy.random.default_rng(rng.getrandbits(64))
        self._jit_mu, self._jit_sigma = _lognormal_params(1.0, preset.step_jitter_cv)
        self._api_mean_s = preset.api_ms_mean / 1e3
        self._api_mu, self._api_sigma = _lognormal_params(self._api_mean_s, preset.api_cv)
        self._jit: list[float] = []  # jitter factor of step _jit_first + i
        self._jit_first = 0
        self._jit_min = 1.0  # smallest factor in _jit
        self._api_delays: list[float] = []

        self._frontend: list[tuple[float, int, _Seq]] = []  # heap by time it reaches the scheduler
        self._deadlines: list[tuple[float, int, _Seq]] = []  # heap by client deadline
        self._waiting: collections.deque[_Seq] = collections.deque()
        self._running: dict[_Seq, None] = {}  # in vLLM's running-list order
        self._prefilling: list[_Seq] = []  # running, prefill not finished
        self._pf_blocks = 0
        # the decoding requests, kept lazily (one token per step each)
        self._num_decoding = 0
        self._dec_kv_base_sum = 0
        self._dec_residues = [0] * self._bs  # count by kv_base % block_size
        self._finishes: list[tuple[int, int, _Seq]] = []  # sorted by finish step
        # the plan: steps from len(step_ends) on, computed but not yet over
        self._plan_ends: list[float] = []
        self._plan_start_s = 0.0  # when the plan's first step started
        self._plan_first: list[_Seq] = []  # their first token in the first step
        self._plan_tokens0 = 0  # tokens of the first step
        self._plan_nd = 0  # decoding requests after it
        self._open = False  # the run goes on past _plan_ends
        # cursor of an open run: next step, its decoding requests, Σ kv_base, next finish index
        self._cur_u = self._cur_end = self._cur_nd = self._cur_kv = self._cur_p = 0
        self._timer: simpy.Event | None = None  # at a step boundary, or idle wake-up
        self._timer_at = math.inf
        self._checkin: simpy.Event | None = None  # at a lower bound of a run's end
        self._checkin_at = math.inf
        self._lazy = lazy  # no SimPy events: due boundaries are processed when called (sync)
        self._in_flight = 0
        self._busy = False
        self._draining = False
        self._dead = False
        self._next_order = 0

    # ---------------------------------------------------------------- public interface

    def sync(self, now_s: float | None = None) -> None:
        """A lazy engine processes the step boundaries due by ``now_s`` (default: ``env.now``).

        Every public call does this first; call it before reading requests this engine
        served. An engine with SimPy events is always up to date, so this does nothing."""
        if not self._lazy:
            return
        if now_s is None:
            now_s = self.env.now
        while True:
            timer_at, checkin_at = self._timer_at, self._checkin_at
            if timer_at <= checkin_at:
                if timer_at > now_s or timer_at == math.inf:
                    return
                self._timer_at = math.inf
                self._boundary(timer_at)
            elif checkin_at > now_s:
                return
            else:
                self._checkin_at = math.inf
                self._catch_up(checkin_at)

    @property
    def in_flight(self) -> int:
        """Accepted and not finished: front end + waiting + running."""
        self.sync()
        return self._in_flight

    @property
    def num_requests_running(self) -> int:
        """``vllm:num_requests_running``."""
        self.sync()
        return self._num_decoding + len(self._prefilling)

    @property
    def num_requests_waiting(self) -> int:
        """``vllm:num_requests_waiting`` (the scheduler's queue, not the API front end)."""
        self.sync()
        return len(self._waiting)

    @property
    def kv_cache_usage_perc(self) -> float:
        """``vllm:kv_cache_usage_perc``: share of KV blocks in use, 0..1."""
        self.sync()
        step = len(self.step_ends) - 1
        if self._plan_ends:
            self._catch_up(self.env.now)
            step += min(bisect.bisect_right(self._plan_ends, self.env.now) + 1, len(self._plan_ends))
        return (self._pf_blocks + self._dec_blocks(step)) / self._num_blocks

    def busy_s(self) -> float:
        """GPU time spent in steps up to ``env.now``: the steps that ended, plus the part of
        the plan under way (its steps run back to back from its start)."""
        self.sync()
        now = self.env.now
        total = self.busy_s_total
        if self._plan_ends and now > self._plan_start_s:
            self._catch_up(now)
            total += min(now, self._plan_ends[-1]) - self._plan_start_s
        return total

    def submit(self, req: request_mod.Request, now_s: float | None = None) -> _Seq | None:
        """Accept ``req`` now (it reached this pod), or fail it as the server would.

        A lazy engine takes ``now_s``: a time at or after ``env.now`` and after its last call,
        when the caller knows that no event comes before it (an arrival in a burst, see
        sim/traffic.py). Returns the request's scheduler handle (for ``tokens_sent`` and
        ``abort``), or None if it failed at once."""
        req.pod = self.name
        now = self.env.now if now_s is None else now_s
        if self._lazy:
            self.sync(now)
        if self._draining:
            req.fail(now, "connection refused")
            return None
        limit = self.config.max_model_len
        if req.prompt_tokens + req.max_tokens > limit:
            req.fail(
                now,
                f"maximum context length is {limit} tokens; requested {req.prompt_tokens} + {req.max_tokens}",
                400,
            )
            return None
        if req.prompt_tokens < 1 or req.max_tokens < 1:
            req.fail(now, "prompt_tokens and max_tokens must be at least 1", 400)
            return None
        order = self._next_order
        self._next_order = order + 1
        deadline_s = req.arrival_s + req.timeout_s
        seq = _Seq(req, order, deadline_s)
        req.defer_token_times(self._token_ranges, seq.segments)
        ready_s = now + self._draw_api_delay_s()
        heapq.heappush(self._frontend, (ready_s, order, seq))
        heapq.heappush(self._deadlines, (deadline_s, order, seq))
        self._in_flight += 1
        self._busy = True
        self._wake_by(min(ready_s, deadline_s))
        return seq

    def tokens_sent(self, seq: _Seq) -> int:
        """Tokens the request of ``seq`` has received in the steps that have ended.

        Exact between events when every step is its own event (``max_steps_per_event = 1``)."""
        state = seq.state
        if state == _DECODE:  # `generated` counts the token of start_step, whether or not it ended
            last = min(len(self.step_ends) - 1, seq.finish_step)
            return seq.generated - 1 + max(0, last - seq.start_step + 1)
        if state == _DONE:
            return seq.req.output_tokens
        return seq.generated  # tokens sent before a preemption, if any

    def abort(self, seq: _Seq) -> None:
        """The client went away now: free the request's slot as vLLM does on a disconnect.

        A request not yet running leaves at once; a running one at the end of the current step
        (its KV blocks are part of that step). It ends as a client timeout at ``env.now``."""
        self.sync()
        if seq.state == _DONE:
            return
        now = self.env.now
        if seq.state in (_FRONTEND, _WAITING):
            self._drop(seq, len(self.step_ends) - 1)
            _truncate_tokens(seq, self.step_ends, now)
            seq.req.fail(now, "client timeout")
            if self.record_requests:
                self.done.append(seq)
            self._notify_if_idle()
            return
        seq.deadline_s = now
        heapq.heappush(self._deadlines, (now, seq.order, seq))
        self._wake_by(now)

    def drain(self) -> None:
        """SIGTERM: refuse new connections, finish what was accepted.

        ``on_idle`` fires when the last accepted request ends; if none is in flight when this
        is called it does not fire, so check ``in_flight`` after calling. A lazy engine turns
        to SimPy events here, so that ``on_idle`` fires at the right time on its own."""
        self._draining = True
        if self._lazy:
            self.sync()
            self._lazy = False
            timer_at, checkin_at = self._timer_at, self._checkin_at
            self._timer_at = self._checkin_at = math.inf
            if timer_at < math.inf:
                self._set_timer(timer_at)
            if checkin_at < math.inf:
                self._set_checkin(checkin_at)

    def kill(self, reason: str) -> None:
        """SIGKILL: every unfinished request fails now with ``reason``; the engine stops for good.

        Tokens of steps that ended by now are kept. ``on_idle`` fires if requests were in flight."""
        if self._dead:
            return
        self.sync()
        now = self.env.now
        if self._plan_ends:
            self._extend(now)
            done = bisect.bisect_right(self._plan_ends, now)
            if done:
                self._complete_steps(done)
        self._dead = self._draining = True
        self._timer = self._checkin = None
        self._timer_at = self._checkin_at = math.inf
        last_step = len(self.step_ends) - 1
        victims = [*self._running, *self._waiting, *(entry[2] for entry in self._frontend)]
        for seq in victims:
            if seq.state != _DONE:
                self._drop(seq, last_step)
                req = seq.req
                segments = seq.segments
                while segments and segments[-1][0] >= segments[-1][1]:
                    segments.pop()  # a token of the step that did not end
                req.output_tokens = _count_tokens(segments)
                req.fail(now, reason)
        self._clear()
        self._notify_if_idle()

    # ---------------------------------------------------------------- events

    def _draw_api_delay_s(self) -> float:
        """Front-end (API server) overhead of one request."""
        if self._api_sigma == 0:
            return self._api_mean_s
        delays = self._api_delays
        if not delays:
            delays.extend(self._api_rng.lognormal(self._api_mu, self._api_sigma, self._random_block).tolist())
            delays.reverse()
        return delays.pop()

    def _wake_by(self, at_s: float) -> None:
        """Make the engine look at its queues at the first step boundary at or after ``at_s``."""
        ends = self._plan_ends
        if not ends:
            if at_s < self._timer_at:
                self._set_timer(at_s)
        elif self._open or at_s < ends[-1]:
            self._cut_at(at_s)

    def _set_timer(self, at_s: float) -> None:
        self._timer_at = at_s
        if not self._lazy:
            timer = self.env.timeout(max(0.0, at_s - self.env.now))
            timer.callbacks.append(self._on_timer)
            self._timer = timer

    def _set_checkin(self, at_s: float) -> None:
        if at_s < self._checkin_at:  # a pending earlier check-in will do
            self._checkin_at = at_s
            if not self._lazy:
                checkin = self.env.timeout(max(0.0, at_s - self.env.now))
                checkin.callbacks.append(self._on_checkin)
                self._checkin = checkin

    def _on_timer(self, event: simpy.Event) -> None:
        if event is not self._timer:
            return  # superseded by an earlier boundary
        now = self._timer_at
        self._timer, self._timer_at = None, math.inf
        self._boundary(now)

    def _boundary(self, now: float) -> None:
        """A step boundary (or an idle wake-up): observe, decide, start the next steps."""
        if self._plan_ends:
            self._complete_steps(len(self._plan_ends))
        else:
            self._expire(now, len(self.step_ends) - 1)
        self._admit_frontend(now)
        self._start_steps(now)
        self._notify_if_idle()

    def _on_checkin(self, event: simpy.Event) -> None:
        """No request came during an open run: compute it up to now and look again."""
        if event is not self._checkin:
            return
        now = self._checkin_at
        self._checkin, self._checkin_at = None, math.inf
        self._catch_up(now)

    def _notify_if_idle(self) -> None:
        if self._busy and self._in_flight == 0:
            self._busy = False
            if self.on_idle is not None:
                self.on_idle()

    def _admit_frontend(self, now: float) -> None:
        """Requests whose front-end work is done join the scheduler's waiting queue."""
        frontend = self._frontend
        while frontend and frontend[0][0] <= now:
            seq = heapq.heappop(frontend)[2]
            if seq.state == _FRONTEND:
                seq.state = _WAITING
                seq.queued_s = now
                self._waiting.append(seq)

    # ---------------------------------------------------------------- scheduling

    def _start_steps(self, now: float) -> None:
        """Schedule the next step and plan the run after it; idle if there is no work."""
        s = len(self.step_ends)
        free = self._num_blocks - self._pf_blocks - self._dec_blocks_bound(s - 1)
        if free < self._kv_margin + self._num_decoding:
            free = self._num_blocks - self._pf_blocks - self._dec_blocks(s - 1)
        chunks, budget, free, preempted = self._schedule_running(s, free)
        if preempted:
            if not chunks and not self._num_decoding:
                self._start_steps(now)  # all were preempted: schedule again, admitting
                return
            multi = False  # admission is retried at the next step
        else:
            budget, free = self._schedule_waiting(chunks, budget, free, now)
            multi = budget > 0 or not self._waiting
        if chunks or self._num_decoding:
            self._plan_steps(s, now, chunks, free, multi)
        elif self._frontend:
            self._set_timer(self._frontend[0][0])

    def _schedule_running(self, s: int, free: int) -> tuple[list[tuple[_Seq, int]], int, int, bool]:
        """Token budget and KV blocks for the running list; preempt from its tail if short.

        Returns the prefill chunks, the budget and free blocks left, and whether it preempted."""
        bs = self._bs
        budget = self.config.max_num_batched_tokens - self._num_decoding
        need = self._dec_residues[(1 - s) % bs] if self._num_decoding else 0
        chunks: list[tuple[_Seq, int]] = []
        if self._prefilling:
            grow: list[int] = []
            for seq in self._prefilling:  # they come after every decoding request
                if budget <= 0:
                    break
                n = min(seq.prompt_tokens + seq.generated - seq.computed, budget)
                blocks = -(-(seq.computed + n) // bs) - seq.blocks
                need += blocks
                budget -= n
                chunks.append((seq, n))
                grow.append(blocks)
            if need <= free:
                for (seq, _), blocks in zip(chunks, grow, strict=True):
                    seq.blocks += blocks
                    self._pf_blocks += blocks
        if need > free:
            chunks, budget, free = self._schedule_running_preempting(s, free)
            return chunks, budget, free, True
        return chunks, budget, free - need, False

    def _schedule_running_preempting(self, s: int, free: int) -> tuple[list[tuple[_Seq, int]], int, int]:
        """vLLM's running loop request by request, preempting the last running request
        until the current one gets its blocks (or is itself preempted)."""
        bs = self._bs
        budget = self.config.max_num_batched_tokens
        chunks: list[tuple[_Seq, int]] = []
        run = list(self._running)
        i = 0
        while i < len(run) and budget > 0:
            seq = run[i]
            if seq.state == _DECODE:
                n, blocks = 1, int((seq.kv_base + s - 1) % bs == 0)
            else:
                n = min(seq.prompt_tokens + seq.generated - seq.computed, budget)
                blocks = -(-(seq.computed + n) // bs) - seq.blocks
            victim = None
            while blocks > free and victim is not seq:
                victim = run.pop()
                free += self._preempt(victim, s)
            if victim is seq:
                break
            free -= blocks
            budget -= n
            if seq.state == _PREFILL:
                seq.blocks += blocks
                self._pf_blocks += blocks
                chunks.append((seq, n))
            i += 1
        return chunks, budget, free

    def _schedule_waiting(
        self, chunks: list[tuple[_Seq, int]], budget: int, free: int, now: float
    ) -> tuple[int, int]:
        """Admit waiting requests FCFS while the budget, max_num_seqs and free blocks allow."""
        waiting = self._waiting
        bs = self._bs
        room = self.config.max_num_seqs - self._num_decoding - len(self._prefilling)
        while waiting and budget > 0 and room > 0:
            seq = waiting[0]
            n = min(seq.prompt_tokens + seq.generated, budget)
            blocks = -(-n // bs)
            if blocks > free:
                break
            waiting.popleft()
            seq.state = _PREFILL
            if seq.scheduled_s is None:
                seq.scheduled_s = now
            seq.blocks = blocks
            self._pf_blocks += blocks
            self._prefilling.append(seq)
            self._running[seq] = None
            chunks.append((seq, n))
            free -= blocks
            budget -= n
            room -= 1
        return budget, free

    def _preempt(self, seq: _Seq, s: int) -> int:
        """Recompute preemption before step ``s``: free the blocks, back to the front of waiting."""
        del self._running[seq]
        if seq.state == _DECODE:
            freed = self._leave_decoding(seq, s - 1)
        else:
            freed = seq.blocks
            self._pf_blocks -= freed
            self._prefilling.remove(seq)
        seq.blocks = seq.computed = 0
        seq.state = _WAITING
        self._waiting.appendleft(seq)
        self.num_preemptions_total += 1
        return freed

    # ---------------------------------------------------------------- planning

    def _plan_steps(self, s: int, now: float, chunks: list[tuple[_Seq, int]], free: int, multi: bool) -> None:
        """Time the scheduled step ``s``; if ``multi``, open the decode-only run after it."""
        nd = self._num_decoding
        jit, i = self._jitter_at(s)
        n_tok = nd
        for _, n in chunks:
            n_tok += n
        # the same expression as in _extend, so that a step's time does not depend on the plan
        work_s = max(self._t0_s, self._toh_s + self._a_p_s * n_tok) + self._a_b_s * (nd + len(chunks))
        t = now + (work_s + self._a_kv_s * (self._dec_kv_base_sum + nd * s)) * jit[i]
        tokens = nd
        if chunks:
            tokens += self._apply_chunks(s, chunks)
            multi = multi and not self._prefilling
        nd = self._num_decoding
        self._plan_ends = [t]
        self._plan_start_s = now
        self._plan_tokens0 = tokens
        self._plan_nd = nd
        if multi and nd:
            fin = self._finishes
            end = s + min(self.max_steps_per_event, fin[-1][0] - s + 1)
            if self._waiting:  # a finish may let a waiting request in
                end = min(end, fin[0][0] + 1)
            if free < nd * ((end - s - 2) // self._bs + 1):  # blocks may run out during the run
                end = min(end, s + 1 + self._decode_steps_fitting(s + 1, free, end - s - 1))
            self._open = end > s + 1
            self._cur_u, self._cur_end = s + 1, end
            self._cur_nd, self._cur_kv, self._cur_p = nd, self._dec_kv_base_sum, 0
        else:
            self._open = False
        self._arm()

    def _arm(self) -> None:
        """Set the event that ends or revisits the plan."""
        if not self._open:
            at_s = self._plan_ends[-1]
            if at_s != self._timer_at:
                self._set_timer(at_s)
        elif self._frontend:
            self._cut_at(min(self._frontend[0][0], self._next_deadline_s()))
        elif self._cur_end - self._cur_u <= self._short_run_steps:
            self._extend(self._next_deadline_s())
            self._cut_at(self._plan_ends[-1])
        else:
            deadline_s = self._next_deadline_s()
            if deadline_s <= self._plan_ends[-1]:
                self._cut_at(deadline_s)
            else:
                if self._cur_end - self._jit_first > len(self._jit):
                    self._jitter_at(self._cur_end - 1)  # so that _jit_min bounds the whole run
                end_bound_s = self._plan_ends[-1] + (self._cur_end - self._cur_u) * self._t0_s * self._jit_min
                self._set_checkin(min(end_bound_s, deadline_s))

    def _catch_up(self, now: float) -> None:
        """Compute an open run up to ``now``; if that ends it, set its boundary event."""
        if self._open:
            self._extend(now)
            self._arm()

    def _cut_at(self, at_s: float) -> None:
        """End the plan at the first step boundary at or after ``at_s`` (or the run's end)."""
        self._extend(at_s)
        ends = self._plan_ends
        cut = bisect.bisect_left(ends, at_s) + 1
        if cut < len(ends):
            del ends[cut:]
        self._open = False
        if ends[-1] != self._timer_at:
            self._set_timer(ends[-1])

    def _extend(self, until_s: float) -> None:
        """Compute the open run's steps up to the first boundary at or after ``until_s``."""
        if not self._open:
            return
        ends = self._plan_ends
        t = ends[-1]
        u, end = self._cur_u, self._cur_end
        if t >= until_s or u >= end:
            return
        nd, kv_sum, p = self._cur_nd, self._cur_kv, self._cur_p
        fin = self._finishes
        t0_s, toh_s, a_p_s = self._t0_s, self._toh_s, self._a_p_s
        a_kv_s, a_b_s = self._a_kv_s, self._a_b_s
        jit = self._jit
        i = u - self._jit_first
        append = ends.append
        while u < end and t < until_s:
            while fin[p][0] < u:  # it sent its last token before step u
                nd -= 1
                kv_sum -= fin[p][2].kv_base
                p += 1
            if i >= len(jit):
                jit, i = self._jitter_at(u)
            # steps u .. run_end - 1 have the same batch: nd requests, Σctx = kv_sum + nd * u
            run_end = min(end, fin[p][0] + 1, u + len(jit) - i)
            work_s = max(t0_s, toh_s + a_p_s * nd) + a_b_s * nd
            ctx = kv_sum + nd * u
            before = len(ends)
            for factor in jit[i : i + run_end - u]:
                t += (work_s + a_kv_s * ctx) * factor
                ctx += nd
                append(t)
                if t >= until_s:
                    break
            taken = len(ends) - before
            u += taken
            i += taken
        self._cur_u, self._cur_nd, self._cur_kv, self._cur_p = u, nd, kv_sum, p
        if u >= end:
            self._open = False

    def _apply_chunks(self, s: int, chunks: list[tuple[_Seq, int]]) -> int:
        """Book the prefill chunks of step ``s``; a finished prefill samples a token in it and
        decodes from step ``s + 1``. Returns the number of such tokens."""
        sampled = 0
        for seq, n in chunks:
            seq.computed += n
            if seq.computed < seq.prompt_tokens + seq.generated:
                continue
            seq.generated += 1
            sampled += 1
            if seq.req.first_token_s is None:
                self._plan_first.append(seq)
            seq.segments.append([s, s + 1])
            self._prefilling.remove(seq)
            self._start_decoding(seq, s)
        return sampled

    def _decode_steps_fitting(self, s: int, free: int, enough: int) -> int:
        """How many decode steps from step ``s`` get their KV blocks without preempting (at most
        ``enough``), counting every decoding request as if none finished."""
        nd, bs = self._num_decoding, self._bs
        cycles, spare = divmod(free, nd)  # in any bs steps each request takes one block
        k = cycles * bs
        residues = self._dec_residues
        while k < enough:
            need = residues[(1 - s - k) % bs]
            if need > spare:
                break
            spare -= need
            k += 1
        return k

    def _jitter_at(self, step: int) -> tuple[list[float], int]:
        """The jitter list and the index of ``step`` in it (at least that step is there)."""
        jit = self._jit
        i = step - self._jit_first
        if i >= len(jit):
            used = len(self.step_ends) - self._jit_first
            if used > 0:
                del jit[:used]
                self._jit_first += used
                i -= used
            size = max(self._random_block, i + 1 - len(jit))
            more = self._jit_rng.lognormal(self._jit_mu, self._jit_sigma, size)
            jit.extend(more.tolist())
            self._jit_min = min(jit)
        return jit, i

    def _next_deadline_s(self) -> float:
        deadlines = self._deadlines
        while deadlines and deadlines[0][2].state == _DONE:
            heapq.heappop(deadlines)
        return deadlines[0][0] if deadlines else math.inf

    # ---------------------------------------------------------------- step completion

    def _complete_steps(self, done: int) -> None:
        """The first ``done`` planned steps have ended (all of them, except from ``kill``):
        record them, then finishes and client timeouts."""
        ends = self._plan_ends
        first_step = len(self.step_ends)
        self.step_ends.extend(ends if done == len(ends) else ends[:done])
        last_step = first_step + done - 1
        first_token_s = ends[0]
        self.busy_s_total += ends[done - 1] - self._plan_start_s
        for seq in self._plan_first:
            seq.req.first_token_s = first_token_s
            self.prompt_tokens_total += seq.prompt_tokens
        if self.record_requests:
            self.first_tokens.extend(self._plan_first)
        self.generation_tokens_total += self._plan_tokens0 + self._plan_nd * (done - 1)
        self._plan_ends, self._plan_first, self._open = [], [], False
        self._finish_decodes(last_step)
        self._expire(self.step_ends[-1], last_step)

    def _finish_decodes(self, last_step: int) -> None:
        """Requests whose last token came at or before ``last_step``."""
        fin = self._finishes
        while fin and fin[0][0] <= last_step:
            step, _, seq = fin[0]
            self._leave_decoding(seq, step)
            self.generation_tokens_total -= last_step - step  # counted as if to last_step
            del self._running[seq]
            finish_s = self.step_ends[step]
            seq.state = _DONE
            self._in_flight -= 1
            if self.record_requests:
                self.done.append(seq)
            req = seq.req
            if seq.deadline_s < finish_s:  # the client left before the last token
                _truncate_tokens(seq, self.step_ends, seq.deadline_s)
                req.fail(seq.deadline_s, "client timeout")
                continue
            req.status = 200
            req.finish_s = finish_s
            req.output_tokens = seq.generated
            self.request_success_total += 1

    def _expire(self, now: float, last_step: int) -> None:
        """Client timeouts whose deadline passed before ``now``: abort, free KV, report the deadline."""
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] < now:
            deadline_s, _, seq = heapq.heappop(deadlines)
            if seq.state == _DONE:
                continue
            self._drop(seq, last_step)
            _truncate_tokens(seq, self.step_ends, deadline_s)
            seq.req.fail(deadline_s, "client timeout")
            if self.record_requests:
                self.done.append(seq)

    def _drop(self, seq: _Seq, last_step: int) -> None:
        """Take an unfinished request out of the engine after step ``last_step``."""
        if seq.state == _WAITING:
            self._waiting.remove(seq)
        elif seq.state == _PREFILL:
            del self._running[seq]
            self._prefilling.remove(seq)
            self._pf_blocks -= seq.blocks
            seq.blocks = 0
        elif seq.state == _DECODE:
            del self._running[seq]
            self._leave_decoding(seq, last_step)
        seq.state = _DONE
        self._in_flight -= 1

    def _clear(self) -> None:
        """Forget every request (after ``kill``)."""
        self._frontend.clear()
        self._deadlines.clear()
        self._waiting.clear()
        self._running.clear()
        self._prefilling.clear()
        self._finishes.clear()
        self._plan_ends, self._plan_first, self._open = [], [], False
        self._pf_blocks = self._num_decoding = self._dec_kv_base_sum = 0
        self._dec_residues = [0] * self._bs

    # ---------------------------------------------------------------- lazy decode set

    def _start_decoding(self, seq: _Seq, s0: int) -> None:
        """``seq`` sampled a token in step ``s0``; it decodes one token per step from ``s0 + 1``."""
        seq.state = _DECODE
        seq.start_step = s0
        seq.kv_base = seq.prompt_tokens + seq.generated - 1 - s0
        seq.finish_step = s0 + seq.max_tokens - seq.generated
        bisect.insort(self._finishes, (seq.finish_step, seq.order, seq))
        self._num_decoding += 1
        self._dec_kv_base_sum += seq.kv_base
        self._dec_residues[seq.kv_base % self._bs] += 1
        self._pf_blocks -= seq.blocks  # from now on: ceil((kv_base + s) / block_size)
        seq.blocks = 0

    def _leave_decoding(self, seq: _Seq, last_step: int) -> int:
        """``seq`` stops decoding after step ``last_step``; returns the blocks it held."""
        fin = self._finishes
        del fin[bisect.bisect_left(fin, (seq.finish_step, seq.order))]
        seq.generated += last_step - seq.start_step
        seq.segments[-1][1] = last_step + 1
        self._num_decoding -= 1
        self._dec_kv_base_sum -= seq.kv_base
        self._dec_residues[seq.kv_base % self._bs] -= 1
        return -(-(seq.kv_base + last_step) // self._bs)

    def _dec_blocks(self, step: int) -> int:
        """KV blocks the decoding requests hold once step ``step`` has its blocks:
        Σ ceil((kv_base + step) / bs), from the count of requests by kv_base % bs."""
        bs = self._bs
        total = self._dec_kv_base_sum + self._num_decoding * step
        for residue, count in enumerate(self._dec_residues):
            if count:
                total += count * ((-residue - step) % bs)
        return total // bs

    def _dec_blocks_bound(self, step: int) -> int:
        """An upper bound of ``_dec_blocks(step)`` in O(1)."""
        nd = self._num_decoding
        return (self._dec_kv_base_sum + nd * step + nd * (self._bs - 1)) // self._bs


def _lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the normal under a lognormal of the given mean and coefficient of variation."""
    if mean <= 0:
        return 0.0, 0.0
    sigma = math.sqrt(math.log1p(cv * cv))
    return math.log(mean) - sigma * sigma / 2, sigma


def _count_tokens(segments: list[list[int]]) -> int:
    return sum(end - start for start, end in segments)


def _truncate_tokens(seq: _Seq, ends: list[float], until_s: float) -> None:
    """Keep only the tokens the client had received by ``until_s``; set ``output_tokens``."""
    req = seq.req
    segments = seq.segments
    while segments:
        start, end = segments[-1]
        if end <= start:
            segments.pop()
            continue
        if ends[end - 1] <= until_s:
            break
        if ends[start] > until_s:
            segments.pop()
            continue
        segments[-1][1] = bisect.bisect_right(ends, until_s, start, end)
        break
    req.output_tokens = _count_tokens(segments)
    if not segments:
        req.first_token_s = None
