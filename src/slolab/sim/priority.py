"""PriorityClass (scheduling.k8s.io/v1) and the pod priority the Priority admission plugin sets.

Upstream: kubernetes v1.35 plugin/pkg/admission/priority/admission.go (a pod's
priorityClassName names a PriorityClass whose value becomes spec.priority and whose
preemptionPolicy becomes spec.preemptionPolicy; without a name, the class with globalDefault
true, else priority 0; the built-in classes system-cluster-critical (2000000000) and
system-node-critical (2000001000)) and pkg/apis/scheduling (value, globalDefault, description,
preemptionPolicy PreemptLowerPriority or Never). Docs: "Pod Priority and Preemption"
(kubernetes.io/docs/concepts/scheduling-eviction/pod-priority-preemption/).
The simulator resolves a pod's priority when the scheduler first sees it (pods are created by
controllers here, so that is the admission of the pod). A pod naming a class that does not
exist is refused by the API server upstream, so its controller can never create it; here it
stays Pending with a FailedScheduling event that quotes the API server's refusal.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from slolab.sim import controller, objects, store

PRIORITY_CLASS = ("scheduling.k8s.io/v1", "PriorityClass")
SYSTEM = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
PREEMPT = "PreemptLowerPriority"
NEVER = "Never"


@dataclasses.dataclass(eq=False)
class PriorityClass:
    api_version: ClassVar[str] = PRIORITY_CLASS[0]
    kind: ClassVar[str] = PRIORITY_CLASS[1]

    meta: store.Meta
    spec: dict[str, Any]  # the top-level fields: value, globalDefault, description, preemptionPolicy

    @property
    def value(self) -> int:
        return int(self.spec.get("value", 0))

    @property
    def preemption_policy(self) -> str:
        return str(self.spec.get("preemptionPolicy") or PREEMPT)

    def to_api(self, now_s: float, st: store.Store) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.meta.to_api(),
            "value": self.value,
            "globalDefault": bool(self.spec.get("globalDefault", False)),
            "preemptionPolicy": self.preemption_policy,
            **({"description": self.spec["description"]} if "description" in self.spec else {}),
        }


KIND = controller.Kind(
    *PRIORITY_CLASS,
    namespaced=False,
    new=lambda meta, spec: PriorityClass(meta, spec),
    fields=(*controller.META_FIELDS, "value", "globalDefault", "preemptionPolicy"),
    inert=("description",),
)


class NotFoundError(Exception):
    """The pod names a PriorityClass that does not exist."""


def admit(st: store.Store, pod: objects.Pod) -> None:
    """Set spec.priority and spec.preemptionPolicy as the admission plugin does (once)."""
    spec = pod.spec
    if "priority" in spec:
        return
    name = spec.get("priorityClassName")
    classes = st.list(*PRIORITY_CLASS)
    if name:
        if name in SYSTEM:
            value, policy = SYSTEM[name], PREEMPT
        else:
            found = next((c for c in classes if c.meta.name == name), None)
            if found is None:
                raise NotFoundError(
                    f'pods "{pod.name}" is forbidden: no PriorityClass with name {name} was found'
                )
            value, policy = found.value, found.preemption_policy
    else:
        default = next((c for c in classes if c.spec.get("globalDefault")), None)
        value, policy = (default.value, default.preemption_policy) if default else (0, PREEMPT)
        if default is not None:
            spec["priorityClassName"] = default.meta.name
    spec["priority"] = value
    spec["preemptionPolicy"] = policy


def of(pod: objects.Pod) -> int:
    """The pod's priority (corev1helpers.PodPriority: 0 when unset)."""
    return int(pod.spec.get("priority", 0))


class Controller(controller.Controller):
    """PriorityClasses are read by admission and the scheduler; nothing reconciles them."""

    name = "priorityclass"
    owns = (KIND,)
    pod_fields = ("priorityClassName",)
