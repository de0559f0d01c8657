"""The ``slolab serve`` process: the port opens only after the model load, the loaded log line,
SIGTERM drains the streams in flight, bad flags exit 2."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import pytest
from _support import ROOT
from serve_support import MODEL

from slolab.serve import server

pytestmark = [pytest.mark.wallclock, pytest.mark.asyncio]

LOAD_S = 0.5


async def connect(port: int) -> bool:
    """Whether 127.0.0.1:port accepts a connection."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


async def test_port_refuses_connections_until_the_model_has_loaded(serve_process):
    proc = await serve_process("--load-time-s", str(LOAD_S))
    await proc.wait_for_line("slolab serve: loading model", 20)
    loop = asyncio.get_running_loop()
    loading_at = loop.time()
    assert not await connect(proc.port), "the port answered while the model was loading"
    # poll as a startupProbe would: refused until the load time has passed, then 200
    while not await connect(proc.port):
        assert loop.time() - loading_at < LOAD_S + 10, "never started listening"
        await asyncio.sleep(0.02)
    assert loop.time() - loading_at >= LOAD_S - 0.05
    assert await get(proc.port, "/health") == (200, b"")
    line = await proc.wait_for_line("loaded in", 5)
    match = server.LOADED_RE.search(line)
    assert match, line
    assert match["model"] == MODEL
    assert match["url"] == f"http://127.0.0.1:{proc.port}"
    assert abs(float(match["load_s"]) - LOAD_S) < 0.2
    assert line.startswith("INFO ")


async def test_sigterm_finishes_streams_in_flight_then_exits_0(serve_process):
    proc = await serve_process("--load-time-s", "0")
    await proc.wait_for_line("loaded in", 20)
    reader, writer = await asyncio.open_connection("127.0.0.1", proc.port)
    body = b'{"prompt": [1, 2, 3], "max_tokens": 150, "stream": true}'
    writer.write(
        b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await reader.readuntil(b"data: {")  # the first token is out: the stream is in flight
    proc.proc.send_signal(signal.SIGTERM)
    await proc.wait_for_line("shutting down", 5)
    # no new connections while draining (poll: the log line comes just before the socket closes)
    for _ in range(100):
        if not await connect(proc.port):
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("still accepting connections after SIGTERM")
    rest = await asyncio.wait_for(reader.read(), 10)  # to the end of the response
    writer.close()
    assert rest.count(b"data: {") == 149, "the stream was cut"
    assert b'"finish_reason":"length"' in rest
    assert rest.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
    assert await asyncio.wait_for(proc.proc.wait(), 10) == 0
    assert "slolab serve: stopped" in proc.output()


async def test_sigterm_while_loading_exits_0_at_once(serve_process):
    proc = await serve_process("--load-time-s", "30")
    await proc.wait_for_line("loading model", 20)
    proc.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.proc.wait(), 5) == 0


async def test_bad_flags_are_listed_together_and_exit_2():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "slolab.cli",
        "serve",
        "--preset",
        "gpt-9",
        "--max-num-seqs",
        "0",
        "--load-time-s",
        "-1",
        "--port",
        "70000",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2, (out, err)
    text = err.decode()
    for flag in ("--preset", "--max-num-seqs", "--load-time-s", "--port"):
        assert re.search(rf"slolab serve: {flag}: ", text), text
    assert "llama-3.1-8b-h100" in text  # the presets there are
    assert "slolab serve --help" in text


async def test_a_flag_that_is_not_a_number_exits_2():
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "slolab.cli",
        "serve",
        "--max-model-len=lots",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "--max-model-len" in err.decode()
