"""One line of the generator's request file, and its conversion to the simulator's Request.

The load generator (``slolab.load.generate``) writes one JSON object per request, raw and
unrounded (locust's own percentiles are bucketed to 1/10/100 ms, research/tooling-loopback.md
§3), with every time in seconds from the run start:

    {"id": 0, "scheduled_s": 0.0213, "arrival_s": 0.0215, "prompt_tokens": 256,
     "max_tokens": 64, "status": 200, "error": null, "first_token_s": 0.0719,
     "finish_s": 0.7052, "token_times_s": [0.0719, 0.0821, ...], "output_tokens": 64,
     "ttft_s": 0.0504, "e2e_s": 0.6837}

``scheduled_s`` is the planned arrival (``schedule.Arrival.offset_s``) and ``arrival_s`` the
moment the request was handed to the HTTP client; their difference is the generator's own lag.
``status`` is the HTTP status, 0 (``request.NO_RESPONSE``) when no HTTP response came or the
stream was cut, and null for a request still in flight when the run ended. ``ttft_s`` and
``e2e_s`` are derived, for people reading the file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from slolab import errors, paths
from slolab.sim import request as request_mod


@dataclasses.dataclass(slots=True)
class Record:
    """What the client saw of one request; times are seconds from the run start."""

    id: int
    scheduled_s: float
    arrival_s: float
    prompt_tokens: int
    max_tokens: int
    status: int | None = None
    error: str | None = None
    first_token_s: float | None = None
    finish_s: float | None = None
    token_times_s: list[float] = dataclasses.field(default_factory=list)
    output_tokens: int = 0

    def fail(self, now_s: float, error: str, status: int = request_mod.NO_RESPONSE) -> None:
        """End with an error seen at ``now_s`` (tokens received so far are kept)."""
        if self.status is None:
            self.status = status
            self.error = error
            self.finish_s = now_s
            self.output_tokens = max(self.output_tokens, len(self.token_times_s))

    def to_json(self) -> str:
        doc: dict[str, Any] = dataclasses.asdict(self)
        for key in ("scheduled_s", "arrival_s", "first_token_s", "finish_s"):
            if doc[key] is not None:
                doc[key] = round(doc[key], 6)
        doc["token_times_s"] = [round(t, 6) for t in self.token_times_s]
        doc["ttft_s"] = None if self.first_token_s is None else round(self.first_token_s - self.arrival_s, 6)
        doc["e2e_s"] = None if self.finish_s is None else round(self.finish_s - self.arrival_s, 6)
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Record:
        doc = json.loads(line)
        doc.pop("ttft_s", None)
        doc.pop("e2e_s", None)
        return cls(**doc)

    def to_request(
        self, *, started_s: float = 0.0, id_base: int = 0, profile: str = "", timeout_s: float = 180.0
    ) -> request_mod.Request:
        """The simulator's Request, times shifted by ``started_s`` (the run start on the backend clock).

        Token times go into ``step_ends`` with one segment covering them all, the shape
        ``Request.token_times_s`` reads.
        """

        def shift(t: float | None) -> float | None:
            return None if t is None else started_s + t

        times = [started_s + t for t in self.token_times_s]
        return request_mod.Request(
            id=id_base + self.id,
            arrival_s=started_s + self.arrival_s,
            prompt_tokens=self.prompt_tokens,
            max_tokens=self.max_tokens,
            timeout_s=timeout_s,
            profile=profile,
            status=self.status,
            error=self.error,
            first_token_s=shift(self.first_token_s),
            finish_s=shift(self.finish_s),
            output_tokens=self.output_tokens,
            step_ends=times,
            segments=[[0, len(times)]] if times else [],
        )


def read(file: Path) -> list[Record]:
    """Every record of a generator's request file, in file order (completion order)."""
    out = []
    with file.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                out.append(Record.from_json(line))
            except (ValueError, TypeError) as exc:
                raise errors.BackendError(
                    f"{paths.relative(file)}:{number}: not a request record ({exc})",
                    "The load generator wrote a broken line; see generate.log beside it.",
                ) from None
    return out
