"""Which engine build the simulator runs (sim/native.py), and that the mypyc build computes what
engine.py computes, to the last bit."""

from __future__ import annotations

import dataclasses
import math
import os
import random
import types

import pytest
import simpy

from slolab.catalog import presets
from slolab.run import request as request_mod
from slolab.sim import engine as engine_mod
from slolab.sim import native


@pytest.fixture(autouse=True)
def fresh_choice():
    native.choice.cache_clear()
    yield
    native.choice.cache_clear()


def compiled_or_skip() -> types.ModuleType:
    chosen = native.choice()
    if not chosen.compiled:
        if os.environ.get("SLOLAB_REQUIRE_NATIVE") == "1":
            pytest.fail(f"the compiled engine is required (SLOLAB_REQUIRE_NATIVE=1) but {chosen.reason}")
        pytest.skip(f"compiled engine {chosen.reason}")
    return chosen.module


def test_slolab_engine_python_forces_engine_py(monkeypatch):
    monkeypatch.setenv("SLOLAB_ENGINE", "python")
    chosen = native.choice()
    assert chosen.module is engine_mod and not chosen.compiled
    assert chosen.reason == "SLOLAB_ENGINE=python"


def test_a_missing_build_falls_back_to_engine_py(monkeypatch):
    monkeypatch.delenv("SLOLAB_ENGINE", raising=False)

    def no_module(name: str):
        raise ImportError(name)

    monkeypatch.setattr(native.importlib, "import_module", no_module)
    chosen = native.choice()
    assert chosen.module is engine_mod and "not built" in chosen.reason


def test_a_build_of_an_older_engine_py_is_not_used(monkeypatch):
    monkeypatch.delenv("SLOLAB_ENGINE", raising=False)
    stale = types.SimpleNamespace(SOURCE_SHA256="0" * 64, Engine=object)
    monkeypatch.setattr(native.importlib, "import_module", lambda name: stale)
    chosen = native.choice()
    assert chosen.module is engine_mod and "out of date" in chosen.reason
    current = types.SimpleNamespace(SOURCE_SHA256=native.source_sha256(), Engine=object)
    monkeypatch.setattr(native.importlib, "import_module", lambda name: current)
    native.choice.cache_clear()
    assert native.choice().module is current


def test_the_compiled_engine_gives_engine_py_results_bit_for_bit(monkeypatch):
    """Jitter, API delays, chunked prefill, preemption and client timeouts, on both builds."""
    monkeypatch.delenv("SLOLAB_ENGINE", raising=False)
    compiled = compiled_or_skip()
    preset = dataclasses.replace(
        presets.PRESETS["llama-3.1-8b-h100"], kv_capacity_tokens=16384, max_model_len=8192
    )
    rng = random.Random(5)
    arrivals, t = [], 0.0
    for _ in range(1500):
        t += rng.expovariate(12.0)
        arrivals.append((t, rng.randint(1, 3000), rng.randint(1, 800)))

    def run(module: types.ModuleType) -> list:
        config = dataclasses.replace(
            module.EngineConfig.defaults(preset, "m"), max_num_seqs=48, max_num_batched_tokens=2048
        )
        engine = module.Engine(simpy.Environment(), preset, config, random.Random(3), "p", lazy=True)
        reqs = [
            request_mod.Request(id=i, arrival_s=a, prompt_tokens=p, max_tokens=m, timeout_s=20.0)
            for i, (a, p, m) in enumerate(arrivals)
        ]
        for req in reqs:
            engine.submit(req, req.arrival_s)
        engine.sync(math.inf)
        out = [
            (r.status, r.error, r.first_token_s, r.finish_s, r.output_tokens, r.token_times_s) for r in reqs
        ]
        totals = (engine.num_preemptions_total, engine.generation_tokens_total, engine.request_success_total)
        return [out, totals, engine.step_ends]

    theirs, ours = run(engine_mod), run(compiled)
    assert ours == theirs
    statuses = {r[0] for r in theirs[0]}
    assert theirs[1][0] > 0 and statuses == {200, request_mod.NO_RESPONSE}  # preemption and timeouts ran


@pytest.mark.parametrize("forced", [False, True], ids=["default", "SLOLAB_ENGINE=python"])
def test_the_simulators_pods_run_the_chosen_build(monkeypatch, forced):
    from test_kubernetes import manifest, start

    if forced:
        monkeypatch.setenv("SLOLAB_ENGINE", "python")
    else:
        monkeypatch.delenv("SLOLAB_ENGINE", raising=False)
    sim = start(manifest(replicas=2))
    sim.env.run(until=300)
    engines = [c.engine for p in sim.pods.values() for c in p.containers]
    assert len(engines) == 2 and all(e is not None for e in engines)
    assert {type(e).__module__ for e in engines} == {native.choice().module.__name__}
    if forced:
        assert native.choice().module is engine_mod
