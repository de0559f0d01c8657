"""The ``kind`` and ``cluster`` backends: the same graders against a live API server, in real time.

The lab runs in namespace ``lab-<name>``, installed by the slolab operator (``make lab
BACKEND=kind``). Reads and the grader's one write (``kubectl rollout restart``) go through
``slolab.kube.client``; the timeline comes from ``slolab.kube.observe`` (pod lifecycles polled
into the simulator's event vocabulary); load is the locust open-loop generator in its own
process (``slolab.load``), aimed at the lab's Service:

* ``kind``: the Service's NodePort, published on 127.0.0.1 by kind-config.yaml's
  extraPortMappings (https://kind.sigs.k8s.io/docs/user/configuration/#extra-port-mappings);
* in-cluster (the operator's grading Job): the Service's cluster DNS name;
* ``cluster`` from a laptop: ``$SLOLAB_SERVICE_URL``, or the Service's LoadBalancer address.

PromQL (``lab.prom``) goes to the platform's Prometheus (``slolab.backends.kubeprom``).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slolab import errors
from slolab.backends import base, kubeprom
from slolab.catalog import kindconfig, yamlfile
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.kube import client as client_mod
from slolab.kube import drain as drain_mod
from slolab.kube import observe
from slolab.load import process, requestlog
from slolab.run import timeline

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
#: A real-time wait or sleep says how it is going at most this often (seconds).
PROGRESS_EVERY_S = 15.0


class Progress:
    """Lines that tell a person watching a ten-minute grade where it is: ``say`` writes them (the
    grading plugin sets it to the terminal, past pytest's capture); ``status`` describes the pods."""

    def __init__(self, clock: base.Clock, observer: observe.Observer) -> None:
        self.say: Callable[[str], None] = lambda _line: None
        self._clock = clock
        self._observer = observer

    def status(self) -> str:
        series = self._observer.series()
        last = {name: int(points[-1][1]) for name, points in series.items() if points}
        pods, ready, restarts = (last.get(k, 0) for k in ("pods", "ready_pods", "restarts"))
        return f"{pods} pods, {ready} ready, {restarts} restarts"

    def line(self, what: str) -> None:
        self.say(f"  [{self._clock.now_s():5.0f} s] {what}; {self.status()}")


class ProgressClock:
    """The wall clock, whose long sleeps report progress every PROGRESS_EVERY_S."""

    def __init__(self, clock: process.WallClock, progress: Progress) -> None:
        self._clock = clock
        self._progress = progress
        self.t0_epoch = clock.t0_epoch

    def now_s(self) -> float:
        return self._clock.now_s()

    def sleep(self, seconds: float) -> None:
        if seconds >= PROGRESS_EVERY_S:
            self._progress.line(f"running {seconds:.0f} s")
        end = self.now_s() + seconds
        while (left := end - self.now_s()) > 0:
            self._clock.sleep(min(left, PROGRESS_EVERY_S))
            if (left := end - self.now_s()) > 0:
                self._progress.line(f"{left:.0f} s to go")


class KubeClusterView:
    """Reads of the lab's namespace and ``rollout restart``, on a live API server."""

    def __init__(
        self,
        kube: client_mod.Kube,
        namespace: str,
        clock: base.Clock,
        observer: observe.Observer,
        progress: Progress | None = None,
    ):
        self.kube = kube
        self.namespace = namespace
        self._clock = clock
        self._observer = observer
        self._progress = progress
        #: set by ``close``: a drain still under way stops (its thread ends)
        self.stopped = threading.Event()

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.kube.get(kind, name, None if kind == "Node" else namespace or self.namespace)

    def list(
        self, kind: str, namespace: str | None = None, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        return self.kube.list(kind, None if kind == "Node" else namespace or self.namespace, labels)

    def rollout_restart(self, kind: str, name: str, namespace: str | None = None) -> None:
        """What ``kubectl rollout restart`` sends: a strategic-merge patch of the template's
        ``kubectl.kubernetes.io/restartedAt`` annotation
        (kubectl/pkg/polymorphichelpers/objectrestarter.go)."""
        if kind != "Deployment":
            raise errors.BackendError(f"rollout restart of {kind} is not supported; only Deployment")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        ns = namespace or self.namespace
        if self.kube.get("Deployment", name, ns) is None:
            raise errors.BackendError(
                f"no Deployment {name!r} in namespace {ns} ({self.kube.where})",
                f"Check `kubectl -n {ns} get deployments`; `make lab` installs it.",
            )
        message = f"kubectl rollout restart deployment/{name}"
        self._observer.record(
            self._clock.now_s(), timeline.GRADER_KIND, name, timeline.ROLLOUT_RESTART, message
        )
        self.kube.patch("Deployment", name, patch, ns, patch_type="strategic")

    def set_image(
        self, kind: str, name: str, container: str, image: str, namespace: str | None = None
    ) -> None:
        """A JSON patch of the container's image, as ``kubectl argo rollouts set image`` makes
        (a Rollout is a custom resource: no strategic merge)."""
        ns = namespace or self.namespace
        obj = self.kube.get(kind, name, ns)
        if obj is None:
            raise errors.BackendError(
                f"no {kind} {name!r} in namespace {ns} ({self.kube.where})",
                f"Check `kubectl -n {ns} get {kind.lower()}s`; `make lab` installs it.",
            )
        containers = obj["spec"]["template"]["spec"]["containers"]
        index = next((i for i, c in enumerate(containers) if c.get("name") == container), None)
        if index is None:
            raise errors.BackendError(f"{kind} {name!r} has no container {container!r}")
        message = f"set image {kind.lower()}/{name} {container}={image}"
        self._observer.record(self._clock.now_s(), timeline.GRADER_KIND, name, timeline.SET_IMAGE, message)
        patch = [{"op": "replace", "path": f"/spec/template/spec/containers/{index}/image", "value": image}]
        self.kube.patch(kind, name, patch, ns, patch_type="json")

    def apply(self, docs: list[yamlfile.Document]) -> None:
        """Server-side apply (field manager ``slolab-grader``) of the lab's own manifests (its
        chaos) in the lab's namespace; Chaos Mesh then runs them."""
        for doc in docs:
            obj = dict(doc.data)
            meta = {**(obj.get("metadata") or {})}
            meta.setdefault("namespace", self.namespace)
            obj["metadata"] = meta
            message = f"kubectl apply --server-side {obj.get('kind')}"
            self._observer.record(
                self._clock.now_s(), timeline.GRADER_KIND, str(meta.get("name")), timeline.APPLIED, message
            )
            self.kube.apply(obj)

    def delete(self, docs: list[yamlfile.Document]) -> None:
        """``kubectl delete -f`` of what ``apply`` applied: Chaos Mesh recovers the chaos, and the
        Schedule's spawned objects go with it (garbage collection of owned objects)."""
        for doc in docs:
            meta = doc.data.get("metadata") or {}
            kind, name = str(doc.data.get("kind")), str(meta.get("name"))
            message = f"kubectl delete {kind} {name}"
            self._observer.record(self._clock.now_s(), timeline.GRADER_KIND, name, timeline.DELETED, message)
            self.kube.delete(kind, name, meta.get("namespace") or self.namespace)

    def drain(self, node: str, timeout_s: float | None = None) -> drain_mod.Drain:
        """Start ``kubectl drain NODE --ignore-daemonsets --delete-emptydir-data [--timeout]`` over
        the lab's pods on ``node`` (slolab.kube.drain); it runs on a thread. The returned Drain
        says when it is ``done`` or its ``error``, and holds kubectl's output lines."""
        now = self._clock.now_s
        self._observer.record(
            now(), timeline.GRADER_KIND, node, timeline.DRAIN_STARTED, f"kubectl drain {node}"
        )

        def record(
            kind: str, name: str, reason: str, message: str = "", type_: str = timeline.NORMAL
        ) -> None:
            self._observer.record(now(), kind, name, reason, message, type=type_)

        drain = drain_mod.Drain(node=node, namespace=self.namespace, timeout_s=timeout_s)
        return drain_mod.start(self.kube, drain, now, record, stop=self.stopped)

    def uncordon(self, node: str) -> None:
        """``kubectl uncordon NODE``: spec.unschedulable off."""
        if drain_mod.cordon(self.kube, node, unschedulable=False):
            self._observer.record(
                self._clock.now_s(),
                "Node",
                node,
                timeline.NODE_SCHEDULABLE,
                f"Node {node} status is now: NodeSchedulable",
            )

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, poll_s: float = 1.0) -> bool:
        progress = self._progress
        if progress is None:
            return base.poll_until(self._clock, condition, timeout_s, poll_s)
        started = self._clock.now_s()
        said = [started]

        def watched() -> bool:
            if condition():
                return True
            now = self._clock.now_s()
            if now - said[-1] >= PROGRESS_EVERY_S:
                said.append(now)
                progress.line(f"waiting {now - started:.0f} s of at most {timeout_s:.0f} s")
            return False

        done = base.poll_until(self._clock, watched, timeout_s, poll_s)
        if len(said) > 1 or not done:
            waited = self._clock.now_s() - started
            progress.line(f"{'done' if done else 'gave up'} after {waited:.0f} s")
        return done


def service_url(
    kube: client_mod.Kube, backend: str, namespace: str, service: str, *, in_cluster: bool
) -> str:
    """Where the load generator reaches the lab's Service from here (see the module docstring)."""
    svc = kube.get("Service", service, namespace)
    if svc is None:
        raise errors.BackendError(
            f"no Service {service!r} in namespace {namespace} ({kube.where})",
            f"Check `kubectl -n {namespace} get services`; `make lab` installs it.",
        )
    ports = svc["spec"].get("ports", [])
    if not ports:
        raise errors.BackendError(f"Service {namespace}/{service} has no ports")
    port = ports[0]
    if in_cluster:
        return f"http://{service}.{namespace}.svc:{port['port']}"
    explicit = os.environ.get("SLOLAB_SERVICE_URL")
    if explicit:
        return explicit.rstrip("/")
    if backend == "kind":
        mapped = kindconfig.published_node_ports()
        node_port = port.get("nodePort")
        if node_port in mapped:
            return f"http://127.0.0.1:{mapped[node_port]}"
        raise errors.BackendError(
            f"Service {namespace}/{service} is not reachable from this machine: it has "
            f"{'node port ' + str(node_port) if node_port else 'no node port'}, and kind-config.yaml "
            f"publishes node ports {', '.join(map(str, sorted(mapped))) or 'none'} on 127.0.0.1.",
            f"Keep the Service of type NodePort with nodePort {min(mapped, default=30080)}.",
        )
    ingress = (svc.get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
    if ingress:
        host = ingress[0].get("ip") or ingress[0].get("hostname")
        return f"http://{host}:{port['port']}"
    raise errors.BackendError(
        f"Service {namespace}/{service} has no address reachable from this machine "
        f"(type {svc['spec'].get('type', 'ClusterIP')}).",
        "Set SLOLAB_SERVICE_URL (e.g. through an ingress), or grade in the cluster: "
        '`kubectl patch lab <name> --type merge -p \'{"spec":{"gradeRequest":N}}\'`.',
    )


class KubeBackend:
    """A lab installed by the operator in ``lab-<name>``, graded in real time."""

    def __init__(
        self,
        name: str,
        lab: lab_mod.Lab,
        workspace: Path,
        seed: int,
        *,
        context: str | None = None,
        in_cluster: bool = False,
        namespace: str | None = None,
        load_factory: Callable[..., Any] | None = None,
    ) -> None:
        self.name = name
        self.lab = lab
        self.scenario = scenario_mod.load(lab.scenario)
        self.seed = seed
        self.workspace = workspace
        self.namespace = namespace or f"lab-{lab.name}"
        self.kube = client_mod.connect(context, in_cluster=in_cluster)
        if self.kube.get("Namespace", self.namespace) is None:
            raise errors.BackendError(
                f"namespace {self.namespace} does not exist on {self.kube.where}",
                f"Start the lab there first: `make lab NAME={lab.name} BACKEND={name}`.",
            )
        wall = process.WallClock()
        self.observer = observe.Observer(self.kube, self.namespace, wall.t0_epoch)
        self.observer.start()
        self.progress = Progress(wall, self.observer)
        self.clock = ProgressClock(wall, self.progress)
        self.cluster = KubeClusterView(self.kube, self.namespace, self.clock, self.observer, self.progress)
        service = lab.grading.target.service
        url = service_url(self.kube, name, self.namespace, service, in_cluster=in_cluster)
        if load_factory is None:
            load_factory = process.ProcessLoad
        self.load = load_factory(
            url=url,
            model=self.scenario.model.served_model_name,
            scenario=self.scenario,
            seed=seed,
            clock=self.clock,
        )
        self.prom = kubeprom.KubeProm(
            lambda: kubeprom.prometheus_url(name, in_cluster=in_cluster), wall.t0_epoch, self.clock.now_s
        )

    @property
    def events(self) -> list[base.Event]:
        return self.observer.events()

    def mark(self, reason: str, message: str = "") -> None:
        self.observer.record(self.clock.now_s(), timeline.GRADER_KIND, self.lab.name, reason, message)

    def series(self) -> dict[str, list[tuple[float, float]]]:
        return self.observer.series()

    def logs(self) -> list[requestlog.RequestLog]:
        return list(self.load.logs)

    def close(self) -> None:
        self.cluster.stopped.set()
        self.observer.stop()
        self.prom.close()
        close = getattr(self.load, "close", None)
        if close is not None:
            close()
