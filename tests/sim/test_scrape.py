"""The simulator's scrape loop (sim/scrape.py): targets, labels, offsets, staleness, restarts,
PodMonitors, and the vLLM series it writes (sim/vllmseries.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import sim_support as ss
import yaml

from slolab import errors
from slolab.backends import sim as sim_backend
from slolab.catalog import yamlfile
from slolab.promql import tsdb
from slolab.run import request
from slolab.sim import manifests, podmonitor, scrape, vllmseries

READY = {"readinessProbe": {**ss.PROBE, "periodSeconds": 2}}


def _scraper(sim) -> scrape.Controller:
    return next(c for c in sim.controllers if isinstance(c, scrape.Controller))


def _times(sim, name: str, **match: str) -> dict[str, list[float]]:
    """Sample times (run s) by pod of the series ``name`` matching ``match``, staleness markers left out."""
    out: dict[str, list[float]] = {}
    for s in sim.tsdb.series_named(name):
        labels = dict(s.labels)
        if all(labels.get(k) == v for k, v in match.items()):
            t, v = s.arrays()
            out.setdefault(labels.get("pod", ""), []).extend(
                (t[~tsdb.stale_mask(v)] / 1000 - scrape.STAMP_OFFSET_S).tolist()
            )
    return out


def _send(sim, n: int, start_s: float, every_s: float = 0.1, seed: int = 1) -> list[request.Request]:
    import random

    rng = random.Random(seed)
    reqs = [
        request.Request(i, start_s + i * every_s, rng.randint(100, 1500), rng.randint(50, 300))
        for i in range(n)
    ]

    def gen():
        for r in reqs:
            yield sim.env.timeout(r.arrival_s - sim.env.now)
            sim.send("llm", r)

    sim.env.process(gen())
    return reqs


def test_each_model_server_is_scraped_every_interval_at_its_own_offset() -> None:
    sim = ss.start(ss.manifest(replicas=3, probes=READY))
    sim.env.run(until=300)
    times = _times(sim, "up", job=f"{ss.NS}/llm")
    assert len(times) == 3
    offsets = set()
    for pod_times in times.values():
        gaps = {round(b - a, 6) for a, b in itertools.pairwise(pod_times)}
        assert gaps == {15.0}
        offsets.add(round(pod_times[0] % 15.0, 3))
    assert len(offsets) == 3  # spread over the interval
    again = ss.start(ss.manifest(replicas=3, probes=READY))
    again.env.run(until=300)
    assert _times(again, "up", job=f"{ss.NS}/llm") == times  # deterministic for a seed


def test_target_labels_are_kube_prometheus_stacks() -> None:
    sim = ss.start(ss.manifest(replicas=1, probes=READY))
    sim.env.run(until=200)
    pod = next(iter(sim.pods.values()))
    result = sim_backend.SimProm(sim).query("vllm:num_requests_running", 200)
    assert [r["metric"] for r in result] == [
        {
            "__name__": "vllm:num_requests_running",
            "container": "server",
            "endpoint": "http",
            "engine": "0",
            "instance": f"{pod.ip}:8000",
            "job": f"{ss.NS}/llm",
            "model_name": "llama-3.1-8b",
            "namespace": ss.NS,
            "pod": pod.name,
        }
    ]


def test_a_loading_server_fails_its_scrape_and_its_series_go_stale() -> None:
    sim = ss.start(ss.manifest(replicas=1, probes=READY))
    sim.env.run(until=400)
    pod = next(iter(sim.pods.values()))
    loaded_s = pod.containers[0].model_loaded_at_s
    up = sim.tsdb.get(
        {
            "__name__": "up",
            "job": f"{ss.NS}/llm",
            "namespace": ss.NS,
            "pod": pod.name,
            "container": "server",
            "endpoint": "http",
            "instance": f"{pod.ip}:8000",
        }
    )
    t, v = up.arrays()
    run_s = t / 1000 - scrape.STAMP_OFFSET_S
    assert all(v[run_s < loaded_s] == 0) and all(v[run_s > loaded_s] == 1)
    # killing the container: failed scrapes (up 0) and staleness markers until the new instance loads
    sim.kill_container(pod.name)
    killed_s = sim.env.now
    sim.env.run(until=killed_s + 30)
    running = next(s for s in sim.tsdb.series_named("vllm:num_requests_running"))
    t, v = running.arrays()
    after = v[t / 1000 - scrape.STAMP_OFFSET_S > killed_s]
    assert len(after) == 1 and tsdb.is_stale(float(after[0]))


def test_counters_restart_at_zero_with_a_new_container_instance() -> None:
    sim = ss.start(ss.manifest(replicas=1, probes=READY))
    sim.env.run(until=150)
    _send(sim, 200, 150)
    sim.env.run(until=200)
    pod = next(iter(sim.pods.values()))
    sim.kill_container(pod.name)
    sim.env.run(until=400)
    series = next(iter(sim.tsdb.series_named("vllm:generation_tokens_total")))
    t, v = series.clean_arrays()
    before = v[t / 1000 - scrape.STAMP_OFFSET_S <= 200]
    after = v[t / 1000 - scrape.STAMP_OFFSET_S > 300]
    assert before[-1] > 0 and after[0] == 0  # a new engine: the counter starts again
    e = sim_backend.SimProm(sim)
    # resets(): PromQL sees the restart as a counter reset
    assert float(e.query("resets(vllm:generation_tokens_total[10m])", 400)[0]["value"][1]) == 1


def test_a_deleted_pods_series_go_stale_when_it_leaves_discovery() -> None:
    sim = ss.start(ss.manifest(replicas=2, probes=READY))
    sim.env.run(until=200)
    before = set(sim.pods)
    sim.scale("apps/v1", "Deployment", "llm", 1)
    sim.env.run(until=300)
    (victim,) = before - set(sim.pods)
    gone_s = max(e.time_s for e in ss.events(sim, "Deleted", victim))
    for s in sim.tsdb:
        if dict(s.labels).get("pod") == victim and s.name.startswith(("vllm:", "up")):
            t, v = s.arrays()
            last_s = t[-1] / 1000 - scrape.STAMP_OFFSET_S
            assert tsdb.is_stale(float(v[-1])) and last_s <= gone_s + 1e-9, s.labels
    result = sim_backend.SimProm(sim).query(f'up{{pod="{victim}"}}', 300)
    assert result == []


def test_histograms_count_what_the_requests_did() -> None:
    sim = ss.start(ss.manifest(replicas=1, probes=READY))
    sim.env.run(until=150)
    reqs = _send(sim, 300, 150)
    sim.env.run(until=300)
    sim.sync_engines()
    e = sim_backend.SimProm(sim)

    def value(q: str) -> float:
        return float(e.query(q, 300)[0]["value"][1])

    ok = [r for r in reqs if r.ok]
    assert len(ok) == 300
    assert value("sum(vllm:e2e_request_latency_seconds_count)") == 300
    assert value("sum(vllm:e2e_request_latency_seconds_sum)") == pytest.approx(
        sum(r.e2e_s for r in ok), rel=1e-9
    )
    gaps = [g for r in ok for g in r.inter_token_gaps_s()]
    assert value("sum(vllm:inter_token_latency_seconds_count)") == len(gaps)
    assert value("sum(vllm:inter_token_latency_seconds_sum)") == pytest.approx(sum(gaps), rel=1e-9)
    le_01 = value('sum(vllm:inter_token_latency_seconds_bucket{le="0.1"})')
    assert le_01 == sum(1 for g in gaps if g <= 0.1)
    assert value('sum(vllm:request_generation_tokens_bucket{le="+Inf"})') == 300
    assert value("sum(vllm:prompt_tokens_total)") == sum(r.prompt_tokens for r in ok)


def test_lazy_writes_equal_writes_at_every_scrape() -> None:
    def run(read_every_s: float | None):
        sim = ss.start(ss.manifest(replicas=2, probes=READY))
        sim.env.run(until=150)
        _send(sim, 400, 150, every_s=0.05)
        t = 150.0
        while t < 260:
            t += read_every_s or 110
            sim.env.run(until=t)
            sim.tsdb  # noqa: B018 (a read writes the pending scrapes)
        return {s.labels: (list(s.t_ms), [repr(x) for x in s.values]) for s in sim.tsdb}

    assert run(1.0) == run(None)


def token_gaps(step_ends: list[float], requests: list[list[list[int]]]) -> np.ndarray:
    """The reference: every gap between the successive tokens each client received, token by
    token (each request's token times are ``step_ends`` at the indices of its step ranges)."""
    starts: list[int] = []
    stops: list[int] = []
    owner: list[int] = []
    for i, segments in enumerate(requests):
        for a, b in segments:
            if b > a:
                starts.append(a)
                stops.append(b)
                owner.append(i)
    if not starts:
        return np.empty(0)
    lo, hi = min(starts), max(stops)
    times = np.asarray(step_ends[lo:hi], dtype=np.float64)
    a, b = np.array(starts) - lo, np.array(stops) - lo
    lengths = b - a
    # every token's step index, segment after segment: a run of consecutive indices per segment
    first = np.cumsum(lengths) - lengths
    idx = np.arange(int(lengths.sum())) - np.repeat(first - a, lengths)
    who = np.repeat(np.array(owner), lengths)
    same = who[1:] == who[:-1]
    return (times[idx[1:]] - times[idx[:-1]])[same]


def test_token_gaps_span_a_preemption() -> None:
    step_ends = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.5]
    requests = [[[0, 2], [4, 7]], [[1, 3]]]
    gaps = token_gaps(step_ends, requests)
    assert gaps.tolist() == [1.0, 3.0, 1.0, 1.5, 1.0]
    values, counts = vllmseries.token_gap_counts(step_ends, requests)
    assert sorted(np.repeat(values, counts.astype(int)).tolist()) == sorted(gaps.tolist())


def test_token_gaps_counted_per_step_are_the_token_gaps() -> None:
    """The ITL histogram observes ``token_gap_counts``: the multiset of ``token_gaps`` (every gap
    each client received, preemptions and one-token segments included), counted per step."""
    import random

    rng = random.Random(3)
    for _ in range(200):
        steps = sorted(rng.uniform(0, 100) for _ in range(300))
        requests = []
        for _ in range(rng.randint(0, 10)):
            segments, a = [], rng.randint(0, 290)
            for _ in range(rng.randint(1, 3)):
                b = min(300, a + rng.randint(0, 20))
                segments.append([a, b])
                a = min(299, b + rng.randint(0, 15))
            requests.append(segments)
        values, counts = vllmseries.token_gap_counts(steps, requests)
        expanded = np.repeat(values, counts.astype(int))
        assert sorted(expanded.tolist()) == sorted(token_gaps(steps, requests).tolist())
    assert vllmseries.token_gap_counts([0.0, 1.0], [[[0, 1]], []])[0].size == 0, "one token: no gap"


def test_le_labels_are_written_as_prometheus_client_writes_them() -> None:
    from prometheus_client.utils import floatToGoString

    bounds = (0.001, 1.0, 2560.0, 100000.0, 1e6, 1234567.0, 2e7, math.inf)
    assert [vllmseries.go_float(x) for x in bounds] == [floatToGoString(x) for x in bounds]


def _podmonitor(spec: dict) -> yamlfile.Document:
    """A PodMonitor (or, with "kind" in ``spec``, a monitor of that kind) named llm-pm."""
    spec = dict(spec)
    data = {
        "apiVersion": podmonitor.API_VERSION,
        "kind": spec.pop("kind", "PodMonitor"),
        "metadata": {"name": "llm-pm"},
        "spec": spec,
    }
    return yamlfile.Document(data, "podmonitor.yaml", {})


def test_a_podmonitor_sets_job_interval_and_pod_target_labels() -> None:
    docs = ss.manifest(replicas=1, probes=READY, podmonitor=False)
    docs[0].data["spec"]["template"]["metadata"]["labels"]["tier"] = "gold"
    pm = _podmonitor(
        {
            "selector": {"matchLabels": {"app": "llm"}},
            "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": "5s"}],
            "podTargetLabels": ["tier"],
        }
    )
    sim = ss.start([*docs, pm])
    sim.env.run(until=200)
    times = _times(sim, "up", job=f"{ss.NS}/llm-pm", tier="gold")
    (pod_times,) = times.values()
    assert {round(b - a, 6) for a, b in itertools.pairwise(pod_times)} == {5.0}


def test_without_a_monitor_the_model_servers_are_not_scraped() -> None:
    sim = ss.start(ss.manifest(replicas=1, probes=READY, podmonitor=False))
    sim.env.run(until=200)
    assert sim.tsdb.series_named("vllm:num_requests_running") == []
    assert sim.tsdb.series_named("kube_pod_info")  # kube-state-metrics is scraped regardless


def test_a_podmonitor_that_selects_nothing_scrapes_nothing() -> None:
    pm = _podmonitor(
        {"selector": {"matchLabels": {"app": "other"}}, "podMetricsEndpoints": [{"port": "http"}]}
    )
    sim = ss.start([*ss.manifest(replicas=1, probes=READY, podmonitor=False), pm])
    sim.env.run(until=200)
    assert sim.tsdb.series_named("vllm:num_requests_running") == []
    assert sim.tsdb.series_named("kube_pod_info")  # kube-state-metrics is scraped regardless


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"selector": {}, "podMetricsEndpoints": [{"port": "http", "relabelings": []}]}, "relabelings"),
        (
            {"selector": {}, "namespaceSelector": {"any": True}, "podMetricsEndpoints": [{"port": "http"}]},
            "namespaceSelector",
        ),
        ({"selector": {}, "podMetricsEndpoints": [{"port": "http", "interval": "fast"}]}, "interval"),
        ({"selector": {}, "podMetricsEndpoints": [{"portNumber": 8000}]}, "port"),
        (
            {"selector": {}, "endpoints": [{"port": "http", "scheme": "https"}], "kind": "ServiceMonitor"},
            "scheme",
        ),
        ({"selector": {}, "endpoints": [{"targetPort": 8000}], "kind": "ServiceMonitor"}, "targetPort"),
    ],
)
def test_podmonitor_fields_not_modelled_are_errors(spec, field, tmp_path) -> None:
    doc = _podmonitor(spec)
    (tmp_path / "podmonitor.yaml").write_text(yaml.safe_dump(doc.data), encoding="utf-8")
    with pytest.raises(errors.SlolabError) as caught:
        ss.start([*ss.manifest(replicas=1), *manifests.load(tmp_path)])
    assert any(field in f"{p.field} {p.message}" for p in caught.value.problems), caught.value.problems


def test_a_servicemonitor_scrapes_the_pods_behind_its_service() -> None:
    docs = ss.manifest(replicas=2, probes=READY, podmonitor=False)
    docs[1].data["metadata"]["labels"] = {"team": "ml"}
    docs[1].data["spec"]["ports"][0]["name"] = "web"
    sm = {
        "apiVersion": podmonitor.API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": {"name": "llm-sm"},
        "spec": {
            "selector": {"matchLabels": {"team": "ml"}},
            "endpoints": [{"port": "web", "interval": "30s"}],
            "targetLabels": ["team"],
        },
    }
    sim = ss.start([*docs, yamlfile.Document(sm, "servicemonitor.yaml", {})])
    sim.env.run(until=200)
    result = sim_backend.SimProm(sim).query("up", 200)
    scraped = [r["metric"] for r in result if r["metric"]["job"] == "llm"]
    assert sorted(m["pod"] for m in scraped) == sorted(sim.pods)
    pod = sim.pods[scraped[0]["pod"]]
    assert scraped[0] == {
        "__name__": "up",
        "job": "llm",
        "service": "llm",
        "namespace": ss.NS,
        "pod": pod.name,
        "container": "server",
        "endpoint": "web",
        "instance": f"{pod.ip}:8000",
        "team": "ml",
    }
    (pod_times,) = _times(sim, "up", job="llm", pod=pod.name).values()
    assert {round(b - a, 6) for a, b in itertools.pairwise(pod_times)} == {30.0}


def test_gpu_util_is_pegged_with_one_request_and_zero_idle() -> None:
    sim = ss.start(ss.manifest(replicas=1, probes=READY))
    sim.env.run(until=150)
    # one or two requests at a time, each decoding for about 20 s
    reqs = [request.Request(i, 150.0 + 15 * i, 200, 3000) for i in range(8)]
    for r in reqs:
        if r.arrival_s > sim.env.now:
            sim.env.run(until=r.arrival_s)
        sim.send("llm", r)
    sim.env.run(until=500)
    assert all(r.ok for r in reqs)
    last_s = max(r.finish_s for r in reqs)
    e = sim_backend.SimProm(sim)
    pod = next(iter(sim.pods))
    values = e.query_range(f'DCGM_FI_DEV_GPU_UTIL{{pod="{pod}"}}', 120, 500, 15)[0]["values"]
    by_t = {t: float(v) for t, v in values}
    during = [v for t, v in by_t.items() if 185 <= t <= last_s - 1]
    idle = [v for t, v in by_t.items() if t >= last_s + 31 or t < 150]
    assert len(during) >= 4 and min(during) >= 95
    assert idle and max(idle) == 0
    cpu = float(e.query(f'rate(container_cpu_usage_seconds_total{{pod="{pod}"}}[1m])', 240)[0]["value"][1])
    assert 0.95 <= cpu <= 1.1  # one core busy, whatever the batch
