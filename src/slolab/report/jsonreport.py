"""The grade as JSON: one file per grade run, plus ``latest.json``, written atomically.

The document is the report's single data model: the terminal table and the timeline read it
too. Files: ``<report-dir>/grade-<UTC yyyymmddTHHMMSSZ>.json`` (never overwritten: a second
grade in the same second gets ``-2``) and a copy ``latest.json`` (the one file replaced).

    {lab, title, scenario, backend, seed, started_at, wall_s, run_s, passed, score "k/n",
     checks: [{id, title, status, observed, observed_text, expected, window, window_start_s,
               window_end_s, evidence, hint, test}],
     loads: [{profile, requests, ok, failed, rate_rps, achieved_rps, started_s, stopped_s}],
     events: [{time_s, kind, name, reason, message, type, data}],
     files: {json, junit, timeline}}
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from slolab.backends import base
from slolab.load import requestlog

LATEST = "latest.json"


def score(checks: list[dict[str, Any]]) -> tuple[int, int]:
    """(checks passed, checks in lab.yaml)."""
    return sum(c["status"] == "passed" for c in checks), len(checks)


def load_summary(log: requestlog.RequestLog) -> dict[str, Any]:
    """One ``loads`` entry: how much traffic one load run sent and how it fared."""
    return {
        "profile": log.profile,
        "requests": len(log),
        "ok": len(log.ok()),
        "failed": len(log.failed()),
        "rate_rps": log.rate_rps,
        "achieved_rps": round(log.achieved_rate_rps(), 4),
        "started_s": log.started_s,
        "stopped_s": log.stopped_s,
    }


def event_dict(event: base.Event) -> dict[str, Any]:
    return dataclasses.asdict(event)


def document(
    *,
    lab: str,
    title: str,
    scenario: str,
    backend: str,
    seed: int,
    started_at: dt.datetime,
    wall_s: float,
    run_s: float | None,
    checks: list[dict[str, Any]],
    logs: Iterable[requestlog.RequestLog],
    events: Iterable[base.Event],
    files: dict[str, str | None],
) -> dict[str, Any]:
    """The grade document; ``passed`` only when every check of lab.yaml passed."""
    passed, total = score(checks)
    return {
        "lab": lab,
        "title": title,
        "scenario": scenario,
        "backend": backend,
        "seed": seed,
        "started_at": started_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "wall_s": round(wall_s, 3),
        "run_s": run_s,
        "passed": total > 0 and passed == total,
        "score": f"{passed}/{total}",
        "checks": checks,
        "loads": [load_summary(log) for log in logs],
        "events": [event_dict(e) for e in events],
        "files": files,
    }


def stamp(when: dt.datetime) -> str:
    """``20250101T120000Z``."""
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def next_path(report_dir: Path, started_at: dt.datetime) -> Path:
    """``grade-<stamp>.json`` in ``report_dir``, with a suffix when that name is taken."""
    base_name = f"grade-{stamp(started_at)}"
    path = report_dir / f"{base_name}.json"
    n = 2
    while path.exists():
        path = report_dir / f"{base_name}-{n}.json"
        n += 1
    return path


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(doc: dict[str, Any], path: Path) -> Path:
    """Write ``doc`` to ``path`` and to ``latest.json`` beside it; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
    _write_atomic(path, text)
    _write_atomic(path.parent / LATEST, text)
    return path


#: The kubelet keeps at most 4096 bytes of a container's termination message.
SUMMARY_LIMIT = 4096


def summary(doc: dict[str, Any], limit: int = SUMMARY_LIMIT) -> dict[str, Any]:
    """The grade in a few hundred bytes: score and one short line per check.

    This is what the operator's grading Job leaves in ``/dev/termination-log`` and the Lab's
    ``status.grade`` shows; observations are cut so the whole fits in ``limit`` bytes.
    """
    passed, total = score(doc["checks"])
    out = {
        "lab": doc["lab"],
        "backend": doc["backend"],
        "score": doc["score"],
        "passed": passed,
        "total": total,
        "graded_at": doc["started_at"],
        "checks": [
            {"id": c["id"], "status": c["status"], "observed": str(c.get("observed_text") or "")}
            for c in doc["checks"]
        ],
    }
    width = 200
    while len(json.dumps(out, ensure_ascii=False).encode()) > limit and width > 0:
        width //= 2
        for c in out["checks"]:
            c["observed"] = c["observed"][:width]
    return out


def write_summary(doc: dict[str, Any], path: Path) -> None:
    """Write ``summary(doc)`` to ``path`` (a plain write: /dev/termination-log is not a folder)."""
    Path(path).write_text(json.dumps(summary(doc), ensure_ascii=False) + "\n", encoding="utf-8")
