"""Is the lab's workload serving? Its Deployment rolled out, every pod serving, its Service routing.

A target serves when all three hold:

1. the Deployment's rollout is complete, as ``kubectl rollout status`` decides it (kubernetes
   v1.35 staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go,
   DeploymentStatusViewer): ``status.observedGeneration >= metadata.generation``, and
   ``updatedReplicas``, ``replicas`` (no old pods left) and ``availableReplicas`` all equal
   ``spec.replicas``. Left out: ``progressDeadlineSeconds`` (a wait has its own deadline);
2. every pod the Deployment selects (not terminating) has been Ready while its model server
   answered (``podtimes``: a ``Ready`` after ``ModelLoaded`` on the timeline): Ready alone is not
   serving when a readiness probe checks nothing;
3. the Service has at least one ready address in its Endpoints (a Service that selects none of
   those pods routes nothing, whatever the pods say).

Pods and Endpoints are read only once the rollout is complete, so a wait that polls every
second reads the timeline only when the answer can change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from slolab.backends import base
from slolab.catalog import lab as lab_mod
from slolab.grading import podtimes


@dataclasses.dataclass(frozen=True)
class State:
    """What one look at the target found."""

    deployment: str
    service: str
    found: bool = False
    complete: bool = False
    rollout: str = ""  # "2/3 updated, 1/3 available, 4 pods" as kubectl words the counts
    pods: int | None = None  # None: not looked at (the rollout is not complete)
    pods_serving: int | None = None
    endpoints_ready: int | None = None

    @property
    def serving(self) -> bool:
        return (
            self.complete
            and self.pods is not None
            and self.pods_serving == self.pods
            and bool(self.endpoints_ready)
        )

    def __str__(self) -> str:
        if not self.found:
            return f"no Deployment {self.deployment!r}"
        parts = [f"Deployment {self.deployment}: {self.rollout}"]
        if self.pods is not None:
            parts.append(f"{self.pods_serving}/{self.pods} pods serving")
            parts.append(f"Service {self.service}: {self.endpoints_ready} ready endpoints")
        return "; ".join(parts)


def _rollout(deployment: dict[str, Any]) -> tuple[bool, str]:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    want = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    total = status.get("replicas", 0)
    complete = (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and updated == want
        and available == want
        and total == want
    )
    return complete, f"{updated}/{want} updated, {available}/{want} available, {total} pods"


def _ready_addresses(endpoints: dict[str, Any] | None) -> int:
    if endpoints is None:
        return 0
    return sum(len(subset.get("addresses") or []) for subset in endpoints.get("subsets") or [])


def observe(backend: base.Backend, target: lab_mod.Target) -> State:
    """One look at ``target`` on ``backend`` (see the module docstring)."""
    d = backend.cluster.get("Deployment", target.deployment)
    if d is None:
        return State(target.deployment, target.service)
    complete, rollout = _rollout(d)
    if not complete:
        return State(target.deployment, target.service, found=True, rollout=rollout)
    times = podtimes.collect(backend.events)
    # the Deployment's pods only (in a cluster the namespace also holds e.g. the grading Job's pod)
    selector = ((d.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    pods = [
        p["metadata"]["name"]
        for p in backend.cluster.list("Pod", labels=selector)
        if not p["metadata"].get("deletionTimestamp")
    ]
    serving = sum(1 for name in pods if name in times and times[name].serving_ready_s is not None)
    return State(
        target.deployment,
        target.service,
        found=True,
        complete=True,
        rollout=rollout,
        pods=len(pods),
        pods_serving=serving,
        endpoints_ready=_ready_addresses(backend.cluster.get("Endpoints", target.service)),
    )


@dataclasses.dataclass(frozen=True)
class Serving:
    """The outcome of a wait: true when the target served before the deadline."""

    ok: bool
    started_s: float
    waited_s: float
    timeout_s: float
    state: State  # the last look

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"✓ Deployment {self.state.deployment} serving after {self.waited_s:.0f} s"
        return (
            f"✗ Deployment {self.state.deployment} not serving after {self.waited_s:.0f} s "
            f"(deadline {self.timeout_s:.0f} s): {self.state}"
        )


def wait(
    backend: base.Backend,
    target: lab_mod.Target,
    timeout_s: float,
    *,
    poll_s: float = 1.0,
    say: Callable[[str], None] | None = None,
) -> Serving:
    """Let time pass until ``target`` serves or ``timeout_s`` passed; ``say`` gets the outcome line
    (the backend's ``cluster.wait_for`` reports progress in between on a real cluster)."""
    started_s = backend.clock.now_s()
    last: list[State] = []

    def serving() -> bool:
        last[:] = [observe(backend, target)]
        return last[0].serving

    ok = backend.cluster.wait_for(serving, timeout_s=timeout_s, poll_s=poll_s)
    result = Serving(ok, started_s, backend.clock.now_s() - started_s, timeout_s, last[-1])
    if say is not None:
        say(str(result))
    return result
