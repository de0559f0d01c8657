"""canary-rollout's reference analysis on the real path judges a regressed canary as the
simulator does: a stable `slolab serve` (the running 0.1.0) and a canary started exactly as the
0.2.0 image starts it (the SLOLAB_SERVE_* variables `make cluster` bakes into that image,
catalog/versionimages.py), under the same load, scraped by a real Prometheus with a PodMonitor's
labels (test_canary_rollout_promql.py's PodMonitorPrometheus).

What the scenario documents for 0.2.0 (scenarios/llama-8b-h100-canary/scenario.yaml): "TTFT three
times worse and 5% of requests failing". So the solution's error-ratio query finds about 5% for
the canary's hash and nothing failed for the stable's, its TTFT query a p95 for the canary well
above the stable's (three times at low load, more with queueing), and the solution's conditions
(sim/analysis.py evaluate) fail the canary, which aborts the rollout (a Failed measurement with
failureLimit 0), and pass the stable.

Bounded: two servers, one Prometheus, about 6 s of load, every process stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import _support
import pytest
import test_canary_rollout_promql as canary_promql
import yaml

from slolab import clusterup
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import versionimages
from slolab.metrics import local
from slolab.sim import analysis, analysisspec
from slolab.workspace import variants

pytestmark = [pytest.mark.wallclock, pytest.mark.slow]

LAB = "canary-rollout"
PODS = canary_promql.PODS
STABLE_HASH, CANARY_HASH = "stable0hash", canary_promql.CANARY_HASH
LOAD_S = 6.0


def image_env(tag: str) -> dict[str, str]:
    """The environment the model-version image of ``tag`` sets (clusterup's build args)."""
    [image] = [v for v in versionimages.version_images(clusterup.SERVE_IMAGE) if v.tag == tag]
    argv = clusterup.version_build(image)
    args = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--build-arg")
    return {"SLOLAB_SERVE_TTFT_FACTOR": args["TTFT_FACTOR"], "SLOLAB_SERVE_ERROR_RATE": args["ERROR_RATE"]}


def solution_metrics() -> dict[str, dict]:
    out = {}
    for text in variants.solution_files(lab_mod.load(LAB)).values():
        for doc in yaml.safe_load_all(text):
            if doc and doc.get("kind") == "AnalysisTemplate":
                out.update({m["name"]: m for m in doc["spec"]["metrics"]})
    return out


def _drive(address: str, model: str, stop: threading.Event, counts: dict[str, int]) -> None:
    """Requests one after another (a 1000-token prompt, as the scenario's median); counts statuses."""
    body = json.dumps({"model": model, "prompt": list(range(1000)), "max_tokens": 16}).encode()
    while not stop.is_set():
        req = urllib.request.Request(
            f"http://{address}/v1/completions", body, {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            counts[f"{address}: {exc}"] = 1
            return
        counts[f"{address} {status}"] = counts.get(f"{address} {status}", 0) + 1


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[tuple[local.LocalPrometheus, dict[str, int], list[str]]]:
    local.binary_or_skip()
    scenario = scenario_mod.load(lab_mod.load(LAB).scenario)
    folder = tmp_path_factory.mktemp("canary-regressed")
    envs = {STABLE_HASH: None, CANARY_HASH: image_env("0.2.0")}
    with contextlib.ExitStack() as stack:
        addresses = [
            stack.enter_context(
                _support.serving(
                    scenario.model.preset, scenario.model.served_model_name, folder / f"{pod}.log", 1, envs[h]
                )
            )
            for pod, h in PODS.items()
        ]
        prom = stack.enter_context(
            canary_promql.PodMonitorPrometheus(dict(zip(PODS, addresses, strict=True)))
        )
        stop, counts = threading.Event(), {}
        workers = [
            threading.Thread(target=_drive, args=(a, scenario.model.served_model_name, stop, counts))
            for a in addresses
            for _ in range(3)
        ]
        for w in workers:
            w.start()
        time.sleep(LOAD_S)
        stop.set()
        for w in workers:
            w.join(40)
        time.sleep(2.5)  # two more scrapes after the last request
        yield prom, counts, addresses


def query(prom: local.LocalPrometheus, metric: dict, pod_hash: str) -> list[float]:
    text = analysisspec.resolve(metric["provider"]["prometheus"]["query"], {"canary-hash": pod_hash})
    return [float(s["value"][1]) for s in prom.client().query(text)]


def test_the_clients_see_the_canary_fail_its_share(prometheus) -> None:
    _, counts, (stable, canary) = prometheus
    assert not [k for k in counts if ": " in k], counts  # no connection failed
    assert counts.get(f"{stable} 500", 0) == 0 and counts[f"{stable} 200"] >= 30
    served, failed = counts[f"{canary} 200"], counts.get(f"{canary} 500", 0)
    n = served + failed
    # Binomial(n, 0.05): within four standard deviations of 5%
    assert abs(failed - 0.05 * n) <= 4 * (0.05 * 0.95 * n) ** 0.5 + 1, (failed, n)
    assert failed > 0


def test_the_solution_fails_the_regressed_canary_and_passes_the_stable(prometheus) -> None:
    prom, _, _ = prometheus
    metrics = solution_metrics()
    errors = {h: query(prom, metrics["error-ratio"], h) for h in (STABLE_HASH, CANARY_HASH)}
    ttft = {h: query(prom, metrics["ttft-p95"], h) for h in (STABLE_HASH, CANARY_HASH)}
    assert errors[STABLE_HASH] == [0.0]
    [canary_errors] = errors[CANARY_HASH]
    assert 0.01 < canary_errors < 0.15, canary_errors
    [stable_p95], [canary_p95] = ttft[STABLE_HASH], ttft[CANARY_HASH]
    # three times at low load; queueing behind the slower prefills only widens the gap (the lab's
    # sim measurements: 0.09-0.10 s healthy, 0.39-0.44 s regressed, labs/canary-rollout/lab.yaml)
    assert canary_p95 > 2 * stable_p95, (stable_p95, canary_p95)
    outcomes = {
        h: {name: analysis.evaluate(m, query(prom, m, h)) for name, m in metrics.items()}
        for h in (STABLE_HASH, CANARY_HASH)
    }
    assert set(outcomes[STABLE_HASH].values()) == {analysis.SUCCESSFUL}, outcomes
    assert outcomes[CANARY_HASH]["error-ratio"] == analysis.FAILED, outcomes
