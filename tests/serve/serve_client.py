"""A small SSE client for the slolab serve tests: the events of a stream and when each arrived."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp


@dataclasses.dataclass
class StreamResult:
    status: int
    headers: dict[str, str]
    raw: bytes  # the body exactly as received
    events: list[bytes]  # the data of each SSE event, in order
    times: list[float]  # loop.time() when each event arrived
    sent_at: float  # loop.time() just before the request was sent

    def chunks(self) -> list[dict[str, Any]]:
        """The JSON events (all but ``[DONE]``)."""
        return [json.loads(e) for e in self.events if e != b"[DONE]"]

    def token_times(self) -> list[float]:
        """Arrival time of each event that carries generated text."""
        out = []
        for event, t in zip(self.events, self.times, strict=True):
            if event == b"[DONE]":
                continue
            for choice in json.loads(event)["choices"]:
                text = choice.get("text") if "text" in choice else choice.get("delta", {}).get("content")
                if text:
                    out.append(t)
        return out


async def stream(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> StreamResult:
    """POST ``body`` and read the SSE stream to its end, timing each event."""
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    async with session.post(url, json=body, headers=headers) as resp:
        raw = b""
        events: list[bytes] = []
        times: list[float] = []
        buffer = b""
        async for data in resp.content.iter_any():
            now = loop.time()
            raw += data
            buffer += data
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                assert event.startswith(b"data: "), f"not an SSE data line: {event!r}"
                events.append(event[len(b"data: ") :])
                times.append(now)
        assert buffer == b"", f"stream ended inside an event: {buffer!r}"
        return StreamResult(resp.status, dict(resp.headers), raw, events, times, sent_at)
