"""Model versions by image tag (scenario.yaml model.versions; sim/modelversion.py): a regressed
version is slower to its first token and fails requests, and the vLLM series tell the versions
apart by the pods' rollouts-pod-template-hash label (PodMonitor podTargetLabels, as
kube-prometheus-stack relabels a pod label onto the target)."""

from __future__ import annotations

import math
import random

import pytest
from rollout_support import ROLLOUT, rollout_docs

from slolab import errors
from slolab.catalog import kindconfig, presets, schema, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab.sim import cluster as cluster_mod
from slolab.sim import modelversion, traffic

SCENARIO = "llama-8b-h100-canary"
NS = "lab-test"


def canary_sim(tag="0.1.0", replicas=2):
    sc = scenario_mod.load(SCENARIO)
    docs = rollout_docs([{"setWeight": 50}, {"pause": {}}], replicas=replicas)
    docs[0].data["spec"]["template"]["spec"]["containers"][0]["image"] = f"slolab/serve:{tag}"
    _, specs = kindconfig.load()
    sim = cluster_mod.Cluster(sc, cluster_mod.build_nodes(sc, specs), 1, NS)
    sim.apply(docs)
    return sim, docs


def test_image_tag():
    assert modelversion.image_tag("slolab/serve:0.2.0") == "0.2.0"
    assert modelversion.image_tag("localhost:5000/slolab/serve") == "latest"
    assert modelversion.image_tag("slolab/serve:0.1.0@sha256:abc") == "0.1.0"


def test_a_tag_the_scenario_does_not_list_is_an_error():
    with pytest.raises(errors.NotModelledError) as e:
        canary_sim(tag="9.9.9")
    text = str(e.value)
    assert "spec.template.spec.containers[0].image" in text
    assert "image tag '9.9.9' is not a model version of scenario llama-8b-h100-canary" in text
    assert "0.1.0, 0.2.0, 0.2.1" in text


def test_a_bad_version_names_the_file_and_field():
    doc = yamlfile.Document(
        {
            "name": "x",
            "title": "x",
            "description": "x",
            "model": {
                "preset": "llama-3.1-8b-h100",
                "served_model_name": "m",
                "load_time_s": {"distribution": "constant", "value": 1},
                "versions": {"0.2.0": {"error_rate": 1.5, "ttft_factor": 0.5}},
            },
            "topology": {"pools": []},
            "traffic": {},
        },
        "scenarios/x/scenario.yaml",
        {},
    )
    with pytest.raises(errors.InputError) as e:
        schema.validate(scenario_mod.Scenario, doc, "scenario")
    text = str(e.value)
    assert "model.versions.0.2.0.error_rate" in text and "model.versions.0.2.0.ttft_factor" in text


def test_the_regressed_preset_scales_prefill_and_front_end():
    sc = scenario_mod.load(SCENARIO)
    base = presets.PRESETS[sc.model.preset]
    tag, version = modelversion.lookup("slolab/serve:0.2.0", sc)
    p = modelversion.preset_of(base, tag, version)
    assert (p.toh_ms, p.a_p_ms, p.api_ms_mean) == pytest.approx(
        (3 * base.toh_ms, 3 * base.a_p_ms, 3 * base.api_ms_mean)
    )
    assert (p.t0_ms, p.a_kv_ms, p.kv_capacity_tokens) == (base.t0_ms, base.a_kv_ms, base.kv_capacity_tokens)
    assert modelversion.preset_of(base, *modelversion.lookup("slolab/serve:0.2.1", sc)) is base


def test_versions_differ_in_ttft_and_errors_by_pod_template_hash():
    """At low load TTFT is the front-end overhead plus one prefill, so the regressed version's
    median TTFT is about ttft_factor (3) times the healthy one's; about error_rate (5%) of the
    requests it takes fail with HTTP 500 and are counted as finished_reason="error"."""
    sim, docs = canary_sim(replicas=2)
    sim.env.run(until=150)
    stable_hash = sim.get(*ROLLOUT, "llm").stable_hash
    changed = docs[0]
    changed.data["spec"]["template"]["spec"]["containers"][0]["image"] = "slolab/serve:0.2.0"
    sim.apply([changed])
    sim.env.run(until=300)  # one canary pod next to one stable pod (setWeight 50 of 2)
    canary_hash = sim.get(*ROLLOUT, "llm").current_pod_hash
    profile = sim.scenario.profile("chat-steady").model_copy(update={"rate_rps": 4.0})
    loop = traffic.OpenLoop(sim.env, "p", profile, random.Random(2), lambda r, at: sim.send("llm", r, at))
    sim.env.run(until=900)
    sim.sync_engines()
    by_pod = {p.name: p.labels.get("rollouts-pod-template-hash") for p in sim.pods.values()}
    done = [r for r in loop.requests if r.finish_s is not None]
    ttft = {
        h: sorted(r.ttft_s for r in done if r.ok and by_pod.get(r.pod) == h)
        for h in (stable_hash, canary_hash)
    }
    median = {h: v[len(v) // 2] for h, v in ttft.items()}
    assert 2.4 < median[canary_hash] / median[stable_hash] < 3.6
    to_canary = [r for r in done if by_pod.get(r.pod) == canary_hash]
    failed = [r for r in to_canary if r.status == 500]
    assert 0.03 < len(failed) / len(to_canary) < 0.07
    assert not any(r.status == 500 for r in done if by_pod.get(r.pod) == stable_hash)
    q = 'sum by (rollouts_pod_template_hash) (vllm:request_success_total{finished_reason="error"})'
    errors_by_hash = {
        s["metric"]["rollouts_pod_template_hash"]: float(s["value"][1]) for s in sim.prom_query(q)
    }
    assert errors_by_hash[stable_hash] == 0
    assert math.isclose(errors_by_hash[canary_hash], len(failed), abs_tol=len(failed) * 0.05 + 2)
