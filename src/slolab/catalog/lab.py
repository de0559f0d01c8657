"""Lab specification: an exercise on a scenario.

A lab has a fault (chart values that render the broken starting manifests), SLOs that the
grader judges, progressive hints, a reference solution (files that replace workspace files),
and a mutation matrix for the lab contract: each mutation removes one element of the solution
and names exactly the checks that must then fail. File: ``labs/<name>/lab.yaml``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal

import pydantic

from slolab import errors, paths
from slolab.catalog import schema, yamlfile

Backend = Literal["sim", "kind", "cluster"]


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
    grading: dict[str, float | int | str] = pydantic.Field(
        default_factory=dict, description="parameters the grader reads (windows, deadlines, profile names)"
    )
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
    def grader_dir(self) -> Path:
        return self.directory / "grader"

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
    lab = schema.validate(Lab, doc, "lab")
    if lab.name != name:
        raise errors.CatalogError(
            errors.Problem(
                display, f"must equal the folder name {name!r}", field="name", line=doc.line_of(("name",))
            )
        )
    return lab
