"""A fixed-latency OpenAI-compatible server: the known truth the load generator is checked against.

``POST /v1/completions`` with ``stream: true`` answers the way vLLM's streaming completions
do (vllm/entrypoints/openai/serving_completion.py, v0.10): headers at once, then one
``data: {"choices": [{"text": ..., ...}]}`` SSE chunk per token, a ``usage`` chunk when
``stream_options.include_usage`` is set, and ``data: [DONE]``. The first token is written
``ttft_s`` after the request arrived and token k at ``ttft_s + k * itl_s`` (absolute times, so
timer lateness never accumulates). Errors are vLLM-shaped (``{"object": "error", "message":
...}``). There is no model: this exists so tests and the benchmark know the true latencies.

It keeps its own per-request log, server-side ``ttft_s`` measured from the handler start to the
first token written, keyed by the ``X-Request-Id`` header; ``GET /slolab/requests?prefix=P``
returns it as JSON. ``GET /metrics`` serves vLLM's metric names (prometheus_client):
``vllm:time_to_first_token_seconds`` (vLLM's buckets), ``vllm:request_success_total``,
``vllm:num_requests_running``, ``vllm:num_requests_waiting``, in the text format 0.0.4 (see
``_metrics`` for why never OpenMetrics).

Fault knobs for tests: every ``fail_every``-th request gets ``fail_status``; every
``cut_every``-th stream is cut (connection closed) after ``cut_after_tokens`` tokens.

Run it alone: ``python -m slolab.load.refserver --port 8000 --ttft-ms 50 --itl-ms 10``; in
tests, ``with RefServer(ttft_s=0.05) as server:`` runs it on its own event-loop thread.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import signal
import socket
import threading
import time
from typing import Any

import prometheus_client
from aiohttp import web

from slolab.run import vllm_metrics as vm

#: vLLM's TTFT histogram buckets (the table of slolab.run.vllm_metrics).
TTFT_BUCKETS_S = vm.TTFT_BUCKETS


@dataclasses.dataclass(slots=True)
class Served:
    """What the server saw of one request (times from ``time.perf_counter``)."""

    request_id: str
    received_s: float
    status: int = 200
    ttft_s: float | None = None
    tokens: int = 0
    cut: bool = False


class RefServer:
    """The fixed-latency server on 127.0.0.1, on an event loop of its own (a thread)."""

    def __init__(
        self,
        ttft_s: float = 0.05,
        itl_s: float = 0.01,
        *,
        model: str = "ref",
        fail_every: int = 0,
        fail_status: int = 503,
        cut_every: int = 0,
        cut_after_tokens: int = 1,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.ttft_s = ttft_s
        self.itl_s = itl_s
        self.model = model
        self.fail_every = fail_every
        self.fail_status = fail_status
        self.cut_every = cut_every
        self.cut_after_tokens = cut_after_tokens
        self.host = host
        self.port = port
        self.served: list[Served] = []
        self._count = itertools.count(1)
        self._running = 0
        self._registry = prometheus_client.CollectorRegistry()
        labels = ["model_name"]
        self._ttft = prometheus_client.Histogram(
            vm.TIME_TO_FIRST_TOKEN.name,
            vm.TIME_TO_FIRST_TOKEN.help,
            labels,
            buckets=TTFT_BUCKETS_S,
            registry=self._registry,
        )
        self._success = prometheus_client.Counter(
            vm.REQUEST_SUCCESS.name,
            vm.REQUEST_SUCCESS.help,
            [*labels, "finished_reason"],
            registry=self._registry,
        )
        self._gauge_running = prometheus_client.Gauge(
            "vllm:num_requests_running", "Number of requests in model execution batches.", labels,
            registry=self._registry,
        )  # fmt: skip
        self._gauge_waiting = prometheus_client.Gauge(
            "vllm:num_requests_waiting", "Number of requests waiting to be processed.", labels,
            registry=self._registry,
        )  # fmt: skip
        self._gauge_waiting.labels(model).set(0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- HTTP

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/slolab/requests", self._requests)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="")

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model"}]})

    async def _metrics(self, request: web.Request) -> web.Response:
        # Always the classic text format 0.0.4, never negotiated OpenMetrics: prometheus_client
        # 0.26 writes OpenMetrics sample names with ':' replaced by '_' when the scraper asks for
        # escaping=underscores, as Prometheus 2.x does (prometheus/client_python#1177), and
        # vllm:time_to_first_token_seconds would be stored as vllm_time_to_first_token_seconds.
        body = prometheus_client.generate_latest(self._registry)
        return web.Response(
            body=body, headers={"Content-Type": prometheus_client.exposition.CONTENT_TYPE_PLAIN_0_0_4}
        )

    async def _requests(self, request: web.Request) -> web.Response:
        prefix = request.query.get("prefix", "")
        rows = [dataclasses.asdict(s) for s in list(self.served) if s.request_id.startswith(prefix)]
        return web.json_response(rows)

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        doc = {"object": "error", "message": message, "type": "ServiceUnavailable", "code": status}
        return web.json_response(doc, status=status)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        received = time.perf_counter()
        n = next(self._count)
        served = Served(request.headers.get("X-Request-Id", f"ref-{n}"), received)
        self.served.append(served)
        try:
            body = await request.json()
            max_tokens = int(body.get("max_tokens", 16))
            stream = bool(body.get("stream", False))
        except (ValueError, TypeError, AttributeError):
            served.status = 400
            return self._error(400, "body must be a JSON object with an integer max_tokens")
        if self.fail_every and n % self.fail_every == 0:
            served.status = self.fail_status
            return self._error(self.fail_status, "the reference server fails this request on purpose")
        if not stream:
            served.status = 400
            return self._error(400, "the reference server only streams (stream: true)")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        cut = bool(self.cut_every) and n % self.cut_every == 0
        gauge = self._gauge_running.labels(self.model)
        gauge.inc()
        try:
            return await self._stream(request, served, max_tokens, include_usage, cut)
        finally:
            gauge.dec()

    async def _stream(
        self, request: web.Request, served: Served, max_tokens: int, include_usage: bool, cut: bool
    ) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        created = int(time.time())
        for k in range(max_tokens):
            if cut and k >= self.cut_after_tokens:
                served.cut = True
                assert request.transport is not None
                request.transport.close()
                return resp
            delay = served.received_s + self.ttft_s + k * self.itl_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            last = k == max_tokens - 1
            chunk = {
                "id": f"cmpl-{served.request_id}",
                "object": "text_completion",
                "created": created,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "text": " tok",
                        "logprobs": None,
                        "finish_reason": "length" if last else None,
                    }
                ],
            }
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            if k == 0:
                served.ttft_s = time.perf_counter() - served.received_s
                self._ttft.labels(self.model).observe(served.ttft_s)
            served.tokens = k + 1
        if include_usage:
            usage = {"prompt_tokens": 0, "completion_tokens": max_tokens, "total_tokens": max_tokens}
            doc = {
                "id": f"cmpl-{served.request_id}",
                "object": "text_completion",
                "choices": [],
                "usage": usage,
            }
            await resp.write(b"data: " + json.dumps(doc).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        self._success.labels(self.model, "length").inc()
        return resp

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _start(self, sock: socket.socket) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    def start(self) -> str:
        """Serve on a thread of its own; returns the base URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        started = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start(sock))
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="refserver", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the reference server did not start within 10 s")
        return self.url

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = None

    def __enter__(self) -> RefServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def by_id(self) -> dict[str, Served]:
        return {s.request_id: s for s in list(self.served)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m slolab.load.refserver", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default="ref")
    p.add_argument("--ttft-ms", type=float, default=50.0)
    p.add_argument("--itl-ms", type=float, default=10.0)
    args = p.parse_args(argv)
    server = RefServer(
        args.ttft_ms / 1000, args.itl_ms / 1000, model=args.model, host=args.host, port=args.port
    )
    server.start()
    print(json.dumps({"event": "serving", "url": server.url}), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


def served_rows(doc: Any) -> list[Served]:
    """Parse the JSON of ``GET /slolab/requests``."""
    return [Served(**row) for row in doc]


if __name__ == "__main__":
    raise SystemExit(main())
