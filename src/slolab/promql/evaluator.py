"""Evaluation of a parsed PromQL expression over a grid of steps: selectors, offset, @, subqueries.

Upstream: prometheus v2.42.0 promql/engine.go: ``evaluator.eval`` (the node dispatch),
``vectorSelectorSingle`` (the newest sample at or before ``t - offset`` and no older than the
lookback delta, none when it is a staleness marker), ``matrixIterSlice`` (a range selector
takes the samples in the closed window ``[t - offset - range, t - offset]``, staleness
markers dropped), the ``SubqueryExpr`` case (inner steps aligned to multiples of the subquery
step, from the first at or after ``start - offset - range``; the default step is the global
evaluation interval, 1m) and ``PreprocessExpr`` / ``setOffsetForAtModifier`` (``@`` pins the
evaluation time of its subtree; ``start()`` / ``end()`` are the outer query's start and end).

All steps are evaluated at once: a node returns one value per step (see values.py). Functions,
aggregations and binary operators live in functions.py, rangefuncs.py, aggregations.py and
binops.py. Native histograms are not modelled; ``{a="b" or c="d"}`` selectors (Prometheus 3)
are an error.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable

import numpy as np
import promql_parser

from slolab import errors
from slolab.promql import aggregations, binops, functions, rangefuncs, tsdb, values


@dataclasses.dataclass
class Context:
    """What every node needs: the samples, the steps and the query's own start and end."""

    db: tsdb.TSDB
    steps_ms: np.ndarray
    start_ms: int
    end_ms: int
    lookback_ms: int
    subquery_step_ms: int
    query: str

    def at_steps(self, steps_ms: np.ndarray) -> Context:
        return dataclasses.replace(self, steps_ms=steps_ms)

    def error(self, message: str, near: str | None = None) -> errors.PromQLError:
        """A PromQLError, positioned at the first occurrence of ``near`` in the query when found."""
        position = None
        if near:
            found = self.query.find(near)
            position = found if found >= 0 else None
        return errors.PromQLError(message, self.query, position)


#: evaluate(ctx, node): the value of a node at every step; passed to the operator modules.
Evaluate = Callable[[Context, object], values.Value]


def td_ms(delta: dt.timedelta | None) -> int:
    if delta is None:
        return 0
    return (delta.days * 86_400_000) + (delta.seconds * 1000) + delta.microseconds // 1000


def ref_times(ctx: Context, node: object) -> np.ndarray:
    """Per step, the time a selector or subquery reads at: ``@`` (or the step) minus offset."""
    at = getattr(node, "at", None)
    offset_ms = td_ms(getattr(node, "offset", None))
    if at is None:
        return ctx.steps_ms - offset_ms
    kind = at.type
    if kind == promql_parser.AtModifierType.Start:
        at_ms = ctx.start_ms
    elif kind == promql_parser.AtModifierType.End:
        at_ms = ctx.end_ms
    else:
        at_ms = round(at.at.timestamp() * 1000)
    return np.full_like(ctx.steps_ms, at_ms - offset_ms)


# ---------------------------------------------------------------- selectors


def _compile_matchers(ctx: Context, vs: promql_parser.VectorSelector) -> list[tuple[str, str, object]]:
    if vs.matchers.or_matchers:
        raise ctx.error("'or' inside a selector's braces is Prometheus 3 syntax, not in 2.42", " or ")
    out: list[tuple[str, str, object]] = []
    if vs.name is not None:
        out.append(("eq", "__name__", vs.name))
    for m in vs.matchers.matchers:
        op = m.op
        if op == promql_parser.MatchOp.Equal:
            out.append(("eq", m.name, m.value))
        elif op == promql_parser.MatchOp.NotEqual:
            out.append(("ne", m.name, m.value))
        else:
            try:
                rx = re.compile(m.value)
            except re.error as exc:
                raise ctx.error(
                    f"invalid regular expression {m.value!r} for label {m.name}: {exc}", m.value
                ) from None
            kind = "re" if op == promql_parser.MatchOp.Re else "nre"
            out.append((kind, m.name, rx))
    return out


def select(ctx: Context, vs: promql_parser.VectorSelector) -> list[tsdb.Series]:
    """The stored series every matcher of ``vs`` accepts, in label order."""
    matchers = _compile_matchers(ctx, vs)
    names = [want for kind, name, want in matchers if kind == "eq" and name == "__name__"]
    candidates = ctx.db.series_named(str(names[0])) if names else ctx.db.series()
    found = []
    for series in candidates:
        named = dict(series.labels)
        ok = True
        for kind, name, want in matchers:
            have = named.get(name, "")
            if kind == "eq":
                ok = have == want
            elif kind == "ne":
                ok = have != want
            elif kind == "re":
                ok = want.fullmatch(have) is not None  # type: ignore[attr-defined]
            else:
                ok = want.fullmatch(have) is None  # type: ignore[attr-defined]
            if not ok:
                break
        if ok:
            found.append(series)
    return found


def vector_selector(ctx: Context, vs: promql_parser.VectorSelector) -> values.Vector:
    refs = ref_times(ctx, vs)
    out: values.Vector = []
    for series in select(ctx, vs):
        t, v = series.arrays()
        if len(t) == 0:
            continue
        idx = np.searchsorted(t, refs, side="right") - 1
        safe = np.maximum(idx, 0)
        picked_t = t[safe]
        picked_v = v[safe]
        present = (idx >= 0) & (picked_t >= refs - ctx.lookback_ms) & ~tsdb.stale_mask(picked_v)
        if present.any():
            out.append(values.StepSeries(series.labels, picked_v.copy(), present, picked_t))
    return out


def range_series(series: tsdb.Series) -> values.RangeSeries:
    t, v = series.clean_arrays()
    return values.RangeSeries(series.labels, t, v)


def matrix_selector(ctx: Context, ms: promql_parser.MatrixSelector) -> values.RangeArg:
    vs = ms.vector_selector
    refs = ref_times(ctx, vs)
    return values.RangeArg([range_series(s) for s in select(ctx, vs)], refs, td_ms(ms.range))


def subquery(ctx: Context, sq: promql_parser.SubqueryExpr) -> values.RangeArg:
    refs = ref_times(ctx, sq)
    range_ms = td_ms(sq.range)
    step_ms = td_ms(sq.step) if sq.step is not None else ctx.subquery_step_ms
    if step_ms <= 0:
        raise ctx.error("a subquery step must be > 0", ":")
    lo = int(refs.min()) - range_ms
    first = step_ms * (lo // step_ms)
    if first < lo:
        first += step_ms
    inner_steps = np.arange(first, int(refs.max()) + 1, step_ms, dtype=np.int64)
    inner = evaluate(ctx.at_steps(inner_steps), sq.expr)
    if not isinstance(inner, list):
        raise ctx.error("subquery is only allowed on an instant vector", "[")
    series = [values.RangeSeries(s.labels, inner_steps[s.present], s.values[s.present]) for s in inner]
    return values.RangeArg(series, refs, range_ms)


# ---------------------------------------------------------------- dispatch


def unwrap(node: object) -> object:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node


def evaluate(ctx: Context, node: object) -> values.Value:
    """The value of ``node`` at every step of ``ctx``."""
    n = len(ctx.steps_ms)
    if isinstance(node, promql_parser.ParenExpr):
        return evaluate(ctx, node.expr)
    if isinstance(node, promql_parser.NumberLiteral):
        return values.Scalar(np.full(n, float(node.val)))
    if isinstance(node, promql_parser.StringLiteral):
        return values.String(node.val)
    if isinstance(node, promql_parser.VectorSelector):
        return vector_selector(ctx, node)
    if isinstance(node, promql_parser.MatrixSelector):
        return matrix_selector(ctx, node)
    if isinstance(node, promql_parser.SubqueryExpr):
        return subquery(ctx, node)
    if isinstance(node, promql_parser.UnaryExpr):
        return _unary_minus(evaluate(ctx, node.expr))
    if isinstance(node, promql_parser.BinaryExpr):
        return binops.evaluate(ctx, node, evaluate(ctx, node.lhs), evaluate(ctx, node.rhs))
    if isinstance(node, promql_parser.AggregateExpr):
        return aggregations.evaluate(ctx, node, evaluate)
    if isinstance(node, promql_parser.Call):
        if node.func.name in rangefuncs.FUNCTIONS:
            return rangefuncs.call(ctx, node, evaluate)
        return functions.call(ctx, node, evaluate)
    raise ctx.error(f"the expression {type(node).__name__} is not evaluated by slolab")


def _unary_minus(value: values.Value) -> values.Value:
    if isinstance(value, values.Scalar):
        return values.Scalar(-value.values)
    if isinstance(value, list):
        out = [values.StepSeries(values.drop_name(s.labels), -s.values, s.present) for s in value]
        values.check_unique_labels(out)
        return out
    raise TypeError(f"unary minus on {type(value).__name__}")
