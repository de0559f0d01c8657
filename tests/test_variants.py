"""The file sets of a lab: alternatives/ is one folder per other correct fix, laid over solution/."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from slolab import errors
from slolab.workspace import variants

SOLUTION = {"deployment.yaml": "solution deployment\n", "service.yaml": "service\n"}


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """A lab whose solution is SOLUTION (no chart rendered) and whose alternatives/ is empty."""
    monkeypatch.setattr(variants, "solution_files", lambda _lab: dict(SOLUTION))
    (tmp_path / "alternatives").mkdir()
    return types.SimpleNamespace(name="demo", alternatives_dir=tmp_path / "alternatives")


def test_each_folder_is_one_fix_over_the_solution(lab) -> None:
    (lab.alternatives_dir / "README.md").write_text("# other fixes\n")
    (lab.alternatives_dir / "b-fix").mkdir()
    (lab.alternatives_dir / "b-fix" / "deployment.yaml").write_text("b deployment\n")
    (lab.alternatives_dir / "a-fix").mkdir()
    (lab.alternatives_dir / "a-fix" / "deployment.yaml").write_text("a deployment\n")
    (lab.alternatives_dir / "a-fix" / "pdb.yaml").write_text("a pdb\n")
    fixes = variants.alternative_files(lab)
    assert list(fixes) == ["a-fix", "b-fix"]
    assert fixes["a-fix"] == {
        "deployment.yaml": "a deployment\n",
        "service.yaml": "service\n",
        "pdb.yaml": "a pdb\n",
    }
    assert fixes["b-fix"] == {"deployment.yaml": "b deployment\n", "service.yaml": "service\n"}


def test_no_alternatives_folder_is_no_alternatives(lab) -> None:
    lab.alternatives_dir.rmdir()
    assert variants.alternative_files(lab) == {}


def test_a_loose_file_is_an_error_that_says_where_it_goes(lab) -> None:
    (lab.alternatives_dir / "avg-value.yaml").write_text("x: 1\n")
    with pytest.raises(errors.CatalogError) as caught:
        variants.alternative_files(lab)
    text = str(caught.value)
    assert "avg-value.yaml: a fix outside a folder of its own" in text
    assert "labs/demo/alternatives/<fix name>/avg-value.yaml" in text


def test_an_empty_fix_is_an_error(lab) -> None:
    (lab.alternatives_dir / "nothing").mkdir()
    with pytest.raises(errors.CatalogError, match=r"nothing: no \*\.yaml files in this fix"):
        variants.alternative_files(lab)
