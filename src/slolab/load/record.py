"""One line of the generator's request file: a ``slolab.run.request.Request`` as JSON.

The load generator (``slolab.load.generate``) writes one JSON object per request, raw and
unrounded (locust's own percentiles are bucketed to 1/10/100 ms, research/tooling-loopback.md
§3), with every time in seconds from the run start:

    {"id": 0, "scheduled_s": 0.0213, "arrival_s": 0.0215, "prompt_tokens": 256,
     "max_tokens": 64, "status": 200, "error": null, "first_token_s": 0.0719,
     "finish_s": 0.7052, "token_times_s": [0.0719, 0.0821, ...], "output_tokens": 64,
     "ttft_s": 0.0504, "e2e_s": 0.6837}

``scheduled_s`` is the planned arrival (``schedule.Arrival.offset_s``) and ``arrival_s`` the
moment the request was handed to the HTTP client; their difference is the generator's own lag.
``status`` is the HTTP status, 0 (``slolab.run.request.NO_RESPONSE``) when no HTTP response came or the
stream was cut, and null for a request still in flight when the run ended. ``ttft_s`` and
``e2e_s`` are derived, for people reading the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slolab import errors, paths
from slolab.run import request as request_mod

#: the file's fields, in file order (``ttft_s`` and ``e2e_s`` follow, derived)
FIELDS = (
    "id",
    "scheduled_s",
    "arrival_s",
    "prompt_tokens",
    "max_tokens",
    "status",
    "error",
    "first_token_s",
    "finish_s",
    "token_times_s",
    "output_tokens",
)
_REQUIRED = {"id", "scheduled_s", "arrival_s", "prompt_tokens", "max_tokens"}
_TIMES = ("scheduled_s", "arrival_s", "first_token_s", "finish_s")


def to_json(req: request_mod.Request) -> str:
    """One line of the file; times rounded to the microsecond."""
    doc: dict[str, Any] = {key: getattr(req, key) for key in FIELDS}
    for key in _TIMES:
        if doc[key] is not None:
            doc[key] = round(doc[key], 6)
    doc["token_times_s"] = [round(t, 6) for t in req.token_times_s]
    doc["ttft_s"] = None if req.first_token_s is None else round(req.first_token_s - req.arrival_s, 6)
    doc["e2e_s"] = None if req.finish_s is None else round(req.finish_s - req.arrival_s, 6)
    return json.dumps(doc, separators=(",", ":"))


def from_json(line: str) -> request_mod.Request:
    """The request of one line, times as in the file (from the run start). Raises ValueError."""
    doc = json.loads(line)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    doc.pop("ttft_s", None)
    doc.pop("e2e_s", None)
    unknown = sorted(set(doc) - set(FIELDS))
    missing = sorted(_REQUIRED - set(doc))
    if unknown or missing:
        raise ValueError(f"unknown fields {unknown}, missing fields {missing}")
    return request_mod.Request(**doc)


def on_backend_clock(
    req: request_mod.Request,
    *,
    started_s: float = 0.0,
    id_base: int = 0,
    profile: str = "",
    timeout_s: float = 180.0,
) -> request_mod.Request:
    """The same request with times shifted by ``started_s`` (the run start on the backend clock)
    and its id offset by ``id_base``, as the backend's request log holds it."""

    def shift(t: float | None) -> float | None:
        return None if t is None else started_s + t

    return request_mod.Request(
        id=id_base + req.id,
        arrival_s=started_s + req.arrival_s,
        prompt_tokens=req.prompt_tokens,
        max_tokens=req.max_tokens,
        timeout_s=timeout_s,
        profile=profile,
        scheduled_s=shift(req.scheduled_s),
        status=req.status,
        error=req.error,
        first_token_s=shift(req.first_token_s),
        finish_s=shift(req.finish_s),
        output_tokens=req.output_tokens,
        token_times_s=[started_s + t for t in req.token_times_s],
    )


def read(file: Path) -> list[request_mod.Request]:
    """Every request of a generator's request file, in file order (completion order)."""
    out = []
    with file.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                out.append(from_json(line))
            except (ValueError, TypeError) as exc:
                raise errors.BackendError(
                    f"{paths.relative(file)}:{number}: not a request record ({exc})",
                    "The load generator wrote a broken line; see generate.log beside it.",
                ) from None
    return out
