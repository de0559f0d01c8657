"""The simulated API server's object store: every object keyed by (apiVersion, kind, namespace, name).

Upstream: kubernetes v1.35 staging/src/k8s.io/apiserver/pkg/registry/rest (create, update,
delete with BeforeDelete's graceful deletion), pkg/registry/core/pod/strategy.go
(CheckGracefulDelete: an unscheduled or finished pod goes at once), and the documentation
"Garbage Collection" (https://kubernetes.io/docs/concepts/architecture/garbage-collection/):
with background propagation the owner goes first and the garbage collector then deletes each
dependent none of whose other owners still exists (it drops the dangling reference otherwise).
Modelled: metadata.uid, generation (bumped when spec changes), resourceVersion (one counter for
the store), creationTimestamp, ownerReferences, deletionTimestamp and
deletionGracePeriodSeconds for kinds that delete gracefully (pods), ``kubectl apply`` (create or
update the spec, labels and annotations; status belongs to the controllers), the ``scale``
subresource (spec.replicas), watches (ADDED, MODIFIED, DELETED per kind, delivered in the order
the changes happened). Not modelled: finalizers, foreground and orphan propagation (an error),
admission, optimistic concurrency (writes never conflict), watch bookmarks and relists.

Stored objects are typed Python objects (Pod, Deployment, ...) or ``Generic`` for kinds that are
pure spec plus a status their controller writes. Each has ``meta``, ``spec`` and
``to_api(now_s, store)``; its status lives in Python fields and is rendered on read.
"""

from __future__ import annotations

import builtins
import collections
import copy
import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any, Protocol

from slolab.sim import objects

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


@dataclasses.dataclass(frozen=True)
class OwnerReference:
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool = True
    block_owner_deletion: bool = True

    def to_api(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": self.controller,
            "blockOwnerDeletion": self.block_owner_deletion,
        }


@dataclasses.dataclass(eq=False)
class Meta:
    """ObjectMeta: what the API server tracks for every object."""

    name: str
    namespace: str = ""
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    uid: str = ""
    generation: int = 1
    resource_version: int = 0
    creation_s: float = 0.0
    owner_references: list[OwnerReference] = dataclasses.field(default_factory=list)
    deletion_s: float | None = None
    deletion_grace_period_s: float | None = None

    def controller_ref(self) -> OwnerReference | None:
        """metav1.GetControllerOf: the owner reference with controller: true."""
        return next((r for r in self.owner_references if r.controller), None)

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        out.update(
            uid=self.uid,
            resourceVersion=str(self.resource_version),
            generation=self.generation,
            creationTimestamp=objects.timestamp(self.creation_s),
            labels=dict(self.labels),
            annotations=dict(self.annotations),
        )
        if self.owner_references:
            out["ownerReferences"] = [r.to_api() for r in self.owner_references]
        if self.deletion_s is not None:
            out["deletionTimestamp"] = objects.timestamp(self.deletion_s)
            out["deletionGracePeriodSeconds"] = self.deletion_grace_period_s
        return out


class Object(Protocol):
    """What the store holds: a typed object or a Generic."""

    @property
    def api_version(self) -> str: ...

    @property
    def kind(self) -> str: ...

    meta: Meta
    spec: dict[str, Any]

    def to_api(self, now_s: float, store: Store) -> dict[str, Any]: ...


@dataclasses.dataclass(eq=False)
class Generic:
    """An object of a kind that is pure spec, plus the status dict its controller writes."""

    api_version: str
    kind: str
    meta: Meta
    spec: dict[str, Any]
    status: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: (generation, the spec it copied, the copy): to_api's spec, made once per spec
    _spec_snapshot: tuple[int, dict[str, Any], dict[str, Any]] | None = None

    def to_api(self, now_s: float, store: Store) -> dict[str, Any]:
        snap = self._spec_snapshot
        if snap is None or snap[0] != self.meta.generation or snap[1] is not self.spec:
            # kube-state-metrics renders HPAs and ScaledObjects at every scrape: copy a spec once
            snap = self._spec_snapshot = (self.meta.generation, self.spec, copy.deepcopy(self.spec))
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.meta.to_api(),
            "spec": snap[2],
            "status": copy.deepcopy(self.status),
        }


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    obj: Any


class AlreadyExistsError(Exception):
    """create() of a key that is taken (the API server's 409 AlreadyExists)."""


class NotFoundError(Exception):
    """An operation on an object the store does not hold (404 NotFound)."""


def key_of(obj: Object) -> tuple[str, str, str, str]:
    return (obj.api_version, obj.kind, obj.meta.namespace, obj.meta.name)


Handler = Callable[[WatchEvent], None]


class Store:
    """Objects, their owner index, and watches; ``now`` is the simulation clock."""

    def __init__(self, now: Callable[[], float], seed: int) -> None:
        self._now = now
        self._seed = seed
        self._objects: dict[tuple[str, str, str, str], Object] = {}
        self._by_kind: dict[tuple[str, str], dict[tuple[str, str], Object]] = {}
        self._by_uid: dict[str, Object] = {}
        self._dependents: dict[str, builtins.list[Object]] = {}  # owner uid -> controlled objects
        self._watchers: dict[tuple[str, str], builtins.list[Handler]] = {}
        self._pending: collections.deque[tuple[tuple[str, str], WatchEvent]] = collections.deque()
        self._delivering = False
        self._resource_version = 0
        self._uids = 0

    # ---- reads ---------------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Any:
        return self._objects.get((api_version, kind, namespace, name))

    def list(self, api_version: str, kind: str, namespace: str | None = None) -> builtins.list[Any]:
        """Objects of a kind in creation order (all namespaces when ``namespace`` is None)."""
        items = self._by_kind.get((api_version, kind), {})
        if namespace is None:
            return list(items.values())
        return [o for (ns, _), o in items.items() if ns == namespace]

    def by_uid(self, uid: str) -> Any:
        return self._by_uid.get(uid)

    def dependents(self, owner: Object) -> builtins.list[Any]:
        """Objects whose controller reference is ``owner``, in creation order (do not mutate)."""
        return self._dependents.get(owner.meta.uid, _EMPTY)

    def owner_of(self, obj: Object) -> Any:
        """The object named by ``obj``'s controller reference, if it still exists."""
        ref = obj.meta.controller_ref()
        return None if ref is None else self._by_uid.get(ref.uid)

    # ---- watches -------------------------------------------------------------------------------
    def watch(self, api_version: str, kind: str, handler: Handler) -> None:
        """Call ``handler`` for every later change of that kind, in the order changes happen."""
        self._watchers.setdefault((api_version, kind), []).append(handler)

    def _emit(self, type_: str, obj: Object) -> None:
        kind = (obj.api_version, obj.kind)
        if kind not in self._watchers:
            return
        self._pending.append((kind, WatchEvent(type_, obj)))
        if self._delivering:
            return  # delivered after the event being delivered now, keeping the order
        self._delivering = True
        try:
            while self._pending:
                k, event = self._pending.popleft()
                for handler in self._watchers[k]:
                    handler(event)
        finally:
            self._delivering = False

    # ---- writes --------------------------------------------------------------------------------
    def _next_rv(self) -> int:
        self._resource_version += 1
        return self._resource_version

    def _uid(self, obj: Object) -> str:
        self._uids += 1
        h = hashlib.sha256(f"{self._seed}:{self._uids}:{obj.kind}:{obj.meta.name}".encode()).hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    def create(self, obj: Object) -> Any:
        key = key_of(obj)
        if key in self._objects:
            raise AlreadyExistsError(f"{obj.kind} {obj.meta.name!r} already exists")
        meta = obj.meta
        meta.uid = meta.uid or self._uid(obj)
        meta.creation_s = self._now()
        meta.generation = 1
        meta.resource_version = self._next_rv()
        self._objects[key] = obj
        self._by_kind.setdefault((obj.api_version, obj.kind), {})[(meta.namespace, meta.name)] = obj
        self._by_uid[meta.uid] = obj
        ref = meta.controller_ref()
        if ref is not None:
            self._dependents.setdefault(ref.uid, []).append(obj)
        self._emit(ADDED, obj)
        return obj

    def update(self, obj: Object, spec_changed: bool = False) -> None:
        """Record a change of ``obj`` (made in place): new resourceVersion, MODIFIED to watchers."""
        if spec_changed:
            obj.meta.generation += 1
        obj.meta.resource_version = self._next_rv()
        self._emit(MODIFIED, obj)

    def apply(self, obj: Object) -> Any:
        """``kubectl apply``: create, or replace spec, labels and annotations of the stored object."""
        current = self._objects.get(key_of(obj))
        if current is None:
            return self.create(obj)
        spec_changed = current.spec != obj.spec
        meta_changed = (current.meta.labels, current.meta.annotations) != (
            obj.meta.labels,
            obj.meta.annotations,
        )
        if spec_changed:
            current.spec = obj.spec
        current.meta.labels, current.meta.annotations = obj.meta.labels, obj.meta.annotations
        if spec_changed or meta_changed:
            self.update(current, spec_changed)
        return current

    def scale(self, obj: Object, replicas: int) -> None:
        """The scale subresource: set spec.replicas (a spec change: generation moves)."""
        if obj.spec.get("replicas") == replicas and "replicas" in obj.spec:
            return
        obj.spec = {**obj.spec, "replicas": int(replicas)}
        self.update(obj, spec_changed=True)

    def delete(
        self, obj: Object, grace_period_s: float | None = None, propagation: str = "Background"
    ) -> None:
        """Delete ``obj``. Kinds with ``deletion_grace_s`` (pods) get a deletionTimestamp and stay
        until deleted again with grace 0 (the kubelet does that); others go at once, and the
        garbage collector then deletes their dependents."""
        if propagation != "Background":
            raise ValueError(
                f"propagationPolicy {propagation} is not modelled by the simulator (only Background)"
            )
        if self._objects.get(key_of(obj)) is not obj:
            raise NotFoundError(f"{obj.kind} {obj.meta.name!r} not found")
        graceful = getattr(obj, "deletion_grace_s", None)
        grace = graceful(grace_period_s) if graceful is not None else 0.0
        meta = obj.meta
        if grace > 0:
            if meta.deletion_s is not None and grace >= (meta.deletion_grace_period_s or 0.0):
                return  # already terminating; a longer grace period never extends it
            meta.deletion_s = self._now()
            meta.deletion_grace_period_s = grace
            self.update(obj)
            return
        self._remove(obj)

    def _remove(self, obj: Object) -> None:
        meta = obj.meta
        del self._objects[key_of(obj)]
        del self._by_kind[(obj.api_version, obj.kind)][(meta.namespace, meta.name)]
        del self._by_uid[meta.uid]
        ref = meta.controller_ref()
        if ref is not None:
            siblings = self._dependents.get(ref.uid)
            if siblings is not None:
                siblings.remove(obj)
        meta.resource_version = self._next_rv()
        self._emit(DELETED, obj)
        self._collect_garbage(obj)

    def _collect_garbage(self, owner: Object) -> None:
        """garbagecollector attemptToDeleteItem for the owner's dependents (background)."""
        uid = owner.meta.uid
        dependents = [o for o in self._objects.values() if any(r.uid == uid for r in o.meta.owner_references)]
        self._dependents.pop(uid, None)
        for dep in dependents:
            if self._objects.get(key_of(dep)) is not dep:
                continue
            solid = [r for r in dep.meta.owner_references if r.uid != uid and r.uid in self._by_uid]
            if solid:
                dep.meta.owner_references = [r for r in dep.meta.owner_references if r.uid != uid]
                self.update(dep)
            else:
                self.delete(dep)


_EMPTY: builtins.list[Any] = []
