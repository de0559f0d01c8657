"""An HPA manifest is checked as the API server checks it, and fields the simulator ignores are refused."""

from __future__ import annotations

import pytest
from hpa_support import external, hpa_doc
from sim_support import manifest, start

from slolab import errors
from slolab.sim import hpa_validation, modelled


def problems(doc):
    return [(p.field, p.message) for p in hpa_validation.validate(doc)]


def test_a_sound_hpa_has_no_problem():
    doc = hpa_doc(
        [external("q", average_value="10")], behavior={"scaleDown": {"stabilizationWindowSeconds": 60}}
    )
    assert problems(doc) == [] and modelled.check(doc) == []


def test_min_replicas_above_max_replicas_is_worded_as_the_api_server_does():
    assert problems(hpa_doc([external("q", average_value="1")], minReplicas=5, maxReplicas=2)) == [
        ("spec.maxReplicas", "Invalid value: 2: must be greater than or equal to `minReplicas`")
    ]
    assert problems(hpa_doc([external("q", average_value="1")], minReplicas=0)) == [
        ("spec.minReplicas", "Invalid value: 0: must be greater than or equal to 1")
    ]


def test_an_unknown_metric_type_lists_the_supported_ones():
    assert problems(hpa_doc([{"type": "Queue"}])) == [
        (
            "spec.metrics[0].type",
            'Unsupported value: "Queue": supported values: "ContainerResource", "External", "Object", '
            '"Pods", "Resource"',
        )
    ]


def test_average_utilization_on_an_external_metric_is_refused():
    metric = {
        "type": "External",
        "external": {"metric": {"name": "q"}, "target": {"type": "Utilization", "averageUtilization": 50}},
    }
    got = problems(hpa_doc([metric]))
    assert (
        "spec.metrics[0].external.target.averageValue",
        "Required value: must set either a target value for metric or a per-pod target",
    ) in got
    assert any(f == "spec.metrics[0].external.target.averageUtilization" for f, _ in got)


def test_behavior_values_are_bounded():
    behavior = {
        "scaleUp": {
            "selectPolicy": "Fastest",
            "policies": [{"type": "Pods", "value": 0, "periodSeconds": 3600}],
        },
        "scaleDown": {"stabilizationWindowSeconds": 4000},
    }
    assert problems(hpa_doc([external("q", average_value="1")], behavior=behavior)) == [
        (
            "spec.behavior.scaleUp.selectPolicy",
            'Unsupported value: "Fastest": supported values: "Disabled", "Max", "Min"',
        ),
        ("spec.behavior.scaleUp.policies[0].value", "Invalid value: 0: must be greater than zero"),
        (
            "spec.behavior.scaleUp.policies[0].periodSeconds",
            "Invalid value: 3600: must be less than or equal to 1800",
        ),
        (
            "spec.behavior.scaleDown.stabilizationWindowSeconds",
            "Invalid value: 4000: must be less than or equal to 3600",
        ),
    ]


def test_a_field_the_simulator_does_not_model_is_named():
    doc = hpa_doc([external("q", average_value="1")])
    doc.data["spec"]["metrics"][0]["external"]["metric"]["labels"] = {"a": "b"}
    (problem,) = modelled.check(doc)
    assert problem.field == "spec.metrics[0].external.metric.labels"
    assert problem.message == "is not modelled by the simulator"


def test_applying_an_invalid_hpa_fails_naming_file_and_field():
    with pytest.raises(errors.NotModelledError, match=r"hpa\.yaml: spec\.maxReplicas: Invalid value: 2"):
        start(
            [*manifest(replicas=1), hpa_doc([external("q", average_value="1")], minReplicas=3, maxReplicas=2)]
        )
