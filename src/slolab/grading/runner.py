"""Run a lab's grader the way ``slolab grade NAME`` does: pytest on labs/<name>/grader/.

pytest runs in this process, quiet (progress marks, then the plugin's grade table), with no
cache and no configuration from the checkout's pyproject.toml: ``-c`` points at the null
device, and the rootdir and conftest cut-off are the grader folder, so only the lab's own
conftest.py applies. JUnit XML goes to ``<report-dir>/junit.xml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from slolab import errors, paths
from slolab.catalog import lab as lab_mod

PLUGIN = "slolab.grading.plugin"
#: pytest plugins a grade never uses, blocked because they cost time (importing kmock about
#: 0.4 s, pytest-asyncio 0.15 s; unraisableexception's two full gc.collect() at exit about
#: 0.09 s on the reference machine) or would patch the process (locust's gevent).
NOT_FOR_GRADING = ("kmock", "asyncio", "locust", "rerunfailures", "unraisableexception")


def pytest_args(
    lab_name: str,
    *,
    backend: str = "sim",
    workspace: Path | None = None,
    seed: int | None = None,
    report_dir: Path | None = None,
    plot: bool = True,
    extra_args: list[str] | None = None,
    context: str | None = None,
    in_cluster: bool = False,
    namespace: str | None = None,
    summary_file: Path | None = None,
) -> list[str]:
    """The pytest command line of a grade run (``run`` passes it to ``pytest.main``)."""
    lab = lab_mod.load(lab_name)
    grader = lab.grader_dir
    if not grader.is_dir():
        raise errors.CatalogError(
            errors.Problem(paths.relative(grader), "no grader folder; a lab needs grader/test_*.py"),
            f"Restore it with `git checkout -- labs/{lab_name}/grader`.",
        )
    workspace = Path(workspace or paths.workspace(lab_name)).resolve()
    report_dir = Path(report_dir or workspace / "reports").resolve()
    args = [
        str(grader),
        f"--config-file={os.devnull}",
        f"--rootdir={grader}",
        f"--confcutdir={grader}",
        "-p",
        "no:cacheprovider",
        *(arg for name in NOT_FOR_GRADING for arg in ("-p", f"no:{name}")),
        "-qq",
        "--no-header",
        "--tb=no",
        "-rN",
        f"--junitxml={report_dir / 'junit.xml'}",
        f"--slolab-lab={lab_name}",
        f"--slolab-backend={backend}",
        f"--slolab-workspace={workspace}",
        f"--slolab-report-dir={report_dir}",
    ]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args[1:1] = ["-p", PLUGIN]
    if seed is not None:
        args.append(f"--slolab-seed={seed}")
    if not plot:
        args.append("--slolab-no-plot")
    if context:
        args.append(f"--slolab-context={context}")
    if in_cluster:
        args.append("--slolab-in-cluster")
    if namespace:
        args.append(f"--slolab-namespace={namespace}")
    if summary_file is not None:
        args.append(f"--slolab-summary-file={summary_file}")
    return args + list(extra_args or [])


def run(
    lab_name: str,
    *,
    backend: str = "sim",
    workspace: Path | None = None,
    seed: int | None = None,
    report_dir: Path | None = None,
    plot: bool = True,
    extra_args: list[str] | None = None,
    **backend_options: Any,
) -> int:
    """Grade ``lab_name``; pytest's exit code: 0 every check passed, 1 some did not, 2+ pytest trouble.

    ``backend_options`` (context, in_cluster, namespace, summary_file) are for kind/cluster.
    ``extra_args`` go last, so ``["--tb=short"]`` or ``["-v"]`` override the quiet defaults.
    """
    args = pytest_args(
        lab_name,
        backend=backend,
        workspace=workspace,
        seed=seed,
        report_dir=report_dir,
        plot=plot,
        extra_args=extra_args,
        **backend_options,
    )
    return int(pytest.main(args))
