"""A learner's workspace: create it, back it up, reset it, and remember hints and reveals.

Nothing is ever lost: ``reset`` moves the learner's files to ``workspace/.backups/<lab>-<UTC
time>/`` before it restores the fault, and a second ``make lab`` keeps existing files.
State lives in ``workspace/<lab>/.slolab/state.json``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
from pathlib import Path
from typing import Any

from slolab import paths
from slolab.catalog import lab as lab_mod
from slolab.workspace import variants


@dataclasses.dataclass
class State:
    lab: str
    created_at: str
    deadline: str
    hints_shown: int = 0
    solution_revealed_at: str | None = None
    resets: int = 0


def _now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC).replace(microsecond=0)


def _state_file(lab: lab_mod.Lab) -> Path:
    return paths.workspace(lab.name) / ".slolab" / "state.json"


def load_state(lab: lab_mod.Lab) -> State | None:
    file = _state_file(lab)
    if not file.is_file():
        return None
    data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    return State(**{k: v for k, v in data.items() if k in State.__dataclass_fields__})


def save_state(lab: lab_mod.Lab, state: State) -> None:
    file = _state_file(lab)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(state), indent=2) + "\n", encoding="utf-8")
    tmp.replace(file)


def _new_state(lab: lab_mod.Lab) -> State:
    now = _now()
    return State(lab=lab.name, created_at=now.isoformat(),
                 deadline=(now + datetime.timedelta(minutes=lab.time_limit_minutes)).isoformat())


def has_files(lab: lab_mod.Lab) -> bool:
    ws = paths.workspace(lab.name)
    return ws.is_dir() and any(p.suffix in {".yaml", ".yml"} for p in ws.iterdir())


def create(lab: lab_mod.Lab) -> tuple[Path, bool]:
    """Render the fault into ``workspace/<lab>`` unless files are there; (path, created)."""
    ws = paths.workspace(lab.name)
    if has_files(lab):
        if load_state(lab) is None:
            save_state(lab, _new_state(lab))
        return ws, False
    variants.write(variants.fault_files(lab), ws)
    save_state(lab, _new_state(lab))
    return ws, True


def backup(lab: lab_mod.Lab) -> Path | None:
    """Move everything of ``workspace/<lab>`` to a timestamped backup folder; its path."""
    ws = paths.workspace(lab.name)
    if not ws.is_dir() or not any(ws.iterdir()):
        return None
    stamp = _now().strftime("%Y%m%dT%H%M%SZ")
    target = paths.workspace_root() / ".backups" / f"{lab.name}-{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{lab.name}-{stamp}-{n}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(ws), str(target))
    return target


def reset(lab: lab_mod.Lab) -> tuple[Path, Path | None]:
    """Back up the learner's files, then restore the fault; (workspace, backup)."""
    old = load_state(lab)
    saved = backup(lab)
    ws, _ = create(lab)
    state = load_state(lab) or _new_state(lab)
    if old is not None:
        state.resets = old.resets + 1
        state.hints_shown = old.hints_shown
        state.solution_revealed_at = old.solution_revealed_at
    save_state(lab, state)
    return ws, saved


def next_hint(lab: lab_mod.Lab) -> tuple[int, int, str | None]:
    """Show the next hint: (number, total, text); text None once all were shown."""
    hints = lab.hint_texts()
    state = load_state(lab) or _new_state(lab)
    if state.hints_shown >= len(hints):
        return state.hints_shown, len(hints), None
    state.hints_shown += 1
    save_state(lab, state)
    return state.hints_shown, len(hints), hints[state.hints_shown - 1]


def reveal_solution(lab: lab_mod.Lab) -> State:
    state = load_state(lab) or _new_state(lab)
    if state.solution_revealed_at is None:
        state.solution_revealed_at = _now().isoformat()
        save_state(lab, state)
    return state
