"""Seeded samples shaped like a simulated serving run, for tests, benchmarks and conformance.

A Deployment of vLLM pods scraped every ``scrape_interval_s`` with jitter (and now and then a
missed scrape), exposing the vLLM v0.33 metric names of research/components.md §1 (counters
``vllm:request_success_total{finished_reason}``, ``vllm:prompt_tokens_total``,
``vllm:generation_tokens_total``; gauges ``vllm:num_requests_running``,
``vllm:num_requests_waiting``, ``vllm:kv_cache_usage_perc``; histograms
``vllm:time_to_first_token_seconds`` and ``vllm:e2e_request_latency_seconds`` with vLLM's
buckets), plus a kube-state-metrics target (``kube_pod_status_ready{condition}``,
``kube_deployment_status_replicas``, ``kube_pod_container_status_restarts_total``).
With ``churn``: pod 0's container restarts half-way (its counters and histograms reset),
pod 1 goes away at 40 % (its series go stale) and a new pod joins at 60 %.

Samples enter through ``TSDB.scrape`` / ``TSDB.target_gone``, the same calls a simulator's
scrape loop makes, so the simulator can replace this generator without changing the readers.
"""

from __future__ import annotations

import math
import random

from slolab.promql import tsdb

TTFT_BUCKETS_S = (
    0.001,
    0.005,
    0.01,
    0.02,
    0.04,
    0.06,
    0.08,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
    20.0,
    40.0,
    80.0,
    160.0,
    640.0,
    2560.0,
)
E2E_BUCKETS_S = (
    0.3,
    0.5,
    0.8,
    1.0,
    1.5,
    2.0,
    2.5,
    5.0,
    10.0,
    15.0,
    20.0,
    30.0,
    40.0,
    50.0,
    60.0,
    120.0,
    240.0,
    480.0,
    960.0,
    1920.0,
    7680.0,
)
START_S = 1_700_000_000.0


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


class _Pod:
    """One vLLM pod's cumulative metric state."""

    def __init__(self, name: str, ip: str) -> None:
        self.name = name
        self.target = f"{ip}:8000"
        self.restarts = 0
        self._keys: dict[tuple[str, ...], tsdb.Labels] = {}
        self.reset()

    def reset(self) -> None:
        self.success = {"stop": 0.0, "length": 0.0}
        self.prompt_tokens = 0.0
        self.generation_tokens = 0.0
        self.ttft = [0.0] * (len(TTFT_BUCKETS_S) + 1) + [0.0]  # buckets..., +Inf, sum
        self.e2e = [0.0] * (len(E2E_BUCKETS_S) + 1) + [0.0]

    @staticmethod
    def _observe(hist: list[float], bounds: tuple[float, ...], value: float) -> None:
        for i, bound in enumerate(bounds):
            if value <= bound:
                hist[i] += 1
        hist[len(bounds)] += 1
        hist[-1] += value

    def serve(self, rng: random.Random, requests: int) -> None:
        for _ in range(requests):
            reason = "length" if rng.random() < 0.15 else "stop"
            self.success[reason] += 1
            self.prompt_tokens += rng.randint(50, 2000)
            self.generation_tokens += rng.randint(10, 512)
            self._observe(self.ttft, TTFT_BUCKETS_S, rng.lognormvariate(math.log(0.08), 0.9))
            self._observe(self.e2e, E2E_BUCKETS_S, rng.lognormvariate(math.log(3.0), 0.7))

    def samples(self, base: dict[str, str], rng: random.Random, load: float) -> dict[tsdb.Labels, float]:
        out: dict[tsdb.Labels, float] = {}

        def put(name: str, value: float, **extra: str) -> None:
            key = (name, *extra.values())
            labels = self._keys.get(key)
            if labels is None:
                labels = self._keys[key] = tsdb.labels_of({**base, "__name__": name, **extra})
            out[labels] = value

        for reason, count in self.success.items():
            put("vllm:request_success_total", count, finished_reason=reason)
        put("vllm:prompt_tokens_total", self.prompt_tokens)
        put("vllm:generation_tokens_total", self.generation_tokens)
        put("vllm:num_requests_running", float(min(16, rng.randint(0, int(4 + 12 * load)))))
        put("vllm:num_requests_waiting", float(max(0, rng.randint(-6, int(10 * load)))))
        put("vllm:kv_cache_usage_perc", round(min(1.0, 0.1 + 0.8 * load * rng.random()), 4))
        for family, hist, bounds in (
            ("vllm:time_to_first_token_seconds", self.ttft, TTFT_BUCKETS_S),
            ("vllm:e2e_request_latency_seconds", self.e2e, E2E_BUCKETS_S),
        ):
            for i, bound in enumerate((*bounds, math.inf)):
                put(f"{family}_bucket", hist[i], le=_le(bound))
            put(f"{family}_count", hist[len(bounds)])
            put(f"{family}_sum", hist[-1])
        return out


def declare_types(db: tsdb.TSDB) -> None:
    for family in ("vllm:request_success", "vllm:prompt_tokens", "vllm:generation_tokens"):
        db.declare(family, "counter")
    for family in ("vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"):
        db.declare(family, "gauge")
    for family in ("vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds"):
        db.declare(family, "histogram")
    db.declare("kube_pod_status_ready", "gauge")
    db.declare("kube_deployment_status_replicas", "gauge")
    db.declare("kube_pod_container_status_restarts", "counter")


def serving_run(
    seed: int,
    *,
    pods: int = 4,
    duration_s: float = 1800.0,
    scrape_interval_s: float = 15.0,
    jitter_s: float = 1.0,
    start_s: float = START_S,
    churn: bool = True,
    aligned: bool = False,
    namespace: str = "lab",
    deployment: str = "llm",
    model: str = "llama-3.1-8b",
) -> tsdb.TSDB:
    """A TSDB with ``duration_s`` of scrapes of ``pods`` vLLM pods and kube-state-metrics.

    ``aligned`` scrapes every pod exactly at ``start_s + k * scrape_interval_s`` (no phase, no
    jitter), so that samples fall on window edges of queries at aligned times."""
    rng = random.Random(seed)
    db = tsdb.TSDB()
    declare_types(db)
    live = [_Pod(f"{deployment}-{rng.getrandbits(32):08x}", f"10.244.1.{i + 10}") for i in range(pods)]
    phase = {p.target: 0.0 if aligned else rng.uniform(0, scrape_interval_s) for p in live}
    if aligned:
        jitter_s = 0.0
    steps = int(duration_s // scrape_interval_s)
    restart_at, leave_at, join_at = (steps // 2, steps * 2 // 5, steps * 3 // 5) if churn else (-1, -1, -1)
    for k in range(steps):
        base_s = start_s + k * scrape_interval_s
        load = 0.3 + 0.7 * math.sin(math.pi * k / max(1, steps)) ** 2
        if k == leave_at and len(live) > 1:
            gone = live.pop(1)
            db.target_gone(gone.target, base_s + phase[gone.target])
        if k == join_at:
            joined = _Pod(f"{deployment}-{rng.getrandbits(32):08x}", f"10.244.2.{k % 200 + 10}")
            phase[joined.target] = 0.0 if aligned else rng.uniform(0, scrape_interval_s)
            live.append(joined)
        if k == restart_at:
            live[0].reset()
            live[0].restarts += 1
        for pod in live:
            if rng.random() < 0.03:
                continue  # a missed scrape
            t_s = base_s + phase[pod.target] + rng.uniform(-jitter_s, jitter_s)
            pod.serve(rng, max(0, int(rng.gauss(20 * load, 4))))
            base = {
                "namespace": namespace,
                "pod": pod.name,
                "instance": pod.target,
                "job": deployment,
                "model_name": model,
                "engine": "0",
            }
            db.scrape(pod.target, t_s, pod.samples(base, rng, load))
        ksm: dict[tsdb.Labels, float] = {}
        for pod in live:
            ready = 0.0 if pod.restarts and k in (restart_at, restart_at + 1) else 1.0
            for condition, value in (("true", ready), ("false", 1.0 - ready), ("unknown", 0.0)):
                ksm[
                    tsdb.labels_of(
                        {
                            "__name__": "kube_pod_status_ready",
                            "namespace": namespace,
                            "pod": pod.name,
                            "condition": condition,
                            "job": "kube-state-metrics",
                        }
                    )
                ] = value
            ksm[
                tsdb.labels_of(
                    {
                        "__name__": "kube_pod_container_status_restarts_total",
                        "namespace": namespace,
                        "pod": pod.name,
                        "container": "vllm",
                        "job": "kube-state-metrics",
                    }
                )
            ] = float(pod.restarts)
        ksm[
            tsdb.labels_of(
                {
                    "__name__": "kube_deployment_status_replicas",
                    "namespace": namespace,
                    "deployment": deployment,
                    "job": "kube-state-metrics",
                }
            )
        ] = float(len(live))
        ksm_s = base_s if aligned else base_s + 7.0 + rng.uniform(-jitter_s, jitter_s)
        db.scrape("kube-state-metrics", ksm_s, ksm)
    return db
