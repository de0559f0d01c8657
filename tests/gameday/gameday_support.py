"""Shared by the game-day tests: a plan on a lab's reference solution, run on sim."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from slolab.backends import sim
from slolab.catalog import lab as lab_mod
from slolab.gameday import plan, record, run, simchaos
from slolab.sim import registry
from slolab.workspace import variants

LAB = "readiness-probes"


def chaos_mesh_modelled() -> bool:
    return ("chaos-mesh.org/v1alpha1", "Schedule") in registry.applyable()


def solution_plan(
    tmp: Path,
    *,
    duration_s: float = 600.0,
    seed: int = 1,
    team: str = "a",
    actions=None,
    stop_burn_pct: float | None = None,
    lab_name: str = LAB,
    files: str = "solution",
) -> plan.Plan:
    """A plan on ``lab_name``'s reference solution (or its ``fault`` files). No stop condition
    unless asked: the reference fix of readiness-probes burns its budget when its one GPU node is
    drained or lost, and most tests look at what every injection did."""
    lab = lab_mod.load(lab_name)
    ws = tmp / files / lab_name
    if not ws.is_dir():
        variants.write(getattr(variants, f"{files}_files")(lab), ws)
    p = plan.make(
        lab_name, team=team, duration_s=duration_s, seed=seed, workspace=ws, stop_burn_pct=stop_burn_pct
    )
    if actions is not None:
        p = dataclasses.replace(p, steps=tuple(s for s in p.steps if s.action in actions))
    return p


def run_record(p: plan.Plan) -> dict:
    return record.to_dict(run.run(p, sim.SimBackend, simchaos.SimChaos))
