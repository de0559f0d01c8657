"""Functions of a range vector: rate, increase, delta and their kin, and the *_over_time family.

Upstream: prometheus v2.42.0 promql/functions.go: ``extrapolatedRate`` (rate, increase,
delta: the change over the window, counter resets added back, extrapolated to the window's
edges when the first/last sample lies within 1.1 average sample intervals of them, else by
half an interval, and never below a counter's zero point), ``instantValue`` (irate, idelta),
``linearRegression`` (deriv, predict_linear; Kahan sums), ``funcChanges``, ``funcResets``,
``funcHoltWinters`` and ``aggrOverTime`` with the avg/sum (Kahan), min/max (NaN replaced),
stddev/stdvar (Welford with Kahan), quantile, count, last, present functions; engine.go's
Call case (every function but last_over_time drops ``__name__``; a window with no samples
gives no output; absent_over_time gives 1 at the steps where no series has a sample,
labelled from the selector's equality matchers). A function needs two samples where its
upstream does (rate, deriv, irate, ...).

rate/increase/delta are vectorised with numpy over the steps (the windows containing a
counter reset are recomputed sample by sample, so resets add up in Prometheus' order); the
others run the upstream loop per window. Not modelled: native histograms.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import promql_parser

from slolab.promql import functions, histogram, values

if TYPE_CHECKING:
    from slolab.promql import evaluator

_NAN = float("nan")


def _kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c


def _avg(v: list[float]) -> float:
    mean = count = c = 0.0
    for x in v:
        count += 1
        if math.isinf(mean):
            if math.isinf(x) and (mean > 0) == (x > 0):
                continue
            if not math.isinf(x) and not math.isnan(x):
                continue
        mean, c = _kahan_inc(x / count - mean / count, mean, c)
    return mean if math.isinf(mean) else mean + c


def _sum(v: list[float]) -> float:
    total = c = 0.0
    for x in v:
        total, c = _kahan_inc(x, total, c)
    return total if math.isinf(total) else total + c


def _max(v: list[float]) -> float:
    best = v[0]
    for x in v:
        if x > best or math.isnan(best):
            best = x
    return best


def _min(v: list[float]) -> float:
    best = v[0]
    for x in v:
        if x < best or math.isnan(best):
            best = x
    return best


def _variance(v: list[float]) -> float:
    count = mean = c_mean = aux = c_aux = 0.0
    for x in v:
        count += 1
        delta = x - (mean + c_mean)
        mean, c_mean = _kahan_inc(delta / count, mean, c_mean)
        aux, c_aux = _kahan_inc(delta * (x - (mean + c_mean)), aux, c_aux)
    return (aux + c_aux) / count


def _linear_regression(t: list[int], v: list[float], intercept_ms: int) -> tuple[float, float]:
    n = sum_x = c_x = sum_y = c_y = sum_xy = c_xy = sum_x2 = c_x2 = 0.0
    init_y = v[0]
    const_y = True
    for i, (ti, y) in enumerate(zip(t, v, strict=True)):
        if const_y and i > 0 and y != init_y:
            const_y = False
        n += 1.0
        x = (ti - intercept_ms) / 1e3
        sum_x, c_x = _kahan_inc(x, sum_x, c_x)
        sum_y, c_y = _kahan_inc(y, sum_y, c_y)
        sum_xy, c_xy = _kahan_inc(x * y, sum_xy, c_xy)
        sum_x2, c_x2 = _kahan_inc(x * x, sum_x2, c_x2)
    if const_y:
        if math.isinf(init_y):
            return _NAN, _NAN
        return 0.0, init_y
    sum_x, sum_y, sum_xy, sum_x2 = sum_x + c_x, sum_y + c_y, sum_xy + c_xy, sum_x2 + c_x2
    cov_xy = sum_xy - sum_x * sum_y / n
    var_x = sum_x2 - sum_x * sum_x / n
    with np.errstate(all="ignore"):
        slope = float(np.float64(cov_xy) / np.float64(var_x))
    intercept = sum_y / n - slope * sum_x / n
    return slope, intercept


def _predict_linear(t: list[int], v: list[float], ts: int, duration_s: float) -> float | None:
    if len(v) < 2:
        return None
    slope, intercept = _linear_regression(t, v, ts)
    return slope * duration_s + intercept


def _instant_value(t: list[int], v: list[float], is_rate: bool) -> float | None:
    if len(v) < 2:
        return None
    last, prev = v[-1], v[-2]
    result = last if is_rate and last < prev else last - prev
    interval_ms = t[-1] - t[-2]
    if interval_ms == 0:
        return None
    return result / (interval_ms / 1000) if is_rate else result


def _changes(v: list[float], resets: bool) -> float:
    count = 0
    prev = v[0]
    for cur in v[1:]:
        if resets:
            count += cur < prev
        elif cur != prev and not (math.isnan(cur) and math.isnan(prev)):
            count += 1
        prev = cur
    return float(count)


def _holt_winters(v: list[float], sf: float, tf: float) -> float | None:
    if not 0 < sf < 1:
        raise ValueError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:f}")
    if not 0 < tf < 1:
        raise ValueError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf:f}")
    if len(v) < 2:
        return None
    s0, s1, b = 0.0, v[0], v[1] - v[0]
    for i in range(1, len(v)):
        x = sf * v[i]
        if i - 1 != 0:
            b = tf * (s1 - s0) + (1 - tf) * b
        y = (1 - sf) * (s1 + b)
        s0, s1 = s1, x + y
    return s1


#: name -> f(times, values, step time in ms, scalar args) -> value or None (no output).
WindowFn = Callable[[list[int], list[float], int, list[float]], float | None]

_WINDOW: dict[str, WindowFn] = {
    "irate": lambda t, v, ts, a: _instant_value(t, v, True),
    "idelta": lambda t, v, ts, a: _instant_value(t, v, False),
    "deriv": lambda t, v, ts, a: None if len(v) < 2 else _linear_regression(t, v, t[0])[0],
    "predict_linear": lambda t, v, ts, a: _predict_linear(t, v, ts, a[0]),
    "changes": lambda t, v, ts, a: _changes(v, False),
    "resets": lambda t, v, ts, a: _changes(v, True),
    "avg_over_time": lambda t, v, ts, a: _avg(v),
    "sum_over_time": lambda t, v, ts, a: _sum(v),
    "min_over_time": lambda t, v, ts, a: _min(v),
    "max_over_time": lambda t, v, ts, a: _max(v),
    "count_over_time": lambda t, v, ts, a: float(len(v)),
    "last_over_time": lambda t, v, ts, a: v[-1],
    "present_over_time": lambda t, v, ts, a: 1.0,
    "stddev_over_time": lambda t, v, ts, a: math.sqrt(_variance(v)),
    "stdvar_over_time": lambda t, v, ts, a: _variance(v),
    "quantile_over_time": lambda t, v, ts, a: histogram.quantile(a[0], v),
    "absent_over_time": lambda t, v, ts, a: 1.0,
    "holt_winters": lambda t, v, ts, a: _holt_winters(v, a[0], a[1]),
}
_EXTRAPOLATED = {"rate": (True, True), "increase": (True, False), "delta": (False, False)}
FUNCTIONS = set(_WINDOW) | set(_EXTRAPOLATED)


_SPAN = 1 << 43  # per-series key space: sample times in ms shifted into [0, 2**42)
_SHIFT = 1 << 41


def _windows_all(arg: values.RangeArg) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All series at once: (times, values) concatenated, and per (series, step) window [lo, hi)."""
    count = len(arg.series)
    t_all = np.concatenate([s.t_ms for s in arg.series]) if count else np.zeros(0, np.int64)
    v_all = np.concatenate([s.values for s in arg.series]) if count else np.zeros(0)
    lengths = np.array([len(s.t_ms) for s in arg.series], dtype=np.int64)
    base = np.repeat(np.arange(count, dtype=np.int64) * _SPAN, lengths)
    keys = base + t_all + _SHIFT
    row = (np.arange(count, dtype=np.int64) * _SPAN)[:, None] + _SHIFT
    lo = np.searchsorted(keys, row + (arg.ref_ms - arg.range_ms)[None, :], side="left")
    hi = np.searchsorted(keys, row + arg.ref_ms[None, :], side="right")
    return t_all, v_all, lo, hi


def _extrapolated(arg: values.RangeArg, is_counter: bool, is_rate: bool) -> tuple[np.ndarray, np.ndarray]:
    """extrapolatedRate for every series and step at once: (values, present), series by step."""
    t, v, lo, hi = _windows_all(arg)
    n = hi - lo
    present = n >= 2
    out = np.zeros(lo.shape)
    if not present.any():
        return out, present
    lo_p, last_p, n_p = lo[present], hi[present] - 1, n[present]
    first_v, last_v = v[lo_p], v[last_p]
    result = last_v - first_v
    if is_counter and len(v) > 1:
        drops = np.concatenate(([0], np.cumsum(v[1:] < v[:-1])))  # series edges are never inside a window
        for k in np.nonzero(drops[last_p] - drops[lo_p])[0].tolist():
            total = float(last_v[k] - first_v[k])
            window = v[lo_p[k] : last_p[k] + 1].tolist()
            for prev, cur in itertools.pairwise(window):
                if cur < prev:
                    total += prev
            result[k] = total
    ref = np.broadcast_to(arg.ref_ms[None, :], lo.shape)[present]
    range_start, range_end = ref - arg.range_ms, ref
    with np.errstate(all="ignore"):
        to_start = (t[lo_p] - range_start) / 1000
        to_end = (range_end - t[last_p]) / 1000
        sampled = (t[last_p] - t[lo_p]) / 1000
        average = sampled / (n_p - 1)
        if is_counter:
            to_zero = sampled * (first_v / result)
            use_zero = (result > 0) & (first_v >= 0) & (to_zero < to_start)
            to_start = np.where(use_zero, to_zero, to_start)
        threshold = average * 1.1
        interval = sampled + np.where(to_start < threshold, to_start, average / 2)
        interval = interval + np.where(to_end < threshold, to_end, average / 2)
        factor = interval / sampled
        if is_rate:
            factor = factor / (arg.range_ms / 1000)
        out[present] = result * factor
    return out, present


def call(ctx: evaluator.Context, node: promql_parser.Call, evaluate: evaluator.Evaluate) -> values.Vector:
    name = node.func.name
    index = 1 if name == "quantile_over_time" else 0
    arg = values.as_range(evaluate(ctx, node.args[index]))
    scalars = [values.as_scalar(evaluate(ctx, a)).values for i, a in enumerate(node.args) if i != index]
    out: values.Vector = []
    if name in _EXTRAPOLATED:
        all_v, all_present = _extrapolated(arg, *_EXTRAPOLATED[name])
    for i, s in enumerate(arg.series):
        labels = s.labels if name == "last_over_time" else values.drop_name(s.labels)
        if name in _EXTRAPOLATED:
            v, present = all_v[i], all_present[i]
        else:
            v, present = _per_window(ctx, arg, s, _WINDOW[name], scalars)
        if present.any():
            out.append(values.StepSeries(labels, v, present))
    if name == "absent_over_time":
        return _absent_over_time(ctx, node, out)
    values.check_unique_labels(out)
    return out


def _per_window(
    ctx: evaluator.Context,
    arg: values.RangeArg,
    s: values.RangeSeries,
    fn: WindowFn,
    scalars: list[np.ndarray],
):
    lo, hi = arg.windows(s)
    out = np.zeros(len(lo))
    present = np.zeros(len(lo), dtype=bool)
    t_list, v_list = s.t_ms.tolist(), s.values.tolist()
    steps = ctx.steps_ms.tolist()
    for i in np.nonzero(hi > lo)[0].tolist():
        a, b = int(lo[i]), int(hi[i])
        try:
            result = fn(t_list[a:b], v_list[a:b], steps[i], [float(x[i]) for x in scalars])
        except ValueError as exc:
            raise ctx.error(str(exc)) from None
        if result is not None:
            out[i] = result
            present[i] = True
    return out, present


def _absent_over_time(
    ctx: evaluator.Context, node: promql_parser.Call, found: values.Vector
) -> values.Vector:
    n = len(ctx.steps_ms)
    any_present = np.zeros(n, dtype=bool)
    for s in found:
        any_present |= s.present
    if any_present.all():
        return []
    labels = functions.absent_labels(node.args[0])
    return [values.StepSeries(labels, np.ones(n), ~any_present)]
