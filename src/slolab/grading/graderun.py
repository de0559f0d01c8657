"""One grade run as the plugin keeps it on pytest's config: the options, the backend, what the
tests judged and raised, and the snapshot the report is drawn from.

The plugin's hooks create it (``pytest_configure``) and write the report from it
(``pytest_sessionfinish``); the fixtures (``slolab.grading.fixtures``) read it with ``require``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest

from slolab.backends import base
from slolab.catalog import lab as lab_mod
from slolab.grading import options as options_mod
from slolab.grading import verdict as verdict_mod
from slolab.load import requestlog


@dataclasses.dataclass
class Snapshot:
    """What the report needs from the backend, taken before it is closed: the timeline's PromQL
    series (``promseries.fetch``, only when a plot is wanted) and the Prom that can export the
    run's samples (``runmetrics.Exporter``; exported once the verdict is in)."""

    run_s: float
    events: list[base.Event]
    series: dict[str, list[tuple[float, float]]]
    logs: list[requestlog.RequestLog]
    prom_series: dict[str, Any] | None = None
    prom: base.Prom | None = None

    @classmethod
    def of(cls, backend: base.Backend, *, plot: bool = False) -> Snapshot:
        from slolab.report import promseries

        run_s = backend.clock.now_s()
        target = backend.lab.grading.target.deployment
        kind = promseries.target_kind(backend.cluster, target) if plot else promseries.DEPLOYMENT
        wanted = promseries.queries(backend.cluster.namespace, target, kind)
        prom_series = promseries.fetch(backend.prom, wanted, max(run_s, 1.0)) if plot else None
        if prom_series is not None and kind == promseries.ROLLOUT:
            from slolab.report import canaryweight

            prom_series["images"] = canaryweight.images(backend.cluster, target)
        return cls(
            run_s,
            list(backend.events),
            backend.series(),
            backend.logs(),
            prom_series=prom_series,
            prom=backend.prom,
        )


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
    metrics_file: Any = None  # Path of the run's metrics.tsdb once saved (sim), else None
    metrics_error: str | None = None


KEY = pytest.StashKey[GradeRun]()


def of(config: pytest.Config) -> GradeRun | None:
    """The grade run of this pytest session; None when the plugin is inert (no --slolab-lab)."""
    return config.stash.get(KEY, None)


def require(request: pytest.FixtureRequest) -> GradeRun:
    """The grade run, or a one-line failure saying how to give the fixture a lab."""
    __tracebackhide__ = True
    run = of(request.config)
    if run is None:
        pytest.fail(
            f"the {request.fixturename!r} fixture needs a lab: run `slolab grade NAME`, "
            "or pytest with --slolab-lab NAME.",
            pytrace=False,
        )
    return run


def covered_checks(item: pytest.Item, slos: dict[str, Any]) -> tuple[str, ...]:
    """The checks a test judges: its ``slo`` markers, else ``test_<check_id>``, else none."""
    named = [c for mark in item.iter_markers("slo") for c in mark.args]
    if named:
        return tuple(dict.fromkeys(named))
    original = getattr(item, "originalname", item.name).removeprefix("test_")
    return (original,) if original in slos else ()


def terminal_line(config: pytest.Config) -> Callable[[str], None]:
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
