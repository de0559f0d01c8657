"""Containers that serve no model: the NVIDIA device plugin and commands that only sleep.

What the simulator runs for a container whose image is not a model server (sim/serverargs.py):
- the NVIDIA k8s-device-plugin (images ``nvcr.io/nvidia/k8s-device-plugin`` and
  fake-gpu-operator's ``ghcr.io/run-ai/fake-gpu-operator/device-plugin``, any tag): it runs
  until stopped; while it runs Ready, its node advertises the node pool's GPUs
  (sim/deviceplugin.py, upstream NVIDIA/k8s-device-plugin v0.20.0 cmd/nvidia-device-plugin:
  it registers nvidia.com/gpu with the kubelet over the device plugin API);
- any image whose command is ``sleep N`` or ``sleep infinity`` (directly or as
  ``sh -c "sleep N"``): a CPU batch worker stand-in that runs N seconds, exits 0 and, as
  restartPolicy Always asks, is restarted with the kubelet's back-off.
Anything else that is not a model server is refused when applied, naming the image.
"""

from __future__ import annotations

import dataclasses
from typing import Any

DEVICE_PLUGIN = "device-plugin"
SLEEP = "sleep"
DEVICE_PLUGIN_IMAGES = ("nvcr.io/nvidia/k8s-device-plugin", "ghcr.io/run-ai/fake-gpu-operator/device-plugin")
_SHELLS = {"sh", "/bin/sh", "bash", "/bin/bash"}


@dataclasses.dataclass(frozen=True)
class Workload:
    kind: str  # DEVICE_PLUGIN | SLEEP
    run_s: float | None  # None: runs until stopped


def _repo(image: str) -> str:
    name = image.rsplit("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


def parse(container: dict[str, Any]) -> Workload | None:
    """The workload ``container`` runs, or None when it is not one the simulator models."""
    image = str(container.get("image", ""))
    if _repo(image) in DEVICE_PLUGIN_IMAGES:
        return Workload(DEVICE_PLUGIN, None)
    words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
    if len(words) == 3 and words[0] in _SHELLS and words[1] == "-c":
        words = words[2].split()
    if len(words) == 2 and words[0] in {"sleep", "/bin/sleep"}:
        if words[1] == "infinity":
            return Workload(SLEEP, None)
        try:
            return Workload(SLEEP, float(words[1]))
        except ValueError:
            return None
    return None


def is_device_plugin(container_spec: dict[str, Any]) -> bool:
    w = parse(container_spec)
    return w is not None and w.kind == DEVICE_PLUGIN
