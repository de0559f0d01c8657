"""Aggregation operators: sum, avg, min, max, count, group, stddev, stdvar, quantile, topk, bottomk,
count_values, with ``by`` / ``without``.

Upstream: prometheus v2.42.0 promql/engine.go ``evaluator.aggregation``: the group of a sample
is its labels kept by ``by`` (or without the ``without`` labels and ``__name__``); sum adds in
input order; avg is the running mean ``mean += v/n - mean/n`` (an infinite mean stays unless a
NaN or an opposite infinity comes); min/max replace a NaN; stddev/stdvar are Welford's running
variance; topk/bottomk keep the input series' labels and select with container/heap exactly as
upstream (ties resolve the same way; the result is sorted with Go's insertion sort, which
pdqsort uses for up to 12 elements); a k that does not fit int64 is an error, k < 1 gives
nothing; count_values adds the value, formatted as Go's ``FormatFloat(v, 'f', -1, 64)``, as a
label. The parameter of topk/bottomk/quantile is evaluated at each step.

Not modelled: native histograms in sum/avg.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np
import promql_parser

from slolab.promql import histogram, values

if TYPE_CHECKING:
    from slolab.promql import evaluator

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_MAX_INT64 = 9.223372036854775807e18


def format_go_float(v: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return np.format_float_positional(v, trim="-", unique=True)


def _group_labels(labels: values.Labels, grouping: list[str], without: bool) -> values.Labels:
    if without:
        drop = set(grouping) | {"__name__"}
        return tuple(p for p in labels if p[0] not in drop)
    keep = set(grouping)
    return tuple(p for p in labels if p[0] in keep)


def evaluate(
    ctx: evaluator.Context, node: promql_parser.AggregateExpr, evaluate_fn: evaluator.Evaluate
) -> values.Vector:
    op = str(node.op)
    modifier = node.modifier
    without = modifier is not None and modifier.type == promql_parser.AggModifierType.Without
    grouping = sorted(modifier.labels) if modifier is not None else []
    vec = values.as_vector(evaluate_fn(ctx, node.expr))
    if op == "count_values":
        label = values.as_string(evaluate_fn(ctx, node.param)).value
        if not _LABEL_NAME.match(label):
            raise ctx.error(f"invalid label name {label!r}", "count_values")
        return _count_values(ctx, vec, label, grouping, without)
    if op in ("topk", "bottomk", "quantile"):
        param = values.as_scalar(evaluate_fn(ctx, node.param)).values
        if op == "quantile":
            return _quantile(ctx, vec, param, grouping, without)
        return _topk(ctx, vec, param, grouping, without, bottom=op == "bottomk")
    if op not in _REDUCERS:
        raise ctx.error(f"aggregation {op} is not in Prometheus 2.42 and not evaluated by slolab", op)
    groups: dict[values.Labels, list[values.StepSeries]] = {}
    for s in vec:
        groups.setdefault(_group_labels(s.labels, grouping, without), []).append(s)
    out: values.Vector = []
    with np.errstate(all="ignore"):
        for labels, members in groups.items():
            value, count = _REDUCERS[op](members, len(ctx.steps_ms))
            out.append(values.StepSeries(labels, value, count > 0))
    return out


def _stacked_sum(members: list[values.StepSeries], n: int, count_only: bool = False):
    """sum (or count) of a group: rows added in input order, as upstream's running sum."""
    present = np.array([s.present for s in members])
    count = present.sum(axis=0).astype(float)
    if count_only:
        return count, count
    stacked = np.where(present, np.array([s.values for s in members]), 0.0)
    return stacked.sum(axis=0), count


def _rows(members: list[values.StepSeries], n: int, first_fn, rest_fn, finish_fn=None):
    acc = np.zeros(n)
    mean = np.zeros(n)
    count = np.zeros(n)
    for s in members:
        p, v = s.present, s.values
        first = p & (count == 0)
        rest = p & (count > 0)
        count = count + p
        new_acc, new_mean = rest_fn(acc, mean, count, v)
        acc = np.where(first, first_fn(v), np.where(rest, new_acc, acc))
        mean = np.where(first, v, np.where(rest, new_mean, mean))
    if finish_fn is not None:
        acc = finish_fn(acc, mean, count)
    return acc, count


def _avg_rest(acc, mean, count, v):
    keep = np.isinf(mean) & ((np.isinf(v) & ((mean > 0) == (v > 0))) | (~np.isinf(v) & ~np.isnan(v)))
    updated = mean + (v / count - mean / count)
    return acc, np.where(keep, mean, updated)


def _var_rest(acc, mean, count, v):
    delta = v - mean
    new_mean = mean + delta / count
    return acc + delta * (v - new_mean), new_mean


_REDUCERS = {
    "sum": lambda m, n: _stacked_sum(m, n),
    "avg": lambda m, n: _rows(m, n, lambda v: v, _avg_rest, lambda a, mu, c: mu),
    "max": lambda m, n: _rows(
        m, n, lambda v: v, lambda a, mu, c, v: (np.where((a < v) | np.isnan(a), v, a), mu)
    ),
    "min": lambda m, n: _rows(
        m, n, lambda v: v, lambda a, mu, c, v: (np.where((a > v) | np.isnan(a), v, a), mu)
    ),
    "count": lambda m, n: _stacked_sum(m, n, count_only=True),
    "group": lambda m, n: _rows(m, n, lambda v: np.ones_like(v), lambda a, mu, c, v: (a, mu)),
    "stdvar": lambda m, n: _rows(m, n, lambda v: np.zeros_like(v), _var_rest, lambda a, mu, c: a / c),
    "stddev": lambda m, n: _rows(
        m, n, lambda v: np.zeros_like(v), _var_rest, lambda a, mu, c: np.sqrt(a / c)
    ),
}


def _per_step_groups(vec: values.Vector, grouping: list[str], without: bool, i: int):
    """The groups at step ``i``, in order of first appearance: labels -> [(series, value)]."""
    groups: dict[values.Labels, list[tuple[values.StepSeries, float]]] = {}
    for s in vec:
        if s.present[i]:
            groups.setdefault(_group_labels(s.labels, grouping, without), []).append((s, float(s.values[i])))
    return groups


def _quantile(
    ctx: evaluator.Context, vec: values.Vector, q: np.ndarray, grouping: list[str], without: bool
) -> values.Vector:
    n = len(ctx.steps_ms)
    out: dict[values.Labels, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(n):
        for labels, members in _per_step_groups(vec, grouping, without, i).items():
            v, p = out.setdefault(labels, (np.zeros(n), np.zeros(n, dtype=bool)))
            v[i] = histogram.quantile(float(q[i]), [x for _, x in members])
            p[i] = True
    return [values.StepSeries(labels, v, p) for labels, (v, p) in out.items()]


def _count_values(
    ctx: evaluator.Context, vec: values.Vector, label: str, grouping: list[str], without: bool
) -> values.Vector:
    n = len(ctx.steps_ms)
    if not without:
        grouping = sorted({*grouping, label})
    out: dict[values.Labels, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(n):
        for s in vec:
            if not s.present[i]:
                continue
            named = dict(s.labels)
            named[label] = format_go_float(float(s.values[i]))
            labels = _group_labels(tuple(sorted(named.items())), grouping, without)
            v, p = out.setdefault(labels, (np.zeros(n), np.zeros(n, dtype=bool)))
            v[i] += 1
            p[i] = True
    return [values.StepSeries(labels, v, p) for labels, (v, p) in out.items()]


# ---------------------------------------------------------------- topk / bottomk, as container/heap


def _less(a: float, b: float, bottom: bool) -> bool:
    if math.isnan(a):
        return True
    return a > b if bottom else a < b


def _up(h: list, j: int, bottom: bool) -> None:
    while True:
        i = (j - 1) // 2
        if j <= 0 or i == j or not _less(h[j][1], h[i][1], bottom):
            break
        h[i], h[j] = h[j], h[i]
        j = i


def _down(h: list, i0: int, n: int, bottom: bool) -> None:
    i = i0
    while True:
        j1 = 2 * i + 1
        if j1 >= n:
            break
        j = j1
        j2 = j1 + 1
        if j2 < n and _less(h[j2][1], h[j1][1], bottom):
            j = j2
        if not _less(h[j][1], h[i][1], bottom):
            break
        h[i], h[j] = h[j], h[i]
        i = j


def _select(members: list[tuple[values.StepSeries, float]], k: int, bottom: bool) -> list:
    h = [members[0]]
    for item in members[1:]:
        top = h[0][1]
        better = item[1] > top if not bottom else item[1] < top
        if len(h) < k or better or math.isnan(top):
            if len(h) == k:
                if k == 1:
                    h[0] = item
                    continue
                h[0], h[-1] = h[-1], h[0]  # heap.Pop
                _down(h, 0, len(h) - 1, bottom)
                h.pop()
            h.append(item)  # heap.Push
            _up(h, len(h) - 1, bottom)
    if len(h) > 1:  # sort.Sort(sort.Reverse(heap)): insertion sort with the reversed Less
        for i in range(1, len(h)):
            j = i
            while j > 0 and _less(h[j - 1][1], h[j][1], bottom):
                h[j], h[j - 1] = h[j - 1], h[j]
                j -= 1
    return h


def _topk(
    ctx: evaluator.Context,
    vec: values.Vector,
    k_steps: np.ndarray,
    grouping: list[str],
    without: bool,
    bottom: bool,
) -> values.Vector:
    n = len(ctx.steps_ms)
    out: dict[values.Labels, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(n):
        f = float(k_steps[i])
        if not (-_MAX_INT64 <= f <= _MAX_INT64):
            raise ctx.error(
                f"Scalar value {format_go_float(f)} overflows int64", "topk" if not bottom else "bottomk"
            )
        k = int(f)
        if k < 1:
            continue
        for members in _per_step_groups(vec, grouping, without, i).values():
            for s, value in _select(members, k, bottom):
                v, p = out.setdefault(s.labels, (np.zeros(n), np.zeros(n, dtype=bool)))
                v[i] = value
                p[i] = True
    return [values.StepSeries(labels, v, p) for labels, (v, p) in out.items()]
