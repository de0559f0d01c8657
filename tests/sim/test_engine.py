"""The vLLM V1 engine model: request handling, scheduling rules, lifecycle, and its fast paths
(lazy decodes, macro-steps) against a plain per-step, per-request model of the same rules.

Every test runs twice: on engine.py and on its mypyc build (sim/native.py), which must behave
identically; the build's runs are skipped when it is not built, unless SLOLAB_REQUIRE_NATIVE=1.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
import os
import random
import sys
from collections.abc import Callable
from types import ModuleType

import pytest
import simpy
from _support import submit_at

from slolab.catalog import presets
from slolab.run import request as request_mod
from slolab.sim import engine as engine_mod
from slolab.sim import native

#: the build under test (set for each test by the ``build`` fixture)
ENGINE: ModuleType = engine_mod


@pytest.fixture(params=["engine.py", "mypyc"], autouse=True)
def build(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    module = engine_mod
    if request.param == "mypyc":
        monkeypatch.delenv("SLOLAB_ENGINE", raising=False)
        native.choice.cache_clear()
        chosen = native.choice()
        native.choice.cache_clear()
        if not chosen.compiled:
            if os.environ.get("SLOLAB_REQUIRE_NATIVE") == "1":
                pytest.fail(f"the compiled engine is required (SLOLAB_REQUIRE_NATIVE=1) but {chosen.reason}")
            pytest.skip(f"compiled engine {chosen.reason}")
        module = chosen.module
    monkeypatch.setattr(sys.modules[__name__], "ENGINE", module)
    return module


PRESET_8B = presets.PRESETS["llama-3.1-8b-h100"]
QUIET_8B = dataclasses.replace(PRESET_8B, api_ms_mean=0.0, step_jitter_cv=0.0)
# a small GPU: 256 KV blocks of 16 tokens, so that preemption happens
SMALL_KV = dataclasses.replace(QUIET_8B, kv_capacity_tokens=4096, max_model_len=2048)


def make_engine(
    preset: presets.Preset = PRESET_8B,
    seed: int = 1,
    env: simpy.Environment | None = None,
    lazy: bool = False,
    **config: int,
) -> engine_mod.Engine:
    defaults = ENGINE.EngineConfig.defaults(preset, "model")
    cfg = dataclasses.replace(defaults, **config)
    return ENGINE.Engine(env or simpy.Environment(), preset, cfg, random.Random(seed), "pod-0", lazy=lazy)


def poisson(
    rate: float,
    duration_s: float,
    prompt: Callable[[random.Random], int],
    output: Callable[[random.Random], int],
    seed: int = 7,
) -> list[tuple[float, int, int]]:
    rng = random.Random(seed)
    out, t = [], 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= duration_s:
            return out
        out.append((t, prompt(rng), output(rng)))


def outcome(reqs: list[request_mod.Request]) -> list[tuple]:
    return [(r.status, r.error, r.first_token_s, r.finish_s, r.output_tokens, r.token_times_s) for r in reqs]


def reference_run(
    preset: presets.Preset, config: engine_mod.EngineConfig, arrivals: list[tuple[float, int, int]]
) -> tuple[list[list[float]], int]:
    """vLLM V1's scheduler written plainly, one step and one request at a time (no jitter, no API
    delay, no timeouts): the token times of each request (sorted by arrival), and preemptions."""
    bs = preset.block_size
    free = preset.kv_blocks
    t0, toh, a_p, a_kv, a_b = (
        x / 1e3 for x in (preset.t0_ms, preset.toh_ms, preset.a_p_ms, preset.a_kv_ms, preset.a_b_ms)
    )
    reqs = [
        {
            "arrival": a,
            "prompt": p,
            "max": m,
            "g": 0,
            "computed": 0,
            "blocks": 0,
            "decoding": False,
            "times": [],
        }
        for a, p, m in sorted(arrivals)
    ]
    pending = collections.deque(reqs)
    waiting: collections.deque = collections.deque()
    running: list = []
    now, preemptions = 0.0, 0
    while pending or waiting or running:
        while pending and pending[0]["arrival"] <= now:
            waiting.append(pending.popleft())
        if not waiting and not running:
            now = pending[0]["arrival"]
            continue
        budget, scheduled, preempted = config.max_num_batched_tokens, [], False
        i = 0
        while i < len(running) and budget > 0:
            r = running[i]
            n = min(r["prompt"] + r["g"] - r["computed"], budget)
            need = math.ceil((r["computed"] + n) / bs) - r["blocks"]
            victim = None
            while need > free and victim is not r:
                victim = running.pop()
                free += victim["blocks"]
                victim.update(blocks=0, computed=0, decoding=False)
                waiting.appendleft(victim)
                preemptions += 1
                preempted = True
            if victim is r:
                break
            free -= need
            r["blocks"] += need
            budget -= n
            scheduled.append((r, n))
            i += 1
        if not preempted:
            while waiting and budget > 0 and len(running) < config.max_num_seqs:
                r = waiting[0]
                n = min(r["prompt"] + r["g"], budget)
                need = math.ceil(n / bs)
                if need > free:
                    break
                running.append(waiting.popleft())
                free -= need
                r["blocks"] = need
                budget -= n
                scheduled.append((r, n))
        if not scheduled:
            continue
        n_tok = sum(n for _, n in scheduled)
        ctx = sum(r["computed"] + 1 for r, _ in scheduled if r["decoding"])
        now += max(t0, toh + a_p * n_tok) + a_kv * ctx + a_b * len(scheduled)
        for r, n in scheduled:
            r["computed"] += n
            if r["computed"] == r["prompt"] + r["g"]:
                r["g"] += 1
                r["times"].append(now)
                r["decoding"] = True
                if r["g"] == r["max"]:
                    running.remove(r)
                    free += r["blocks"]
    return [r["times"] for r in reqs], preemptions


# ------------------------------------------------------------------ request handling


def test_too_long_request_gets_400_like_the_openai_server():
    engine = make_engine(max_model_len=1000)
    req = request_mod.Request(id=1, arrival_s=0.0, prompt_tokens=900, max_tokens=101)
    engine.submit(req)
    assert (req.status, req.error) == (400, "maximum context length is 1000 tokens; requested 900 + 101")
    assert req.finish_s == 0.0 and req.pod == "pod-0"
    assert engine.in_flight == 0
    ok = request_mod.Request(id=2, arrival_s=0.0, prompt_tokens=900, max_tokens=100)
    engine.submit(ok)
    engine.env.run()
    assert ok.ok and ok.output_tokens == 100


def test_every_finished_request_has_exactly_its_tokens_at_increasing_times():
    engine = make_engine()
    arrivals = poisson(20.0, 30.0, lambda r: r.randint(1, 3000), lambda r: r.randint(1, 400))
    reqs = submit_at(engine, arrivals)
    engine.env.run()
    assert all(r.ok for r in reqs)
    for r in reqs:
        times = r.token_times_s
        assert len(times) == r.output_tokens == r.max_tokens
        assert all(a < b for a, b in itertools.pairwise(times))
        assert times[0] == r.first_token_s > r.arrival_s
        assert times[-1] == r.finish_s
    assert engine.request_success_total == len(reqs)
    assert engine.generation_tokens_total == sum(r.max_tokens for r in reqs)
    assert engine.prompt_tokens_total == sum(r.prompt_tokens for r in reqs)
    assert engine.in_flight == engine.num_requests_running == engine.num_requests_waiting == 0
    assert engine.kv_cache_usage_perc == 0.0
    assert engine.step_ends == sorted(engine.step_ends)


def test_admission_is_first_come_first_served():
    engine = make_engine(QUIET_8B, max_num_seqs=2, max_num_batched_tokens=2048)
    reqs = submit_at(engine, [(0.01 * i, 100, 50) for i in range(10)])
    engine.env.run()
    firsts = [r.first_token_s for r in reqs]
    assert firsts == sorted(firsts)
    assert [r.finish_s for r in reqs] == sorted(r.finish_s for r in reqs)


def test_max_num_seqs_caps_the_running_batch():
    engine = make_engine(PRESET_8B, max_num_seqs=4, max_num_batched_tokens=4096)
    reqs = submit_at(engine, [(0.0, 200, 100)] * 12 + [(0.5, 200, 100)] * 12)
    seen = []

    def watch(env: simpy.Environment):
        while True:
            seen.append((engine.num_requests_running, engine.num_requests_waiting))
            yield env.timeout(0.001)

    engine.env.process(watch(engine.env))
    engine.env.run(until=20.0)
    assert all(r.ok for r in reqs)
    assert max(running for running, _ in seen) == 4
    assert max(waiting for _, waiting in seen) >= 8
    per_step = collections.Counter(t for r in reqs for t in r.token_times_s)  # a step's end time
    assert max(per_step.values()) == 4


# ------------------------------------------------------------------ preemption and the fast paths


def test_preempted_requests_recompute_and_still_get_all_their_tokens():
    engine = make_engine(SMALL_KV, max_num_seqs=64, max_num_batched_tokens=512)
    reqs = submit_at(engine, [(0.0, 300, 400)] * 12)
    engine.env.run()
    assert engine.num_preemptions_total > 0
    assert all(r.ok and len(r.token_times_s) == r.output_tokens == 400 for r in reqs)
    step_of = {t: i for i, t in enumerate(engine.step_ends)}
    # a preempted request skips the steps of its recompute: its tokens' steps are not consecutive
    assert any(any(step_of[b] - step_of[a] > 1 for a, b in itertools.pairwise(r.token_times_s)) for r in reqs)
    assert engine.generation_tokens_total == 12 * 400
    assert engine.kv_cache_usage_perc == 0.0


@pytest.mark.parametrize(
    ("preset", "config", "rate"),
    [
        (SMALL_KV, {"max_num_seqs": 16, "max_num_batched_tokens": 256}, 6.0),  # chunks, preemption
        (SMALL_KV, {"max_num_seqs": 64, "max_num_batched_tokens": 2048}, 3.0),  # preemption storms
        (QUIET_8B, {}, 12.0),  # defaults, long runs
    ],
)
def test_engine_matches_a_plain_step_by_step_model(preset, config, rate):
    engine = make_engine(preset, **config)
    arrivals = poisson(rate, 40.0, lambda r: r.randint(1, 600), lambda r: r.randint(1, 300), seed=3)
    arrivals += [(0.0, 64, 1), (0.0, 500, 20)]  # a batch at t=0, a one-token request
    reqs = submit_at(engine, arrivals)
    engine.env.run()
    want_times, want_preemptions = reference_run(preset, engine.config, arrivals)
    assert engine.num_preemptions_total == want_preemptions
    assert all(r.ok for r in reqs)
    for r, want in zip(reqs, want_times, strict=True):
        assert r.token_times_s == pytest.approx(want, abs=1e-9)


def test_results_do_not_depend_on_how_steps_are_grouped():
    def run(max_steps: int) -> list[tuple]:
        engine = make_engine(
            dataclasses.replace(PRESET_8B, kv_capacity_tokens=8192, max_model_len=4096),
            max_num_seqs=32,
            max_num_batched_tokens=1024,
            seed=5,
        )
        engine.max_steps_per_event = max_steps
        arrivals = poisson(8.0, 60.0, lambda r: r.randint(1, 1500), lambda r: r.randint(1, 500))
        reqs = submit_at(engine, arrivals, timeout_s=5.0)  # overloaded: some time out
        engine.env.run()
        return [*outcome(reqs), engine.num_preemptions_total, engine.generation_tokens_total]

    grouped = run(1 << 30)
    assert grouped == run(1)
    errors = collections.Counter(o[1] for o in grouped[:-2])
    assert errors[None] > 100 and errors["client timeout"] > 10, errors


@pytest.mark.parametrize(
    ("preset", "config", "timeout_s"),
    [
        (SMALL_KV, {"max_num_seqs": 16, "max_num_batched_tokens": 256}, 180.0),  # chunks, preemption
        (SMALL_KV, {"max_num_seqs": 64, "max_num_batched_tokens": 2048}, 4.0),  # storms, timeouts
        (PRESET_8B, {}, 180.0),  # jitter, API delay, long runs
    ],
)
def test_a_lazy_engine_gives_the_results_of_one_with_events(preset, config, timeout_s):
    arrivals = poisson(6.0, 60.0, lambda r: r.randint(1, 1500), lambda r: r.randint(1, 500), seed=11)

    def run(lazy: bool) -> list:
        engine = make_engine(preset, seed=3, lazy=lazy, **config)
        if not lazy:
            reqs = submit_at(engine, arrivals, timeout_s=timeout_s)
            engine.env.run()
        else:  # a burst of submits at their own times, no SimPy event at all, then catch up
            reqs = [
                request_mod.Request(id=i, arrival_s=a, prompt_tokens=p, max_tokens=m, timeout_s=timeout_s)
                for i, (a, p, m) in enumerate(sorted(arrivals))
            ]
            for req in reqs:
                engine.submit(req, now_s=req.arrival_s)
            assert engine.env.now == 0.0 and any(not r.done for r in reqs)
            engine.sync(math.inf)
        totals = (engine.num_preemptions_total, engine.generation_tokens_total, engine.request_success_total)
        return [*outcome(reqs), totals, engine.step_ends]

    with_events = run(False)
    assert run(True) == with_events


@pytest.mark.parametrize("lazy", [False, True], ids=["events", "lazy"])
def test_reading_the_gauges_does_not_change_the_run(lazy):
    def run(watch: bool) -> tuple[list[tuple], list[float]]:
        engine = make_engine(SMALL_KV, max_num_seqs=32, max_num_batched_tokens=512, seed=9, lazy=lazy)
        arrivals = poisson(2.0, 60.0, lambda r: r.randint(1, 800), lambda r: r.randint(1, 600))
        reqs = submit_at(engine, arrivals)
        usage: list[float] = []

        def scrape(env: simpy.Environment):
            rng = random.Random(4)
            while env.now < 70.0:
                yield env.timeout(rng.uniform(0.0, 0.5))
                usage.append(engine.kv_cache_usage_perc)

        if watch:
            engine.env.process(scrape(engine.env))
        engine.env.run()
        engine.sync(math.inf)  # a lazy engine's last requests, with no one watching
        return outcome(reqs), usage

    quiet, _ = run(False)
    watched, usage = run(True)
    assert watched == quiet
    assert min(usage) >= 0.0 and max(usage) <= 1.0 and max(usage) > 0.5


# ------------------------------------------------------------------ client timeouts


def test_client_timeout_reports_the_deadline_and_frees_the_blocks():
    engine = make_engine(QUIET_8B, max_num_seqs=1)
    reqs = submit_at(engine, [(0.0, 100, 100)] * 4, timeout_s=1.0)
    late = submit_at(engine, [(1.5, 100, 100)])
    engine.env.run()
    first, cut, *queued = reqs
    assert first.ok and first.finish_s < 1.0
    for r in [cut, *queued]:
        assert (r.status, r.error, r.finish_s) == (request_mod.NO_RESPONSE, "client timeout", 1.0)
        assert r.output_tokens == len(r.token_times_s)
        assert all(t <= 1.0 for t in r.token_times_s)
    assert 0 < cut.output_tokens < 100
    assert [r.output_tokens for r in queued] == [0, 0] and queued[0].first_token_s is None
    assert late[0].ok and late[0].output_tokens == 100
    assert engine.in_flight == 0 and engine.kv_cache_usage_perc == 0.0


# ------------------------------------------------------------------ pod lifecycle


@pytest.mark.parametrize("lazy", [False, True], ids=["events", "lazy"])
def test_drain_refuses_new_requests_finishes_the_rest_then_reports_idle(lazy):
    engine = make_engine(lazy=lazy)
    env = engine.env
    reqs = submit_at(engine, [(0.0, 500, 200)] * 5)
    idle_at = []
    engine.on_idle = lambda: idle_at.append(env.now)
    refused = request_mod.Request(id=99, arrival_s=0.5, prompt_tokens=10, max_tokens=10)

    def sigterm(env: simpy.Environment):
        yield env.timeout(0.5)
        engine.drain()
        engine.submit(refused)

    env.process(sigterm(env))
    env.run()
    assert all(r.ok for r in reqs)
    assert (refused.status, refused.error) == (request_mod.NO_RESPONSE, "connection refused")
    assert refused.finish_s == 0.5
    assert idle_at == [max(r.finish_s for r in reqs)]


@pytest.mark.parametrize("lazy", [False, True], ids=["events", "lazy"])
def test_kill_fails_everything_in_flight_with_the_reason_and_stops_the_engine(lazy):
    engine = make_engine(SMALL_KV, max_num_seqs=4, lazy=lazy)
    env = engine.env
    reqs = submit_at(engine, [(0.0, 300, 300)] * 8 + [(0.999, 100, 10)])
    idle_at = []
    engine.on_idle = lambda: idle_at.append(env.now)

    def sigkill(env: simpy.Environment):
        yield env.timeout(1.0)
        engine.kill("pod killed")

    env.process(sigkill(env))
    env.run()
    assert idle_at == [1.0]
    assert all((r.status, r.error, r.finish_s) == (request_mod.NO_RESPONSE, "pod killed", 1.0) for r in reqs)
    for r in reqs:
        assert r.output_tokens == len(r.token_times_s)
        assert all(t <= 1.0 for t in r.token_times_s)
    assert sum(r.output_tokens for r in reqs[:4]) > 0 and reqs[-1].output_tokens == 0
    assert engine.in_flight == 0 and engine.kv_cache_usage_perc == 0.0
    after = request_mod.Request(id=100, arrival_s=2.0, prompt_tokens=10, max_tokens=10)
    engine.submit(after)
    assert after.error == "connection refused"


# ------------------------------------------------------------------ determinism


def test_same_seed_same_results_other_seed_other_results():
    def run(seed: int) -> list[tuple]:
        engine = make_engine(seed=seed)
        arrivals = poisson(10.0, 20.0, lambda r: r.randint(50, 800), lambda r: r.randint(10, 200))
        reqs = submit_at(engine, arrivals)
        engine.env.run()
        return outcome(reqs)

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_config_is_validated_like_vllm():
    with pytest.raises(ValueError, match="max_num_batched_tokens"):
        ENGINE.EngineConfig(
            max_num_seqs=256, max_num_batched_tokens=128, max_model_len=1024, served_model_name="m"
        )
    with pytest.raises(ValueError, match="KV cache"):
        make_engine(dataclasses.replace(PRESET_8B, kv_capacity_tokens=1024), max_model_len=2048)
