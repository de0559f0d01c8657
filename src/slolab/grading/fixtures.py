"""The grader kit: the fixtures every lab's grader is written with (``pytest --fixtures`` lists
them, each with its one-line docstring).

The plugin registers this module (``pytest_plugins``); the fixtures need a lab (``slolab grade
NAME`` or ``pytest --slolab-lab NAME``) and fail in one line without one. The backend is opened
once per session, so everything that depends on it is session-scoped::

    lab, cluster, load, clock, events, prom   the lab on its backend, and its parts
    slo, target, params                       what lab.yaml says: SLOs, grading.target, grading.params
    verdict                                   judge one check
    wait_serving(timeout_s)                   wait until the target serves (serving.py)
    load_window(profile, duration_s)          run a profile; its log and window (loadwindow.py)
    load_session(profile)                     a profile running through phases (loadwindow.py)
    prom_query(expr, at_s) / prom_query_range(expr, start_s, end_s, step_s) / prom_scalar(expr, at_s)

Times are run seconds (``clock.now_s()``) on every backend.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from slolab import errors
from slolab.backends import base
from slolab.catalog import graderparams
from slolab.catalog import lab as lab_mod
from slolab.grading import graderun, loadwindow, serving
from slolab.grading import options as options_mod
from slolab.grading import verdict as verdict_mod

#: Opens the backend a grade runs on: ``(lab, options) -> Backend``.
BackendFactory = Callable[[lab_mod.Lab, options_mod.GradeOptions], base.Backend]


def _open_backend(lab: lab_mod.Lab, options: options_mod.GradeOptions) -> base.Backend:
    return options.open_backend(lab)


# ---- the lab and its parts ------------------------------------------------------------------


@pytest.fixture(scope="session")
def slolab_backend_factory() -> BackendFactory:
    """Opens the backend, ``(lab, options) -> Backend``; override it to grade on a fake."""
    return _open_backend


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, slolab_backend_factory: BackendFactory) -> Iterator[base.Backend]:
    """The lab running on the chosen backend (``base.Backend``): cluster, load, clock, events, prom."""
    run = graderun.require(request)
    backend = slolab_backend_factory(run.lab, run.options)
    run.backend = backend
    progress = getattr(backend, "progress", None)
    if progress is not None:  # a real-time backend: tell the terminal how a long grade is going
        progress.say = graderun.terminal_line(request.config)
    try:
        yield backend
    finally:
        run.snapshot = graderun.Snapshot.of(backend, plot=run.options.plot)
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
def prom(lab: base.Backend) -> base.Prom:
    """PromQL over the run's metrics (``lab.prom``): query / query_range, prometheus-api-client shapes."""
    return lab.prom


# ---- what lab.yaml says ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def slo(request: pytest.FixtureRequest) -> dict[str, lab_mod.Slo]:
    """lab.yaml's SLOs by check id: title, objective, target, unit, window, hint."""
    return graderun.require(request).lab.slos


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> lab_mod.Target:
    """lab.yaml's ``grading.target``: the ``deployment`` and ``service`` the grader judges."""
    return graderun.require(request).lab.grading.target


@pytest.fixture(scope="session")
def params(request: pytest.FixtureRequest) -> graderparams.Params:
    """lab.yaml's ``grading.params``, validated by the lab's grader/params.py ``Params`` model."""
    return graderun.require(request).lab.grading.params


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> verdict_mod.Verdict:
    """Judge a check: ``verdict(id, observed, *, window, evidence)``; ``.inconclusive``, ``.require_load``."""
    run = graderun.require(request)
    item = request.node

    def record(check: verdict_mod.Check) -> None:
        run.judgements.append(check)
        item.user_properties.append(verdict_mod.to_property(check))

    return verdict_mod.Verdict(
        run.lab.slos, test=item.nodeid, covers=graderun.covered_checks(item, run.lab.slos), record=record
    )


# ---- factories ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def wait_serving(lab: base.Backend, target: lab_mod.Target) -> Callable[..., serving.Serving]:
    """``wait_serving(timeout_s, poll_s=1)``: wait until the target's rollout is complete and it serves."""
    say = getattr(getattr(lab, "progress", None), "say", None)  # real-time backends only

    def wait(timeout_s: float, *, poll_s: float = 1.0) -> serving.Serving:
        __tracebackhide__ = True
        return serving.wait(lab, target, timeout_s, poll_s=poll_s, say=say)

    return wait


@pytest.fixture(scope="session")
def load_window(lab: base.Backend) -> Callable[..., loadwindow.LoadWindow]:
    """``load_window(profile, duration_s, name="load")``: run a profile; its request log and window."""

    def run(profile: str, duration_s: float, name: str = "load") -> loadwindow.LoadWindow:
        return loadwindow.run(lab, profile, duration_s, name)

    return run


@pytest.fixture(scope="session")
def load_session(lab: base.Backend) -> Callable[[str], loadwindow.Session]:
    """``with load_session(profile) as s:`` phases: ``s.hold(name, duration_s)``, ``with s.window(name):``."""

    def session(profile: str) -> loadwindow.Session:
        return loadwindow.Session(lab, profile)

    return session


@pytest.fixture(scope="session")
def prom_query(lab: base.Backend) -> Callable[..., list[dict[str, Any]]]:
    """``prom_query(expr, at_s=None)``: an instant PromQL query at run second ``at_s`` (default now)."""

    def query(expr: str, at_s: float | None = None) -> list[dict[str, Any]]:
        return lab.prom.query(expr, at_s)

    return query


@pytest.fixture(scope="session")
def prom_query_range(lab: base.Backend) -> Callable[..., list[dict[str, Any]]]:
    """``prom_query_range(expr, start_s, end_s, step_s=15)``: a range PromQL query over run seconds."""

    def query_range(expr: str, start_s: float, end_s: float, step_s: float = 15.0) -> list[dict[str, Any]]:
        return lab.prom.query_range(expr, start_s, end_s, step_s)

    return query_range


@pytest.fixture(scope="session")
def prom_scalar(lab: base.Backend) -> Callable[..., float | None]:
    """``prom_scalar(expr, at_s=None)``: the one series' value, None when no data or NaN (inconclusive)."""

    def scalar(expr: str, at_s: float | None = None) -> float | None:
        __tracebackhide__ = True
        result = lab.prom.query(expr, at_s)
        if len(result) > 1:
            labels = ", ".join(str(r.get("metric", {})) for r in result[:3])
            raise errors.BackendError(
                f"{expr!r} gave {len(result)} series where one was expected ({labels}, ...)",
                "Aggregate it (sum, max, ...) or select one series with labels.",
            )
        value = float(result[0]["value"][1]) if result else math.nan
        return None if math.isnan(value) else value

    return scalar
