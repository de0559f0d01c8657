"""The in-memory TSDB: label sets, sample order, staleness markers from scrapes, memory."""

from __future__ import annotations

import math

import pytest

from slolab import errors
from slolab.promql import synthetic, tsdb


def test_stale_marker_is_a_nan_with_prometheus_bit_pattern_and_ordinary_nan_is_not() -> None:
    assert math.isnan(tsdb.STALE_NAN)
    assert tsdb.is_stale(tsdb.STALE_NAN)
    assert not tsdb.is_stale(math.nan)
    assert not tsdb.is_stale(1.0)


def test_labels_are_sorted_and_empty_values_dropped() -> None:
    assert tsdb.labels_of({"b": "2", "__name__": "x", "a": "", "c": "3"}) == (
        ("__name__", "x"),
        ("b", "2"),
        ("c", "3"),
    )


def test_samples_are_stored_in_milliseconds_in_time_order() -> None:
    db = tsdb.TSDB()
    db.append({"__name__": "x"}, 1.0004, 1.0)
    db.append({"__name__": "x"}, 2.5, 2.0)
    series = db.get({"__name__": "x"})
    assert series is not None
    assert list(series.t_ms) == [1000, 2500]
    with pytest.raises(errors.InputError, match="out of order sample"):
        db.append({"__name__": "x"}, 2.0, 3.0)
    with pytest.raises(errors.InputError, match="duplicate sample for timestamp"):
        db.append({"__name__": "x"}, 2.5, 9.0)
    db.append({"__name__": "x"}, 2.5, 2.0)  # the same sample again is accepted and kept once
    assert len(series) == 2


def test_a_series_needs_a_name() -> None:
    with pytest.raises(errors.InputError, match="__name__"):
        tsdb.TSDB().append({"pod": "a"}, 1.0, 1.0)


def test_scrape_writes_a_staleness_marker_for_each_series_the_target_stopped_exposing() -> None:
    db = tsdb.TSDB()
    a = tsdb.labels_of({"__name__": "x", "pod": "a"})
    b = tsdb.labels_of({"__name__": "x", "pod": "b"})
    db.scrape("t1", 0.0, {a: 1.0, b: 2.0})
    db.scrape("t1", 15.0, {a: 1.0})
    series_b = db.get(b)
    assert series_b is not None
    assert list(series_b.t_ms) == [0, 15000] and tsdb.is_stale(series_b.values[-1])
    db.target_gone("t1", 30.0)
    series_a = db.get(a)
    assert series_a is not None
    assert list(series_a.t_ms) == [0, 15000, 30000] and tsdb.is_stale(series_a.values[-1])
    assert len(series_b) == 2  # already stale: no second marker


def test_series_are_listed_in_label_order_and_by_name() -> None:
    db = tsdb.TSDB()
    for pod in ("b", "a", "c"):
        db.append({"__name__": "x", "pod": pod}, 1.0, 1.0)
    db.append({"__name__": "w"}, 1.0, 1.0)
    assert [dict(s.labels).get("pod") for s in db.series()] == [None, "a", "b", "c"]
    assert [dict(s.labels)["pod"] for s in db.series_named("x")] == ["a", "b", "c"]


def test_a_short_run_of_the_generator_has_every_promised_metric_and_stale_markers() -> None:
    db = synthetic.serving_run(seed=3, pods=3, duration_s=600.0)
    names = {s.name for s in db.series()}
    for name in (
        "vllm:request_success_total",
        "vllm:prompt_tokens_total",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:time_to_first_token_seconds_bucket",
        "vllm:e2e_request_latency_seconds_bucket",
        "kube_pod_status_ready",
        "kube_deployment_status_replicas",
    ):
        assert name in names
    assert any(tsdb.is_stale(v) for s in db.series() for v in s.values), "the pod that left went stale"
    again = synthetic.serving_run(seed=3, pods=3, duration_s=600.0)
    assert [(s.labels, s.t_ms.tobytes(), s.values.tobytes()) for s in again.series()] == [
        (s.labels, s.t_ms.tobytes(), s.values.tobytes()) for s in db.series()
    ], "seeded: the same samples again"
    other = synthetic.serving_run(seed=4, pods=3, duration_s=600.0)
    assert [s.values.tobytes() for s in other.series()] != [s.values.tobytes() for s in db.series()]


def test_a_sample_costs_about_16_bytes() -> None:
    db = tsdb.TSDB()
    db.append({"__name__": "x", "pod": "a"}, 0.0, 0.0)
    before = db.memory_bytes()
    for i in range(1, 20_001):
        db.append({"__name__": "x", "pod": "a"}, i * 15.0, float(i))
    per_sample = (db.memory_bytes() - before) / 20_000
    assert 16 <= per_sample < 20, per_sample


def test_the_generator_uses_vllm_buckets_from_the_metric_table() -> None:
    from slolab.run import vllm_metrics

    assert tuple(map(float, vllm_metrics.TTFT_BUCKETS)) == synthetic.TTFT_BUCKETS_S
    assert tuple(map(float, vllm_metrics.LATENCY_BUCKETS)) == synthetic.E2E_BUCKETS_S


def test_label_sets_in_any_order_are_one_series() -> None:
    db = tsdb.TSDB()
    db.append_ms((("pod", "a"), ("__name__", "x")), 1000, 1.0)
    db.append_ms((("__name__", "x"), ("pod", "a")), 2000, 2.0)
    db.scrape("t", 3.0, {(("pod", "a"), ("__name__", "x"), ("zone", "")): 3.0})
    assert len(db) == 1
    series = db.get({"__name__": "x", "pod": "a"})
    assert series is not None and list(series.values) == [1.0, 2.0, 3.0]


def test_a_repeated_scrape_keeps_the_checks_of_append_and_its_staleness() -> None:
    """Prometheus' scrape/scrape.go: a later scrape of the same series appends; one at the same
    timestamp with another value is "duplicate sample for timestamp"; a series the target no
    longer exposes gets a staleness marker, also after several scrapes of the same set."""
    db = tsdb.TSDB()
    a = (("pod", "a"), ("__name__", "x"))  # not in label order: the same series as labels_of gives
    b = tsdb.labels_of({"__name__": "x", "pod": "b"})
    for t_s in (0.0, 15.0, 30.0):
        db.scrape("t1", t_s, {a: t_s, b: 1.0})
    db.scrape("t1", 30.0, {a: 30.0, b: 1.0})  # the same sample again: nothing written
    with pytest.raises(errors.InputError, match="duplicate sample"):
        db.scrape("t1", 30.0, {a: 31.0, b: 1.0})
    db.scrape("t1", 45.0, {b: 2.0})
    db.scrape("t1", 60.0, {b: 3.0})
    series_a, series_b = db.get(a), db.get(b)
    assert series_a is not None and series_b is not None and len(db) == 2
    assert list(series_a.t_ms) == [0, 15000, 30000, 45000] and tsdb.is_stale(series_a.values[-1])
    assert list(series_b.values) == [1.0, 1.0, 1.0, 2.0, 3.0]
    db.target_gone("t1", 75.0)
    db.scrape("t1", 90.0, {b: 4.0})  # back after going away: a new series' samples, no marker for a
    assert list(series_b.t_ms)[-2:] == [75000, 90000] and len(series_a) == 4
