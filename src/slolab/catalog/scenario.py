"""Scenario specification: the environment a lab runs in.

A scenario names its components (serving engine and chart), the model preset and how long it
takes to load, the node pools that give kind-config.yaml's nodes their capacity, and the
traffic profiles graders drive. File: ``scenarios/<name>/scenario.yaml``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import pydantic

from slolab import errors, paths
from slolab.catalog import schema, yamlfile

Engine = Literal["slolab-serve", "vllm", "llm-d-inference-sim"]


class Serving(schema.Strict):
    """The model server: which chart deploys it and which engine runs in its pods."""

    chart: Literal["llm-serving"] = "llm-serving"
    engine: Engine = "slolab-serve"


class Components(schema.Strict):
    """What the scenario installs. Later components (autoscaling, rollouts, chaos) join here."""

    serving: Serving = Serving()


class Model(schema.Strict):
    """The served model: a preset of the serving model and its cold-start time."""

    preset: str = pydantic.Field(description="serving-model preset, e.g. llama-3.1-8b-h100")
    served_model_name: str = pydantic.Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    load_time_s: schema.Distribution = pydantic.Field(
        description="seconds from container start until /health answers (weights to HBM, CUDA graphs)"
    )

    @pydantic.field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        from slolab.catalog import presets

        if value not in presets.PRESETS:
            known = ", ".join(sorted(presets.PRESETS))
            raise ValueError(f"unknown preset {value!r}; expected one of {known}")
        return value


class Pool(schema.Strict):
    """Capacity given to every node of kind-config.yaml whose labels match ``match_labels``."""

    name: str
    match_labels: dict[str, str]
    capacity: dict[str, str] = pydantic.Field(description="resource quantities, e.g. nvidia.com/gpu: '8'")
    gpu_product: str | None = pydantic.Field(default=None, description="label nvidia.com/gpu.product")


class Topology(schema.Strict):
    """Nodes come from kind-config.yaml; pools give them capacity."""

    kind_config: str = "kind-config.yaml"
    pools: list[Pool]
    default_capacity: dict[str, str] = pydantic.Field(
        default_factory=lambda: {"cpu": "8", "memory": "32Gi", "pods": "110"}
    )
    container_start_s: schema.Distribution = schema.Distribution(distribution="constant", value=1.0)
    cached_images: list[str] = pydantic.Field(
        default_factory=list, description="images already on every node (image pull takes no time)"
    )
    image_pull_s: schema.Distribution = schema.Distribution(distribution="constant", value=60.0)


class TrafficProfile(schema.Strict):
    """Open-loop traffic: Poisson arrivals at ``rate_rps`` with random prompt and output lengths."""

    description: str = ""
    arrival: Literal["poisson"] = "poisson"
    rate_rps: float = pydantic.Field(gt=0)
    duration_s: float | None = pydantic.Field(default=None, gt=0)
    prompt_tokens: schema.Distribution
    output_tokens: schema.Distribution
    timeout_s: float = pydantic.Field(default=180.0, gt=0, description="client gives up after this")


class ChaosStep(schema.Strict):
    """One step of a game day's chaos schedule, run by the operator's timer on kind/cluster.

    Words follow Chaos Mesh's PodChaos (action ``pod-kill``, a label selector) and its
    Schedule: the step fires ``at_s`` seconds after the lab started, then every ``every_s``
    seconds when that is set (from 0 when ``at_s`` is absent).
    Ref: https://chaos-mesh.org/docs/simulate-pod-chaos-on-kubernetes/
    """

    action: Literal["pod-kill"] = "pod-kill"
    at_s: float | None = pydantic.Field(default=None, ge=0, description="seconds after the lab started")
    every_s: float | None = pydantic.Field(default=None, gt=0, description="repeat period in seconds")
    selector: dict[str, str] = pydantic.Field(
        min_length=1, description="labels of the pods in the lab's namespace to pick from"
    )
    count: int = pydantic.Field(default=1, ge=1, description="pods killed per injection")

    @pydantic.model_validator(mode="after")
    def _when(self) -> ChaosStep:
        if self.at_s is None and self.every_s is None:
            raise ValueError("a chaos step needs at_s, every_s or both")
        return self


class Metrics(schema.Strict):
    """How the scenario's Prometheus scrapes (kube-prometheus-stack on kind, the scrape loop on sim)."""

    scrape_interval_s: float = pydantic.Field(
        default=15.0,
        gt=0,
        description=(
            "scrape interval of every target without a PodMonitor interval of its own "
            "(kube-prometheus-stack's prometheusSpec.scrapeInterval; slolab-platform sets 15s)"
        ),
    )


class Scenario(schema.Strict):
    """``scenarios/<name>/scenario.yaml``."""

    name: str
    title: str
    description: str
    components: Components = Components()
    model: Model
    topology: Topology
    traffic: dict[str, TrafficProfile]
    values: str = pydantic.Field(default="values.yaml", description="chart values, relative to the scenario")
    chaos: list[ChaosStep] = pydantic.Field(
        default_factory=list, description="game-day chaos schedule (the operator runs it when spec.gameDay)"
    )
    metrics: Metrics = Metrics()

    @property
    def directory(self) -> Path:
        return paths.scenarios_dir() / self.name

    def profile(self, name: str) -> TrafficProfile:
        try:
            return self.traffic[name]
        except KeyError:
            raise errors.CatalogError(
                errors.Problem(
                    paths.relative(self.directory / "scenario.yaml"),
                    f"no traffic profile {name!r}; expected one of {', '.join(sorted(self.traffic))}",
                    field="traffic",
                )
            ) from None


def names() -> list[str]:
    base = paths.scenarios_dir()
    return sorted(p.name for p in base.iterdir() if (p / "scenario.yaml").is_file()) if base.is_dir() else []


@functools.cache
def load(name: str) -> Scenario:
    """Load and validate ``scenarios/<name>/scenario.yaml``."""
    file = paths.scenarios_dir() / name / "scenario.yaml"
    display = paths.relative(file)
    if not file.is_file():
        raise errors.CatalogError(
            errors.Problem(display, f"no scenario {name!r}; expected one of {', '.join(names()) or '(none)'}")
        )
    doc = yamlfile.load_one(file, display)
    scenario = schema.validate(Scenario, doc, "scenario")
    if scenario.name != name:
        raise errors.CatalogError(
            errors.Problem(
                display, f"must equal the folder name {name!r}", field="name", line=doc.line_of(("name",))
            )
        )
    return scenario
