"""The kubelet's device manager with the NVIDIA device plugin: a node advertises its GPUs only
while the plugin runs there.

Upstream: NVIDIA/k8s-device-plugin v0.20.0 (the DaemonSet nvidia-device-plugin-daemonset; its
server registers the resource nvidia.com/gpu with the kubelet over the device plugin API,
one device per GPU) and kubernetes v1.35 pkg/kubelet/cm/devicemanager (manager.go:
GetCapacity: a registered resource appears in status.capacity with every device and in
status.allocatable with the healthy ones; when the plugin's endpoint stops, its devices stop
being allocatable; the resource stays in capacity). Docs: "Device Plugins"
(kubernetes.io/docs/concepts/extend-kubernetes/compute-storage-net/device-plugins/) and
"Schedule GPUs". For the nodes of a scenario pool with ``device_plugin: true``: while a
container of a device plugin image (sim/workload.py) runs Ready on the node, capacity and
allocatable nvidia.com/gpu are the pool's GPU count; once it stops, allocatable drops to 0;
before it ever ran, neither lists nvidia.com/gpu. Pods already holding GPUs keep running, as
they do on a node whose plugin restarts. Not modelled: the endpoint stop grace period
(devices are unallocatable as soon as the plugin stops), device health checks, MIG.
"""

from __future__ import annotations

from decimal import Decimal

from slolab.sim import controller, objects, quantity, workload

RESOURCE = "nvidia.com/gpu"


def plugin_running(node: objects.Node, pods: list[objects.Pod]) -> bool:
    """A device plugin container runs Ready on ``node``."""
    for pod in pods:
        if pod.node != node.name:
            continue
        for c in pod.containers:
            if c.state == "running" and c.ready and workload.is_device_plugin(c.spec):
                return True
    return False


class Controller(controller.Controller):
    """Every node's device manager: capacity and allocatable nvidia.com/gpu from the plugin."""

    name = "device-manager"
    watches = (("v1", "Pod"), ("v1", "Node"))

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.gpus: dict[str, Decimal | None] = {}  # node -> GPUs of its pool (None: no plugin pool)
        self.registered: set[str] = set()

    def _pool_gpus(self, node: objects.Node) -> Decimal | None:
        """The GPUs of the node's pool when the pool has ``device_plugin``, else None (memoized)."""
        if node.name not in self.gpus:
            pool = next(
                (
                    p
                    for p in self.api.scenario.topology.pools
                    if objects.labels_match(p.match_labels, node.labels)
                ),
                None,
            )
            self.gpus[node.name] = (
                quantity.parse(pool.capacity.get(RESOURCE, "0"))
                if pool is not None and pool.device_plugin
                else None
            )
        return self.gpus[node.name]

    def reconcile(self) -> bool:
        st = self.api.store
        nodes = [n for n in st.list("v1", "Node") if self._pool_gpus(n) is not None]
        if not nodes:
            return False
        pods = st.list("v1", "Pod")
        changed = False
        for node in nodes:
            count = self._pool_gpus(node)
            assert count is not None  # filtered above
            running = node.ready and plugin_running(node, pods)
            if running:
                self.registered.add(node.name)
            if node.name not in self.registered:
                continue
            want = count if running else Decimal(0)
            if node.allocatable.get(RESOURCE) != want or node.capacity is None:
                node.allocatable[RESOURCE] = want
                node.capacity = {**node.allocatable, RESOURCE: count}
                st.update(node)
                changed = True
        return changed
