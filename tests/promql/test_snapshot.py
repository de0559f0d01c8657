"""promql/snapshot.py: a saved TSDB reads back as the same series, samples and staleness markers."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from slolab import errors
from slolab.promql import engine, snapshot, synthetic, tsdb


def _bits(values) -> list[int]:
    return [struct.unpack("<Q", struct.pack("<d", v))[0] for v in values]


def test_a_saved_tsdb_reads_back_exactly(tmp_path: Path) -> None:
    db = synthetic.serving_run(5, pods=2, duration_s=300.0, start_s=1_767_225_600.0)
    db.mark_stale({"__name__": "up", "pod": "gone"}, 1_767_225_700.0)
    path = tmp_path / "run.tsdb"
    snapshot.save(db, path)
    back = snapshot.load(path)
    assert [s.labels for s in back] == [s.labels for s in db]
    for s in db:
        b = back.get(s.labels)
        assert list(b.t_ms) == list(s.t_ms) and _bits(b.values) == _bits(s.values)
    assert back.types == db.types and back.help == db.help and back.lookback_delta_s == db.lookback_delta_s
    assert tsdb.is_stale(back.get({"__name__": "up", "pod": "gone"}).values[-1])
    q = "sum(rate(vllm:generation_tokens_total[1m]))"
    assert engine.Engine(back).query(q, 1_767_225_850) == engine.Engine(db).query(q, 1_767_225_850)


def test_an_empty_tsdb_round_trips(tmp_path: Path) -> None:
    snapshot.save(tsdb.TSDB(), tmp_path / "empty.tsdb")
    assert len(snapshot.load(tmp_path / "empty.tsdb")) == 0


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04broken"])
def test_a_file_that_is_not_a_snapshot_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "metrics.tsdb"
    path.write_bytes(content)
    with pytest.raises(errors.InputError, match=r"reports/metrics.tsdb: not a saved slolab TSDB"):
        snapshot.load(path, source="reports/metrics.tsdb")


def test_another_format_version_is_refused(tmp_path: Path) -> None:
    import json

    import numpy as np

    path = tmp_path / "x.tsdb"
    meta = np.frombuffer(json.dumps({"format": "slolab-tsdb/0"}).encode(), dtype=np.uint8)
    with path.open("wb") as out:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        np.savez(out, t_ms=empty_i, values=empty_f, lengths=empty_i, meta=meta)
    with pytest.raises(errors.InputError, match="expected 'slolab-tsdb/1'"):
        snapshot.load(path)
