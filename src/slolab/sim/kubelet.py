"""Kubelet: pull, start, load the model, probe, kill, restart with backoff, terminate.

Upstream: kubernetes v1.35 pkg/kubelet (kuberuntime_manager.go computePodActions and
killContainer, prober/prober_manager.go UpdatePodStatus) and the documentation "Pod
Lifecycle" (restart backoff 10 s, 20 s, 40 s … capped at 300 s, reset after 10 min of running)
and "Container Lifecycle Hooks". The model server follows vLLM v0.33.0: the socket does not
accept connections until the model has loaded (launcher.py), so probes see connection refused
while it loads; on SIGTERM uvicorn stops accepting and finishes streams in flight; streams still
open when the grace period ends are cut by SIGKILL.
Modelled: image pull (cached images and IfNotPresent take no time), container start, model
load time from the scenario, startup errors (no GPU, max_model_len too large) as exit 1,
Started/Ready from the probe results, restartPolicy Always, preStop sleep (lifecycle sleep
action or an exec ``sleep N``), terminationGracePeriodSeconds. Not modelled: init containers,
sidecars, OOM kills, node pressure eviction, image pull failures.
"""

from __future__ import annotations

import fnmatch
import random
from typing import Any

from slolab.sim import native, objects, probes, serverargs

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


class Kubelet:
    """The kubelet of one node."""

    def __init__(self, cluster: Any, node: objects.Node, rng: random.Random) -> None:
        self.cluster = cluster
        self.env = cluster.env
        self.node = node
        self.rng = rng
        self.images: set[str] = set()

    # ---- pod lifecycle ----------------------------------------------------------------------
    def admit(self, pod: objects.Pod) -> None:
        """A pod was bound to this node: run each of its containers."""
        pod.set_condition("Initialized", True, self.env.now)
        pod.set_condition("ContainersReady", False, self.env.now)
        pod.set_condition("Ready", False, self.env.now)
        for c in pod.containers:
            self.env.process(self._run_container(pod, c))

    def terminate(self, pod: objects.Pod) -> None:
        """The pod was deleted: stop its containers (preStop, SIGTERM, grace, SIGKILL)."""
        for c in pod.containers:
            if c.state == "running" and not c.stopping:
                self.env.process(self._kill(pod, c, "Stopping container", pod.grace_period_s or 0.0))
        self._maybe_gone(pod)

    def _maybe_gone(self, pod: objects.Pod) -> None:
        if pod.terminating and all(c.state != "running" for c in pod.containers):
            self.cluster.remove_pod(pod)

    def _run_container(self, pod: objects.Pod, c: objects.Container):
        env = self.env
        crashes = 0
        config = self.cluster.server_config(pod, c)
        while not pod.terminating:
            image = c.spec.get("image", "")
            if image not in self.images:
                yield from self._pull(pod, c, image)
            yield env.timeout(self.cluster.scenario.topology.container_start_s.draw(self.rng))
            if pod.terminating:
                break
            self._start(pod, c, config)
            exited = env.event()
            c.exited = exited
            env.process(self._server(pod, c, config, c.instance))
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
            if pod.terminating:
                break
            crashes = 0 if ran_s >= BACKOFF_RESET_S else crashes + 1
            delay = (
                min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (crashes - 1)) if crashes else BACKOFF_INITIAL_S
            )
            c.state, c.reason = "waiting", "CrashLoopBackOff"
            c.message = f"back-off {delay:g}s restarting failed container={c.name} pod={pod.name}"
            self.cluster.record(
                "Pod",
                pod.name,
                "BackOff",
                f"Back-off restarting failed container {c.name} in pod {pod.name}",
                "Warning",
                delay_s=delay,
            )
            self.cluster.pod_changed(pod)
            yield env.timeout(delay) | pod.deleted
        self._maybe_gone(pod)

    def _pull(self, pod: objects.Pod, c: objects.Container, image: str):
        cached = any(
            fnmatch.fnmatch(image, pattern) for pattern in self.cluster.scenario.topology.cached_images
        )
        if cached or c.spec.get("imagePullPolicy") == "Never":
            self.cluster.record(
                "Pod", pod.name, "Pulled", f'Container image "{image}" already present on machine'
            )
        else:
            self.cluster.record("Pod", pod.name, "Pulling", f'Pulling image "{image}"')
            pull_s = self.cluster.scenario.topology.image_pull_s.draw(self.rng)
            yield self.env.timeout(pull_s)
            self.cluster.record(
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
        self.cluster.record("Pod", pod.name, "Created", f"Created container {c.name}")
        self.cluster.record(
            "Pod", pod.name, "Started", f"Started container {c.name}", container=c.name, instance=c.instance
        )

    def _server(self, pod: objects.Pod, c: objects.Container, config: serverargs.ServerConfig, instance: int):
        """The model-server process: fail at once on a bad config, else load, then listen."""
        if config.startup_error:
            yield self.env.timeout(STARTUP_ERROR_AFTER_S)
            if c.instance == instance and c.state == "running" and not c.stopping:
                self.cluster.record("Pod", pod.name, "ServerExited", config.startup_error, "Warning")
                c.exited.succeed((1, "Error"))
            return
        load_s = self.cluster.model_load_time(config, self.rng)
        c.load_time_s = load_s
        yield self.env.timeout(load_s)
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
        self.cluster.record(
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
        self.cluster.record(
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
        self.env.process(
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
            self.cluster.record(
                "Pod",
                pod.name,
                "Ready" if all_ready else "NotReady",
                f"pod {pod.name} is {'Ready' if all_ready else 'not Ready'}",
                serving=bool(c.listening),
            )
        self.cluster.pod_changed(pod)

    # ---- termination ------------------------------------------------------------------------
    def _kill(self, pod: objects.Pod, c: objects.Container, message: str, grace_s: float):
        """killContainer: preStop, SIGTERM, wait for exit up to the grace period, SIGKILL."""
        if c.state != "running" or c.stopping:
            return
        c.stopping = True
        instance = c.instance
        env = self.env
        deadline = env.now + grace_s
        self.cluster.record("Pod", pod.name, "Killing", message, grace_s=grace_s)
        try:
            hook_s = prestop_seconds(c.spec)
        except ValueError:
            hook_s = 0.0
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
        if c.instance == instance and c.state == "running":
            c.exited.succeed((code, reason))

    def _stop(self, pod: objects.Pod, c: objects.Container, exit_code: int, reason: str) -> None:
        now = self.env.now
        if c.engine is not None and c.engine.in_flight:
            c.engine.kill(f"connection reset: container {c.name} in pod {pod.name} exited")
        c.state, c.exit_code, c.reason, c.finished_at_s = "terminated", exit_code, reason, now
        c.last_state = {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": objects.timestamp(c.started_at_s),
            "finishedAt": objects.timestamp(now),
        }
        c.listening, c.started, c.ready, c.engine = False, False, False, None
        self._update_status(pod, c)
