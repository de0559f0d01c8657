"""Every lab's real grader runs on the fake backend in a unit test of its own (issue 9 item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from slolab.catalog import lab as lab_mod

HERE = Path(__file__).parent


@pytest.mark.parametrize("name", lab_mod.names())
def test_the_lab_has_a_fake_backend_test_of_its_grader(name: str) -> None:
    module = HERE / f"test_{name.replace('-', '_')}_grader.py"
    assert module.is_file(), (
        f"labs/{name}/grader has no unit test on the fake backend: write tests/grading/{module.name} "
        "(test_readiness_probes_grader.py shows how: scripted good and bad runs)"
    )
    text = module.read_text(encoding="utf-8")
    runs_it = f'"labs" / "{name}" / "grader"' in text or (
        "grading_support.scripted_grading(" in text and f'"{name}"' in text
    )
    assert runs_it, f"{module.name} does not run labs/{name}/grader"


def test_no_grader_module_shares_a_name_with_a_test_module_of_the_suite() -> None:
    """The grader unit tests collect a lab's grader files inside this pytest process (pytester);
    grader folders are not packages, so a ``labs/<lab>/grader/test_x.py`` and a ``tests/**/test_x.py``
    are one module name, and the second to load fails with "import file mismatch"."""
    suite = {p.name: p for p in HERE.parent.rglob("test_*.py")}
    graders = sorted(HERE.parent.parent.glob("labs/*/grader/test_*.py"))
    assert graders, "no grader modules found"
    clashes = [
        f"{g.relative_to(HERE.parent.parent)} and {suite[g.name].relative_to(HERE.parent.parent)}"
        for g in graders
        if g.name in suite
    ]
    assert not clashes, f"rename one of each pair: {clashes}"
    names = [g.name for g in graders]
    assert len(names) == len(set(names)), f"two labs' graders share a module name: {sorted(names)}"
