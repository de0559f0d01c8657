"""canary-rollout's analysis on a real Prometheus: every metric of the lab's AnalysisTemplates (the
reference solution, the alternative fixes, the mutations), with ``{{args.canary-hash}}`` resolved
as the Rollout resolves it, run against Prometheus (slolab.metrics.local) scraping two
`slolab serve` processes on 127.0.0.1 that stand for a stable pod and a canary pod of the lab.

Each target carries the labels kube-prometheus-stack's PodMonitor gives a pod's endpoint
(namespace, pod, container, endpoint, job) plus the pod's ``rollouts-pod-template-hash`` as
``rollouts_pod_template_hash`` (the PodMonitor's podTargetLabels), so the queries see the label set
they see on kind. Both servers run the same healthy model, so the canary is healthy here. The
checks: each query of the solution answers with one series, a finite number, for the canary's hash
only; the wrong-label mutations find nothing; and the simulator's evaluation of each metric's
conditions (sim/analysis.py evaluate, the expr-lang subset of sim/expr.py) on the real result gives
the outcome the lab relies on: Successful for a healthy canary, Successful (blind) or Error (an
index out of range) where the query finds no series.

Bounded: two servers, one Prometheus, about 6 s of load, every process stopped at the end.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator

import _support
import prom_support
import pytest
import yaml

from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.metrics import local
from slolab.sim import analysis, analysisspec, expr
from slolab.workspace import variants

pytestmark = [pytest.mark.wallclock, pytest.mark.slow]

LAB = "canary-rollout"
NAMESPACE = f"lab-{LAB}"
PODS = {"llm-stable0hash-a1b2c": "stable0hash", "llm-canary0hash-d3e4f": "canary0hash"}
CANARY_HASH = "canary0hash"
LOAD_S = 6.0
#: the outcome a metric must have on a healthy canary (Successful unless listed)
OUTCOMES = {"mutation error-on-no-data | error-ratio": analysis.ERROR}
#: metrics whose queries must find no series (the Deployment's label, not the Rollout's)
EMPTY = {
    "mutation blind-on-no-data | error-ratio",
    "mutation blind-on-no-data | ttft-p95",
    "mutation error-on-no-data | error-ratio",
}


def analysis_metrics() -> dict[str, dict]:
    """{"<variant> <metric>": metric} of every AnalysisTemplate in the lab's workspaces."""
    lab = lab_mod.load(LAB)
    sets = {"solution": variants.solution_files(lab)}
    for mutation in lab.mutations:
        sets[f"mutation {mutation.id}"] = variants.mutation_files(lab, mutation)
    sets.update({f"alternative {fix}": files for fix, files in variants.alternative_files(lab).items()})
    out = {}
    for variant, files in sets.items():
        for text in files.values():
            for doc in yaml.safe_load_all(text):
                if doc and doc.get("kind") == "AnalysisTemplate":
                    for metric in doc["spec"]["metrics"]:
                        out[f"{variant} | {metric['name']}"] = metric
    return out


METRICS = analysis_metrics()


def PodMonitorPrometheus(pods: dict[str, str]) -> prom_support.PodMonitorPrometheus:
    """Prometheus scraping ``pods`` (name → address) as the platform's does through the PodMonitor,
    which copies the pod's rollouts-pod-template-hash label onto every series."""
    hashes = {pod: {"rollouts_pod_template_hash": PODS[pod]} for pod in pods}
    return prom_support.PodMonitorPrometheus(pods, NAMESPACE, "llm", "slolab-serve", hashes)


def _drive(address: str, model: str, stop: threading.Event, errors_: list[str]) -> None:
    _support.drive_completions(address, model, "is the canary healthy " * 40, 16, stop, errors_)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[local.LocalPrometheus]:
    """A stable and a canary model server under load, scraped every second; yields after the load."""
    local.binary_or_skip()
    scenario = scenario_mod.load(lab_mod.load(LAB).scenario)
    folder = tmp_path_factory.mktemp("canary-promql")
    with contextlib.ExitStack() as stack:
        addresses = [
            stack.enter_context(
                _support.serving(
                    scenario.model.preset, scenario.model.served_model_name, folder / f"{pod}.log", i
                )
            )
            for i, pod in enumerate(PODS)
        ]
        prom = stack.enter_context(PodMonitorPrometheus(dict(zip(PODS, addresses, strict=True))))
        stop, failures = threading.Event(), []
        workers = [
            threading.Thread(target=_drive, args=(a, scenario.model.served_model_name, stop, failures))
            for a in addresses
            for _ in range(3)
        ]
        for w in workers:
            w.start()
        time.sleep(LOAD_S)
        stop.set()
        for w in workers:
            w.join(40)
        assert not failures, failures
        time.sleep(2.5)  # two more scrapes after the last request
        yield prom


def test_every_variant_was_collected() -> None:
    variants_seen = {key.split(" | ")[0] for key in METRICS}
    assert "solution" in variants_seen and set(METRICS) >= EMPTY
    assert any(v.startswith("alternative ") for v in variants_seen)


@pytest.mark.parametrize("key", sorted(METRICS))
def test_analysis_metric_on_a_real_prometheus(prometheus, key: str) -> None:
    metric = METRICS[key]
    query = analysisspec.resolve(metric["provider"]["prometheus"]["query"], {"canary-hash": CANARY_HASH})
    result = prometheus.client().query(query)
    if key in EMPTY:
        assert result == [], f"{key}: {query!r} found {result}"
    else:
        assert len(result) == 1, f"{key}: {query!r} gave {result}"
        value = float(result[0]["value"][1])
        assert math.isfinite(value) and value >= 0, (key, result)
    values = [float(s["value"][1]) for s in result]  # what the prometheus provider hands the conditions
    try:
        outcome = analysis.evaluate(metric, values)
    except expr.ExprError:
        outcome = analysis.ERROR
    assert outcome == OUTCOMES.get(key, analysis.SUCCESSFUL), (key, values, outcome)


def test_the_canary_hash_selects_the_canary_only(prometheus) -> None:
    up = prometheus.client().query(
        f'up{{namespace="{NAMESPACE}",rollouts_pod_template_hash="{CANARY_HASH}"}}'
    )
    assert [s["metric"]["pod"] for s in up] == ["llm-canary0hash-d3e4f"]
