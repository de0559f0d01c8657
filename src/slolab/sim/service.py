"""Services and the endpoints controller: endpoints of ready pods, and how a request reaches one.

Upstream: kubernetes v1.35 pkg/controller/endpoint/endpoints_controller.go (syncService: an
address per selected pod; ready when the pod is Ready and not terminating) and kube-proxy's
iptables mode (a random endpoint per connection; a Service with no endpoints rejects
connections: the client sees "connection refused"). Modelled: label selectors, named and
numbered targetPorts, ClusterIP and NodePort types. Not modelled: endpoint propagation delay
(endpoints change the instant readiness does: this controller reacts to each pod change at once
rather than through its queue), EndpointSlices, notReadyAddresses, sessionAffinity ClientIP (an
error), topology-aware routing, terminating-endpoint fallback, Services without a selector.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any, ClassVar

from slolab import errors
from slolab.catalog import yamlfile
from slolab.run import request as request_mod
from slolab.sim import controller, objects, probes, store


@dataclasses.dataclass(eq=False)
class Service:
    api_version: ClassVar[str] = "v1"
    kind: ClassVar[str] = "Service"

    meta: store.Meta
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def selector(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.spec.get("selector") or {}).items()}

    def selects(self, pod: objects.Pod) -> bool:
        selector = self.selector
        return bool(selector) and objects.labels_match(selector, pod.labels)

    def target_port(self, container: objects.Container) -> int | None:
        ports = self.spec.get("ports") or []
        if not ports:
            return None
        target = ports[0].get("targetPort", ports[0].get("port"))
        return probes.resolve_port(target, container.spec)

    def to_api(self, now_s: float, st: store.Store) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.meta.to_api(),
            "spec": dict(self.spec),
        }


@dataclasses.dataclass(eq=False)
class Endpoints:
    """The Service's ready pods, and the (pod, target port) routes kube-proxy picks from."""

    api_version: ClassVar[str] = "v1"
    kind: ClassVar[str] = "Endpoints"

    meta: store.Meta
    spec: dict[str, Any] = dataclasses.field(default_factory=dict)
    pods: list[objects.Pod] = dataclasses.field(default_factory=list)
    routes: list[tuple[objects.Pod, int | None]] = dataclasses.field(default_factory=list)

    def send(self, req: request_mod.Request, now_s: float, rng: random.Random) -> None:
        """Route ``req`` to a random ready endpoint, or fail it as a client would see."""
        routes = self.routes
        if not routes:
            req.fail(now_s, "connection refused: no ready endpoints")
            return
        pod, port = routes[int(rng.random() * len(routes))] if len(routes) > 1 else routes[0]
        req.pod = pod.name
        if pod.netem is not None:  # a NetworkChaos delay (sim/netem.py): it reaches the pod later
            pod.netem.send(now_s, lambda at_s: deliver(pod, port, req, at_s))
            return
        deliver(pod, port, req, now_s)

    def to_api(self, now_s: float, st: store.Store) -> dict[str, Any]:
        addresses = [{"ip": p.ip, "targetRef": {"kind": "Pod", "name": p.name}} for p in self.pods]
        return {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": self.meta.to_api(),
            "subsets": [{"addresses": addresses}] if addresses else [],
        }


def deliver(pod: objects.Pod, port: int | None, req: request_mod.Request, now_s: float) -> None:
    """The request reaches ``pod``: its model server takes it, or the connection fails."""
    for c in pod.containers:
        if c.listening and c.engine is not None and port == c.engine_port:
            c.engine.submit(req, now_s)
            return
    req.fail(now_s, pod.unreachable or "connection refused: pod not listening on the target port")


def _check(doc: yamlfile.Document) -> list[errors.Problem]:
    affinity = (doc.data.get("spec") or {}).get("sessionAffinity", "None")
    if affinity == "None":
        return []
    path = ("spec", "sessionAffinity")
    return [
        errors.Problem(
            doc.file,
            f"sessionAffinity {affinity} is not modelled by the simulator (only None)",
            field=yamlfile.dotted(path),
            line=doc.line_of(path),
        )
    ]


SERVICE = controller.Kind(
    "v1",
    "Service",
    fields=(
        *controller.META_FIELDS,
        "spec.type",
        "spec.selector.*",
        "spec.ports[*].name",
        "spec.ports[*].port",
        "spec.ports[*].targetPort",
        "spec.ports[*].protocol",
        "spec.sessionAffinity",
    ),
    inert=("spec.ports[*].nodePort",),
    new=lambda meta, spec: Service(meta, spec),
    validate=_check,
)


class Controller(controller.Controller):
    """syncService for every Service, at once on every Service or Pod change."""

    name = "endpoints"
    owns = (SERVICE, controller.Kind("v1", "Endpoints"))
    watches = (("v1", "Service"), ("v1", "Pod"))

    def on_event(self, event: store.WatchEvent) -> None:
        st = self.api.store
        obj = event.obj
        if obj.kind == "Service":
            ep = st.get("v1", "Endpoints", obj.meta.name, obj.meta.namespace)
            if event.type == store.DELETED:
                if ep is not None:
                    st.delete(ep)
                return
            if ep is None:
                ep = st.create(
                    Endpoints(store.Meta(obj.meta.name, obj.meta.namespace, dict(obj.meta.labels)))
                )
            self.sync(obj, ep)
            return
        for svc in st.list("v1", "Service", obj.meta.namespace):
            ep = st.get("v1", "Endpoints", svc.meta.name, svc.meta.namespace)
            if ep is not None:
                self.sync(svc, ep)

    def sync(self, svc: Service, ep: Endpoints) -> None:
        """Endpoints = selected pods that are Ready and not terminating."""
        pods = self.api.store.list("v1", "Pod", svc.meta.namespace)
        ready = [p for p in pods if p.ready and not p.terminating and svc.selects(p)]
        routes = [(p, svc.target_port(p.containers[0]) if p.containers else None) for p in ready]
        if routes == ep.routes and ready == ep.pods:
            return
        ep.pods, ep.routes = ready, routes
        self.api.store.update(ep)
