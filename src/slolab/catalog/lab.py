"""Lab specification: an exercise on a scenario.

A lab has a fault (chart values that render the broken starting manifests), SLOs that the
grader judges, progressive hints, a reference solution (files that replace workspace files),
and a mutation matrix for the lab contract: each mutation removes one element of the solution
and names exactly the checks that must then fail. File: ``labs/<name>/lab.yaml``.

``grading`` says what the grader judges: ``target`` names the Deployment and the Service the
lab's traffic goes to (required: nothing in slolab guesses a workload's name), and ``params``
holds the grader's parameters, validated against the model the lab declares in
``grader/params.py`` (see ``graderparams``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import pydantic

from slolab import errors, paths
from slolab.catalog import faultmanifests, graderparams, schema, yamlfile

Backend = Literal["sim", "kind", "cluster"]
P = TypeVar("P")

#: Object names as the API server checks them (apimachinery pkg/util/validation/validation.go):
#: a Deployment's is a DNS-1123 subdomain, a Service's a DNS-1035 label; each pair is the
#: pattern and the API server's own message.
DNS1123_SUBDOMAIN = (
    re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"),
    253,
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character",
)
DNS1035_LABEL = (
    re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?"),
    63,
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character",
)


def _object_name(value: str, rule: tuple[re.Pattern[str], int, str]) -> str:
    pattern, most, message = rule
    if len(value) > most:
        raise ValueError(f"must be no more than {most} characters (got {len(value)})")
    if not pattern.fullmatch(value):
        raise ValueError(f"{message} (got {value!r})")
    return value


class Slo(schema.Strict):
    """One service-level objective, judged by the grader check of the same id."""

    title: str
    objective: Literal["max", "min"] = pydantic.Field(
        description="max: observed <= target; min: observed >= target"
    )
    target: float
    unit: str = ""
    window: str = pydantic.Field(description="which part of the run is judged")
    hint: str = pydantic.Field(
        description="shown when the check fails; teaches without giving the answer away"
    )

    def met(self, observed: float) -> bool:
        return observed <= self.target if self.objective == "max" else observed >= self.target

    def expected(self) -> str:
        op = "≤" if self.objective == "max" else "≥"
        return f"{op} {self.target:g}{(' ' + self.unit) if self.unit else ''}"


class Fault(schema.Strict):
    """The broken starting state: chart values layered over the scenario's."""

    summary: str
    values: str = "fault/values.yaml"
    manifests: list[str] = pydantic.Field(
        default_factory=list,
        description=(
            "manifest files, relative to the lab's folder, copied into the workspace beside the "
            "rendered chart: workloads the serving chart does not render (a device plugin "
            "DaemonSet, a batch Deployment). apps/v1 DaemonSets and Deployments only, in the lab's "
            "namespace: on kind and cluster the operator installs them in the lab's Helm release "
            "(the chart's extraObjects)"
        ),
    )
    fails: list[str] = pydantic.Field(description="the checks the untouched fault must fail, exactly")


class PatchOp(schema.Strict):
    """A JSON Patch (RFC 6902) operation on one object of one workspace file."""

    file: str
    kind: str
    name: str
    op: Literal["add", "remove", "replace"]
    path: str = pydantic.Field(pattern=r"^/")
    value: Any = None


class Mutation(schema.Strict):
    """The reference solution with one element left out, and the checks that must then fail."""

    id: str = pydantic.Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    patch: list[PatchOp] = pydantic.Field(min_length=1)
    fails: list[str] = pydantic.Field(min_length=1)


class Target(schema.Strict):
    """The workload a grader judges, by the names its objects have in the lab's namespace."""

    deployment: str = pydantic.Field(description="the Deployment that serves the model")
    service: str = pydantic.Field(description="the Service the lab's traffic is sent to")

    @pydantic.field_validator("deployment")
    @classmethod
    def _deployment_name(cls, value: str) -> str:
        return _object_name(value, DNS1123_SUBDOMAIN)

    @pydantic.field_validator("service")
    @classmethod
    def _service_name(cls, value: str) -> str:
        return _object_name(value, DNS1035_LABEL)


class Grading(schema.Strict, Generic[P]):
    """What the grader judges (``target``) and its parameters (``params``)."""

    target: Target
    params: P = pydantic.Field(
        default_factory=dict,  # type: ignore[arg-type]
        validate_default=True,
        description="the grader's parameters, validated against labs/<lab>/grader/params.py's Params",
    )


class Lab(schema.Strict):
    """``labs/<name>/lab.yaml``."""

    name: str
    title: str
    summary: str
    scenario: str
    difficulty: Literal["beginner", "intermediate", "advanced"]
    estimated_minutes: int = pydantic.Field(gt=0)
    time_limit_minutes: int = pydantic.Field(gt=0)
    backends: list[Backend] = pydantic.Field(min_length=1)
    fault: Fault
    slos: dict[str, Slo] = pydantic.Field(min_length=1)
    grading: Grading[dict[str, Any]]
    hints: str = "hints.md"
    interview_questions: list[str] = pydantic.Field(default_factory=list)
    mutations: list[Mutation] = pydantic.Field(default_factory=list)
    seeds: list[int] = pydantic.Field(default=[1, 2, 3], min_length=1)

    @pydantic.model_validator(mode="after")
    def _checks_exist(self) -> Lab:
        known = set(self.slos)
        bad = [c for c in self.fault.fails if c not in known]
        for m in self.mutations:
            bad += [c for c in m.fails if c not in known]
        if bad:
            raise ValueError(
                f"unknown check(s) {', '.join(sorted(set(bad)))}; the slos are {', '.join(sorted(known))}"
            )
        return self

    @property
    def directory(self) -> Path:
        return paths.labs_dir() / self.name

    @property
    def solution_dir(self) -> Path:
        return self.directory / "solution"

    @property
    def alternatives_dir(self) -> Path:
        """labs/<name>/alternatives/: one folder per other correct fix (workspace.variants)."""
        return self.directory / "alternatives"

    @property
    def grader_dir(self) -> Path:
        return self.directory / "grader"

    def fault_manifests(self) -> list[faultmanifests.Manifest]:
        """The files of ``fault.manifests`` and their objects (checked when the lab loaded)."""
        files = self.fault.manifests
        source = paths.relative(self.directory / "lab.yaml")
        return faultmanifests.load(self.name, self.directory, files, [None] * len(files), source)

    def hint_texts(self) -> list[str]:
        """The progressive hints of hints.md, split on ``## Hint N`` headings."""
        file = self.directory / self.hints
        if not file.is_file():
            return []
        parts = re.split(r"^##\s+Hint\s+\d+.*$", file.read_text(encoding="utf-8"), flags=re.M)
        return [p.strip() for p in parts[1:] if p.strip()]


def names() -> list[str]:
    base = paths.labs_dir()
    return sorted(p.name for p in base.iterdir() if (p / "lab.yaml").is_file()) if base.is_dir() else []


@functools.cache
def model_for(params: type[graderparams.Params]) -> type[Lab]:
    """``Lab`` whose ``grading.params`` is validated as ``params`` (one validation, every problem)."""
    grading: Any = Grading[params]  # type: ignore[valid-type]
    return pydantic.create_model("Lab", __base__=Lab, __module__=__name__, grading=(grading, ...))


@functools.cache
def load(name: str) -> Lab:
    """Load and validate ``labs/<name>/lab.yaml``; an unknown name lists the labs that exist."""
    file = paths.labs_dir() / name / "lab.yaml"
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name) or not file.is_file():
        known = names()
        raise errors.UnknownLabError(
            errors.Problem("labs/", f"no lab named {name!r}; the labs are: {', '.join(known) or '(none)'}"),
            "List them with `make list`.",
        )
    display = paths.relative(file)
    doc = yamlfile.load_one(file, display)
    lab = schema.validate(model_for(graderparams.model_for(file.parent)), doc, "lab")
    if lab.name != name:
        raise errors.CatalogError(
            errors.Problem(
                display, f"must equal the folder name {name!r}", field="name", line=doc.line_of(("name",))
            )
        )
    files = lab.fault.manifests
    lines = [doc.line_of(("fault", "manifests", i)) for i in range(len(files))]
    faultmanifests.load(name, file.parent, files, lines, display)  # every problem now, named by line
    return lab
