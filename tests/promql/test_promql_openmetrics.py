"""OpenMetrics export (what promtool backfills) and import."""

from __future__ import annotations

import math

import pytest

from slolab import errors
from slolab.promql import openmetrics, synthetic, tsdb


def _small() -> tsdb.TSDB:
    db = tsdb.TSDB()
    db.declare("req", "counter")
    db.declare("lat", "histogram")
    db.append({"__name__": "req_total", "pod": 'a"b\\c'}, 10.0, 1.0)
    db.append({"__name__": "req_total", "pod": 'a"b\\c'}, 25.5, 3.0)
    db.append({"__name__": "lat_bucket", "le": "+Inf"}, 10.0, 2.0)
    db.append({"__name__": "lat_count"}, 10.0, 2.0)
    db.append({"__name__": "queue"}, 10.0, math.nan)
    db.append({"__name__": "queue"}, 11.0, math.inf)
    db.mark_stale({"__name__": "queue"}, 12.0)
    return db


def test_dump_groups_families_with_type_lines_seconds_timestamps_and_eof() -> None:
    text = openmetrics.dump(_small())
    assert text.splitlines() == [
        "# TYPE lat histogram",
        'lat_bucket{le="+Inf"} 2.0 10.000',
        "lat_count 2.0 10.000",
        "# TYPE queue unknown",
        "queue NaN 10.000",
        "queue +Inf 11.000",
        "# TYPE req counter",
        'req_total{pod="a\\"b\\\\c"} 1.0 10.000',
        'req_total{pod="a\\"b\\\\c"} 3.0 25.500',
        "# EOF",
    ]


def test_staleness_markers_are_dropped_or_refused() -> None:
    assert "12.000" not in openmetrics.dump(_small())
    with pytest.raises(errors.InputError, match="staleness marker"):
        openmetrics.dump(_small(), stale="error")


def test_load_gives_back_every_sample_but_the_staleness_markers() -> None:
    db = synthetic.serving_run(seed=2, pods=2, duration_s=900.0)
    back = openmetrics.load(openmetrics.dump(db))
    assert back.types == db.types
    for series in db.series():
        got = back.get(series.labels)
        assert got is not None
        keep = [i for i, v in enumerate(series.values) if not tsdb.is_stale(v)]
        assert list(got.t_ms) == [series.t_ms[i] for i in keep]
        assert list(got.values) == [series.values[i] for i in keep]


def test_load_reports_every_bad_line_with_its_number() -> None:
    text = 'x 1 10\nx{a="b" 2 11\ny 3\n# EOF\n'
    with pytest.raises(errors.InputError) as caught:
        openmetrics.load(text, source="s.om")
    lines = [(p.file, p.line) for p in caught.value.problems]
    assert lines == [("s.om", 2), ("s.om", 3)]
    assert "timestamp" in str(caught.value)


def test_load_needs_eof() -> None:
    with pytest.raises(errors.InputError, match="# EOF"):
        openmetrics.load("x 1 10\n")


def test_load_reads_units_help_exemplars_and_label_escapes() -> None:
    text = (
        "# TYPE lat histogram\n# UNIT lat seconds\n# HELP lat Latency.\n"
        'lat_bucket{le="1",pod="a\\"b"} 3 100.5 # {trace_id="x"} 0.5 100.4\n'
        'lat_bucket{le="1",pod="a\\"b"} 4 115.5 # {trace_id="y"} 0.7 115.4\n'
        "# EOF\n"
    )
    db = openmetrics.load(text)
    series = db.get({"__name__": "lat_bucket", "le": "1", "pod": 'a"b'})
    assert series is not None
    assert list(series.t_ms) == [100500, 115500] and list(series.values) == [3.0, 4.0]
    assert db.types == {"lat": "histogram"} and db.help == {"lat": "Latency."}
