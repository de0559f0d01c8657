"""The game day's chaos as Chaos Mesh objects (chaos-mesh.org/v1alpha1, Chaos Mesh v2.8).

What the game-day runner applies to the lab's namespace: on sim the simulator's Chaos Mesh runs
them, on kind the operator creates them and Chaos Mesh (slolab-platform) runs them. Field names
follow chaos-mesh v2.8 api/v1alpha1 (schedule_types.go ``ScheduleSpec``: schedule,
concurrencyPolicy, historyLimit, type and the embedded ``podChaos``; podchaos_types.go
``PodChaosSpec``: action, mode, selector, gracePeriod; networkchaos_types.go ``NetworkChaosSpec``:
action delay, direction, ``delay{latency, jitter, correlation}``, duration; selector.go
``PodSelectorSpec``: namespaces, labelSelectors). A Schedule first fires one period after it is
created: controllers/schedule/cron ``getRecentUnmetScheduleTime`` counts from the Schedule's
creationTimestamp (or its status.lastScheduleTime) with robfig/cron, whose ``@every d`` is the
previous time + d.
Docs: https://chaos-mesh.org/docs/define-scheduling-rules/ (``@every`` and cron),
https://chaos-mesh.org/docs/simulate-pod-chaos-on-kubernetes/,
https://chaos-mesh.org/docs/simulate-network-chaos-on-kubernetes/.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slolab.gameday import plan as plan_mod

API_VERSION = "chaos-mesh.org/v1alpha1"
#: Every object the game day creates carries this label (its value: the team).
LABEL = "slolab.dev/gameday"


def go_duration(seconds: float) -> str:
    """``300`` → ``5m``, ``126`` → ``2m6s``, ``3600`` → ``1h`` (Go's time.ParseDuration accepts each)."""
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return text or "0s"


def _selector(namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"namespaces": [namespace], "labelSelectors": dict(labels)}


def _meta(name: str, namespace: str, team: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {LABEL: team}}


def pod_kill_schedule(
    namespace: str, labels: Mapping[str, str], every_s: float, team: str, name: str = "gameday-pod-kill"
) -> dict[str, Any]:
    """A Schedule that kills one of the selected pods every ``every_s``."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Schedule",
        "metadata": _meta(name, namespace, team),
        "spec": {
            "schedule": f"@every {go_duration(every_s)}",
            "concurrencyPolicy": "Forbid",
            "historyLimit": 5,
            "type": "PodChaos",
            "podChaos": {"action": "pod-kill", "mode": "one", "selector": _selector(namespace, labels)},
        },
    }


def network_delay(
    namespace: str,
    labels: Mapping[str, str],
    duration_s: float,
    team: str,
    latency_ms: float = plan_mod.LATENCY_MS,
    jitter_ms: float = plan_mod.JITTER_MS,
) -> dict[str, Any]:
    """A NetworkChaos that delays traffic to every selected pod for ``duration_s``."""
    return {
        "apiVersion": API_VERSION,
        "kind": "NetworkChaos",
        "metadata": _meta("gameday-network-delay", namespace, team),
        "spec": {
            "action": "delay",
            "mode": "all",
            "selector": _selector(namespace, labels),
            "direction": "to",
            "delay": {
                "latency": f"{latency_ms:g}ms",
                "jitter": f"{jitter_ms:g}ms",
                "correlation": "25",
            },
            "duration": go_duration(duration_s),
        },
    }
