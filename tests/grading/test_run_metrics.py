"""A grade keeps the run's samples (reports/metrics.om) when lab.prom can export them, and the
timeline's series come from PromQL through lab.prom (``Snapshot.of``)."""

from __future__ import annotations

import math
from pathlib import Path

import grading_support
import prom_support
import pytest
from test_plugin import GRADER

from slolab.backends import fake
from slolab.catalog import lab as lab_mod
from slolab.grading import graderun
from slolab.promql import openmetrics, snapshot, tsdb
from slolab.report import promseries, runmetrics

EXPORTING = """
import prom_support

@pytest.fixture(scope="session")
def slolab_backend_factory():
    def open_fake(lab, options):
        requests = fake.steady(rate_rps=RATE_RPS, start_s=0, end_s=600, ttft_s=TTFT_S)
        backend = fake.FakeBackend(lab, None, options.seed, requests=requests, rate_rps=RATE_RPS,
                                   objects=[{"kind": "Deployment", "metadata": {"name": "llm"}, "spec": {}}])
        backend.prom = prom_support.TSDBProm(prom_support.serving_run(namespace="lab-demo"), now_s=300)
        return backend
    return open_fake
"""


def test_a_grade_keeps_the_metrics_its_prom_exports(
    pytester: pytest.Pytester, grader, slolab_root: Path
) -> None:
    grader(GRADER, conftest_extra=EXPORTING)
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 0, result.stdout.str()
    kept = grading_support.reports(slolab_root) / runmetrics.FILE_NAME
    assert grading_support.latest(slolab_root)["files"]["metrics"] == str(kept)
    assert openmetrics.dump(snapshot.load(kept)) == openmetrics.dump(
        prom_support.serving_run(namespace="lab-demo")
    )
    result.stdout.fnmatch_lines(["*metrics*reports/metrics.tsdb*make promql NAME=demo*"])

    # a grade whose Prom cannot export (kind, cluster, this fake) leaves no older run's file behind
    grader(GRADER)
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 0, result.stdout.str()
    assert not kept.exists()
    assert grading_support.latest(slolab_root)["files"]["metrics"] is None


def test_export_asks_the_prom_once_and_only_when_it_can(tmp_path: Path) -> None:
    prom = prom_support.TSDBProm(prom_support.serving_run(60.0), now_s=60)
    path = tmp_path / "reports" / "metrics.tsdb"
    assert runmetrics.export(prom, path) == path and prom.exported == [path] and path.is_file()
    scripted = fake.FakeProm(fake.FakeClock())
    assert not isinstance(scripted, runmetrics.Exporter)
    assert runmetrics.export(scripted, path) is None and not path.exists()


def _sum_at(db: tsdb.TSDB, name: str, unix_s: float) -> float | None:
    """The sum over ``name``'s series of each one's latest sample within the 5 min lookback."""
    total, seen = 0.0, False
    for series in db.series_named(name):
        t_ms, values = series.arrays()
        ok = [v for t, v in zip(t_ms, values, strict=True) if unix_s * 1000 - 300_000 < t <= unix_s * 1000]
        if ok and not tsdb.is_stale(ok[-1]):
            total, seen = total + ok[-1], True
    return total if seen else None


def test_the_timeline_series_are_promql_over_the_run() -> None:
    lab = lab_mod.load("readiness-probes")
    backend = fake.FakeBackend(lab, None, start_s=600.0)
    db = prom_support.serving_run(600.0, pods=3)
    backend.prom = prom_support.TSDBProm(db, now_s=600)
    snap = graderun.Snapshot.of(backend, plot=True)
    got = snap.prom_series
    assert snap.prom is backend.prom and got["step_s"] == promseries.STEP_S
    assert got["notes"] == {}, "every panel has data"
    assert set(got["series"]["replicas"]) == {"all pods"}  # synthetic has no spec/available series
    for panel, label, name in (("queue", "waiting", "vllm:num_requests_waiting"),
                               ("replicas", "all pods", "kube_deployment_status_replicas")):  # fmt: skip
        points = dict(got["series"][panel][label])
        for t_s in (60.0, 300.0, 600.0):
            expected = _sum_at(db, name, runmetrics.to_unix_s(t_s))
            assert expected is not None and points[t_s] == pytest.approx(expected), (panel, t_s)
    ttft = [v for _, v in got["series"]["ttft"]["TTFT p99 (server)"] if not math.isnan(v)]
    assert ttft and all(1.0 <= v <= 60_000.0 for v in ttft), "p99 in ms within vLLM's buckets"


def test_no_prom_gives_a_note_on_every_panel_not_a_crash() -> None:
    lab = lab_mod.load("readiness-probes")
    backend = fake.FakeBackend(lab, None, start_s=120.0)  # nothing scripted: every query is an error
    got = graderun.Snapshot.of(backend, plot=True).prom_series
    assert all(not s for s in got["series"].values())
    assert set(got["notes"]) == set(promseries.PANELS)
    assert all(
        n.startswith("no metrics: the fake Prometheus has no answer scripted") for n in got["notes"].values()
    )
    assert len(backend.prom.queries) == 1, "a Prom that cannot answer is asked once, not once per query"
    assert graderun.Snapshot.of(backend).prom_series is None, "no plot, no queries"
