"""A game day's stop condition: halt the chaos once too much of the error budget is burned.

Game-day practice makes stop conditions first class (research/round2-autoscaling-canary-gameday.md
§3.1, §3.3):

- AWS FIS stop conditions are CloudWatch alarms; when one goes into ALARM while the experiment
  runs, FIS stops the experiment, rolls back what its actions did where it can, and ends the
  experiment ``stopped``. An alarm is evaluated once per *period*: here
  :data:`EVALUATION_PERIOD_S` of run time.
- Chaos Mesh Workflows abort on a failed status check (``abortWithStatusCheck``): the remaining
  nodes of the workflow do not run and the chaos it created is deleted (Chaos Mesh recovers what
  a deleted chaos object injected).
- The Chaos Toolkit / Reliably ``safeguard`` control aborts the experiment when the error budget
  is consumed.

Here the condition is "the share of the game day's error budget burned so far ≥ the plan's
``stop_burn_pct``" (default 100: the budget is exhausted; ``off``: no condition). The budget is
the plan's (``plan.Plan.budget_failures``: (1 − availability SLO) × the requests the profile is
expected to send over the whole run), the one the score burns (``slolab.gameday.score``), and
the failures are the requests that arrived since T0 (within the run) and finished failed by now,
counted as the score counts them. So a run the condition stopped scores at least the threshold,
and a run that ends just under it was not stopped.

:class:`Watch` is the alarm: the runner sleeps through it between steps, and it evaluates the
condition at every multiple of :data:`EVALUATION_PERIOD_S` after T0 on the way. Once it trips the
runner rolls the chaos back at once (``slolab.gameday.run`` on sim, the operator's game-day mode
switched off on kind/cluster), runs none of the plan's remaining injections, and keeps the load
running to the planned end so the report shows the recovery.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from slolab.backends import base
from slolab.gameday import plan as plan_mod
from slolab.gameday import score
from slolab.run import request as request_mod

#: How often the stop condition is evaluated, in seconds of run time: a CloudWatch alarm's
#: evaluation period (AWS FIS evaluates its stop-condition alarms as CloudWatch does, once per
#: period; 15 s is a high-resolution alarm's shortest useful period above 10 s).
EVALUATION_PERIOD_S = 15.0
#: The run-log line of a trip: action and target.
ACTION = "stop"
TARGET = "StopCondition"


def condition_text(threshold_pct: float) -> str:
    """The condition in words: "error budget burned ≥ 100 %"."""
    return f"error budget burned ≥ {threshold_pct:g} %"


@dataclasses.dataclass(frozen=True)
class Trip:
    """The stop condition went off ``at_s`` seconds after T0 with ``burned_pct`` burned."""

    at_s: float
    burned_pct: float
    threshold_pct: float

    @property
    def reason(self) -> str:
        """Why the chaos stopped: "error budget burned 104 % ≥ 100 %"."""
        return f"error budget burned {self.burned_pct:.0f} % ≥ {self.threshold_pct:g} %"

    @property
    def detail(self) -> str:
        """The run log's line for the trip."""
        return f"{self.reason}: chaos halted, actions rolled back"


@dataclasses.dataclass(frozen=True)
class StopCondition:
    """Burned ≥ ``threshold_pct`` % of ``budget_failures`` failed requests, judged as the score
    judges requests: those that arrived in ``[0, duration_s)`` after T0."""

    threshold_pct: float
    budget_failures: float
    duration_s: float

    @classmethod
    def of(cls, plan: plan_mod.Plan) -> StopCondition | None:
        """The plan's condition; None when it has none (``STOP_BURN=off``)."""
        if plan.stop_burn_pct is None:
            return None
        return cls(plan.stop_burn_pct, plan.budget_failures, plan.duration_s)

    def failed(self, finished: Iterable[request_mod.Request], t0: float) -> int:
        """Failed requests among ``finished`` that count (arrived in the run)."""
        end = t0 + self.duration_s
        return sum(1 for r in finished if r.done and not r.ok and t0 <= r.arrival_s < end)

    def burned_pct(self, failed: int) -> float:
        return score.burned_pct(failed, self.budget_failures)

    def check(self, at_s: float, finished: Iterable[request_mod.Request], t0: float) -> Trip | None:
        """A :class:`Trip` when the requests finished by ``at_s`` burned the threshold, else None."""
        burned = self.burned_pct(self.failed(finished, t0))
        return Trip(at_s, burned, self.threshold_pct) if burned >= self.threshold_pct else None


class Watch:
    """The alarm over a running game day: :meth:`wait_until` sleeps on ``clock`` and evaluates
    ``condition`` on ``finished()`` (the requests finished so far, backend clock) at every
    multiple of :data:`EVALUATION_PERIOD_S` after ``t0``. Without a condition it only sleeps."""

    def __init__(
        self,
        condition: StopCondition | None,
        clock: base.Clock,
        t0: float,
        finished: Callable[[], Iterable[request_mod.Request]],
    ) -> None:
        self.condition = condition
        self.clock = clock
        self.t0 = t0
        self.finished = finished
        self.trip: Trip | None = None
        self._checked_s = 0.0  # the last evaluation, seconds after t0

    def wait_until(self, at_s: float) -> Trip | None:
        """Sleep until ``at_s`` seconds after T0; the trip, when the condition went off on the way
        (at ``at_s`` included), else None. After a trip it only sleeps (and returns None)."""
        while True:
            condition = None if self.trip is not None else self.condition
            due_s = self._checked_s + EVALUATION_PERIOD_S
            until_s = at_s if condition is None else min(due_s, at_s)
            self.clock.sleep(max(0.0, self.t0 + until_s - self.clock.now_s()))
            if condition is not None and until_s >= due_s:
                self._checked_s = due_s
                self.trip = condition.check(due_s, self.finished(), self.t0)
                if self.trip is not None:
                    return self.trip
            if until_s >= at_s:
                return None
