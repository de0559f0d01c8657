"""Manifests and a cluster factory for the simulator's Kubernetes tests (tests/sim)."""

from __future__ import annotations

from slolab.catalog import kindconfig, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab.sim import cluster as cluster_mod

NS = "lab-test"

PROBE = {"httpGet": {"path": "/health", "port": "http"}}


def manifest(
    replicas=3,
    probes=None,
    strategy=None,
    resources=None,
    tolerations=True,
    node_selector=True,
    extra_container=None,
    podmonitor=True,
):
    """The llm Deployment and Service (and, with ``podmonitor``, the PodMonitor that
    charts/llm-serving renders with the scenarios' values: without one nothing scrapes the
    model servers, as on kind)."""
    container = {
        "name": "server",
        "image": "slolab/serve:0.1.0",
        "command": ["slolab", "serve"],
        "args": ["--preset=llama-3.1-8b-h100", "--port=8000", "--max-model-len=8192"],
        "ports": [{"name": "http", "containerPort": 8000}],
        "resources": resources if resources is not None else {"limits": {"nvidia.com/gpu": 1}},
        **(probes or {}),
        **(extra_container or {}),
    }
    spec = {"containers": [container]}
    if tolerations:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if node_selector:
        spec["nodeSelector"] = {"slolab.dev/pool": "gpu"}
    labels = {"app": "llm"}
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "llm"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }
    if strategy:
        dep["spec"]["strategy"] = strategy
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "llm"},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": "http"}]},
    }
    docs = [yamlfile.Document(dep, "deployment.yaml", {}), yamlfile.Document(svc, "service.yaml", {})]
    if podmonitor:
        pm = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PodMonitor",
            "metadata": {"name": "llm"},
            "spec": {
                "selector": {"matchLabels": labels},
                "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
                "podTargetLabels": ["rollouts-pod-template-hash"],
            },
        }
        docs.append(yamlfile.Document(pm, "podmonitor.yaml", {}))
    return docs


def start(docs, seed=1, cached_images=None) -> cluster_mod.Cluster:
    """A simulated cluster of the llama-8b-h100 scenario with ``docs`` applied in lab-test."""
    scenario = scenario_mod.load("llama-8b-h100")
    if cached_images is not None:
        topology = scenario.topology.model_copy(update={"cached_images": cached_images})
        scenario = scenario.model_copy(update={"topology": topology})
    _, specs = kindconfig.load()
    sim = cluster_mod.Cluster(scenario, cluster_mod.build_nodes(scenario, specs), seed, NS)
    sim.apply(docs)
    return sim


def events(sim, reason, pod=None):
    return [e for e in sim.recorder.events if e.reason == reason and (pod is None or e.name == pod)]


SOUND = {
    "startupProbe": {**PROBE, "periodSeconds": 10, "failureThreshold": 30},
    "readinessProbe": {**PROBE, "periodSeconds": 5},
    "livenessProbe": {**PROBE, "periodSeconds": 10, "failureThreshold": 3},
}
