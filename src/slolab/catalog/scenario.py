"""Scenario specification: the environment a lab runs in.

A scenario names its components (serving engine and chart), the model preset and how long it
takes to load, the node pools that give kind-config.yaml's nodes their capacity, and the
traffic profiles graders drive. File: ``scenarios/<name>/scenario.yaml``.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path
from typing import Literal

import pydantic

from slolab import errors, paths
from slolab.catalog import kindmanifests, schema, yamlfile

Engine = Literal["slolab-serve", "vllm", "llm-d-inference-sim"]


class Serving(schema.Strict):
    """The model server: which chart deploys it and which engine runs in its pods."""

    chart: Literal["llm-serving"] = "llm-serving"
    engine: Engine = "slolab-serve"


class Components(schema.Strict):
    """What the scenario installs. Later components (autoscaling, rollouts, chaos) join here."""

    serving: Serving = Serving()


class ModelVersion(schema.Strict):
    """One version of the model, by the image tag of its server (sim/modelversion.py): how it
    differs from the preset. A regressed version is slower to its first token, fails requests, or both."""

    description: str = ""
    ttft_factor: float = pydantic.Field(
        default=1.0,
        ge=1.0,
        description="multiplies the preset's prefill cost and front-end overhead: low-load TTFT times this",
    )
    error_rate: float = pydantic.Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="share of accepted requests the server fails at once (HTTP 500, finished_reason error)",
    )


class Model(schema.Strict):
    """The served model: a preset of the serving model and its cold-start time."""

    preset: str = pydantic.Field(description="serving-model preset, e.g. llama-3.1-8b-h100")
    served_model_name: str = pydantic.Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    load_time_s: schema.Distribution = pydantic.Field(
        description="seconds from container start until /health answers (weights to HBM, CUDA graphs)"
    )
    versions: dict[str, ModelVersion] | None = pydantic.Field(
        default=None,
        description="the model's versions by the image tag of its server; other tags are an error when set",
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
    device_plugin: bool = pydantic.Field(
        default=False,
        description=(
            "the pool's nvidia.com/gpu is advertised only while an NVIDIA device plugin pod runs Ready "
            "on the node, as on a real cluster (sim/deviceplugin.py); false: from the start"
        ),
    )


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
    kind_manifests: list[str] = pydantic.Field(
        default_factory=list,
        description=(
            "kind only: manifest files, relative to the scenario's folder, that the operator applies "
            "before the lab's release (on create and reset) and deletes with the Lab, e.g. a pod holding "
            "GPUs so that kind's pool matches the capacity above (the operator chart's kindManifests, "
            "which make cluster sets). Ignored on sim by design: there the pool's size is the capacity "
            "above (catalog/kindmanifests.py)"
        ),
    )


class RatePoint(schema.Strict):
    """One point of a rate curve: from ``at_s`` seconds after the run start the rate is
    ``factor`` times the profile's ``rate_rps`` (linear to the next point, held after the last)."""

    at_s: float = pydantic.Field(ge=0, description="seconds after the run start")
    factor: float = pydantic.Field(ge=0, description="multiple of rate_rps at at_s")


class TrafficProfile(schema.Strict):
    """Open-loop traffic: Poisson arrivals with random prompt and output lengths.

    Without ``rate_curve`` the arrivals are a Poisson process of constant rate ``rate_rps``.
    With it they are a non-homogeneous Poisson process of rate ``rate_at(t_s)`` =
    ``rate_rps × factor(t_s)``, the factor linear between the curve's points and held after
    the last one (``slolab.run.schedule`` draws it).
    """

    description: str = ""
    arrival: Literal["poisson"] = "poisson"
    rate_rps: float = pydantic.Field(gt=0, description="base rate in requests per second")
    rate_curve: list[RatePoint] | None = pydantic.Field(
        default=None,
        min_length=1,
        description="rate over time as multiples of rate_rps: points {at_s, factor}, the first at_s 0, "
        "at_s strictly increasing; linear between points, held after the last",
    )
    duration_s: float | None = pydantic.Field(default=None, gt=0)
    prompt_tokens: schema.Distribution
    output_tokens: schema.Distribution
    timeout_s: float = pydantic.Field(default=180.0, gt=0, description="client gives up after this")

    @pydantic.field_validator("rate_curve")
    @classmethod
    def _curve_shape(cls, curve: list[RatePoint] | None) -> list[RatePoint] | None:
        if curve is None:
            return None
        problems = []
        if curve[0].at_s != 0:
            problems.append(f"rate_curve[0].at_s must be 0, the run start (got {curve[0].at_s:g})")
        for i in range(1, len(curve)):
            if curve[i].at_s <= curve[i - 1].at_s:
                problems.append(
                    f"rate_curve[{i}].at_s ({curve[i].at_s:g}) must be after rate_curve[{i - 1}].at_s "
                    f"({curve[i - 1].at_s:g}): at_s increases strictly"
                )
        if all(p.factor == 0 for p in curve):
            problems.append("every factor is 0, so no request would ever be sent")
        if problems:
            raise ValueError("; ".join(problems))
        return curve

    def rate_at(self, t_s: float) -> float:
        """Arrival rate in requests per second ``t_s`` seconds after the run start."""
        curve = self.rate_curve
        if curve is None:
            return self.rate_rps
        if t_s <= 0:
            return self.rate_rps * curve[0].factor
        for prev, point in itertools.pairwise(curve):
            if t_s < point.at_s:
                frac = (t_s - prev.at_s) / (point.at_s - prev.at_s)
                return self.rate_rps * (prev.factor + frac * (point.factor - prev.factor))
        return self.rate_rps * curve[-1].factor

    @property
    def peak_rps(self) -> float:
        """The highest rate of the profile, in requests per second."""
        if self.rate_curve is None:
            return self.rate_rps
        return self.rate_rps * max(p.factor for p in self.rate_curve)

    def expected_requests(self, start_s: float, end_s: float) -> float:
        """Mean number of arrivals between ``start_s`` and ``end_s`` (the integral of the rate)."""
        return self.cumulative_requests(end_s) - self.cumulative_requests(start_s)

    def cumulative_requests(self, t_s: float) -> float:
        """Mean number of arrivals in [0, ``t_s``]: the cumulative intensity of the process."""
        t_s = max(t_s, 0.0)
        curve = self.rate_curve
        if curve is None:
            return self.rate_rps * t_s
        total = 0.0
        for prev, point in itertools.pairwise(curve):
            if t_s <= prev.at_s:
                return self.rate_rps * total
            end_s = min(t_s, point.at_s)
            width_s = end_s - prev.at_s
            slope = (point.factor - prev.factor) / (point.at_s - prev.at_s)
            total += width_s * (prev.factor + slope * width_s / 2)
        if t_s > curve[-1].at_s:
            total += (t_s - curve[-1].at_s) * curve[-1].factor
        return self.rate_rps * total


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

    def kind_manifests(self) -> list[kindmanifests.Manifest]:
        """The objects of ``topology.kind_manifests`` (checked when the scenario loaded)."""
        files = self.topology.kind_manifests
        source = paths.relative(self.directory / "scenario.yaml")
        return kindmanifests.load(self.directory, files, [None] * len(files), source)

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
    files = scenario.topology.kind_manifests
    lines = [doc.line_of(("topology", "kind_manifests", i)) for i in range(len(files))]
    kindmanifests.load(file.parent, files, lines, display)  # every problem now, named by line
    return scenario
