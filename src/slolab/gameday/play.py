"""``slolab gameday``: run a plan on its backend, keep the record and write the HTML report.

On sim the whole game day runs here in virtual time (seconds). On kind and cluster a game day
runs in real time in the operator's game-day mode (``spec.gameDay`` of the Lab: the operator
creates the Chaos Mesh Schedule and drives drain and node loss from its timers), which this
command does not drive yet: it says so and what to run instead.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from slolab import errors
from slolab.gameday import htmlreport, record, simchaos
from slolab.gameday import plan as plan_mod
from slolab.gameday import run as run_mod


@dataclasses.dataclass(frozen=True)
class Played:
    data: dict[str, Any]
    record: Path
    report: Path


def run(plan: plan_mod.Plan) -> run_mod.Result:
    """The game day of ``plan`` on its backend."""
    if plan.backend != "sim":
        raise errors.BackendError(
            f"`slolab gameday` runs game days on sim only; on {plan.backend} the operator runs them "
            "(Lab spec.gameDay: true)",
            f"Run `make gameday NAME={plan.name} BACKEND=sim`, or on kind create the Lab with gameDay "
            "(`kubectl explain lab.spec.gameDay`) and grade it.",
        )
    from slolab.backends import sim

    return run_mod.run(plan, sim.SimBackend, simchaos.SimChaos)


def play(plan: plan_mod.Plan) -> Played:
    """Run ``plan``, write its record and its HTML report (next to the record)."""
    result = run(plan)
    path = record.write(result)
    data = record.read(path)
    report = htmlreport.write(data, path.with_suffix(".html"))
    return Played(data, path, report)
