"""What an autoscaled Deployment did while the load ran: its replicas and the GPUs it held, sampled.

A grader of an autoscaling lab judges the autoscaler by its effects on the workload, whoever
scales it (an HPA on CPU, KEDA's HPA, a person with ``kubectl scale``): how often the replica
count changed direction, how long it took to come back down, what the GPUs cost. ``follow``
lets time pass in steps of ``every_s`` and looks at the Deployment and its pods after each
step, through ``lab.cluster`` (API-shaped dicts), so it reads the same on every backend. The
HPA's own sync period is 15 s (kubernetes v1.35 --horizontal-pod-autoscaler-sync-period), so
a look every 5 s sees every change of ``spec.replicas`` one by one.

Per look (``Sample``):

* ``desired``: the Deployment's ``spec.replicas``, what the autoscaler last set;
* ``pods``: ``status.replicas``, the pods that exist (terminating ones excluded, as the
  deployment controller counts them);
* ``ready``: ``status.readyReplicas``;
* ``gpus``: the ``nvidia.com/gpu`` the Deployment's pods hold: requests (else limits) of the
  containers of each pod bound to a node (``spec.nodeName``) that has not finished
  (``status.phase`` not Succeeded/Failed), terminating pods included: a GPU is paid for
  from scheduling until the pod is gone, model load and grace period included; a Pending pod
  holds none.

* ``signals``: what each HorizontalPodAutoscaler that scales the Deployment (its own, or the
  ``keda-hpa-<name>`` KEDA makes for a ScaledObject) last read of each of its metrics
  (``status.currentMetrics``) against the metric's target (``spec.metrics``): the signal the
  evidence quotes, so a grade shows what the autoscaler saw while the queue grew.

Between two looks a sample's values are taken to hold (a step function), the way a Prometheus
range query would read a gauge scraped at those instants.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from typing import Any

from slolab.backends import base
from slolab.sim import quantity

GPU = "nvidia.com/gpu"
#: how often ``follow`` reads the autoscalers: the HPA controller's sync period (kubernetes
#: v1.35 --horizontal-pod-autoscaler-sync-period), so no status is missed for long
SIGNAL_EVERY_S = 15.0
_FINISHED = ("Succeeded", "Failed")


@dataclasses.dataclass(frozen=True)
class Signal:
    """One metric of an HPA at one look: what it last read (None: nothing yet) and its target."""

    hpa: str
    metric: str  # "cpu utilization", "s0-prometheus (External, AverageValue)", ...
    current: float | None
    target: float
    unit: str = ""  # "%" for a utilization


@dataclasses.dataclass(frozen=True)
class Sample:
    """One look at the Deployment (see the module docstring); ``desired`` None: no Deployment."""

    t_s: float
    desired: int | None
    pods: int
    ready: int
    gpus: float
    signals: tuple[Signal, ...] = ()


@dataclasses.dataclass(frozen=True)
class Change:
    """A change of ``spec.replicas`` between two looks."""

    t_s: float
    before: int
    after: int

    @property
    def direction(self) -> int:
        return 1 if self.after > self.before else -1

    def __str__(self) -> str:
        return f"{self.t_s:.0f} s: {self.before} → {self.after}"


def gpus(pod: dict[str, Any]) -> float:
    """GPUs the pod asks for (a limit stands in for a missing request, as the API defaults it)."""
    total = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        resources = c.get("resources") or {}
        amount = (resources.get("requests") or {}).get(GPU, (resources.get("limits") or {}).get(GPU))
        if amount is not None:
            total += float(quantity.parse(amount))
    return total


def holds_gpu(pod: dict[str, Any]) -> bool:
    """A pod bound to a node and not finished holds its GPUs (terminating included)."""
    bound = bool((pod.get("spec") or {}).get("nodeName"))
    return bound and (pod.get("status") or {}).get("phase") not in _FINISHED


def _number(value: Any) -> float | None:
    return None if value is None else float(quantity.parse(value))


def _source(metric: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, the type's block) of one autoscaling/v2 MetricSpec or MetricStatus."""
    kind = metric.get("type", "")
    block = metric.get(kind[:1].lower() + kind[1:]) or {}
    if kind in ("Resource", "ContainerResource"):
        name = str(block.get("name", ""))
        return (f"{block.get('container')}/{name}" if kind == "ContainerResource" else name), block
    return str((block.get("metric") or {}).get("name", "")), block


def signals(hpa: dict[str, Any]) -> tuple[Signal, ...]:
    """Each metric of ``hpa`` (autoscaling/v2): its last reading and its target."""
    name = (hpa.get("metadata") or {}).get("name", "")
    current = {}
    for m in (hpa.get("status") or {}).get("currentMetrics") or []:
        source, block = _source(m)
        current[(m.get("type"), source)] = block.get("current") or {}
    out = []
    for metric in (hpa.get("spec") or {}).get("metrics") or []:
        kind = metric.get("type", "")
        source, block = _source(metric)
        target = block.get("target") or {}
        now = current.get((kind, source), {})
        if target.get("type") == "Utilization":
            value, aim, unit = now.get("averageUtilization"), target.get("averageUtilization"), "%"
            label = f"{source} utilization"
        else:
            field = "averageValue" if target.get("type") == "AverageValue" else "value"
            value, aim, unit = now.get(field), target.get(field), ""
            label = f"{source} ({kind}, {target.get('type', '')})"
        if aim is not None:
            out.append(Signal(name, label, _number(value), float(quantity.parse(aim)), unit))
    return tuple(out)


def _scales(hpa: dict[str, Any], deployment: str) -> bool:
    ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
    return ref.get("kind") == "Deployment" and ref.get("name") == deployment


def look(
    cluster: base.Cluster, deployment: str, t_s: float, last: tuple[Signal, ...] | None = None
) -> Sample:
    """One ``Sample`` of ``deployment`` at run second ``t_s``; with ``last``, the autoscalers are
    not read again and ``last`` stands for their signals."""
    d = cluster.get("Deployment", deployment)
    if d is None:
        return Sample(t_s, None, 0, 0, 0.0)
    spec, status = d.get("spec") or {}, d.get("status") or {}
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    pods = cluster.list("Pod", labels=selector) if selector else []
    held = sum(gpus(p) for p in pods if holds_gpu(p))
    if last is None:
        hpas = [h for h in cluster.list("HorizontalPodAutoscaler") if _scales(h, deployment)]
        last = tuple(sig for h in sorted(hpas, key=lambda h: h["metadata"]["name"]) for sig in signals(h))
    return Sample(
        t_s,
        int(spec.get("replicas", 1)),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
        held,
        last,
    )


@dataclasses.dataclass
class Trace:
    """The looks taken at one Deployment, in time order."""

    deployment: str
    samples: list[Sample] = dataclasses.field(default_factory=list)

    def follow(self, lab: base.Backend, duration_s: float, every_s: float) -> None:
        """Let ``duration_s`` pass in steps of ``every_s``, looking after each (and once first).
        The autoscalers are read at most once per HPA sync period (SIGNAL_EVERY_S): their
        status changes no more often."""
        if every_s <= 0:
            raise ValueError(f"every_s must be > 0 (got {every_s!r})")
        clock = lab.clock
        end_s = clock.now_s() + duration_s
        read_s = -float("inf")

        def take() -> None:
            nonlocal read_s
            now = clock.now_s()
            fresh = now - read_s >= SIGNAL_EVERY_S or not self.samples
            last = None if fresh else self.samples[-1].signals
            self.samples.append(look(lab.cluster, self.deployment, now, last))
            read_s = now if fresh else read_s

        if not self.samples or self.samples[-1].t_s < clock.now_s():
            take()
        while (left := end_s - clock.now_s()) > 1e-9:
            clock.sleep(min(every_s, left))
            take()

    def between(self, start_s: float, end_s: float) -> list[Sample]:
        """The looks in ``[start_s, end_s]``, with the last look before ``start_s`` first (its
        values held at ``start_s``)."""
        before = [s for s in self.samples if s.t_s < start_s]
        inside = [s for s in self.samples if start_s <= s.t_s <= end_s]
        return ([dataclasses.replace(before[-1], t_s=start_s)] if before else []) + inside

    def changes(self, start_s: float, end_s: float) -> list[Change]:
        """Every change of ``spec.replicas`` seen in ``[start_s, end_s]``."""
        out = []
        looks = [s for s in self.between(start_s, end_s) if s.desired is not None]
        for a, b in itertools.pairwise(looks):
            if a.desired is not None and b.desired is not None and b.desired != a.desired:
                out.append(Change(b.t_s, a.desired, b.desired))
        return out

    def direction_changes(self, start_s: float, end_s: float) -> tuple[int, list[Change]]:
        """How often the replica count turned around (up after down or down after up), and the
        changes it made."""
        changes = self.changes(start_s, end_s)
        turns = sum(1 for a, b in itertools.pairwise(changes) if a.direction != b.direction)
        return turns, changes

    def gpu_seconds(self, start_s: float, end_s: float) -> float:
        """GPU-seconds held in ``[start_s, end_s]``, each look's GPUs held until the next look."""
        looks = self.between(start_s, end_s)
        total = 0.0
        for a, b in zip(looks, [*looks[1:], None], strict=True):
            until = end_s if b is None else b.t_s
            total += a.gpus * max(0.0, until - a.t_s)
        return total

    def settled_s(self, at_most: int, start_s: float, end_s: float) -> float | None:
        """The first run second in ``[start_s, end_s]`` from which the Deployment had at most
        ``at_most`` pods at every later look; None if it never settled there."""
        looks = self.between(start_s, end_s)
        settled: float | None = None
        for s in looks:
            if s.pods <= at_most and s.desired is not None and s.desired <= at_most:
                settled = s.t_s if settled is None else settled
            else:
                settled = None
        return settled

    def peak(self, start_s: float, end_s: float) -> Sample | None:
        """The look with the most pods in ``[start_s, end_s]``."""
        looks = self.between(start_s, end_s)
        return max(looks, key=lambda s: (s.pods, s.desired or 0)) if looks else None


def summary(samples: Iterable[Sample]) -> str:
    """``desired 1→3→1, at most 3 pods (3 GPUs)`` for evidence lines."""
    samples = list(samples)
    desired: list[int] = []
    for s in samples:
        if s.desired is not None and (not desired or desired[-1] != s.desired):
            desired.append(s.desired)
    most = max(samples, key=lambda s: s.pods, default=None)
    if most is None:
        return "no looks"
    return f"desired {'→'.join(map(str, desired)) or '—'}, at most {most.pods} pods ({most.gpus:g} GPUs)"


def signal_summary(samples: Iterable[Sample]) -> list[str]:
    """One evidence line per autoscaler metric seen in ``samples``: the range it read and its
    target, e.g. ``HPA llm: cpu utilization 51–53 % (target 80 %)``; none without an HPA."""
    seen: dict[tuple[str, str], list[Signal]] = {}
    for s in samples:
        for sig in s.signals:
            seen.setdefault((sig.hpa, sig.metric), []).append(sig)
    lines = []
    for (hpa, metric), sigs in seen.items():
        unit = f" {sigs[-1].unit}" if sigs[-1].unit else ""
        values = [g.current for g in sigs if g.current is not None]
        if not values:
            read = "no reading"
        elif min(values) == max(values):
            read = f"{min(values):.3g}{unit}"
        else:
            read = f"{min(values):.3g}–{max(values):.3g}{unit}"
        lines.append(f"HPA {hpa}: {metric} {read} (target {sigs[-1].target:.3g}{unit})")
    return lines
