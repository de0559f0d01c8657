"""Which build of the engine the simulator runs: engine.py compiled by mypyc, or engine.py itself.

``make setup`` compiles ``slolab/sim/engine.py`` with mypyc into the extension module
``slolab.sim._engine_native`` when a C compiler is at hand (``python -m slolab.nativebuild``).
The compiled module is the same source, so it computes the same results (the engine tests run
against both); a whole simulation runs about 2.5 times as fast. It records the sha256 of the
engine.py it was built from; if engine.py has changed since, or the module cannot be imported,
the simulator runs engine.py and ``slolab doctor`` says so. ``SLOLAB_ENGINE=python`` forces
engine.py.

Only the simulator's pods use this; ``slolab serve`` runs engine.py (real time needs no speed).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import os
from pathlib import Path
from types import ModuleType

from slolab.sim import engine as python_engine

COMPILED = "slolab.sim._engine_native"


@dataclasses.dataclass(frozen=True)
class Choice:
    """The engine build in use and why."""

    module: ModuleType
    compiled: bool
    reason: str


def source_sha256() -> str:
    """sha256 of engine.py as it is now (what a current build must have been made from)."""
    return hashlib.sha256(Path(python_engine.__file__).read_bytes()).hexdigest()


@functools.cache
def choice() -> Choice:
    """The compiled engine if it is built, importable and current; engine.py otherwise."""
    if os.environ.get("SLOLAB_ENGINE", "").lower() == "python":
        return Choice(python_engine, False, "SLOLAB_ENGINE=python")
    try:
        compiled = importlib.import_module(COMPILED)
    except ImportError:
        return Choice(python_engine, False, "not built (make setup builds it when a C compiler is there)")
    if getattr(compiled, "SOURCE_SHA256", None) != source_sha256():
        return Choice(
            python_engine, False, "out of date: engine.py changed since it was built (run make setup)"
        )
    return Choice(compiled, True, "compiled by mypyc from the current engine.py")


def engine_module() -> ModuleType:
    """The module whose ``Engine`` and ``EngineConfig`` the simulator uses (never mix the two)."""
    return choice().module
