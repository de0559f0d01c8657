"""One GradeOptions from the CLI through the runner to the plugin: declared once, read back equal."""

from __future__ import annotations

from pathlib import Path

import pytest

from slolab import errors
from slolab.catalog import lab as lab_mod
from slolab.grading import options


def test_the_pytest_arguments_read_back_as_the_same_options(pytester: pytest.Pytester, slolab_root) -> None:
    given = options.GradeOptions(
        lab="demo",
        backend="cluster",
        seed=5,
        workspace=Path("/tmp/ws"),
        report_dir=Path("/tmp/reports"),
        plot=False,
        context="kind-x",
        in_cluster=True,
        namespace="lab-x",
        summary_file=Path("/dev/termination-log"),
    )
    assert given.to_args() == [
        "--slolab-lab=demo",
        "--slolab-backend=cluster",
        "--slolab-seed=5",
        "--slolab-workspace=/tmp/ws",
        "--slolab-report-dir=/tmp/reports",
        "--slolab-no-plot",
        "--slolab-context=kind-x",
        "--slolab-in-cluster",
        "--slolab-namespace=lab-x",
        "--slolab-summary-file=/dev/termination-log",
    ]
    assert options.GradeOptions.from_pytest(pytester.parseconfig(*given.to_args())) == given
    plain = options.GradeOptions("demo")
    assert plain.to_args() == ["--slolab-lab=demo"]
    assert options.GradeOptions.from_pytest(pytester.parseconfig(*plain.to_args())) == plain


def test_without_a_lab_there_are_no_options(pytester: pytest.Pytester) -> None:
    assert options.GradeOptions.from_pytest(pytester.parseconfig()) is None


def test_resolve_fills_in_the_labs_defaults(slolab_root: Path) -> None:
    resolved = options.GradeOptions("demo").resolve(lab_mod.load("demo"))
    workspace = (slolab_root / "workspace" / "demo").resolve()
    assert (resolved.seed, resolved.workspace, resolved.report_dir) == (7, workspace, workspace / "reports")
    assert resolved.report_path("junit.xml") == workspace / "reports" / "junit.xml"
    with pytest.raises(ValueError, match="resolved options"):
        options.GradeOptions("demo").open_backend(lab_mod.load("demo"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "sim", "in_cluster": True}, "--in-cluster: needs --backend kind or cluster"),
        ({"backend": "auto", "in_cluster": True}, "--in-cluster: needs --backend kind or cluster"),
        ({"backend": "minikube"}, "--backend: expected one of sim, kind, cluster (got 'minikube')"),
    ],
)
def test_options_that_contradict_themselves_are_input_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(errors.InputError) as info:
        options.GradeOptions("demo", **kwargs)
    assert str(info.value) == message and info.value.exit_code == 2
