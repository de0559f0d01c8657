"""``slolab promql --samples FILE.om EXPR``: table, --json, and bad input exits 2 without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _support import run_cli

from slolab.promql import openmetrics, synthetic

T0 = synthetic.START_S


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OpenMetrics file of a 10-minute, 2-pod serving run."""
    path = tmp_path_factory.mktemp("cli") / "run.om"
    path.write_text(
        openmetrics.dump(synthetic.serving_run(seed=9, pods=2, duration_s=600.0)), encoding="utf-8"
    )
    return path


def test_json_is_the_http_api_body(samples: Path) -> None:
    done = run_cli(
        "promql",
        "--samples",
        str(samples),
        "count(vllm:num_requests_running)",
        "--at",
        f"{T0 + 300}",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [T0 + 300, "2"]}]},
    }


def test_range_query_table(samples: Path) -> None:
    done = run_cli(
        "promql",
        "--samples",
        str(samples),
        "sum by (finished_reason) (rate(vllm:request_success_total[2m]))",
        "--start",
        f"{T0 + 120}",
        "--end",
        f"{T0 + 600}",
        "--step",
        "60",
    )
    assert done.returncode == 0, done.stderr
    assert 'finished_reason="stop"' in done.stdout and "points" in done.stdout


def test_bad_promql_exits_2_with_the_position_and_no_traceback(samples: Path) -> None:
    done = run_cli("promql", "--samples", str(samples), "sum(rate(vllm:request_success_total[5m]) by (pod)")
    assert done.returncode == 2
    assert "query:1:4: parse error: unclosed left parenthesis" in done.stderr
    assert "Traceback" not in done.stderr


def test_half_a_range_query_is_bad_input(samples: Path) -> None:
    done = run_cli("promql", "--samples", str(samples), "up", "--start", "1", "--step", "15")
    assert done.returncode == 2
    assert "--start, --end and --step together" in done.stderr


def test_a_missing_samples_file_is_named(tmp_path: Path) -> None:
    done = run_cli("promql", "--samples", str(tmp_path / "nope.om"), "up")
    assert done.returncode == 2
    assert "nope.om: no such file" in done.stderr
