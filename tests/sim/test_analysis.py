"""AnalysisRuns with the prometheus provider, and the expr-lang subset of their conditions
(argoproj/argo-rollouts v1.9.1; sim/analysis.py, sim/analysisspec.py, sim/expr.py).

Documented behaviour cited: docs/features/analysis.md (A), docs/analysis/prometheus.md (P),
utils/evaluate/evaluate.go (E), analysis/analysis.go (R), expr-lang's language definition (L).
"""

from __future__ import annotations

import math

import pytest
from rollout_support import deployed, rollout_docs, runs, set_metric, status, template, update
from sim_support import events, start

from slolab import errors
from slolab.sim import analysis, expr


@pytest.mark.parametrize(
    ("condition", "result", "expected"),
    [
        ("result[0] >= 0.95", [0.97], True),  # (P) the success-rate example
        ("result[0] >= 0.95", [0.5], False),
        ("len(result) > 0 && result[0] < 2", [], False),  # short-circuit: no index error
        ("isNaN(result[0]) || result[0] < 2.0", [math.nan], True),  # the blind promotion
        ("!isNaN(result[0]) && result[0] <= 2", [math.nan], False),
        ("result[0] * 100 / 4 > 10 and not (result[0] == 0)", [1.0], True),
        ("default(result, 0) == 0", None, True),  # (E) defaultFunc looks at the raw result
        ("isNil(result)", None, True),
        ("asInt(result) == 3", 3.7, True),
        ("result[-1] == 2", [1.0, 2.0], True),  # (L) negative indexes count from the end
        ("result < 5", 4.0, True),  # a scalar query result is a float
    ],
)
def test_conditions(condition, result, expected):
    assert expr.compile_condition(condition).condition(result) is expected


def test_an_empty_result_is_an_index_error():
    """Argo "reflect: slice index out of range" on result[0] of an empty vector (an Error)."""
    with pytest.raises(expr.ExprError, match="index out of range"):
        expr.compile_condition("result[0] < 2").condition([])


@pytest.mark.parametrize(
    ("condition", "match"),
    [
        ("result[0] < ", "unexpected end"),
        ("result.x > 1", "member access"),
        ("result[0] ?? 1", r"\?"),
        ("sum(result) > 1", r"function sum\(\) is not supported"),
        ("foo > 1", "unknown name 'foo'"),
        ("result[0:1]", "slices"),
        ("1 in result", "the in operator"),
    ],
)
def test_unsupported_expressions_are_errors(condition, match):
    with pytest.raises(expr.ExprError, match=match):
        expr.compile_condition(condition)


@pytest.mark.parametrize(
    ("metric", "result", "expected"),
    [
        ({}, [1.0], analysis.SUCCESSFUL),  # (E) no conditions: Successful
        ({"successCondition": "result[0] < 2"}, [3.0], analysis.FAILED),  # only success: Failed when false
        ({"failureCondition": "result[0] > 2"}, [1.0], analysis.SUCCESSFUL),  # only failure
        (
            {"successCondition": "result[0] < 2", "failureCondition": "result[0] > 4"},
            [3.0],
            analysis.INCONCLUSIVE,
        ),
        ({"successCondition": "result[0] < 2", "failureCondition": "result[0] > 0"}, [1.0], analysis.FAILED),
    ],
)
def test_evaluate_result(metric, result, expected):
    assert analysis.evaluate(metric, result) == expected


def run_step(metric_fields, value, query="demand", until=400):
    """A canary with one analysis step on a template with ``metric_fields``; ``value`` is the
    gauge the query reads (None: never set)."""
    check = template(query=query, **metric_fields)
    docs = rollout_docs(
        [{"setWeight": 25}, {"analysis": {"templates": [{"templateName": "check"}]}}], extra=[check]
    )
    sim = deployed(docs)
    if value is not None:
        set_metric(sim, value)
    update(sim, docs)
    sim.env.run(until=sim.env.now + until)
    (run,) = runs(sim).values()
    return sim, run


def test_no_data_errors_then_aborts_after_consecutive_error_limit():
    """(A) consecutiveErrorLimit (default 4): the run is Error after 5 consecutive errors, retried
    every 10 s (R DefaultErrorRetryInterval), and an Error run aborts the rollout."""
    sim, run = run_step({"successCondition": "result[0] < 2"}, None)
    (result,) = run["status"]["metricResults"]
    assert run["status"]["phase"] == "Error" and result["error"] == 5 and result["consecutiveError"] == 5
    assert all(m["value"] == "[]" for m in result["measurements"])
    assert "consecutiveErrors (5) > consecutiveErrorLimit (4)" in run["status"]["message"]
    assert status(sim)["phase"] == "Degraded"


def test_nan_passes_a_blind_condition():
    """research: `isNaN(result[0]) || result[0] < 2.0` passes on NaN, e.g. a quantile of no requests."""
    sim, run = run_step({"successCondition": "isNaN(result[0]) || result[0] < 2.0"}, math.nan)
    assert run["status"]["phase"] == "Successful"
    assert run["status"]["metricResults"][0]["measurements"][0]["value"] == "[NaN]"
    assert status(sim)["phase"] == "Healthy"


def test_count_interval_and_failure_limit():
    """(A) count measurements every interval; the metric fails when failed > failureLimit."""
    sim, run = run_step(
        {"successCondition": "result[0] < 2", "interval": "30s", "count": 4, "failureLimit": 1}, 1.0
    )
    (result,) = run["status"]["metricResults"]
    assert run["status"]["phase"] == "Successful" and result["count"] == 4
    times = [e.time_s for e in events(sim, "RolloutStepCompleted")]
    assert times[1] - times[0] == pytest.approx(90), "4 measurements 30 s apart, the first at once"

    sim, run = run_step(
        {"successCondition": "result[0] < 2", "interval": "30s", "count": 4, "failureLimit": 1}, 3.0
    )
    (result,) = run["status"]["metricResults"]
    assert run["status"]["phase"] == "Failed" and result["failed"] == 2, "the second failure exceeds 1"


def test_initial_delay_postpones_the_first_measurement():
    """(A) initialDelay: the first measurement waits that long after the run starts."""
    sim, run = run_step({"initialDelay": "1m", "successCondition": "result[0] < 2"}, 1.0)
    (m,) = run["status"]["metricResults"][0]["measurements"]
    created = next(e.time_s for e in events(sim, "AnalysisRunRunning"))
    assert m["startedAt"] == analysis.objects.timestamp(created + 60)


def test_inconclusive_limit():
    """(A) inconclusiveLimit: Inconclusive when inconclusive measurements exceed it."""
    fields = {
        "successCondition": "result[0] < 2",
        "failureCondition": "result[0] > 4",
        "interval": "10s",
        "count": 3,
    }
    _, run = run_step({**fields, "inconclusiveLimit": 1}, 3.0)
    assert run["status"]["phase"] == "Inconclusive"
    assert run["status"]["metricResults"][0]["inconclusive"] == 2


def test_bad_templates_are_clear_errors():
    bad = template(successCondition="result[0] <", count=3, failureLimit=-2)
    bad["spec"]["metrics"][0]["provider"]["prometheus"]["query"] = "x{h='{{args.nope}}'}"
    docs = rollout_docs([{"setWeight": 10}], extra=[bad])
    with pytest.raises(errors.NotModelledError) as e:
        start(docs)
    text = str(e.value)
    assert "spec.metrics[0].successCondition" in text and "unexpected end" in text
    assert "interval must be specified when count > 1" in text
    assert "failureLimit must be >= 0, or -1 to be disabled" in text
    assert "{{args.nope}} is not declared in spec.args" in text
