"""The engine model against the public vLLM numbers of research/serving-model.md.

Targets and tolerances are those of serving-model.md §3.1 (validation ladder); source keys as in
its §7. Step jitter and API overhead are switched off where the benchmark has none.
"""

from __future__ import annotations

import dataclasses
import math
import random
import statistics

import pytest
import simpy
from _support import submit_at

from slolab.catalog import presets
from slolab.run import request as request_mod
from slolab.sim import engine as engine_mod

PRESET_8B = presets.PRESETS["llama-3.1-8b-h100"]


def run_requests(preset: presets.Preset, arrivals: list[tuple[float, int, int]]) -> list[request_mod.Request]:
    """One engine with ``vllm serve`` defaults; (arrival_s, prompt_tokens, max_tokens) requests."""
    env = simpy.Environment()
    engine = engine_mod.Engine(
        env, preset, engine_mod.EngineConfig.defaults(preset, "model"), random.Random(11), "pod-0"
    )
    reqs = submit_at(engine, arrivals)
    env.run()
    assert all(r.ok for r in reqs)
    return reqs


def test_latency_batch_8_in_32_out_128():
    # vLLM nightly "latency" suite on H100: batch 8, in 32, out 128 = 997.5 ms [VN]; §3.1 step 2: ≤ 10%
    quiet = dataclasses.replace(PRESET_8B, api_ms_mean=0.0, step_jitter_cv=0.0)
    reqs = run_requests(quiet, [(0.0, 32, 128)] * 8)
    latency_ms = max(r.finish_s for r in reqs) * 1e3
    assert latency_ms == pytest.approx(997.5, rel=0.10), f"batch-8 latency {latency_ms:.1f} ms"


def test_open_loop_poisson_8_rps_isl_575_osl_248():
    rng = random.Random(3)
    arrivals, t = [], 0.0
    while (t := t + rng.expovariate(8.0)) < 200.0:
        arrivals.append((t, 575, 248))
    reqs = run_requests(PRESET_8B, arrivals)
    ttft_ms = statistics.mean(r.ttft_s for r in reqs) * 1e3
    tpot_ms = statistics.mean((r.e2e_s - r.ttft_s) / (r.output_tokens - 1) for r in reqs) * 1e3
    # §3.3: TTFT mean 29 ms (minisim) vs 39.8 ms measured [S2R]; §3.1 step 4 allows 20% on the
    # mean, the lengths of the measured run are assumed: accept the band 20..60 ms
    assert 20.0 <= ttft_ms <= 60.0, f"TTFT mean {ttft_ms:.1f} ms"
    # §3.3: decode 8.6 ms/token (minisim), ≈ 8.4 ms measured [S2R]; ≤ 15% as the task asks
    # (§3.1 step 4 targets ITL ≤ 10%)
    assert tpot_ms == pytest.approx(8.6, rel=0.15), f"decode {tpot_ms:.2f} ms/token"


def _lognormal_tokens(rng: random.Random, mean: float, sigma: float, cap: int) -> int:
    """A lognormal length with the given mean (μ = ln mean − σ²/2), at least 1, clipped to ``cap``."""
    return max(1, min(cap, round(rng.lognormvariate(math.log(mean) - sigma**2 / 2, sigma))))


def test_throughput_200_prompts_at_once():
    # vLLM nightly "throughput" suite on H100: 200 ShareGPT prompts at t = 0, 19.5 req/s [VN].
    # Only ShareGPT's means are public here (202 in / 179 out [VB1]); the shape is the Azure
    # conversation trace's lognormal σ (0.99 in, 0.86 out [AZ]), as serving-model.md §4 advises.
    # Constant lengths would be wrong: the makespan is set by the few longest outputs, so a
    # constant-length batch finishes about 3x sooner. One draw of 200 varies a lot (about 10 to
    # 20 req/s), so the mean over ten fixed seeds is judged. §3.1 step 3 targets ≤ 15%; the task
    # asks ≤ 25%. The research's own minisim gets 15.6 req/s (−20%) with the same stand-in.
    rates = []
    for seed in range(1, 11):
        rng = random.Random(seed)
        arrivals = [
            (0.0, _lognormal_tokens(rng, 202, 0.99, 4096), _lognormal_tokens(rng, 179, 0.86, 4096))
            for _ in range(200)
        ]
        reqs = run_requests(PRESET_8B, arrivals)
        rates.append(len(reqs) / max(r.finish_s for r in reqs))
    req_per_s = statistics.mean(rates)
    assert req_per_s == pytest.approx(19.5, rel=0.25), f"throughput {req_per_s:.1f} req/s vs 19.5"
