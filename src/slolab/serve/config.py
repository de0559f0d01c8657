"""The flags of ``slolab serve``, checked all at once into one configuration.

They follow ``vllm serve`` where they overlap (vllm v0.33.0 vllm/entrypoints/openai/cli_args.py
and vllm/engine/arg_utils.py: --host, --port, --served-model-name, --max-model-len,
--max-num-seqs, --max-num-batched-tokens, --seed) and add the serving-model preset and the
simulated model load time. They are the flags charts/llm-serving passes (deployment.yaml,
slolab-serve branch) and the flags the simulator reads from the same manifest
(``slolab.sim.serverargs``), so a pod behaves alike on every backend. Flags left out take the
preset's values, as ``vllm serve`` takes its hardware defaults (``EngineConfig.defaults``).

``--ttft-factor`` and ``--error-rate`` (or ``SLOLAB_SERVE_TTFT_FACTOR`` and
``SLOLAB_SERVE_ERROR_RATE``, which a per-version image sets: clusterup.py) make the server play a
model version as the simulator plays a scenario's ``model.versions`` entry, with the same bounds
(catalog/scenario.py ModelVersion) and the same effect (sim/modelversion.py ``preset_of``: the
prefill and front-end costs times the factor; serve/versionfaults.py: that share of requests
answered with HTTP 500).
"""

from __future__ import annotations

import dataclasses
import math

from slolab import errors
from slolab.catalog import presets
from slolab.catalog import scenario as scenario_mod
from slolab.sim import engine as engine_mod
from slolab.sim import modelversion

DEFAULT_PRESET = "llama-3.1-8b-h100"
WHERE = "slolab serve"  # the "file" of a flag problem
HEALTHY = scenario_mod.ModelVersion()  # the preset as it is: no --ttft-factor, no --error-rate


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    """Everything one ``slolab serve`` process needs."""

    preset: presets.Preset
    engine: engine_mod.EngineConfig
    host: str
    port: int
    load_time_s: float
    seed: int
    version: scenario_mod.ModelVersion = HEALTHY

    @property
    def served_model_name(self) -> str:
        return self.engine.served_model_name


def build(
    preset: str = DEFAULT_PRESET,
    served_model_name: str | None = None,
    host: str = "0.0.0.0",
    port: int = 8000,
    max_model_len: int | None = None,
    max_num_seqs: int | None = None,
    max_num_batched_tokens: int | None = None,
    load_time_s: float = 0.0,
    seed: int = 0,
    ttft_factor: float = 1.0,
    error_rate: float = 0.0,
) -> ServeConfig:
    """Check the flags; every problem is reported at once as an ``InputError`` (exit 2)."""
    problems: list[errors.Problem] = []

    def bad(flag: str, message: str) -> None:
        problems.append(errors.Problem(WHERE, message, field=flag))

    spec = presets.PRESETS.get(preset)
    if spec is None:
        bad("--preset", f"unknown preset {preset!r}; presets: {', '.join(presets.PRESETS)}")
        spec = presets.PRESETS[DEFAULT_PRESET]  # go on, to report the other flags too
    if not 0 <= port <= 65535:
        bad("--port", f"must be 0..65535 (got {port}); 0 picks a free port")
    if not math.isfinite(load_time_s) or load_time_s < 0:
        bad("--load-time-s", f"must be a number of seconds >= 0 (got {load_time_s})")
    if not math.isfinite(ttft_factor) or ttft_factor < 1:
        bad(
            "--ttft-factor",
            f"must be a number >= 1 (got {ttft_factor}; also read from SLOLAB_SERVE_TTFT_FACTOR); "
            "1 serves the preset as it is",
        )
    if not math.isfinite(error_rate) or not 0 <= error_rate < 1:
        bad(
            "--error-rate",
            f"must be a share in [0, 1) (got {error_rate}; also read from SLOLAB_SERVE_ERROR_RATE); "
            "0 fails no request",
        )
    if served_model_name is not None and not served_model_name.strip():
        bad("--served-model-name", "must not be empty")
    defaults = engine_mod.EngineConfig.defaults(spec, served_model_name or spec.model)
    limits = {
        "--max-model-len": max_model_len,
        "--max-num-seqs": max_num_seqs,
        "--max-num-batched-tokens": max_num_batched_tokens,
    }
    for flag, value in limits.items():
        if value is not None and value < 1:
            bad(flag, f"must be >= 1 (got {value})")
    model_len = defaults.max_model_len if max_model_len is None else max_model_len
    kv_tokens = spec.kv_blocks * spec.block_size
    if model_len > spec.max_model_len:  # vLLM ModelConfig: "User-specified max_model_len ..."
        bad(
            "--max-model-len",
            f"User-specified max_model_len ({model_len}) is greater than the derived max_model_len "
            f"({spec.max_model_len}) of {spec.model}",
        )
    elif model_len > kv_tokens:  # vLLM kv_cache_utils check_enough_kv_cache_memory
        bad(
            "--max-model-len",
            f"The model's max seq len ({model_len}) is larger than the maximum number of tokens "
            f"that can be stored in KV cache ({kv_tokens})",
        )
    seqs = defaults.max_num_seqs if max_num_seqs is None else max_num_seqs
    batched = defaults.max_num_batched_tokens if max_num_batched_tokens is None else max_num_batched_tokens
    if min(seqs, batched) >= 1 and batched < seqs:  # vLLM SchedulerConfig check
        bad(
            "--max-num-batched-tokens",
            f"max_num_batched_tokens ({batched}) must be greater than or equal to max_num_seqs ({seqs})",
        )
    if problems:
        raise errors.InputError(problems, "See the flags with `slolab serve --help`.")
    engine = dataclasses.replace(
        defaults, max_model_len=model_len, max_num_seqs=seqs, max_num_batched_tokens=batched
    )
    version = scenario_mod.ModelVersion(ttft_factor=ttft_factor, error_rate=error_rate)
    return ServeConfig(
        preset=modelversion.preset_of(spec, f"ttft_factor={ttft_factor:g}", version),
        engine=engine,
        host=host,
        port=port,
        load_time_s=load_time_s,
        seed=seed,
        version=version,
    )
