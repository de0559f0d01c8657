"""The lab's Prometheus on the simulator: target discovery and the scrape loop, into one TSDB per run.

Upstream: prometheus v2.42.0 scrape/scrape.go and scrape/target.go (one loop per target; its
first scrape waits for the target's offset, ``hash(target labels) mod interval`` with a
per-server seed, then it scrapes every interval, so targets are spread over the interval and
each keeps its phase; a scrape writes ``up`` 1 and its samples at the scrape's start, or ``up`` 0
and staleness markers for everything the target exposed when it fails; a target that leaves
service discovery gets staleness markers for all its series), and kube-prometheus-stack 88.5
with charts/slolab-platform's values (every PodMonitor selected, scrapeInterval 15s).

What it scrapes, as that Prometheus would on kind:
- model-server pods through the workspace's PodMonitors and ServiceMonitors
  (sim/podmonitor.py, sim/servicemonitor.py; series from sim/vllmseries.py): the scenarios'
  values render charts/llm-serving's PodMonitor. Without either in the workspace the model
  servers are not scraped, as on kind (kube-prometheus-stack discovers targets only through
  monitors), so their vLLM series are absent;
- kube-state-metrics (sim/kubestate.py over the API view; job ``kube-state-metrics``,
  honorLabels as kube-prometheus-stack's ServiceMonitor sets it);
- each node's kubelet /metrics/cadvisor (sim/cadvisor.py; job ``kubelet``);
- dcgm-exporter on each node with GPUs (sim/dcgm.py; job ``nvidia-dcgm-exporter``), as the GPU
  operator's ServiceMonitor would.
A scrape is a success when the server answers: for a model server, while its process listens
(after the model loaded, until SIGTERM); the others always.

Timestamps: samples are stamped ``objects.EPOCH`` + run seconds (``STAMP_OFFSET_S``), the clock of
the simulated API server, so ``time() - kube_pod_created`` means what it means on kind; readers
that speak run seconds (``lab.prom``) move their times by it.

Not modelled: scrape timeouts and durations (a scrape takes no time), ``scrape_*`` series other
than ``up``, sample limits, relabelling beyond what the PodMonitor fields above do, the
``namespace``/``pod`` target labels of the exporters' own pods (the simulator runs none).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable
from typing import Any

from slolab.promql import tsdb
from slolab.run import vllm_metrics as vm
from slolab.sim import (
    cadvisor,
    controller,
    dcgm,
    kubestate,
    objects,
    podmonitor,
    servicemonitor,
    store,
    vllmseries,
)

Samples = dict[tsdb.Labels, float]
#: what the TSDB's timestamps are ahead of run seconds (see the module docstring)
STAMP_OFFSET_S = float(objects.EPOCH)
#: what a scrape returns: its samples, a function that computes them later, or None (it failed)
Collected = Samples | Callable[[], Samples] | None

#: what kube-state-metrics lists (its default resources that the simulator has)
KSM_KINDS = (
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "ReplicaSet"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
)
KSM_LABELS = {
    "job": "kube-state-metrics",
    "instance": "10.96.0.20:8080",
    "endpoint": "http",
    "container": "kube-state-metrics",
    "service": "kps-kube-state-metrics",
}


@dataclasses.dataclass(eq=False)
class Target:
    """One scrape target: its labels, its interval and what a scrape of it returns."""

    key: str
    labels: dict[str, str]
    interval_s: float
    collect: Callable[[float], Collected]  # None: the scrape failed
    active: bool = True


def declare(db: tsdb.TSDB) -> None:
    """The metric families' types and help texts (for the OpenMetrics export)."""
    db.declare("up", "gauge", "1 if the last scrape of the target succeeded, else 0")
    for m in vm.TABLE:
        db.declare(m.name, m.kind, m.help)
    db.declare(
        "kube_pod_container_status_restarts", "counter", "The number of container restarts per container."
    )
    db.declare("container_cpu_usage_seconds", "counter", "Cumulative cpu time consumed in seconds.")
    db.declare(dcgm.GPU_UTIL, "gauge", "GPU utilization (in %).")


def honor(target: dict[str, str], name: str, labels: dict[str, str]) -> tsdb.Labels:
    """honor_labels: the series' own labels win over the target's."""
    return tsdb.labels_of({**target, **labels, "__name__": name})


class Controller(controller.Controller):
    """Discovers targets when pods, nodes or PodMonitors change; one scrape loop per target."""

    name = "prometheus"
    owns = (podmonitor.KIND, servicemonitor.KIND)
    watches = (
        ("v1", "Pod"),
        ("v1", "Node"),
        ("v1", "Service"),
        podmonitor.PODMONITOR,
        servicemonitor.SERVICEMONITOR,
        ("apps/v1", "Deployment"),
    )

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self._tsdb = tsdb.TSDB()
        self._pending: list[Callable[[], None]] = []  # writes not yet made, in scrape order
        self.targets: dict[str, Target] = {}
        self.endpoints: list[podmonitor.Endpoint] = []
        self._seed = api.rng("scrape-offsets").getrandbits(64)
        self._dcgm: dict[str, dcgm.Allocator] = {}
        self._gpu_util: dict[str, Samples] = {}  # node -> last collected samples
        self._ksm_cache: dict[str, tuple[int, list[tuple[tsdb.Labels, float]]]] = {}
        declare(self._tsdb)

    @property
    def tsdb(self) -> tsdb.TSDB:
        """The run's TSDB with every scrape so far written (see ``flush``)."""
        self.flush()
        return self._tsdb

    def flush(self) -> None:
        """Write the scrapes made so far into the TSDB, in the order they were made.

        A model server's histograms are computed here rather than at its scrape (its requests'
        fields are final once listed, so the samples are the same); a run nobody queries never
        pays for them."""
        pending, self._pending = self._pending, []
        for write in pending:
            write()

    # ---------------------------------------------------------------- discovery

    def on_event(self, event: store.WatchEvent) -> None:
        obj = event.obj
        if obj.kind == "Pod" and event.type != store.DELETED:
            self._record(obj)
        self.api.enqueue(self)

    def _record(self, pod: Any) -> None:
        """A scraped pod's engine keeps its request lists from its first instant."""
        for ep in self.endpoints:
            if controller.labels_selected({"matchLabels": ep.match_labels}, pod.labels):
                for c in pod.containers:
                    if c.engine is not None and not c.engine.record_requests and ep.container_port(c.spec):
                        c.engine.record_requests = True

    def _endpoints(self) -> list[podmonitor.Endpoint]:
        ns = self.api.namespace
        monitors = self.api.store.list(*podmonitor.PODMONITOR, ns)
        service_monitors = self.api.store.list(*servicemonitor.SERVICEMONITOR, ns)
        services = self.api.store.list("v1", "Service", ns) if service_monitors else []
        return [ep for m in monitors for ep in podmonitor.endpoints(m)] + [
            ep for m in service_monitors for ep in servicemonitor.endpoints(m, services)
        ]

    def reconcile(self) -> bool:
        self.endpoints = self._endpoints()
        default_s = self.api.scenario.metrics.scrape_interval_s
        wanted: dict[str, tuple[dict[str, str], float, Callable[[float], Collected]]] = {}
        pods = self.api.store.list("v1", "Pod")
        for ep in self.endpoints:
            for pod in pods:
                if (
                    pod.namespace != self.api.namespace
                    or pod.ip is None
                    or pod.phase in ("Succeeded", "Failed")
                ):
                    continue
                if not controller.labels_selected({"matchLabels": ep.match_labels}, pod.labels):
                    continue
                self._record(pod)
                for c in pod.containers:
                    port = ep.container_port(c.spec)
                    if port is None:
                        continue
                    labels = {
                        "job": ep.job,
                        "namespace": pod.namespace,
                        "pod": pod.name,
                        "container": c.name,
                        "endpoint": ep.port,
                        "instance": f"{pod.ip}:{port}",
                    }
                    if ep.service is not None:
                        labels["service"] = ep.service
                        labels.update(ep.service_labels)
                    for name in ep.pod_target_labels:
                        if pod.labels.get(name):
                            labels[podmonitor.sanitize(name)] = pod.labels[name]
                    key = f"{ep.service or ''}/{ep.job}/{pod.meta.uid}/{c.name}/{ep.port}"
                    wanted[key] = (labels, ep.interval_s or default_s, _server_collector(c, labels))
        wanted["kube-state-metrics"] = (dict(KSM_LABELS), default_s, self._ksm)
        for node in self.api.store.list("v1", "Node"):
            labels = {
                "job": "kubelet",
                "node": node.name,
                "instance": f"{node.name}:10250",
                "endpoint": "https-metrics",
                "metrics_path": "/metrics/cadvisor",
                "service": "kps-kubelet",
            }
            wanted[f"kubelet/{node.name}"] = (labels, default_s, self._cadvisor(node, labels))
            if int(node.allocatable.get("nvidia.com/gpu", 0)):
                labels = dcgm_target(node.name)
                wanted[f"dcgm/{node.name}"] = (labels, default_s, self._dcgm_samples(node.name))
                if node.name not in self._dcgm:
                    self._dcgm[node.name] = dcgm.Allocator()
                    self.api.env.process(self._dcgm_collect(node))
        now = self.api.now_s
        changed = False
        for key in [k for k in self.targets if k not in wanted]:
            target = self.targets.pop(key)
            target.active = False
            self._pending.append(lambda key=key, labels=target.labels, t=now: self._gone(key, labels, t))
            changed = True
        for key, (labels, interval_s, collect) in wanted.items():
            if key not in self.targets:
                target = Target(key, labels, interval_s, collect)
                self.targets[key] = target
                self.api.env.process(self._loop(target))
                changed = True
        return changed

    # ---------------------------------------------------------------- the scrape loop

    def offset_s(self, target: Target) -> float:
        """scrape/target.go offset: hash of the target's labels and the server's seed, mod interval."""
        text = ",".join(f"{k}={v}" for k, v in sorted(target.labels.items()))
        digest = hashlib.blake2b(f"{self._seed}:{text}".encode(), digest_size=8).digest()
        interval_ms = tsdb.to_ms(target.interval_s)
        return (int.from_bytes(digest, "big") % interval_ms) / 1000

    def _gone(self, key: str, labels: dict[str, str], t_s: float) -> None:
        self._tsdb.target_gone(key, STAMP_OFFSET_S + t_s)
        self._tsdb.mark_stale({**labels, "__name__": "up"}, STAMP_OFFSET_S + t_s)

    def _loop(self, target: Target):
        env = self.api.env
        interval_s, offset_s = target.interval_s, self.offset_s(target)
        k = math.ceil((env.now - offset_s) / interval_s)
        yield env.timeout(offset_s + k * interval_s - env.now)
        up = tsdb.labels_of({**target.labels, "__name__": "up"})
        db, key = self._tsdb, target.key
        while target.active:
            now = env.now
            result = target.collect(now)

            def write(result=result, now=now) -> None:
                samples = result() if callable(result) else result
                stamp_s = STAMP_OFFSET_S + now
                db.scrape(key, stamp_s, {up: 0.0} if samples is None else {**samples, up: 1.0})

            self._pending.append(write)
            yield env.timeout(interval_s)

    # ---------------------------------------------------------------- exporters

    def _ksm(self, now_s: float) -> Samples:
        """kube-state-metrics' /metrics over the API view. A pod's series change only when the pod
        is written (its resourceVersion), so they are kept per resourceVersion; the simulator
        renders workload status from its pods on every read, so those are rendered each time."""
        out: Samples = {}
        types = self._tsdb.types
        cache: dict[str, tuple[int, list[tuple[tsdb.Labels, float]]]] = {}
        for av, kind in KSM_KINDS:
            for obj in self.api.store.list(av, kind):
                meta = obj.meta
                hit = self._ksm_cache.get(meta.uid)
                if hit is None or hit[0] != meta.resource_version or kind != "Pod":
                    rows = []
                    for name, labels, value in kubestate.samples([obj.to_api(now_s, self.api.store)]):
                        if name not in types and not name.endswith("_total"):
                            self._tsdb.declare(name, "gauge")  # every other family here is a gauge
                        rows.append((honor(KSM_LABELS, name, labels), value))
                    hit = (meta.resource_version, rows)
                cache[meta.uid] = hit
                out.update(hit[1])
        self._ksm_cache = cache
        return out

    def _cadvisor(self, node: Any, target: dict[str, str]) -> Callable[[float], Samples]:
        def collect(now_s: float) -> Samples:
            pods = self.api.store.list("v1", "Pod")
            out: Samples = {}
            for (ns, pod, container, cid), value in cadvisor.samples(pods, node.name, now_s).items():
                labels = {
                    "namespace": ns,
                    "pod": pod,
                    "container": container,
                    "cpu": "total",
                    "id": f"/kubepods/{pod}/{cid}",
                    "name": cid,
                }
                out[honor(target, cadvisor.CPU_USAGE, labels)] = value
            return out

        return collect

    def _dcgm_samples(self, node: str) -> Callable[[float], Samples]:
        return lambda now_s: dict(self._gpu_util.get(node, {}))

    def _dcgm_collect(self, node: Any):
        """dcgm-exporter's collection loop: every COLLECT_S, the duty cycle of the last SAMPLE_S."""
        env = self.api.env
        target = dcgm_target(node.name)
        gpus = int(node.allocatable.get("nvidia.com/gpu", 0))
        product = node.labels.get("nvidia.com/gpu.product", "NVIDIA GPU")
        while True:
            yield env.timeout(dcgm.COLLECT_S - dcgm.SAMPLE_S)
            pods = [
                p
                for p in self.api.store.list("v1", "Pod")
                if p.node == node.name and dcgm.gpus_of(p) and p.phase not in ("Succeeded", "Failed")
            ]
            before = {p.meta.uid: dcgm.busy_s(p) for p in pods}
            yield env.timeout(dcgm.SAMPLE_S)
            held = self._dcgm[node.name].assign(pods)
            owner = {i: p for p in pods for i in held.get(p.meta.uid, [])}
            out: Samples = {}
            for i in range(gpus):
                labels = {
                    "gpu": str(i),
                    "UUID": f"GPU-{node.name}-{i:04d}",
                    "device": f"nvidia{i}",
                    "modelName": product,
                    "Hostname": node.name,
                }
                value = 0.0
                pod = owner.get(i)
                if pod is not None:
                    labels.update(namespace=pod.namespace, pod=pod.name, container=pod.containers[0].name)
                    value = dcgm.utilization(before.get(pod.meta.uid, 0.0), dcgm.busy_s(pod))
                out[honor(target, dcgm.GPU_UTIL, labels)] = value
            self._gpu_util[node.name] = out


def dcgm_target(node: str) -> dict[str, str]:
    """The target labels of a node's dcgm-exporter."""
    return {"job": "nvidia-dcgm-exporter", "instance": f"{node}:9400", "node": node}


def _server_collector(c: Any, labels: dict[str, str]) -> Callable[[float], Collected]:
    """A model server's /metrics: answers while its process listens; a new instance starts at 0."""
    state: dict[str, vllmseries.ServerSeries] = {}

    def collect(now_s: float) -> Collected:
        engine = c.engine
        if engine is None or not c.listening or c.state != "running":
            return None
        series = state.get("current")
        if series is None or series.engine is not engine:
            series = state["current"] = vllmseries.ServerSeries(engine, labels)
        return series.scrape()

    return collect
