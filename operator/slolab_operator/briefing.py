"""The briefing a Lab's status carries: the same task and SLOs ``make lab`` shows, as plain text."""

from __future__ import annotations

import datetime

from slolab.report import briefing as report_briefing
from slolab_operator import conditions, spec


def text(run: spec.LabRun, deadline: datetime.datetime) -> str:
    """Task, SLO table and the commands that act on the Lab, for ``kubectl get lab -o yaml``."""
    lab = run.lab
    lines = [
        lab.title,
        "",
        lab.summary.strip(),
        "",
        "Your task:",
        report_briefing.task_text(lab),
        "",
        "SLOs:",
    ]
    for slo in lab.slos.values():
        lines.append(f"- {slo.title}: {slo.expected()} ({slo.window})")
    lines += [
        "",
        f"Time limit {run.time_limit_minutes} min, until {conditions.timestamp(deadline)}. "
        f"Your namespace: {run.namespace}.",
        f"Grade:      {spec.patch_hint(run.name, 'gradeRequest', run.grade_request + 1)}",
        f"Start over: {spec.patch_hint(run.name, 'resetGeneration', run.reset_generation + 1)}",
        f"Hints:      slolab hint {lab.name}",
    ]
    return "\n".join(lines)
