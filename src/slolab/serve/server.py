"""The ``slolab serve`` process: load the model, open the port, serve, drain on SIGTERM.

Lifecycle as vLLM v0.33.0 (vllm/entrypoints/launchers/launcher.py, launchers/api_server/
entry.py): the HTTP port does not accept connections while the model loads (vLLM binds early
but calls listen() only once the engine is up), so probes see "connection refused" for
``--load-time-s`` seconds; there is no /health that answers 503 first. When the model has loaded
the server listens and logs one line, the cue the kind backend turns into a ModelLoaded event::

    INFO 07-22 10:00:03 [server.py:95] slolab serve: model llama-8b loaded in 30.0 s; serving on http://0.0.0.0:8000

(``LOADED_RE`` parses it; the port is the real one when ``--port 0`` asked for a free port.)
On SIGTERM or SIGINT the server stops accepting connections, lets the requests in flight finish
and their streams end (uvicorn's graceful shutdown, which vLLM uses; keep-alive connections
close once idle), logs ``slolab serve: stopped`` and exits 0. A second signal stops at once
(exit 1). Access logs are off (``vllm serve --disable-uvicorn-access-log``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import sys
from collections.abc import Callable

from aiohttp import web

from slolab import errors
from slolab.serve import app as app_mod
from slolab.serve import config as config_mod
from slolab.serve import metrics as metrics_mod
from slolab.serve import realtime

log = logging.getLogger("slolab.serve")

LOADED_RE = re.compile(
    r"slolab serve: model (?P<model>\S+) loaded in (?P<load_s>\d+(?:\.\d+)?) s; serving on (?P<url>http://\S+)"
)
#: how long requests in flight may still run after SIGTERM (the kubelet's SIGKILL comes first)
DRAIN_LIMIT_S = 3600.0


def configure_logging(verbose: bool = False) -> None:
    """vLLM-style log lines on stdout for the ``slolab.serve`` logger."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(asctime)s [%(filename)s:%(lineno)d] %(message)s", "%m-%d %H:%M:%S")
    )
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False


def run(cfg: config_mod.ServeConfig) -> int:
    """Serve until a signal; the process exit code."""
    try:
        asyncio.run(serve(cfg))
    except asyncio.CancelledError:
        log.warning("slolab serve: stopped at once (second signal); requests in flight were cut")
        return 1
    return 0


async def serve(
    cfg: config_mod.ServeConfig,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[int, realtime.RealtimeEngine], None] | None = None,
    handle_signals: bool = True,
) -> None:
    """Load, listen, serve until ``stop`` is set (or SIGTERM/SIGINT), then drain.

    ``on_ready(port, engine)`` is called once the port listens (tests use it)."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    installed = _on_signals(loop, stop, asyncio.current_task()) if handle_signals else []
    started = loop.time()
    name = cfg.served_model_name
    try:
        log.info(
            "slolab serve: loading model %s (preset %s, simulated load time %g s); the port opens then",
            name,
            cfg.preset.name,
            cfg.load_time_s,
        )
        if cfg.version != config_mod.HEALTHY:
            log.info(
                "slolab serve: playing a model version: TTFT x%g, %g of requests fail with HTTP 500",
                cfg.version.ttft_factor,
                cfg.version.error_rate,
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=cfg.load_time_s)
            log.info("slolab serve: stopped while loading the model")
            return
        except TimeoutError:
            pass
        metrics = metrics_mod.Metrics(name, cfg.engine.max_model_len)
        rt = realtime.RealtimeEngine(cfg.preset, cfg.engine, cfg.seed, observer=metrics)
        metrics.rt = rt
        runner = web.AppRunner(
            app_mod.make_app(cfg, rt, metrics),
            handle_signals=False,
            access_log=None,
            handler_cancellation=True,  # a client that disconnects aborts its request
            shutdown_timeout=DRAIN_LIMIT_S,
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, cfg.host, cfg.port, backlog=1024, reuse_address=True).start()
        except OSError as exc:
            await runner.cleanup()
            raise errors.SlolabError(
                f"✗ slolab serve cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}.",
                "Pick another --port, or stop the process that holds it.",
            ) from None
        port = runner.addresses[0][1]
        log.info(
            "slolab serve: model %s loaded in %.1f s; serving on http://%s:%d",
            name,
            loop.time() - started,
            cfg.host,
            port,
        )
        if on_ready is not None:
            on_ready(port, rt)
        await stop.wait()
        log.info(
            "slolab serve: shutting down: no new connections; finishing %d request(s) in flight", rt.in_flight
        )
        await runner.cleanup()
        rt.close()
        log.info("slolab serve: stopped")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, main: asyncio.Task | None) -> list[int]:
    """SIGTERM/SIGINT: the first drains, a second stops at once. Returns the signals handled."""

    def handle(sig: signal.Signals) -> None:
        if not stop.is_set():
            log.info("slolab serve: %s received", sig.name)
            stop.set()
        elif main is not None:
            main.cancel()

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, handle, sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            continue
        installed.append(sig)
    return installed
