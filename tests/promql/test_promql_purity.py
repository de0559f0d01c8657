"""slolab.promql is pure: no network, no wall clock, nothing of slolab but slolab.errors."""

from __future__ import annotations

import ast
from pathlib import Path

import slolab.promql

PACKAGE = Path(slolab.promql.__file__).parent
FORBIDDEN = {"socket", "requests", "urllib", "http", "subprocess", "time", "threading", "asyncio"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_package_imports_only_errors_of_slolab_and_nothing_that_reaches_out() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        imports = _imports(path)
        slolab_imports = {name for name in imports if name.startswith("slolab") and name != "slolab"}
        outside = {n for n in slolab_imports if not n.startswith(("slolab.promql", "slolab.errors"))}
        assert not outside, f"{path.name} imports {outside}"
        assert not {n.split(".")[0] for n in imports} & FORBIDDEN, f"{path.name}: {imports & FORBIDDEN}"
