"""A TSDB as OpenMetrics text, for ``promtool tsdb create-blocks-from openmetrics``, and back.

Format: https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md
as Prometheus v2.42.0 reads it (model/textparse/openmetricsparse.go, cmd/promtool/backfill.go:
every sample needs a timestamp, in seconds; the file ends with ``# EOF``). Each metric family
gets its ``# TYPE`` line (counter, gauge, histogram, summary, unknown, from ``TSDB.types``;
a family without one is ``unknown``), then its series, each with all its samples in time
order. Timestamps are written with millisecond precision, exactly as stored.

Staleness markers: OpenMetrics has no way to write Prometheus' StaleNaN (a ``NaN`` sample is
an ordinary NaN), so promtool cannot backfill them. ``dump`` leaves them out (``stale="drop"``,
the default) and a series then stays visible for the lookback delta after its last sample in
both engines; ``stale="error"`` refuses a TSDB that has any. Tests that compare with a real
Prometheus therefore compare the engine over ``load(dump(db))``, the same samples Prometheus
got; staleness itself is covered by unit tests against upstream's documented behaviour.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from slolab import errors
from slolab.promql import tsdb

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created", ""),
}
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_CLOSE = re.compile(r"\s*\}")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,?)')


def family_of(name: str, types: dict[str, str]) -> str:
    """The metric family a sample name belongs to, given the declared family types."""
    for family_type, suffixes in _SUFFIXES.items():
        for suffix in suffixes:
            if suffix and name.endswith(suffix):
                base = name[: -len(suffix)]
                if types.get(base) == family_type:
                    return base
    return name


def format_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def lines(db: tsdb.TSDB, stale: str = "drop") -> Iterable[str]:
    """The OpenMetrics text line by line (no newlines)."""
    by_family: dict[str, list[tsdb.Series]] = {}
    for series in db.series():
        by_family.setdefault(family_of(series.name, db.types), []).append(series)
    for family in sorted(by_family):
        family_type = db.types.get(family, "unknown")
        yield f"# TYPE {family} {family_type}"
        if family in db.help:
            yield f"# HELP {family} {_escape(db.help[family])}"
        for series in by_family[family]:
            named = dict(series.labels)
            name = named.pop("__name__")
            body = ",".join(f'{k}="{_escape(v)}"' for k, v in named.items())
            head = f"{name}{{{body}}}" if body else name
            for t_ms, value in zip(series.t_ms, series.values, strict=True):
                if tsdb.is_stale(value):
                    if stale == "error":
                        raise errors.InputError(
                            errors.Problem(
                                "openmetrics", f"staleness marker at {t_ms} ms cannot be exported", head
                            )
                        )
                    continue
                seconds = f"{t_ms // 1000}.{t_ms % 1000:03d}" if t_ms >= 0 else f"{t_ms / 1000:.3f}"
                yield f"{head} {format_value(value)} {seconds}"
    yield "# EOF"


def dump(db: tsdb.TSDB, stale: str = "drop") -> str:
    return "\n".join(lines(db, stale)) + "\n"


def load(
    text: str, source: str = "<openmetrics>", lookback_delta_s: float = tsdb.DEFAULT_LOOKBACK_DELTA_S
) -> tsdb.TSDB:
    """Parse OpenMetrics text (with timestamps) into a TSDB; every bad line is reported at once."""
    db = tsdb.TSDB(lookback_delta_s)
    problems: list[errors.Problem] = []
    saw_eof = False
    heads: dict[str, tsdb.Labels] = {}  # a series' "name{labels}" text -> its labels, parsed once
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if saw_eof:
            problems.append(errors.Problem(source, "content after # EOF", line=number))
            break
        if line.startswith("#"):
            parts = line.split(None, 3)
            if line == "# EOF":
                saw_eof = True
            elif len(parts) >= 4 and parts[1] == "TYPE":
                db.declare(parts[2], parts[3].strip())
            elif len(parts) >= 4 and parts[1] == "HELP":
                db.help[parts[2]] = _unescape(parts[3])
            continue
        try:
            # fast path: "name{labels} value timestamp" of a series seen before (no exemplar)
            head, _, rest = line.rpartition("} ") if "}" in line else line.partition(" ")
            head = head + "}" if "}" in line else head
            labels = heads.get(head)
            parts = rest.split()
            if labels is None or len(parts) != 2 or " # " in line:
                labels, t_s, value = _parse_sample(line)
                if " # " not in line:
                    heads[head] = labels
            else:
                t_s, value = float(parts[1]), _parse_value(parts[0])
            db.append_ms(labels, tsdb.to_ms(t_s), value)
        except ValueError as exc:
            problems.append(errors.Problem(source, str(exc), line=number))
        except errors.InputError as exc:
            problems.extend(errors.Problem(source, p.message, p.field, number) for p in exc.problems)
    if not saw_eof:
        problems.append(errors.Problem(source, "the file does not end with # EOF"))
    if problems:
        raise errors.InputError(
            problems, "Export samples with slolab.promql.openmetrics.dump, or fix the lines above."
        )
    return db


def _parse_sample(line: str) -> tuple[tsdb.Labels, float, float]:
    """``name{labels} value timestamp [# exemplar]`` -> (labels, t_s, value)."""
    m = _NAME.match(line)
    if not m:
        raise ValueError(f"not an OpenMetrics sample line: {line!r}")
    pairs = [("__name__", m.group(0))]
    pos = m.end()
    if line.startswith("{", pos):
        pos += 1
        while True:
            close = _CLOSE.match(line, pos)
            if close:
                pos = close.end()
                break
            lm = _LABEL.match(line, pos)
            if not lm:
                raise ValueError(f"bad label set in {line!r}")
            pairs.append((lm.group(1), _unescape(lm.group(2))))
            pos = lm.end()
            if lm.group(3) == "":  # no comma: the set must close here
                close = _CLOSE.match(line, pos)
                if not close:
                    raise ValueError(f"bad label set in {line!r}")
                pos = close.end()
                break
    rest = line[pos:].split(" # ", 1)[0].split()
    if len(rest) == 1:
        raise ValueError("the sample has no timestamp (backfilling needs one)")
    if len(rest) != 2:
        raise ValueError(f"not an OpenMetrics sample line: {line!r}")
    return tsdb.labels_of(pairs), float(rest[1]), _parse_value(rest[0])


_SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "Inf": math.inf}


def _parse_value(text: str) -> float:
    special = _SPECIAL.get(text)
    return float(text) if special is None else special
