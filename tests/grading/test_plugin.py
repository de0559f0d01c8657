"""The grading plugin end to end, with pytester: graders on a FakeBackend, and their reports."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import grading_support
import pytest

from slolab.backends import fake
from slolab.catalog import lab as lab_mod
from slolab.grading import options, runner

GRADER = """
import pytest
from slolab.load.requestlog import Window

ROLLOUT = Window("rolling update", 100, 300)
STEADY = Window("steady load", 0, 100)


@pytest.fixture(scope="module")
def run(lab, cluster, load):
    handle = load.start("steady")
    lab.clock.sleep(100)
    cluster.rollout_restart("Deployment", "llm")
    lab.clock.sleep(200)
    return load.stop(handle)


def test_failed_requests(run, verdict):
    part = run.window(ROLLOUT)
    failed = part.failed()
    verdict("failed_requests", len(failed), window=ROLLOUT,
            evidence=[f"{len(failed)} of {len(part)} requests failed", f"errors: {part.errors_by_kind()}"])


def test_ttft_p99(run, verdict):
    part = verdict.require_load(run, window=STEADY)
    verdict("ttft_p99", part.ttft_quantile_s(0.99), window=STEADY)
"""


def test_a_grader_that_passes(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(GRADER)
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["*No request failed during the rollout*✓ passed*", "Grade: 2/2 checks passed.", "All SLOs met.*"]
    )
    assert grading_support.statuses(slolab_root) == {"failed_requests": "passed", "ttft_p99": "passed"}
    assert grading_support.latest(slolab_root)["passed"] is True


def test_a_failed_check_shows_observed_expected_window_and_hint(
    pytester: pytest.Pytester, grader, slolab_root: Path
) -> None:
    grader(GRADER, conftest_extra="FAIL_FROM_S, FAIL_TO_S = 150, 170\n")
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "✗ No request failed during the rollout (failed)",
            "  observed 40 requests, expected ≤ 0 requests, over rolling update [100 s, 300 s)",
            "  40 of 400 requests failed",
            "  errors: {'HTTP 503': 40}",
            "  Hint: Which pods receive traffic before the model has loaded?",
            "Grade: 1/2 checks passed.",
            "*reports/grade-*.json",
            "Stuck? `make hint NAME=demo`",
        ]
    )
    # pytest's own failure text: the one-line summary, then the evidence
    result.stdout.fnmatch_lines(
        ["*failed_requests: observed 40 requests, expected ≤ 0 requests over rolling update [[]100 s, *"]
    )
    check = grading_support.latest(slolab_root)["checks"][0]
    assert check["status"] == "failed" and check["observed"] == 40 and check["window_start_s"] == 100
    assert check["hint"].startswith("Which pods")


def test_no_data_is_inconclusive(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(GRADER.replace("part.ttft_quantile_s(0.99)", "None"))
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "? p99 TTFT under 2 s (inconclusive)",
            "  observed no data, expected ≤ 2 s, *",
            "  no data — no data is never a pass",
            "  Not judged: there was too little to measure. A failure above is often why;*",
        ]
    )
    assert grading_support.statuses(slolab_root)["ttft_p99"] == "inconclusive"


def test_require_load_is_inconclusive_on_too_few_requests(
    pytester: pytest.Pytester, grader, slolab_root: Path
) -> None:
    grader(GRADER, conftest_extra="RATE_RPS = 0.1\n")
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "? p99 TTFT under 2 s (inconclusive)",
            "  only 10 requests arrived in the window; at least 50 are needed — no latency SLO is judged "
            "without proof that the load ran",
        ]
    )
    assert grading_support.statuses(slolab_root) == {"failed_requests": "passed", "ttft_p99": "inconclusive"}


def test_an_exception_in_a_fixture_is_an_error(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    broken = """
    from slolab import errors

    @pytest.fixture(scope="session")
    def slolab_backend_factory():
        def open_broken(lab, options):
            raise errors.ManifestError(errors.Problem("workspace/demo/deploy.yaml", "invalid YAML", line=3),
                                       "Fix the indentation on that line.")
        return open_broken
    """
    grader(GRADER, conftest_extra=broken)
    result = pytester.runpytest(*grading_support.lab_args(slolab_root))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "! No request failed during the rollout (error)",
            "  workspace/demo/deploy.yaml:3: invalid YAML (in setup)",
            "  Fix the indentation on that line.",
            "Grade: 0/2 checks passed.",
            "Fix the error above, then grade again: `make grade NAME=demo`",
        ]
    )
    assert grading_support.statuses(slolab_root) == {"failed_requests": "error", "ttft_p99": "error"}
    doc = grading_support.latest(slolab_root)
    assert doc["run_s"] is None and doc["files"]["timeline"] is None


def test_an_exception_in_a_grader_names_its_check(
    pytester: pytest.Pytester, grader, slolab_root: Path
) -> None:
    grader(
        GRADER.replace("    part = verdict.require_load", "    {}['oops']\n    part = verdict.require_load")
    )
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(["! p99 TTFT under 2 s (error)", "  KeyError: 'oops'"])
    assert grading_support.statuses(slolab_root) == {"failed_requests": "passed", "ttft_p99": "error"}


def test_an_unjudged_check_is_not_run(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(GRADER.split("def test_ttft_p99")[0])
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    assert result.ret == 1, "a grade with a check not run is not a pass, even when every test passed"
    result.stdout.fnmatch_lines(["*p99 TTFT under 2 s*– not run*", "Grade: 1/2 checks passed."])
    assert grading_support.statuses(slolab_root) == {"failed_requests": "passed", "ttft_p99": "not run"}


@pytest.mark.slow  # draws the timeline PNG in a worker process
def test_reports_json_junit_and_timeline(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(GRADER, conftest_extra="FAIL_FROM_S, FAIL_TO_S = 150, 170\n")
    junit = grading_support.reports(slolab_root) / "junit.xml"
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, f"--junitxml={junit}"))
    assert result.ret == 1
    doc = grading_support.latest(slolab_root)
    assert set(doc) >= {
        "lab",
        "title",
        "scenario",
        "backend",
        "seed",
        "started_at",
        "wall_s",
        "run_s",
        "passed",
        "score",
        "checks",
        "loads",
        "events",
        "files",
    }
    assert (doc["lab"], doc["scenario"], doc["backend"], doc["seed"]) == ("demo", "demo", "sim", 7)
    assert doc["started_at"].endswith("+00:00") and doc["run_s"] == 300 and doc["score"] == "1/2"
    assert [c["id"] for c in doc["checks"]] == ["failed_requests", "ttft_p99"]
    assert set(doc["checks"][0]) >= {
        "id",
        "title",
        "status",
        "observed",
        "observed_text",
        "expected",
        "window",
        "window_start_s",
        "window_end_s",
        "evidence",
        "hint",
    }
    assert doc["checks"][1]["hint"] is None, "no hint on a passed check"
    assert doc["loads"] == [
        {
            "profile": "steady",
            "requests": 600,
            "ok": 560,
            "failed": 40,
            "rate_rps": 2.0,
            "achieved_rps": 2.0,
            "started_s": 0,
            "stopped_s": 300,
        }
    ]
    reasons = [(e["kind"], e["reason"]) for e in doc["events"]]
    assert ("Grader", "RolloutRestart") in reasons and ("Pod", "Unhealthy") in reasons
    files = doc["files"]
    assert Path(files["json"]).name.startswith("grade-") and Path(files["json"]).is_file()
    assert json.loads(Path(files["json"]).read_text(encoding="utf-8")) == doc
    assert files["junit"] == str(junit) and Path(files["timeline"]).read_bytes()[:4] == b"\x89PNG"

    props = [p.get("value") for p in ET.parse(junit).iter("property") if p.get("name") == "slolab_check"]
    assert sorted(json.loads(v)["status"] for v in props) == ["failed", "passed"]

    pytester.runpytest(*grading_support.lab_args(slolab_root, "--slolab-no-plot"))
    grades = sorted(grading_support.reports(slolab_root).glob("grade-*.json"))
    assert len(grades) == 2, "a second grade never overwrites the first"


def test_header_echoes_lab_backend_and_seed(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(GRADER)
    result = pytester.runpytest(
        *grading_support.lab_args(slolab_root, "--slolab-no-plot", "--slolab-seed=42")
    )
    result.stdout.fnmatch_lines(
        ["slolab: lab demo (Demo rollout), backend sim, seed 42", "slolab workspace: */workspace/demo"]
    )


def test_inert_without_a_lab(pytester: pytest.Pytester, slolab_root: Path) -> None:
    pytester.makepyfile(
        test_plain="def test_ok():\n    assert True\n", test_lab="def test_x(lab):\n    pass\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:asyncio")
    assert result.ret == 1
    result.assert_outcomes(passed=1, errors=1)  # other installed plugins may add warnings
    assert "slolab:" not in result.stdout.str() and "Grade:" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*the 'lab' fixture needs a lab: run `slolab grade NAME`*"])
    assert not (slolab_root / "workspace").exists()


def test_unknown_lab_is_a_usage_error(pytester: pytest.Pytester, slolab_root: Path) -> None:
    result = pytester.runpytest("--slolab-lab=nope", "-p", "no:asyncio")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no lab named 'nope'; the labs are: demo*"])


def test_runner_arguments_grade_the_lab_quietly(pytester: pytest.Pytester, grader, slolab_root: Path) -> None:
    grader(
        GRADER, conftest_extra="FAIL_FROM_S, FAIL_TO_S = 150, 170\n", into=slolab_root / "labs/demo/grader"
    )
    args = runner.pytest_args(options.GradeOptions("demo", seed=3, plot=False))
    result = pytester.runpytest(*args)
    assert result.ret == 1
    out = result.stdout.str()
    assert "Grade: 1/2 checks passed." in out and "FAILED" not in out and "slolab:" not in out
    report_dir = slolab_root / "workspace" / "demo" / "reports"
    assert (report_dir / "junit.xml").is_file() and json.loads((report_dir / "latest.json").read_text())[
        "seed"
    ] == 3


def test_runner_loads_only_the_grading_plugin(slolab_root: Path) -> None:
    args = runner.pytest_args(options.GradeOptions("demo"), extra_args=["--tb=short"])
    assert "--disable-plugin-autoload" in args and args[-1] == "--tb=short"
    named = [args[i + 1] for i, arg in enumerate(args) if arg == "-p"]
    assert named[0] == "slolab.grading.plugin" and "no:cacheprovider" in named
    assert f"--config-file={os.devnull}" in args


def test_fake_cluster_waits_in_virtual_time(slolab_root: Path) -> None:
    backend = fake.FakeBackend(lab_mod.load("demo"), objects=[{"kind": "Pod", "metadata": {"name": "a"}}])
    assert backend.cluster.wait_for(lambda: backend.clock.now_s() >= 30, timeout_s=60, poll_s=5)
    assert backend.clock.now_s() == 30
    assert not backend.cluster.wait_for(lambda: False, timeout_s=10) and backend.clock.now_s() == 40
    assert [p["metadata"]["name"] for p in backend.cluster.list("Pod")] == ["a"]
    assert backend.cluster.get("Pod", "b") is None


def test_runner_needs_a_grader_folder(slolab_root: Path) -> None:
    import shutil

    from slolab import errors

    shutil.rmtree(slolab_root / "labs" / "demo" / "grader")
    with pytest.raises(errors.CatalogError, match="no grader folder"):
        runner.run(options.GradeOptions("demo"))


@pytest.mark.slow  # starts a plot worker process
def test_a_timeline_that_fails_is_named_nowhere(
    pytester: pytest.Pytester, grader, slolab_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reports are written while the worker draws, naming its PNG; when the drawing fails
    they are written again without it, and the summary says why."""
    from slolab.report import plotworker

    def fail(self, path: Path, timeout_s: float = 120.0) -> Path:
        self.close()
        raise RuntimeError("the plot worker exited 1")

    monkeypatch.setattr(plotworker.PlotWorker, "wait", fail)
    grader(GRADER)
    summary = slolab_root / "summary.json"
    result = pytester.runpytest(*grading_support.lab_args(slolab_root, f"--slolab-summary-file={summary}"))
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["Timeline not drawn: RuntimeError: the plot worker exited 1"])
    doc = grading_support.latest(slolab_root)
    assert doc["files"]["timeline"] is None and doc["passed"] is True
    assert json.loads(Path(doc["files"]["json"]).read_text(encoding="utf-8")) == doc
    assert summary.is_file()
    assert not (grading_support.reports(slolab_root) / "timeline.png").exists()
