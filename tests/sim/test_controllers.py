"""The controller interface and registry, and what the store gives controllers (owners, GC, scale)."""

from __future__ import annotations

import copy

import pytest
from sim_support import NS, SOUND, manifest, start

from slolab import errors
from slolab.catalog import yamlfile
from slolab.sim import controller, modelled, registry, replicaset, store

#: a kind no controller owns (the HorizontalPodAutoscaler is registered since sim/hpa.py)
PIN = ("example.slolab.dev/v1", "ReplicaPin")


def hpa_doc(**extra):
    data = {
        "apiVersion": PIN[0],
        "kind": PIN[1],
        "metadata": {"name": "llm"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llm"},
            "minReplicas": 1,
            "maxReplicas": 4,
            **extra,
        },
    }
    return yamlfile.Document(data, "hpa.yaml", {})


class PinToMax(controller.Controller):
    """A stand-in autoscaler, declared as a new module would: pins its target at maxReplicas."""

    name = "pin-to-max"
    owns = (
        controller.Kind(
            *PIN,
            fields=(
                *controller.META_FIELDS,
                "spec.scaleTargetRef.*",
                "spec.minReplicas",
                "spec.maxReplicas",
            ),
            new=lambda meta, spec: store.Generic(*PIN, meta, spec),
        ),
    )
    resync_s = 15.0

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.syncs: list[float] = []

    def reconcile(self) -> bool:
        st = self.api.store
        self.syncs.append(self.api.now_s)
        for hpa in st.list(*PIN):
            ref = hpa.spec["scaleTargetRef"]
            target = st.get(ref["apiVersion"], ref["kind"], ref["name"], hpa.meta.namespace)
            st.scale(target, hpa.spec["maxReplicas"])
            hpa.status = {"desiredReplicas": hpa.spec["maxReplicas"]}
            st.update(hpa)
        return True


@pytest.fixture
def with_pin_to_max(monkeypatch):
    monkeypatch.setattr(registry, "CONTROLLERS", (*registry.CONTROLLERS, PinToMax))
    modelled._compiled.cache_clear()
    yield
    modelled._compiled.cache_clear()


def test_an_unregistered_kind_is_not_modelled_naming_file_and_field():
    (problem,) = modelled.check(hpa_doc())
    assert problem.field == "kind" and "ReplicaPin (example.slolab.dev/v1) is not modelled" in problem.message
    with pytest.raises(errors.NotModelledError, match=r"hpa\.yaml"):
        start([*manifest(replicas=1), hpa_doc()])


def test_a_new_controller_is_one_module_plus_its_registration(with_pin_to_max):
    assert modelled.check(hpa_doc()) == []
    (problem,) = modelled.check(hpa_doc(metrics=[{"type": "Resource"}]))
    assert problem.field == "spec.metrics"
    sim = start([*manifest(replicas=1, probes=SOUND), hpa_doc()])
    pin = next(c for c in sim.controllers if isinstance(c, PinToMax))
    sim.env.run(until=40)
    assert [t for t in pin.syncs if t > 0] == [15, 30], "periodic: once per resync_s"
    (hpa,) = sim.api_objects("ReplicaPin")
    assert hpa["status"] == {"desiredReplicas": 4}
    (dep,) = sim.api_objects("Deployment")
    assert dep["spec"]["replicas"] == 4 and dep["metadata"]["generation"] == 2
    assert len(sim.pods) == 4


def test_replicasets_owned_by_another_controller_are_managed_and_counted():
    docs = manifest(replicas=1, probes=SOUND)
    sim = start(docs[1:])  # the Service only
    st = sim.store
    owner = st.create(
        # a kind no simulated controller owns (the Rollout has its own controller, sim/rollout.py)
        store.Generic("example.dev/v1alpha1", "Canary", store.Meta("canary", NS), {"replicas": 2})
    )
    template = copy.deepcopy(docs[0].data["spec"]["template"])
    st.create(
        replicaset.ReplicaSet(
            store.Meta(
                "canary-abc",
                NS,
                owner_references=[
                    store.OwnerReference("example.dev/v1alpha1", "Canary", "canary", owner.meta.uid)
                ],
            ),
            {"replicas": 2, "selector": {"matchLabels": {"app": "llm"}}, "template": template},
        )
    )
    sim.env.run(until=150)
    pods = list(sim.pods.values())
    assert len(pods) == 2 and all(p.owner == "canary-abc" and p.ready for p in pods)
    api_pod = sim.api_objects("Pod")[0]
    (ref,) = api_pod["metadata"]["ownerReferences"]
    assert ref["kind"] == "ReplicaSet" and ref["controller"] is True and ref["uid"]
    st.delete(owner)  # background propagation: the ReplicaSet goes, then its pods terminate
    assert st.get("apps/v1", "ReplicaSet", "canary-abc", NS) is None
    assert all(p.terminating for p in sim.pods.values())


def test_deleting_a_deployment_collects_replicasets_and_pods_gracefully():
    sim = start(manifest(replicas=2, probes=SOUND))
    sim.env.run(until=150)
    sim.delete("apps/v1", "Deployment", "llm")
    assert sim.api_objects("ReplicaSet") == []
    assert all(p.terminating for p in sim.pods.values()) and len(sim.pods) == 2
    assert sim.api_objects("Endpoints")[0]["subsets"] == []
    sim.env.run(until=sim.env.now + 31)
    assert sim.pods == {}


def test_revision_history_limit_deletes_the_oldest_idle_replicasets():
    docs = manifest(replicas=1, probes=SOUND)
    docs[0].data["spec"]["revisionHistoryLimit"] = 1
    sim = start(docs)
    for t in (150, 400, 650):
        sim.env.run(until=t)
        if t < 650:
            sim.rollout_restart("llm")
    revisions = sorted(
        int(rs["metadata"]["annotations"][replicaset.REVISION]) for rs in sim.api_objects("ReplicaSet")
    )
    assert revisions == [2, 3], "the new ReplicaSet and one old one"


def test_scale_subresource_of_a_deployment():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=10)
    sim.scale("apps/v1", "Deployment", "llm", 3)
    sim.env.run(until=sim.env.now + 1)
    (dep,) = sim.api_objects("Deployment")
    assert dep["spec"]["replicas"] == 3 and dep["metadata"]["generation"] == 2
    assert len(sim.pods) == 3
    with pytest.raises(errors.BackendError, match="no Deployment 'nope'"):
        sim.scale("apps/v1", "Deployment", "nope", 3)


def test_every_owned_kind_is_owned_once_and_has_a_source():
    kinds = registry.kinds()
    assert set(registry.applyable()) == {
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("policy/v1", "PodDisruptionBudget"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("argoproj.io/v1alpha1", "Rollout"),
        ("argoproj.io/v1alpha1", "AnalysisTemplate"),
        ("argoproj.io/v1alpha1", "ClusterAnalysisTemplate"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("apps/v1", "DaemonSet"),
        ("chaos-mesh.org/v1alpha1", "PodChaos"),
        ("chaos-mesh.org/v1alpha1", "NetworkChaos"),
        ("chaos-mesh.org/v1alpha1", "Schedule"),
    }
    assert {("apps/v1", "ReplicaSet"), ("v1", "Pod"), ("v1", "Endpoints"), ("v1", "Node")} <= set(kinds)
    for cls in registry.CONTROLLERS:
        doc = __import__(cls.__module__, fromlist=["_"]).__doc__
        assert "Upstream:" in doc, f"{cls.__module__} must name its upstream source"


def test_reapplying_a_changed_template_rolls_out_and_keeps_status():
    docs = manifest(replicas=2, probes=SOUND)
    sim = start(docs)
    sim.env.run(until=150)
    changed = copy.deepcopy(docs[0].data)
    changed["spec"]["template"]["metadata"]["labels"]["release"] = "b"
    changed["spec"]["selector"]["matchLabels"] = {"app": "llm"}
    sim.apply([yamlfile.Document(changed, "deployment.yaml", {})])
    (dep,) = sim.api_objects("Deployment")
    assert dep["metadata"]["generation"] == 2 and dep["status"]["readyReplicas"] == 2
    sim.env.run(until=sim.env.now + 300)
    (dep,) = sim.api_objects("Deployment")
    assert dep["status"]["observedGeneration"] == 2 and dep["status"]["updatedReplicas"] == 2
    assert len(sim.api_objects("ReplicaSet")) == 2
    assert all(p.labels.get("release") == "b" for p in sim.pods.values())


def test_public_operations_name_what_is_missing():
    sim = start(manifest(replicas=1, probes=SOUND))
    sim.env.run(until=10)
    with pytest.raises(errors.BackendError, match="no Node 'nope'"):
        sim.set_node_ready("nope", False)
    pod = next(iter(sim.pods.values()))
    with pytest.raises(errors.BackendError, match="has no container 'sidecar'"):
        sim.kill_container(pod.name, "sidecar")
