"""An in-memory time-series database: the samples PromQL reads.

Upstream: prometheus v2.42.0 model/labels (a series is its sorted label set, ``__name__``
included), model/value/value.go (the staleness marker ``StaleNaN``, NaN with the bit pattern
0x7ff0000000000002) and scrape/scrape.go (a scrape that no longer exposes a series, or a target
that goes away, writes a staleness marker for each series it had exposed).

Timestamps are kept in whole milliseconds, as Prometheus stores them (``t_s`` is rounded to
the millisecond on the way in); values are float64. Each series holds two ``array`` columns
(int64 times, float64 values): 16 bytes a sample. Samples are appended in time order per
series; an older sample is an error, one at the same time replaces nothing and is an error too
unless it carries the same value (Prometheus' "duplicate sample for timestamp").

Not modelled: native histograms, exemplars, out-of-order ingestion, retention, persistence.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from slolab import errors

#: A series' identity: its ``(name, value)`` pairs sorted by name, empty values left out.
Labels = tuple[tuple[str, str], ...]

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
DEFAULT_LOOKBACK_DELTA_S = 300.0


def is_stale(value: float) -> bool:
    """True for Prometheus' staleness marker (not for an ordinary NaN)."""
    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS


def stale_mask(values: np.ndarray) -> np.ndarray:
    """Elementwise ``is_stale`` over a float64 array."""
    return values.view(np.uint64) == np.uint64(STALE_NAN_BITS)


def labels_of(mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """The canonical label set: sorted by name, labels with an empty value dropped."""
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return tuple(sorted((str(k), str(v)) for k, v in items if v != ""))


def to_ms(t_s: float) -> int:
    """Seconds to Prometheus' millisecond timestamps."""
    return round(t_s * 1000)


class Series:
    """One series: its labels and two columns of samples in time order."""

    __slots__ = ("_cache", "_clean", "labels", "t_ms", "values")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.t_ms = array("q")
        self.values = array("d")
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._clean: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def name(self) -> str:
        return dict(self.labels).get("__name__", "")

    def append(self, t_ms: int, value: float) -> None:
        if self.t_ms:
            last = self.t_ms[-1]
            if t_ms < last:
                raise errors.InputError(
                    errors.Problem(
                        "samples",
                        f"out of order sample at {t_ms} ms (last at {last} ms)",
                        _render(self.labels),
                    )
                )
            if t_ms == last:
                same = self.values[-1] == value or (math.isnan(self.values[-1]) and math.isnan(value))
                if not same:
                    raise errors.InputError(
                        errors.Problem(
                            "samples", f"duplicate sample for timestamp {t_ms} ms", _render(self.labels)
                        )
                    )
                return
        self.t_ms.append(t_ms)
        self.values.append(value)
        self._cache = None
        self._clean = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(times in ms, values) as numpy arrays; cached until the next append."""
        if self._cache is None:
            self._cache = (np.array(self.t_ms, dtype=np.int64), np.array(self.values, dtype=np.float64))
        return self._cache

    def clean_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``arrays()`` without the staleness markers (what a range selector reads); cached."""
        if self._clean is None:
            t, v = self.arrays()
            keep = ~stale_mask(v)
            self._clean = (t, v) if keep.all() else (t[keep], v[keep])
        return self._clean

    def __len__(self) -> int:
        return len(self.t_ms)


def _render(labels: Labels) -> str:
    named = dict(labels)
    name = named.pop("__name__", "")
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in named.items()) + "}"


class TSDB:
    """Series by label set, plus the metric-family types an OpenMetrics export needs."""

    def __init__(self, lookback_delta_s: float = DEFAULT_LOOKBACK_DELTA_S) -> None:
        if lookback_delta_s <= 0:
            raise ValueError(f"lookback_delta_s must be > 0 (got {lookback_delta_s!r})")
        self.lookback_delta_s = lookback_delta_s
        self._series: dict[Labels, Series] = {}
        self._sorted: list[Series] | None = None
        self._by_name: dict[str, list[Series]] | None = None
        #: metric family name -> OpenMetrics type (counter, gauge, histogram, summary, unknown).
        self.types: dict[str, str] = {}
        #: metric family name -> help text.
        self.help: dict[str, str] = {}
        self._exposed: dict[str, set[Labels]] = {}
        #: target -> (its last scrape's label sets in order, the series each one was written to)
        self._last_scrape: dict[str, tuple[tuple[Labels, ...], list[Series]]] = {}

    # ---------------------------------------------------------------- writing

    def declare(self, family: str, metric_type: str, help_text: str = "") -> None:
        """Record a metric family's type (and help) for the OpenMetrics export."""
        self.types[family] = metric_type
        if help_text:
            self.help[family] = help_text

    def append(self, labels: Mapping[str, str] | Labels, t_s: float, value: float) -> None:
        """One sample; ``labels`` must include ``__name__``."""
        self.append_ms(labels_of(labels), to_ms(t_s), float(value))

    def append_ms(self, labels: Labels, t_ms: int, value: float) -> None:
        """One sample at a millisecond time; ``labels`` in any order (stored as ``labels_of`` gives)."""
        series = self._series.get(labels)
        if series is None:
            labels = labels_of(labels)
            series = self._series.get(labels)
        if series is None:
            if not any(name == "__name__" for name, _ in labels):
                raise errors.InputError(
                    errors.Problem("samples", "a series needs a __name__ label", str(labels))
                )
            series = self._series[labels] = Series(labels)
            self._sorted = None
            self._by_name = None
        series.append(t_ms, value)

    def load_series(self, labels: Labels, t_ms: np.ndarray, values: np.ndarray) -> None:
        """A whole new series at once (a saved TSDB read back): times must not decrease."""
        if labels in self._series or not any(name == "__name__" for name, _ in labels):
            raise errors.InputError(
                errors.Problem("samples", "a duplicate series or one without __name__", str(labels))
            )
        if len(t_ms) > 1 and bool((np.diff(t_ms) < 0).any()):
            raise errors.InputError(errors.Problem("samples", "out of order samples", _render(labels)))
        series = self._series[labels] = Series(labels)
        series.t_ms.frombytes(np.ascontiguousarray(t_ms, dtype=np.int64).tobytes())
        series.values.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
        self._sorted = None
        self._by_name = None

    def mark_stale(self, labels: Mapping[str, str] | Labels, t_s: float) -> None:
        """Write Prometheus' staleness marker into one series."""
        self.append_ms(labels_of(labels), to_ms(t_s), STALE_NAN)

    def scrape(self, target: str, t_s: float, samples: Mapping[Labels, float]) -> None:
        """One scrape of ``target``: its samples, and staleness markers for the series it dropped.

        A scrape that exposes the same label sets in the same order as the target's last one (the
        common case: a server's series are fixed) writes straight into the series that scrape
        resolved: no lookups, and nothing went stale."""
        t_ms = to_ms(t_s)
        keys = tuple(samples)
        last = self._last_scrape.get(target)
        if last is not None and last[0] == keys:
            for series, value in zip(last[1], samples.values(), strict=True):
                times = series.t_ms
                if times[-1] >= t_ms:
                    series.append(t_ms, float(value))  # the checks of append
                else:
                    times.append(t_ms)
                    series.values.append(float(value))
                    series._cache = series._clean = None
            return
        seen = set(samples)
        known = self._series
        for labels, value in samples.items():
            series = known.get(labels)
            if series is None or not series.t_ms or series.t_ms[-1] >= t_ms:
                self.append_ms(labels, t_ms, float(value))  # a new series, or the checks of append
            else:  # the common case: a later sample of a known series
                series.t_ms.append(t_ms)
                series.values.append(float(value))
                series._cache = series._clean = None
        for gone in sorted(self._exposed.get(target, set()) - seen):
            self.append_ms(gone, to_ms(t_s), STALE_NAN)
        self._exposed[target] = seen
        self._last_scrape[target] = (keys, [known.get(k) or known[labels_of(k)] for k in keys])

    def target_gone(self, target: str, t_s: float) -> None:
        """The target left service discovery: every series it exposed goes stale."""
        self._last_scrape.pop(target, None)
        for gone in sorted(self._exposed.pop(target, set())):
            self.append_ms(gone, to_ms(t_s), STALE_NAN)

    # ---------------------------------------------------------------- reading

    def series(self) -> list[Series]:
        """Every series, sorted by label set (the order Prometheus' storage returns)."""
        if self._sorted is None:
            self._sorted = [self._series[k] for k in sorted(self._series)]
        return self._sorted

    def series_named(self, name: str) -> list[Series]:
        """The series of one metric name, in label order."""
        if self._by_name is None:
            by_name: dict[str, list[Series]] = {}
            for series in self.series():
                by_name.setdefault(series.name, []).append(series)
            self._by_name = by_name
        return self._by_name.get(name, [])

    def get(self, labels: Mapping[str, str] | Labels) -> Series | None:
        return self._series.get(labels_of(labels))

    def __iter__(self) -> Iterator[Series]:
        return iter(self.series())

    def __len__(self) -> int:
        return len(self._series)

    def sample_count(self) -> int:
        return sum(len(s) for s in self._series.values())

    def time_range_ms(self) -> tuple[int, int] | None:
        """(first, last) sample time over all series, or None when empty."""
        firsts = [s.t_ms[0] for s in self._series.values() if len(s)]
        if not firsts:
            return None
        return min(firsts), max(s.t_ms[-1] for s in self._series.values() if len(s))

    def memory_bytes(self) -> int:
        """Bytes held by the samples and label sets (numpy caches excluded)."""
        total = sys.getsizeof(self._series)
        for labels, series in self._series.items():
            total += sys.getsizeof(series) + sys.getsizeof(labels)
            total += sum(
                sys.getsizeof(pair) + sys.getsizeof(pair[0]) + sys.getsizeof(pair[1]) for pair in labels
            )
            total += sys.getsizeof(series.t_ms) + sys.getsizeof(series.values)
        return total
