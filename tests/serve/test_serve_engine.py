"""The engine's real-time interface (tokens_sent, abort) and the real-time engine computing exactly
what the simulator computes for the same arrivals."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest
import simpy
from _support import submit_at
from serve_client import stream

from slolab.catalog import presets
from slolab.run import request as request_mod
from slolab.serve import config as config_mod
from slolab.sim import engine as engine_mod

PRESET_8B = presets.PRESETS["llama-3.1-8b-h100"]
# 256 KV blocks of 16 tokens: preemptions happen
SMALL_KV = dataclasses.replace(PRESET_8B, kv_capacity_tokens=4096, max_model_len=2048)


def step_by_step(preset: presets.Preset, arrivals: list[tuple[float, int, int]], seed: int = 3):
    """Run with one event per step; after each step end, record tokens_sent of every request."""
    env = simpy.Environment()
    cfg = engine_mod.EngineConfig.defaults(preset, "m")
    engine = engine_mod.Engine(env, preset, cfg, random.Random(seed), "pod")
    engine.max_steps_per_event = 1
    handles: list[tuple[request_mod.Request, engine_mod._Seq]] = []

    def arrive():
        for i, (t, p, m) in enumerate(arrivals):
            yield env.timeout(t - env.now)
            req = request_mod.Request(id=i, arrival_s=t, prompt_tokens=p, max_tokens=m, timeout_s=1e9)
            handles.append((req, engine.submit(req)))

    env.process(arrive())
    seen: list[list[int]] = []  # per step: tokens_sent of each request submitted so far
    while env.peek() < float("inf"):
        env.step()
        if len(engine.step_ends) > len(seen):
            assert len(engine.step_ends) == len(seen) + 1, "a step ended without its own event"
            seen.append([engine.tokens_sent(seq) for _, seq in handles])
    return engine, handles, seen


@pytest.mark.parametrize("preset", [PRESET_8B, SMALL_KV], ids=["8b", "small-kv-preempting"])
def test_tokens_sent_counts_the_tokens_of_the_steps_that_ended(preset):
    rng = random.Random(5)
    arrivals, t = [], 0.0
    for _ in range(60):
        t += rng.expovariate(40)
        arrivals.append((t, rng.randint(20, 900), rng.randint(1, 300)))
    engine, handles, seen = step_by_step(preset, arrivals)
    if preset is SMALL_KV:
        assert engine.num_preemptions_total > 0, "the workload should preempt"
    for i, (req, _) in enumerate(handles):
        assert req.ok
        times = req.token_times_s
        for step, sent in enumerate(seen):
            if i < len(sent):
                expected = sum(1 for t in times if t <= engine.step_ends[step])
                assert sent[i] == expected, f"request {i} after step {step}"


def test_abort_frees_the_slot_at_the_next_step_end():
    env = simpy.Environment()
    engine = engine_mod.Engine(
        env, PRESET_8B, engine_mod.EngineConfig.defaults(PRESET_8B, "m"), random.Random(1), "pod"
    )
    engine.max_steps_per_event = 1
    running = request_mod.Request(id=0, arrival_s=0.0, prompt_tokens=100, max_tokens=1000)
    seq = engine.submit(running)
    env.run(until=0.2)
    assert engine.num_requests_running == 1 and engine.kv_cache_usage_perc > 0
    got = engine.tokens_sent(seq)
    engine.abort(seq)
    env.run(until=0.25)
    assert running.done and not running.ok
    assert running.output_tokens == got  # the tokens sent before the client left
    assert engine.num_requests_running == 0 and engine.kv_cache_usage_perc == 0
    assert engine.in_flight == 0

    queued = request_mod.Request(id=1, arrival_s=0.25, prompt_tokens=100, max_tokens=10)
    seq = engine.submit(queued)  # still in the API front end: leaves at once
    engine.abort(seq)
    assert queued.done and queued.output_tokens == 0 and engine.in_flight == 0


@pytest.mark.asyncio
async def test_the_server_computes_what_the_simulator_computes(live):
    """Replay the arrivals the live server saw into a simulated engine: same token times, bit for bit."""

    async def one(i: int):
        await asyncio.sleep(0.01 * i)
        body = {"prompt": list(range(50 + 97 * i)), "max_tokens": 20 + 5 * i, "stream": True}
        await stream(live.session, live.url + "/v1/completions", body)

    await asyncio.gather(*(one(i) for i in range(12)))
    served = sorted(live.recorder.finished, key=lambda r: r.arrival_s)
    cfg = config_mod.build(served_model_name="test-model")
    env = simpy.Environment()
    sim = engine_mod.Engine(env, cfg.preset, cfg.engine, random.Random(cfg.seed), "pod")
    replayed = submit_at(sim, [(r.arrival_s, r.prompt_tokens, r.max_tokens) for r in served], timeout_s=1e9)
    env.run()
    assert len(served) == 12
    for live_req, sim_req in zip(served, replayed, strict=True):
        assert live_req.token_times_s == sim_req.token_times_s
        assert live_req.first_token_s == sim_req.first_token_s


@pytest.mark.asyncio
async def test_an_idle_engine_is_replaced_after_many_steps_and_counters_carry_over(live, monkeypatch):
    from slolab.serve import realtime

    monkeypatch.setattr(realtime, "ROTATE_AFTER_STEPS", 10)
    body = {"prompt": list(range(30)), "max_tokens": 12, "stream": True}
    first_engine = live.rt.engine
    await stream(live.session, live.url + "/v1/completions", body)
    assert live.rt.engine is first_engine and len(first_engine.step_ends) >= 10
    result = await stream(live.session, live.url + "/v1/completions", body)  # idle: a fresh engine
    assert live.rt.engine is not first_engine
    assert len(result.chunks()) == 12 and result.events[-1] == b"[DONE]"
    assert live.rt.totals()[:2] == (60, 24)  # prompt and generation tokens of both requests
    second = live.recorder.finished[-1]
    assert second.ok and second.arrival_s < 0.1  # the new engine's time starts at its start
