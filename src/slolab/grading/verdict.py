"""Verdicts: judge one SLO check of lab.yaml, record it on the test item, fail with the evidence.

The vocabulary is Argo Rollouts analysis: a check's ``successCondition`` is the SLO's objective
(``observed <= target`` or ``>=``); a measurement with no data, or taken without proof that the
load ran, is **Inconclusive**, and Inconclusive is never a pass. Each judgement is appended to
the test item's ``user_properties`` as ``("slolab_check", <JSON>)`` so JUnit XML carries it, and
handed to the plugin, which turns every check of lab.yaml into exactly one row of the report:

    passed | failed | inconclusive   judged by ``verdict(...)``
    error                            the test raised before judging it (grader or fixture error)
    not run                          nothing judged it
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import pytest

from slolab.catalog import lab as lab_mod
from slolab.load import requestlog

PASSED = "passed"
FAILED = "failed"
INCONCLUSIVE = "inconclusive"
ERROR = "error"
NOT_RUN = "not run"

#: ``user_properties`` key of a judgement (a JSON string).
PROPERTY = "slolab_check"
#: fewest requests in the window before a latency SLO is judged.
MIN_REQUESTS = 50
NO_DATA = "no data — no data is never a pass"
NO_LOAD = "no latency SLO is judged without proof that the load ran"

# A judged check that is seen more than once keeps its worst judgement.
_SEVERITY = {PASSED: 0, INCONCLUSIVE: 1, FAILED: 2}


class Judged(pytest.fail.Exception):
    """A check was judged failed or Inconclusive: the test fails with the one-line summary.

    ``recorded`` is False only when ``require_load`` found no check to record against; the
    plugin then reports ``status`` for every check that nothing else judged.
    """

    def __init__(self, msg: str, *, status: str, recorded: bool = True) -> None:
        super().__init__(msg, pytrace=False)
        self.status = status
        self.recorded = recorded


@dataclasses.dataclass
class Check:
    """One row of the grade: a check of lab.yaml and how it came out."""

    id: str
    title: str
    status: str
    observed: float | None = None
    observed_text: str = "—"
    expected: str = ""
    window: str = ""
    window_start_s: float | None = None
    window_end_s: float | None = None
    evidence: list[str] = dataclasses.field(default_factory=list)
    hint: str | None = None
    test: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        """``id: observed 37 requests, expected ≤ 0 requests over rolling update [150 s, 420 s)``."""
        return f"{self.id}: observed {self.observed_text}, expected {self.expected} over {self.window}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A test that ended without judging (some of) its checks: an exception, or a skip."""

    test: str
    checks: tuple[str, ...]  # empty: the test names no check, so it concerns every unjudged one
    status: str  # error | inconclusive | not run (skipped)
    evidence: tuple[str, ...]


def format_number(value: float) -> str:
    """37 → ``37``; 812.34 → ``812``; 1.2345 → ``1.23``; 0.00512 → ``0.00512``."""
    if float(value).is_integer():
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def observed_text(observed: float | None, unit: str) -> str:
    if observed is None:
        return "no data"
    return format_number(observed) + (f" {unit}" if unit else "")


def _lines(evidence: str | Iterable[str]) -> list[str]:
    if isinstance(evidence, str):
        evidence = evidence.splitlines()
    return [line.rstrip() for line in evidence if line.strip()]


def _window_fields(window: requestlog.Window | str) -> tuple[str, float | None, float | None]:
    if isinstance(window, requestlog.Window):
        return str(window), window.start_s, window.end_s
    return str(window), None, None


def _number(observed: Any) -> float | None:
    """A finite float, or None for no data (None, NaN)."""
    if observed is None:
        return None
    try:
        if isinstance(observed, bool | str):
            raise TypeError
        value = float(observed)
    except (TypeError, ValueError):
        raise TypeError(
            f"observed must be a number or None, got {type(observed).__name__} {observed!r}"
        ) from None
    return None if math.isnan(value) else value


class Verdict:
    """The ``verdict`` fixture: ``verdict(check_id, observed, *, window, evidence="")``.

    ``slos`` is lab.yaml's checks, ``test`` the node id, ``covers`` the checks the test names
    (``@pytest.mark.slo(...)`` or ``test_<check_id>``), ``record`` receives each judgement.
    """

    def __init__(
        self,
        slos: dict[str, lab_mod.Slo],
        *,
        test: str,
        covers: Sequence[str],
        record: Callable[[Check], None],
    ) -> None:
        self._slos = slos
        self._test = test
        self._covers = tuple(covers)
        self._record = record

    def _slo(self, check_id: str) -> lab_mod.Slo:
        __tracebackhide__ = True
        try:
            return self._slos[check_id]
        except KeyError:
            known = ", ".join(sorted(self._slos)) or "(none)"
            pytest.fail(
                f"unknown check {check_id!r}: lab.yaml's slos are {known}. "
                "Use one of those ids, or add the check to lab.yaml.",
                pytrace=False,
            )

    def _check(
        self,
        check_id: str,
        status: str,
        observed: float | None,
        window: requestlog.Window | str,
        evidence: list[str],
    ) -> Check:
        slo = self._slo(check_id)
        text, start_s, end_s = _window_fields(window)
        check = Check(
            id=check_id,
            title=slo.title,
            status=status,
            observed=observed,
            observed_text=observed_text(observed, slo.unit),
            expected=slo.expected(),
            window=text,
            window_start_s=start_s,
            window_end_s=end_s,
            evidence=evidence,
            hint=None if status == PASSED else " ".join(slo.hint.split()),
            test=self._test,
        )
        self._record(check)
        return check

    def __call__(
        self,
        check_id: str,
        observed: float | None,
        *,
        window: requestlog.Window | str,
        evidence: str | Iterable[str] = "",
    ) -> Check:
        """Judge ``observed`` against the SLO ``check_id``: pass, fail, or Inconclusive (no data)."""
        __tracebackhide__ = True
        slo = self._slo(check_id)
        value = _number(observed)
        lines = _lines(evidence)
        if value is None:
            self.inconclusive(check_id, NO_DATA, window=window, evidence=lines)
        if slo.met(value):
            return self._check(check_id, PASSED, value, window, lines)
        check = self._check(check_id, FAILED, value, window, lines)
        raise Judged("\n".join([check.summary(), *("  " + line for line in lines)]), status=FAILED)

    def inconclusive(
        self,
        check_id: str,
        reason: str,
        *,
        window: requestlog.Window | str,
        evidence: str | Iterable[str] = "",
    ) -> NoReturn:
        """Record ``check_id`` as Inconclusive (never a pass) because of ``reason``, and fail the test."""
        __tracebackhide__ = True
        lines = [reason, *_lines(evidence)]
        check = self._check(check_id, INCONCLUSIVE, None, window, lines)
        raise Judged(
            "\n".join(
                [
                    f"{check_id}: Inconclusive over {check.window}: {reason}",
                    *("  " + line for line in lines[1:]),
                ]
            ),
            status=INCONCLUSIVE,
        )

    def require_load(
        self,
        log: requestlog.RequestLog,
        *,
        window: requestlog.Window,
        min_requests: int = MIN_REQUESTS,
        min_rate_fraction: float = 0.9,
        checks: str | Sequence[str] | None = None,
        expected: float | None = None,
    ) -> requestlog.RequestLog:
        """The requests of ``log`` inside ``window``, or Inconclusive unless they prove the load ran.

        The load ran when at least ``min_requests`` arrived in the window and the achieved rate
        was at least ``min_rate_fraction`` of ``log.rate_rps`` (when the log knows its rate).
        For a profile whose rate changes (a rate curve) pass ``expected``, the mean number of
        arrivals in the window (``ratecurve.expected_requests``): then at least
        ``min_rate_fraction`` of that many must have arrived, and the base rate is not compared.
        Inconclusive is recorded against ``checks``, by default the checks this test names.
        """
        __tracebackhide__ = True
        part = log.window(window)
        n = len(part)
        achieved = part.achieved_rate_rps()
        problems = []
        if n < min_requests:
            problems.append(f"only {n} requests arrived in the window; at least {min_requests} are needed")
        if expected is not None:
            if n < min_rate_fraction * expected:
                problems.append(
                    f"{n} requests arrived, {n / expected if expected else 0:.0%} of the {expected:.0f} the "
                    f"profile's rate curve sends in the window; at least {min_rate_fraction:.0%} is needed"
                )
        elif log.rate_rps and achieved < min_rate_fraction * log.rate_rps:
            problems.append(
                f"the load achieved {achieved:.2f} req/s, {achieved / log.rate_rps:.0%} of the "
                f"{log.rate_rps:g} req/s asked; at least {min_rate_fraction:.0%} is needed"
            )
        if not problems:
            return part
        asked = f" of {log.rate_rps:g} req/s asked" if log.rate_rps else ""
        if expected is not None:
            asked = f"; the rate curve sends {expected:.0f} on average"
        evidence = [
            f"{problems[0]} — {NO_LOAD}",
            *problems[1:],
            f"load {log.profile or '(unnamed)'}: {n} requests ({len(part.ok())} ok, "
            f"{len(part.failed())} failed), {achieved:.2f} req/s{asked}",
        ]
        ids = [checks] if isinstance(checks, str) else list(checks or self._covers)
        for check_id in ids:
            self._check(check_id, INCONCLUSIVE, None, window, evidence)
        target = ", ".join(ids) or "load"
        raise Judged(
            "\n".join(
                [
                    f"{target}: Inconclusive over {window}: {evidence[0]}",
                    *("  " + line for line in evidence[1:]),
                ]
            ),
            status=INCONCLUSIVE,
            recorded=bool(ids),
        )


def to_property(check: Check) -> tuple[str, str]:
    """The ``user_properties`` entry of a judgement."""
    return PROPERTY, json.dumps(check.as_dict(), ensure_ascii=False)


def tally(
    slos: dict[str, lab_mod.Slo], judgements: Iterable[Check], outcomes: Iterable[Outcome]
) -> list[Check]:
    """Every check of lab.yaml exactly once, in lab.yaml's order.

    Judged: its worst judgement. Otherwise the first outcome of a test that names it (error,
    Inconclusive from ``require_load``, or a skip), else the first error of a test that names no
    check (it concerns every check it kept from being judged), else such a skip, else ``not run``.
    """
    judged: dict[str, Check] = {}
    for check in judgements:
        seen = judged.get(check.id)
        if seen is None or _SEVERITY[check.status] > _SEVERITY[seen.status]:
            judged[check.id] = check
    outcomes = list(outcomes)
    general = [o for o in outcomes if not o.checks]
    general_outcome = next((o for o in general if o.status != NOT_RUN), general[0] if general else None)
    rows = []
    for check_id, slo in slos.items():
        if check_id in judged:
            rows.append(judged[check_id])
            continue
        outcome = next((o for o in outcomes if check_id in o.checks), general_outcome)
        status = outcome.status if outcome else NOT_RUN
        evidence = list(outcome.evidence) if outcome else ["no grader test judged this check"]
        rows.append(
            Check(
                id=check_id,
                title=slo.title,
                status=status,
                observed=None,
                observed_text="no data" if status == INCONCLUSIVE else "—",
                expected=slo.expected(),
                window=slo.window,
                evidence=evidence,
                hint=" ".join(slo.hint.split()),
                test=outcome.test if outcome else None,
            )
        )
    return rows
