"""Services: endpoints of ready pods, and how a client request reaches one.

Upstream: kubernetes v1.35 pkg/controller/endpointslice (an endpoint is ready when its pod is
Ready and not terminating) and kube-proxy's iptables mode (a random endpoint per connection;
a Service with no endpoints rejects connections: the client sees "connection refused").
Modelled: label selectors, named and numbered targetPorts, ClusterIP and NodePort types.
Not modelled: endpoint propagation delay (endpoints change the instant readiness does),
sessionAffinity ClientIP, topology-aware routing, terminating-endpoint fallback.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from slolab.sim import objects, probes
from slolab.sim import request as request_mod


@dataclasses.dataclass(eq=False)
class Service:
    name: str
    namespace: str
    spec: dict[str, Any]
    labels: dict[str, str]
    endpoints: list[objects.Pod] = dataclasses.field(default_factory=list)
    routes: list[tuple[objects.Pod, int | None]] = dataclasses.field(default_factory=list)

    @property
    def selector(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.spec.get("selector") or {}).items()}

    def selects(self, pod: objects.Pod) -> bool:
        return bool(self.selector) and objects.labels_match(self.selector, pod.labels)

    def refresh(self, pods: list[objects.Pod]) -> None:
        """Endpoints = selected pods that are Ready and not terminating."""
        self.endpoints = [p for p in pods if p.ready and not p.terminating and self.selects(p)]
        self.routes = [
            (p, self.target_port(p, p.containers[0]) if p.containers else None) for p in self.endpoints
        ]

    def target_port(self, pod: objects.Pod, container: objects.Container) -> int | None:
        ports = self.spec.get("ports") or []
        if not ports:
            return None
        target = ports[0].get("targetPort", ports[0].get("port"))
        return probes.resolve_port(target, container.spec)

    def send(self, req: request_mod.Request, now_s: float, rng: random.Random) -> None:
        """Route ``req`` to a random ready endpoint, or fail it as a client would see."""
        routes = self.routes
        if not routes:
            req.fail(now_s, "connection refused: no ready endpoints")
            return
        pod, port = routes[int(rng.random() * len(routes))] if len(routes) > 1 else routes[0]
        req.pod = pod.name
        for c in pod.containers:
            if c.listening and c.engine is not None and port == c.engine_port:
                c.engine.submit(req, now_s)
                return
        req.fail(now_s, "connection refused: pod not listening on the target port")

    def to_api(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": self.name, "namespace": self.namespace, "labels": dict(self.labels)},
            "spec": dict(self.spec),
        }

    def endpoints_api(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "subsets": [
                {
                    "addresses": [
                        {"ip": p.ip, "targetRef": {"kind": "Pod", "name": p.name}} for p in self.endpoints
                    ]
                }
            ]
            if self.endpoints
            else [],
        }
