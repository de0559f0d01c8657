"""The simulated cluster: object store, controllers wired to a SimPy environment, and the API view.

One control loop runs the controllers (Deployment, ReplicaSet, scheduler) whenever something
changed, at the same virtual instant, until nothing changes any more: the watch-driven
controllers of a real cluster with their (millisecond) latencies taken as zero.
"""

from __future__ import annotations

import copy
import random
from typing import Any

import simpy

from slolab import errors
from slolab.catalog import kindconfig, yamlfile
from slolab.catalog import scenario as scenario_mod
from slolab.sim import (
    deployment,
    kubelet,
    objects,
    quantity,
    replicaset,
    scheduler,
    serverargs,
    service,
    timeline,
)


def build_nodes(scenario: scenario_mod.Scenario, specs: list[kindconfig.NodeSpec]) -> list[objects.Node]:
    """kind-config.yaml's nodes with capacity from the first scenario pool whose labels match."""
    nodes = []
    for spec in specs:
        pool = next(
            (p for p in scenario.topology.pools if objects.labels_match(p.match_labels, spec.labels)), None
        )
        capacity = pool.capacity if pool else scenario.topology.default_capacity
        labels = dict(spec.labels)
        if pool and pool.gpu_product:
            labels["nvidia.com/gpu.product"] = pool.gpu_product
        nodes.append(
            objects.Node(
                name=spec.name,
                labels=labels,
                taints=[dict(t) for t in spec.taints],
                allocatable=quantity.resources(capacity),
            )
        )
    return nodes


class Cluster:
    """Everything the simulator runs, for one lab run."""

    def __init__(
        self, scenario: scenario_mod.Scenario, nodes: list[objects.Node], seed: int, namespace: str
    ) -> None:
        self.env = simpy.Environment()
        self.scenario = scenario
        self.namespace = namespace
        self.seed = seed
        self.recorder = timeline.Recorder()
        self.nodes = nodes
        self.deployments: dict[str, deployment.Deployment] = {}
        self.services: dict[str, service.Service] = {}
        self.others: dict[tuple[str, str], dict[str, Any]] = {}  # stored as written (PDB)
        self.pods: dict[str, objects.Pod] = {}
        self._configs: dict[tuple[str, int], serverargs.ServerConfig] = {}
        self._docs: dict[str, yamlfile.Document] = {}
        self.rng_names = random.Random(f"{seed}:names")
        self.rng_route = random.Random(f"{seed}:route")
        self.scheduler = scheduler.Scheduler(random.Random(f"{seed}:scheduler"))
        self.kubelets = {
            n.name: kubelet.Kubelet(self, n, random.Random(f"{seed}:kubelet:{n.name}")) for n in nodes
        }
        self.deployment_controller = deployment.Controller(self)
        self._ip = 0
        self._wake = self.env.event()
        self.env.process(self._control_loop())

    # ---- apply --------------------------------------------------------------------------------
    def apply(self, docs: list[yamlfile.Document]) -> None:
        """Create or update objects, as ``kubectl apply`` would; server configs are checked first."""
        for doc in docs:
            if doc.data["kind"] == "Deployment":
                self._check_containers(doc)
        for doc in docs:
            data = copy.deepcopy(doc.data)
            kind, meta = data["kind"], data.get("metadata") or {}
            name = meta["name"]
            if kind == "Deployment":
                self._docs[name] = doc
                self._apply_deployment(name, meta, data["spec"])
            elif kind == "Service":
                svc = service.Service(name, self.namespace, data.get("spec") or {}, meta.get("labels") or {})
                self.services[name] = svc
                svc.refresh(list(self.pods.values()))
            else:
                self.others[(kind, name)] = data
        self.notify()

    def _check_containers(self, doc: yamlfile.Document) -> None:
        problems: list[errors.Problem] = []
        containers = doc.data["spec"]["template"]["spec"].get("containers") or []
        base = ("spec", "template", "spec", "containers")
        for i, c in enumerate(containers):
            try:
                serverargs.parse(c, doc, (*base, i), self.scenario)
            except errors.InputError as exc:
                problems.extend(exc.problems)
            try:
                kubelet.prestop_seconds(c)
            except ValueError as exc:
                path = (*base, i, "lifecycle", "preStop", "exec", "command")
                problems.append(
                    errors.Problem(doc.file, str(exc), field=yamlfile.dotted(path), line=doc.line_of(path))
                )
        restart = doc.data["spec"]["template"]["spec"].get("restartPolicy", "Always")
        if restart != "Always":
            path = ("spec", "template", "spec", "restartPolicy")
            problems.append(
                errors.Problem(
                    doc.file,
                    "a Deployment's pods must use restartPolicy Always",
                    field=yamlfile.dotted(path),
                    line=doc.line_of(path),
                )
            )
        if problems:
            raise errors.NotModelledError(
                problems,
                "Fix or remove those fields; the simulator models slolab/serve and vllm/vllm-openai servers.",
            )

    def _apply_deployment(self, name: str, meta: dict[str, Any], spec: dict[str, Any]) -> None:
        d = self.deployments.get(name)
        if d is None:
            self.deployments[name] = deployment.Deployment(
                name,
                self.namespace,
                meta.get("labels") or {},
                spec,
                self.env.now,
                last_progress_s=self.env.now,
            )
        elif d.spec != spec:
            d.spec = spec
            d.generation += 1

    def server_config(self, pod: objects.Pod, c: objects.Container) -> serverargs.ServerConfig:
        owner = self.deployment_of(pod)
        index = pod.containers.index(c)
        key = (pod.owner, index)
        if key not in self._configs:
            source = self._docs.get(owner.name) if owner else None
            doc = source or yamlfile.Document(data={}, file="(cluster)", lines={})
            self._configs[key] = serverargs.parse(
                c.spec, doc, ("spec", "template", "spec", "containers", index), self.scenario
            )
        return self._configs[key]

    def model_load_time(self, config: serverargs.ServerConfig, rng: random.Random) -> float:
        """The scenario's load-time draw; ``slolab serve --load-time-s`` moves its centre."""
        dist = self.scenario.model.load_time_s
        draw = dist.draw(rng)
        if config.load_time_s is not None:
            draw = max(0.0, config.load_time_s + (draw - dist.typical()))
        return draw

    # ---- control loop -------------------------------------------------------------------------
    def notify(self) -> None:
        """Something changed: run the controllers at the current instant."""
        if not self._wake.triggered:
            self._wake.succeed()

    def wake_at(self, time_s: float) -> None:
        def timer():
            yield self.env.timeout(max(0.0, time_s - self.env.now))
            self.notify()

        self.env.process(timer())

    def _control_loop(self):
        while True:
            yield self._wake
            self._wake = self.env.event()
            for _ in range(100):
                if not self._reconcile():
                    break

    def _reconcile(self) -> bool:
        now = self.env.now
        changed = False
        for d in list(self.deployments.values()):
            changed |= self.deployment_controller.sync(d, now)
            for rs in d.replicasets:
                changed |= replicaset.manage(rs, self.create_pod, self.delete_pod)
        changed |= self._schedule()
        self._sample()
        return changed

    def _schedule(self) -> bool:
        pending = sorted(
            (p for p in self.pods.values() if p.node is None and not p.terminating), key=lambda p: p.created_s
        )
        changed = False
        for pod in pending:
            node, message = self.scheduler.schedule(pod, self.nodes, list(self.pods.values()))
            if node is None:
                if self.scheduler.last_failure.get(pod.name) != message:
                    self.scheduler.last_failure[pod.name] = message
                    pod.set_condition("PodScheduled", False, self.env.now, "Unschedulable")
                    self.record("Pod", pod.name, "FailedScheduling", message, "Warning")
                continue
            pod.node = node.name
            self._ip += 1
            pod.ip = f"10.244.{self.nodes.index(node) + 1}.{self._ip % 250 + 2}"
            pod.set_condition("PodScheduled", True, self.env.now)
            self.record(
                "Pod",
                pod.name,
                "Scheduled",
                f"Successfully assigned {self.namespace}/{pod.name} to {node.name}",
                node=node.name,
            )
            self.kubelets[node.name].admit(pod)
            changed = True
        return changed

    # ---- controller actions -------------------------------------------------------------------
    def create_replicaset(self, d: deployment.Deployment, replicas: int) -> replicaset.ReplicaSet:
        template = copy.deepcopy(d.template)
        h = deployment.template_hash(d.template)
        template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
        revision = max((rs.revision for rs in d.replicasets), default=0) + 1
        rs = replicaset.ReplicaSet(
            f"{d.name}-{h}", d.namespace, d.name, template, h, replicas, d.min_ready_s, self.env.now, revision
        )
        d.replicasets.append(rs)
        self.record(
            "Deployment",
            d.name,
            "ScalingReplicaSet",
            f"Scaled up replica set {rs.name} from 0 to {replicas}",
            replica_set=rs.name,
            replicas=replicas,
        )
        return rs

    def scale_replicaset(self, d: deployment.Deployment, rs: replicaset.ReplicaSet, replicas: int) -> None:
        verb = "up" if replicas > rs.replicas else "down"
        self.record(
            "Deployment",
            d.name,
            "ScalingReplicaSet",
            f"Scaled {verb} replica set {rs.name} from {rs.replicas} to {replicas}",
            replica_set=rs.name,
            replicas=replicas,
        )
        rs.replicas = replicas

    def create_pod(self, rs: replicaset.ReplicaSet) -> objects.Pod:
        suffix = "".join(self.rng_names.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        meta = rs.template.get("metadata") or {}
        spec = copy.deepcopy(rs.template["spec"])
        pod = objects.Pod(
            name=f"{rs.name}-{suffix}",
            namespace=self.namespace,
            uid=f"{rs.name}-{suffix}",
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            spec=spec,
            owner=rs.name,
            created_s=self.env.now,
            containers=[objects.Container(spec=c) for c in spec.get("containers") or []],
        )
        pod.deleted = self.env.event()
        pod.set_condition("PodScheduled", False, self.env.now)
        rs.pods.append(pod)
        self.pods[pod.name] = pod
        self.record("ReplicaSet", rs.name, "SuccessfulCreate", f"Created pod: {pod.name}", pod=pod.name)
        return pod

    def delete_pod(self, pod: objects.Pod) -> None:
        """Graceful deletion: endpoints drop the pod now, the kubelet stops its containers."""
        if pod.terminating:
            return
        pod.deletion_s = self.env.now
        pod.grace_period_s = float(pod.spec.get("terminationGracePeriodSeconds", 30))
        pod.deleted.succeed()
        self.record("ReplicaSet", pod.owner, "SuccessfulDelete", f"Deleted pod: {pod.name}", pod=pod.name)
        if pod.node is None:
            self.remove_pod(pod)
        else:
            self.kubelets[pod.node].terminate(pod)
        self.pod_changed(pod)

    def remove_pod(self, pod: objects.Pod) -> None:
        if self.pods.pop(pod.name, None) is None:
            return
        for d in self.deployments.values():
            for rs in d.replicasets:
                if pod in rs.pods:
                    rs.pods.remove(pod)
        self.record("Pod", pod.name, "Deleted", f"pod {pod.name} is gone")
        self.pod_changed(pod)

    def pod_changed(self, pod: objects.Pod) -> None:
        """A pod's readiness or lifecycle changed: endpoints, availability timers, controllers."""
        pods = list(self.pods.values())
        for svc in self.services.values():
            svc.refresh(pods)
        if pod.ready and pod.ready_since_s is not None:
            owner = self.deployment_of(pod)
            if owner is not None and owner.min_ready_s > 0:
                self.wake_at(pod.ready_since_s + owner.min_ready_s)
        self.notify()

    def _sample(self) -> None:
        now = self.env.now
        pods = [p for p in self.pods.values()]
        self.recorder.sample("pods", now, sum(1 for p in pods if not p.terminating))
        self.recorder.sample("ready_pods", now, sum(1 for p in pods if p.ready and not p.terminating))
        self.recorder.sample("restarts", now, sum(p.restarts() for p in pods))

    # ---- queries ------------------------------------------------------------------------------
    def deployment_of(self, pod: objects.Pod) -> deployment.Deployment | None:
        for d in self.deployments.values():
            if any(rs.name == pod.owner for rs in d.replicasets):
                return d
        return None

    def record(
        self, kind: str, name: str, reason: str, message: str = "", type: str = "Normal", **data: Any
    ) -> None:
        self.recorder.event(self.env.now, kind, name, reason, message, type, **data)

    def send(self, service_name: str, req: Any, at_s: float | None = None) -> None:
        """A client sends ``req`` to the Service at ``at_s`` (default now; a later time only when
        no event comes before it, see sim/traffic.py)."""
        now = self.env.now if at_s is None else at_s
        svc = self.services.get(service_name)
        if svc is None:
            req.fail(now, f"could not resolve host: service {service_name} does not exist")
            return
        svc.send(req, now, self.rng_route)

    def sync_engines(self) -> None:
        """Bring every lazy model-server engine up to now (before its requests are read)."""
        for pod in self.pods.values():
            for c in pod.containers:
                if c.engine is not None:
                    c.engine.sync()

    def rollout_restart(self, name: str) -> None:
        d = self.deployments[name]
        spec = copy.deepcopy(d.spec)
        annotations = spec["template"].setdefault("metadata", {}).setdefault("annotations", {})
        annotations["kubectl.kubernetes.io/restartedAt"] = objects.timestamp(self.env.now)
        d.spec = spec
        d.generation += 1
        self.record("Deployment", name, "RolloutRestart", "kubectl rollout restart")
        self.notify()

    def api_objects(self, kind: str) -> list[dict[str, Any]]:
        now = self.env.now
        if kind == "Pod":
            return [p.to_api() for p in self.pods.values()]
        if kind == "Deployment":
            return [d.to_api(now) for d in self.deployments.values()]
        if kind == "ReplicaSet":
            return [rs.to_api(now) for d in self.deployments.values() for rs in d.replicasets]
        if kind == "Service":
            return [s.to_api() for s in self.services.values()]
        if kind == "Endpoints":
            return [s.endpoints_api() for s in self.services.values()]
        if kind == "Node":
            return [n.to_api() for n in self.nodes]
        return [copy.deepcopy(v) for (k, _), v in self.others.items() if k == kind]
