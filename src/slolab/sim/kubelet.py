"""Kubelet: one per node; admits bound pods, runs their containers, probes, kills, terminates.

Upstream: kubernetes v1.35 pkg/kubelet (pod_workers.go, kubelet.go HandlePodAdditions /
HandlePodRemoves, status/status_manager.go, prober/prober_manager.go UpdatePodStatus). The
container processes themselves are sim/kuberuntime.py. The model server follows vLLM v0.33.0:
the socket does not accept connections until the model has loaded (launcher.py), so probes see
connection refused while it loads; on SIGTERM uvicorn stops accepting and finishes streams in
flight; streams still open when the grace period ends are cut by SIGKILL.
Modelled: image pull (cached images and IfNotPresent take no time), container start, model load
time from the scenario, startup errors (no GPU, max_model_len too large) as exit 1, Started/Ready
from the probe results, restartPolicy Always, preStop sleep (lifecycle sleep action or an exec
``sleep N``), terminationGracePeriodSeconds. What a container does is interrupted at once when
its pod is deleted (graceful: preStop, SIGTERM, grace, SIGKILL; a container that is pulling,
starting or backing off just stops), deleted with grace 0 (SIGKILL now), killed
(``kill_container``: SIGKILL, exit 137, streams in flight cut, restart with back-off), and when
its node stops (``Cluster.set_node_ready``: the processes die, streams are cut, nothing more is
posted, so the API keeps showing the last status, as for a silent node, and connections to the
pod time out; when the node is back the containers restart with exit 255 reason Unknown, and
pods deleted meanwhile finish terminating). Not modelled: init containers, sidecars, OOM kills,
node pressure eviction, image pull failures. A silent node's Ready condition, its pods' Ready
False and its taints are the node lifecycle controller's (sim/nodelifecycle.py).
"""

from __future__ import annotations

import random
from typing import Any

import simpy

from slolab import errors
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import yamlfile
from slolab.run import timeline
from slolab.sim import controller, kuberuntime, objects, probes, serverargs, store

POD_FIELDS = (
    *(
        f"containers[*].{f}"
        for f in (
            "name",
            "image",
            "imagePullPolicy",
            "command[*]",
            "args[*]",
            "ports[*].name",
            "ports[*].containerPort",
            "ports[*].protocol",
            "resources.requests.*",
            "resources.limits.*",
            "lifecycle.preStop.sleep.seconds",
            "lifecycle.preStop.exec.command[*]",
            *probes.CONTAINER_FIELDS,
        )
    ),
    "terminationGracePeriodSeconds",
    "restartPolicy",
)
POD_INERT = (
    *(
        f"containers[*].{f}"
        for f in (
            "volumeMounts[*].*",
            "securityContext.**",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "workingDir",
        )
    ),
    "volumes[*].name",
    "volumes[*].emptyDir.**",
    "securityContext.**",
    "serviceAccountName",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "dnsPolicy",
)


class Controller(controller.Controller):
    """The kubelets of every node; each reacts at once to its pods' changes (its pod workers)."""

    name = "kubelet"
    owns = (controller.Kind("v1", "Pod"), controller.Kind("v1", "Node", namespaced=False))
    watches = (("v1", "Pod"), ("v1", "Node"))
    pod_fields = POD_FIELDS
    pod_inert = POD_INERT

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.queued = False
        self.kubelets: dict[str, Kubelet] = {}

    def kubelet(self, node: objects.Node) -> Kubelet:
        k = self.kubelets.get(node.name)
        if k is None:
            k = self.kubelets[node.name] = Kubelet(self.api, node, self.api.rng(f"kubelet:{node.name}"))
        return k

    def on_event(self, event: store.WatchEvent) -> None:
        obj = event.obj
        if obj.kind == "Node":
            if event.type != store.DELETED:
                self.kubelet(obj).set_ready(obj.ready)
            return
        k = self.kubelets.get(obj.node) if obj.node is not None else None
        if k is not None:
            k.pod_event(event)

    @classmethod
    def check_pod_spec(
        cls, doc: yamlfile.Document, path: tuple[str | int, ...], scenario: scenario_mod.Scenario
    ) -> list[errors.Problem]:
        spec: Any = doc.data
        for part in path:
            spec = spec[part]
        problems: list[errors.Problem] = []
        for i, c in enumerate(spec.get("containers") or []):
            base = (*path, "containers", i)
            try:
                serverargs.parse(c, doc, base, scenario)
            except errors.InputError as exc:
                problems.extend(exc.problems)
            try:
                kuberuntime.prestop_seconds(c)
            except ValueError as exc:
                field = (*base, "lifecycle", "preStop", "exec", "command")
                problems.append(
                    errors.Problem(doc.file, str(exc), field=yamlfile.dotted(field), line=doc.line_of(field))
                )
        return problems


class Kubelet:
    """The kubelet of one node."""

    def __init__(self, api: controller.API, node: objects.Node, rng: random.Random) -> None:
        self.api = api
        self.env = api.env
        self.node = node
        self.rng = rng
        self.images: set[str] = set()
        self.pods: dict[str, objects.Pod] = {}  # uid -> pod this kubelet runs (still in the API)
        self.admitted: set[str] = set()
        self.terminating: set[str] = set()
        self.up: simpy.Event | None = None  # while the node is down: triggered when it is back

    def gone(self, pod: objects.Pod) -> bool:
        """The pod is being deleted or has left the API: its containers stop for good."""
        return pod.terminating or pod.meta.uid not in self.pods

    def publish(self, pod: objects.Pod) -> None:
        """Post the pod's status (statusManager), unless the pod has left the API."""
        if pod.meta.uid in self.pods:
            self.api.store.update(pod)

    # ---- pod workers --------------------------------------------------------------------------
    def pod_event(self, event: store.WatchEvent) -> None:
        pod = event.obj
        uid = pod.meta.uid
        if event.type == store.DELETED:
            if self.pods.pop(uid, None) is not None and self.up is None:
                self._force_kill(pod)
            self.admitted.discard(uid)
            self.terminating.discard(uid)
            return
        if uid not in self.pods:
            self.pods[uid] = pod
        if self.up is not None:
            return  # the kubelet is down: it acts on what it finds when the node is back
        if uid not in self.admitted:
            self.admit(pod)
        if pod.terminating and uid not in self.terminating:
            self.terminate(pod)

    def admit(self, pod: objects.Pod) -> None:
        """A pod was bound to this node: run each of its containers."""
        self.admitted.add(pod.meta.uid)
        now = self.env.now
        pod.set_condition("Initialized", True, now)
        pod.set_condition("ContainersReady", False, now)
        pod.set_condition("Ready", False, now)
        for c in pod.containers:
            c.process = self.env.process(kuberuntime.run_container(self, pod, c))

    def terminate(self, pod: objects.Pod) -> None:
        """The pod was deleted: stop its containers (preStop, SIGTERM, grace, SIGKILL)."""
        self.terminating.add(pod.meta.uid)
        for c in pod.containers:
            if c.state == "running":
                if not c.stopping:
                    c.killer = self.env.process(
                        kuberuntime.kill(self, pod, c, "Stopping container", pod.grace_period_s or 0.0)
                    )
            else:  # pulling, starting or backing off: stop trying
                kuberuntime.interrupt(c.process, kuberuntime.DELETED)
        self.maybe_gone(pod)

    def kill_container(self, pod: objects.Pod, c: objects.Container, reason: str) -> None:
        """SIGKILL the container's process now (it restarts per restartPolicy)."""
        if c.state != "running" or self.up is not None:
            return
        kuberuntime.interrupt(c.killer, reason)
        kuberuntime.sigkill(self, pod, c, reason)

    def _force_kill(self, pod: objects.Pod) -> None:
        """The pod left the API while running here (grace 0): kill every container at once."""
        for c in pod.containers:
            if c.state == "running":
                kuberuntime.interrupt(c.killer, kuberuntime.DELETED)
                kuberuntime.sigkill(self, pod, c, f"pod {pod.name} was deleted")
            else:
                kuberuntime.interrupt(c.process, kuberuntime.DELETED)

    def maybe_gone(self, pod: objects.Pod) -> None:
        uid = pod.meta.uid
        if pod.terminating and uid in self.pods and all(c.state != "running" for c in pod.containers):
            del self.pods[uid]
            self.api.store.delete(pod, grace_period_s=0)

    # ---- the node -----------------------------------------------------------------------------
    def set_ready(self, ready: bool) -> None:
        if not ready and self.up is None:
            self.up = self.env.event()
            reason = f"connection timed out: node {self.node.name} is not ready"
            for pod in self.pods.values():
                if pod.meta.uid not in self.admitted:
                    continue
                pod.unreachable = reason
                for c in pod.containers:
                    self._lose(pod, c)
        elif ready and self.up is not None:
            up, self.up = self.up, None
            up.succeed()
            for pod in list(self.pods.values()):
                pod.unreachable = None
                if pod.meta.uid not in self.admitted:
                    self.admit(pod)
                if pod.terminating and pod.meta.uid not in self.terminating:
                    self.terminating.add(pod.meta.uid)

    def _lose(self, pod: objects.Pod, c: objects.Container) -> None:
        """The node stopped: the container's processes die with it; no status is posted."""
        c.listening = False
        c.lost = True
        if c.engine is not None and c.engine.in_flight:
            c.engine.kill(f"stream cut: node {self.node.name} of pod {pod.name} stopped")
        kuberuntime.interrupt(c.killer, kuberuntime.NODE_DOWN)
        kuberuntime.interrupt(c.server, kuberuntime.NODE_DOWN)
        kuberuntime.interrupt(c.process, kuberuntime.NODE_DOWN)

    # ---- probes -----------------------------------------------------------------------------
    def probe_failed(self, pod: objects.Pod, c: objects.Container, kind: str, output: str) -> None:
        self.api.record(
            "Pod",
            pod.name,
            timeline.UNHEALTHY,
            f"{kind.capitalize()} probe failed: {output}",
            timeline.WARNING,
            probe=kind,
        )

    def probe_result(self, pod: objects.Pod, c: objects.Container, kind: str, result: str) -> None:
        if kind == "startup" and result == probes.SUCCESS:
            c.started = True
            readiness = c.workers.get("readiness")
            self.update_status(pod, c)
            if readiness is not None:
                readiness.probe(self.env.now)  # manualTriggerCh: probe readiness at once
            return
        self.update_status(pod, c)

    def probe_kill(self, pod: objects.Pod, c: objects.Container, kind: str, grace_s: float | None) -> None:
        if grace_s is None:
            grace_s = float(pod.spec.get("terminationGracePeriodSeconds", 30))
        what = "startup" if kind == "startup" else "liveness"
        if not c.stopping:
            c.killer = self.env.process(
                kuberuntime.kill(
                    self, pod, c, f"Container {c.name} failed {what} probe, will be restarted", grace_s
                )
            )

    def update_status(self, pod: objects.Pod, c: objects.Container) -> None:
        """prober_manager.UpdatePodStatus: Started and Ready from the probe results."""
        workers = c.workers
        running = c.state == "running"
        if running and "startup" not in workers:
            c.started = True
        readiness = workers.get("readiness")
        c.ready = running and c.started and (readiness is None or readiness.result == probes.SUCCESS)
        now = self.env.now
        all_ready = all(x.ready for x in pod.containers)
        pod.set_condition("ContainersReady", all_ready, now)
        if pod.set_condition("Ready", all_ready, now):
            if all_ready:
                pod.ready_since_s = now
                if pod.first_ready_s is None:
                    pod.first_ready_s = now
            else:
                pod.ready_since_s = None
            self.api.record(
                "Pod",
                pod.name,
                timeline.READY if all_ready else timeline.NOT_READY,
                f"pod {pod.name} is {'Ready' if all_ready else 'not Ready'}",
                serving=bool(c.listening),
            )
        self.publish(pod)

    # ---- termination ------------------------------------------------------------------------
