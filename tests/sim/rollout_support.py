"""Rollouts, AnalysisTemplates and a controlled metric for the Argo Rollouts tests (tests/sim)."""

from __future__ import annotations

import copy

from sim_support import NS, SOUND, manifest, start

from slolab.catalog import yamlfile
from slolab.sim import rollout, scrape

ROLLOUT = ("argoproj.io/v1alpha1", "Rollout")
PROM = "http://kps-prometheus.slolab-system.svc:9090"


def rollout_docs(steps, replicas=4, surge=1, unavailable=0, analysis=None, services=False, extra=()):
    """The llm Rollout (the sim_support Deployment's pod template, canary strategy), its Service,
    PodMonitor, and with ``services`` the llm-canary and llm-stable Services."""
    docs = manifest(replicas=replicas, probes=SOUND)
    dep = docs[0].data
    canary = {"maxSurge": surge, "maxUnavailable": unavailable, "steps": steps}
    if analysis:
        canary["analysis"] = analysis
    if services:
        canary.update(canaryService="llm-canary", stableService="llm-stable")
    ro = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "llm"},
        "spec": {
            "replicas": replicas,
            "selector": dep["spec"]["selector"],
            "template": dep["spec"]["template"],
            "strategy": {"canary": canary},
        },
    }
    out = [yamlfile.Document(ro, "rollout.yaml", {}), *docs[1:]]
    if services:
        for name in ("llm-canary", "llm-stable"):
            svc = copy.deepcopy(docs[1].data)
            svc["metadata"]["name"] = name
            out.append(yamlfile.Document(svc, f"{name}.yaml", {}))
    return out + [yamlfile.Document(d, "analysistemplate.yaml", {}) for d in extra]


def template(name="check", query="demand", args=(), **metric):
    """An AnalysisTemplate with one prometheus metric."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {
            "args": [{"name": a} for a in args],
            "metrics": [
                {"name": "m", **metric, "provider": {"prometheus": {"address": PROM, "query": query}}}
            ],
        },
    }


def deployed(docs, until=300):
    """A cluster with ``docs`` applied and the first revision rolled out."""
    sim = start(docs)
    sim.env.run(until=until)
    return sim


def update(sim, docs, arg="--max-num-seqs=128"):
    """A new pod template (one more server argument): the canary starts."""
    doc = copy.deepcopy(docs[0])
    doc.data["spec"]["template"]["spec"]["containers"][0]["args"].append(arg)
    sim.apply([doc])


def get(sim):
    return sim.get(*ROLLOUT, "llm")


def status(sim):
    (ro,) = sim.api_objects("Rollout")
    return ro["status"]


def replicas(sim):
    """(canary ReplicaSet's spec.replicas, stable's), by the Rollout's status."""
    ro = get(sim)
    new = ro.rs_by_hash(sim.store, ro.current_pod_hash)
    stable = ro.rs_by_hash(sim.store, ro.stable_hash)
    return (new.replicas if new else 0), (stable.replicas if stable and stable is not new else 0)


def promote(sim, full=False):
    rollout.promote(sim.store, get(sim), full=full)


def abort(sim):
    rollout.abort(sim.store, get(sim), sim.env.now)


def set_metric(sim, value, name="demand"):
    """A gauge the tests control, as if scraped now."""
    sim.tsdb.append({"__name__": name, "namespace": NS}, scrape.STAMP_OFFSET_S + sim.env.now, value)


def runs(sim):
    return {r["metadata"]["name"]: r for r in sim.api_objects("AnalysisRun")}
