"""The container runtime side of the kubelet: one container's life on its node, as a SimPy process.

Upstream: kubernetes v1.35 pkg/kubelet/kuberuntime (kuberuntime_container.go startContainer and
killContainer with the preStop hook and the grace period, kuberuntime_manager.go
computePodActions: restart with back-off), pkg/kubelet/images (pull policy) and the
documentation "Pod Lifecycle" (back-off 10 s, 20 s, 40 s … capped at 300 s, reset after 10 min
of running) and "Container Lifecycle Hooks". One process per container pulls, starts, runs the
model server (``server``: load, then listen) and backs off; the kubelet interrupts it (causes
``DELETED``, ``NODE_DOWN``) whatever it is doing. What the kubelet leaves out is listed in
sim/kubelet.py.
"""

from __future__ import annotations

import fnmatch
import random
from typing import TYPE_CHECKING, Any

import simpy

from slolab.run import timeline
from slolab.sim import modelversion, native, objects, probes, serverargs

if TYPE_CHECKING:
    from slolab.sim import kubelet as kubelet_mod

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


DELETED = "pod deleted"  # interrupt causes of a container process
NODE_DOWN = "node stopped"


# ---- one container ------------------------------------------------------------------------
def run_container(k: kubelet_mod.Kubelet, pod: objects.Pod, c: objects.Container):
    """The container's process: attempts until the pod goes; a stopped node pauses it."""
    crashes = 0
    config = k.api.server_config(pod, c)
    while True:
        try:
            if k.up is not None or c.lost:  # the node stopped (maybe before this process began)
                yield from wait_for_node(k, pod, c)
                continue
            if k.gone(pod):
                break
            crashes = yield from attempt(k, pod, c, config, crashes)
        except simpy.Interrupt as exc:
            if exc.cause != NODE_DOWN:
                break
    k.maybe_gone(pod)


def wait_for_node(k: kubelet_mod.Kubelet, pod: objects.Pod, c: objects.Container):
    """Wait for the node to come back; a container that was running died with it (exit 255)."""
    up = k.up
    if up is not None:
        yield up
    c.lost = False
    if c.state == "running" and pod.meta.uid in k.pods:
        c.engine = None
        stop(k, pod, c, 255, "Unknown")


def attempt(
    k: kubelet_mod.Kubelet,
    pod: objects.Pod,
    c: objects.Container,
    config: serverargs.ServerConfig,
    crashes: int,
):
    """Pull, start, run until the container exits, then back off. Returns the crash count."""
    env = k.env
    image = c.spec.get("image", "")
    if image not in k.images:
        yield from pull(k, pod, c, image)
    else:  # kubelet images.go EnsureImageExists: present and not PullAlways, an event all the same
        k.api.record(
            "Pod", pod.name, timeline.PULLED, f'Container image "{image}" already present on machine'
        )
    yield env.timeout(k.api.scenario.topology.container_start_s.draw(k.rng))
    if k.gone(pod):
        return crashes
    start(k, pod, c, config)
    exited = env.event()
    c.exited = exited
    c.server = env.process(server(k, pod, c, config, c.instance))
    for kind, field in probes.FIELD.items():
        spec = c.spec.get(field)
        if spec:
            worker = probes.Worker(k, pod, c, kind, spec, config.port)
            c.workers[kind] = worker
            env.process(worker.run(env))
    k.update_status(pod, c)
    exit_code, reason = yield exited
    ran_s = env.now - (c.started_at_s or env.now)
    stop(k, pod, c, exit_code, reason)
    if k.gone(pod):
        return crashes
    crashes = 0 if ran_s >= BACKOFF_RESET_S else crashes + 1
    delay = min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2 ** (crashes - 1)) if crashes else BACKOFF_INITIAL_S
    c.state, c.reason = "waiting", "CrashLoopBackOff"
    c.message = f"back-off {delay:g}s restarting failed container={c.name} pod={pod.name}"
    k.api.record(
        "Pod",
        pod.name,
        timeline.BACK_OFF,
        f"Back-off restarting failed container {c.name} in pod {pod.name}",
        timeline.WARNING,
        delay_s=delay,
    )
    k.publish(pod)
    yield env.timeout(delay)
    return crashes


def pull(k: kubelet_mod.Kubelet, pod: objects.Pod, c: objects.Container, image: str):
    scenario = k.api.scenario
    cached = any(fnmatch.fnmatch(image, pattern) for pattern in scenario.topology.cached_images)
    if cached or c.spec.get("imagePullPolicy") == "Never":
        k.api.record(
            "Pod", pod.name, timeline.PULLED, f'Container image "{image}" already present on machine'
        )
    else:
        k.api.record("Pod", pod.name, timeline.PULLING, f'Pulling image "{image}"')
        pull_s = scenario.topology.image_pull_s.draw(k.rng)
        yield k.env.timeout(pull_s)
        k.api.record(
            "Pod", pod.name, timeline.PULLED, f'Successfully pulled image "{image}" in {pull_s:.1f}s'
        )
    if c.spec.get("imagePullPolicy") != "Always":
        k.images.add(image)


def start(
    k: kubelet_mod.Kubelet, pod: objects.Pod, c: objects.Container, config: serverargs.ServerConfig
) -> None:
    now = k.env.now
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
    k.api.record("Pod", pod.name, timeline.CREATED, f"Created container {c.name}")
    k.api.record(
        "Pod",
        pod.name,
        timeline.STARTED,
        f"Started container {c.name}",
        container=c.name,
        instance=c.instance,
    )


def server(
    k: kubelet_mod.Kubelet,
    pod: objects.Pod,
    c: objects.Container,
    config: serverargs.ServerConfig,
    instance: int,
):
    """The model-server process: fail at once on a bad config, else load, then listen. A
    workload that serves no model (sim/workload.py) runs its time, then exits 0."""
    if config.workload is not None:
        if config.workload.run_s is None:
            return
        try:
            yield k.env.timeout(config.workload.run_s)
        except simpy.Interrupt:
            return
        if c.instance == instance and c.state == "running" and not (c.stopping or c.lost):
            c.exited.succeed((0, "Completed"))
        return
    try:
        if config.startup_error:
            yield k.env.timeout(STARTUP_ERROR_AFTER_S)
            if c.instance == instance and c.state == "running" and not (c.stopping or c.lost):
                k.api.record("Pod", pod.name, timeline.SERVER_EXITED, config.startup_error, timeline.WARNING)
                c.exited.succeed((1, "Error"))
            return
        if c.spec.get("image", "").rpartition("/")[2].startswith("pause:"):
            return  # the pause image (Chaos Mesh pod-failure, sim/podchaos.py) runs and serves nothing
        load_s = k.api.model_load_time(config, k.rng)
        c.load_time_s = load_s
        yield k.env.timeout(load_s)
    except simpy.Interrupt:
        return  # the container stopped while the server was starting
    if c.instance != instance or c.state != "running" or c.stopping or c.lost:
        return
    engine_mod = native.engine_module()
    c.engine = engine_mod.Engine(
        k.env,
        config.preset,
        engine_mod.EngineConfig(
            max_num_seqs=config.max_num_seqs,
            max_num_batched_tokens=config.max_num_batched_tokens,
            max_model_len=config.max_model_len,
            served_model_name=config.served_model_name,
        ),
        random.Random(k.rng.random()),
        name=pod.name,
        lazy=True,
    )
    if config.error_rate > 0:  # a model version that fails requests (no draw otherwise)
        c.engine = modelversion.wrap(c.engine, config.error_rate, random.Random(k.rng.random()))
    c.listening = True
    c.model_loaded_at_s = k.env.now
    k.api.record(
        "Pod",
        pod.name,
        timeline.MODEL_LOADED,
        f"/health answers on :{config.port} after {load_s:.1f}s of model load",
        load_s=load_s,
        instance=instance,
    )
    k.update_status(pod, c)


def sigkill(k: kubelet_mod.Kubelet, pod: objects.Pod, c: objects.Container, reason: str) -> None:
    c.listening = False
    if c.engine is not None and c.engine.in_flight:
        c.engine.kill(f"stream cut: container {c.name} in pod {pod.name} was killed ({reason})")
    if c.exited is not None and not c.exited.triggered:
        c.exited.succeed((137, "Error"))


def kill(k: kubelet_mod.Kubelet, pod: objects.Pod, c: objects.Container, message: str, grace_s: float):
    """killContainer: preStop, SIGTERM, wait for exit up to the grace period, SIGKILL."""
    if c.state != "running" or c.stopping:
        return
    c.stopping = True
    instance = c.instance
    env = k.env
    deadline = env.now + grace_s
    k.api.record("Pod", pod.name, timeline.KILLING, message, grace_s=grace_s)
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


def stop(k: kubelet_mod.Kubelet, pod: objects.Pod, c: objects.Container, exit_code: int, reason: str) -> None:
    now = k.env.now
    if c.engine is not None and c.engine.in_flight:
        c.engine.kill(f"connection reset: container {c.name} in pod {pod.name} exited")
    interrupt(c.server, "container exited")
    c.state, c.exit_code, c.reason, c.finished_at_s = "terminated", exit_code, reason, now
    c.last_state = {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": objects.timestamp(c.started_at_s),
        "finishedAt": objects.timestamp(now),
    }
    c.listening, c.started, c.ready, c.engine = False, False, False, None
    k.update_status(pod, c)


def interrupt(process: simpy.Process | None, cause: str) -> None:
    """Interrupt ``process`` if it is still running and is not the one running now. A process that
    has not begun yet is left alone: it looks at the pod and the node when it begins."""
    if process is None or not process.is_alive or process is process.env.active_process:
        return
    if isinstance(process.target, simpy.events.Initialize):
        return
    process.interrupt(cause)
