"""Shared pieces of the catalog schema, and the bridge from pydantic errors to Problems."""

from __future__ import annotations

import math
import random
from typing import Any, Literal, TypeVar

import pydantic

from slolab import errors
from slolab.catalog import yamlfile

M = TypeVar("M", bound=pydantic.BaseModel)


class Strict(pydantic.BaseModel):
    """Base of every catalog model: unknown fields are errors, values are not coerced."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)


class Distribution(Strict):
    """A random quantity, e.g. a model-load time or a prompt length.

    ``constant`` uses ``value``; ``normal`` uses ``mean`` and ``stddev``; ``lognormal`` uses
    ``median`` and ``sigma`` (of the underlying normal); ``uniform`` uses ``low`` and ``high``.
    Every draw is clipped to ``[min, max]`` when those are given.
    """

    distribution: Literal["constant", "normal", "lognormal", "uniform"]
    value: float | None = None
    mean: float | None = None
    stddev: float | None = pydantic.Field(default=None, ge=0)
    median: float | None = pydantic.Field(default=None, gt=0)
    sigma: float | None = pydantic.Field(default=None, ge=0)
    low: float | None = None
    high: float | None = None
    min: float | None = None
    max: float | None = None

    @pydantic.model_validator(mode="after")
    def _fields_for_kind(self) -> Distribution:
        need = {
            "constant": ("value",),
            "normal": ("mean", "stddev"),
            "lognormal": ("median", "sigma"),
            "uniform": ("low", "high"),
        }[self.distribution]
        missing = [name for name in need if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.distribution} distribution needs {', '.join(missing)}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self

    def draw(self, rng: random.Random) -> float:
        """One sample, clipped to [min, max]."""
        if self.distribution == "constant":
            x = float(self.value)  # type: ignore[arg-type]
        elif self.distribution == "normal":
            x = rng.gauss(self.mean, self.stddev)  # type: ignore[arg-type]
        elif self.distribution == "lognormal":
            x = rng.lognormvariate(math.log(self.median), self.sigma)  # type: ignore[arg-type]
        else:
            x = rng.uniform(self.low, self.high)  # type: ignore[arg-type]
        if self.min is not None:
            x = max(self.min, x)
        if self.max is not None:
            x = min(self.max, x)
        return x

    def typical(self) -> float:
        """The central value (value, mean, median or midpoint), clipped like a draw."""
        x = {
            "constant": self.value,
            "normal": self.mean,
            "lognormal": self.median,
            "uniform": None if self.low is None else ((self.low + (self.high or 0)) / 2),
        }[self.distribution]
        x = float(x)  # type: ignore[arg-type]
        if self.min is not None:
            x = max(self.min, x)
        if self.max is not None:
            x = min(self.max, x)
        return x


def _expected(err: Any) -> str:
    kind = err.get("type", "")
    msg = err.get("msg", "invalid value")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    got = err.get("input")
    if kind.endswith("_type") or kind in {"literal_error", "enum"}:
        return f"{msg[0].lower()}{msg[1:]} (got {got!r})"
    if kind.startswith("value_error"):
        return msg.removeprefix("Value error, ")
    return f"{msg[0].lower()}{msg[1:]} (got {got!r})"


def problems_from(
    exc: pydantic.ValidationError, doc: yamlfile.Document, prefix: tuple = ()
) -> list[errors.Problem]:
    """Turn a pydantic error into one Problem per field, each with its file and line."""
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = (*prefix, *loc)
        out.append(
            errors.Problem(
                file=doc.file,
                field=yamlfile.dotted(path) or None,
                line=doc.line_of(path),
                message=_expected(err),
            )
        )
    return out


def validate(model: type[M], doc: yamlfile.Document, schema_hint: str, **context: Any) -> M:
    """Validate ``doc`` as ``model``; every problem is reported at once as a CatalogError."""
    try:
        return model.model_validate(doc.data, context=context or None)
    except pydantic.ValidationError as exc:
        raise errors.CatalogError(
            problems_from(exc, doc), f"See the fields with `slolab schema {schema_hint}`."
        ) from None
