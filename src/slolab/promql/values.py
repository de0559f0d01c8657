"""The values a PromQL expression evaluates to, held column-wise over the evaluation steps.

Upstream: prometheus v2.42.0 promql/value.go (Scalar, String, Vector, Matrix) and the
per-step loop of promql/engine.go ``rangeEval``. Prometheus evaluates an expression at each
step and keeps the per-step vectors; here an instant vector over N steps is a list of
``StepSeries``, each with one label set, N values and an N-long ``present`` mask. The checks
Prometheus makes per step ("vector cannot contain metrics with the same labelset") are made
on the masks, and series of equal labels at different steps are merged into one, as
``rangeEval`` merges them by label hash.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from slolab import errors
from slolab.promql import tsdb

Labels = tsdb.Labels


@dataclasses.dataclass
class StepSeries:
    """One series of an instant vector, over every step of the evaluation."""

    labels: Labels
    values: np.ndarray
    present: np.ndarray
    #: the time of the sample each step took (vector selectors only; ``timestamp()`` reads it).
    sample_t_ms: np.ndarray | None = None


@dataclasses.dataclass
class Scalar:
    values: np.ndarray


@dataclasses.dataclass
class String:
    value: str


@dataclasses.dataclass
class RangeSeries:
    """Raw samples of one series (staleness markers removed), the input of a range function."""

    labels: Labels
    t_ms: np.ndarray
    values: np.ndarray


@dataclasses.dataclass
class RangeArg:
    """A range vector: for each step, the samples in ``[ref_ms - range_ms, ref_ms]``."""

    series: list[RangeSeries]
    ref_ms: np.ndarray
    range_ms: int

    def windows(self, s: RangeSeries) -> tuple[np.ndarray, np.ndarray]:
        """Per step, the index of the first sample in the window and one past the last."""
        lo = np.searchsorted(s.t_ms, self.ref_ms - self.range_ms, side="left")
        hi = np.searchsorted(s.t_ms, self.ref_ms, side="right")
        return lo, hi


Vector = list[StepSeries]
Value = Vector | Scalar | String | RangeArg


def as_vector(value: Value) -> Vector:
    """The value as an instant vector (the parser has type-checked the expression)."""
    if not isinstance(value, list):
        raise TypeError(f"expected an instant vector, got {type(value).__name__}")
    return value


def as_scalar(value: Value) -> Scalar:
    if not isinstance(value, Scalar):
        raise TypeError(f"expected a scalar, got {type(value).__name__}")
    return value


def as_string(value: Value) -> String:
    if not isinstance(value, String):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def as_range(value: Value) -> RangeArg:
    if not isinstance(value, RangeArg):
        raise TypeError(f"expected a range vector, got {type(value).__name__}")
    return value


def drop_name(labels: Labels) -> Labels:
    return tuple(pair for pair in labels if pair[0] != "__name__")


def labels_str(labels: Labels) -> str:
    """Labels as Prometheus prints them: ``{__name__="x", a="b"}``."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "}"


def duplicate_error() -> errors.PromQLError:
    return errors.PromQLError("vector cannot contain metrics with the same labelset")


def merge(series: Vector) -> Vector:
    """Series of equal labels merged into one; an error where two are present at one step."""
    by_labels: dict[Labels, list[StepSeries]] = {}
    for s in series:
        if s.present.any():
            by_labels.setdefault(s.labels, []).append(s)
    out: Vector = []
    for labels, group in by_labels.items():
        if len(group) == 1:
            out.append(group[0])
            continue
        counts = np.sum([g.present for g in group], axis=0)
        if (counts > 1).any():
            raise duplicate_error()
        values = np.zeros_like(group[0].values)
        present = np.zeros_like(group[0].present)
        for g in group:
            values = np.where(g.present, g.values, values)
            present |= g.present
        out.append(StepSeries(labels, values, present))
    return out


def check_unique_labels(series: Vector) -> None:
    """The whole-matrix check Prometheus makes after range functions and unary minus."""
    seen: set[Labels] = set()
    for s in series:
        if s.labels in seen:
            raise duplicate_error()
        seen.add(s.labels)
