"""A load client for slolab serve, run as its own process (as a real load generator is).

It streams ``/v1/completions`` requests (token-id prompts, no usage chunk, so every JSON event
is one token) and prints one JSON object: per request its send time, status and the arrival
time of each token, all from ``time.monotonic()`` (CLOCK_MONOTONIC, the same clock as the
server's event loop), so a test can compare them with the engine's token times.

    python sse_load.py URL staggered N          request i at +25 ms * i, prompt 100+37i, 40+3i tokens,
                                                each on a connection opened beforehand
    python sse_load.py URL poisson RATE SECONDS PROMPT MAX_TOKENS [SEED]   open-loop Poisson arrivals
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def one(
    host: str, port: int, start: float, prompt: int, max_tokens: int, connection: Connection | None = None
) -> dict:
    """One streamed request over a plain socket (an HTTP client library adds its own delay);
    ``connection``: one opened beforehand, so that connecting is not part of the timings."""
    reader, writer = connection if connection is not None else (None, None)
    delay = start - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    body = json.dumps({"prompt": list(range(prompt)), "max_tokens": max_tokens, "stream": True}).encode()
    head = (
        f"POST /v1/completions HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    record: dict = {"prompt": prompt, "max_tokens": max_tokens, "sent": time.monotonic(), "tokens": []}
    try:
        if reader is None or writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        writer.write(head + body)
        tokens = record["tokens"]
        received = bytearray()
        while data := await reader.read(1 << 16):
            now = time.monotonic()
            received += data
            tokens.extend([now] * data.count(b"data: {"))
        writer.close()
        record["status"] = int(received.split(b" ", 2)[1])
        record["done"] = received.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
    except (OSError, ValueError, IndexError) as exc:
        record["status"] = 0
        record["error"] = repr(exc)
    record["end"] = time.monotonic()
    return record


async def main(argv: list[str]) -> None:
    url, mode = argv[0], argv[1]
    host, port = url.removeprefix("http://").rsplit(":", 1)
    t0 = time.monotonic() + 0.05
    if mode == "staggered":
        n = int(argv[2])
        connections = [await asyncio.open_connection(host, int(port)) for _ in range(n)]
        t0 = time.monotonic() + 0.05
        plan = [(t0 + 0.025 * i, 100 + 37 * i, 40 + 3 * i) for i in range(n)]
        records = await asyncio.gather(
            *(one(host, int(port), *p, c) for p, c in zip(plan, connections, strict=True))
        )
        json.dump({"requests": records}, sys.stdout)
        return
    else:
        rate, seconds, prompt, max_tokens = float(argv[2]), float(argv[3]), int(argv[4]), int(argv[5])
        rng = random.Random(int(argv[6]) if len(argv) > 6 else 1)
        plan, t = [], 0.0
        while True:
            t += rng.expovariate(rate)
            if t >= seconds:
                break
            plan.append((t0 + t, prompt, max_tokens))
    records = await asyncio.gather(*(one(host, int(port), *p) for p in plan))
    json.dump({"requests": records}, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
