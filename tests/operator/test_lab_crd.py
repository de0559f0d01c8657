"""The Lab CRD in charts/slolab-operator/crds/: one copy, a schema that accepts good Labs and
refuses bad ones, the printer columns kubectl shows, and the emulator's discovery built from it."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
import yaml
from kube_emulator import resource_info
from operator_support import lab_body

from slolab import paths
from slolab.catalog import k8svalidate, yamlfile
from slolab_operator import GROUP, KIND, PLURAL, VERSION, crd


def test_one_copy_of_the_crd() -> None:
    found = [
        p
        for p in paths.root().rglob("*.yaml")
        if ".venv" not in p.parts
        and "CustomResourceDefinition" in p.read_text(encoding="utf-8", errors="ignore")
        and f"name: {PLURAL}.{GROUP}" in p.read_text(encoding="utf-8", errors="ignore")
    ]
    assert found == [crd.path()]


def test_crd_is_valid_kubernetes_1_35(tmp_path: Any) -> None:
    doc = yamlfile.load_all(crd.path(), display="crds/labs.slolab.dev.yaml")
    assert len(doc) == 1
    assert k8svalidate.validate(doc[0]) == []
    data = doc[0].data
    assert data["spec"]["scope"] == "Cluster"
    version = crd.version(data)
    assert (version["served"], version["storage"], version["subresources"]) == (True, True, {"status": {}})


def test_printer_columns() -> None:
    columns = {c["name"]: c["jsonPath"] for c in crd.version(crd.load())["additionalPrinterColumns"]}
    assert columns == {
        "Lab": ".spec.lab",
        "Ready": '.status.conditions[?(@.type=="Ready")].status',
        "Score": ".status.grade.score",
        "Deadline": ".status.deadline",
        "Age": ".metadata.creationTimestamp",
    }


def test_emulator_discovery_comes_from_the_crd() -> None:
    key, info = resource_info(crd.load())
    assert key == f"{GROUP}/{VERSION}/{PLURAL}"
    assert (info.kind, info.singular, info.namespaced, info.subresources) == (KIND, "lab", False, {"status"})


# -- the openAPIV3Schema on whole Lab objects ---------------------------------------------------


def _validator() -> jsonschema.protocols.Validator:
    # OpenAPI v3 as the API server reads it: x-kubernetes-* are extensions, not JSON Schema.
    return jsonschema.Draft202012Validator(crd.schema())


GOOD = [
    lab_body("alice", lab="readiness-probes"),
    lab_body("team-a-gameday", lab="readiness-probes", seed=7, timeLimitMinutes=90, gameDay=True),
    lab_body("b", lab="keda-scaling", resetGeneration=3, gradeRequest=12),
]


@pytest.mark.parametrize("lab", GOOD, ids=[g["metadata"]["name"] for g in GOOD])
def test_schema_accepts(lab: dict[str, Any]) -> None:
    _validator().validate(lab)
    status = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "LabReady",
                "message": "m",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
        "grade": {"score": "3/4", "passed": 3, "total": 4, "checks": [{"id": "x", "status": "inconclusive"}]},
        "gameDay": {"injections": 2, "done": {"0": 2}, "events": [{"step": 0, "targets": ["p"]}]},
    }
    _validator().validate({**lab, "status": status})


def _with(spec: dict[str, Any] | None = None, drop: str | None = None, **changes: Any) -> dict[str, Any]:
    lab = copy.deepcopy(GOOD[0])
    if spec is not None:
        lab["spec"] = spec
    lab["spec"].update(changes)
    if drop:
        lab["spec"].pop(drop)
    return lab


BAD = {
    "no-spec": ({k: v for k, v in GOOD[0].items() if k != "spec"}, "'spec' is a required property"),
    "no-lab": (_with(drop="lab"), "'lab' is a required property"),
    "lab-uppercase": (_with(lab="Readiness"), "does not match"),
    "lab-not-string": (_with(lab=3), "is not of type 'string'"),
    "seed-negative": (_with(seed=-1), "less than the minimum"),
    "time-limit-zero": (_with(timeLimitMinutes=0), "less than the minimum"),
    "time-limit-a-day-plus": (_with(timeLimitMinutes=1441), "greater than the maximum"),
    "gameday-string": (_with(gameDay="yes"), "is not of type 'boolean'"),
    "gameday-minutes-zero": (_with(gameDayMinutes=0), "less than the minimum"),
    "reset-negative": (_with(resetGeneration=-1), "less than the minimum"),
    "grade-float": (_with(gradeRequest=1.5), "is not of type 'integer'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_schema_rejects(case: str) -> None:
    lab, expected = BAD[case]
    errors = [e.message for e in _validator().iter_errors(lab)]
    assert any(expected in e for e in errors), errors


def test_status_condition_values_are_closed() -> None:
    lab = {**GOOD[0], "status": {"conditions": [{"type": "Ready", "status": "Yes"}]}}
    assert any("is not one of" in e.message for e in _validator().iter_errors(lab))
    lab = {**GOOD[0], "status": {"grade": {"checks": [{"id": "x", "status": "ok"}]}}}
    assert any("is not one of" in e.message for e in _validator().iter_errors(lab))


def test_cel_rules_are_there() -> None:
    # CEL runs only in the API server; check the rules are declared where they apply.
    schema = crd.schema()
    assert schema["x-kubernetes-validations"][0]["rule"] == "size(self.metadata.name) <= 59"
    assert schema["properties"]["spec"]["properties"]["lab"]["x-kubernetes-validations"][0]["rule"] == (
        "self == oldSelf"
    )


def test_operator_spec_check_uses_the_crd_and_refuses_unknown_fields() -> None:
    assert crd.spec_problems({"lab": "readiness-probes", "seed": 1}) == []
    known = "gameDay, gameDayMinutes, gradeRequest, lab, resetGeneration, seed, timeLimitMinutes"
    assert crd.spec_problems({"lab": "readiness-probes", "sede": 1}) == [
        f"spec.sede: unknown field (known: {known})"
    ]
    assert crd.spec_problems({"seed": "x"}) == [
        "spec.seed: 'x' is not of type 'integer'",
        "spec: 'lab' is a required property",
    ]
    assert crd.with_defaults({"lab": "x"}) == {
        "lab": "x",
        "gameDay": False,
        "resetGeneration": 0,
        "gradeRequest": 0,
    }


def test_example_in_notes_is_a_valid_lab() -> None:
    notes = (paths.charts_dir() / "slolab-operator" / "templates" / "NOTES.txt").read_text(encoding="utf-8")
    block = notes.split("<<'YAML'\n", 1)[1].split("  YAML", 1)[0]
    example = yaml.safe_load("\n".join(line[2:] for line in block.splitlines()))
    _validator().validate(example)
    assert example["apiVersion"] == f"{GROUP}/{VERSION}" and example["kind"] == KIND
