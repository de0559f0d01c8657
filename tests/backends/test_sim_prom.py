"""``lab.prom`` on sim: grader-style PromQL over a simulated run agrees with the run's own record.

The readiness-probes solution runs under load; sum(vllm:num_requests_running), the TTFT
histogram's p99 and its counts, kube_deployment_status_replicas and the OpenMetrics export are
checked against the request log and the API state of the same run.
"""

from __future__ import annotations

import math

import pytest

from slolab.backends import sim
from slolab.catalog import lab as lab_mod
from slolab.promql import openmetrics
from slolab.run import vllm_metrics as vm
from slolab.workspace import variants

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory, helm):
    """The solution served under the chat profile for 120 s once its pods serve."""
    lab = lab_mod.load("readiness-probes")
    ws = tmp_path_factory.mktemp("ws") / lab.name
    variants.write(variants.solution_files(lab), ws)
    backend = sim.SimBackend(lab, ws, seed=lab.seeds[0])

    def ready() -> bool:
        return (backend.cluster.get("Deployment", "llm") or {}).get("status", {}).get("readyReplicas") == 3

    assert backend.cluster.wait_for(ready, timeout_s=400)
    start_s = backend.clock.now_s()
    handle = backend.load.start("chat")
    backend.clock.sleep(60)
    mid_s = backend.clock.now_s()
    running_by_engine = sum(
        c.engine.num_requests_running for p in backend.sim.pods.values() for c in p.containers if c.engine
    )
    backend.clock.sleep(60)
    log = backend.load.stop(handle)
    backend.clock.sleep(60)
    return backend, log, start_s, mid_s, running_by_engine


def test_running_requests_match_the_request_log_at_each_scrape(run) -> None:
    backend, log, _, mid_s, running_by_engine = run
    total = backend.prom.query("sum(vllm:num_requests_running)", at_s=mid_s)
    assert float(total[0]["value"][1]) > 0 and running_by_engine > 0
    # each pod's last scrape before mid_s: running + waiting there vs the requests in flight then
    stamps = backend.prom.query("timestamp(vllm:num_requests_running)", at_s=mid_s)
    assert len(stamps) == 3
    for s in stamps:
        # timestamp() is a value, in the TSDB's unix seconds (as on kind): back to run seconds
        pod, t = s["metric"]["pod"], float(s["value"][1]) - sim.OFFSET_S
        q = f'sum(vllm:num_requests_running{{pod="{pod}"}}) + sum(vllm:num_requests_waiting{{pod="{pod}"}})'
        engine_count = float(backend.prom.query(q, at_s=t)[0]["value"][1])
        in_flight = sum(
            1 for r in log.requests if r.pod == pod and r.arrival_s <= t < (r.finish_s or math.inf)
        )
        # the difference: requests still in the API server's front end (a few ms each)
        assert in_flight - 3 <= engine_count <= in_flight, (pod, t, engine_count, in_flight)


def test_ttft_counts_and_p99_match_the_request_log(run) -> None:
    backend, log, _, _, _ = run
    now = backend.clock.now_s()
    ok = [r for r in log.requests if r.ok]
    assert len(ok) > 1000
    count = float(backend.prom.query(f"sum({vm.TIME_TO_FIRST_TOKEN.name}_count)", at_s=now)[0]["value"][1])
    with_first_token = sum(1 for r in log.requests if r.first_token_s is not None)
    assert count == with_first_token
    success = backend.prom.query(
        f'sum({vm.REQUEST_SUCCESS.sample_name}{{finished_reason="length"}})', at_s=now
    )
    assert float(success[0]["value"][1]) == len(ok)
    p99 = backend.prom.query(
        f"histogram_quantile(0.99, sum by (le) (increase({vm.TIME_TO_FIRST_TOKEN.name}_bucket[10m])))",
        at_s=now,
    )
    estimate = float(p99[0]["value"][1])
    ttfts = sorted(r.ttft_s for r in ok)
    true_p99 = ttfts[math.ceil(0.99 * len(ttfts)) - 1]
    bounds = (0.0, *vm.TTFT_BUCKETS)
    upper = next(b for b in vm.TTFT_BUCKETS if b >= true_p99)
    lower = max(b for b in bounds if b < true_p99)
    assert lower <= estimate <= upper, (estimate, true_p99)


def test_generation_tokens_match_the_request_log(run) -> None:
    backend, log, _, _, _ = run
    now = backend.clock.now_s()
    tokens = float(backend.prom.query(f"sum({vm.GENERATION_TOKENS.sample_name})", at_s=now)[0]["value"][1])
    assert tokens == sum(r.output_tokens for r in log.requests)


def test_deployment_replicas_match_the_api(run) -> None:
    backend, _, _, _, _ = run
    result = backend.prom.query('kube_deployment_status_replicas{deployment="llm"}')
    assert [float(s["value"][1]) for s in result] == [
        backend.cluster.get("Deployment", "llm")["status"]["replicas"]
    ]
    assert result[0]["metric"]["job"] == "kube-state-metrics"


def test_gpu_busy_and_cpu_flat_under_load(run) -> None:
    backend, _, _, mid_s, _ = run
    gpu = backend.prom.query('DCGM_FI_DEV_GPU_UTIL{pod!=""}', at_s=mid_s)
    assert len(gpu) == 3 and all(float(s["value"][1]) >= 90 for s in gpu)
    cpu = backend.prom.query(
        'rate(container_cpu_usage_seconds_total{container="slolab-serve"}[1m])', at_s=mid_s
    )
    assert len(cpu) == 3 and all(0.9 <= float(s["value"][1]) <= 1.1 for s in cpu)


def test_range_query_in_run_seconds(run) -> None:
    backend, _, start_s, mid_s, _ = run
    result = backend.prom.query_range("sum(vllm:num_requests_waiting)", start_s, mid_s, 15)
    times = [t for t, _ in result[0]["values"]]
    assert times[0] == pytest.approx(start_s) and times[-1] <= mid_s


def test_export_reads_back_as_the_same_samples_at_the_api_servers_clock(run, tmp_path) -> None:
    backend, _, _, _, _ = run
    path = tmp_path / "run.om"
    backend.prom.export_openmetrics(path)
    text = path.read_text(encoding="utf-8")
    assert "# TYPE vllm:time_to_first_token_seconds histogram" in text
    db = openmetrics.load(text)
    series = {s.labels: s for s in backend.sim.tsdb if s.name == "vllm:generation_tokens_total"}
    assert len(series) == 3
    for labels, s in series.items():
        kept = [(t, v) for t, v in zip(s.t_ms, s.values, strict=True) if not math.isnan(v)]
        back = db.get(labels)
        assert list(zip(back.t_ms, back.values, strict=True)) == kept


def test_time_minus_creation_is_the_pods_age_as_on_kind(run) -> None:
    """The TSDB and kube-state-metrics share the API server's clock (unix seconds)."""
    backend, _, _, mid_s, _ = run
    ages = backend.prom.query("time() - kube_pod_created", at_s=mid_s)
    assert ages
    for row in ages:
        pod = backend.sim.pods.get(row["metric"]["pod"])
        if pod is not None:
            assert float(row["value"][1]) == pytest.approx(mid_s - math.floor(pod.meta.creation_s), abs=1e-6)
