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
    assert f'"labs" / "{name}" / "grader"' in text, f"{module.name} does not run labs/{name}/grader"
