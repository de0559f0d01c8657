"""Fixtures for slolab serve: an in-process server on the test's event loop, and a real
``slolab serve`` process on 127.0.0.1. Both are bounded in time and stopped at teardown.
The classes behind them are in serve_support.py."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from _support import ROOT, free_port
from serve_support import MODEL, LiveServer, ServeProcess, live_server


@pytest_asyncio.fixture
async def live() -> AsyncIterator[LiveServer]:
    """``slolab serve`` on 127.0.0.1 in this event loop, with a client session; stopped after."""
    async with live_server() as srv:
        yield srv


@pytest.fixture
def live_with():
    """A factory: ``async with live_with(max_model_len=..., ...) as srv`` for other flags."""
    return live_server


@pytest_asyncio.fixture
async def serve_process() -> AsyncIterator[Callable[..., Awaitable[ServeProcess]]]:
    """A factory that starts ``slolab serve ARGS`` on a free 127.0.0.1 port; killed (by PID) after."""
    started: list[ServeProcess] = []

    async def start(*args: str) -> ServeProcess:
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "slolab.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--served-model-name",
            MODEL,
            *args,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        sp = ServeProcess(proc, port)
        started.append(sp)
        return sp

    yield start
    for sp in started:
        await sp.stop()
