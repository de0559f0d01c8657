"""The simulator's object store against the API server's documented semantics."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import pytest

from slolab.sim import store


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def make(kind: str, name: str, spec: dict[str, Any] | None = None, owners=(), api_version="apps/v1"):
    meta = store.Meta(name, "ns", owner_references=list(owners))
    return store.Generic(api_version, kind, meta, spec or {})


def ref(obj, controller: bool = True) -> store.OwnerReference:
    return store.OwnerReference(obj.api_version, obj.kind, obj.meta.name, obj.meta.uid, controller)


@dataclasses.dataclass(eq=False)
class GracefulPod:
    """A pod-like object that asks for graceful deletion, as objects.Pod does."""

    api_version: ClassVar[str] = "v1"
    kind: ClassVar[str] = "Pod"
    meta: store.Meta
    spec: dict[str, Any]

    def deletion_grace_s(self, requested_s: float | None) -> float:
        return 30.0 if requested_s is None else requested_s

    def to_api(self, now_s, st):
        return {"metadata": self.meta.to_api()}


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def st(clock):
    return store.Store(clock, seed=1)


def test_create_sets_uid_generation_resource_version_and_creation_time(st, clock):
    clock.now_s = 12.0
    a = st.create(make("Deployment", "a"))
    b = st.create(make("Deployment", "b"))
    assert a.meta.uid and a.meta.uid != b.meta.uid
    assert a.meta.generation == 1 and a.meta.creation_s == 12.0
    assert b.meta.resource_version > a.meta.resource_version
    api = a.to_api(0.0, st)["metadata"]
    assert api["creationTimestamp"] == "2026-01-01T00:00:12Z" and api["resourceVersion"] == str(
        a.meta.resource_version
    )
    with pytest.raises(store.AlreadyExistsError):
        st.create(make("Deployment", "a"))


def test_apply_bumps_generation_only_when_spec_changes_and_keeps_status(st):
    a = st.apply(make("Deployment", "a", {"replicas": 1}))
    a.status = {"readyReplicas": 1}
    rv = a.meta.resource_version
    same = st.apply(make("Deployment", "a", {"replicas": 1}))
    assert same is a and a.meta.generation == 1 and a.meta.resource_version == rv
    relabelled = make("Deployment", "a", {"replicas": 1})
    relabelled.meta.labels = {"team": "x"}
    st.apply(relabelled)
    assert a.meta.generation == 1 and a.meta.resource_version > rv and a.meta.labels == {"team": "x"}
    st.apply(make("Deployment", "a", {"replicas": 2}))
    assert a.meta.generation == 2 and a.spec == {"replicas": 2}
    assert a.status == {"readyReplicas": 1}, "apply never touches status"


def test_scale_subresource_sets_replicas_and_generation(st):
    a = st.create(make("Deployment", "a", {"replicas": 1, "template": {}}))
    st.scale(a, 4)
    assert a.spec == {"replicas": 4, "template": {}} and a.meta.generation == 2
    st.scale(a, 4)
    assert a.meta.generation == 2


def test_the_api_view_follows_every_spec_change_and_is_not_the_stored_spec(st):
    """A GET returns the object as stored at that resourceVersion: after a scale, an apply or an
    in-place change recorded as a spec change, the view has the new spec; it is a copy."""
    a = st.create(make("Deployment", "a", {"replicas": 1, "template": {"x": 1}}))
    view = a.to_api(0.0, st)
    assert view["spec"] == {"replicas": 1, "template": {"x": 1}}
    assert view["spec"] is not a.spec and view["spec"]["template"] is not a.spec["template"]
    st.scale(a, 3)
    assert a.to_api(0.0, st)["spec"]["replicas"] == 3
    st.apply(make("Deployment", "a", {"replicas": 3, "template": {"x": 2}}))
    assert a.to_api(0.0, st)["spec"]["template"] == {"x": 2}
    a.spec["template"]["x"] = 3
    st.update(a, spec_changed=True)
    assert a.to_api(0.0, st)["spec"]["template"] == {"x": 3}


def test_watch_delivers_added_modified_deleted_in_order_even_when_handlers_write(st):
    seen: list[tuple[str, str]] = []

    def on_rs(event):
        seen.append((event.type, event.obj.meta.name))
        if event.type == store.ADDED and event.obj.meta.name == "rs1":
            st.create(make("ReplicaSet", "rs2"))  # a write inside a handler: delivered after this one

    st.watch("apps/v1", "ReplicaSet", on_rs)
    st.watch("apps/v1", "ReplicaSet", lambda e: seen.append(("second", e.obj.meta.name)))
    rs1 = st.create(make("ReplicaSet", "rs1"))
    st.update(rs1)
    st.delete(rs1)
    assert seen == [
        ("ADDED", "rs1"),
        ("second", "rs1"),
        ("ADDED", "rs2"),
        ("second", "rs2"),
        ("MODIFIED", "rs1"),
        ("second", "rs1"),
        ("DELETED", "rs1"),
        ("second", "rs1"),
    ]


def test_dependents_are_found_through_the_controller_reference(st):
    d = st.create(make("Deployment", "d"))
    rollout = st.create(make("Rollout", "r", api_version="argoproj.io/v1alpha1"))
    rs1 = st.create(make("ReplicaSet", "rs1", owners=[ref(d)]))
    rs2 = st.create(make("ReplicaSet", "rs2", owners=[ref(rollout)]))
    assert st.dependents(d) == [rs1] and st.dependents(rollout) == [rs2]
    assert st.owner_of(rs2) is rollout


def test_delete_collects_dependents_in_the_background(st):
    d = st.create(make("Deployment", "d"))
    rs = st.create(make("ReplicaSet", "rs", owners=[ref(d)]))
    pod = st.create(make("Pod", "p", owners=[ref(rs)], api_version="v1"))
    deleted: list[str] = []
    for kind, api_version in (("Deployment", "apps/v1"), ("ReplicaSet", "apps/v1"), ("Pod", "v1")):
        st.watch(
            api_version, kind, lambda e: deleted.append(e.obj.meta.name) if e.type == store.DELETED else None
        )
    st.delete(d)
    assert deleted == ["d", "rs", "p"], "the owner goes first, then each generation of dependents"
    assert st.get("v1", "Pod", "p", "ns") is None and st.by_uid(pod.meta.uid) is None


def test_a_dependent_with_another_live_owner_survives_without_the_dangling_reference(st):
    a = st.create(make("Deployment", "a"))
    b = st.create(make("Deployment", "b"))
    shared = st.create(make("ConfigMap", "shared", owners=[ref(a, False), ref(b, False)], api_version="v1"))
    st.delete(a)
    assert st.get("v1", "ConfigMap", "shared", "ns") is shared
    assert [r.name for r in shared.meta.owner_references] == ["b"]
    st.delete(b)
    assert st.get("v1", "ConfigMap", "shared", "ns") is None


def test_graceful_deletion_sets_deletion_timestamp_until_deleted_with_grace_zero(st, clock):
    pod = st.create(GracefulPod(store.Meta("p", "ns"), {}))
    events: list[str] = []
    st.watch("v1", "Pod", lambda e: events.append(e.type))
    clock.now_s = 5.0
    st.delete(pod)
    assert pod.meta.deletion_s == 5.0 and pod.meta.deletion_grace_period_s == 30.0
    assert pod.to_api(0, st)["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:05Z"
    st.delete(pod, grace_period_s=60)  # a longer grace period never extends a deletion
    assert pod.meta.deletion_grace_period_s == 30.0
    st.delete(pod, grace_period_s=10)  # a shorter one does
    assert pod.meta.deletion_grace_period_s == 10.0
    assert st.get("v1", "Pod", "p", "ns") is pod
    st.delete(pod, grace_period_s=0)
    assert st.get("v1", "Pod", "p", "ns") is None
    assert events == ["MODIFIED", "MODIFIED", "DELETED"]


def test_unmodelled_propagation_and_missing_objects_are_errors(st):
    d = st.create(make("Deployment", "d"))
    with pytest.raises(ValueError, match="propagationPolicy Foreground is not modelled"):
        st.delete(d, propagation="Foreground")
    st.delete(d)
    with pytest.raises(store.NotFoundError):
        st.delete(d)
