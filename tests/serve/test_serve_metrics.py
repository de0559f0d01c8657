"""slolab serve's /metrics: vLLM's names, labels and buckets, and values that agree with the engine."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families
from serve_client import stream
from serve_support import MODEL

pytestmark = [pytest.mark.wallclock, pytest.mark.asyncio]

# research/components.md §1 (vllm v0.33.0 vllm/v1/metrics/loggers.py)
TTFT = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160]
TTFT += [640, 2560]
ITL = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80]
E2E = [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680]


async def scrape(live) -> dict[str, dict]:
    """Sample name -> {frozenset(labels.items()): value}."""
    async with live.session.get(live.url + "/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    samples: dict[str, dict] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return samples


def one(samples: dict, name: str, **labels: str) -> float:
    want = {"model_name": MODEL, "engine": "0", **labels}
    matches = [v for k, v in samples[name].items() if dict(k) == want]
    assert len(matches) == 1, f"{name}{want}: {samples.get(name)}"
    return matches[0]


def buckets(samples: dict, name: str) -> list[float]:
    return sorted(float(dict(k)["le"]) for k in samples[name + "_bucket"] if dict(k)["le"] != "+Inf")


async def test_metric_names_labels_and_buckets_are_vllms(live):
    samples = await scrape(live)
    for name in (
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc",
        "vllm:num_preemptions_total",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
    ):
        assert one(samples, name) == 0
    for reason in ("stop", "length", "abort", "error", "repetition"):
        assert one(samples, "vllm:request_success_total", finished_reason=reason) == 0
    assert buckets(samples, "vllm:time_to_first_token_seconds") == TTFT
    assert buckets(samples, "vllm:inter_token_latency_seconds") == ITL
    assert buckets(samples, "vllm:request_time_per_output_token_seconds") == ITL
    for name in ("e2e_request_latency", "request_queue_time", "request_prefill_time", "request_decode_time"):
        assert buckets(samples, f"vllm:{name}_seconds") == E2E
    assert buckets(samples, "vllm:request_inference_time_seconds") == E2E
    # 1-2-5 series up to max_model_len (131072)
    assert buckets(samples, "vllm:request_prompt_tokens")[-3:] == [20000, 50000, 100000]


async def test_counts_and_latencies_agree_with_the_engine(live):
    bodies = [{"prompt": list(range(50 + i)), "max_tokens": 5 + i, "stream": True} for i in range(6)]
    await asyncio.gather(*(stream(live.session, live.url + "/v1/completions", b) for b in bodies))
    samples = await scrape(live)
    reqs = live.recorder.finished
    assert len(reqs) == 6 and all(r.ok for r in reqs)
    assert one(samples, "vllm:request_success_total", finished_reason="length") == 6
    assert one(samples, "vllm:prompt_tokens_total") == sum(50 + i for i in range(6))
    assert one(samples, "vllm:generation_tokens_total") == sum(5 + i for i in range(6))
    # TTFT as the engine computed it: first token - arrival at the server
    assert one(samples, "vllm:time_to_first_token_seconds_count") == 6
    assert one(samples, "vllm:time_to_first_token_seconds_sum") == pytest.approx(sum(r.ttft_s for r in reqs))
    gaps = [g for r in reqs for g in r.inter_token_gaps_s()]
    assert one(samples, "vllm:inter_token_latency_seconds_count") == len(gaps) == sum(4 + i for i in range(6))
    assert one(samples, "vllm:inter_token_latency_seconds_sum") == pytest.approx(sum(gaps))
    assert one(samples, "vllm:e2e_request_latency_seconds_sum") == pytest.approx(sum(r.e2e_s for r in reqs))
    assert one(samples, "vllm:request_queue_time_seconds_count") == 6
    assert one(samples, "vllm:num_requests_running") == 0
    assert one(samples, "slolab_serve_token_lateness_seconds_count") > 0


async def test_gauges_show_requests_in_flight(live_with):
    async with live_with(max_num_seqs=1, max_num_batched_tokens=512) as srv:
        body = {"prompt": list(range(20)), "max_tokens": 400, "stream": True}
        first = asyncio.create_task(stream(srv.session, srv.url + "/v1/completions", body))
        second = asyncio.create_task(stream(srv.session, srv.url + "/v1/completions", body))
        while srv.rt.engine.num_requests_running < 1 or srv.rt.engine.num_requests_waiting < 1:
            await asyncio.sleep(0.01)
        samples = await scrape(srv)
        assert one(samples, "vllm:num_requests_running") == 1
        assert one(samples, "vllm:num_requests_waiting") == 1
        assert 0 < one(samples, "vllm:kv_cache_usage_perc") < 0.01
        first.cancel()
        second.cancel()
        await asyncio.gather(first, second, return_exceptions=True)
