"""The run's metrics kept with the reports: ``workspace/<lab>/reports/metrics.tsdb``.

At the end of a grade on sim the TSDB the simulator scraped is saved there as it is
(``slolab.promql.snapshot``: the sample arrays, staleness markers included, so a later query
answers as one during the run did), by the backend's ``lab.prom`` when it offers ``save_tsdb``
(the ``Exporter`` protocol; ``export`` is the one place that asks). Saving costs a copy of the
arrays; the OpenMetrics text a Prometheus backfills from is written only on demand, by
``slolab metrics NAME --export``. ``slolab promql NAME`` and that command read the file back
with ``load``.
On kind and cluster nothing is exported: the run's metrics live in the cluster's Prometheus,
and ``load`` says so, with the address the grade used (``where_not_kept``).

Timestamps. The samples are stamped in unix seconds at ``objects.EPOCH`` + run seconds: the clock
of the simulated API server, whose creationTimestamps and event times ``kubectl get`` prints
(run second 0 is 2026-01-01T00:00:00Z). A Prometheus backfilled from the file, and Grafana on
it, show the same instants as the objects do. The commands take and print run seconds, as the
grader and the report do, and move them by ``EPOCH_S`` (``to_unix_s``, ``to_run_s``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Protocol, runtime_checkable

from slolab import errors, paths
from slolab.promql import snapshot, tsdb
from slolab.sim import objects

FILE_NAME = "metrics.tsdb"
#: Unix seconds of run second 0 in metrics.tsdb (the simulated API server's epoch).
EPOCH_S = float(objects.EPOCH)


@runtime_checkable
class Exporter(Protocol):
    """A ``lab.prom`` that can write the run's samples (the sim backend's, over its TSDB)."""

    def save_tsdb(self, path: Path) -> None:
        """Save the run's TSDB to ``path`` with ``snapshot.save``, stamped ``EPOCH_S`` + run
        seconds. Called once, after the verdict, before the report is done."""


def to_unix_s(run_s: float) -> float:
    return EPOCH_S + run_s


def to_run_s(unix_s: float) -> float:
    return unix_s - EPOCH_S


def path_for(lab: str) -> Path:
    """Where a grade of ``lab`` keeps its metrics (the default report folder)."""
    return paths.workspace(lab) / "reports" / FILE_NAME


def export(prom: object, path: Path) -> Path | None:
    """Write ``prom``'s samples to ``path`` when it can export them (sim); None otherwise, after
    removing a ``path`` left by an earlier grade, so no command answers from an older run."""
    if isinstance(prom, Exporter):
        path.parent.mkdir(parents=True, exist_ok=True)
        prom.save_tsdb(path)
        return path
    path.unlink(missing_ok=True)
    return None


def _last_backend(report_dir: Path) -> str | None:
    latest = report_dir / "latest.json"
    try:
        return str(json.loads(latest.read_text(encoding="utf-8")).get("backend"))
    except (OSError, ValueError, AttributeError):
        return None


def where_not_kept(backend: str, *, in_cluster: bool = False) -> str:
    """Why a grade on ``backend`` kept no metrics file, and where its metrics are instead."""
    if backend not in ("kind", "cluster"):
        return f"lab.prom on the {backend} backend cannot export them."
    from slolab.backends import kubeprom

    try:
        url = kubeprom.prometheus_url(backend, in_cluster=in_cluster)
    except errors.SlolabError as exc:
        url = f"(no address from this machine: {str(exc).splitlines()[0]})"
    return f"a grade on {backend} leaves its metrics in the cluster's Prometheus, not in a file: {url}"


def load(lab: str, path: Path | None = None) -> tsdb.TSDB:
    """The TSDB of a finished grade's metrics.tsdb (InputError naming the file and the next step)."""
    path = path or path_for(lab)
    if not path.is_file():
        backend = _last_backend(path.parent)
        if backend in ("kind", "cluster"):
            raise errors.InputError(
                errors.Problem(
                    paths.relative(path),
                    f"no such file: the last grade ran on {backend}; " + where_not_kept(backend),
                ),
                "Query that Prometheus (its UI, or curl URL/api/v1/query), or grade on sim: "
                f"`make grade NAME={lab} BACKEND=sim`.",
            )
        why = (
            "the last grade, on sim, kept no metrics (the end of its output says why)"
            if backend == "sim"
            else "no grade on sim has kept its metrics"
        )
        raise errors.InputError(
            errors.Problem(paths.relative(path), f"no such file: {why}"),
            f"Grade first: `make grade NAME={lab}` (BACKEND=sim), then ask again.",
        )
    db = snapshot.load(path, source=paths.relative(path))
    span = db.time_range_ms()
    if span is not None and span[0] < EPOCH_S * 1000:
        raise errors.InputError(
            errors.Problem(
                paths.relative(path),
                f"its first sample is at unix {span[0] / 1000:g} s, before run second 0 "
                f"({_iso(EPOCH_S)}): the samples must be stamped {EPOCH_S:.0f} + run seconds",
            ),
            f"Grade again to rewrite it: `make grade NAME={lab}`.",
        )
    return db


def _iso(unix_s: float) -> str:
    return dt.datetime.fromtimestamp(unix_s, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_steps(path: Path, db: tsdb.TSDB) -> list[str]:
    """What to run to see ``path`` (written from ``db``) in a Prometheus of one's own and Grafana."""
    span = db.time_range_ms()
    first, last = (_iso(span[0] / 1000), _iso(span[1] / 1000 + 1)) if span else ("", "")
    data = path.with_name(path.stem + "-prom-data")
    return [
        "Next, into a Prometheus of your own (2.42 or newer):",
        f"  promtool tsdb create-blocks-from openmetrics {path} {data}",
        f"  prometheus --config.file=/dev/null --storage.tsdb.path={data} --storage.tsdb.retention.time=100y",
        "  (the samples are stamped from 2026-01-01T00:00:00Z, the simulated API server's clock; a "
        "shorter retention deletes them at start)",
        "Then Grafana: add a Prometheus data source at http://localhost:9090 and set the time range "
        f"to {first} – {last} (UTC).",
    ]


def exported_samples(db: tsdb.TSDB) -> int:
    """Samples an OpenMetrics export of ``db`` writes: all but the staleness markers, which the
    format cannot carry (a Prometheus backfilled from it keeps a gone series for the 5 min
    lookback, where the run's Prometheus, and ``slolab promql NAME``, had it end at once)."""
    return sum(int((~tsdb.stale_mask(s.arrays()[1])).sum()) for s in db)


def describe_span(db: tsdb.TSDB) -> str:
    """``run 0–612 s (2026-01-01T00:00:00Z – 2026-01-01T00:10:12Z)`` for a TSDB stamped as above."""
    span = db.time_range_ms()
    if span is None:
        return "no samples"
    first_s, last_s = span[0] / 1000, span[1] / 1000
    return f"run {to_run_s(first_s):g}–{to_run_s(last_s):g} s ({_iso(first_s)} – {_iso(last_s)})"
