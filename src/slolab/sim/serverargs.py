"""Read a model-server container (image, command, args, GPUs) into the engine's configuration.

Containers that serve no model (the device plugin, ``sleep``) are sim/workload.py's.
Engines the simulator models: ``slolab serve`` (image slolab/serve; the serving model itself)
and ``vllm serve`` (image vllm/vllm-openai), whose flags it follows where they overlap
(vllm v0.33.0 vllm/engine/arg_utils.py: --port, --served-model-name, --max-model-len,
--max-num-seqs, --max-num-batched-tokens). Any other image or flag is a NotModelledError.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slolab import errors
from slolab.catalog import presets, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab.sim import modelversion
from slolab.sim import workload as workload_mod

#: vLLM routes that answer 200 once the server listens (vllm/entrypoints/**); others are 404.
ROUTES = frozenset({"/health", "/ping", "/version", "/v1/models", "/metrics", "/load"})

_INT_FLAGS = {
    "--port",
    "--max-model-len",
    "--max-num-seqs",
    "--max-num-batched-tokens",
    "--tensor-parallel-size",
    "--seed",  # slolab serve's random streams; the simulator draws from the run's seed instead
}
_ACCEPTED_BOOL_FLAGS = {  # no effect on traffic without shared prefixes / on the modelled V1 engine
    "--enable-chunked-prefill",
    "--enable-prefix-caching",
    "--no-enable-prefix-caching",
    "--disable-log-requests",
    "--disable-log-stats",
}


@dataclasses.dataclass(frozen=True)
class ServerConfig:
    engine: str  # slolab-serve | vllm
    preset: presets.Preset
    served_model_name: str
    port: int
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    load_time_s: float | None  # slolab serve --load-time-s; None → the scenario's
    startup_error: str | None  # the server exits at start with this error (e.g. no GPU)
    version: str | None = None  # the image tag, when the scenario lists model versions
    error_rate: float = 0.0  # share of requests the version fails (sim/modelversion.py)
    workload: workload_mod.Workload | None = None  # not a model server: what runs instead


def _engine_of(image: str) -> str | None:
    repo = image.rsplit("@", 1)[0].rsplit(":", 1)[0] if "/" in image else image.split(":", 1)[0]
    if repo.endswith("slolab/serve"):
        return "slolab-serve"
    if repo.endswith("vllm/vllm-openai"):
        return "vllm"
    return None


def parse(
    container: dict[str, Any], doc: yamlfile.Document, path: tuple, scenario: scenario_mod.Scenario
) -> ServerConfig:
    """The server configuration of ``container`` (at ``path`` inside ``doc``)."""

    def problem(field: tuple, message: str) -> errors.NotModelledError:
        full = (*path, *field)
        return errors.NotModelledError(
            errors.Problem(doc.file, message, field=yamlfile.dotted(full), line=doc.line_of(full)),
            "The simulator runs slolab/serve and vllm/vllm-openai model servers; "
            "use BACKEND=kind for anything else.",
        )

    image = str(container.get("image", ""))
    engine = _engine_of(image)
    workload = workload_mod.parse(container) if engine is None else None
    if workload is not None:
        preset = presets.PRESETS[scenario.model.preset]
        return ServerConfig(
            engine="workload",
            preset=preset,
            served_model_name="",
            port=0,
            max_model_len=0,
            max_num_seqs=0,
            max_num_batched_tokens=0,
            load_time_s=None,
            startup_error=None,
            workload=workload,
        )
    if engine is None:
        raise problem(
            ("image",),
            f"image {image!r} is not modelled by the simulator (it models the model servers "
            "slolab/serve and vllm/vllm-openai, the NVIDIA device plugin, and any image whose command "
            "is `sleep N`; llm-d-inference-sim has its own latency model)",
        )
    try:
        tag, version = modelversion.lookup(image, scenario)
    except KeyError as e:
        raise problem(("image",), str(e.args[0])) from None
    command = [str(c) for c in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    want_cmd = ["slolab", "serve"] if engine == "slolab-serve" else ["vllm", "serve"]
    if command and command != want_cmd:
        raise problem(("command",), f"command {command} is not modelled; expected {want_cmd}")
    flags: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in _ACCEPTED_BOOL_FLAGS:
                i += 1
                continue
            known = _INT_FLAGS | {
                "--served-model-name",
                "--host",
                "--preset",
                "--load-time-s",
                "--gpu-memory-utilization",
                "--model",
            }
            if name not in known:
                raise problem(("args", i), f"flag {name} is not modelled by the simulator")
            if not eq:
                if i + 1 >= len(args):
                    raise problem(("args", i), f"flag {name} needs a value")
                value = args[i + 1]
                i += 1
            flags[name] = value
        else:
            positional.append(arg)
        i += 1
    try:
        ints = {k: int(v) for k, v in flags.items() if k in _INT_FLAGS}
        load_time = float(flags["--load-time-s"]) if "--load-time-s" in flags else None
        util = float(flags.get("--gpu-memory-utilization", "0.9"))
    except ValueError as exc:
        raise problem(("args",), f"a flag has a value that is not a number: {exc}") from None
    if abs(util - 0.9) > 1e-9:
        raise problem(
            ("args",),
            "--gpu-memory-utilization other than 0.9 is not modelled (KV capacity is calibrated at 0.9)",
        )
    preset_name = flags.get("--preset") or scenario.model.preset
    if preset_name not in presets.PRESETS:
        raise problem(
            ("args",), f"--preset {preset_name!r} is unknown; presets: {', '.join(presets.PRESETS)}"
        )
    preset = presets.PRESETS[preset_name]
    if engine == "vllm":
        model = positional[0] if positional else flags.get("--model")
        if model != preset.model:
            raise problem(
                ("args",),
                f"model {model!r} has no serving-model preset in this scenario (expected {preset.model!r})",
            )
    gpus = _gpu_limit(container)
    tp = ints.get("--tensor-parallel-size", 1)
    startup_error = None
    max_model_len = ints.get("--max-model-len", preset.max_model_len)
    if gpus < preset.tensor_parallel or gpus < tp:
        startup_error = (
            "RuntimeError: No CUDA GPUs are available"
            if gpus == 0
            else f"ValueError: tensor parallel size {max(tp, preset.tensor_parallel)} is greater "
            f"than the {gpus} GPU(s) available"
        )
    elif max_model_len > preset.max_model_len:
        startup_error = (
            f"ValueError: User-specified max_model_len ({max_model_len}) is greater than the "
            f"derived max_model_len ({preset.max_model_len})"
        )
    return ServerConfig(
        engine=engine,
        preset=modelversion.preset_of(preset, tag, version),
        served_model_name=flags.get("--served-model-name") or scenario.model.served_model_name,
        port=ints.get("--port", 8000),
        max_model_len=max_model_len,
        max_num_seqs=ints.get("--max-num-seqs", preset.default_max_num_seqs),
        max_num_batched_tokens=ints.get("--max-num-batched-tokens", preset.default_max_num_batched_tokens),
        load_time_s=load_time,
        startup_error=startup_error,
        version=tag if version is not None else None,
        error_rate=version.error_rate if version is not None else 0.0,
    )


def _gpu_limit(container: dict[str, Any]) -> int:
    res = container.get("resources") or {}
    value = (res.get("limits") or {}).get(
        "nvidia.com/gpu", (res.get("requests") or {}).get("nvidia.com/gpu", 0)
    )
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
