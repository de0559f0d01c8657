"""A TSDB saved as it is and read back: the binary form a grade keeps (``reports/metrics.tsdb``).

Writing OpenMetrics text costs a formatted line per sample (a second of a grade for a few
tens of thousands of samples); this form costs a copy of the sample arrays. It keeps what the
OpenMetrics export leaves out, the staleness markers (their NaN bit pattern survives), so a
query on the saved run answers as it did during the run. ``slolab metrics NAME --export``
turns it into OpenMetrics (promql/openmetrics.py) when someone wants to backfill a Prometheus.

Layout: a NumPy ``.npz`` (uncompressed zip) with ``t_ms`` (int64) and ``values`` (float64),
every series' samples one after the other in label order, ``lengths`` (int64, samples per
series) and ``meta`` (UTF-8 JSON: format version, lookback, label sets, family types and help).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from slolab import errors
from slolab.promql import tsdb

FORMAT = "slolab-tsdb/1"


def save(db: tsdb.TSDB, path: Path) -> None:
    """Write ``db`` to ``path`` (atomically: a temporary file beside it, then renamed)."""
    series = db.series()
    meta = {
        "format": FORMAT,
        "lookback_delta_s": db.lookback_delta_s,
        "labels": [list(map(list, s.labels)) for s in series],
        "types": db.types,
        "help": db.help,
    }
    t_ms = np.frombuffer(b"".join(s.t_ms.tobytes() for s in series), dtype=np.int64)
    values = np.frombuffer(b"".join(s.values.tobytes() for s in series), dtype=np.float64)
    lengths = np.fromiter((len(s) for s in series), dtype=np.int64, count=len(series))
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as out:
        np.savez(
            out,
            t_ms=t_ms,
            values=values,
            lengths=lengths,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        )
    tmp.replace(path)


def load(path: Path, *, source: str | None = None) -> tsdb.TSDB:
    """The TSDB ``save`` wrote; an InputError naming ``source`` (default: the path) when it is not one."""
    where = source or str(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            t_ms, values, lengths = data["t_ms"], data["values"], data["lengths"]
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise errors.InputError(errors.Problem(where, f"not a saved slolab TSDB ({exc})")) from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise errors.InputError(errors.Problem(where, f"format {found!r}, expected {FORMAT!r}"))
    labels = meta["labels"]
    if len(labels) != len(lengths) or int(lengths.sum()) != len(t_ms) or len(t_ms) != len(values):
        raise errors.InputError(errors.Problem(where, "the sample arrays do not match the series list"))
    db = tsdb.TSDB(float(meta["lookback_delta_s"]))
    db.types.update(meta["types"])
    db.help.update(meta["help"])
    start = 0
    for pairs, n in zip(labels, lengths.tolist(), strict=True):
        end = start + n
        db.load_series(tsdb.labels_of(tuple(map(tuple, pairs))), t_ms[start:end], values[start:end])
        start = end
    return db
