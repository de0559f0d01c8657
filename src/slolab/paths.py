"""Where slolab's files live: the checkout (labs/, scenarios/, charts/) and the workspace.

The root is ``$SLOLAB_ROOT`` when set, otherwise the nearest parent of the working directory
that holds ``labs/`` and ``scenarios/``, otherwise the checkout this package was installed from.
"""

from __future__ import annotations

import os
from pathlib import Path


def _looks_like_root(path: Path) -> bool:
    return (path / "labs").is_dir() and (path / "scenarios").is_dir() and (path / "charts").is_dir()


def root() -> Path:
    """The slolab checkout that holds labs/, scenarios/ and charts/."""
    env = os.environ.get("SLOLAB_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if _looks_like_root(candidate):
            return candidate
    return Path(__file__).resolve().parents[2]


def labs_dir() -> Path:
    return root() / "labs"


def scenarios_dir() -> Path:
    return root() / "scenarios"


def charts_dir() -> Path:
    return root() / "charts"


def kind_config() -> Path:
    return root() / "kind-config.yaml"


def workspace_root() -> Path:
    """``$SLOLAB_WORKSPACE`` or ``<root>/workspace``: the learner's editable copies."""
    env = os.environ.get("SLOLAB_WORKSPACE")
    return Path(env).resolve() if env else root() / "workspace"


def workspace(lab: str) -> Path:
    return workspace_root() / lab


def tools_bin() -> Path:
    """``.tools/bin`` where ``make setup`` puts helm and kubectl."""
    return root() / ".tools" / "bin"


def relative(path: Path) -> str:
    """``path`` relative to the root when it is inside it, for messages."""
    try:
        return str(path.resolve().relative_to(root()))
    except ValueError:
        return str(path)
