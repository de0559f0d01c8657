"""scenarios/llama-8b-h100-autoscale: its chart values render valid Kubernetes, its GPU pool
holds four replicas and no more, a new replica costs an image pull (first on the node) plus
model load, and its chat-ramp profile has the shape its README states."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from slolab import paths
from slolab.catalog import k8svalidate, kindconfig, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab.run import timeline
from slolab.sim import cluster as cluster_mod
from slolab.workspace import render

NAME = "llama-8b-h100-autoscale"
NS = "lab-test"


@pytest.fixture(scope="module")
def scenario() -> scenario_mod.Scenario:
    return scenario_mod.load(NAME)


def rendered(tmp_path: Path, *overlays: dict) -> list[yamlfile.Document]:
    values = yaml.safe_load((paths.scenarios_dir() / NAME / "values.yaml").read_text(encoding="utf-8"))
    docs = []
    for f in render.render("llm-serving", [values, *overlays], namespace=NS):
        path = tmp_path / f.name
        path.write_text(f.text, encoding="utf-8")
        docs.extend(yamlfile.load_all(path, display=f.name))
    return docs


def start(
    scenario: scenario_mod.Scenario, docs: list[yamlfile.Document], seed: int = 1
) -> cluster_mod.Cluster:
    _, specs = kindconfig.load()
    sim = cluster_mod.Cluster(scenario, cluster_mod.build_nodes(scenario, specs), seed, NS)
    sim.apply([d for d in docs if d.data["kind"] in ("Deployment", "Service")])
    return sim


def events(sim: cluster_mod.Cluster, reason: str) -> list:
    return [e for e in sim.recorder.events if e.reason == reason]


def test_values_render_valid_kubernetes_with_a_cpu_request(helm: Path, tmp_path: Path) -> None:
    docs = rendered(tmp_path)
    assert not [p for d in docs if d.data["kind"] != "PodMonitor" for p in k8svalidate.validate(d)]
    deployment = next(d.data for d in docs if d.data["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"] == "500m"  # what a CPU-utilisation HPA divides by
    assert deployment["spec"]["replicas"] == 1
    with_hpa = rendered(tmp_path, {"hpa": {"enabled": True}})
    assert {d.data["kind"] for d in with_hpa} >= {"Deployment", "HorizontalPodAutoscaler", "PodMonitor"}


def test_the_pool_holds_four_replicas_and_a_fifth_is_pending(helm: Path, tmp_path: Path, scenario) -> None:
    sim = start(scenario, rendered(tmp_path, {"replicaCount": 5}))
    sim.env.run(until=10)
    scheduled = [p for p in sim.pods.values() if p.node]
    assert len(scheduled) == 4
    failed = events(sim, timeline.FAILED_SCHEDULING)
    assert failed and "Insufficient nvidia.com/gpu" in failed[0].message, [e.message for e in failed]


def test_a_new_replica_pulls_on_a_fresh_node_then_loads_the_model(
    helm: Path, tmp_path: Path, scenario
) -> None:
    """The first pod on the GPU node pulls the image (60-180 s), the model loads (100-150 s);
    a pod started later on the same node finds the image present and only loads."""
    sim = start(scenario, rendered(tmp_path))
    sim.env.run(until=400)
    (first,) = sim.pods.values()
    pulled = [e for e in events(sim, timeline.PULLED) if e.name == first.name]
    assert pulled and "Successfully pulled image" in pulled[0].message
    ready_s = next(e.time_s for e in events(sim, timeline.READY) if e.name == first.name)
    assert 60 + 100 <= ready_s <= 180 + 150 + 5 + 10  # pull + load + container start + probe period
    sim.scale("apps/v1", "Deployment", "llm", 2)
    scaled_at = sim.env.now
    sim.env.run(until=scaled_at + 300)
    (second,) = [p for p in sim.pods.values() if p.name != first.name]
    assert not [e for e in events(sim, timeline.PULLING) if e.name == second.name]
    (present,) = [e for e in events(sim, timeline.PULLED) if e.name == second.name]
    assert "already present on machine" in present.message  # as kubelet's EnsureImageExists says
    ready_s = next(e.time_s for e in events(sim, timeline.READY) if e.name == second.name) - scaled_at
    assert 100 <= ready_s <= 150 + 5 + 10


def test_chat_ramp_has_the_stated_shape(scenario) -> None:
    profile = scenario.traffic["chat-ramp"]
    assert profile.rate_rps == 5 and profile.peak_rps == 15
    assert [profile.rate_at(t) for t in (0, 180, 330, 480, 960, 1020, 1440)] == [5, 5, 10, 15, 15, 5, 5]
    assert profile.duration_s == 1440
    assert profile.expected_requests(0, profile.duration_s) == pytest.approx(13800)
    steady = scenario.traffic["rag-steady"]
    assert (steady.prompt_tokens, steady.output_tokens) == (profile.prompt_tokens, profile.output_tokens)


def test_the_kind_reservation_leaves_the_pool_size_free(scenario) -> None:
    """On kind the fake GPU worker advertises the platform's gpuCount; the reservation holds the
    difference, so the model server finds as many free GPUs as the simulator's pool has."""
    path = paths.scenarios_dir() / NAME / "kind-gpu-reservation.yaml"
    (doc,) = yamlfile.load_all(path, display=f"scenarios/{NAME}/kind-gpu-reservation.yaml")
    assert not k8svalidate.validate(doc)
    held = doc.data["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
    platform = yaml.safe_load(
        (paths.charts_dir() / "slolab-platform" / "values.yaml").read_text(encoding="utf-8")
    )
    pools = platform["fake-gpu-operator"]["topology"]["nodePools"]
    (advertised,) = {pool["gpuCount"] for pool in pools.values()}
    (gpu_pool,) = [p for p in scenario.topology.pools if "nvidia.com/gpu" in p.capacity]
    assert advertised - held == int(gpu_pool.capacity["nvidia.com/gpu"]) == 4
    assert doc.data["spec"]["template"]["spec"]["nodeSelector"] == gpu_pool.match_labels
