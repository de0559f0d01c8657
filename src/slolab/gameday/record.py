"""A game day's record: the JSON a run leaves in ``reports/gameday/<lab>/<seed>/<team>.json``.

The scoreboard (``slolab.gameday.scoreboard``) reads these back: runs of several teams on the same
lab (so the same scenario, SLOs and chaos schedule) and seed are comparable. Everything in the
record but ``recorded_at`` follows from the plan, so two runs of one plan write the same record
(what the determinism test compares).

The stop condition's fields (``stop_burn_pct``, ``stopped_at_s``, ``stop_reason``,
``score.budget_failures``) came later within version 1: a record without them is a run that was
not stopped (read them with :func:`stopped_at_s` and ``dict.get``).
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from slolab import errors, paths
from slolab.gameday import run as run_mod
from slolab.gameday import score as score_mod

#: Bump when the record's shape changes; the scoreboard skips other versions, saying so.
VERSION = 1


def root() -> Path:
    """``$SLOLAB_GAMEDAY_DIR`` or ``<root>/reports/gameday``."""
    env = os.environ.get("SLOLAB_GAMEDAY_DIR")
    return Path(env).resolve() if env else paths.root() / "reports" / "gameday"


def folder(lab: str, seed: int) -> Path:
    return root() / lab / str(seed)


def _r(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def to_dict(result: run_mod.Result) -> dict[str, Any]:
    """The record of ``result`` (see the module docstring)."""
    plan, s = result.plan, result.score
    return {
        "version": VERSION,
        "lab": plan.name,
        "scenario": plan.scenario.name,
        "team": plan.team,
        "seed": plan.seed,
        "backend": plan.backend,
        "duration_s": plan.duration_s,
        "profile": plan.profile,
        "manifests_from": plan.manifests_from,
        "slo": {"availability_pct": plan.slo.availability_pct, "ttft_p99_s": plan.slo.ttft_p99_s},
        "hypothesis": {"text": plan.hypothesis, "held": s.hypothesis_held},
        "stop_burn_pct": plan.stop_burn_pct,
        "stopped_at_s": _r(result.stopped_at_s, 3),
        "stop_reason": result.stop_reason,
        "score": {
            "requests": s.requests,
            "failed": s.failed,
            "availability_pct": _r(s.availability_pct),
            "ttft_p99_s": _r(s.ttft_p99_s),
            "budget_burned_pct": _r(s.budget_burned_pct, 2),
            "budget_remaining_pct": _r(s.budget_remaining_pct, 2),
            "budget_failures": _r(s.budget_failures, 2),
            "band": s.band,
            "recovered_all": all(r.recovered_s is not None for r in s.recoveries),
            "recovery_total_s": _r(recovery_total_s(s, plan.duration_s), 1),
        },
        "injections": [
            {
                "at_s": r.injection.at_s,
                "action": r.injection.action,
                "detail": r.injection.detail,
                "recovered_s": _r(r.recovered_s, 1),
                "slo_held": r.slo_held,
                "peak_error_rate": _r(r.peak_error_rate),
                "peak_ttft_p99_s": _r(r.peak_ttft_p99_s),
            }
            for r in s.recoveries
        ],
        "log": [
            {"at_s": _r(line.at_s, 3), "action": line.action, "target": line.target, "detail": line.detail}
            for line in result.log
        ],
        "windows": [
            {
                "start_s": w.start_s,
                "requests": w.requests,
                "failed": w.failed,
                "ttft_p99_s": _r(w.ttft_p99_s),
                "within_slo": w.within_slo,
            }
            for w in s.windows
        ],
        "budget_left_pct": [[t, _r(v, 2)] for t, v in s.budget_left_at()],
        "series": {k: [[_r(t, 3), v] for t, v in pts] for k, pts in sorted(result.series.items())},
        "manifests": result.manifests,
    }


def stopped_at_s(data: dict[str, Any]) -> float | None:
    """When the stop condition halted the run's chaos (seconds after T0); None when it did not,
    or the record is older than stop conditions."""
    at = data.get("stopped_at_s")
    return None if at is None else float(at)


def recovery_total_s(s: score_mod.Score, duration_s: float) -> float:
    """Seconds spent recovering over all injections; one not recovered counts until the next one."""
    total = 0.0
    ordered = list(s.recoveries)
    for n, r in enumerate(ordered):
        if r.recovered_s is not None:
            total += r.recovered_s
        else:
            until = ordered[n + 1].injection.at_s if n + 1 < len(ordered) else duration_s
            total += until - r.injection.at_s
    return total


def write(result: run_mod.Result) -> Path:
    """Write the record (and stamp when); returns its path."""
    data = to_dict(result)
    data["recorded_at"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = folder(result.plan.name, result.plan.seed) / f"{result.plan.team}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out


def read(file: Path) -> dict[str, Any]:
    """A record, or InputError naming the file and what is wrong."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise errors.InputError(
            errors.Problem(paths.relative(file), f"not a game-day record: {exc}")
        ) from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise errors.InputError(
            errors.Problem(
                paths.relative(file),
                f"record version {data.get('version') if isinstance(data, dict) else '?'} is not {VERSION}",
                field="version",
            ),
            "Run the game day again with this slolab (`make gameday NAME=<lab> TEAM=<team>`).",
        )
    return data
