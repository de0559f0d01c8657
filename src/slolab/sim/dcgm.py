"""DCGM_FI_DEV_GPU_UTIL per GPU, as dcgm-exporter exposes it, for the simulator's GPU pods.

Upstream: NVIDIA dcgm-exporter 4.x etc/default-counters.csv (``DCGM_FI_DEV_GPU_UTIL``, gauge,
"GPU utilization (in %)"), its Kubernetes pod mapping (labels ``gpu``, ``UUID``, ``device``
nvidia<N>, ``modelName``, ``Hostname``, and ``namespace``/``pod``/``container`` of the pod that
holds the GPU) and its collection interval (``-c``/``DCGM_EXPORTER_INTERVAL``, default 30000 ms:
a scrape returns the value of the last collection, NVIDIA/DCGM#170 and
DataDog/integrations-core#18592); the field is NVML's utilization.gpu, the percent of time
over the past sample period (between 1/6 s and 1 s by product) during which one or more kernels
ran: a duty cycle, not how much work was done.

Modelled: at each collection (every ``COLLECT_S`` from the run's start), each GPU held by a
running model server reports the share of the last ``SAMPLE_S`` in which its engine ran a step
(sim/engine.py ``busy_s``: steps are back to back while requests are in flight), in whole
percent. So the value is near 100 under any batch size as long as one request is in flight
(NVIDIA/dcgm-exporter#301; research round2 §1.2 item 4) and 0 while idle or loading. GPUs are
given to pods lowest index first, as the device plugin's allocation on one node would.
Not modelled: the other DCGM fields, MIG, multi-GPU engines (tensor parallel: every GPU of the
pod reports the same duty cycle), the GPU activity of model loading.
"""

from __future__ import annotations

from typing import Any

GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
COLLECT_S = 30.0
SAMPLE_S = 1.0


def gpus_of(pod: Any) -> int:
    """How many nvidia.com/gpu the pod holds."""
    return int(pod.requests().get("nvidia.com/gpu", 0))


class Allocator:
    """GPU indices of one node, lowest free first; freed when the pod goes."""

    def __init__(self) -> None:
        self.by_pod: dict[str, list[int]] = {}

    def assign(self, pods: list[Any]) -> dict[str, list[int]]:
        """Indices for every pod in ``pods`` (the GPU pods bound to the node now)."""
        names = {p.meta.uid for p in pods}
        for uid in [u for u in self.by_pod if u not in names]:
            del self.by_pod[uid]
        used = {i for idx in self.by_pod.values() for i in idx}
        for pod in pods:
            if pod.meta.uid not in self.by_pod:
                want, free, i = gpus_of(pod), [], 0
                while len(free) < want:
                    if i not in used:
                        free.append(i)
                    i += 1
                used.update(free)
                self.by_pod[pod.meta.uid] = free
        return self.by_pod


def busy_s(pod: Any) -> float:
    """GPU time the pod's model server has spent in steps (0 without a running engine)."""
    return sum(c.engine.busy_s() for c in pod.containers if c.engine is not None)


def utilization(busy_before_s: float, busy_now_s: float) -> float:
    """Whole percent of the sample period in which a kernel ran."""
    share = (busy_now_s - busy_before_s) / SAMPLE_S
    return float(round(min(1.0, max(0.0, share)) * 100))
