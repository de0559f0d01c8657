"""metrics-server on the simulator: the resource metrics API (metrics.k8s.io) the HPA reads.

Upstream: metrics-server v0.8 pkg/storage/pod.go (``podStorage.Store`` keeps the last two
points of each container; ``GetMetrics`` returns a pod only when every container it reported
has both points) and pkg/storage/types.go (``resourceUsage``: CPU is the rate of the cumulative
CPU counter between the two points, the window their distance; memory is the last point's
working set), scraping every node's kubelet /metrics/resource each ``--metric-resolution``:
15 s, the ``defaultArgs`` of its Helm chart (charts/metrics-server/values.yaml
``--metric-resolution=15s``; the binary's own default is 60 s).

Modelled:
- one scrape of every Ready node per resolution, the first at a seeded offset within the
  first resolution (metrics-server ticks from its own start); a node whose kubelet is down
  answers nothing, so its pods drop out of storage, as a failed scrape leaves them out of the
  new batch;
- the CPU counter is cAdvisor's (``sim/cadvisor.py``: one core while the engine works, plus a
  small baseline), sampled at the scrape instant; so the value lags load by up to one
  resolution and averages over one resolution;
- a pod has no metric until each of its running containers has two points of the same
  container instance (a restart starts over). A container that started between 10 s and one
  resolution before its first point gets a synthetic previous point (its start, 0 CPU
  seconds), as ``freshContainerMinMetricsResolution`` does upstream;
- memory working set: not measured by the simulator. Each container reports a constant:
  ``MODEL_SERVER_WORKING_SET_BYTES`` (3 GiB) for a container running a model server,
  ``OTHER_WORKING_SET_BYTES`` (64 MiB) otherwise. Both are slolab estimates, not
  measurements (vLLM's API server and engine processes hold a few GiB of host memory for
  Python, torch and the CUDA context; the GPU's memory is not in the cgroup's working set).
  So memory never follows load here, which is also true of a vLLM pod to first order.
Not modelled: the kubelet's own sample timestamps (cAdvisor housekeeping, about 10-15 s
behind), node metrics (``kubectl top node``), scrape timeouts, the ``/metrics`` of
metrics-server itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slolab.sim import cadvisor, controller, metricsapi

METRIC_RESOLUTION_S = 15.0
FRESH_CONTAINER_MIN_S = 10.0
MODEL_SERVER_WORKING_SET_BYTES = 3 * 1024**3
OTHER_WORKING_SET_BYTES = 64 * 1024**2


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    """One container's point of one scrape (``ContainerMetricsPoint``)."""

    instance: int
    start_s: float
    timestamp_s: float
    cpu_s: float
    memory_bytes: float


PodKey = tuple[str, str]  # (namespace, pod)


class MetricsServer(controller.Controller):
    """The metrics-server Deployment's scrape loop and its storage; serves metrics.k8s.io."""

    name = "metrics-server"

    def __init__(self, api: controller.API, resolution_s: float = METRIC_RESOLUTION_S) -> None:
        super().__init__(api)
        self.queued = False  # it never reconciles: its own loop scrapes
        self.resolution_s = resolution_s
        self.last: dict[PodKey, dict[str, Point]] = {}
        self.prev: dict[PodKey, dict[str, Point]] = {}
        self.scrapes = 0
        self.offset_s = api.rng("metrics-server").uniform(0.0, resolution_s)
        api.env.process(self._loop(self.offset_s))
        api.metrics.resource = self

    # ---- scrape loop --------------------------------------------------------------------------
    def _loop(self, offset_s: float):
        yield self.api.env.timeout(offset_s)
        while True:
            self.scrape()
            yield self.api.env.timeout(self.resolution_s)

    def scrape(self) -> None:
        """One tick: every Ready node's kubelet, then ``podStorage.Store`` of the batch."""
        now = self.api.now_s
        batch: dict[PodKey, dict[str, Point]] = {}
        ready_nodes = {n.name for n in self.api.store.list("v1", "Node") if n.ready}
        for pod in self.api.store.list("v1", "Pod"):
            if pod.node not in ready_nodes:
                continue
            points = {
                c.name: Point(c.instance, c.started_at_s, now, cadvisor.cpu_seconds(c, now), _working_set(c))
                for c in pod.containers
                if c.state == "running" and not c.lost and c.started_at_s is not None
            }
            if points:
                batch[(pod.namespace, pod.name)] = points
        self._store(batch, now)
        self.scrapes += 1

    def _store(self, batch: dict[PodKey, dict[str, Point]], now_s: float) -> None:
        prev: dict[PodKey, dict[str, Point]] = {}
        for key, containers in batch.items():
            kept: dict[str, Point] = {}
            for name, point in containers.items():
                age_s = now_s - point.start_s
                old = self.last.get(key, {}).get(name)
                if FRESH_CONTAINER_MIN_S <= age_s < self.resolution_s:
                    kept[name] = dataclasses.replace(point, timestamp_s=point.start_s, cpu_s=0.0)
                elif (
                    old is not None and old.instance == point.instance and old.timestamp_s < point.timestamp_s
                ):
                    kept[name] = old
            if kept:
                prev[key] = kept
        self.last, self.prev = batch, prev

    # ---- metricsapi.ResourceMetrics -----------------------------------------------------------
    def pod_metrics(
        self, resource: str, namespace: str, selector: dict[str, Any], container: str | None = None
    ) -> dict[str, metricsapi.PodMetric]:
        if resource not in ("cpu", "memory"):
            raise metricsapi.MetricsUnavailable(f"metrics-server serves cpu and memory, not {resource}")
        out: dict[str, metricsapi.PodMetric] = {}
        for pod in self.api.store.list("v1", "Pod", namespace):
            if not controller.labels_selected(selector, pod.labels):
                continue
            usage = self._usage(pod.namespace, pod.name)
            if usage is None:
                continue
            timestamp_s, window_s, by_container = usage
            if container is not None:
                if container not in by_container:
                    raise metricsapi.MetricsUnavailable(
                        f"failed to get container metrics: container {container} not present in "
                        f"metrics for pod {namespace}/{pod.name}"
                    )
                value = by_container[container][resource]
            else:
                value = sum(u[resource] for u in by_container.values())
            out[pod.name] = metricsapi.PodMetric(value, timestamp_s, window_s)
        return out

    def _usage(self, namespace: str, pod: str) -> tuple[float, float, dict[str, dict[str, float]]] | None:
        """``podStorage.GetMetrics`` for one pod: (timestamp, window, usage by container) or None."""
        last, prev = self.last.get((namespace, pod)), self.prev.get((namespace, pod))
        if last is None or prev is None:
            return None
        usage: dict[str, dict[str, float]] = {}
        earliest: tuple[float, float] | None = None
        for name, point in last.items():
            before = prev.get(name)
            if before is None:
                return None
            window_s = point.timestamp_s - before.timestamp_s
            if window_s <= 0 or point.cpu_s < before.cpu_s:
                continue  # resourceUsage's error: the container is skipped
            usage[name] = {"cpu": (point.cpu_s - before.cpu_s) / window_s, "memory": point.memory_bytes}
            if earliest is None or point.timestamp_s < earliest[0]:
                earliest = (point.timestamp_s, window_s)
        if earliest is None:
            return None
        return earliest[0], earliest[1], usage


def _working_set(container: Any) -> float:
    """The container's memory working set in bytes (a constant estimate, see the module doc)."""
    return float(MODEL_SERVER_WORKING_SET_BYTES if container.engine_port else OTHER_WORKING_SET_BYTES)
