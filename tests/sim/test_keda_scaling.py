"""KEDA and the HPA together on the simulator: queue depth from the model servers drives replicas."""

from __future__ import annotations

import random

import pytest
from sim_support import SOUND, events, manifest, start

from slolab.catalog import yamlfile
from slolab.sim import kedascaler, registry, traffic

pytestmark = pytest.mark.skipif(
    ("autoscaling/v2", "HorizontalPodAutoscaler") not in registry.kinds(),
    reason="needs the HPA controller (sim/hpa.py) to act on the HPA KEDA makes",
)


def scaledobject(query: str) -> yamlfile.Document:
    trigger = {
        "type": "prometheus",
        "metadata": {"serverAddress": kedascaler.PROMETHEUS_URL, "query": query, "threshold": "4"},
    }
    spec = {
        "scaleTargetRef": {"name": "llm"},
        "pollingInterval": 15,
        "minReplicaCount": 1,
        "maxReplicaCount": 4,
        "triggers": [trigger],
    }
    data = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "llm"},
        "spec": spec,
    }
    return yamlfile.Document(data, "scaledobject.yaml", {})


def under_load(query: str, rate_rps: float, until_s: float):
    sim = start([*manifest(replicas=1, probes=SOUND), scaledobject(query)])
    sim.env.run(until=120)  # the first pod has loaded its model
    profile = sim.scenario.profile("chat").model_copy(update={"rate_rps": rate_rps})
    traffic.OpenLoop(sim.env, "chat", profile, random.Random(1), lambda req, at_s: sim.send("llm", req, at_s))
    sim.env.run(until=until_s)
    return sim


def replicas(sim) -> int:
    return sim.get("apps/v1", "Deployment", "llm").spec["replicas"]


def condition(obj: dict, type_: str) -> tuple[str, str]:
    c = next(c for c in obj["status"]["conditions"] if c["type"] == type_)
    return c["status"], c.get("reason", "")


def test_queue_depth_drives_replicas_up():
    sim = under_load("sum(vllm:num_requests_waiting)", rate_rps=30, until_s=400)
    assert replicas(sim) == 4
    rescale = [e for e in events(sim, "SuccessfulRescale") if e.name == "keda-hpa-llm"]
    assert rescale and "New size: 4" in rescale[0].message and "s0-prometheus" in rescale[0].message
    assert sum(1 for p in sim.pods.values() if p.ready) == 4
    (so,) = sim.api_objects("ScaledObject")
    assert condition(so, "Ready") == ("True", "ScaledObjectReady")
    assert condition(so, "Active") == ("True", "ScalerActive")
    assert not events(sim, "KEDAScalerFailed")


def test_light_load_stays_at_the_minimum():
    sim = under_load("sum(vllm:num_requests_waiting)", rate_rps=2, until_s=400)
    assert replicas(sim) == 1
    assert not [e for e in events(sim, "SuccessfulRescale") if e.name == "keda-hpa-llm"]


def test_a_per_pod_query_breaks_at_the_first_scale_up():
    """vllm-project/production-stack's tutorial query: one series per pod, fine at one replica."""
    sim = under_load("vllm:num_requests_waiting", rate_rps=30, until_s=400)
    (failed, *_) = events(sim, "KEDAScalerFailed")
    assert failed.message == "prometheus query vllm:num_requests_waiting returned multiple elements"
    first_up = next(e for e in events(sim, "SuccessfulRescale") if e.name == "keda-hpa-llm")
    assert first_up.time_s < failed.time_s  # it worked until there were two pods to scrape
    (so,) = sim.api_objects("ScaledObject")
    assert condition(so, "Ready") == ("False", "TriggerError")
    assert condition(so, "HPAActive") == ("False", "FailedGetExternalMetric")
    hpa = next(
        h for h in sim.api_objects("HorizontalPodAutoscaler") if h["metadata"]["name"] == "keda-hpa-llm"
    )
    assert condition(hpa, "ScalingActive") == ("False", "FailedGetExternalMetric")
