"""``Engine(db).query(expr, at_s)`` / ``.query_range(...)``: PromQL over a TSDB, with Prometheus' answers.

Upstream: prometheus v2.42.0 promql/engine.go ``execEvalStmt`` (an instant query is one step;
a range query's steps are ``start, start+step, ... <= end`` and its matrix is sorted by
labels; a range query of a range vector or a string is an error) and web/api/v1/api.go with
util/jsonutil/marshal.go (values as strings, "NaN", "+Inf", "-Inf", exponent form below 1e-6
and from 1e21; timestamps as seconds).

``query`` and ``query_range`` return what prometheus-api-client's ``custom_query`` /
``custom_query_range`` return (the ``data.result`` of the HTTP API), the shapes
slolab.metrics.query gives for a real Prometheus; ``api_response`` returns the whole body of
``/api/v1/query`` or ``/api/v1/query_range``. Queries are parsed with the ``promql-parser``
package (syntax.py); a query it rejects, or that uses what this engine does not evaluate, is a
``PromQLError`` with the position in the query where it is known.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from slolab import errors
from slolab.promql import evaluator, syntax, tsdb, values

DEFAULT_SUBQUERY_STEP_S = 60.0  # Prometheus' default global evaluation_interval


def format_value(v: float) -> str:
    """A sample value as the HTTP API writes it (util/jsonutil MarshalValue)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v != 0 and (abs(v) < 1e-6 or abs(v) >= 1e21):
        return repr(v).replace("e-0", "e-0").replace("inf", "Inf")
    return np.format_float_positional(v, trim="-", unique=True)


def format_time(t_ms: int) -> float | int:
    """A timestamp in seconds, an int when whole (as MarshalTimestamp writes it)."""
    return t_ms // 1000 if t_ms % 1000 == 0 else t_ms / 1000


class Engine:
    """PromQL over one TSDB."""

    def __init__(
        self,
        db: tsdb.TSDB,
        *,
        lookback_delta_s: float | None = None,
        subquery_step_s: float = DEFAULT_SUBQUERY_STEP_S,
    ) -> None:
        self.db = db
        self.lookback_ms = tsdb.to_ms(
            lookback_delta_s if lookback_delta_s is not None else db.lookback_delta_s
        )
        self.subquery_step_ms = tsdb.to_ms(subquery_step_s)

    # ---------------------------------------------------------------- evaluation

    def _run(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> tuple[object, values.Value]:
        node = syntax.parse(query)
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        ctx = evaluator.Context(
            self.db, steps, start_ms, end_ms, self.lookback_ms, self.subquery_step_ms, query
        )
        return node, evaluator.evaluate(ctx, node)

    def instant(self, query: str, at_s: float) -> tuple[str, Any]:
        """(resultType, result) of an instant query, result as the HTTP API's ``data.result``."""
        at_ms = tsdb.to_ms(at_s)
        _, value = self._run(query, at_ms, at_ms, 1)
        t = format_time(at_ms)
        if isinstance(value, values.Scalar):
            return "scalar", [t, format_value(float(value.values[0]))]
        if isinstance(value, values.String):
            return "string", [t, value.value]
        if isinstance(value, values.RangeArg):
            result = []
            for s in value.series:
                lo, hi = value.windows(s)
                a, b = int(lo[0]), int(hi[0])
                if b > a:
                    points = [
                        [format_time(int(ti)), format_value(float(vi))]
                        for ti, vi in zip(s.t_ms[a:b], s.values[a:b], strict=True)
                    ]
                    result.append({"metric": dict(s.labels), "values": points})
            return "matrix", result
        return "vector", [
            {"metric": dict(s.labels), "value": [t, format_value(float(s.values[0]))]}
            for s in value
            if s.present[0]
        ]

    def range(self, query: str, start_s: float, end_s: float, step_s: float) -> tuple[str, Any]:
        """("matrix", result) of a range query."""
        # times round to the millisecond; the step is a Go time.Duration, truncated to whole ms
        start_ms, end_ms, step_ms = tsdb.to_ms(start_s), tsdb.to_ms(end_s), int(step_s * 1e9) // 1_000_000
        if step_ms <= 0:
            raise errors.PromQLError(
                f"zero or negative query resolution step widths are not accepted (step {step_s!r})"
            )
        if end_ms < start_ms:
            raise errors.PromQLError("end timestamp must not be before start time")
        _node, value = self._run(query, start_ms, end_ms, step_ms)
        if isinstance(value, values.RangeArg | values.String):
            kind = "range vector" if isinstance(value, values.RangeArg) else "string"
            raise errors.PromQLError(
                f'invalid expression type "{kind}" for range query, must be Scalar or instant Vector',
                query,
                0,
            )
        steps = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        if isinstance(value, values.Scalar):
            series = [values.StepSeries((), value.values, np.ones(len(steps), dtype=bool))]
        else:
            series = sorted((s for s in value if s.present.any()), key=lambda s: s.labels)
        result = []
        for s in series:
            idx = np.nonzero(s.present)[0]
            points = [[format_time(int(steps[i])), format_value(float(s.values[i]))] for i in idx]
            result.append({"metric": dict(s.labels), "values": points})
        return "matrix", result

    # ---------------------------------------------------------------- the two public shapes

    def query(self, query: str, at_s: float) -> Any:
        """What prometheus-api-client's ``custom_query`` returns."""
        return self.instant(query, at_s)[1]

    def query_range(self, query: str, start_s: float, end_s: float, step_s: float) -> list[dict[str, Any]]:
        """What prometheus-api-client's ``custom_query_range`` returns."""
        return self.range(query, start_s, end_s, step_s)[1]

    def api_response(
        self,
        query: str,
        at_s: float | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        step_s: float | None = None,
    ) -> dict[str, Any]:
        """The body of /api/v1/query (``at_s``) or /api/v1/query_range (start, end, step)."""
        if start_s is not None or end_s is not None or step_s is not None:
            if start_s is None or end_s is None or step_s is None:
                raise errors.PromQLError("a range query needs start, end and step")
            kind, result = self.range(query, start_s, end_s, step_s)
        else:
            if at_s is None:
                raise errors.PromQLError("an instant query needs a time (at_s)")
            kind, result = self.instant(query, at_s)
        return {"status": "success", "data": {"resultType": kind, "result": result}}
