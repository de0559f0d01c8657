"""The PromQL engine: documented semantics on hand-made samples, result shapes, error messages.

Expected values are worked out by hand from Prometheus 2.42's code (promql/functions.go,
quantile.go, engine.go) and its documentation on staleness and lookback
(https://prometheus.io/docs/prometheus/2.42/querying/basics/#staleness).
"""

from __future__ import annotations

import math

import pytest

from slolab import errors
from slolab.promql import engine, tsdb


def _db(series: dict[str, list[tuple[float, float]]], lookback_delta_s: float = 300.0) -> tsdb.TSDB:
    """``{'x{pod="a"}': [(t_s, v), ...]}`` -> a TSDB."""
    db = tsdb.TSDB(lookback_delta_s)
    for text, samples in series.items():
        name, _, rest = text.partition("{")
        labels = {"__name__": name}
        for pair in filter(None, rest.rstrip("}").split(",")):
            key, _, value = pair.partition("=")
            labels[key] = value.strip('"')
        for t_s, v in samples:
            db.append(labels, t_s, v)
    return db


def _value(eng: engine.Engine, query: str, at_s: float) -> float | None:
    result = eng.query(query, at_s)
    if not result:
        return None
    assert len(result) == 1, result
    return float(result[0]["value"][1])


# ---------------------------------------------------------------- lookback and staleness


def test_lookback_is_closed_at_five_minutes_by_default_and_configurable() -> None:
    db = _db({"x": [(100.0, 7.0)]})
    eng = engine.Engine(db)
    assert _value(eng, "x", 100.0) == 7.0
    assert _value(eng, "x", 400.0) == 7.0
    assert _value(eng, "x", 400.001) is None
    assert _value(eng, "x", 99.999) is None
    assert _value(engine.Engine(db, lookback_delta_s=60), "x", 161.0) is None


def test_a_stale_series_disappears_at_once_and_returns_with_new_samples() -> None:
    db = tsdb.TSDB()
    a = tsdb.labels_of({"__name__": "x", "pod": "a"})
    for t_s in (0.0, 15.0, 30.0):
        db.scrape("t", t_s, {a: t_s})
    db.scrape("t", 45.0, {})  # the series is gone from the scrape: a staleness marker at 45 s
    eng = engine.Engine(db)
    assert _value(eng, "x", 44.0) == 30.0
    assert _value(eng, "x", 45.0) is None
    assert _value(eng, "x", 100.0) is None  # within 5 min of the last real sample, still gone
    assert _value(eng, "count_over_time(x[5m])", 100.0) == 3.0  # the marker is not a sample
    db.scrape("t", 60.0, {a: 60.0})
    assert _value(engine.Engine(db), "x", 61.0) == 60.0


def test_a_nan_sample_is_a_value_not_staleness() -> None:
    eng = engine.Engine(_db({"x": [(0.0, math.nan)]}))
    assert eng.query("x", 10.0)[0]["value"][1] == "NaN"


# ---------------------------------------------------------------- rate and friends


def test_rate_extrapolates_to_the_window_edges_and_stops_at_the_counter_zero_point() -> None:
    samples = [(float(t), float(t)) for t in range(0, 61, 15)]  # 1 per second from 0
    eng = engine.Engine(_db({"c_total": samples}))
    assert _value(eng, "rate(c_total[1m])", 60.0) == pytest.approx(1.0, rel=1e-12)
    # window [7, 67]: samples 15..60, 7 s to the end extrapolated, start stops at the zero point
    # 15 s before the first sample (45 * 15/45) only when closer than 8 s: it is not
    assert _value(eng, "increase(c_total[1m])", 67.0) == pytest.approx(45 * (45 + 8 + 7) / 45, rel=1e-12)
    # values 5, 20 at 15 s, 30 s; window [-30, 30]: the counter's zero point is 5 s before the
    # first sample (15 * 5/15), within 1.1 intervals: extrapolation goes back 5 s, not 45 s
    eng2 = engine.Engine(_db({"c_total": [(15.0, 5.0), (30.0, 20.0)]}))
    assert _value(eng2, "increase(c_total[1m])", 30.0) == pytest.approx(15 * (15 + 5 + 0) / 15)
    # values 30, 45: the zero point is 30 s back, beyond 1.1 intervals: half an interval instead
    eng3 = engine.Engine(_db({"c_total": [(15.0, 30.0), (30.0, 45.0)]}))
    assert _value(eng3, "increase(c_total[1m])", 30.0) == pytest.approx(15 * (15 + 7.5 + 0) / 15)


def test_counter_resets_are_added_back() -> None:
    eng = engine.Engine(_db({"c_total": [(0.0, 0.0), (15.0, 10.0), (30.0, 20.0), (45.0, 5.0), (60.0, 15.0)]}))
    assert _value(eng, "increase(c_total[1m])", 60.0) == pytest.approx(35.0)
    assert _value(eng, "resets(c_total[1m])", 60.0) == 1.0
    assert _value(eng, "irate(c_total[1m])", 60.0) == pytest.approx(10 / 15)
    assert _value(eng, "delta(c_total[1m])", 60.0) == pytest.approx(15.0)


def test_rate_needs_two_samples_and_drops_the_name() -> None:
    eng = engine.Engine(
        _db({'c_total{pod="a"}': [(0.0, 1.0)], 'c_total{pod="b"}': [(0.0, 1.0), (15.0, 2.0)]})
    )
    result = eng.query("rate(c_total[1m])", 15.0)
    assert [r["metric"] for r in result] == [{"pod": "b"}]
    assert eng.query("last_over_time(c_total[1m])", 15.0)[0]["metric"]["__name__"] == "c_total"


# ---------------------------------------------------------------- histogram_quantile


def _buckets(counts: dict[str, float]) -> engine.Engine:
    return engine.Engine(_db({f'h_bucket{{le="{le}"}}': [(0.0, c)] for le, c in counts.items()}))


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    eng = _buckets({"1": 10, "2": 20, "+Inf": 20})
    assert _value(eng, "histogram_quantile(0.5, h_bucket)", 1.0) == 1.0
    assert _value(eng, "histogram_quantile(0.75, h_bucket)", 1.0) == 1.5
    assert _value(eng, "histogram_quantile(1.5, h_bucket)", 1.0) == math.inf
    assert _value(eng, "histogram_quantile(-1, h_bucket)", 1.0) == -math.inf


def test_histogram_quantile_fixes_non_monotonic_buckets_and_needs_inf() -> None:
    eng = _buckets({"1": 10, "2": 8, "+Inf": 20})
    assert _value(eng, "histogram_quantile(0.5, h_bucket)", 1.0) == 1.0
    assert _value(eng, "histogram_quantile(0.9, h_bucket)", 1.0) == 2.0  # rank in +Inf: highest bound
    no_inf = _buckets({"1": 10, "2": 20})
    assert math.isnan(_value(no_inf, "histogram_quantile(0.5, h_bucket)", 1.0))


# ---------------------------------------------------------------- operators


def test_comparison_filters_and_bool_returns_zero_or_one_without_the_name() -> None:
    eng = engine.Engine(_db({'x{pod="a"}': [(0.0, 1.0)], 'x{pod="b"}': [(0.0, 5.0)]}))
    assert [r["metric"]["pod"] for r in eng.query("x > 2", 1.0)] == ["b"]
    assert eng.query("x > 2", 1.0)[0]["metric"]["__name__"] == "x"
    assert sorted((r["metric"]["pod"], r["value"][1]) for r in eng.query("x > bool 2", 1.0)) == [
        ("a", "0"),
        ("b", "1"),
    ]
    assert all("__name__" not in r["metric"] for r in eng.query("x > bool 2", 1.0))


def test_group_left_copies_labels_from_the_one_side() -> None:
    eng = engine.Engine(
        _db(
            {
                'req{pod="a",code="200"}': [(0.0, 4.0)],
                'req{pod="a",code="500"}': [(0.0, 1.0)],
                'info{pod="a",node="n1"}': [(0.0, 2.0)],
            }
        )
    )
    result = eng.query("req * on(pod) group_left(node) info", 1.0)
    assert sorted((r["metric"]["code"], r["metric"]["node"], r["value"][1]) for r in result) == [
        ("200", "n1", "8"),
        ("500", "n1", "2"),
    ]


def test_topk_keeps_labels_and_orders_by_value() -> None:
    eng = engine.Engine(
        _db({f'x{{pod="{p}"}}': [(0.0, v)] for p, v in zip("abcd", (3.0, 9.0, 1.0, 5.0), strict=True)})
    )
    assert [r["metric"]["pod"] for r in eng.query("topk(2, x)", 1.0)] == ["b", "d"]
    assert [r["metric"]["pod"] for r in eng.query("bottomk(2, x)", 1.0)] == ["c", "a"]
    assert [r["value"][1] for r in eng.query("sort_desc(x)", 1.0)] == ["9", "5", "3", "1"]


# ---------------------------------------------------------------- result shapes


def test_shapes_are_those_of_prometheus_api_client_and_the_http_api() -> None:
    eng = engine.Engine(_db({"x": [(0.0, 1.5), (15.0, 2.5)]}))
    assert eng.query("x", 15.0) == [{"metric": {"__name__": "x"}, "value": [15, "2.5"]}]
    assert eng.query("scalar(x)", 15.25) == [15.25, "2.5"]
    assert eng.query_range("x * 2", 0.0, 15.0, 15.0) == [{"metric": {}, "values": [[0, "3"], [15, "5"]]}]
    assert eng.api_response("time()", at_s=3.0) == {
        "status": "success",
        "data": {"resultType": "scalar", "result": [3, "3"]},
    }
    assert eng.api_response("x[20s]", at_s=15.0)["data"]["resultType"] == "matrix"
    assert eng.api_response('"hi"', at_s=1.0)["data"]["result"] == [1, "hi"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5, "0.5"), (100.0, "100"), (1e-7, "1e-07"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
     (math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (0.0, "0")],
)  # fmt: skip
def test_values_are_formatted_as_the_http_api_does(value: float, text: str) -> None:
    assert engine.format_value(value) == text


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ("sum(rate(x[5m])) +", 18, "unexpected end of input"),
        ("sum by (pod) rate(x[5m])", 13, "unexpected 'rate'"),
        ("x == 1 bool", 7, "unexpected 'bool'"),
        ('x{a="b"', 7, "unexpected end of input"),
        ("sum(x", 3, "unclosed left parenthesis"),
        ("foo(bar)", 0, "unknown function with name 'foo'"),
        ("1 + rate(x)", 9, "expected type matrix in call to function 'rate'"),
        ("histogram_quantile(0.9, x[5m])", 24, "expected type vector"),
        ("sum(x[5m])", 5, "expected type vector in aggregation expression"),
        ("x[5]", 2, "bad duration syntax"),
        ("x offset 5", 9, "bad duration syntax"),
        ("x[5m:1]", 5, "bad duration syntax"),
        ('{"x"}', 1, "quoted metric or label names"),
        ("x + fill(0) y", 4, "fill()"),
        ("", 0, "empty query"),
    ],
)
def test_bad_promql_is_one_error_with_its_position(query: str, position: int | None, words: str) -> None:
    eng = engine.Engine(tsdb.TSDB())
    with pytest.raises(errors.PromQLError) as caught:
        eng.query(query, 0.0)
    err = caught.value
    assert isinstance(err, errors.InputError) and err.exit_code == 2
    assert words in str(err)
    assert err.position == position
    if position is not None:
        assert f"query:1:{position + 1}:" in str(err)
        assert "\n  " + " " * position + "^" in str(err)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("histogram_count(x)", "histogram_count()"),
        ("histogram_fraction(0, 1, x)", "histogram_fraction()"),
        ("limitk(1, x)", "limitk"),
        ('sort_by_label(x, "a")', "sort_by_label()"),
    ],
)
def test_what_the_engine_does_not_evaluate_is_a_clear_error_naming_it(query: str, words: str) -> None:
    eng = engine.Engine(_db({"x": [(0.0, 1.0)]}))
    with pytest.raises(errors.PromQLError, match=words.replace("(", r"\(").replace(")", r"\)")):
        eng.query(query, 1.0)


def test_evaluation_errors_say_what_prometheus_says() -> None:
    eng = engine.Engine(
        _db({'a{pod="p",x="1"}': [(0.0, 1.0)], 'a{pod="p",x="2"}': [(0.0, 2.0)], 'b{pod="p"}': [(0.0, 3.0)]})
    )
    with pytest.raises(errors.PromQLError, match="vector cannot contain metrics with the same labelset"):
        eng.query('label_replace(a, "x", "", "x", ".*")', 1.0)
    with pytest.raises(errors.PromQLError, match="many-to-many matching not allowed"):
        eng.query("b * on(pod) a", 1.0)
    with pytest.raises(errors.PromQLError, match="many-to-one matching must be explicit"):
        eng.query("a * on(pod) b", 1.0)
    with pytest.raises(errors.PromQLError, match='invalid expression type "range vector" for range query'):
        eng.query_range("a[1m]", 0.0, 10.0, 5.0)
    with pytest.raises(errors.PromQLError, match="invalid smoothing factor"):
        eng.query("holt_winters(b[1m], 1, 0.5)", 1.0)


def test_sort_puts_nan_last_as_go_insertion_sort_does() -> None:
    eng = engine.Engine(
        _db(
            {
                f'x{{pod="{p}"}}': [(0.0, v)]
                for p, v in zip("abcde", (2.0, math.nan, 1.0, math.nan, 2.0), strict=True)
            }
        )
    )
    assert [r["metric"]["pod"] for r in eng.query("sort(x)", 1.0)] == ["c", "a", "e", "d", "b"]
    assert [r["metric"]["pod"] for r in eng.query("sort_desc(x)", 1.0)] == ["a", "e", "c", "d", "b"]
