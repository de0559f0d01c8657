"""lab.yaml's grading block: a typed target, and parameters validated by the lab's own model."""

from __future__ import annotations

from pathlib import Path

import pytest

from slolab import errors
from slolab.catalog import graderparams
from slolab.catalog import lab as lab_mod

PARAMS_PY = """
import pydantic
from slolab.catalog import graderparams


class Params(graderparams.Params):
    profile: str
    steady_s: float = pydantic.Field(gt=0)
    min_requests: int = 50
"""


def write(root: Path, grading: str, params_py: str | None = PARAMS_PY) -> None:
    lab_yaml = root / "labs" / "demo" / "lab.yaml"
    text = lab_yaml.read_text(encoding="utf-8")
    head = text.split("grading:\n")[0]
    lab_yaml.write_text(head + grading + "seeds: [7, 8]\n", encoding="utf-8")
    params = root / "labs" / "demo" / "grader" / "params.py"
    if params_py is None:
        params.unlink(missing_ok=True)
    else:
        params.write_text(params_py, encoding="utf-8")
    lab_mod.load.cache_clear()


def problems(root: Path) -> list[str]:
    with pytest.raises(errors.CatalogError) as info:
        lab_mod.load("demo")
    return [str(p) for p in info.value.problems]


def test_params_are_validated_by_the_labs_model(slolab_root: Path) -> None:
    write(
        slolab_root,
        "grading:\n  target: {deployment: llm, service: llm}\n  params: {profile: chat, steady_s: 90}\n",
    )
    lab = lab_mod.load("demo")
    assert type(lab.grading.params).__name__ == "Params" and isinstance(
        lab.grading.params, graderparams.Params
    )
    assert (lab.grading.params.profile, lab.grading.params.steady_s, lab.grading.params.min_requests) == (
        "chat",
        90.0,
        50,
    )
    assert lab.grading.target == lab_mod.Target(deployment="llm", service="llm")


def test_every_params_problem_names_file_line_and_field(slolab_root: Path) -> None:
    write(
        slolab_root,
        "grading:\n"
        "  target: {deployment: llm, service: llm}\n"
        "  params:\n"
        "    steady_s: -5\n"
        "    min_requests: many\n"
        "    stedy_s: 3\n",
    )
    first = 1 + (slolab_root / "labs/demo/lab.yaml").read_text().splitlines().index("grading:")
    file = "labs/demo/lab.yaml"
    assert problems(slolab_root) == [
        f"{file}:{first + 2}: grading.params.profile: required field is missing",
        f"{file}:{first + 3}: grading.params.steady_s: input should be greater than 0 (got -5)",
        f"{file}:{first + 4}: grading.params.min_requests: input should be a valid integer (got 'many')",
        f"{file}:{first + 5}: grading.params.stedy_s: unknown field",
    ]


def test_params_without_a_model_are_unknown_fields(slolab_root: Path) -> None:
    write(
        slolab_root, "grading:\n  target: {deployment: llm, service: llm}\n  params: {profile: chat}\n", None
    )
    assert [p.split(": ", 1)[1] for p in problems(slolab_root)] == ["grading.params.profile: unknown field"]
    write(slolab_root, "grading:\n  target: {deployment: llm, service: llm}\n", None)
    assert lab_mod.load("demo").grading.params == graderparams.NoParams()


def test_the_target_is_required_and_checked_as_the_api_server_would(slolab_root: Path) -> None:
    write(slolab_root, "grading:\n  params: {profile: chat, steady_s: 1}\n")
    assert [p.split(": ", 1)[1] for p in problems(slolab_root)] == [
        "grading.target: required field is missing"
    ]
    write(
        slolab_root,
        "grading:\n  target: {deployment: Llm, service: 9llm}\n  params: {profile: c, steady_s: 1}\n",
    )
    got = problems(slolab_root)
    assert "grading.target.deployment: a lowercase RFC 1123 subdomain must consist of" in got[0]
    assert got[0].endswith("(got 'Llm')")
    assert "grading.target.service: a DNS-1035 label must consist of" in got[1]
    write(slolab_root, "")  # no grading block at all: no guessed "llm"
    assert [p.split(": ", 1)[1] for p in problems(slolab_root)] == ["grading: required field is missing"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("class Params(:\n", "labs/demo/grader/params.py:1: invalid Python: invalid syntax"),
        ("import os\nos.nope\n", "labs/demo/grader/params.py:2: cannot be imported: AttributeError: "),
        ("Params = 3\n", "labs/demo/grader/params.py: must define class Params(graderparams.Params)"),
        (
            "import pydantic\nclass Params(pydantic.BaseModel):\n    x: int = 1\n",
            "labs/demo/grader/params.py: must define class Params(graderparams.Params)",
        ),
    ],
)
def test_a_broken_params_py_is_named(slolab_root: Path, source: str, expected: str) -> None:
    write(slolab_root, "grading:\n  target: {deployment: llm, service: llm}\n", source)
    assert problems(slolab_root)[0].startswith(expected)


def test_graders_get_the_class_that_validated_lab_yaml(slolab_root: Path) -> None:
    import sys

    write(
        slolab_root,
        "grading:\n  target: {deployment: llm, service: llm}\n  params: {profile: c, steady_s: 1}\n",
    )
    lab = lab_mod.load("demo")
    assert type(lab.grading.params) is sys.modules["slolab_lab_params.demo"].Params
