"""DefaultTolerationSeconds admission: every new pod tolerates a lost node for 300 s.

Upstream: kubernetes v1.35 plugin/pkg/admission/defaulttolerationseconds/admission.go (Admit:
on pod create, unless the pod already tolerates the taint, i.e. has a toleration whose key is
the taint's or empty and whose effect is NoExecute or empty, add
``{key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds:
300}`` and the same for node.kubernetes.io/unreachable; the 300 s are the API server's
--default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds).
Docs: https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/#taint-based-evictions
("Kubernetes automatically adds a toleration for node.kubernetes.io/not-ready and
node.kubernetes.io/unreachable with tolerationSeconds=300, unless you ... set those
tolerations explicitly").
The simulated API server has no admission chain, so the plugin runs on the pod's ADDED watch
event, as the first watcher of pods after the API server's own bookkeeping and before any
controller reconciles it: nothing reads a pod's tolerations in between.
"""

from __future__ import annotations

from typing import Any

from slolab.sim import controller, store

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_TOLERATION_S = 300


def tolerates(tolerations: list[dict[str, Any]], key: str) -> bool:
    """toleratesNodeNotReady / toleratesNodeUnreachable."""
    return any(
        t.get("key") in (key, None, "") and t.get("effect") in ("NoExecute", None, "") for t in tolerations
    )


def admit(spec: dict[str, Any]) -> None:
    """Add the default NoExecute tolerations to a pod spec that does not have them."""
    tolerations = list(spec.get("tolerations") or [])
    added = [
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": DEFAULT_TOLERATION_S}
        for key in (NOT_READY, UNREACHABLE)
        if not tolerates(tolerations, key)
    ]
    if added:
        spec["tolerations"] = tolerations + added


class Controller(controller.Controller):
    """The admission plugin, run on each pod as it is created."""

    name = "default-toleration-seconds"
    watches = (("v1", "Pod"),)

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.queued = False

    def on_event(self, event: store.WatchEvent) -> None:
        if event.type == store.ADDED:
            admit(event.obj.spec)
