"""Helpers of the ``slolab serve`` tests (importable as ``serve_support``): an in-process server
on the test's event loop, and a real ``slolab serve`` process on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from collections.abc import AsyncIterator

import aiohttp

from slolab.run import request as request_mod
from slolab.serve import config as config_mod
from slolab.serve import realtime, server

#: the --served-model-name every test server answers to
MODEL = "test-model"


class Recorder:
    """Wraps the engine's observer; keeps every finished request for comparison with the client."""

    def __init__(self, inner: realtime.Observer | None) -> None:
        self.inner = inner
        self.finished: list[request_mod.Request] = []

    def on_tokens(self, flow: realtime.Flow, new_tokens: int, step_end_s: float) -> None:
        if self.inner is not None:
            self.inner.on_tokens(flow, new_tokens, step_end_s)

    def on_finished(self, flow: realtime.Flow) -> None:
        self.finished.append(flow.req)
        if self.inner is not None:
            self.inner.on_finished(flow)


@dataclasses.dataclass
class LiveServer:
    """An in-process ``slolab serve`` (the engine is reachable for comparisons)."""

    url: str
    rt: realtime.RealtimeEngine
    recorder: Recorder
    session: aiohttp.ClientSession


@contextlib.asynccontextmanager
async def live_server(**flags) -> AsyncIterator[LiveServer]:
    """``slolab serve`` on 127.0.0.1 in the running event loop with ``flags``; stopped on exit."""
    cfg = config_mod.build(served_model_name=MODEL, host="127.0.0.1", port=0, **flags)
    stop = asyncio.Event()
    ready: asyncio.Future[tuple[int, realtime.RealtimeEngine]] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        server.serve(
            cfg, stop=stop, on_ready=lambda port, rt: ready.set_result((port, rt)), handle_signals=False
        )
    )
    try:
        port, rt = await asyncio.wait_for(ready, 10)
        recorder = Recorder(rt.observer)
        rt.observer = recorder
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            yield LiveServer(f"http://127.0.0.1:{port}", rt, recorder, session)
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 30)
        finally:
            if not task.done():
                task.cancel()


class ServeProcess:
    """A ``slolab serve`` subprocess; its stdout lines are collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._new_line.set()

    async def wait_for_line(self, needle: str, timeout_s: float) -> str:
        """The first stdout line containing ``needle`` (waits up to ``timeout_s``)."""

        async def find() -> str:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                if self._reader.done():
                    raise AssertionError(f"slolab serve ended before printing {needle!r}:\n" + self.output())
                self._new_line.clear()
                await self._new_line.wait()

        try:
            return await asyncio.wait_for(find(), timeout_s)
        except TimeoutError:
            raise AssertionError(f"no {needle!r} within {timeout_s} s:\n" + self.output()) from None

    def output(self) -> str:
        return "\n".join(self.lines)

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._reader, 5)
