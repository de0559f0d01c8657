"""Binary operators: arithmetic, comparison (with ``bool``), set operators, vector matching.

Upstream: prometheus v2.42.0 promql/engine.go: ``scalarBinop`` / ``vectorElemBinop`` (Go
float semantics: ``%`` is math.Mod, ``^`` math.Pow, comparisons with NaN are false),
``VectorscalarBinop`` (a comparison keeps the vector's sample and value, ``bool`` gives 0/1),
``VectorBinop`` (one-to-one and group_left/group_right matching on the signature of the
``on`` labels, or of all labels but the ``ignoring`` ones and ``__name__``; duplicates on the
"one" side, two matches in one-to-one, and clashing result labels in many-to-one are errors),
``resultMetric`` (arithmetic drops ``__name__``; one-to-one keeps only the ``on`` labels or
drops the ``ignoring`` ones; group_x(labels) copies those labels from the "one" side),
``VectorAnd`` / ``VectorOr`` / ``VectorUnless`` and ``shouldDropMetricName``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import promql_parser

from slolab.promql import values

if TYPE_CHECKING:
    from slolab.promql import evaluator

_ARITHMETIC = {"+", "-", "*", "/", "%", "^"}
_COMPARISON = {"==", "!=", ">", "<", ">=", "<="}


def _apply(op: str, lhs: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, keep) of ``lhs op rhs`` elementwise, as vectorElemBinop."""
    with np.errstate(all="ignore"):
        if op == "+":
            return lhs + rhs, np.ones(lhs.shape, bool)
        if op == "-":
            return lhs - rhs, np.ones(lhs.shape, bool)
        if op == "*":
            return lhs * rhs, np.ones(lhs.shape, bool)
        if op == "/":
            return lhs / rhs, np.ones(lhs.shape, bool)
        if op == "%":
            return np.fmod(lhs, rhs), np.ones(lhs.shape, bool)
        if op == "^":
            return np.power(lhs, rhs), np.ones(lhs.shape, bool)
        if op == "atan2":
            return np.arctan2(lhs, rhs), np.ones(lhs.shape, bool)
        keep = {
            "==": np.equal,
            "!=": np.not_equal,
            ">": np.greater,
            "<": np.less,
            ">=": np.greater_equal,
            "<=": np.less_equal,
        }[op](lhs, rhs)
        return lhs, keep


def evaluate(
    ctx: evaluator.Context, node: promql_parser.BinaryExpr, lhs: values.Value, rhs: values.Value
) -> values.Value:
    op = str(node.op)
    modifier = node.modifier
    return_bool = bool(modifier is not None and modifier.return_bool)
    if isinstance(lhs, values.Scalar) and isinstance(rhs, values.Scalar):
        value, keep = _apply(op, lhs.values, rhs.values)
        if op in _COMPARISON:
            value = keep.astype(float)
        return values.Scalar(value)
    if isinstance(lhs, values.Scalar) or isinstance(rhs, values.Scalar):
        return _vector_scalar(op, lhs, rhs, return_bool)
    if op in ("and", "or", "unless"):
        return _set_op(op, values.as_vector(lhs), values.as_vector(rhs), modifier)
    return _vector_vector(ctx, op, values.as_vector(lhs), values.as_vector(rhs), modifier, return_bool)


def _vector_scalar(op: str, lhs, rhs, return_bool: bool) -> values.Vector:
    swap = isinstance(lhs, values.Scalar)
    vec, scalar = (rhs, lhs.values) if swap else (lhs, rhs.values)
    drop = op in _ARITHMETIC or return_bool
    out = []
    for s in vec:
        lv, rv = (scalar, s.values) if swap else (s.values, scalar)
        value, keep = _apply(op, lv, rv)
        if op in _COMPARISON and swap:
            value = rv
        if return_bool:
            value, keep = keep.astype(float), np.ones_like(keep)
        labels = values.drop_name(s.labels) if drop else s.labels
        out.append(values.StepSeries(labels, value, s.present & keep))
    return values.merge(out)


def _signature(labels: values.Labels, modifier) -> values.Labels:
    matching = modifier.matching if modifier is not None else None
    if matching is not None and matching.type == promql_parser.LabelModifierType.Include:
        names = set(matching.labels)
        return tuple(p for p in labels if p[0] in names)
    ignored = {"__name__", *(matching.labels if matching is not None else [])}
    return tuple(p for p in labels if p[0] not in ignored)


def _set_op(op: str, lhs: values.Vector, rhs: values.Vector, modifier) -> values.Vector:
    def any_present(vec: values.Vector) -> dict[values.Labels, np.ndarray]:
        found: dict[values.Labels, np.ndarray] = {}
        for s in vec:
            sig = _signature(s.labels, modifier)
            found[sig] = found.get(sig, np.zeros_like(s.present)) | s.present
        return found

    if op == "or":
        left = any_present(lhs)
        out = list(lhs)
        for s in rhs:
            hidden = left.get(_signature(s.labels, modifier))
            out.append(s if hidden is None else values.StepSeries(s.labels, s.values, s.present & ~hidden))
        return values.merge(out)
    right = any_present(rhs)
    out = []
    for s in lhs:
        match = right.get(_signature(s.labels, modifier))
        if match is None:
            match = np.zeros_like(s.present)
        present = s.present & (match if op == "and" else ~match)
        out.append(values.StepSeries(s.labels, s.values, present, s.sample_t_ms))
    return [s for s in out if s.present.any()]


def _result_labels(many: values.Labels, one: values.Labels, op: str, modifier, card) -> values.Labels:
    named = dict(many)
    if op in _ARITHMETIC:
        named.pop("__name__", None)
    matching = modifier.matching if modifier is not None else None
    if card == promql_parser.VectorMatchCardinality.OneToOne and matching is not None:
        if matching.type == promql_parser.LabelModifierType.Include:
            named = {k: v for k, v in named.items() if k in set(matching.labels)}
        else:
            for name in matching.labels:
                named.pop(name, None)
    one_named = dict(one)
    for name in (modifier.group_labels or []) if modifier is not None else []:
        if one_named.get(name, ""):
            named[name] = one_named[name]
        else:
            named.pop(name, None)
    return tuple(sorted(named.items()))


def _vector_vector(
    ctx: evaluator.Context,
    op: str,
    lhs: values.Vector,
    rhs: values.Vector,
    modifier: promql_parser.BinModifier | None,
    return_bool: bool,
) -> values.Vector:
    card = modifier.card if modifier is not None else promql_parser.VectorMatchCardinality.OneToOne
    one_side = "right"
    many, one = lhs, rhs
    if card == promql_parser.VectorMatchCardinality.OneToMany:
        many, one = rhs, lhs
        one_side = "left"
    n = len(ctx.steps_ms)
    ones: dict[values.Labels, list[values.StepSeries]] = {}
    for s in one:
        ones.setdefault(_signature(s.labels, modifier), []).append(s)
    for sig, group in ones.items():
        if len(group) > 1:
            counts = np.sum([g.present for g in group], axis=0)
            if (counts > 1).any():
                i = int(np.argmax(counts > 1))
                dup = [g for g in group if g.present[i]]
                raise ctx.error(
                    f"found duplicate series for the match group {values.labels_str(sig)} on the {one_side} "
                    f"hand-side of the operation: [{values.labels_str(dup[1].labels)}, "
                    f"{values.labels_str(dup[0].labels)}];many-to-many matching not allowed: matching labels "
                    "must be unique on one side"
                )
    out: values.Vector = []
    matched: dict[values.Labels, list[tuple[values.Labels, np.ndarray]]] = {}
    for s in many:
        sig = _signature(s.labels, modifier)
        for o in ones.get(sig, []):
            both = s.present & o.present
            if not both.any():
                continue
            lv, rv = (o.values, s.values) if one_side == "left" else (s.values, o.values)
            value, keep = _apply(op, lv, rv)
            if return_bool:
                value, keep = keep.astype(float), np.ones_like(keep)
            present = both & keep
            labels = _result_labels(s.labels, o.labels, op, modifier, card)
            if return_bool:
                labels = values.drop_name(labels)
            matched.setdefault(sig, []).append((labels, present))
            out.append(values.StepSeries(labels, value, present))
    for entries in matched.values():
        if card == promql_parser.VectorMatchCardinality.OneToOne:
            if (np.sum([p for _, p in entries], axis=0) > 1).any():
                raise ctx.error(
                    "multiple matches for labels: "
                    "many-to-one matching must be explicit (group_left/group_right)"
                )
        else:
            by_labels: dict[values.Labels, np.ndarray] = {}
            for labels, p in entries:
                if labels in by_labels and (by_labels[labels] & p).any():
                    raise ctx.error("multiple matches for labels: grouping labels must ensure unique matches")
                by_labels[labels] = by_labels.get(labels, np.zeros(n, bool)) | p
    return values.merge(out)
