"""``slolab promql``: one PromQL query over a source of samples, shown as a table or as JSON.

The source is a TSDB: an OpenMetrics file (``--samples FILE.om``, ``load_samples``) or a
finished grade's metrics.tsdb (``slolab promql NAME``, ``slolab.report.runmetrics.load``); both
feed ``run``, which returns the Prometheus HTTP API body; ``table`` turns it into a rich table.
Without ``--at`` an instant query is evaluated at the newest sample. ``time_offset_s`` lets the
caller speak in its own seconds (run seconds): the engine sees ``t + time_offset_s``, and every
timestamp of the answer is moved back by it (to the millisecond, as Prometheus keeps time).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from rich.table import Table

from slolab import errors
from slolab.promql import engine, openmetrics, tsdb


def load_samples(path: Path) -> tsdb.TSDB:
    """The TSDB of an OpenMetrics file (as ``openmetrics.dump`` writes it)."""
    if not path.is_file():
        raise errors.InputError(
            errors.Problem(str(path), "no such file"),
            "Pass an OpenMetrics file with timestamps, e.g. one written by slolab.promql.openmetrics.dump.",
        )
    return openmetrics.load(path.read_text(encoding="utf-8"), source=str(path))


def parse_seconds(text: str, option: str) -> float:
    """A number of seconds (run seconds: ``300``, ``12.5``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise errors.InputError(
            errors.Problem("command line", f"not a number of seconds: {text!r}", option),
            "Give run seconds, as the grade report counts them (e.g. 300).",
        )
    return value


def parse_time(text: str, option: str) -> float:
    """Unix seconds, or an RFC 3339 time (``2026-01-02T03:04:05Z``)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.InputError(
            errors.Problem("command line", f"not a time: {text!r}", option),
            "Give unix seconds (1700000000.5) or RFC 3339 (2023-11-14T22:13:20Z).",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def run(
    db: tsdb.TSDB,
    expr: str,
    *,
    at_s: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    step_s: float | None = None,
    time_offset_s: float = 0.0,
) -> dict[str, Any]:
    """The /api/v1/query (or query_range, with start, end and step) body for ``expr`` over ``db``;
    times in and out are ``time_offset_s`` before the samples' own (see the module docstring)."""
    ranged = [start_s, end_s, step_s]
    if any(v is not None for v in ranged) and not all(v is not None for v in ranged):
        raise errors.InputError(
            errors.Problem("command line", "a range query needs --start, --end and --step together"),
            "Add the missing ones, or drop them all for an instant query (--at).",
        )
    if at_s is not None and start_s is not None:
        raise errors.InputError(
            errors.Problem(
                "command line", "--at is for an instant query; --start/--end/--step for a range query"
            )
        )
    eng = engine.Engine(db)
    off = time_offset_s
    if start_s is not None and end_s is not None:
        body = eng.api_response(expr, start_s=start_s + off, end_s=end_s + off, step_s=step_s)
    elif at_s is None:
        span = db.time_range_ms()
        body = eng.api_response(expr, at_s=span[1] / 1000 if span else off)
    else:
        body = eng.api_response(expr, at_s=at_s + off)
    return shift(body, -off) if off else body


def _moved(t: float, by_s: float) -> float | int:
    t_ms = round((float(t) + by_s) * 1000)
    return engine.format_time(t_ms)


def shift(body: dict[str, Any], by_s: float) -> dict[str, Any]:
    """An HTTP API body with every timestamp moved by ``by_s`` (kept to the millisecond)."""
    data = body.get("data")
    if not data:
        return body
    result = data["result"]
    if data["resultType"] in ("scalar", "string"):
        moved: Any = [_moved(result[0], by_s), result[1]]
    else:
        moved = []
        for row in result:
            new = dict(row)
            if "value" in row:
                new["value"] = [_moved(row["value"][0], by_s), row["value"][1]]
            if "values" in row:
                new["values"] = [[_moved(t, by_s), v] for t, v in row["values"]]
            moved.append(new)
    return {**body, "data": {**data, "result": moved}}


def _series(metric: dict[str, str]) -> str:
    name = metric.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in metric.items() if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def table(body: dict[str, Any], expr: str) -> Table:
    """A table of an HTTP API body: one row per series (range queries: points, min, max, last, to
    6 significant digits; ``--json`` has every digit)."""
    data = body["data"]
    kind, result = data["resultType"], data["result"]
    out = Table(title=f"{expr}  ({kind})", title_justify="left")
    if kind in ("scalar", "string"):
        out.add_column("time")
        out.add_column("value", justify="right")
        out.add_row(str(result[0]), result[1])
        return out
    if kind == "vector":
        out.add_column("series")
        out.add_column("value", justify="right")
        for row in result:
            out.add_row(_series(row["metric"]), row["value"][1])
        if not result:
            out.add_row("(no series)", "")
        return out
    out.add_column("series")
    for col in ("points", "min", "max", "last"):
        out.add_column(col, justify="right")
    for row in result:
        points = row["values"]
        numbers = [float(v) for _, v in points if not math.isnan(float(v))]
        low = f"{min(numbers):.6g}" if numbers else "NaN"
        high = f"{max(numbers):.6g}" if numbers else "NaN"
        last = f"{float(points[-1][1]):.6g}"
        out.add_row(_series(row["metric"]), str(len(points)), low, high, last)
    if not result:
        out.add_row("(no series)", "", "", "", "")
    return out
