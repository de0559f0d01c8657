"""``slolab gameday``: run a plan on its backend, keep the record and write the HTML report.

On sim the whole game day runs here in virtual time (seconds, ``slolab.gameday.run``). On kind
and cluster it runs in real time: the load here, the chaos by the operator's game-day mode
(``slolab.gameday.kuberun``).
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


def run(plan: plan_mod.Plan, context: str | None = None, say: Any = print) -> run_mod.Result:
    """The game day of ``plan`` on its backend (kind/cluster through ``context``)."""
    if plan.backend in ("kind", "cluster"):
        from slolab.gameday import kuberun

        live = dataclasses.replace(plan, manifests_from=f"namespace lab-{plan.name}")
        return kuberun.run(live, context, say)
    if plan.backend != "sim":
        raise errors.BackendError(f"unknown backend {plan.backend!r}", "Use BACKEND=sim, kind or cluster.")
    from slolab.backends import sim

    return run_mod.run(plan, sim.SimBackend, simchaos.SimChaos)


def play(plan: plan_mod.Plan, context: str | None = None, say: Any = print) -> Played:
    """Run ``plan``, write its record and its HTML report (next to the record)."""
    result = run(plan, context, say)
    path = record.write(result)
    data = record.read(path)
    report = htmlreport.write(data, path.with_suffix(".html"))
    return Played(data, path, report)
