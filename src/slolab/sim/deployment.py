"""Deployment controller: rolling updates and recreate, as the upstream controller does them.

Upstream: kubernetes v1.35 pkg/controller/deployment/{rolling.go,recreate.go,sync.go,progress.go}
and util/deployment_util.go. Modelled: the pod-template-hash ReplicaSet per template;
RollingUpdate with maxSurge (rounded up) / maxUnavailable (rounded down, and 1 when both are 0,
ResolveFenceposts); NewRSNewReplicas; reconcileOldReplicaSets with cleanupUnhealthyReplicas and
scaleDownOldReplicaSetsForRollingUpdate; Recreate; status replicas / updated / ready /
available; conditions Available and Progressing with progressDeadlineSeconds (default 600 s);
``kubectl rollout restart`` (restartedAt annotation); ReplicaSets are its through their controller
ownerReference (getReplicaSetsForDeployment); cleanupDeployment deletes the oldest ReplicaSets with
no replicas beyond revisionHistoryLimit (default 10). Not modelled: pause/resume, rollback
(``kubectl rollout undo``), proportional scaling of a Deployment resized mid-rollout, adoption of
ReplicaSets by selector.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from typing import Any, ClassVar

from slolab import errors
from slolab.catalog import yamlfile
from slolab.run import timeline
from slolab.sim import controller, objects, replicaset, store

_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # rand.SafeEncodeString alphabet


def template_hash(template: dict[str, Any]) -> str:
    """A stable pod-template-hash (upstream: fnv32a of the template, safe-encoded)."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def scaled_value(value: int | str | None, total: int, round_up: bool, default: str) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    value = default if value is None else value
    if isinstance(value, int):
        return value
    pct = float(str(value).rstrip("%"))
    x = pct * total / 100.0
    return math.ceil(x) if round_up else math.floor(x)


@dataclasses.dataclass(eq=False)
class Deployment:
    api_version: ClassVar[str] = "apps/v1"
    kind: ClassVar[str] = "Deployment"

    meta: store.Meta
    spec: dict[str, Any]
    observed_generation: int = 0
    last_progress_s: float = 0.0
    progress_deadline_exceeded: bool = False
    progress_marker: tuple[int, ...] = ()
    _spec_snapshot: tuple[int, dict[str, Any]] | None = None
    _hash_snapshot: tuple[int, str] | None = None

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def generation(self) -> int:
        return self.meta.generation

    # ---- spec accessors with API defaults -------------------------------------------------
    @property
    def replicas(self) -> int:
        return int(self.spec.get("replicas", 1))

    @property
    def template(self) -> dict[str, Any]:
        return self.spec["template"]

    @property
    def min_ready_s(self) -> float:
        return float(self.spec.get("minReadySeconds", 0))

    @property
    def progress_deadline_s(self) -> float:
        return float(self.spec.get("progressDeadlineSeconds", 600))

    @property
    def revision_history_limit(self) -> int:
        return int(self.spec.get("revisionHistoryLimit", 10))

    @property
    def strategy(self) -> str:
        return (self.spec.get("strategy") or {}).get("type", "RollingUpdate")

    def fenceposts(self) -> tuple[int, int]:
        """(maxSurge, maxUnavailable) resolved against spec.replicas (ResolveFenceposts)."""
        rolling = (self.spec.get("strategy") or {}).get("rollingUpdate") or {}
        surge = scaled_value(rolling.get("maxSurge"), self.replicas, True, "25%")
        unavailable = scaled_value(rolling.get("maxUnavailable"), self.replicas, False, "25%")
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable

    def max_unavailable(self) -> int:
        if self.strategy != "RollingUpdate" or self.replicas == 0:
            return 0
        return min(self.fenceposts()[1], self.replicas)

    # ---- ReplicaSets (found through their controller ownerReference) -----------------------------
    def replicasets(self, st: store.Store) -> list[replicaset.ReplicaSet]:
        return st.dependents(self)

    def template_hash(self) -> str:
        """The pod-template-hash of the current template, computed once per generation."""
        if self._hash_snapshot is None or self._hash_snapshot[0] != self.generation:
            self._hash_snapshot = (self.generation, template_hash(self.template))
        return self._hash_snapshot[1]

    def new_rs(self, st: store.Store) -> replicaset.ReplicaSet | None:
        want = self.template_hash()
        return next((rs for rs in st.dependents(self) if rs.template_hash == want), None)

    def old_rss(self, st: store.Store) -> list[replicaset.ReplicaSet]:
        new = self.new_rs(st)
        return sorted((rs for rs in st.dependents(self) if rs is not new), key=lambda rs: rs.created_s)

    # ---- status -------------------------------------------------------------------------------
    def status(self, st: store.Store, now_s: float) -> dict[str, int]:
        rss = st.dependents(self)
        new = self.new_rs(st)
        pods = [p for rs in rss for p in rs.active_pods(st)]
        available = sum(rs.available_replicas(st, now_s) for rs in rss)
        replicas = len(pods)
        return {
            "replicas": replicas,
            "updatedReplicas": len(new.active_pods(st)) if new else 0,
            "readyReplicas": sum(1 for p in pods if p.ready),
            "availableReplicas": available,
            "unavailableReplicas": max(0, replicas - available),
        }

    def complete(self, st: store.Store, now_s: float) -> bool:
        """DeploymentComplete: what ``kubectl rollout status`` waits for."""
        status = self.status(st, now_s)
        return (
            status["updatedReplicas"] == self.replicas
            and status["replicas"] == self.replicas
            and status["availableReplicas"] == self.replicas
            and self.observed_generation >= self.generation
        )

    def _spec_copy(self) -> dict[str, Any]:
        """A copy of the spec, made once per generation (graders poll Deployments often)."""
        if self._spec_snapshot is None or self._spec_snapshot[0] != self.generation:
            self._spec_snapshot = (self.generation, copy.deepcopy(self.spec))
        return self._spec_snapshot[1]

    def to_api(self, now_s: float, st: store.Store) -> dict[str, Any]:
        status = self.status(st, now_s)
        available = status["availableReplicas"] >= self.replicas - self.max_unavailable()
        if self.progress_deadline_exceeded:
            progressing = ("False", "ProgressDeadlineExceeded")
        elif self.complete(st, now_s):
            progressing = ("True", "NewReplicaSetAvailable")
        else:
            progressing = ("True", "ReplicaSetUpdated")
        new = self.new_rs(st)
        meta = self.meta.to_api()
        meta["annotations"] = {**meta["annotations"], replicaset.REVISION: str(new.revision if new else 0)}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta,
            "spec": self._spec_copy(),
            "status": {
                **status,
                "observedGeneration": self.observed_generation,
                "conditions": [
                    {
                        "type": "Available",
                        "status": "True" if available else "False",
                        "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                    },
                    {"type": "Progressing", "status": progressing[0], "reason": progressing[1]},
                ],
            },
        }


def new(meta: store.Meta, spec: dict[str, Any]) -> Deployment:
    return Deployment(meta, spec)


def _check(doc: yamlfile.Document) -> list[errors.Problem]:
    restart = doc.data["spec"]["template"]["spec"].get("restartPolicy", "Always")
    if restart == "Always":
        return []
    path = ("spec", "template", "spec", "restartPolicy")
    return [
        errors.Problem(
            doc.file,
            "a Deployment's pods must use restartPolicy Always",
            field=yamlfile.dotted(path),
            line=doc.line_of(path),
        )
    ]


KIND = controller.Kind(
    "apps/v1",
    "Deployment",
    fields=(
        *controller.META_FIELDS,
        "spec.replicas",
        "spec.selector.matchLabels.*",
        "spec.strategy.type",
        "spec.strategy.rollingUpdate.maxSurge",
        "spec.strategy.rollingUpdate.maxUnavailable",
        "spec.minReadySeconds",
        "spec.progressDeadlineSeconds",
        "spec.revisionHistoryLimit",
        "spec.template.metadata.labels.*",
        "spec.template.metadata.annotations.*",
        f"spec.template.spec.{controller.POD_SPEC}",
    ),
    scale=True,
    pod_template=("spec", "template"),
    new=new,
    validate=_check,
)


class Controller(controller.Controller):
    """syncDeployment for every Deployment of the store."""

    name = "deployment"
    owns = (KIND,)
    watches = (("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("v1", "Pod"))

    def on_event(self, event: store.WatchEvent) -> None:
        obj = event.obj
        if obj.kind == "Pod" and event.type != store.DELETED and obj.ready and obj.ready_since_s is not None:
            owner = self._deployment_of(obj)
            if owner is not None and owner.min_ready_s > 0:
                # the pod becomes available minReadySeconds from now: look again then
                self.api.requeue_at(self, obj.ready_since_s + owner.min_ready_s)
        self.api.enqueue(self)

    def _deployment_of(self, pod: objects.Pod) -> Deployment | None:
        st = self.api.store
        rs = st.owner_of(pod)
        owner = st.owner_of(rs) if rs is not None else None
        return owner if isinstance(owner, Deployment) else None

    def reconcile(self) -> bool:
        now_s = self.api.now_s
        changed = False
        for d in self.api.store.list("apps/v1", "Deployment"):
            changed |= self.sync(d, now_s)
        return changed

    def sync(self, d: Deployment, now_s: float) -> bool:
        """One syncDeployment pass. True when it changed anything."""
        st = self.api.store
        changed = False
        new_rs = d.new_rs(st)
        if new_rs is None:
            new_rs = self.create_replicaset(
                d, replicas=self._new_rs_replicas(d, None) if d.strategy == "RollingUpdate" else 0
            )
            changed = True
        if d.observed_generation != d.generation:
            d.observed_generation = d.generation
        if d.strategy == "Recreate":
            changed |= self._recreate(d, new_rs)
        else:
            changed |= self._rolling(d, new_rs, now_s)
        changed |= self._progress(d, now_s, changed)
        if d.complete(st, now_s):
            changed |= self._cleanup(d)
        return changed

    # ---- ReplicaSet writes --------------------------------------------------------------------------
    def create_replicaset(self, d: Deployment, replicas: int) -> replicaset.ReplicaSet:
        st = self.api.store
        template = copy.deepcopy(d.template)
        h = template_hash(d.template)
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels["pod-template-hash"] = h
        revision = max((rs.revision for rs in d.replicasets(st)), default=0) + 1
        rs = replicaset.ReplicaSet(
            meta=store.Meta(
                name=f"{d.name}-{h}",
                namespace=d.meta.namespace,
                labels=dict(labels),
                annotations={replicaset.REVISION: str(revision)},
                owner_references=[store.OwnerReference("apps/v1", "Deployment", d.name, d.meta.uid)],
            ),
            spec={
                "replicas": replicas,
                "minReadySeconds": d.min_ready_s,
                "selector": {"matchLabels": dict(labels)},
                "template": template,
            },
        )
        self.api.record(
            "Deployment",
            d.name,
            timeline.SCALING_REPLICA_SET,
            f"Scaled up replica set {rs.name} from 0 to {replicas}",
            replica_set=rs.name,
            replicas=replicas,
        )
        st.create(rs)
        return rs

    def scale_replicaset(self, d: Deployment, rs: replicaset.ReplicaSet, replicas: int) -> None:
        verb = "up" if replicas > rs.replicas else "down"
        self.api.record(
            "Deployment",
            d.name,
            timeline.SCALING_REPLICA_SET,
            f"Scaled {verb} replica set {rs.name} from {rs.replicas} to {replicas}",
            replica_set=rs.name,
            replicas=replicas,
        )
        self.api.store.scale(rs, replicas)

    # rolling.go rolloutRolling
    def _rolling(self, d: Deployment, new_rs: replicaset.ReplicaSet, now_s: float) -> bool:
        if new_rs.replicas != d.replicas:
            target = d.replicas if new_rs.replicas > d.replicas else self._new_rs_replicas(d, new_rs)
            if target != new_rs.replicas:
                self.scale_replicaset(d, new_rs, target)
                return True
        return self._reconcile_old(d, new_rs, now_s)

    def _new_rs_replicas(self, d: Deployment, new_rs: replicaset.ReplicaSet | None) -> int:
        """deploymentutil.NewRSNewReplicas for RollingUpdate."""
        current = new_rs.replicas if new_rs else 0
        surge, _ = d.fenceposts()
        total = sum(rs.replicas for rs in d.replicasets(self.api.store))
        max_total = d.replicas + surge
        if total >= max_total:
            return current
        scale_up = min(max_total - total, d.replicas - current)
        return current + scale_up

    def _reconcile_old(self, d: Deployment, new_rs: replicaset.ReplicaSet, now_s: float) -> bool:
        st = self.api.store
        old = [rs for rs in d.old_rss(st) if rs.replicas > 0]
        if not old:
            return False
        all_count = sum(rs.replicas for rs in d.replicasets(st))
        min_available = d.replicas - d.max_unavailable()
        new_unavailable = new_rs.replicas - new_rs.available_replicas(st, now_s)
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        changed = False
        # cleanupUnhealthyReplicas: oldest first, scale away pods that are not available
        cleaned = 0
        for rs in old:
            if cleaned >= max_scaled_down:
                break
            unhealthy = rs.replicas - rs.available_replicas(st, now_s)
            if rs.replicas == 0 or unhealthy <= 0:
                continue
            count = min(max_scaled_down - cleaned, unhealthy)
            self.scale_replicaset(d, rs, rs.replicas - count)
            cleaned += count
            changed = True
        # scaleDownOldReplicaSetsForRollingUpdate
        available = sum(rs.available_replicas(st, now_s) for rs in d.replicasets(st))
        if available > min_available:
            to_scale = available - min_available
            done = 0
            for rs in old:
                if done >= to_scale:
                    break
                if rs.replicas == 0:
                    continue
                count = min(rs.replicas, to_scale - done)
                self.scale_replicaset(d, rs, rs.replicas - count)
                done += count
                changed = True
        return changed

    # recreate.go rolloutRecreate
    def _recreate(self, d: Deployment, new_rs: replicaset.ReplicaSet) -> bool:
        st = self.api.store
        changed = False
        for rs in d.old_rss(st):
            if rs.replicas:
                self.scale_replicaset(d, rs, 0)
                changed = True
        if any(rs.pods(st) for rs in d.old_rss(st)):  # wait until old pods are gone
            return changed
        if new_rs.replicas != d.replicas:
            self.scale_replicaset(d, new_rs, d.replicas)
            changed = True
        return changed

    # sync.go cleanupDeployment (run once the rollout is complete): old ReplicaSets with no
    # replicas and no pods beyond revisionHistoryLimit, oldest revision first
    def _cleanup(self, d: Deployment) -> bool:
        st = self.api.store
        idle = [rs for rs in d.old_rss(st) if rs.replicas == 0 and not rs.pods(st)]
        extra = len(idle) - d.revision_history_limit
        for rs in sorted(idle, key=lambda rs: rs.revision)[: max(0, extra)]:
            st.delete(rs)
        return extra > 0

    # progress.go: Progressing condition and progressDeadlineSeconds
    def _progress(self, d: Deployment, now_s: float, scaled: bool) -> bool:
        st = self.api.store
        status = d.status(st, now_s)
        marker = (status["updatedReplicas"], status["availableReplicas"], status["readyReplicas"])
        if scaled or marker != d.progress_marker or d.complete(st, now_s):
            d.progress_marker = marker
            d.last_progress_s = now_s
            d.progress_deadline_exceeded = False
            if not d.complete(st, now_s):
                self.api.requeue_at(self, now_s + d.progress_deadline_s)
            return False
        if not d.progress_deadline_exceeded and now_s - d.last_progress_s >= d.progress_deadline_s:
            d.progress_deadline_exceeded = True
            self.api.record(
                "Deployment",
                d.name,
                timeline.PROGRESS_DEADLINE_EXCEEDED,
                f"Deployment {d.name!r} has timed out progressing.",
                timeline.WARNING,
            )
            return True
        return False
