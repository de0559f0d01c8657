"""slolab serve's flags: the chart's exact arguments, the preset's defaults, problems listed at once."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from slolab import cli, errors
from slolab.serve import config as config_mod
from slolab.serve import server

# as charts/llm-serving/templates (slolab-serve branch) renders them
CHART_ARGS = [
    "--preset=llama-3.1-70b-4xh100",
    "--served-model-name=llama-70b",
    "--port=8000",
    "--max-model-len=8192",
    "--max-num-seqs=256",
    "--max-num-batched-tokens=2048",
    "--load-time-s=45",
]


def test_the_charts_arguments_configure_the_server(monkeypatch):
    seen = []
    monkeypatch.setattr(server, "run", lambda cfg: seen.append(cfg) or 0)
    monkeypatch.setattr(server, "configure_logging", lambda verbose=False: None)
    result = CliRunner().invoke(cli.app, ["serve", *CHART_ARGS])
    assert result.exit_code == 0, result.output
    [cfg] = seen
    assert cfg.preset.name == "llama-3.1-70b-4xh100"
    assert cfg.served_model_name == "llama-70b"
    assert (cfg.host, cfg.port, cfg.load_time_s, cfg.seed) == ("0.0.0.0", 8000, 45.0, 0)
    assert cfg.engine.max_model_len == 8192
    assert cfg.engine.max_num_seqs == 256
    assert cfg.engine.max_num_batched_tokens == 2048


def test_flags_left_out_take_the_presets_values():
    cfg = config_mod.build()
    assert cfg.preset.name == "llama-3.1-8b-h100"
    assert cfg.served_model_name == "meta-llama/Llama-3.1-8B-Instruct"  # vLLM: the model path
    assert (cfg.engine.max_model_len, cfg.engine.max_num_seqs, cfg.engine.max_num_batched_tokens) == (
        131072,
        1024,
        8192,
    )
    assert (cfg.port, cfg.load_time_s) == (8000, 0.0)


def test_every_bad_flag_is_reported_at_once():
    with pytest.raises(errors.InputError) as exc:
        config_mod.build(
            max_model_len=200_000, max_num_seqs=64, max_num_batched_tokens=32, served_model_name=" "
        )
    fields = [p.field for p in exc.value.problems]
    assert fields == ["--served-model-name", "--max-model-len", "--max-num-batched-tokens"]
    text = str(exc.value)
    assert "User-specified max_model_len (200000) is greater than the derived max_model_len (131072)" in text
    assert "max_num_batched_tokens (32) must be greater than or equal to max_num_seqs (64)" in text
    assert exc.value.exit_code == 2
