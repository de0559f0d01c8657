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
    tmp: Path, *, duration_s: float = 600.0, seed: int = 1, team: str = "a", actions=None
) -> plan.Plan:
    lab = lab_mod.load(LAB)
    ws = tmp / LAB
    if not ws.is_dir():
        variants.write(variants.solution_files(lab), ws)
    p = plan.make(LAB, team=team, duration_s=duration_s, seed=seed, workspace=ws)
    if actions is not None:
        p = dataclasses.replace(p, steps=tuple(s for s in p.steps if s.action in actions))
    return p


def run_record(p: plan.Plan) -> dict:
    return record.to_dict(run.run(p, sim.SimBackend, simchaos.SimChaos))
