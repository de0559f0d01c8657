"""slolab serve playing a model version: --ttft-factor and --error-rate (or their env vars) do
what a scenario's ``model.versions`` entry does on the simulator (sim/modelversion.py; the
behaviour the canary-rollout lab's regressed 0.2.0 needs on kind).

Documented behaviour asserted here (scenario llama-8b-h100-canary's 0.2.0, catalog/scenario.py
ModelVersion): "TTFT three times worse and 5% of requests failing"; a failed request is answered
with HTTP 500 and counted as vLLM v1 counts an engine error,
``vllm:request_success_total{finished_reason="error"}``; the draws are seeded (``--seed``).
"""

from __future__ import annotations

import asyncio
import statistics

import pytest
from serve_client import stream
from test_serve_metrics import one, scrape
from typer.testing import CliRunner

from slolab import cli, errors
from slolab.catalog import presets
from slolab.catalog import scenario as scenario_mod
from slolab.serve import config as config_mod
from slolab.serve import server
from slolab.sim import modelversion

CANARY = "llama-8b-h100-canary"


def served(monkeypatch, args: list[str], env: dict[str, str] | None = None):
    """The configuration ``slolab serve ARGS`` (with ``env``) would run, and the CLI result."""
    seen: list[config_mod.ServeConfig] = []
    monkeypatch.setattr(server, "run", lambda cfg: seen.append(cfg) or 0)
    monkeypatch.setattr(server, "configure_logging", lambda verbose=False: None)
    result = CliRunner().invoke(cli.app, ["serve", *args], env=env)
    return (seen[0] if seen else None), result


def test_the_flags_play_the_scenarios_version_as_the_simulator_does(monkeypatch):
    sc = scenario_mod.load(CANARY)
    tag, version = modelversion.lookup("slolab/serve:0.2.0", sc)
    sim_preset = modelversion.preset_of(presets.PRESETS[sc.model.preset], tag, version)
    args = [f"--ttft-factor={version.ttft_factor}", f"--error-rate={version.error_rate}"]
    cfg, result = served(monkeypatch, args)
    assert result.exit_code == 0, result.output
    assert cfg.version == version.model_copy(update={"description": ""})
    for field in ("toh_ms", "a_p_ms", "api_ms_mean", "t0_ms", "a_kv_ms", "kv_blocks"):
        assert getattr(cfg.preset, field) == getattr(sim_preset, field), field


def test_the_env_vars_set_them_and_flags_win(monkeypatch):
    env = {"SLOLAB_SERVE_TTFT_FACTOR": "3", "SLOLAB_SERVE_ERROR_RATE": "0.05"}
    cfg, result = served(monkeypatch, [], env)
    assert result.exit_code == 0, result.output
    assert (cfg.version.ttft_factor, cfg.version.error_rate) == (3.0, 0.05)
    cfg, _ = served(monkeypatch, ["--error-rate=0"], env)
    assert (cfg.version.ttft_factor, cfg.version.error_rate) == (3.0, 0.0)
    cfg, _ = served(monkeypatch, [], {})
    assert cfg.version == config_mod.HEALTHY and cfg.preset is presets.PRESETS[config_mod.DEFAULT_PRESET]


def test_out_of_range_values_are_reported_together():
    with pytest.raises(errors.InputError) as exc:
        config_mod.build(ttft_factor=0.5, error_rate=1.0)
    assert [p.field for p in exc.value.problems] == ["--ttft-factor", "--error-rate"]
    text = str(exc.value)
    assert "SLOLAB_SERVE_TTFT_FACTOR" in text and "SLOLAB_SERVE_ERROR_RATE" in text
    with pytest.raises(errors.InputError):
        config_mod.build(ttft_factor=float("nan"))


def test_an_env_var_that_is_not_a_number_exits_2_naming_it(monkeypatch):
    cfg, result = served(monkeypatch, [], {"SLOLAB_SERVE_ERROR_RATE": "five percent"})
    assert cfg is None and result.exit_code == 2
    assert "SLOLAB_SERVE_ERROR_RATE" in result.output


@pytest.mark.wallclock
@pytest.mark.asyncio
async def test_a_regressed_servers_ttft_shows_in_its_metrics_and_to_the_client(live_with):
    """At low load TTFT is the front-end overhead plus one prefill, both times ttft_factor."""
    body = {"prompt": list(range(1000)), "max_tokens": 2, "stream": True}
    server_mean, client_median = {}, {}
    for factor in (1.0, 3.0):
        async with live_with(ttft_factor=factor, seed=3) as srv:
            results = [await stream(srv.session, srv.url + "/v1/completions", body) for _ in range(9)]
            assert all(r.status == 200 for r in results)
            client_median[factor] = statistics.median(r.token_times()[0] - r.sent_at for r in results)
            samples = await scrape(srv)
            count = one(samples, "vllm:time_to_first_token_seconds_count")
            assert count == 9
            server_mean[factor] = one(samples, "vllm:time_to_first_token_seconds_sum") / count
    assert 2.4 < server_mean[3.0] / server_mean[1.0] < 3.6
    assert 2.4 < client_median[3.0] / client_median[1.0] < 3.6


@pytest.mark.wallclock
@pytest.mark.asyncio
async def test_a_failing_server_answers_its_error_rate_with_500_and_counts_them(live_with):
    n, rate = 80, 0.25
    async with live_with(error_rate=rate, seed=5) as srv:

        async def call(i: int) -> tuple[int, dict]:
            body = {"prompt": list(range(20)), "max_tokens": 2, "stream": i % 2 == 0}
            async with srv.session.post(srv.url + "/v1/completions", json=body) as resp:
                if resp.status == 500:
                    return resp.status, await resp.json()
                await resp.read()
                return resp.status, {}

        answers = await asyncio.gather(*(call(i) for i in range(n)))
        failed = [body for status, body in answers if status == 500]
        assert {status for status, _ in answers} == {200, 500}
        # Binomial(80, 0.25): mean 20, sd 3.9; four sd either side
        assert 4 <= len(failed) <= 36
        assert all(b["error"]["code"] == 500 and b["error"]["type"] == "InternalServerError" for b in failed)
        samples = await scrape(srv)
        assert one(samples, "vllm:request_success_total", finished_reason="error") == len(failed)
        assert one(samples, "vllm:request_success_total", finished_reason="length") == n - len(failed)
        # a failed request never reached the engine: no TTFT, no tokens
        assert one(samples, "vllm:time_to_first_token_seconds_count") == n - len(failed)
        assert one(samples, "vllm:prompt_tokens_total") == 20 * (n - len(failed))


@pytest.mark.wallclock
@pytest.mark.asyncio
async def test_the_same_seed_fails_the_same_requests(live_with):
    body = {"prompt": list(range(20)), "max_tokens": 1}
    runs = []
    for seed in (7, 7, 8):
        async with live_with(error_rate=0.3, seed=seed) as srv:
            statuses = []
            for _ in range(30):
                async with srv.session.post(srv.url + "/v1/completions", json=body) as resp:
                    await resp.read()
                    statuses.append(resp.status)
            runs.append(statuses)
    assert runs[0] == runs[1] and 500 in runs[0]
    assert runs[2] != runs[0]  # two Bernoulli(0.3) runs of 30 agree with probability ~1e-7
