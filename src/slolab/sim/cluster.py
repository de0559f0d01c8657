"""The simulated cluster: the object store, the registered controllers, and the public operations.

The controllers of ``sim/registry.py`` run against one ``store.Store``. Watch-driven
controllers are queued by changes of the kinds they watch (or by a requeue they asked for) and
reconcile in registry order at the same virtual instant, pass after pass, until none is
queued: the watch latencies of a real cluster (milliseconds) are taken as zero. Periodic
controllers are queued every ``resync_s``. ``Cluster`` is the ``controller.API`` they get.

Public operations, as on the API: ``apply`` (kubectl apply), ``scale`` (the scale subresource),
``delete`` (with a grace period; background propagation), ``rollout_restart``,
``kill_container`` (what a chaos tool's container-kill does) and ``set_node_ready`` (a node's
kubelet stops or comes back).

Metrics: ``Cluster.tsdb`` is the run's in-memory TSDB, what the lab's Prometheus scraped so far
(sim/scrape.py, a registered controller like the others), stamped in unix seconds
(``scrape.STAMP_OFFSET_S`` + run seconds).
"""

from __future__ import annotations

import copy
import random
from typing import Any

import simpy

from slolab import errors
from slolab.catalog import kindconfig, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab.promql import engine as engine_mod
from slolab.promql import tsdb as tsdb_mod
from slolab.run import timeline
from slolab.sim import (
    controller,
    deviceplugin,
    kubelet,
    metricsapi,
    objects,
    quantity,
    registry,
    scrape,
    serverargs,
    store,
)


def build_nodes(scenario: scenario_mod.Scenario, specs: list[kindconfig.NodeSpec]) -> list[objects.Node]:
    """kind-config.yaml's nodes with capacity from the first scenario pool whose labels match."""
    nodes = []
    for spec in specs:
        pool = next(
            (p for p in scenario.topology.pools if objects.labels_match(p.match_labels, spec.labels)), None
        )
        capacity = pool.capacity if pool else scenario.topology.default_capacity
        labels = dict(spec.labels)
        if pool and pool.gpu_product:
            labels["nvidia.com/gpu.product"] = pool.gpu_product
        allocatable = quantity.resources(capacity)
        if pool and pool.device_plugin:  # advertised once the device plugin runs (sim/deviceplugin.py)
            allocatable.pop(deviceplugin.RESOURCE, None)
        nodes.append(
            objects.Node(
                meta=store.Meta(name=spec.name, labels=labels),
                taints=[dict(t) for t in spec.taints],
                allocatable=allocatable,
            )
        )
    return nodes


def _spec_of(data: dict[str, Any]) -> dict[str, Any]:
    """The manifest's spec; for a kind without one (PriorityClass: value, globalDefault ...) its
    top-level fields."""
    if "spec" in data:
        return data["spec"] or {}
    return {k: v for k, v in data.items() if k not in {"apiVersion", "kind", "metadata"}}


class Cluster:
    """Everything the simulator runs, for one lab run (the ``controller.API`` of its controllers)."""

    def __init__(
        self, scenario: scenario_mod.Scenario, nodes: list[objects.Node], seed: int, namespace: str
    ) -> None:
        self.env = simpy.Environment()
        self.scenario = scenario
        self.namespace = namespace
        self.seed = seed
        self.recorder = timeline.Recorder()
        self.store = store.Store(lambda: self.env.now, seed)
        self.kinds = registry.kinds()
        self._rngs: dict[str, random.Random] = {}
        self._configs: dict[tuple[str, int], serverargs.ServerConfig] = {}
        self._docs: dict[tuple[str, str], yamlfile.Document] = {}
        self.rng_route = self.rng("route")
        self._wake = self.env.event()
        self.store.watch("v1", "Pod", self._pod_event)
        self.metrics = metricsapi.MetricsAPIs()
        self.controllers: list[controller.Controller] = []
        for cls in registry.CONTROLLERS:
            c = cls(self)
            self.controllers.append(c)
            for api_version, kind in cls.watches:
                self.store.watch(api_version, kind, c.on_event)
            if cls.resync_s is not None:
                self.env.process(self._resync(c, cls.resync_s))
        self._kubelets = next(c for c in self.controllers if isinstance(c, kubelet.Controller))
        self._scraper = next(c for c in self.controllers if isinstance(c, scrape.Controller))
        for node in nodes:
            self.store.create(node)
        self.env.process(self._control_loop())

    @property
    def tsdb(self) -> tsdb_mod.TSDB:
        """The run's metrics: every scrape its Prometheus made so far (sim/scrape.py)."""
        return self._scraper.tsdb

    # ---- controller.API -----------------------------------------------------------------------
    def prom_query(self, expr: str) -> list[dict[str, Any]]:
        return engine_mod.Engine(self.tsdb).query(expr, scrape.STAMP_OFFSET_S + self.env.now)

    @property
    def now_s(self) -> float:
        return self.env.now

    def rng(self, stream: str) -> random.Random:
        r = self._rngs.get(stream)
        if r is None:
            r = self._rngs[stream] = random.Random(f"{self.seed}:{stream}")
        return r

    def record(
        self, kind: str, name: str, reason: str, message: str = "", type: str = timeline.NORMAL, **data: Any
    ) -> None:
        self.recorder.event(self.env.now, kind, name, reason, message, type, **data)

    def enqueue(self, c: controller.Controller) -> None:
        c.queued = True
        if not self._wake.triggered:
            self._wake.succeed()

    def requeue_at(self, c: controller.Controller, time_s: float) -> None:
        def timer():
            yield self.env.timeout(max(0.0, time_s - self.env.now))
            self.enqueue(c)

        self.env.process(timer())

    def server_config(self, pod: objects.Pod, c: objects.Container) -> serverargs.ServerConfig:
        index = pod.containers.index(c)
        key = (pod.owner or pod.name, index)
        if key not in self._configs:
            doc, path = self._source_of(pod)
            self._configs[key] = serverargs.parse(
                c.spec, doc, (*path, "spec", "containers", index), self.scenario
            )
        return self._configs[key]

    def _source_of(self, obj: Any) -> tuple[yamlfile.Document, tuple[str, ...]]:
        """The applied manifest a pod came from (up its controller chain), and its template path."""
        while obj is not None:
            key = (obj.kind, obj.meta.name)
            if key in self._docs:
                kind = self.kinds[(obj.api_version, obj.kind)]
                return self._docs[key], kind.pod_template or ()
            obj = self.store.owner_of(obj)
        return yamlfile.Document(data={}, file="(cluster)", lines={}), ("spec", "template")

    def model_load_time(self, config: serverargs.ServerConfig, rng: random.Random) -> float:
        """The scenario's load-time draw; ``slolab serve --load-time-s`` moves its centre."""
        dist = self.scenario.model.load_time_s
        draw = dist.draw(rng)
        if config.load_time_s is not None:
            draw = max(0.0, config.load_time_s + (draw - dist.typical()))
        return draw

    # ---- apply --------------------------------------------------------------------------------
    def apply(self, docs: list[yamlfile.Document]) -> None:
        """Create or update objects, as ``kubectl apply`` would; every document is checked first."""
        applyable = registry.applyable()
        problems: list[errors.Problem] = []
        for doc in docs:
            key = (doc.data.get("apiVersion"), doc.data.get("kind"))
            kind = applyable.get(key)
            if kind is None:
                names = ", ".join(f"{k} ({v})" for v, k in applyable)
                problems.append(
                    errors.Problem(
                        doc.file,
                        f"kind {key[1]} ({key[0]}) is not modelled by the simulator; it models {names}",
                        field="kind",
                        line=doc.line_of(("kind",)),
                    )
                )
                continue
            if kind.validate is not None:
                problems.extend(kind.validate(doc))
            if kind.pod_template is not None:
                for cls in registry.CONTROLLERS:
                    problems.extend(cls.check_pod_spec(doc, (*kind.pod_template, "spec"), self.scenario))
        if problems:
            raise errors.NotModelledError(
                problems,
                "Fix or remove those fields; the simulator models slolab/serve and vllm/vllm-openai servers.",
            )
        denied: list[errors.Problem] = []
        for doc in docs:
            data = copy.deepcopy(doc.data)
            kind = applyable[(data["apiVersion"], data["kind"])]
            assert kind.new is not None  # applyable() holds only kinds with a constructor
            if kind.admit is not None:
                refused = kind.admit(self.store, self.namespace, doc)
                if refused:  # kubectl reports it and goes on with the next document
                    denied.extend(refused)
                    continue
            meta = data.get("metadata") or {}
            self._docs[(kind.kind, meta["name"])] = doc
            obj = kind.new(
                store.Meta(
                    name=meta["name"],
                    namespace=self.namespace if kind.namespaced else "",
                    labels=dict(meta.get("labels") or {}),
                    annotations=dict(meta.get("annotations") or {}),
                ),
                _spec_of(data),
            )
            self.store.apply(obj)
        if denied:
            raise errors.ManifestError(
                denied,
                "The API server refused these objects (Error from server (Forbidden) in kubectl); "
                "the others were applied. Fix them and apply again.",
            )

    # ---- public operations --------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str) -> Any:
        """The stored object, or BackendError naming what is missing."""
        k = self.kinds.get((api_version, kind))
        obj = self.store.get(api_version, kind, name, self.namespace if k is None or k.namespaced else "")
        if obj is None:
            raise errors.BackendError(
                f"no {kind} {name!r} in the simulated cluster",
                "Check metadata.name in the workspace's manifests.",
            )
        return obj

    def scale(self, api_version: str, kind: str, name: str, replicas: int) -> None:
        """The scale subresource (``kubectl scale``; what an autoscaler writes)."""
        k = self.kinds.get((api_version, kind))
        if k is None or not k.scale:
            raise errors.BackendError(f"{kind} ({api_version}) has no scale subresource in the simulator")
        self.store.scale(self.get(api_version, kind, name), replicas)

    def delete(self, api_version: str, kind: str, name: str, grace_period_s: float | None = None) -> None:
        """``kubectl delete`` (``--grace-period``; pods terminate gracefully, 0 forces)."""
        self.store.delete(self.get(api_version, kind, name), grace_period_s=grace_period_s)

    def delete_pod(self, pod: objects.Pod, grace_period_s: float | None = None) -> None:
        self.store.delete(pod, grace_period_s=grace_period_s)

    def kill_container(self, pod_name: str, container: str | None = None) -> None:
        """SIGKILL a container's process (chaos container-kill): it restarts per restartPolicy."""
        pod = self.get("v1", "Pod", pod_name)
        targets = [c for c in pod.containers if container is None or c.name == container]
        if not targets:
            raise errors.BackendError(f"pod {pod_name!r} has no container {container!r}")
        k = self._kubelets.kubelets.get(pod.node) if pod.node else None
        for c in targets:
            self.record(
                "Pod",
                pod.name,
                timeline.CONTAINER_KILLED,
                f"container {c.name} killed (SIGKILL)",
                container=c.name,
            )
            if k is not None:
                k.kill_container(pod, c, "SIGKILL")

    def set_node_ready(self, name: str, ready: bool) -> None:
        """The node's kubelet stops (False) or comes back (True); see sim/kubelet.py."""
        node = self.get("v1", "Node", name)
        if node.ready == ready:
            return
        node.ready = ready
        if ready:  # the kubelet posts its status again (a silent node is sim/nodelifecycle.py's)
            node.ready_status = "True"
            self.record("Node", name, timeline.NODE_READY, f"Node {name} status is now: NodeReady")
        self.store.update(node)

    def rollout_restart(self, name: str) -> None:
        d = self.get("apps/v1", "Deployment", name)
        spec = copy.deepcopy(d.spec)
        annotations = spec["template"].setdefault("metadata", {}).setdefault("annotations", {})
        annotations["kubectl.kubernetes.io/restartedAt"] = objects.timestamp(self.env.now)
        d.spec = spec
        self.record("Deployment", name, timeline.ROLLOUT_RESTART, "kubectl rollout restart")
        self.store.update(d, spec_changed=True)

    def set_image(self, obj: Any, container: str, image: str) -> None:
        """``kubectl argo rollouts set image`` / ``kubectl set image``: a new pod template."""
        spec = copy.deepcopy(obj.spec)
        containers = spec["template"]["spec"]["containers"]
        target = next((c for c in containers if c.get("name") == container), None)
        if target is None:
            raise errors.BackendError(
                f"{obj.kind} {obj.meta.name!r} has no container {container!r}",
                f"Its containers: {', '.join(str(c.get('name')) for c in containers)}.",
            )
        target["image"] = image
        obj.spec = spec
        self.store.update(obj, spec_changed=True)

    # ---- control loop -------------------------------------------------------------------------
    def _control_loop(self):
        while True:
            yield self._wake
            self._wake = self.env.event()
            for _ in range(100):
                queued = [c for c in self.controllers if c.queued]
                if not queued:
                    break
                for c in self.controllers:
                    if c.queued:
                        c.queued = False
                        c.reconcile()
                self._sample()

    def _resync(self, c: controller.Controller, period_s: float):
        while True:
            yield self.env.timeout(period_s)
            self.enqueue(c)

    def _pod_event(self, event: store.WatchEvent) -> None:
        if event.type == store.DELETED:
            pod = event.obj
            self.record("Pod", pod.name, timeline.DELETED, f"pod {pod.name} is gone")

    def _sample(self) -> None:
        now = self.env.now
        pods = self.store.list("v1", "Pod")
        self.recorder.sample("pods", now, sum(1 for p in pods if not p.terminating))
        self.recorder.sample("ready_pods", now, sum(1 for p in pods if p.ready and not p.terminating))
        self.recorder.sample("restarts", now, sum(p.restarts() for p in pods))

    # ---- queries ------------------------------------------------------------------------------
    @property
    def pods(self) -> dict[str, objects.Pod]:
        """The pods of the lab's namespace by name."""
        return {p.name: p for p in self.store.list("v1", "Pod", self.namespace)}

    def send(self, service_name: str, req: Any, at_s: float | None = None) -> None:
        """A client sends ``req`` to the Service at ``at_s`` (default now; a later time only when
        no event comes before it, see sim/traffic.py)."""
        now = self.env.now if at_s is None else at_s
        ep = self.store.get("v1", "Endpoints", service_name, self.namespace)
        if ep is None:
            req.fail(now, f"could not resolve host: service {service_name} does not exist")
            return
        ep.send(req, now, self.rng_route)

    def sync_engines(self) -> None:
        """Bring every lazy model-server engine up to now (before its requests are read)."""
        for pod in self.store.list("v1", "Pod"):
            for c in pod.containers:
                if c.engine is not None:
                    c.engine.sync()

    def api_objects(
        self, kind: str, name: str | None = None, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Every object of ``kind`` (any apiVersion the controllers own) as the API renders it;
        only the one called ``name`` and those whose labels match ``labels``, when given (a field
        and a label selector: only the objects selected are rendered)."""
        now = self.env.now
        out: list[dict[str, Any]] = []
        for api_version, k in self.kinds:
            if k != kind:
                continue
            for o in self.store.list(api_version, kind):
                if name is not None and o.meta.name != name:
                    continue
                if labels and not objects.labels_match(labels, o.meta.labels or {}):
                    continue
                out.append(o.to_api(now, self.store))
        return out
