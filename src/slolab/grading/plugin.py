"""The slolab pytest plugin: the ``slolab`` options, the grader kit's fixtures, and the grade report.

Registered as the ``pytest11`` entry point ``slolab``, so it loads in every pytest run; it stays
inert (no header, no report, no change of exit status) unless ``--slolab-lab NAME`` is given.
The options are one ``options.GradeOptions`` (``--slolab-*``); the fixtures graders are written
with are in ``slolab.grading.fixtures`` (``pytest --fixtures`` lists them with their
docstrings): ``lab`` and its parts, lab.yaml's ``slo``/``target``/``params``, ``verdict``, and
the factories ``wait_serving``, ``load_window``, ``load_session``, ``prom_query``...

A grader test names the checks it judges with ``@pytest.mark.slo("check_id", ...)``, or by its
name ``test_<check_id>``; that is how an exception before a verdict becomes ``error`` on the
right row. At the end every check of lab.yaml appears exactly once in the terminal table, the
JSON report (and latest.json), JUnit XML (when ``--junitxml`` is given) and the timeline PNG;
when the grade is not a pass, a run whose tests all passed still exits 1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("slolab.grading.verdict")

from slolab import errors  # noqa: E402
from slolab.catalog import lab as lab_mod  # noqa: E402
from slolab.catalog import scenario as scenario_mod  # noqa: E402
from slolab.grading import graderun  # noqa: E402
from slolab.grading import options as options_mod  # noqa: E402
from slolab.grading import verdict as verdict_mod  # noqa: E402

log = logging.getLogger(__name__)

#: The fixtures graders are written with (the grader kit).
pytest_plugins = ["slolab.grading.fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("slolab", "slolab lab grading (inert unless --slolab-lab is given)")
    options_mod.GradeOptions.add_pytest_options(group)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slo(*check_ids): the lab.yaml checks this grader test judges")
    try:
        options = options_mod.GradeOptions.from_pytest(config)
        if options is None:
            return
        lab = lab_mod.load(options.lab)
    except errors.SlolabError as exc:
        raise pytest.UsageError(str(exc)) from None
    if options.backend not in lab.backends:
        raise pytest.UsageError(
            f"lab {lab.name!r} does not run on the {options.backend} backend; it runs on "
            f"{', '.join(lab.backends)}.\n  Pass --slolab-backend {lab.backends[0]}."
        )
    run = config.stash[graderun.KEY] = graderun.GradeRun(lab=lab, options=options.resolve(lab))
    if run.options.plot and _runs_tests(config):
        from slolab.report import plotworker

        try:  # matplotlib imports on the other core while the grade runs
            run.plot_worker = plotworker.take()
        except OSError as exc:
            log.debug("plot worker not started (%s); drawing in-process", exc)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = graderun.of(config)
    if run is not None and run.plot_worker is not None:
        run.plot_worker.close()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    run = graderun.of(config)
    if run is None:
        return None
    o = run.options
    return [
        f"slolab: lab {run.lab.name} ({run.lab.title}), backend {o.backend}, seed {o.seed}",
        f"slolab workspace: {o.workspace}",
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = graderun.of(config)
    if run is None:
        return
    bad = [
        f"{item.nodeid}: @pytest.mark.slo names unknown check {c!r}"
        for item in items
        for mark in item.iter_markers("slo")
        for c in mark.args
        if c not in run.lab.slos
    ]
    if bad:
        raise pytest.UsageError("\n".join(bad) + f"\n  lab.yaml's slos are {', '.join(run.lab.slos)}.")


# ---- outcomes -------------------------------------------------------------------------------


def _exception_lines(excinfo: pytest.ExceptionInfo[BaseException]) -> list[str]:
    exc = excinfo.value
    plain = isinstance(exc, errors.SlolabError | pytest.fail.Exception)
    text = str(exc) if plain else excinfo.exconly()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines or [type(exc).__name__]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    run = graderun.of(item.config)
    if run is None or call.excinfo is None:
        return report
    exc = call.excinfo.value
    checks = graderun.covered_checks(item, run.lab.slos)
    if isinstance(exc, verdict_mod.Judged):
        if not exc.recorded:
            run.outcomes.append(
                verdict_mod.Outcome(
                    item.nodeid, checks, exc.status, tuple(_exception_lines(call.excinfo)[:1])
                )
            )
    elif report.skipped:
        reason = f"skipped: {exc}" if str(exc) else "skipped"
        run.outcomes.append(verdict_mod.Outcome(item.nodeid, checks, verdict_mod.NOT_RUN, (reason,)))
    elif report.failed:
        where = "" if call.when == "call" else f" (in {call.when})"
        lines = _exception_lines(call.excinfo)
        lines[0] += where
        run.outcomes.append(verdict_mod.Outcome(item.nodeid, checks, verdict_mod.ERROR, tuple(lines)))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[Any]:
    report = yield
    run = graderun.of(collector.config)
    if run is not None and report.failed:
        lines = [ln for ln in str(report.longrepr or "collection failed").splitlines() if ln.strip()]
        last = ([ln[1:].strip() for ln in lines if ln.startswith("E ")] or lines)[-1].strip()
        run.outcomes.append(
            verdict_mod.Outcome(
                collector.nodeid or ".",
                (),
                verdict_mod.ERROR,
                (f"the grader could not be collected: {last}",),
            )
        )
    return report


# ---- the report -----------------------------------------------------------------------------


def slo_lines_ms(lab: lab_mod.Lab) -> dict[str, float]:
    """Absolute TTFT targets (unit ms or s, id containing "ttft") as plot lines, in ms."""
    out = {}
    for check_id, slo_ in lab.slos.items():
        if "ttft" in check_id and slo_.unit in ("ms", "s"):
            out[f"{slo_.title} ({slo_.expected()})"] = slo_.target * (1000.0 if slo_.unit == "s" else 1.0)
    return out


def _runs_tests(config: pytest.Config) -> bool:
    """False for pytest runs that list rather than run: --collect-only, --fixtures, --setup-plan…"""
    listing = ("collectonly", "showfixtures", "show_fixtures_per_test", "setupplan", "setuponly")
    return not any(getattr(config.option, name, False) for name in listing)


def _keep_metrics(run: graderun.GradeRun, files: dict[str, str | None]) -> None:
    """Save the run's TSDB to <reports>/metrics.tsdb when its Prom can (sim; see runmetrics)."""
    from slolab.report import runmetrics

    assert run.snapshot is not None
    path = run.options.report_path(runmetrics.FILE_NAME)
    try:
        run.metrics_file = runmetrics.export(run.snapshot.prom, path)
    except Exception as exc:  # the grade must survive it; the cause is shown under the table
        path.unlink(missing_ok=True)
        run.metrics_error = f"{type(exc).__name__}: {exc}"
    files["metrics"] = str(run.metrics_file) if run.metrics_file else None


def _write_reports(run: graderun.GradeRun, build: Callable[[], dict[str, Any]], path: Path) -> None:
    """The grade document (``build()``) as the run's JSON report at ``path``, and the summary
    file if asked."""
    from slolab.report import jsonreport

    run.doc = build()
    jsonreport.write(run.doc, path)
    if run.options.summary_file is not None:
        jsonreport.write_summary(run.doc, run.options.summary_file)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = graderun.of(session.config)
    if run is None or not _runs_tests(session.config):
        return
    from slolab.report import jsonreport

    if run.snapshot is None and run.backend is not None:  # teardown never ran (interrupted)
        run.snapshot = graderun.Snapshot.of(run.backend, plot=run.options.plot)
    snap = run.snapshot or graderun.Snapshot(run_s=0.0, events=[], series={}, logs=[])
    checks = [c.as_dict() for c in verdict_mod.tally(run.lab.slos, run.judgements, run.outcomes)]
    report_dir = run.options.report_folder()
    report_dir.mkdir(parents=True, exist_ok=True)
    json_path = jsonreport.next_path(report_dir, run.started_at)
    xmlpath = session.config.getoption("xmlpath", None)
    files: dict[str, str | None] = {
        "json": str(json_path),
        "junit": str(Path(xmlpath).resolve()) if xmlpath else None,
        "timeline": None,
        "metrics": None,
    }

    def build() -> dict[str, Any]:
        return jsonreport.document(
            lab=run.lab.name,
            title=run.lab.title,
            scenario=run.lab.scenario,
            backend=run.options.backend,
            seed=run.options.seed,
            started_at=run.started_at,
            wall_s=time.monotonic() - run.started_monotonic,
            run_s=snap.run_s if run.snapshot else None,
            checks=checks,
            logs=snap.logs,
            events=snap.events,
            files=files,
        )

    waiting = None
    if run.options.plot and run.snapshot is not None:
        from slolab.report import timeline

        png = run.options.report_path("timeline.png")
        t0 = time.perf_counter()
        try:
            data = timeline.prepare(
                build(),
                prom=snap.prom_series,
                logs=snap.logs,
                slo_lines_ms=slo_lines_ms(run.lab),
                profiles=dict(scenario_mod.load(run.lab.scenario).traffic),
            )
            if run.plot_worker is not None:
                run.plot_worker.send(png, data)  # it draws while the metrics are kept below
                waiting = png
            else:
                timeline.draw(png, data)
                files["timeline"] = str(png)
        except Exception as exc:  # the grade must survive a plotting problem; its cause is shown
            run.plot_error = f"{type(exc).__name__}: {exc}"
        run.plot_s = time.perf_counter() - t0
    if run.snapshot is not None:
        _keep_metrics(run, files)
    if waiting is not None:
        # the reports are written while the worker still draws, naming the PNG it will write;
        # written again without it if the drawing fails
        files["timeline"] = str(waiting)
    _write_reports(run, build, json_path)
    if waiting is not None:
        from slolab.report import table  # noqa: F401  # for the summary, while the worker draws

        t0 = time.perf_counter()
        try:
            run.plot_worker.wait(waiting)
        except Exception as exc:  # as above
            run.plot_error = f"{type(exc).__name__}: {exc}"
            files["timeline"] = None
            _write_reports(run, build, json_path)
        run.plot_s = (run.plot_s or 0.0) + time.perf_counter() - t0
    if run.plot_s is not None:
        log.debug("timeline drawn in %.2f s (matplotlib import included)", run.plot_s)
    if not run.doc["passed"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = graderun.of(config)
    if run is None or run.doc is None:
        return
    from slolab.report import table

    tw = config.get_terminal_writer()
    terminalreporter.write_line("")
    terminalreporter.write(table.render(run.doc, width=tw.fullwidth, color=tw.hasmarkup))
    if run.plot_error:
        terminalreporter.write_line(f"Timeline not drawn: {run.plot_error}")
    if run.metrics_error:
        terminalreporter.write_line(f"The run's metrics were not kept: {run.metrics_error}")
    elif run.snapshot is not None and run.metrics_file is None:
        from slolab.report import runmetrics

        terminalreporter.write_line(
            "The run's metrics were not kept: "
            + runmetrics.where_not_kept(run.options.backend, in_cluster=run.options.in_cluster)
        )
