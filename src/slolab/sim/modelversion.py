"""Model versions: what an image tag of the model server changes in the serving model.

A scenario may list the versions of its model by image tag (scenario.yaml ``model.versions``,
catalog/scenario.py ModelVersion): a healthy one, and a regressed one whose time to first token
is ``ttft_factor`` times worse and which fails ``error_rate`` of its requests with HTTP 500.
A canary rollout changes the tag of the pod template; the pods of each ReplicaSet then serve
their version. With versions listed, any other tag is an error naming the image field; without
them every tag serves the preset as it is.

How a regression is modelled (research/serving-model.md §2.4's step time): ``ttft_factor``
multiplies the preset's prefill cost (the fixed ``toh_ms`` and per-token ``a_p_ms`` of a
compute-bound step) and the front-end overhead (``api_ms_mean``), so the low-load TTFT, which is
that overhead plus one prefill, grows by the factor; decode steps below the compute bound
(``t0_ms``, ``a_kv_ms``) are unchanged. ``error_rate``: each request the pod accepts fails at
once with that probability (an internal server error before the first token), and is counted
as vLLM v1 counts a request that ended in an engine error:
``vllm:request_success_total{finished_reason="error"}`` (vllm v0.33.0 vllm/v1/engine
FinishReason.ERROR; sim/vllmseries.py reads ``request_errors_total``).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from slolab.catalog import presets
from slolab.catalog import scenario as scenario_mod
from slolab.run import request as request_mod

INTERNAL_ERROR = 500


def image_tag(image: str) -> str:
    """The tag of an image reference ("latest" when it has none; digests are not tags)."""
    name = image.rsplit("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def lookup(image: str, scenario: scenario_mod.Scenario) -> tuple[str, scenario_mod.ModelVersion | None]:
    """(tag, the scenario's version for it); the version is None when the scenario lists none.

    Raises KeyError naming the versions when it lists some and not this tag."""
    tag = image_tag(image)
    versions = scenario.model.versions
    if versions is None:
        return tag, None
    if tag not in versions:
        raise KeyError(
            f"image tag {tag!r} is not a model version of scenario {scenario.name} "
            f"(model.versions: {', '.join(versions)})"
        )
    return tag, versions[tag]


def preset_of(preset: presets.Preset, tag: str, version: scenario_mod.ModelVersion | None) -> presets.Preset:
    """The preset this version serves: prefill and front-end costs times ttft_factor."""
    if version is None or version.ttft_factor == 1:
        return preset
    f = version.ttft_factor
    return dataclasses.replace(
        preset,
        name=f"{preset.name}@{tag}",
        toh_ms=preset.toh_ms * f,
        a_p_ms=preset.a_p_ms * f,
        api_ms_mean=preset.api_ms_mean * f,
    )


class FailingEngine:
    """An engine whose server fails a share of the requests it accepts (HTTP 500) and counts
    them; everything else is the engine's own."""

    def __init__(self, engine: Any, error_rate: float, rng: random.Random) -> None:
        object.__setattr__(self, "_engine", engine)
        object.__setattr__(self, "_error_rate", error_rate)
        object.__setattr__(self, "_rng", rng)
        object.__setattr__(self, "request_errors_total", 0)

    def submit(self, req: request_mod.Request, now_s: float | None = None) -> Any:
        engine = self._engine
        if self._rng.random() < self._error_rate:
            now = engine.env.now if now_s is None else now_s
            req.pod = engine.name
            req.fail(
                now, "HTTP 500: Internal Server Error (the model version fails this request)", INTERNAL_ERROR
            )
            object.__setattr__(self, "request_errors_total", self.request_errors_total + 1)
            return None
        return engine.submit(req, now_s)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._engine, name, value)


def wrap(engine: Any, error_rate: float, rng: random.Random) -> Any:
    """The engine a pod of this version runs: ``engine`` itself when it fails no request."""
    return FailingEngine(engine, error_rate, rng) if error_rate > 0 else engine
