"""The slolab pytest plugin: the ``slolab`` options, the grader fixtures, and the grade report.

Registered as the ``pytest11`` entry point ``slolab``, so it loads in every pytest run; it stays
inert (no header, no report, no change of exit status) unless ``--slolab-lab NAME`` is given.
Then graders get fixtures (``pytest --fixtures`` lists them with their docstrings):

    lab       the lab running on the chosen backend (base.Backend), closed at session end
    cluster   lab.cluster        load    lab.load         clock   lab.clock
    events    lab.events         slo     lab.yaml's SLOs  verdict judge one check

A grader test names the checks it judges with ``@pytest.mark.slo("check_id", ...)``, or by its
name ``test_<check_id>``; that is how an exception before a verdict becomes ``error`` on the
right row. At the end every check of lab.yaml appears exactly once in the terminal table, the
JSON report (and latest.json), JUnit XML (when ``--junitxml`` is given) and the timeline PNG;
when the grade is not a pass, a run whose tests all passed still exits 1.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.register_assert_rewrite("slolab.grading.verdict")

from slolab import errors  # noqa: E402
from slolab.backends import base  # noqa: E402
from slolab.catalog import lab as lab_mod  # noqa: E402
from slolab.grading import options as options_mod  # noqa: E402
from slolab.grading import verdict as verdict_mod  # noqa: E402
from slolab.load import requestlog  # noqa: E402

log = logging.getLogger(__name__)

#: Opens the backend a grade runs on: ``(lab, options) -> Backend``.
BackendFactory = Callable[[lab_mod.Lab, options_mod.GradeOptions], base.Backend]


@dataclasses.dataclass
class Snapshot:
    """What the report needs from the backend, taken before it is closed."""

    run_s: float
    events: list[base.Event]
    series: dict[str, list[tuple[float, float]]]
    logs: list[requestlog.RequestLog]


@dataclasses.dataclass
class GradeRun:
    """One grade run: the options (resolved), and what the tests judged and raised."""

    lab: lab_mod.Lab
    options: options_mod.GradeOptions
    started_at: dt.datetime = dataclasses.field(default_factory=lambda: dt.datetime.now(dt.UTC))
    started_monotonic: float = dataclasses.field(default_factory=time.monotonic)
    judgements: list[verdict_mod.Check] = dataclasses.field(default_factory=list)
    outcomes: list[verdict_mod.Outcome] = dataclasses.field(default_factory=list)
    backend: base.Backend | None = None
    snapshot: Snapshot | None = None
    doc: dict[str, Any] | None = None
    plot_error: str | None = None
    plot_s: float | None = None
    plot_worker: Any = None  # slolab.report.plotworker.PlotWorker, started at configure


GRADE_RUN = pytest.StashKey[GradeRun]()


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
    run = config.stash[GRADE_RUN] = GradeRun(lab=lab, options=options.resolve(lab))
    if run.options.plot and _runs_tests(config):
        from slolab.report import plotworker

        try:  # matplotlib imports on the other core while the grade runs
            run.plot_worker = plotworker.take()
        except OSError as exc:
            log.debug("plot worker not started (%s); drawing in-process", exc)


def pytest_unconfigure(config: pytest.Config) -> None:
    run = _run(config)
    if run is not None and run.plot_worker is not None:
        run.plot_worker.close()


def _run(config: pytest.Config) -> GradeRun | None:
    return config.stash.get(GRADE_RUN, None)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    run = _run(config)
    if run is None:
        return None
    o = run.options
    return [
        f"slolab: lab {run.lab.name} ({run.lab.title}), backend {o.backend}, seed {o.seed}",
        f"slolab workspace: {o.workspace}",
    ]


def covered_checks(item: pytest.Item, slos: dict[str, Any]) -> tuple[str, ...]:
    """The checks a test judges: its ``slo`` markers, else ``test_<check_id>``, else none."""
    named = [c for mark in item.iter_markers("slo") for c in mark.args]
    if named:
        return tuple(dict.fromkeys(named))
    original = getattr(item, "originalname", item.name).removeprefix("test_")
    return (original,) if original in slos else ()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = _run(config)
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


# ---- fixtures -------------------------------------------------------------------------------


def _require(request: pytest.FixtureRequest) -> GradeRun:
    __tracebackhide__ = True
    run = _run(request.config)
    if run is None:
        pytest.fail(
            f"the {request.fixturename!r} fixture needs a lab: run `slolab grade NAME`, "
            "or pytest with --slolab-lab NAME.",
            pytrace=False,
        )
    return run


def _terminal_line(config: pytest.Config) -> Callable[[str], None]:
    """Write a line to the terminal now, past pytest's output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")

    def say(text: str) -> None:
        if reporter is None:
            return
        if capman is None:
            reporter.write_line(text)
            return
        with capman.global_and_fixture_disabled():
            reporter.write_line(text)

    return say


def _open_backend(lab: lab_mod.Lab, options: options_mod.GradeOptions) -> base.Backend:
    return options.open_backend(lab)


@pytest.fixture(scope="session")
def slolab_backend_factory() -> BackendFactory:
    """Opens the backend, ``(lab, options) -> Backend``; override it to grade on a fake."""
    return _open_backend


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, slolab_backend_factory: BackendFactory) -> Iterator[base.Backend]:
    """The lab running on the chosen backend (``base.Backend``): cluster, load, clock, events, series."""
    run = _require(request)
    backend = slolab_backend_factory(run.lab, run.options)
    run.backend = backend
    progress = getattr(backend, "progress", None)
    if progress is not None:  # a real-time backend: tell the terminal how a long grade is going
        progress.say = _terminal_line(request.config)
    try:
        yield backend
    finally:
        run.snapshot = Snapshot(
            run_s=backend.clock.now_s(),
            events=list(backend.events),
            series=backend.series(),
            logs=backend.logs(),
        )
        backend.close()


@pytest.fixture(scope="session")
def cluster(lab: base.Backend) -> base.Cluster:
    """Kubernetes objects as API-shaped dicts: get, list (by kind and labels), rollout_restart, wait_for."""
    return lab.cluster


@pytest.fixture(scope="session")
def load(lab: base.Backend) -> base.Load:
    """The traffic driver: ``load.run(profile, duration_s)`` or start/stop; returns a RequestLog."""
    return lab.load


@pytest.fixture(scope="session")
def clock(lab: base.Backend) -> base.Clock:
    """Run time: ``clock.now_s()`` and ``clock.sleep(s)`` (virtual on sim, real on a cluster)."""
    return lab.clock


@pytest.fixture
def events(lab: base.Backend) -> list[base.Event]:
    """The timeline so far (``lab.events``): base.Event in time order."""
    return list(lab.events)


@pytest.fixture(scope="session")
def slo(request: pytest.FixtureRequest) -> dict[str, lab_mod.Slo]:
    """lab.yaml's SLOs by check id: title, objective, target, unit, window, hint."""
    return _require(request).lab.slos


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> verdict_mod.Verdict:
    """Judge a check: ``verdict(id, observed, *, window, evidence)``; ``.inconclusive``, ``.require_load``."""
    run = _require(request)
    item = request.node

    def record(check: verdict_mod.Check) -> None:
        run.judgements.append(check)
        item.user_properties.append(verdict_mod.to_property(check))

    return verdict_mod.Verdict(
        run.lab.slos, test=item.nodeid, covers=covered_checks(item, run.lab.slos), record=record
    )


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
    run = _run(item.config)
    if run is None or call.excinfo is None:
        return report
    exc = call.excinfo.value
    checks = covered_checks(item, run.lab.slos)
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
    run = _run(collector.config)
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    run = _run(session.config)
    if run is None or not _runs_tests(session.config):
        return
    from slolab.report import jsonreport

    if run.snapshot is None and run.backend is not None:  # teardown never ran (interrupted)
        b = run.backend
        run.snapshot = Snapshot(b.clock.now_s(), list(b.events), b.series(), b.logs())
    snap = run.snapshot or Snapshot(run_s=0.0, events=[], series={}, logs=[])
    checks = [c.as_dict() for c in verdict_mod.tally(run.lab.slos, run.judgements, run.outcomes)]
    report_dir = run.options.report_path("")
    report_dir.mkdir(parents=True, exist_ok=True)
    json_path = jsonreport.next_path(report_dir, run.started_at)
    xmlpath = session.config.getoption("xmlpath", None)
    files: dict[str, str | None] = {
        "json": str(json_path),
        "junit": str(Path(xmlpath).resolve()) if xmlpath else None,
        "timeline": None,
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

    if run.options.plot and run.snapshot is not None:
        from slolab.report import timeline

        png = run.options.report_path("timeline.png")
        t0 = time.perf_counter()
        try:
            data = timeline.prepare(
                build(), series=snap.series, logs=snap.logs, slo_lines_ms=slo_lines_ms(run.lab)
            )
            if run.plot_worker is not None:
                run.plot_worker.draw(png, data)
            else:
                timeline.draw(png, data)
            files["timeline"] = str(png)
        except Exception as exc:  # the grade must survive a plotting problem; its cause is shown
            run.plot_error = f"{type(exc).__name__}: {exc}"
        run.plot_s = time.perf_counter() - t0
        log.debug("timeline drawn in %.2f s (matplotlib import included)", run.plot_s)
    run.doc = build()
    jsonreport.write(run.doc, json_path)
    if run.options.summary_file is not None:
        jsonreport.write_summary(run.doc, run.options.summary_file)
    if not run.doc["passed"] and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = _run(config)
    if run is None or run.doc is None:
        return
    from slolab.report import table

    tw = config.get_terminal_writer()
    terminalreporter.write_line("")
    terminalreporter.write(table.render(run.doc, width=tw.fullwidth, color=tw.hasmarkup))
    if run.plot_error:
        terminalreporter.write_line(f"Timeline not drawn: {run.plot_error}")
