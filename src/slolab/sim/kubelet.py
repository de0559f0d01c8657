"""Kubelet: pull, start, load the model, probe, kill, restart with backoff, terminate.

Upstream: kubernetes v1.35 pkg/kubelet (kuberuntime_manager.go computePodActions and
killContainer, pod_workers.go, prober/prober_manager.go UpdatePodStatus) and the documentation
"Pod Lifecycle" (restart backoff 10 s, 20 s, 40 s … capped at 300 s, reset after 10 min of
running) and "Container Lifecycle Hooks". The model server follows vLLM v0.33.0: the socket does
not accept connections until the model has loaded (launcher.py), so probes see connection
refused while it loads; on SIGTERM uvicorn stops accepting and finishes streams in flight;
streams still open when the grace period ends are cut by SIGKILL.
Modelled: image pull (cached images and IfNotPresent take no time), container start, model
load time from the scenario, startup errors (no GPU, max_model_len too large) as exit 1,
Started/Ready from the probe results, restartPolicy Always, preStop sleep (lifecycle sleep
action or an exec ``sleep N``), terminationGracePeriodSeconds. Each container is one SimPy
process that is interrupted, whatever it is doing (pulling, starting, loading, serving, backing
off), when its pod is deleted, when it is killed (``kill_container``: SIGKILL, exit 137, streams
in flight cut) and when its node stops (``Cluster.set_node_ready``: the processes die, streams are
cut, nothing more is posted: the API keeps showing the last status, as it does for a silent node,
and connections to the pod time out; when the node is back the containers restart, exit 255
reason Unknown). A pod deleted with grace 0 (force) is killed at once. Not modelled: init
containers, sidecars, OOM kills, node pressure eviction, image pull failures, the node lifecycle
controller (NotReady pods, taints, eviction: issue 12).
"""

from __future__ import annotations

import fnmatch
import random
from typing import Any

import simpy

from slolab import errors
from slolab.catalog import scenario as scenario_mod
from slolab.catalog import yamlfile
from slolab.sim import controller, native, objects, probes, serverargs, store

BACKOFF_INITIAL_S = 10.0
BACKOFF_MAX_S = 300.0
BACKOFF_RESET_S = 600.0
STARTUP_ERROR_AFTER_S = 5.0  # python imports and config checks before vLLM raises


def prestop_seconds(spec: dict[str, Any]) -> float:
    """Length of a preStop hook: the sleep action, or an exec that only sleeps."""
    hook = ((spec.get("lifecycle") or {}).get("preStop")) or {}
    if "sleep" in hook:
        return float(hook["sleep"].get("seconds", 0))
    command = [str(c) for c in (hook.get("exec") or {}).get("command") or []]
    if command:
        words = command[-1].split() if command[0] in {"sh", "/bin/sh", "bash", "/bin/bash"} else command
        if len(words) == 2 and words[0] in {"sleep", "/bin/sleep"}:
            return float(words[1])
        raise ValueError(f"preStop exec {command} is not modelled (only `sleep N` is)")
    return 0.0


_DELETED = "pod deleted"  # interrupt causes of a container process
_NODE_DOWN = "node stopped"

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
                prestop_seconds(c)
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

    def _gone(self, pod: objects.Pod) -> bool:
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
            c.process = self.env.process(self._run_container(pod, c))

    def terminate(self, pod: objects.Pod) -> None:
        """The pod was deleted: stop its containers (preStop, SIGTERM, grace, SIGKILL)."""
        self.terminating.add(pod.meta.uid)
        for c in pod.containers:
            if c.state == "running":
                if not c.stopping:
                    c.killer = self.env.process(
                        self._kill(pod, c, "Stopping container", pod.grace_period_s or 0.0)
                    )
            else:
                _interrupt(c.process, _DELETED)  # pulling, starting or backing off: stop trying
        self._maybe_gone(pod)

    def kill_container(self, pod: objects.Pod, c: objects.Container, reason: str) -> None:
        """SIGKILL the container's process now (it restarts per restartPolicy)."""
        if c.state != "running" or self.up is not None:
            return
        _interrupt(c.killer, reason)
        self._sigkill(pod, c, reason)

    def _force_kill(self, pod: objects.Pod) -> None:
        """The pod left the API while running here (grace 0): kill every container at once."""
        for c in pod.containers:
            if c.state == "running":
                _interrupt(c.killer, _DELETED)
                self._sigkill(pod, c, f"pod {pod.name} was deleted")
            else:
                _interrupt(c.process, _DELETED)

    def _sigkill(self, pod: objects.Pod, c: objects.Container, reason: str) -> None:
        c.listening = False
        if c.engine is not None and c.engine.in_flight:
            c.engine.kill(f"stream cut: container {c.name} in pod {pod.name} was killed ({reason})")
        if c.exited is not None and not c.exited.triggered:
            c.exited.succeed((137, "Error"))

    def _maybe_gone(self, pod: objects.Pod) -> None:
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
        _interrupt(c.killer, _NODE_DOWN)
        _interrupt(c.server, _NODE_DOWN)
        _interrupt(c.process, _NODE_DOWN)

    # ---- one container ------------------------------------------------------------------------
    def _run_container(self, pod: objects.Pod, c: objects.Container):
        crashes = 0
        config = self.api.server_config(pod, c)
        while not self._gone(pod):
            try:
                crashes = yield from self._attempt(pod, c, config, crashes)
            except simpy.Interrupt as stop:
                if stop.cause != _NODE_DOWN:
                    break
                yield from self._wait_for_node(pod, c)
                if pod.meta.uid not in self.pods:
                    return  # deleted while the node was down
        self._maybe_gone(pod)

    def _wait_for_node(self, pod: objects.Pod, c: objects.Container):
        up = self.up
        if up is not None:
            yield up
        c.lost = False
        if c.state == "running" and pod.meta.uid in self.pods:
            c.engine = None
            self._stop(pod, c, 255, "Unknown")

    def _attempt(self, pod: objects.Pod, c: objects.Container, config: serverargs.ServerConfig, crashes: int):
        """Pull, start, run until the container exits, then back off. Returns the crash count."""
        env = self.env
        image = c.spec.get("image", "")
        if image not in self.images:
            yield from self._pull(pod, c, image)
        yield env.timeout(self.api.scenario.topology.container_start_s.draw(self.rng))
        if self._gone(pod):
            return crashes
        self._start(pod, c, config)
        exited = env.event()
        c.exited = exited
        c.server = env.process(self._server(pod, c, config, c.instance))
        for kind, field in probes.FIELD.items():
            spec = c.spec.get(field)
            if spec:
                worker = probes.Worker(self, pod, c, kind, spec, config.port)
                c.workers[kind] = worker
                env.process(worker.run(env))
        self._update_status(pod, c)
        exit_code, reason = yield exited
        ran_s = env.now - (c.started_at_s or env.now)
        self._stop(pod, c, exit_code, reason)
        if self._gone(pod):
            return crashes
        crashes = 0 if ran_s >= BACKOFF_RESET_S else crashes + 1
        delay = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (crashes - 1)) if crashes else BACKOFF_INITIAL_S
        c.state, c.reason = "waiting", "CrashLoopBackOff"
        c.message = f"back-off {delay:g}s restarting failed container={c.name} pod={pod.name}"
        self.api.record(
            "Pod",
            pod.name,
            "BackOff",
            f"Back-off restarting failed container {c.name} in pod {pod.name}",
            "Warning",
            delay_s=delay,
        )
        self.publish(pod)
        yield env.timeout(delay)
        return crashes

    def _pull(self, pod: objects.Pod, c: objects.Container, image: str):
        scenario = self.api.scenario
        cached = any(fnmatch.fnmatch(image, pattern) for pattern in scenario.topology.cached_images)
        if cached or c.spec.get("imagePullPolicy") == "Never":
            self.api.record(
                "Pod", pod.name, "Pulled", f'Container image "{image}" already present on machine'
            )
        else:
            self.api.record("Pod", pod.name, "Pulling", f'Pulling image "{image}"')
            pull_s = scenario.topology.image_pull_s.draw(self.rng)
            yield self.env.timeout(pull_s)
            self.api.record(
                "Pod", pod.name, "Pulled", f'Successfully pulled image "{image}" in {pull_s:.1f}s'
            )
        if c.spec.get("imagePullPolicy") != "Always":
            self.images.add(image)

    def _start(self, pod: objects.Pod, c: objects.Container, config: serverargs.ServerConfig) -> None:
        now = self.env.now
        if c.instance:
            c.restart_count += 1
        c.instance += 1
        c.state, c.reason, c.message = "running", None, None
        c.started_at_s, c.finished_at_s, c.exit_code = now, None, None
        c.started = not c.spec.get("startupProbe")
        c.ready = False
        c.listening = False
        c.stopping = False
        c.workers = {}
        c.engine = None
        c.engine_port = config.port
        c.model_loaded_at_s = None
        pod.phase = "Running"
        self.api.record("Pod", pod.name, "Created", f"Created container {c.name}")
        self.api.record(
            "Pod", pod.name, "Started", f"Started container {c.name}", container=c.name, instance=c.instance
        )

    def _server(self, pod: objects.Pod, c: objects.Container, config: serverargs.ServerConfig, instance: int):
        """The model-server process: fail at once on a bad config, else load, then listen."""
        try:
            if config.startup_error:
                yield self.env.timeout(STARTUP_ERROR_AFTER_S)
                if c.instance == instance and c.state == "running" and not c.stopping:
                    self.api.record("Pod", pod.name, "ServerExited", config.startup_error, "Warning")
                    c.exited.succeed((1, "Error"))
                return
            load_s = self.api.model_load_time(config, self.rng)
            c.load_time_s = load_s
            yield self.env.timeout(load_s)
        except simpy.Interrupt:
            return  # the container stopped while the server was starting
        if c.instance != instance or c.state != "running" or c.stopping:
            return
        engine_mod = native.engine_module()
        c.engine = engine_mod.Engine(
            self.env,
            config.preset,
            engine_mod.EngineConfig(
                max_num_seqs=config.max_num_seqs,
                max_num_batched_tokens=config.max_num_batched_tokens,
                max_model_len=config.max_model_len,
                served_model_name=config.served_model_name,
            ),
            random.Random(self.rng.random()),
            name=pod.name,
            lazy=True,
        )
        c.listening = True
        c.model_loaded_at_s = self.env.now
        self.api.record(
            "Pod",
            pod.name,
            "ModelLoaded",
            f"/health answers on :{config.port} after {load_s:.1f}s of model load",
            load_s=load_s,
            instance=instance,
        )
        self._update_status(pod, c)

    # ---- probes -----------------------------------------------------------------------------
    def probe_failed(self, pod: objects.Pod, c: objects.Container, kind: str, output: str) -> None:
        self.api.record(
            "Pod", pod.name, "Unhealthy", f"{kind.capitalize()} probe failed: {output}", "Warning", probe=kind
        )

    def probe_result(self, pod: objects.Pod, c: objects.Container, kind: str, result: str) -> None:
        if kind == "startup" and result == probes.SUCCESS:
            c.started = True
            readiness = c.workers.get("readiness")
            self._update_status(pod, c)
            if readiness is not None:
                readiness.probe(self.env.now)  # manualTriggerCh: probe readiness at once
            return
        self._update_status(pod, c)

    def probe_kill(self, pod: objects.Pod, c: objects.Container, kind: str, grace_s: float | None) -> None:
        if grace_s is None:
            grace_s = float(pod.spec.get("terminationGracePeriodSeconds", 30))
        what = "startup" if kind == "startup" else "liveness"
        if not c.stopping:
            c.killer = self.env.process(
                self._kill(pod, c, f"Container {c.name} failed {what} probe, will be restarted", grace_s)
            )

    def _update_status(self, pod: objects.Pod, c: objects.Container) -> None:
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
                "Ready" if all_ready else "NotReady",
                f"pod {pod.name} is {'Ready' if all_ready else 'not Ready'}",
                serving=bool(c.listening),
            )
        self.publish(pod)

    # ---- termination ------------------------------------------------------------------------
    def _kill(self, pod: objects.Pod, c: objects.Container, message: str, grace_s: float):
        """killContainer: preStop, SIGTERM, wait for exit up to the grace period, SIGKILL."""
        if c.state != "running" or c.stopping:
            return
        c.stopping = True
        instance = c.instance
        env = self.env
        deadline = env.now + grace_s
        self.api.record("Pod", pod.name, "Killing", message, grace_s=grace_s)
        try:
            hook_s = prestop_seconds(c.spec)
        except ValueError:
            hook_s = 0.0
        try:
            if hook_s:
                yield env.timeout(min(hook_s, grace_s))
            engine = c.engine
            c.listening = False
            if engine is None:  # loading or crashed: the process exits on SIGTERM
                code, reason = 143, "Error"
            else:
                engine.drain()
                if engine.in_flight and env.now < deadline:
                    idle = env.event()
                    engine.on_idle = lambda: idle.succeed() if not idle.triggered else None
                    yield idle | env.timeout(deadline - env.now)
                if engine.in_flight:
                    engine.kill(f"stream cut: pod {pod.name} was killed (grace period {grace_s:g}s ended)")
                    code, reason = 137, "Error"
                else:
                    code, reason = 0, "Completed"
        except simpy.Interrupt:
            return  # killed outright (SIGKILL, node stopped) while stopping gracefully
        if c.instance == instance and c.state == "running":
            c.exited.succeed((code, reason))

    def _stop(self, pod: objects.Pod, c: objects.Container, exit_code: int, reason: str) -> None:
        now = self.env.now
        if c.engine is not None and c.engine.in_flight:
            c.engine.kill(f"connection reset: container {c.name} in pod {pod.name} exited")
        _interrupt(c.server, "container exited")
        c.state, c.exit_code, c.reason, c.finished_at_s = "terminated", exit_code, reason, now
        c.last_state = {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": objects.timestamp(c.started_at_s),
            "finishedAt": objects.timestamp(now),
        }
        c.listening, c.started, c.ready, c.engine = False, False, False, None
        self._update_status(pod, c)


def _interrupt(process: simpy.Process | None, cause: str) -> None:
    """Interrupt ``process`` if it is still running and is not the one running now."""
    if process is not None and process.is_alive and process is not process.env.active_process:
        process.interrupt(cause)
