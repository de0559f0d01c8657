"""A Lab's spec, checked against the CRD and the catalog, and what it asks the operator to install.

:func:`parse` turns ``metadata.name`` and ``spec`` into a :class:`LabRun` or raises
:class:`SpecError` with a condition reason (``InvalidSpec``, ``UnknownLab``, ``UnsupportedLab``,
``CatalogError``) and a message that names the field and the fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from slolab import errors, paths
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import yamlfile
from slolab.workspace import render
from slolab_operator import crd, namespace_for

#: A Lab runs on a real API server: the lab must list one of these backends.
BACKENDS = ("kind", "cluster")
#: Name of the Helm release that holds the scenario with the fault (and of the Deployment,
#: through the scenario's fullnameOverride); the same name ``slolab lab`` renders with.
RELEASE = "llm"
MAX_NAME = 63 - len("lab-")


class SpecError(Exception):
    """A Lab the operator cannot run until the user changes it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True)
class LabRun:
    """One Lab's validated spec with the catalog entries it names."""

    name: str
    lab: lab_mod.Lab
    scenario: scenario_mod.Scenario
    seed: int
    time_limit_minutes: int
    game_day: bool
    #: the game day's length (spec.gameDayMinutes, default the time limit)
    game_day_minutes: int
    reset_generation: int
    grade_request: int
    #: the cluster's values over the lab's (Config.lab_values), e.g. a NodePort on kind
    overlay: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return namespace_for(self.name)

    @property
    def chart(self) -> str:
        return self.scenario.components.serving.chart

    @property
    def values_source(self) -> str:
        scenario, lab = self.scenario, self.lab
        return f"scenarios/{scenario.name}/{scenario.values} + labs/{lab.name}/{lab.fault.values}"

    @property
    def chart_dir(self) -> Path:
        return paths.charts_dir() / self.chart

    def chart_version(self) -> str:
        """``<chart>-<version>`` of the chart in charts/, as helm names it."""
        data = yamlfile.load_one(
            self.chart_dir / "Chart.yaml", paths.relative(self.chart_dir / "Chart.yaml")
        ).data
        return f"{self.chart}-{data['version']}"

    def values(self) -> dict[str, Any]:
        """The release's values: the scenario's, then the fault's on top (as ``slolab lab`` renders)."""
        layers = []
        for file in (
            self.scenario.directory / self.scenario.values,
            self.lab.directory / self.lab.fault.values,
        ):
            layers.append(yamlfile.load_one(file, paths.relative(file)).data or {})
        return render.merge_values(*layers, self.overlay)

    def marker(self) -> str:
        """The Helm revision description that says which starting state a revision holds:
        the lab, the reset generation, and a digest of the chart's name and version and the values."""
        digest = hashlib.sha256(
            json.dumps([self.chart_version(), self.values()], sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        return f"slolab lab={self.lab.name} reset={self.reset_generation} values={digest}"


def patch_hint(name: str, field: str, value: Any) -> str:
    """The kubectl command that sets ``spec.<field>`` of Lab ``name``."""
    patch = json.dumps({"spec": {field: value}}, separators=(",", ":"))
    return f"kubectl patch lab {name} --type merge -p '{patch}'"


def parse(name: str, spec: Mapping[str, Any] | None, overlay: Mapping[str, Any] | None = None) -> LabRun:
    """Check a Lab and load its lab and scenario; SpecError says what is wrong and how to fix it.

    ``overlay``: chart values the cluster puts over the scenario's and the fault's."""
    if len(name) > MAX_NAME:
        raise SpecError(
            "InvalidSpec",
            f"metadata.name {name!r} is {len(name)} characters; at most {MAX_NAME}, because the lab's "
            f"namespace is lab-<name>. Create the Lab again with a shorter name.",
        )
    if not isinstance(spec, Mapping):
        raise SpecError("InvalidSpec", "spec is missing; it needs at least spec.lab (e.g. readiness-probes).")
    problems = crd.spec_problems(dict(spec))
    if problems:
        raise SpecError(
            "InvalidSpec",
            "; ".join(problems)
            + f". See the fields with `kubectl explain lab.spec`; fix with `kubectl edit lab {name}`.",
        )
    full = crd.with_defaults(spec)
    try:
        lab = lab_mod.load(full["lab"])
    except errors.UnknownLabError as exc:
        known = lab_mod.names()
        example = known[0] if known else "readiness-probes"
        raise SpecError(
            "UnknownLab",
            f"spec.lab: {exc.problems[0].message}. Delete this Lab and create one with a lab that exists "
            f"(spec.lab cannot change), e.g. spec.lab: {example}.",
        ) from None
    except errors.InputError as exc:
        raise SpecError("CatalogError", f"lab {full['lab']!r} does not load: {exc.message}") from None
    if not set(lab.backends) & set(BACKENDS):
        raise SpecError(
            "UnsupportedLab",
            f"lab {lab.name!r} runs only on the {', '.join(lab.backends)} backend, not in a cluster. "
            f"Run it with `make lab NAME={lab.name}`.",
        )
    try:
        scenario = scenario_mod.load(lab.scenario)
    except errors.InputError as exc:
        raise SpecError(
            "CatalogError", f"scenario {lab.scenario!r} of lab {lab.name!r} does not load: {exc.message}"
        ) from None
    return LabRun(
        name=name,
        lab=lab,
        scenario=scenario,
        seed=int(full.get("seed", lab.seeds[0])),
        time_limit_minutes=int(full.get("timeLimitMinutes", lab.time_limit_minutes)),
        game_day=bool(full.get("gameDay", False)),
        game_day_minutes=int(
            full.get("gameDayMinutes", full.get("timeLimitMinutes", lab.time_limit_minutes))
        ),
        reset_generation=int(full.get("resetGeneration", 0)),
        grade_request=int(full.get("gradeRequest", 0)),
        overlay=dict(overlay or {}),
    )
