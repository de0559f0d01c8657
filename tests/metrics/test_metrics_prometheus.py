"""A real Prometheus (the Debian binary) scraping a prometheus_client exporter with vLLM's names.

One Prometheus and one exporter for the module: Prometheus needs ~6 s before the first sample
of a target is queryable. The exporter observes a known TTFT cycle 100 times a second, counts
50 successes a second and holds two gauges, so every query has a right answer.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import prometheus_client
import pytest

from slolab import errors
from slolab.load import refserver
from slolab.metrics import local, query

pytestmark = pytest.mark.wallclock

#: One cycle of 100 TTFT observations: 90 × 30 ms, 9 × 70 ms, 1 × 300 ms, interleaved.
CYCLE_S = [0.3 if i == 50 else 0.07 if i % 11 == 5 else 0.03 for i in range(100)]
assert (CYCLE_S.count(0.03), CYCLE_S.count(0.07), CYCLE_S.count(0.3)) == (90, 9, 1)
TICK_S = 0.01
SUCCESS_RPS = 50.0


class Exporter:
    """prometheus_client on 127.0.0.1:<free port>, fed on a clock by a thread until ``stop``."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        self.ttft = prometheus_client.Histogram(
            "vllm:time_to_first_token_seconds",
            "TTFT",
            ["model_name"],
            buckets=refserver.TTFT_BUCKETS_S,
            registry=self.registry,
        )
        self.success = prometheus_client.Counter(
            "vllm:request_success", "done", ["model_name", "finished_reason"], registry=self.registry
        )
        running = prometheus_client.Gauge(
            "vllm:num_requests_running", "r", ["model_name"], registry=self.registry
        )
        waiting = prometheus_client.Gauge(
            "vllm:num_requests_waiting", "w", ["model_name"], registry=self.registry
        )
        running.labels("m").set(3)
        waiting.labels("m").set(7)
        self.ttft.labels("idle").observe(0.5)  # observed once before any scrape: a rate of 0
        registry = self.registry

        class Handler(http.server.BaseHTTPRequestHandler):
            # the text format 0.0.4, not start_http_server's negotiated OpenMetrics, whose sample
            # names lose their ':' for Prometheus 2.x (prometheus/client_python#1177)
            def do_GET(self) -> None:
                body = prometheus_client.generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", prometheus_client.exposition.CONTENT_TYPE_PLAIN_0_0_4)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http_thread = threading.Thread(
            target=self.server.serve_forever, name="exporter-http", daemon=True
        )
        self.http_thread.start()
        self.target = f"127.0.0.1:{self.server.server_port}"
        self._stop = threading.Event()
        self._feeder = threading.Thread(target=self._feed, name="exporter-feed", daemon=True)
        self._feeder.start()

    def _feed(self) -> None:
        start = time.monotonic()
        tick = 0
        ttft, success = self.ttft.labels("m"), self.success.labels("m", "length")
        while not self._stop.is_set() and tick < 120 / TICK_S:  # bounded: two minutes at most
            ttft.observe(CYCLE_S[tick % len(CYCLE_S)])
            if tick % round(1 / (SUCCESS_RPS * TICK_S)) == 0:
                success.inc()
            tick += 1
            self._stop.wait(max(0.0, start + tick * TICK_S - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._feeder.join(timeout=5)
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    exp = Exporter()
    try:
        yield exp
    finally:
        exp.stop()


@pytest.fixture(scope="module")
def ref() -> Iterator[refserver.RefServer]:
    with refserver.RefServer(model="ref") as server:
        yield server


@pytest.fixture(scope="module")
def prom(exporter: Exporter, ref: refserver.RefServer) -> Iterator[query.Prometheus]:
    """A local Prometheus scraping the exporter and the reference server every second, both up."""
    binary = local.binary_or_skip()
    targets = [exporter.target, ref.url.removeprefix("http://")]
    with local.LocalPrometheus(targets, binary=binary) as server:
        client = server.client()
        # rate() over [5s] is extrapolated from the samples inside the window: until the target has
        # been scraped for the whole window it reads low (2 samples 1 s apart give ~2/5 of the rate)
        client.wait_scalar('min(count_over_time(up{job="slolab"}[6s])) >= 6', timeout_s=20)
        yield client
        client.close()


def test_the_targets_are_scraped_with_vllm_names(prom, exporter, ref):
    rows = prom.query('up{job="slolab"}')
    assert sorted((r["metric"]["instance"], r["value"][1]) for r in rows) == sorted(
        [(exporter.target, "1"), (ref.url.removeprefix("http://"), "1")]
    )
    assert prom.num_requests_waiting(labels={"model_name": "ref"}) == 0.0  # the reference server's /metrics


def test_ttft_quantiles_land_in_the_right_bucket(prom):
    """True p50 is 30 ms (bucket 20–40 ms) and p95 is 70 ms (bucket 60–80 ms); PromQL interpolates inside."""
    labels = {"model_name": "m"}
    p50 = prom.ttft_quantile_s(0.5, window_s=5, labels=labels)
    p95 = prom.ttft_quantile_s(0.95, window_s=5, labels=labels)
    assert 0.02 < p50 <= 0.04
    assert 0.06 < p95 <= 0.08
    # histogram_quantile's linear interpolation of this cycle: 0.02 + 0.02·50/90 and 0.06 + 0.02·5/9
    assert abs(p50 - 0.0311) < 0.003
    assert abs(p95 - 0.0711) < 0.005


def test_success_rate_and_gauges(prom):
    rate = prom.request_success_rate_rps(window_s=5, labels={"model_name": "m"})
    assert abs(rate - SUCCESS_RPS) < 0.15 * SUCCESS_RPS
    assert prom.num_requests_running(labels={"model_name": "m"}) == 3.0
    assert prom.num_requests_waiting(labels={"model_name": "m"}) == 7.0


def test_no_data_is_an_error_never_a_number(prom):
    with pytest.raises(query.NoData, match="no series matched"):
        prom.num_requests_running(labels={"model_name": "absent"})
    with pytest.raises(query.NoData, match="NaN"):
        prom.ttft_quantile_s(0.99, window_s=5, labels={"model_name": "idle"})
    with pytest.raises(query.QueryError, match="rejected"):
        prom.scalar("sum(rate(")
    with pytest.raises(query.QueryError, match="2 series"):
        prom.scalar('vllm:time_to_first_token_seconds_count{job="slolab"}')


def test_query_range_has_the_api_client_shape(prom, exporter):
    now = time.time()
    rows = prom.query_range(f'up{{instance="{exporter.target}"}}', start=now - 3, end=now, step_s=1)
    assert len(rows) == 1 and rows[0]["metric"]["job"] == "slolab"
    assert all(v == "1" for _, v in rows[0]["values"]) and len(rows[0]["values"]) >= 2


def test_an_unreachable_prometheus_is_a_clear_error(closed_port_url):
    client = query.Prometheus(closed_port_url, timeout_s=2)
    t = time.monotonic()
    with pytest.raises(query.PrometheusUnreachable, match="did not answer") as info:
        client.scalar("up")
    assert time.monotonic() - t < 2  # no retries with backoff
    assert "curl" in str(info.value) and isinstance(info.value, errors.BackendError)


def test_a_missing_binary_skips_with_the_install_command_or_fails_in_ci(tmp_path, monkeypatch):
    monkeypatch.delenv("SLOLAB_REQUIRE_PROMETHEUS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y --no-install-recommends prometheus"):
        local.binary_or_skip(path_env=str(tmp_path), fallback=str(tmp_path / "none"))
    monkeypatch.setenv("SLOLAB_REQUIRE_PROMETHEUS", "1")
    with pytest.raises(pytest.fail.Exception, match="SLOLAB_REQUIRE_PROMETHEUS=1"):
        local.binary_or_skip(path_env=str(tmp_path), fallback=str(tmp_path / "none"))
