"""Quantiles: histogram_quantile over classic buckets, and the quantile of a list of values.

Upstream: prometheus v2.42.0 promql/quantile.go: ``bucketQuantile`` (buckets sorted by upper
bound; NaN without a ``+Inf`` bucket or with fewer than two buckets or no observations;
buckets of equal bound coalesced; ``ensureMonotonic`` raises a count lower than the one
before it to that one; the rank falls in a bucket and is interpolated linearly inside it, the
lowest bucket starting at 0 unless its bound is <= 0; a rank in the ``+Inf`` bucket gives the
highest finite bound; q < 0 gives -Inf, q > 1 +Inf) and ``quantile`` (the φ-quantile with
linear interpolation between closest ranks), and functions.go ``funcHistogramQuantile``
(series grouped by their labels without ``le``; a series whose ``le`` does not parse as a
float is skipped; the output drops ``__name__``, ``le`` and ``quantile``).

Not modelled: native histograms (histogram_count, histogram_sum, histogram_fraction).
"""

from __future__ import annotations

import math
import re

import numpy as np

from slolab.promql import values

_GO_FLOAT = re.compile(r"^[+-]?(?:inf|infinity|nan|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|0x[0-9a-f.p+-]+)$", re.I)


def parse_float(text: str) -> float | None:
    """Go's strconv.ParseFloat for the forms a bucket bound takes; None when it fails."""
    if not _GO_FLOAT.match(text):
        return None
    try:
        return float.fromhex(text) if "0x" in text.lower() else float(text)
    except ValueError:
        return None


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """The q-quantile of ``(upper_bound, cumulative_count)`` buckets, as Prometheus computes it."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    buckets = sorted(buckets, key=lambda b: b[0])
    if not math.isinf(buckets[-1][0]) or buckets[-1][0] < 0:
        return math.nan
    coalesced: list[list[float]] = []
    for bound, count in buckets:
        if coalesced and coalesced[-1][0] == bound:
            coalesced[-1][1] += count
        else:
            coalesced.append([bound, count])
    highest = coalesced[0][1]
    for bucket in coalesced[1:]:
        if bucket[1] > highest:
            highest = bucket[1]
        elif bucket[1] < highest:
            bucket[1] = highest
    if len(coalesced) < 2:
        return math.nan
    observations = coalesced[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    b = len(coalesced) - 1
    for i in range(len(coalesced) - 1):
        if coalesced[i][1] >= rank:
            b = i
            break
    if b == len(coalesced) - 1:
        return coalesced[-2][0]
    if b == 0 and coalesced[0][0] <= 0:
        return coalesced[0][0]
    bucket_start = 0.0
    bucket_end = coalesced[b][0]
    count = coalesced[b][1]
    if b > 0:
        bucket_start = coalesced[b - 1][0]
        count -= coalesced[b - 1][1]
        rank -= coalesced[b - 1][1]
    with np.errstate(all="ignore"):
        fraction = float(np.float64(rank) / np.float64(count))  # IEEE: 0/0 is NaN, as in Go
    return bucket_start + (bucket_end - bucket_start) * fraction


def quantile(q: float, vals: list[float]) -> float:
    """Prometheus' ``quantile`` (aggregation and quantile_over_time); NaN sorts first."""
    if not vals or math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(vals, key=lambda x: (not math.isnan(x), x if not math.isnan(x) else 0.0))
    n = float(len(ordered))
    rank = q * (n - 1)
    lower = max(0.0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    weight = rank - math.floor(rank)
    return ordered[int(lower)] * (1 - weight) + ordered[int(upper)] * weight


def _bucket_quantiles(q: np.ndarray, bounds: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """bucket_quantile at many steps at once; ``counts`` is buckets x steps, every bucket present,
    no NaN, ``bounds`` sorted ascending. Same arithmetic as bucket_quantile, step by step."""
    unique, start = np.unique(bounds, return_index=True)
    counts = np.add.reduceat(counts, start, axis=0) if len(unique) < len(bounds) else counts
    counts = np.maximum.accumulate(counts, axis=0)
    nb = len(unique)
    out = np.full(counts.shape[1], np.nan)
    if not np.isinf(unique[-1]) or unique[-1] < 0 or nb < 2:
        return _q_edges(q, out)
    observations = counts[-1]
    rank = q * observations
    search = counts[:-1] >= rank[None, :]
    b = np.where(search.any(axis=0), np.argmax(search, axis=0), nb - 1)
    cols = np.arange(counts.shape[1])
    bucket_end = unique[np.minimum(b, nb - 1)]
    bucket_start = np.where(b > 0, unique[np.maximum(b - 1, 0)], 0.0)
    prev = np.where(b > 0, counts[np.maximum(b - 1, 0), cols], 0.0)
    count = counts[np.minimum(b, nb - 1), cols] - prev
    with np.errstate(all="ignore"):
        inner = bucket_start + (bucket_end - bucket_start) * ((rank - prev) / count)
    out = np.where(b == nb - 1, unique[nb - 2], inner)
    out = np.where((b == 0) & (unique[0] <= 0), unique[0], out)
    out = np.where(observations == 0, np.nan, out)
    return _q_edges(q, out)


def _q_edges(q: np.ndarray, out: np.ndarray) -> np.ndarray:
    out = np.where(q < 0, -np.inf, out)
    out = np.where(q > 1, np.inf, out)
    return np.where(np.isnan(q), np.nan, out)


def histogram_quantile(q_steps: np.ndarray, vec: values.Vector) -> values.Vector:
    """funcHistogramQuantile over every step (vectorised where every bucket is present)."""
    groups: dict[values.Labels, list[tuple[float, values.StepSeries]]] = {}
    out_labels: dict[values.Labels, values.Labels] = {}
    for s in vec:
        named = dict(s.labels)
        bound = parse_float(named.get("le", ""))
        if bound is None:
            continue
        key = tuple(p for p in s.labels if p[0] != "le")
        groups.setdefault(key, []).append((bound, s))
        out_labels[key] = tuple(p for p in s.labels if p[0] not in ("__name__", "le", "quantile"))
    out: values.Vector = []
    n = len(q_steps)
    for key, members in groups.items():
        members = sorted(members, key=lambda m: m[0])
        bounds = np.array([b for b, _ in members])
        stacked = np.array([s.values for _, s in members])
        masks = np.array([s.present for _, s in members])
        present = np.asarray(masks.any(axis=0))
        result = np.zeros(n)
        full = masks.all(axis=0) & ~np.isnan(stacked).any(axis=0)
        if full.any():
            result[full] = _bucket_quantiles(q_steps[full], bounds, stacked[:, full])
        for i in np.nonzero(present & ~full)[0].tolist():
            rows = np.nonzero(masks[:, i])[0].tolist()
            result[i] = bucket_quantile(
                float(q_steps[i]), [(float(bounds[r]), float(stacked[r, i])) for r in rows]
            )
        out.append(values.StepSeries(out_labels[key], result, present))
    return values.merge(out)
