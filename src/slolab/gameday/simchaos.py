"""The game day's chaos on the simulator: Chaos Mesh objects applied to the simulated cluster,
node drain and node loss as the simulator's cluster operations.

Chaos Mesh (PodChaos, NetworkChaos, Schedule) is the simulator's own (``slolab.sim`` chaos
controllers, registered in ``sim/registry.py``); a simulator without them refuses the objects with
``NotModelledError``, as it refuses any kind it does not model. ``kubectl drain`` is the
simulator's drain process (``slolab.sim.drain``: cordon, then evictions through the Eviction API
that retry every 5 s while a PodDisruptionBudget refuses them); node loss is ``Cluster.set_node_ready``, which
the node lifecycle controller turns into NotReady, the unreachable taint and evictions.
"""

from __future__ import annotations

from typing import Any

from slolab.backends import sim as sim_backend
from slolab.catalog import yamlfile

#: Where the applied chaos documents say they came from (errors name it).
SOURCE = "game day chaos schedule"


class SimChaos:
    """:class:`slolab.gameday.run.Chaos` on a :class:`slolab.backends.sim.SimBackend`: apply, drain
    and uncordon as its cluster view does them for a grader (marked on the timeline)."""

    def __init__(self, backend: sim_backend.SimBackend) -> None:
        self._view = backend.cluster
        self._sim = backend.sim

    def apply(self, manifests: list[dict[str, Any]]) -> None:
        self._view.apply(
            [yamlfile.Document(data=m, file=SOURCE, lines={}, index=i) for i, m in enumerate(manifests)]
        )

    def delete(self, manifests: list[dict[str, Any]]) -> None:
        for m in manifests:
            if self._sim.store.get(m["apiVersion"], m["kind"], m["metadata"]["name"], self._sim.namespace):
                self._sim.delete(m["apiVersion"], m["kind"], m["metadata"]["name"])

    def drain(self, node: str) -> None:
        # --ignore-daemonsets --delete-emptydir-data, no --timeout: refused evictions are retried
        self._view.drain(node)

    def uncordon(self, node: str) -> None:
        self._view.uncordon(node)

    def set_node_ready(self, node: str, ready: bool) -> None:
        self._sim.set_node_ready(node, ready)
