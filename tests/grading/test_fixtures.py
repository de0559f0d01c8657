"""The grader kit's fixtures in a grader, with pytester: target, params, wait_serving,
load_window, load_session and the prom_* factories on a scripted fake backend; and
``pytest --fixtures`` as their reference."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import grading_support
import pytest

SCRIPTED = """
from slolab.backends import fake, fakescript

PROM = {"ttft_p99": [fake.PromSeries({}, [(0, 0.5), (100, 0.7), (150, 0.9)])]}


@pytest.fixture(scope="session")
def slolab_backend_factory():
    def open_scripted(lab, options):
        pods = [fakescript.Pod(name, 0.0) for name in "abc"]  # serving from 96 s
        return fakescript.Workload(pods=pods).backend(
            lab, requests=fake.steady(rate_rps=2, start_s=0, end_s=1000), rate_rps=2, prom=PROM
        )
    return open_scripted
"""

GRADER = """
import pytest


@pytest.fixture(scope="session")
def run(wait_serving, load_window, target):
    serving = wait_serving(300)
    assert serving, str(serving)
    return load_window("steady", 60, "steady load")


def test_failed_requests(run, verdict, target, params):
    assert (target.deployment, target.service, params.model_dump()) == ("llm", "llm", {})
    part = run.requests()
    verdict("failed_requests", len(part.failed()), window=run.window, evidence=f"{len(part)} requests")


def test_ttft_p99(run, verdict, prom_scalar, prom_query_range, prom_query):
    p99 = prom_scalar("ttft_p99", at_s=run.window.end_s)
    points = prom_query_range("ttft_p99", run.window.start_s, run.window.end_s, 15)[0]["values"]
    assert prom_query("ttft_p99", 10) == [{"metric": {}, "value": [10, "0.5"]}]
    verdict("ttft_p99", p99, window=run.window, evidence=f"{len(points)} points")
"""


def report(root: Path) -> dict:
    return json.loads((root / "workspace" / "demo" / "reports" / "latest.json").read_text(encoding="utf-8"))


def test_a_grader_written_with_the_kit(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(GRADER, conftest_extra=SCRIPTED)
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 0, result.stdout.str()
    checks = {c["id"]: c for c in report(slolab_root)["checks"]}
    assert checks["failed_requests"]["evidence"] == ["120 requests"]
    assert (checks["ttft_p99"]["observed"], checks["ttft_p99"]["evidence"]) == (0.9, ["5 points"])
    assert checks["ttft_p99"]["window"] == "steady load [96 s, 156 s)"


def test_no_prometheus_data_is_inconclusive(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(GRADER.replace("at_s=run.window.end_s", "at_s=-1"), conftest_extra=SCRIPTED)
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 1
    assert grading_support.statuses(slolab_root) == {"failed_requests": "passed", "ttft_p99": "inconclusive"}


def test_a_workload_that_never_serves_is_an_error_with_its_state(
    pytester: pytest.Pytester, grader, slolab_root: Path
) -> None:
    grader(GRADER, conftest_extra=SCRIPTED.replace('for name in "abc"', 'for name in "ab"'))
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*✗ Deployment llm not serving after 300 s (deadline 300 s): "
            "Deployment llm: 2/3 updated, 2/3 available, 2 pods (in setup)"
        ]
    )
    assert grading_support.statuses(slolab_root) == {"failed_requests": "error", "ttft_p99": "error"}


def test_a_load_session_in_a_grader(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    source = """
    def test_failed_requests(load_session, clock, cluster, verdict):
        with load_session("steady") as load:
            load.hold("steady", 30)
            with load.window("restart"):
                cluster.rollout_restart("Deployment", "llm")
                clock.sleep(20)
        restart = load.windows["restart"]
        verdict("failed_requests", len(load.log.window(restart).failed()), window=restart)
    """
    grader(textwrap.dedent(source))
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert grading_support.statuses(slolab_root) == {"failed_requests": "passed", "ttft_p99": "not run"}
    assert report(slolab_root)["checks"][0]["window"] == "restart [30 s, 50 s)", result.stdout.str()


def test_pytest_fixtures_is_the_reference(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(GRADER)
    result = pytester.runpytest("--fixtures", *grading_support.lab_args(slolab_root))
    for name, doc in [
        ("target", "lab.yaml's ``grading.target``*"),
        ("params", "lab.yaml's ``grading.params``, validated by the lab's grader/params.py*"),
        ("wait_serving", "``wait_serving(timeout_s, poll_s=1)``: wait until the target*"),
        ("load_window", '``load_window(profile, duration_s, name="load")``*'),
        ("load_session", "``with load_session(profile) as s:``*"),
        ("prom_query", "``prom_query(expr, at_s=None)``*"),
        ("prom_query_range", "``prom_query_range(expr, start_s, end_s, step_s=15)``*"),
        ("prom_scalar", "``prom_scalar(expr, at_s=None)``*None when no data*"),
        ("prom", "PromQL over the run's metrics*"),
    ]:
        result.stdout.fnmatch_lines([f"{name} [[]session scope[]]*", f"    {doc}"])
