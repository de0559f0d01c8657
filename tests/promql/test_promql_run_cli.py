"""``slolab promql NAME`` and ``slolab metrics NAME --export`` over a finished grade's metrics.tsdb.

The grade is stood in for by its file: workspace/readiness-probes/reports/metrics.tsdb holding a
synthetic serving run stamped ``runmetrics.EPOCH_S`` + run seconds, as a grade on sim keeps it.
The exported file is backfilled with the real promtool into a real Prometheus 2.42, and
``slolab promql NAME --json`` must give that Prometheus' body, its times moved to run seconds.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import prom_support
import pytest
import requests
from _support import run_cli
from test_conformance import _assert_same

from slolab.backends import kubeprom
from slolab.metrics import local, remotewrite
from slolab.promql import command, openmetrics, snapshot
from slolab.report import promseries, runmetrics

LAB = "readiness-probes"
WAITING = f'sum(vllm:num_requests_waiting{{namespace="{prom_support.NAMESPACE}"}})'
TTFT_P99 = "histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket[1m])))"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace root whose readiness-probes lab has a finished grade's metrics.tsdb."""
    root = tmp_path_factory.mktemp("ws")
    reports = root / LAB / "reports"
    reports.mkdir(parents=True)
    snapshot.save(prom_support.serving_run(), reports / runmetrics.FILE_NAME)
    return root


def _json(workspace: Path, *args: str) -> dict[str, Any]:
    done = run_cli("promql", LAB, *args, "--json", workspace=workspace)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_instant_query_in_run_seconds(workspace: Path) -> None:
    body = _json(workspace, "count(vllm:num_requests_running)", "--at", "200")
    assert body == {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [200, "2"]}]},
    }
    # at 300 one of the two pods has left (at 240 s): its series ended with a staleness marker
    (row,) = _json(workspace, "count(vllm:num_requests_running)", "--at", "300")["data"]["result"]
    assert row["value"] == [300, "1"]
    # default time: the last sample, printed in run seconds too
    (row,) = _json(workspace, "count(vllm:num_requests_running)")["data"]["result"]
    assert 580 <= row["value"][0] <= 601


def test_range_query_table(workspace: Path) -> None:
    done = run_cli(
        "promql", LAB, TTFT_P99, "--start", "60", "--end", "600", "--step", "30", workspace=workspace
    )
    assert done.returncode == 0, done.stderr
    assert "matrix" in done.stdout and "19" in done.stdout  # 19 points: 60, 90, ..., 600


@pytest.mark.parametrize(
    "args, message",
    [
        (("up",), "no lab named 'nope'"),
        (("sum(rate(x[5m]) by (pod)", "--at", "1"), "query:1:4: parse error"),
        (("up", "--at", "soon"), "not a number of seconds: 'soon'"),
        ((), "missing EXPR"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(workspace: Path, args: tuple[str, ...], message: str) -> None:
    lab = "nope" if args == ("up",) else LAB
    done = run_cli("promql", lab, *args, workspace=workspace)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr and "Traceback" not in done.stderr


def test_no_finished_grade_names_the_file_and_the_next_step(tmp_path: Path) -> None:
    done = run_cli("promql", LAB, "up", workspace=tmp_path)
    assert done.returncode == 2
    assert f"{tmp_path}/{LAB}/reports/metrics.tsdb: no such file" in done.stderr
    assert f"make grade NAME={LAB}" in done.stderr


def test_after_a_grade_on_kind_it_says_where_the_metrics_are(tmp_path: Path) -> None:
    reports = tmp_path / LAB / "reports"
    reports.mkdir(parents=True)
    (reports / "latest.json").write_text(json.dumps({"lab": LAB, "backend": "kind"}), encoding="utf-8")
    for args in (("promql", LAB, "up"), ("metrics", LAB, "--export", str(tmp_path / "x.om"))):
        done = run_cli(*args, workspace=tmp_path)
        assert done.returncode == 2, done.stdout
        assert (
            "the last grade ran on kind; a grade on kind leaves its metrics in the cluster's Prometheus"
            in done.stderr
        )
        assert "http://127.0.0.1:30090" in done.stderr  # kind-config.yaml's mapping of the NodePort


def test_name_and_samples_together_are_refused(workspace: Path, tmp_path: Path) -> None:
    done = run_cli("promql", LAB, "up", "--samples", str(tmp_path / "x.om"), workspace=workspace)
    assert done.returncode == 2 and "NAME or --samples, not both" in done.stderr


@pytest.mark.wallclock  # a real Prometheus on 127.0.0.1
def test_export_backfills_into_a_real_prometheus_that_answers_the_same(
    workspace: Path, tmp_path: Path
) -> None:
    local.binary_or_skip()
    promtool = local.binary_or_skip(name="promtool")
    out = tmp_path / "run.om"
    done = run_cli("metrics", LAB, "--export", str(out), workspace=workspace)
    assert done.returncode == 0, done.stderr
    db = openmetrics.load(openmetrics.dump(prom_support.serving_run()))  # no staleness markers
    span = r"run 5\.513–59\d\.\d+ s \(2026-01-01T00:00:05Z – "
    assert re.search(rf"{len(db)} series, {db.sample_count()} samples, {span}", done.stdout), done.stdout
    lines = done.stdout.splitlines()  # whole lines, to copy and paste
    assert f"  promtool tsdb create-blocks-from openmetrics {out} {tmp_path}/run-prom-data" in lines
    assert "--storage.tsdb.retention.time=100y" in done.stdout and "Grafana" in done.stdout
    # the export is the grade's samples, stamped on the API server's clock
    assert openmetrics.load(out.read_text(encoding="utf-8")).time_range_ms() == db.time_range_ms()
    blocks = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(out), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert blocks.returncode == 0, blocks.stderr
    # the run's own Prometheus kept staleness markers, which the export cannot carry: compare
    # with one fed the run's samples through remote write, markers included
    with local.LocalPrometheus([], remote_write=True) as server:
        remotewrite.push(server.url, prom_support.serving_run())

        def prometheus(query: str, **params: float) -> dict[str, Any]:
            path = "/api/v1/query_range" if "step" in params else "/api/v1/query"
            moved = {k: v + runmetrics.EPOCH_S if k != "step" else v for k, v in params.items()}
            body = requests.get(server.url + path, params={"query": query, **moved}, timeout=30).json()
            return command.shift(body, -runmetrics.EPOCH_S)

        # exactly the body Prometheus gives, times in run seconds
        for at in ("300", "431.5"):
            assert _json(workspace, WAITING, "--at", at) == prometheus(WAITING, time=float(at))
        want = prometheus(WAITING, start=60.0, end=600.0, step=15.0)
        assert _json(workspace, WAITING, "--start", "60", "--end", "600", "--step", "15") == want
        assert want["data"]["result"][0]["values"][0][0] == 60
        # a histogram quantile over rate: the same within the conformance tolerance
        want = prometheus(TTFT_P99, start=60.0, end=600.0, step=30.0)
        assert want["data"]["result"], "Prometheus has the samples"
        _assert_same(
            TTFT_P99,
            want,
            lambda: _json(workspace, TTFT_P99, "--start", "60", "--end", "600", "--step", "30"),
        )

        # the timeline's series on kind/cluster (KubeProm on that Prometheus) are those on sim
        wanted = promseries.queries(prom_support.NAMESPACE, "llm")
        real = kubeprom.KubeProm(lambda: server.url, runmetrics.EPOCH_S, lambda: 600.0)
        try:
            on_kind = promseries.fetch(real, wanted, 600.0)
        finally:
            real.close()
    on_sim = promseries.fetch(prom_support.TSDBProm(prom_support.serving_run(), now_s=600.0), wanted, 600.0)
    assert on_kind["notes"] == on_sim["notes"] == {}
    for panel, lines in on_sim["series"].items():
        assert set(on_kind["series"][panel]) == set(lines), panel
        for label, points in lines.items():
            got = on_kind["series"][panel][label]
            assert [t for t, _ in got] == [t for t, _ in points], label
            assert [v for _, v in got] == pytest.approx([v for _, v in points], rel=1e-9, nan_ok=True), label


def test_shift_moves_times_to_the_millisecond() -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[1767225900.123, "1"], [1767225960, "2"]]}],
        },
    }
    moved = command.shift(body, -runmetrics.EPOCH_S)
    assert moved["data"]["result"][0]["values"] == [[300.123, "1"], [360, "2"]]
    assert isinstance(moved["data"]["result"][0]["values"][1][0], int)
    assert body["data"]["result"][0]["values"][0][0] == 1767225900.123, "the body given is left as it was"
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1767225601, "7"]}}
    assert command.shift(scalar, -runmetrics.EPOCH_S)["data"]["result"] == [1, "7"]


def test_a_file_not_on_the_api_servers_clock_is_refused(tmp_path: Path) -> None:
    reports = tmp_path / LAB / "reports"
    reports.mkdir(parents=True)
    text = openmetrics.dump(prom_support.serving_run(60.0)).replace(
        " 17672", " 17002"
    )  # moved to 2023: not EPOCH + run seconds
    snapshot.save(openmetrics.load(text), reports / runmetrics.FILE_NAME)
    done = run_cli("promql", LAB, "up", workspace=tmp_path)
    assert done.returncode == 2, done.stdout
    assert (
        "before run second 0 (2026-01-01T00:00:00Z): the samples must be stamped 1767225600 + run seconds"
        in (done.stderr)
    )
