"""The open-loop load generator: one process, locust as the engine, one JSON line per request.

    python -m slolab.load.generate --url http://127.0.0.1:8000 --model llm \\
        --profile-json '{"rate_rps": 5, "prompt_tokens": {...}, "output_tokens": {...}}' \\
        --seed 1:traffic:steady:0 --out requests.jsonl [--duration-s 60] [--max-requests N]

Importing this module imports locust, which monkey-patches the whole process with gevent
(``locust/__init__.py``, 2.47); that breaks asyncio, threads and kopf, so it only ever runs as
its own process (``slolab.load.process`` starts it). Nothing else should import it.

How it follows locust 2.47 (docs.locust.io "Use as a library"; research/tooling-loopback.md §3):
an ``Environment`` with a local runner and a single ``FastHttpUser`` (``fixed_count = 1``),
the dispatcher. Its task walks the arrival schedule (``schedule.arrivals``: Poisson gaps
drawn as the simulator draws them, at a rate that follows the profile's ``rate_curve`` when it
has one), sleeps until each arrival and spawns one greenlet per
request into a ``gevent.pool.Pool(max_in_flight)``, never waiting for earlier responses (open
loop; locust's ``constant_throughput`` is closed-loop). An arrival that finds the pool full is
recorded as a client-side failure ("client pool full"), never dropped. The HTTP client pool
has ``concurrency = max_in_flight`` so no request queues for a connection.

Each request is ``POST /v1/completions`` with ``stream: true``, ``ignore_eos: true``,
``max_tokens`` = the drawn output length and ``prompt`` = a list of token ids of the drawn
prompt length (exact lengths on vLLM and slolab serve). The SSE stream is read line by line
with geventhttpclient's ``readline`` (``iter_content`` blocks for 1024 bytes and adds ~100 ms
to TTFT); every ``data:`` chunk carrying choices is one token time. ``output_tokens`` is the
``usage.completion_tokens`` of the final chunk when the server sends one
(``stream_options.include_usage``), else the number of chunks. Times are taken with
``time.perf_counter`` from the run start; the raw samples go to ``--out``, locust's own
(bucketed) statistics are only logged.

Stopping: arrivals end at ``--duration-s`` (or the profile's ``duration_s``), after
``--max-requests``, on SIGTERM/SIGINT, or when the parent process is gone. Then requests in
flight get up to ``--drain-s`` to finish (a second SIGTERM ends the drain at once); any still
unfinished are written with ``status: null``. Progress goes to stdout as JSON lines:
``started`` (with the wall-clock time of the run start), ``arrivals_stopped``, ``done``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sys
import time
from typing import IO, Any, ClassVar

import gevent
import gevent.event
import gevent.pool
import pydantic
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError
from locust import FastHttpUser, constant, task
from locust.env import Environment

from slolab.catalog import scenario as scenario_mod
from slolab.load import record as record_mod
from slolab.run import request as request_mod
from slolab.run import schedule

#: Token ids prompts are made of: inside the vocabulary of every common model (GPT-2 has 50257).
TOKEN_ID_LOW, TOKEN_ID_HIGH = 1000, 30000
#: Bytes of an error response body kept for the error message.
ERROR_BODY_BYTES = 2048


class ClientTimeout(Exception):
    """The profile's client timeout passed before the response ended."""


def describe(exc: BaseException) -> str:
    """A short, low-cardinality error text, in the simulator's words where it has them."""
    if isinstance(exc, ClientTimeout | socket.timeout | TimeoutError | gevent.Timeout):
        return "client timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "connection reset"
    if isinstance(exc, HTTPConnectionClosed):
        return "connection closed before the response"
    if isinstance(exc, socket.gaierror):
        return f"could not resolve host: {exc}"
    if isinstance(exc, HTTPParseError):
        return f"bad HTTP response: {exc}"
    return f"{type(exc).__name__}: {exc}"


def error_message(status: int, body: bytes) -> str:
    """``HTTP 503: <message>`` from an OpenAI/vLLM error body, or ``HTTP 503``."""
    try:
        doc = json.loads(body)
    except ValueError:
        return f"HTTP {status}"
    message = None
    if isinstance(doc, dict):
        inner = doc.get("error")
        message = inner.get("message") if isinstance(inner, dict) else doc.get("message")
    return f"HTTP {status}: {message}" if message else f"HTTP {status}"


class Prompts:
    """Deterministic token-id prompts; requests differ from their first token (no shared prefix)."""

    POOL = 4096

    def __init__(self, seed: str) -> None:
        rng = random.Random(f"{seed}:prompt-token-ids")
        self._pool = [rng.randrange(TOKEN_ID_LOW, TOKEN_ID_HIGH) for _ in range(self.POOL)]

    def ids(self, index: int, length: int) -> list[int]:
        first = TOKEN_ID_LOW + index % (TOKEN_ID_HIGH - TOKEN_ID_LOW)
        offset = (index * 7919) % self.POOL
        rest = length - 1
        reps = (offset + rest) // self.POOL + 1
        return [first, *(self._pool * reps)[offset : offset + rest]]


class Run:
    """The state of one generator run, shared by the dispatcher, the request greenlets and main."""

    def __init__(self, args: argparse.Namespace, profile: scenario_mod.TrafficProfile, out: IO[str]) -> None:
        self.args = args
        self.profile = profile
        self.timeout_s = profile.timeout_s
        self.plan = schedule.arrivals(
            profile, random.Random(args.seed), duration_s=args.duration_s, max_requests=args.max_requests
        )
        self.end_s = args.duration_s if profile.duration_s is None else profile.duration_s
        if args.duration_s is not None and profile.duration_s is not None:
            self.end_s = min(args.duration_s, profile.duration_s)
        self.prompts = Prompts(args.seed)
        self.out = out
        self.pool = gevent.pool.Pool(args.max_in_flight)
        self.in_flight: dict[int, request_mod.Request] = {}
        self.stop_arrivals = gevent.event.Event()
        self.arrivals_done = gevent.event.Event()
        self.end_drain = gevent.event.Event()
        self.stop_reason = "schedule ended"
        self.t0 = 0.0
        self.arrivals = 0
        self.pool_full = 0
        self.arrivals_stopped_s: float | None = None
        self.parent_pid = os.getppid()
        self.crashed: str | None = None

    # ---------------------------------------------------------------- reporting

    def now_s(self) -> float:
        return time.perf_counter() - self.t0

    def emit(self, event: str, **fields: Any) -> None:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()

    def write(self, rec: request_mod.Request) -> None:
        self.out.write(record_mod.to_json(rec) + "\n")

    # ---------------------------------------------------------------- stopping

    def on_signal(self) -> None:
        """First SIGTERM/SIGINT: stop arrivals; once arrivals have stopped: end the drain."""
        if self.stop_arrivals.is_set() or self.arrivals_done.is_set():
            self.end_drain.set()
        else:
            self.stop_reason = "signal"
            self.stop_arrivals.set()

    def watch_parent(self) -> None:
        while not self.end_drain.is_set():
            if os.getppid() != self.parent_pid:
                self.stop_reason = "parent exited"
                self.stop_arrivals.set()
                self.end_drain.set()
                return
            gevent.sleep(0.5)

    # ---------------------------------------------------------------- arrivals

    def warm_up(self, user: FastHttpUser) -> None:
        """One ``GET /v1/models`` before the clock starts: the first connection (and gevent's
        resolver thread) costs several ms that would otherwise land on the first request's TTFT."""
        try:
            with gevent.Timeout(2.0, ClientTimeout):
                resp = user.client.get("/v1/models", name="warm-up")
                resp.content  # noqa: B018 -- read the body so the connection goes back to the pool
        except Exception as exc:
            sys.stderr.write(f"warm-up GET /v1/models: {describe(exc)}\n")

    def dispatch(self, user: FastHttpUser) -> None:
        """Send every planned arrival on time; whatever happens, mark the arrivals done."""
        try:
            self._dispatch(user)
        except gevent.GreenletExit:
            raise
        except Exception as exc:
            self.crashed = f"{type(exc).__name__}: {exc}"
            sys.stderr.write(f"the dispatcher failed: {self.crashed}\n")
        finally:
            if not self.arrivals_done.is_set():
                self.arrivals_stopped_s = self.now_s()
                self.arrivals_done.set()
        gevent.event.Event().wait()  # the runner kills this greenlet at quit

    def _dispatch(self, user: FastHttpUser) -> None:
        """Each planned arrival on time, on its own greenlet."""
        self.warm_up(user)
        self.t0 = time.perf_counter()
        self.emit("started", unix_s=time.time(), pid=os.getpid())
        for arrival in self.plan:
            delay = self.t0 + arrival.offset_s - time.perf_counter()
            if (delay > 0 and self.stop_arrivals.wait(delay)) or self.stop_arrivals.is_set():
                break
            self.arrivals += 1
            rec = request_mod.Request(
                id=arrival.index,
                scheduled_s=arrival.offset_s,
                arrival_s=self.now_s(),
                prompt_tokens=arrival.prompt_tokens,
                max_tokens=arrival.max_tokens,
            )
            if self.pool.full():
                self.pool_full += 1
                rec.fail(rec.arrival_s, f"client pool full: {self.args.max_in_flight} requests in flight")
                self.write(rec)
                continue
            self.in_flight[rec.id] = rec
            self.pool.spawn(self.send, user, rec)
        else:
            if self.args.max_requests is not None and self.arrivals >= self.args.max_requests:
                self.stop_reason = "max requests"
            elif self.end_s is not None:  # the schedule ends at the duration, not at its last arrival
                self.stop_arrivals.wait(max(0.0, self.t0 + self.end_s - time.perf_counter()))
        self.arrivals_stopped_s = self.now_s()
        self.emit(
            "arrivals_stopped",
            offset_s=self.arrivals_stopped_s,
            reason=self.stop_reason,
            arrivals=self.arrivals,
            in_flight=len(self.pool),
        )
        self.arrivals_done.set()

    # ---------------------------------------------------------------- one request

    def send(self, user: FastHttpUser, rec: request_mod.Request) -> None:
        payload = {
            "model": self.args.model,
            "prompt": self.prompts.ids(rec.id, rec.prompt_tokens),
            "max_tokens": rec.max_tokens,
            "stream": True,
            "ignore_eos": True,
            "stream_options": {"include_usage": True},
        }
        body = json.dumps(payload, separators=(",", ":"))
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "X-Request-Id": f"{self.args.run_id}-{rec.id}",
        }
        rec.arrival_s = self.now_s()  # as vLLM's benchmark_serving: just before the request goes out
        try:
            with gevent.Timeout(self.timeout_s, ClientTimeout):
                self._exchange(user, rec, body, headers)
        except gevent.GreenletExit:
            raise  # killed at the end of the drain: stays in flight
        except Exception as exc:
            at = rec.arrival_s + self.timeout_s if isinstance(exc, ClientTimeout) else self.now_s()
            rec.fail(at, describe(exc))
        if rec.status is None:  # a path above that set nothing: never leave it silent
            rec.fail(self.now_s(), "no outcome recorded")
        self.in_flight.pop(rec.id, None)
        self.write(rec)

    def _exchange(
        self, user: FastHttpUser, rec: request_mod.Request, body: str, headers: dict[str, str]
    ) -> None:
        with user.client.post(
            "/v1/completions",
            data=body,
            headers=headers,
            stream=True,
            catch_response=True,
            name="completions",
        ) as resp:
            raw = resp._response
            error = getattr(resp, "error", None)
            if raw is None or resp.status_code == 0:
                rec.fail(self.now_s(), describe(error) if error else "no response")
                resp.failure(rec.error)
                return
            status = resp.status_code
            if status != 200:
                body = raw.read(ERROR_BODY_BYTES)
                rec.fail(self.now_s(), error_message(status, body), status)
                resp.failure(rec.error)
                return
            self._read_stream(raw, rec)
            resp.request_meta["response_time"] = ((rec.finish_s or self.now_s()) - rec.arrival_s) * 1000
            if rec.status == 200:
                resp.success()
            else:
                resp.failure(rec.error)

    def _read_stream(self, raw: Any, rec: request_mod.Request) -> None:
        """Read SSE lines until ``[DONE]``; each chunk with choices is one token."""
        usage_tokens: int | None = None
        done_s: float | None = None
        while True:
            try:
                line = raw.readline(b"\n")
            except TimeoutError:
                raise
            except (HTTPParseError, HTTPConnectionClosed, OSError):
                # the body ended early (e.g. "Incomplete response."): a cut stream
                rec.fail(self.now_s(), "connection reset")
                return
            if not line:
                break
            now = self.now_s()
            if done_s is not None or not line.startswith(b"data:"):
                continue
            data = line[5:].strip()
            if data == b"[DONE]":
                done_s = now
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                rec.fail(now, "bad SSE chunk: not JSON")
                return
            if "error" in chunk:
                err = chunk["error"]
                message = err.get("message") if isinstance(err, dict) else err
                rec.fail(now, f"error in stream: {message}")
                return
            if chunk.get("choices"):
                rec.token_times_s.append(now)
                if rec.first_token_s is None:
                    rec.first_token_s = now
            usage = chunk.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                usage_tokens = usage["completion_tokens"]
        if done_s is None:
            rec.fail(self.now_s(), "stream ended before [DONE]")
            return
        rec.status = 200
        rec.finish_s = done_s
        rec.output_tokens = usage_tokens if usage_tokens is not None else len(rec.token_times_s)

    # ---------------------------------------------------------------- the end

    def drain(self, drain_s: float) -> None:
        """Give requests in flight up to ``drain_s``; a second signal ends the wait at once."""
        deadline = time.perf_counter() + drain_s
        while len(self.pool) and not self.end_drain.is_set():
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            self.end_drain.wait(min(left, 0.05))
        self.pool.kill(block=True, timeout=5)
        for rec in sorted(self.in_flight.values(), key=lambda r: r.id):
            self.write(rec)  # status null: unfinished when the run ended


class OpenLoopUser(FastHttpUser):
    """The dispatcher: one instance per process; ``openloop`` is set on a subclass made by ``main``."""

    abstract = True
    fixed_count = 1
    wait_time = constant(0)
    max_retries = 0
    openloop: ClassVar[Run]

    def on_start(self) -> None:
        # any HTTP status must come back as a response whose body can be read, not as an error
        self.client.client.valid_response_codes = frozenset(range(100, 600))

    @task
    def dispatch(self) -> None:
        self.openloop.dispatch(self)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m slolab.load.generate", description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="base URL of the OpenAI-compatible server")
    p.add_argument("--model", required=True, help="served model name sent as 'model'")
    p.add_argument("--profile-json", required=True, help="a scenario traffic profile as JSON")
    p.add_argument("--seed", required=True, help="seed string of the arrival schedule")
    p.add_argument("--out", required=True, help="file for one JSON line per request")
    p.add_argument("--duration-s", type=float, default=None, help="stop arrivals after this")
    p.add_argument("--max-requests", type=int, default=None, help="stop arrivals after this many")
    p.add_argument("--max-in-flight", type=int, default=2000, help="arrivals beyond this fail at once")
    p.add_argument(
        "--drain-s", type=float, default=None, help="wait for requests in flight (profile timeout)"
    )
    p.add_argument("--run-id", default=None, help="prefix of the X-Request-Id header (default: pid)")
    args = p.parse_args(argv)
    if args.run_id is None:
        args.run_id = str(os.getpid())
    if args.max_in_flight < 1:
        p.error("--max-in-flight must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        profile = scenario_mod.TrafficProfile.model_validate_json(args.profile_json)
    except pydantic.ValidationError as exc:
        sys.stderr.write(f"--profile-json is not a traffic profile:\n{exc}\n")
        return 2
    if args.duration_s is None and profile.duration_s is None and args.max_requests is None:
        sys.stderr.write("running until SIGTERM: no --duration-s, --max-requests or profile duration_s\n")
    drain_s = profile.timeout_s if args.drain_s is None else args.drain_s
    # line-buffered: each request's line is in the file once it finished, for the parent's peek
    with open(args.out, "w", encoding="utf-8", buffering=1) as out:
        run = Run(args, profile, out)
        user_class = type(
            "OpenLoopDispatcher",
            (OpenLoopUser,),
            {
                "abstract": False,
                "host": args.url.rstrip("/"),
                "concurrency": args.max_in_flight,
                "network_timeout": profile.timeout_s + 5.0,
                "connection_timeout": profile.timeout_s + 5.0,
                "openloop": run,
            },
        )
        env = Environment(user_classes=[user_class], host=args.url.rstrip("/"))
        runner = env.create_local_runner()
        gevent.signal_handler(signal.SIGTERM, run.on_signal)
        gevent.signal_handler(signal.SIGINT, run.on_signal)
        watcher = gevent.spawn(run.watch_parent)
        runner.start(1, spawn_rate=1)
        while not run.arrivals_done.wait(1.0):
            spawned = runner.spawning_greenlet is not None and runner.spawning_greenlet.ready()
            if spawned and runner.user_count == 0:  # the dispatcher died before it could say so
                run.crashed = run.crashed or "the dispatcher user is not running"
                break
        run.drain(drain_s)
        runner.quit()
        watcher.kill()
    stats = env.stats.total
    run.emit(
        "done",
        arrivals=run.arrivals,
        pool_full=run.pool_full,
        unfinished=len(run.in_flight),
        arrivals_stopped_s=run.arrivals_stopped_s,
        locust_requests=stats.num_requests,
        locust_failures=stats.num_failures,
        cpu_warning=bool(runner.cpu_warning_emitted),
        error=run.crashed,
    )
    return 1 if run.crashed else 0


if __name__ == "__main__":
    sys.exit(main())
