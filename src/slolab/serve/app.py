"""The HTTP routes of ``slolab serve``: vLLM's OpenAI-compatible server, over the real-time engine.

Upstream: vllm v0.33.0 vllm/entrypoints/** — ``POST /v1/completions`` and
``POST /v1/chat/completions`` (JSON, or server-sent events with ``"stream": true``: the
response headers go out at once, ``Content-Type: text/event-stream; charset=utf-8``, chunked),
``GET /v1/models``, ``GET /health`` (200, empty body; the port is not open before the model has
loaded, see server.py), ``GET /metrics`` (prometheus_client exposition), ``GET|POST /ping``,
``GET /version``, ``GET /load``. Errors are OpenAI's error JSON; unknown routes and methods get
it too (404, 405). A client that disconnects aborts its request in the engine, as vLLM's
``with_cancellation`` does. A server playing a failing model version (``--error-rate``,
serve/versionfaults.py) answers that share of the requests it accepts with HTTP 500 at once.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from aiohttp import web

import slolab
from slolab.serve import config as config_mod
from slolab.serve import metrics as metrics_mod
from slolab.serve import protocol, realtime, responses, versionfaults

RT_KEY = web.AppKey("rt", realtime.RealtimeEngine)
CONFIG_KEY = web.AppKey("config", config_mod.ServeConfig)
METRICS_KEY = web.AppKey("metrics", metrics_mod.Metrics)
FAULTS_KEY = web.AppKey("faults", versionfaults.VersionFaults)
_numbers = itertools.count()  # picks each request's made-up words


def make_app(
    cfg: config_mod.ServeConfig, rt: realtime.RealtimeEngine, metrics: metrics_mod.Metrics
) -> web.Application:
    app = web.Application(middlewares=[_error_middleware], client_max_size=64 * 1024 * 1024)
    app[RT_KEY] = rt
    app[CONFIG_KEY] = cfg
    app[METRICS_KEY] = metrics
    app[FAULTS_KEY] = versionfaults.VersionFaults(cfg.version.error_rate, cfg.seed)
    app.router.add_get("/health", _empty_200)
    app.router.add_get("/ping", _empty_200)
    app.router.add_post("/ping", _empty_200)
    app.router.add_get("/version", _version)
    app.router.add_get("/load", _load)
    app.router.add_get("/v1/models", _models)
    app.router.add_get("/metrics", _metrics)
    app.router.add_post("/v1/completions", _completions)
    app.router.add_post("/v1/chat/completions", _chat_completions)
    return app


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(text=responses.dumps(body), status=status, content_type="application/json")


@web.middleware
async def _error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except protocol.ApiError as exc:
        return _json(exc.body(), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        error = protocol.ApiError(exc.reason, exc.status, exc.reason)
        return _json(error.body(), exc.status)


async def _empty_200(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def _version(request: web.Request) -> web.Response:
    return _json({"version": f"slolab-serve {slolab.__version__}"})


async def _load(request: web.Request) -> web.Response:
    return _json({"server_load": request.app[RT_KEY].in_flight})


async def _models(request: web.Request) -> web.Response:
    cfg = request.app[CONFIG_KEY]
    card = {
        "id": cfg.served_model_name,
        "object": "model",
        "created": int(time.time()),
        "owned_by": "vllm",
        "root": cfg.preset.model,
        "parent": None,
        "max_model_len": cfg.engine.max_model_len,
        "permission": [
            {
                "id": f"modelperm-{responses.new_request_id(None)}",
                "object": "model_permission",
                "created": int(time.time()),
                "allow_create_engine": False,
                "allow_sampling": True,
                "allow_logprobs": True,
                "allow_search_indices": False,
                "allow_view": True,
                "allow_fine_tuning": False,
                "organization": "*",
                "group": None,
                "is_blocking": False,
            }
        ],
    }
    return _json({"object": "list", "data": [card]})


async def _metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS_KEY].render(request.headers.get("Accept"))
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


async def _completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, chat=False)


async def _chat_completions(request: web.Request) -> web.StreamResponse:
    return await _generate(request, chat=True)


async def _generate(request: web.Request, chat: bool) -> web.StreamResponse:
    cfg = request.app[CONFIG_KEY]
    rt = request.app[RT_KEY]
    body = protocol.parse_body(await request.read(), request.headers.get("Content-Type", ""))
    parse = protocol.chat_job if chat else protocol.completion_job
    job = parse(body, cfg.served_model_name, cfg.engine.max_model_len)
    request_id = responses.new_request_id(request.headers.get("X-Request-Id") or job.request_id)
    number = next(_numbers)
    if request.app[FAULTS_KEY].fails():  # the model version fails it (--error-rate): HTTP 500
        request.app[METRICS_KEY].success["error"].inc()
        raise versionfaults.VersionFaults.error()
    if job.stream:
        return await _stream(request, rt, cfg, job, request_id, number)
    flow = rt.submit(job.prompt_tokens, job.max_tokens)
    try:
        while not flow.done:
            await flow.wait()
    except asyncio.CancelledError:  # the client went away (aiohttp handler_cancellation)
        rt.abort(flow)
        raise
    if not flow.req.ok:
        raise protocol.ApiError(f"request failed: {flow.req.error}", 500, "InternalServerError")
    make = responses.chat_body if chat else responses.completion_body
    return _json(make(request_id, cfg.served_model_name, number, job.prompt_tokens, flow.req.output_tokens))


async def _stream(
    request: web.Request,
    rt: realtime.RealtimeEngine,
    cfg: config_mod.ServeConfig,
    job: protocol.Job,
    request_id: str,
    number: int,
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    chunked = request.version >= (1, 1)
    if chunked:
        response.enable_chunked_encoding()  # as uvicorn streams; HTTP/1.0 gets the raw body
    await response.prepare(request)  # headers go out now, as uvicorn sends them
    sse = responses.Stream(
        job.chat, request_id, cfg.served_model_name, number, job.prompt_tokens, job.continuous_usage
    )
    writer = _SseWriter(request, rt, request.app[METRICS_KEY], sse, job, chunked)
    flow = rt.submit(job.prompt_tokens, job.max_tokens, sink=writer)
    try:
        while not flow.done and not writer.broken:
            await flow.wait()
        if writer.broken:  # the client went away mid-stream
            rt.abort(flow)
            return response
        if writer.sent != job.max_tokens:  # ended without its tokens (not a disconnect)
            await response.write(sse.error(f"request failed: {flow.req.error}") + responses.DONE)
        await response.write_eof()
    except ConnectionResetError:
        rt.abort(flow)
    except asyncio.CancelledError:  # the client went away (aiohttp handler_cancellation)
        rt.abort(flow)
        raise
    return response


class _SseWriter:
    """Writes a stream's new tokens to its socket at the step end that made them.

    Called by the engine clock (a flow's ``sink``), so it writes the HTTP/1.1 chunk framing
    itself on the request's transport, after the headers aiohttp has sent; the handler ends the
    body with ``write_eof`` (the zero-length chunk). No task switch per token."""

    def __init__(
        self,
        request: web.Request,
        rt: realtime.RealtimeEngine,
        metrics: metrics_mod.Metrics,
        sse: responses.Stream,
        job: protocol.Job,
        chunked: bool,
    ) -> None:
        self.transport = request.transport
        self.rt = rt
        self.metrics = metrics
        self.sse = sse
        self.job = job
        self.chunked = chunked
        self.sent = 0
        self.broken = False

    def __call__(self, flow: realtime.Flow) -> None:
        ready, sent = flow.ready, self.sent
        if ready <= sent or self.broken:
            return
        sse, last = self.sse, self.job.max_tokens
        parts = [sse.first()] if self.job.chat and sent == 0 else []
        parts.extend(sse.token(i, i + 1 == last) for i in range(sent, ready))
        if ready == last:
            if self.job.include_usage:
                parts.append(sse.usage_chunk(ready))
            parts.append(responses.DONE)
        self.sent = ready
        data = b"".join(parts)
        transport = self.transport
        if transport is None or transport.is_closing():
            self.broken = True
            flow.wake()
            return
        transport.write(b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data)
        self.metrics.on_written(self.rt.now_s() - flow.last_token_s)
