"""cAdvisor's container CPU counter for the simulator's model-server containers.

Upstream: cadvisor v0.52 metrics/prometheus.go (``container_cpu_usage_seconds_total``:
cumulative CPU time of the container's cgroup in seconds, label ``cpu="total"``, one series per
container cgroup, so a restarted container is a new series starting near 0) as the kubelet
serves it on /metrics/cadvisor, scraped by kube-prometheus-stack's kubelet ServiceMonitor
(job ``kubelet``, ``metrics_path="/metrics/cadvisor"``, honorLabels, so the series keep their
``namespace``, ``pod`` and ``container``).

The CPU model of one vLLM container (what the engine does decides it):
- the EngineCore process runs its busy loop on one core while it has requests: it schedules
  each step and waits for the GPU, so it burns a full core whatever the batch size, and blocks
  on its input queue when it has no request (vllm-project/vllm#43702 describes the loop and the
  idle block; vllm-project/vllm#16968 and #41964 report the one core at 100%). Modelled as
  one core for the engine's ``busy_s`` (GPU time of its steps);
- the API server process and the rest: ``BASELINE_CORES`` while the container runs (a slolab
  estimate, not a measurement: an asyncio loop that mostly waits).
So CPU says little about load: at any batch size the counter grows by about one core.
Not modelled: CPU of model loading, tokenisation per request, memory and the other cAdvisor
families; containers that are not model servers report only the baseline.
"""

from __future__ import annotations

from typing import Any

BASELINE_CORES = 0.05
CPU_USAGE = "container_cpu_usage_seconds_total"


def cpu_seconds(container: Any, now_s: float) -> float:
    """CPU seconds the running container's cgroup has used since it started."""
    started_s = container.started_at_s if container.started_at_s is not None else now_s
    total = BASELINE_CORES * max(0.0, now_s - started_s)
    if container.engine is not None:
        total += container.engine.busy_s()
    return total


def samples(pods: list[Any], node: str, now_s: float) -> dict[tuple[str, ...], float]:
    """(namespace, pod, container, container id) -> CPU seconds, for the running containers of ``node``."""
    out: dict[tuple[str, ...], float] = {}
    for pod in pods:
        if pod.node != node:
            continue
        for c in pod.containers:
            if c.state == "running" and not c.lost:
                out[(pod.namespace, pod.name, c.name, f"{c.instance:064x}")] = cpu_seconds(c, now_s)
    return out
