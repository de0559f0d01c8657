"""keda-scaling's PromQL on a real Prometheus: every query of the lab's workspaces (the
ScaledObject triggers of the solution, the alternative fixes and the mutations, which KEDA runs
on kind) and the report's queries of the model server (slolab.report.promseries), run against
Prometheus 2.42 (slolab.metrics.local) scraping two `slolab serve` processes on 127.0.0.1 that
stand for two model-server pods of the lab.

Each target carries the labels kube-prometheus-stack's PodMonitor gives a pod's endpoint
(namespace, pod, container, endpoint, job ``<namespace>/<PodMonitor name>``), so the queries see
the label set they see on kind. The checks: each query answers with the number of series the lab
relies on (one, for a trigger KEDA can read; two, one per pod, for the per-pod mutation, which is
what makes KEDA fail on kind; none for the wrong-label mutation) with the right labels.

Not checkable here: the report's kube_* queries (kube-state-metrics runs only in a cluster).
Bounded: two servers, one Prometheus, about 8 s of load, every process stopped at the end.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import _support
import prom_support
import pytest
import yaml

from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.metrics import local
from slolab.report import promseries
from slolab.workspace import variants

pytestmark = [pytest.mark.wallclock, pytest.mark.slow]

LAB = "keda-scaling"
if LAB not in lab_mod.names():  # until branch kedalab is merged
    pytest.skip(f"labs/{LAB} is not in this checkout", allow_module_level=True)
NAMESPACE = f"lab-{LAB}"
DEPLOYMENT = "llm"
PODS = ("llm-6d4b9c7f8-a1b2c", "llm-6d4b9c7f8-d3e4f")
LOAD_S = 8.0
#: Series each trigger query must answer with, where it is not one.
ELEMENTS = {"mutation per-pod-query": 2, "mutation wrong-label": 0}


def trigger_queries() -> dict[str, str]:
    """{variant: query} of every prometheus trigger in the lab's workspaces."""
    lab = lab_mod.load(LAB)
    sets = {"solution": variants.solution_files(lab)}
    for mutation in lab.mutations:
        sets[f"mutation {mutation.id}"] = variants.mutation_files(lab, mutation)
    sets.update({f"alternative {fix}": files for fix, files in variants.alternative_files(lab).items()})
    out = {}
    for variant, files in sets.items():
        for text in files.values():
            for doc in yaml.safe_load_all(text):
                if doc and doc.get("kind") == "ScaledObject":
                    for i, trigger in enumerate(doc["spec"]["triggers"]):
                        if trigger["type"] == "prometheus":
                            out[variant if i == 0 else f"{variant} [{i}]"] = trigger["metadata"]["query"]
    return out


TRIGGERS = trigger_queries()


def PodMonitorPrometheus(pods: dict[str, str]) -> prom_support.PodMonitorPrometheus:
    """Prometheus scraping ``pods`` (name → address) as the platform's does through the PodMonitor."""
    return prom_support.PodMonitorPrometheus(pods, NAMESPACE, DEPLOYMENT, "llm")


def serving(scenario: scenario_mod.Scenario, log_path: Path, seed: int):
    """A fresh `slolab serve` for the scenario's model; its host:port once loaded."""
    return _support.serving(scenario.model.preset, scenario.model.served_model_name, log_path, seed)


def _drive(address: str, model: str, stop: threading.Event, errors_: list[str]) -> None:
    _support.drive_completions(address, model, "why is the queue growing " * 40, 24, stop, errors_)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[local.LocalPrometheus]:
    """Two model servers of the lab's scenario under load, scraped every second; yields after the load."""
    local.binary_or_skip()
    scenario = scenario_mod.load(lab_mod.load(LAB).scenario)
    folder = tmp_path_factory.mktemp("keda-promql")
    with contextlib.ExitStack() as stack:
        addresses = [
            stack.enter_context(serving(scenario, folder / f"{pod}.log", i)) for i, pod in enumerate(PODS)
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
        # two more scrapes after the last request, so every counter's last increase is in
        time.sleep(2.5)
        yield prom


def test_every_variant_was_collected() -> None:
    lab = lab_mod.load(LAB)
    assert "solution" in TRIGGERS
    assert {f"mutation {m.id}" for m in lab.mutations if f"mutation {m.id}" in TRIGGERS} >= set(ELEMENTS)


def test_the_targets_look_like_two_pods(prometheus) -> None:
    up = prometheus.client().query(f'up{{namespace="{NAMESPACE}"}}')
    assert sorted(s["metric"]["pod"] for s in up if s["value"][1] == "1") == sorted(PODS)


@pytest.mark.parametrize("variant", sorted(TRIGGERS))
def test_trigger_query_on_a_real_prometheus(prometheus, variant: str) -> None:
    query = TRIGGERS[variant]
    result = prometheus.client().query(query)
    wanted = ELEMENTS.get(variant, 1)
    assert len(result) == wanted, (
        f"{variant}: {query!r} gave {len(result)} series, expected {wanted}: {result}"
    )
    if wanted == 1:
        [series] = result
        value = float(series["value"][1])
        assert math.isfinite(value) and value >= 0, (variant, series)
        # an aggregate over the lab's pods, not one pod's series
        assert "pod" not in series["metric"], (variant, series)
    if wanted > 1:
        assert sorted(s["metric"]["pod"] for s in result) == sorted(PODS)


REPORT = [q for q in promseries.queries(NAMESPACE, DEPLOYMENT) if "vllm:" in q.expr]


@pytest.mark.parametrize("q", REPORT, ids=[q.label for q in REPORT])
def test_report_query_on_a_real_prometheus(prometheus, q: promseries.Query) -> None:
    end = time.time()
    step_s = 1.0
    result = prometheus.client().query_range(q.expr, end - LOAD_S, end, step_s)
    assert len(result) == 1, f"{q.expr!r}: {result}"
    [series] = result
    assert series["metric"] == {}, series["metric"]  # sum / histogram_quantile of sum by (le)
    values = [float(v) for _, v in series["values"]]
    assert values and all(math.isfinite(v) for v in values), (q.expr, values)
    if q.panel == "ttft":
        assert max(values) > 0  # requests ran: the server's TTFT histogram moved
