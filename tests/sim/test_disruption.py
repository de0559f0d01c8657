"""PodDisruptionBudget status as the disruption controller computes it (kubernetes v1.35)."""

from __future__ import annotations

import pytest
from sim_support import NS, SOUND, manifest, start

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import disruption, modelled


def pdb_doc(**spec):
    data = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "llm"},
        "spec": {"selector": {"matchLabels": {"app": "llm"}}, **spec},
    }
    return yamlfile.Document(data, "pdb.yaml", {})


def status(sim):
    (pdb,) = sim.api_objects("PodDisruptionBudget")
    return pdb["status"], pdb["metadata"]


def condition(st):
    (c,) = st["conditions"]
    assert c["type"] == "DisruptionAllowed"
    return c["status"], c["reason"]


def test_min_available_int_counts_selected_pods_and_ready_ones():
    sim = start([*manifest(replicas=3, probes=SOUND), pdb_doc(minAvailable=2)])
    sim.env.run(until=1)
    st, _ = status(sim)
    assert (st["expectedPods"], st["currentHealthy"], st["desiredHealthy"]) == (3, 0, 2)
    assert st["disruptionsAllowed"] == 0 and condition(st) == ("False", "InsufficientPods")
    sim.env.run(until=150)
    st, meta = status(sim)
    assert (st["expectedPods"], st["currentHealthy"], st["desiredHealthy"]) == (3, 3, 2)
    assert st["disruptionsAllowed"] == 1 and condition(st) == ("True", "SufficientPods")
    assert st["observedGeneration"] == meta["generation"] == 1


@pytest.mark.parametrize(
    ("spec", "desired"),
    [
        ({"maxUnavailable": 1}, 2),
        ({"maxUnavailable": "34%"}, 1),  # 1.02 pods rounds up to 2 unavailable
        ({"minAvailable": "50%"}, 2),  # 1.5 pods rounds up
        ({"minAvailable": "100%"}, 3),
    ],
)
def test_percentages_scale_from_the_owning_deployment(spec, desired):
    sim = start([*manifest(replicas=3, probes=SOUND), pdb_doc(**spec)])
    sim.env.run(until=150)
    st, _ = status(sim)
    assert (st["expectedPods"], st["desiredHealthy"], st["currentHealthy"]) == (3, desired, 3)
    assert st["disruptionsAllowed"] == 3 - desired


def test_expected_pods_follow_the_deployment_scale_before_the_pods_exist():
    sim = start([*manifest(replicas=3, probes=SOUND), pdb_doc(maxUnavailable=1)])
    sim.env.run(until=150)
    sim.scale("apps/v1", "Deployment", "llm", 6)
    sim.env.run(until=sim.env.now + 0.001)
    st, _ = status(sim)
    assert st["expectedPods"] == 6 and st["desiredHealthy"] == 5
    assert st["currentHealthy"] == 3 and st["disruptionsAllowed"] == 0


def test_terminating_pods_are_not_healthy():
    prestop = {"lifecycle": {"preStop": {"sleep": {"seconds": 10}}}}
    sim = start([*manifest(replicas=3, probes=SOUND, extra_container=prestop), pdb_doc(minAvailable=2)])
    sim.env.run(until=150)
    pod = next(iter(sim.pods.values()))
    sim.delete_pod(pod)
    sim.env.run(until=sim.env.now + 0.001)
    st, _ = status(sim)
    assert st["currentHealthy"] == 2 and st["disruptionsAllowed"] == 0
    assert st["expectedPods"] == 4, "the terminating pod and its replacement are both selected"
    sim.env.run(until=sim.env.now + 11)
    st, _ = status(sim)
    assert st["expectedPods"] == 3 and st["currentHealthy"] == 2


def test_a_spec_change_moves_generation_and_observed_generation():
    sim = start([*manifest(replicas=3, probes=SOUND), pdb_doc(minAvailable=2)])
    sim.env.run(until=150)
    sim.apply([pdb_doc(minAvailable=1)])
    sim.env.run(until=sim.env.now + 0.001)
    st, meta = status(sim)
    assert meta["generation"] == 2 and st["observedGeneration"] == 2 and st["disruptionsAllowed"] == 2


def test_no_selected_pods_allows_no_disruption_and_says_so():
    doc = pdb_doc(maxUnavailable=1)
    doc.data["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    sim = start([*manifest(replicas=1, probes=SOUND), doc])
    sim.env.run(until=150)
    st, _ = status(sim)
    assert st["expectedPods"] == 0 and st["disruptionsAllowed"] == 0
    assert [e.reason for e in sim.recorder.events if e.kind == "PodDisruptionBudget"] == ["NoPods"]


def test_int_or_percent_scaling_follows_intstr():
    assert disruption.scaled_value("25%", 3, True) == 1
    assert disruption.scaled_value("25%", 3, False) == 0
    assert disruption.scaled_value(2, 10, True) == 2
    with pytest.raises(disruption.SyncError, match="not a percentage"):
        disruption.scaled_value("2", 3, True)


def test_unmodelled_pdb_fields_are_errors_naming_the_field():
    doc = pdb_doc(minAvailable=1, unhealthyPodEvictionPolicy="AlwaysAllow")
    problems = modelled.check(doc)
    assert [p.field for p in problems] == ["spec.unhealthyPodEvictionPolicy"]
    expressions = pdb_doc(minAvailable=1)
    expressions.data["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Exists"}]}
    assert [p.field for p in modelled.check(expressions)] == ["spec.selector.matchExpressions"]


def test_the_store_holds_the_pdb_in_the_lab_namespace():
    sim = start([*manifest(replicas=1), pdb_doc(minAvailable=1)])
    assert sim.store.get("policy/v1", "PodDisruptionBudget", "llm", NS) is not None
    with pytest.raises(errors.BackendError, match="has no scale subresource"):
        sim.scale("policy/v1", "PodDisruptionBudget", "llm", 2)
