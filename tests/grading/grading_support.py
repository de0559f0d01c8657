"""Helpers of the grading tests: the arguments and reports of a grade run on the demo lab, and
scripted runs of the readiness-probes lab for its grader's unit tests (fake backend).

``readiness_backend(lab, case)`` is what the grader sees on the fake backend: a Deployment
``llm`` of three pods that serve from 96 s, so ``wait_serving`` returns at 96 s, the load
starts, and the grader restarts the Deployment at RESTART_S = 96 + steady_s (90) = 186 s. The
rolling update replaces one pod at a time (30 s apart); an old pod goes when its successor is
Ready. Every case is the good run with one thing changed, named for the check it must fail.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _support import ROOT

from slolab.backends import fake, fakescript
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.grading import runner


def lab_args(root: Path, *more: str) -> list[str]:
    """A grade's options, with the plugins ``slolab grade`` leaves out left out here too."""
    return [
        "--slolab-lab=demo",
        f"--slolab-workspace={root / 'workspace' / 'demo'}",
        "-p",
        "no:cacheprovider",
        *(arg for name in runner.NOT_FOR_GRADING for arg in ("-p", f"no:{name}")),
        *more,
    ]


def reports(root: Path) -> Path:
    return root / "workspace" / "demo" / "reports"


def latest(root: Path) -> dict:
    return json.loads((reports(root) / "latest.json").read_text(encoding="utf-8"))


def statuses(root: Path) -> dict[str, str]:
    return {c["id"]: c["status"] for c in latest(root)["checks"]}


# ---- readiness-probes ---------------------------------------------------------------------

WARM_S = 96.0  # created 0 + start 1 + load 90 + Ready 5 s later
RESTART_S = WARM_S + 90.0  # + steady_s of lab.yaml
RATE_RPS = 5.0
END_S = 2000.0

#: case -> the check it must fail (None: every check passes).
CASES = {
    "good": set(),
    "failed-requests": {"failed_requests"},
    "restart": {"container_restarts"},
    "slow-ready": {"ready_after_load_s"},
    "never-serving": {"ready_after_load_s"},
    "ttft-spike": {"ttft_p99_ratio"},
}


def workload(case: str) -> fakescript.Workload:
    """The pods of ``case`` (see the module docstring)."""
    old_restarts = {"a": (150.0,)} if case == "restart" else {}
    new_delay_s = {"e": 40.0} if case == "slow-ready" else {}
    new = [
        fakescript.Pod(
            name,
            RESTART_S + 1 + 30 * i,
            revision=2,
            ready_delay_s=None if case == "never-serving" else new_delay_s.get(name, 5.0),
        )
        for i, name in enumerate("def")
    ]
    old = [
        fakescript.Pod(name, 0.0, restarts_s=old_restarts.get(name, ()), deleted_s=successor.ready_s)
        for name, successor in zip("abc", new, strict=True)
    ]
    return fakescript.Workload(pods=[*old, *new], restart_s=RESTART_S)


def requests(case: str) -> list:
    """Open-loop requests from the first second the grader can start load to well past the end."""
    if case == "no-load":
        return fake.steady(rate_rps=0.5, start_s=WARM_S, end_s=END_S, ttft_s=0.2)
    out = fake.steady(
        rate_rps=RATE_RPS,
        start_s=WARM_S,
        end_s=END_S,
        ttft_s=0.2,
        fail=(lambda t: 290 <= t < 300) if case == "failed-requests" else None,
    )
    if case == "ttft-spike":  # 60 s of 3× TTFT inside the rolling update
        out = [fake.request(r.id, r.arrival_s, ttft_s=0.6) if 200 <= r.arrival_s < 260 else r for r in out]
    return out


def readiness_backend(lab: lab_mod.Lab, case: str) -> fake.FakeBackend:
    """The FakeBackend the readiness-probes grader runs on in ``case``."""
    return workload(case).backend(
        lab, scenario_mod.load(lab.scenario), requests=requests(case), rate_rps=RATE_RPS
    )


def grade_scripted(pytester: Any, lab: str, grader: Path, conftest: str, case: str) -> dict:
    """Grade ``lab`` with its real grader's files (``grader``: conftest.py and test_*.py, copied as
    they are) under a root ``conftest`` (its ``{case}`` filled with ``repr(case)``) that opens a
    scripted backend; the JSON report. pytest's exit status must agree with the report."""
    folder = pytester.path / "grader"
    folder.mkdir()
    for file in [grader / "conftest.py", *grader.glob("test_*.py")]:
        shutil.copy(file, folder / file.name)
    (pytester.path / "conftest.py").write_text(textwrap.dedent(conftest.format(case=case)))
    workspace = pytester.path / "workspace"
    result = pytester.runpytest(
        "grader",
        f"--slolab-lab={lab}",
        f"--slolab-workspace={workspace}",
        "--slolab-no-plot",
        "-p",
        "no:cacheprovider",
        *(arg for name in runner.NOT_FOR_GRADING for arg in ("-p", f"no:{name}")),
    )
    report = json.loads((workspace / "reports" / "latest.json").read_text(encoding="utf-8"))
    assert result.ret == (0 if report["passed"] else 1), result.stdout.str()
    return report


def checks(report: dict) -> dict[str, dict]:
    """A grade report's checks by id."""
    return {c["id"]: c for c in report["checks"]}


def not_passed(report: dict) -> dict[str, str]:
    """id -> status of every check that did not pass."""
    return {c["id"]: c["status"] for c in report["checks"] if c["status"] != "passed"}


#: The root conftest.py of a scripted grade: it opens ``MODULE.FUNCTION(lab, case)`` (a
#: FakeBackend scripted for ``case``) instead of the simulator.
SCRIPTED_CONFTEST = """
import pytest

import MODULE


@pytest.fixture(scope="session")
def slolab_backend_factory():
    def open_scripted(lab, options):
        return MODULE.FUNCTION(lab, {case!r})

    return open_scripted
"""


@contextlib.contextmanager
def scripted_grading(
    pytester: Any, monkeypatch: Any, lab: str, module: str, function: str = "backend"
) -> Iterator[Any]:
    """A function grading ``lab`` with its real grader on the backend ``module.function(lab,
    case)`` scripts for a case; it returns the JSON report (see :func:`grade_scripted`)."""
    monkeypatch.setenv("SLOLAB_ROOT", str(ROOT))
    monkeypatch.setenv("COLUMNS", "120")
    conftest = SCRIPTED_CONFTEST.replace("MODULE", module).replace("FUNCTION", function)
    grader = ROOT / "labs" / lab / "grader"
    lab_mod.load.cache_clear()
    try:
        yield lambda case: grade_scripted(pytester, lab, grader, conftest, case)
    finally:
        lab_mod.load.cache_clear()
