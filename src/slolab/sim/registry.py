"""The simulated cluster's controllers, in the order the control loop runs them.

Adding a controller for a new kind is one module plus one line here: the allowed-field check
(``modelled``), ``Cluster.apply`` and the API view are built from the declarations below.
Order matters only within one instant: a controller's writes wake the ones after it in the same
pass and the ones before it in the next, as workqueues of a real cluster would in some order.
"""

from __future__ import annotations

from slolab.sim import (
    analysis,
    chaosschedule,
    controller,
    daemonset,
    defaulttolerations,
    deployment,
    deviceplugin,
    disruption,
    hpa,
    keda,
    kubelet,
    metricsserver,
    networkchaos,
    nodelifecycle,
    podchaos,
    priority,
    replicaset,
    rollout,
    scheduler,
    scrape,
    service,
    tainteviction,
)

CONTROLLERS: tuple[type[controller.Controller], ...] = (
    defaulttolerations.Controller,  # an admission plugin: first to see each new pod
    deployment.Controller,
    rollout.Controller,
    analysis.Controller,
    replicaset.Controller,
    daemonset.Controller,
    priority.Controller,
    scheduler.Scheduler,
    service.Controller,
    disruption.Controller,
    nodelifecycle.Controller,
    tainteviction.Controller,
    keda.Controller,
    hpa.Controller,
    chaosschedule.Controller,
    podchaos.Controller,
    networkchaos.Controller,
    kubelet.Controller,
    deviceplugin.Controller,
    metricsserver.MetricsServer,
    scrape.Controller,
)


def kinds() -> dict[tuple[str, str], controller.Kind]:
    """Every kind some controller owns, by (apiVersion, kind)."""
    out: dict[tuple[str, str], controller.Kind] = {}
    for c in CONTROLLERS:
        for kind in c.owns:
            if kind.key in out:
                raise ValueError(f"{kind.kind} ({kind.api_version}) is owned by two controllers")
            out[kind.key] = kind
    return out


def applyable() -> dict[tuple[str, str], controller.Kind]:
    """The kinds ``kubectl apply`` may create on the simulator."""
    return {k: v for k, v in kinds().items() if v.new is not None}


def pod_spec_fields() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(modelled, inert) fields of a pod spec, from every controller that acts on pods."""
    modelled = tuple(f for c in CONTROLLERS for f in c.pod_fields)
    inert = tuple(f for c in CONTROLLERS for f in c.pod_inert)
    return modelled, inert


def fields(kind: controller.Kind) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(modelled, inert) field patterns of ``kind``, pod template fields expanded."""
    pod_modelled, pod_inert = pod_spec_fields()
    modelled: list[str] = []
    inert = list(kind.inert)
    for f in kind.fields:
        prefix, _, rest = f.rpartition(".")
        if rest == controller.POD_SPEC:
            modelled.extend(f"{prefix}.{p}" for p in pod_modelled)
            inert.extend(f"{prefix}.{p}" for p in pod_inert)
        else:
            modelled.append(f)
    return tuple(modelled), tuple(inert)
