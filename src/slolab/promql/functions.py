"""Functions of instant vectors and scalars: abs ... vector, label_replace, sort, time, timestamp.

Upstream: prometheus v2.42.0 promql/functions.go: ``simpleFunc`` (abs, ceil, floor, exp,
sqrt, ln, log2, log10, sgn and the trigonometric functions; all drop ``__name__``),
``funcRound`` (floor(v / to_nearest + 0.5) * to_nearest, computed with the inverse as
upstream), ``funcClamp*`` (clamp with max < min gives nothing), ``funcScalar`` (NaN unless
exactly one sample), ``funcVector``, ``funcAbsent`` and ``createLabelsForAbsentFunction``,
``funcLabelReplace`` (anchored regex, Go's ``$1`` / ``${name}`` template), ``funcLabelJoin``,
``funcSort`` / ``funcSortDesc`` (NaN last), ``funcTime``, ``funcTimestamp`` (the sample's own
time when the argument is a vector selector, else the step) and the date functions
(minute ... year, of the step or of each value, in UTC); engine.go's rangeEval check that no
step holds two samples of one label set.

Any other function of Prometheus 2.42 (the native-histogram ones: histogram_count,
histogram_sum, histogram_fraction) and any function newer than 2.42 is a PromQLError naming it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import promql_parser

from slolab.promql import histogram, values

if TYPE_CHECKING:
    from slolab.promql import evaluator

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

_SIMPLE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": np.sign,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "rad": lambda v: v * math.pi / 180,
    "deg": lambda v: v * 180 / math.pi,
}

_DATE: dict[str, Callable[[dt.datetime], float]] = {
    "minute": lambda t: t.minute,
    "hour": lambda t: t.hour,
    "day_of_week": lambda t: (t.weekday() + 1) % 7,
    "day_of_month": lambda t: t.day,
    "day_of_year": lambda t: t.timetuple().tm_yday,
    "days_in_month": lambda t: calendar.monthrange(t.year, t.month)[1],
    "month": lambda t: t.month,
    "year": lambda t: t.year,
}


def absent_labels(arg: object) -> values.Labels:
    """createLabelsForAbsentFunction: the equality matchers of a selector, once each."""
    while isinstance(arg, promql_parser.ParenExpr):
        arg = arg.expr
    if isinstance(arg, promql_parser.MatrixSelector):
        arg = arg.vector_selector
    if not isinstance(arg, promql_parser.VectorSelector):
        return ()
    built: dict[str, str] = {}
    has: set[str] = set()
    for m in arg.matchers.matchers:
        if m.name == "__name__":
            continue
        if m.op == promql_parser.MatchOp.Equal and m.name not in has:
            built[m.name] = m.value
            has.add(m.name)
        else:
            built.pop(m.name, None)
    return tuple(sorted((k, v) for k, v in built.items() if v != ""))


def go_expand(template: str, match: re.Match[str]) -> str:
    """Go's regexp.Expand: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``; unknown groups are empty."""
    out: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            name = template[i + 2 : end] if end >= 0 else ""
            if end < 0 or not name or not re.fullmatch(r"\w+", name):
                out.append("$")
                i += 1
                continue
            i = end + 1
        else:
            m = re.match(r"\w+", template[i + 1 :])
            if not m:
                out.append("$")
                i += 1
                continue
            name = m.group(0)
            i += 1 + len(name)
        if name.isdigit():
            index = int(name)
            out.append((match.group(index) or "") if index <= (match.re.groups) else "")
        else:
            out.append((match.group(name) or "") if name in match.re.groupindex else "")
    return "".join(out)


def _string_arg(node: object) -> str:
    while isinstance(node, promql_parser.ParenExpr):
        node = node.expr
    return node.val  # type: ignore[attr-defined]


def _relabel(vec: values.Vector, fn: Callable[[values.Labels], values.Labels]) -> values.Vector:
    return values.merge([values.StepSeries(fn(s.labels), s.values, s.present) for s in vec])


def _label_replace(ctx: evaluator.Context, node: promql_parser.Call, vec: values.Vector) -> values.Vector:
    dst, repl, src, regex = (_string_arg(a) for a in node.args[1:5])
    try:
        rx = re.compile("(?:" + regex + ")")
    except re.error:
        raise ctx.error(f"invalid regular expression in label_replace(): {regex}", regex) from None
    if not _LABEL_NAME.match(dst):
        raise ctx.error(f"invalid destination label name in label_replace(): {dst}", dst)

    def relabel(labels: values.Labels) -> values.Labels:
        named = dict(labels)
        m = rx.fullmatch(named.get(src, ""))
        if m is None:
            return labels
        named.pop(dst, None)
        result = go_expand(repl, m)
        if result:
            named[dst] = result
        return tuple(sorted(named.items()))

    return _relabel(vec, relabel)


def _label_join(ctx: evaluator.Context, node: promql_parser.Call, vec: values.Vector) -> values.Vector:
    dst, sep = _string_arg(node.args[1]), _string_arg(node.args[2])
    sources = [_string_arg(a) for a in node.args[3:]]
    for src in sources:
        if not _LABEL_NAME.match(src):
            raise ctx.error(f"invalid source label name in label_join(): {src}", src)
    if not _LABEL_NAME.match(dst):
        raise ctx.error(f"invalid destination label name in label_join(): {dst}", dst)

    def relabel(labels: values.Labels) -> values.Labels:
        named = dict(labels)
        joined = sep.join(named.get(src, "") for src in sources)
        named.pop(dst, None)
        if joined:
            named[dst] = joined
        return tuple(sorted(named.items()))

    return _relabel(vec, relabel)


def _sort(vec: values.Vector, descending: bool) -> values.Vector:
    """funcSort / funcSortDesc at the first step (an instant query has one).

    Upstream sorts with Go's sort.Sort, which for up to 12 elements is an insertion sort: that is
    done here with upstream's Less (NaN last, and NaNs end up in reverse input order). Longer
    vectors are sorted stably with NaN last; Go's pdqsort may order equal values differently."""
    shown = [s for s in vec if s.present[0]]
    keys = [float(s.values[0]) for s in shown]

    def before(a: float, b: float) -> bool:  # Less(j, j-1) of sort.Reverse(upstream heap)
        return math.isnan(b) or (a > b if descending else a < b)

    if len(shown) <= 12:
        order = list(range(len(shown)))
        for i in range(1, len(order)):
            j = i
            while j > 0 and before(keys[order[j]], keys[order[j - 1]]):
                order[j], order[j - 1] = order[j - 1], order[j]
                j -= 1
    else:
        order = sorted(
            range(len(shown)),
            key=lambda i: (
                math.isnan(keys[i]),
                0.0 if math.isnan(keys[i]) else (-keys[i] if descending else keys[i]),
            ),
        )
    return [shown[i] for i in order] + [s for s in vec if not s.present[0]]


def call(ctx: evaluator.Context, node: promql_parser.Call, evaluate: evaluator.Evaluate) -> values.Value:
    name = node.func.name
    n = len(ctx.steps_ms)
    if name == "time":
        return values.Scalar(ctx.steps_ms / 1000)
    if name == "pi":
        return values.Scalar(np.full(n, math.pi))
    if name in _DATE and not node.args:
        fn = _DATE[name]
        return [
            values.StepSeries(
                (), np.array([float(fn(_utc(t / 1000))) for t in ctx.steps_ms]), np.ones(n, bool)
            )
        ]
    if name not in _SUPPORTED:
        raise ctx.error(f"function {name}() is not evaluated by slolab's PromQL engine", name + "(")
    args = [evaluate(ctx, a) for a in node.args]
    with np.errstate(all="ignore"):
        return _SUPPORTED[name](ctx, node, args)


def _utc(t_s: float) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=int(t_s))


def _simple(fn: Callable[[np.ndarray], np.ndarray]):
    def run(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Vector:
        return values.merge(
            [
                values.StepSeries(values.drop_name(s.labels), fn(s.values), s.present)
                for s in values.as_vector(args[0])
            ]
        )

    return run


def _date(fn: Callable[[dt.datetime], float]):
    def run(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Vector:
        out = []
        for s in values.as_vector(args[0]):
            v = np.array(
                [float(fn(_utc(x))) if ok else 0.0 for x, ok in zip(s.values, s.present, strict=True)]
            )
            out.append(values.StepSeries(values.drop_name(s.labels), v, s.present))
        return values.merge(out)

    return run


def _round(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Vector:
    to_nearest = values.as_scalar(args[1]).values if len(args) > 1 else np.ones(len(ctx.steps_ms))
    inverse = 1.0 / to_nearest
    return _simple(lambda v: np.floor(v * inverse + 0.5) / inverse)(ctx, node, args)


def _clamp(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Vector:
    low, high = values.as_scalar(args[1]).values, values.as_scalar(args[2]).values
    out = []
    for s in values.as_vector(args[0]):
        v = np.maximum(low, np.minimum(high, s.values))
        out.append(values.StepSeries(values.drop_name(s.labels), v, s.present & ~(high < low)))
    return values.merge(out)


def _clamp_one(upper: bool):
    def run(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Vector:
        bound = values.as_scalar(args[1]).values
        out = []
        for s in values.as_vector(args[0]):
            v = np.minimum(bound, s.values) if upper else np.maximum(bound, s.values)
            out.append(values.StepSeries(values.drop_name(s.labels), v, s.present))
        return values.merge(out)

    return run


def _scalar(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Scalar:
    count = np.zeros(len(ctx.steps_ms), dtype=int)
    value = np.full(len(ctx.steps_ms), np.nan)
    for s in values.as_vector(args[0]):
        count += s.present
        value = np.where(s.present, s.values, value)
    return values.Scalar(np.where(count == 1, value, np.nan))


def _vector(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Vector:
    return [
        values.StepSeries((), values.as_scalar(args[0]).values.copy(), np.ones(len(ctx.steps_ms), dtype=bool))
    ]


def _absent(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Vector:
    any_present = np.zeros(len(ctx.steps_ms), dtype=bool)
    for s in values.as_vector(args[0]):
        any_present |= s.present
    if any_present.all():
        return []
    return [values.StepSeries(absent_labels(node.args[0]), np.ones(len(ctx.steps_ms)), ~any_present)]


def _timestamp(ctx: evaluator.Context, node: promql_parser.Call, args: list[values.Value]) -> values.Vector:
    arg = node.args[0]
    while isinstance(arg, promql_parser.ParenExpr):
        arg = arg.expr
    direct = isinstance(arg, promql_parser.VectorSelector)
    out = []
    for s in values.as_vector(args[0]):
        t = s.sample_t_ms if direct and s.sample_t_ms is not None else ctx.steps_ms
        out.append(values.StepSeries(values.drop_name(s.labels), t / 1000, s.present))
    return values.merge(out)


_SUPPORTED: dict[str, Callable] = {name: _simple(fn) for name, fn in _SIMPLE.items()}
_SUPPORTED.update({name: _date(fn) for name, fn in _DATE.items()})
_SUPPORTED.update(
    {
        "round": _round,
        "clamp": _clamp,
        "clamp_min": _clamp_one(False),
        "clamp_max": _clamp_one(True),
        "scalar": _scalar,
        "vector": _vector,
        "absent": _absent,
        "timestamp": _timestamp,
        "label_replace": lambda ctx, node, args: _label_replace(ctx, node, values.as_vector(args[0])),
        "label_join": lambda ctx, node, args: _label_join(ctx, node, values.as_vector(args[0])),
        "sort": lambda ctx, node, args: _sort(values.as_vector(args[0]), False),
        "sort_desc": lambda ctx, node, args: _sort(values.as_vector(args[0]), True),
        "histogram_quantile": lambda ctx, node, args: histogram.histogram_quantile(
            values.as_scalar(args[0]).values, values.as_vector(args[1])
        ),
    }
)
