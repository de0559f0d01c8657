"""slolab's PromQL engine against a real Prometheus 2.42 on the same samples.

The samples are a seeded serving run (slolab.promql.synthetic): vLLM pods with counters, gauges
and histograms, kube-state-metrics, a container restart, a pod that goes away, one that joins
later, scrape jitter and missed scrapes. They are exported as OpenMetrics, backfilled with
``promtool tsdb create-blocks-from openmetrics`` into a Prometheus on 127.0.0.1 (one per
module), and each query is asked of both, instant at several times and as a range query.
The engine reads ``openmetrics.load(dump(db))``, the samples Prometheus got (OpenMetrics cannot
carry staleness markers; see openmetrics.py). A third shape is pushed through Prometheus'
remote-write receiver instead, staleness markers and all, to compare staleness handling too.

Compared: result type, the set of label sets, timestamps exactly, values with a relative
tolerance of 1e-9 (NaN equals NaN, infinities equal themselves), and the order of the values
where Prometheus orders them (sort, sort_desc, topk, bottomk). A query Prometheus rejects must
be a PromQLError here. Skipped without prometheus/promtool unless SLOLAB_REQUIRE_PROMETHEUS=1.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import requests

from slolab import errors
from slolab.metrics import local, remotewrite
from slolab.promql import engine, openmetrics, synthetic, tsdb

T0 = synthetic.START_S
DURATION_S = 1800.0
INSTANT_AT = (T0 + 430.25, T0 + 800.0, T0 + 1201.5, T0 + DURATION_S)
RANGE = (T0 + 60.0, T0 + DURATION_S, 45.0)

QUERIES = [
    # selectors, matchers, offset, @
    "vllm:num_requests_running",
    'vllm:num_requests_running{pod=~"llm-.*",namespace="lab"}',
    'vllm:request_success_total{finished_reason!="stop"}',
    '{__name__=~"vllm:num_requests_(running|waiting)"}',
    'vllm:kv_cache_usage_perc{pod!~".*[ab].*"}',
    'kube_pod_status_ready{condition=~"true|unknown",pod=~"llm-.+"}',
    "vllm:num_requests_waiting offset 2m",
    "vllm:num_requests_waiting offset -1m",
    "vllm:num_requests_waiting @ 1700000600",
    "vllm:num_requests_waiting @ start()",
    "rate(vllm:request_success_total[1m] @ end())",
    "sum(vllm:num_requests_running @ 1700001000.5 offset 30s)",
    # range functions
    "rate(vllm:prompt_tokens_total[5m])",
    "rate(vllm:prompt_tokens_total[40s])",
    "increase(vllm:generation_tokens_total[10m])",
    "increase(vllm:request_success_total[2m] offset 1m)",
    "irate(vllm:request_success_total[2m])",
    "delta(vllm:kv_cache_usage_perc[5m])",
    "idelta(vllm:num_requests_waiting[3m])",
    "deriv(vllm:kv_cache_usage_perc[5m])",
    "predict_linear(vllm:kv_cache_usage_perc[10m], 300)",
    "avg_over_time(vllm:num_requests_running[5m])",
    "min_over_time(vllm:kv_cache_usage_perc[4m])",
    "max_over_time(vllm:kv_cache_usage_perc[4m])",
    "sum_over_time(vllm:num_requests_waiting[3m])",
    "count_over_time(vllm:num_requests_waiting[2m])",
    "last_over_time(vllm:num_requests_waiting[2m])",
    "present_over_time(kube_pod_status_ready[5m])",
    "quantile_over_time(0.9, vllm:kv_cache_usage_perc[10m])",
    "stddev_over_time(vllm:kv_cache_usage_perc[10m])",
    "stdvar_over_time(vllm:num_requests_running[10m])",
    'absent_over_time(vllm:num_requests_running{pod="gone",job="llm"}[5m])',
    "absent_over_time(vllm:num_requests_running[30s])",
    "changes(vllm:num_requests_waiting[5m])",
    "resets(vllm:request_success_total[30m])",
    # aggregations
    "sum(rate(vllm:request_success_total[5m]))",
    "sum by (finished_reason) (rate(vllm:request_success_total[5m]))",
    "sum without (instance, engine) (vllm:num_requests_running)",
    "avg(vllm:kv_cache_usage_perc)",
    "min by (pod) (vllm:kv_cache_usage_perc)",
    "max(vllm:num_requests_waiting)",
    'count by (job) ({__name__=~"vllm:num_requests_.*"})',
    "count(vllm:num_requests_running)",
    "group by (pod) (vllm:num_requests_running)",
    "stddev(vllm:kv_cache_usage_perc)",
    "stdvar by (job) (vllm:num_requests_waiting)",
    "quantile(0.5, vllm:kv_cache_usage_perc)",
    "quantile by (job) (0.9, rate(vllm:generation_tokens_total[5m]))",
    "topk(2, vllm:num_requests_running)",
    "topk by (finished_reason) (1, rate(vllm:request_success_total[5m]))",
    "bottomk(2, vllm:kv_cache_usage_perc)",
    'count_values("running", vllm:num_requests_running)',
    'count_values without (pod, instance) ("v", vllm:num_requests_waiting)',
    # histograms
    "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[5m])))",
    "histogram_quantile(0.5, rate(vllm:e2e_request_latency_seconds_bucket[5m]))",
    "histogram_quantile(0.9, sum by (le, pod) (increase(vllm:e2e_request_latency_seconds_bucket[10m])))",
    "histogram_quantile(0.25, sum by (le) (vllm:time_to_first_token_seconds_bucket))",
    "rate(vllm:time_to_first_token_seconds_sum[5m]) / rate(vllm:time_to_first_token_seconds_count[5m])",
    # binary operators
    "vllm:num_requests_running + vllm:num_requests_waiting",
    "vllm:num_requests_running * 2 - 1",
    "2 ^ vllm:num_requests_waiting / 7 % 3",
    "-vllm:num_requests_running",
    "vllm:num_requests_running atan2 vllm:num_requests_waiting",
    "vllm:num_requests_waiting > 3",
    "vllm:num_requests_waiting > bool 3",
    "3 < vllm:num_requests_waiting",
    "vllm:num_requests_running >= on(pod) vllm:num_requests_waiting",
    "vllm:num_requests_running == bool vllm:num_requests_waiting",
    "vllm:num_requests_running != ignoring(engine) vllm:num_requests_waiting",
    "vllm:num_requests_running and vllm:num_requests_waiting > 2",
    "vllm:num_requests_running or vllm:num_requests_waiting > 4",
    "vllm:num_requests_waiting unless vllm:num_requests_running < 5",
    'vllm:num_requests_running and on(pod) kube_pod_status_ready{condition="true"} == 1',
    "vllm:num_requests_running * on(namespace, pod) group_left(condition) "
    'kube_pod_status_ready{condition="true"}',
    "kube_deployment_status_replicas * on(namespace) group_right(deployment) vllm:num_requests_running",
    'rate(vllm:request_success_total{finished_reason="stop"}[5m]) / ignoring(finished_reason) '
    "rate(vllm:prompt_tokens_total[5m])",
    "sum(rate(vllm:request_success_total[5m])) / scalar(kube_deployment_status_replicas)",
    "1 + 2 * 3 - 4 / 8",
    "-(2 ^ 3) % 5",
    "5 > bool 3",
    # other functions
    "abs(delta(vllm:kv_cache_usage_perc[5m]))",
    "ceil(vllm:kv_cache_usage_perc * 10)",
    "floor(vllm:kv_cache_usage_perc * 10)",
    "round(vllm:kv_cache_usage_perc, 0.05)",
    "round(rate(vllm:prompt_tokens_total[5m]))",
    "clamp(vllm:num_requests_waiting, 1, 4)",
    "clamp_min(vllm:num_requests_waiting, 2)",
    "clamp_max(vllm:num_requests_running, 5)",
    "scalar(sum(vllm:num_requests_running))",
    "scalar(vllm:num_requests_running)",
    "vector(1)",
    "vector(time())",
    'absent(vllm:num_requests_running{pod="nope",namespace="lab"})',
    "absent(vllm:num_requests_running)",
    'label_replace(vllm:num_requests_running, "ip", "$1", "instance", "(.*):.*")',
    'label_replace(vllm:num_requests_running, "x", "${1}-$2", "pod", "llm-(.)(.*)")',
    'label_join(vllm:num_requests_running, "id", "/", "namespace", "pod")',
    "sort(vllm:kv_cache_usage_perc)",
    "sort_desc(sum by (pod) (vllm:num_requests_running))",
    "time()",
    "timestamp(vllm:num_requests_running)",
    "timestamp(sum(vllm:num_requests_running))",
    "sqrt(vllm:num_requests_running) + ln(vllm:num_requests_waiting + 1)",
    "minute(vllm:num_requests_running * 100000)",
    "hour()",
    "kube_deployment_status_replicas",
    'sum(kube_pod_status_ready{condition="true"})',
    "increase(kube_pod_container_status_restarts_total[15m])",
    # subqueries
    "max_over_time(rate(vllm:prompt_tokens_total[1m])[10m:30s])",
    "avg_over_time(sum(vllm:num_requests_running)[5m:])",
    "rate(vllm:request_success_total[2m:15s])",
    "min_over_time(vllm:num_requests_waiting[10m:1m] offset 2m)",
    "max_over_time(sum(vllm:num_requests_running)[5m:1m] @ 1700001200)",
    "sum_over_time(vllm:num_requests_running[3m:20s])",
    # errors Prometheus reports at evaluation
    "vllm:num_requests_running + on(namespace) vllm:num_requests_waiting",
    '{__name__=~"vllm:num_requests_(running|waiting)"} * 1',
    'rate({__name__=~"vllm:prompt_tokens_total|vllm:generation_tokens_total"}[5m])',
]
EDGE_QUERIES = [
    line
    for line in (Path(__file__).parent / "edge_queries.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
INSTANT_ONLY = ["vllm:request_success_total[2m]", "vllm:num_requests_running[1m:20s]", '"hello"']
ORDERED = ("sort(", "sort_desc(", "topk(", "bottomk(")


SHAPES = {
    # backfilled with promtool; scrapes at a random phase per pod, +-1 s jitter, 3 % missed
    "jittered": {"seed": 7, "pods": 4},
    # backfilled; every scrape exactly on a multiple of 15 s: samples on window and lookback edges
    "aligned": {"seed": 5, "pods": 3, "aligned": True},
    # pushed by remote write with the staleness markers of the pod that left (see below)
    "stale": {"seed": 8, "pods": 4},
}


@pytest.fixture(scope="module", params=sorted(SHAPES))
def prometheus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A Prometheus 2.42 on 127.0.0.1 holding the samples of one shape; yields (url, engine).

    "stale" goes through Prometheus' remote-write receiver, which keeps staleness markers (an
    OpenMetrics backfill cannot carry them), and the engine reads the very TSDB that was pushed."""
    local.binary_or_skip()
    local.binary_or_skip(name="promtool")
    db = synthetic.serving_run(duration_s=DURATION_S, **SHAPES[request.param])
    if request.param == "stale":
        assert any(tsdb.is_stale(v) for s in db.series() for v in s.values)
        with local.LocalPrometheus([], remote_write=True) as server:
            remotewrite.push(server.url, db)
            yield server.url, engine.Engine(db)
        return
    text = openmetrics.dump(db)
    path = tmp_path_factory.mktemp("promql") / "samples.om"
    path.write_text(text, encoding="utf-8")
    with local.LocalPrometheus([], openmetrics_file=path) as server:
        yield server.url, engine.Engine(openmetrics.load(text))


def _prometheus(url: str, query: str, params: dict[str, Any]) -> dict[str, Any]:
    path = "/api/v1/query_range" if "step" in params else "/api/v1/query"
    body = requests.get(url + path, params={"query": query, **params}, timeout=30).json()
    return body


def _close(a: str, b: str) -> bool:
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return math.isclose(x, y, rel_tol=1e-9)


def _assert_same(query: str, want: dict[str, Any], engine_call) -> None:
    __tracebackhide__ = True
    if want["status"] != "success":
        with pytest.raises(errors.PromQLError):
            engine_call()
        return
    got = engine_call()["data"]
    want = want["data"]
    assert got["resultType"] == want["resultType"], f"{query}: result type"
    kind = want["resultType"]
    if kind in ("scalar", "string"):
        assert float(got["result"][0]) == float(want["result"][0]), f"{query}: time"
        same = (
            got["result"][1] == want["result"][1]
            if kind == "string"
            else _close(*[r[1] for r in (got["result"], want["result"])])
        )
        assert same, f"{query}: {got['result']} != {want['result']}"
        return
    key = "value" if kind == "vector" else "values"

    def by_labels(result: list[dict]) -> dict[tuple, list]:
        out: dict[tuple, list] = {}
        for row in result:
            labels = tuple(sorted(row["metric"].items()))
            assert labels not in out, f"{query}: labels {labels} twice"
            out[labels] = [row[key]] if kind == "vector" else row[key]
        return out

    got_rows, want_rows = by_labels(got["result"]), by_labels(want["result"])
    assert set(got_rows) == set(want_rows), (
        f"{query}: series differ\n  only here: {sorted(set(got_rows) - set(want_rows))[:3]}"
        f"\n  only in Prometheus: {sorted(set(want_rows) - set(got_rows))[:3]}"
    )
    for labels, want_points in want_rows.items():
        got_points = got_rows[labels]
        assert [float(t) for t, _ in got_points] == [float(t) for t, _ in want_points], (
            f"{query} {labels}: times"
        )
        bad = [(t, g, w) for (t, g), (_, w) in zip(got_points, want_points, strict=True) if not _close(g, w)]
        assert not bad, f"{query} {labels}: (t, here, Prometheus) {bad[:5]}"
    if kind == "vector" and query.startswith(ORDERED):
        assert [r["value"][1] for r in got["result"]] == [r["value"][1] for r in want["result"]], (
            f"{query}: order"
        )


@pytest.mark.parametrize("query", QUERIES + EDGE_QUERIES)
def test_query_matches_prometheus(prometheus, query: str) -> None:
    url, eng = prometheus
    for at_s in INSTANT_AT:
        want = _prometheus(url, query, {"time": f"{at_s:.3f}"})
        _assert_same(query, want, lambda at_s=at_s: eng.api_response(query, at_s=at_s))
    start_s, end_s, step_s = RANGE
    want = _prometheus(url, query, {"start": f"{start_s:.3f}", "end": f"{end_s:.3f}", "step": f"{step_s:g}"})
    _assert_same(query, want, lambda: eng.api_response(query, start_s=start_s, end_s=end_s, step_s=step_s))


@pytest.mark.parametrize("query", INSTANT_ONLY)
def test_instant_only_query_matches_prometheus(prometheus, query: str) -> None:
    url, eng = prometheus
    for at_s in INSTANT_AT:
        want = _prometheus(url, query, {"time": f"{at_s:.3f}"})
        _assert_same(query, want, lambda at_s=at_s: eng.api_response(query, at_s=at_s))
    start_s, end_s, step_s = RANGE
    want = _prometheus(url, query, {"start": f"{start_s:.3f}", "end": f"{end_s:.3f}", "step": f"{step_s:g}"})
    assert want["status"] == "error"
    _assert_same(query, want, lambda: eng.api_response(query, start_s=start_s, end_s=end_s, step_s=step_s))


def test_enough_queries_of_each_kind() -> None:
    """The conformance corpus covers the language: 60+ queries, each instant and range."""
    assert len(QUERIES) + len(INSTANT_ONLY) >= 60
