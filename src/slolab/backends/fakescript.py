"""Scripts for the fake backend: a workload's pods through time, as the cluster and timeline show them.

A unit test of a grader says what happened to each pod (created, started, model loaded, Ready,
restarted, deleted) and when the Deployment was restarted; ``Workload`` derives what a cluster
would show at every instant (the Deployment's status as the deployment controller would
report it without delay, the Pods, the Service's Endpoints of ready pods) and the timeline
events a backend records, in the vocabulary ``podtimes`` and the kube observer use
(ReplicaSet ``SuccessfulCreate``; Pod ``Started``, ``ModelLoaded``, ``Ready``, ``NotReady``,
``Killing``, ``Deleted``). ``Workload.backend(...)`` hands them to a ``fake.FakeBackend``.

It derives, it does not simulate: nothing reacts to the grader (a ``rollout restart`` is only
recorded), so the script's ``restart_s`` must be the run second the grader restarts at; a test
checks that with ``Workload.restart_recorded``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from slolab.backends import base, fake
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.run import timeline


@dataclasses.dataclass(frozen=True)
class Life:
    """One run of a pod's container: started, model loaded, Ready (each None when it never came
    before the container ended)."""

    started_s: float
    ended_s: float | None
    loaded_s: float | None
    ready_s: float | None


@dataclasses.dataclass(frozen=True)
class Pod:
    """One pod's life. Each container start loads the model in ``load_s``; the pod turns Ready
    ``ready_delay_s`` after that (negative: Ready before the model loaded, as with a readiness
    probe that checks nothing; None: never). ``restarts_s`` are container restarts (Killing,
    NotReady, Started), which cut what that container was doing."""

    name: str
    created_s: float
    revision: int = 1
    start_delay_s: float = 1.0
    load_s: float = 90.0
    ready_delay_s: float | None = 5.0
    restarts_s: Sequence[float] = ()
    deleted_s: float | None = None

    def lives(self) -> list[Life]:
        starts = [self.created_s + self.start_delay_s, *sorted(self.restarts_s)]
        ends: list[float | None] = [*starts[1:], self.deleted_s]
        out = []
        for start, end in zip(starts, ends, strict=True):
            loaded: float | None = start + self.load_s
            ready = None if self.ready_delay_s is None else start + self.load_s + self.ready_delay_s
            if end is not None:
                loaded = loaded if loaded is not None and loaded < end else None
                ready = ready if ready is not None and ready < end else None
            out.append(Life(start, end, loaded, ready))
        return out

    @property
    def ready_s(self) -> float | None:
        """When the pod first turned Ready (None: never)."""
        return next((life.ready_s for life in self.lives() if life.ready_s is not None), None)

    def exists(self, t_s: float) -> bool:
        return self.created_s <= t_s and (self.deleted_s is None or t_s < self.deleted_s)

    def ready(self, t_s: float) -> bool:
        return self.exists(t_s) and any(
            life.ready_s is not None and life.ready_s <= t_s and (life.ended_s is None or t_s < life.ended_s)
            for life in self.lives()
        )

    def events(self, replicaset: str) -> list[base.Event]:
        out = [
            base.Event(
                self.created_s,
                "ReplicaSet",
                replicaset,
                timeline.SUCCESSFUL_CREATE,
                f"Created pod: {self.name}",
                data={"pod": self.name},
            )
        ]
        for i, life in enumerate(self.lives()):
            if i:  # a restart: the previous container is killed first
                out.append(
                    base.Event(
                        life.started_s,
                        "Pod",
                        self.name,
                        timeline.KILLING,
                        "Container restarted",
                        timeline.WARNING,
                    )
                )
                if self.lives()[i - 1].ready_s is not None:
                    out.append(base.Event(life.started_s, "Pod", self.name, timeline.NOT_READY, "NotReady"))
            out.append(base.Event(life.started_s, "Pod", self.name, timeline.STARTED, "Started container"))
            if life.loaded_s is not None:
                out.append(
                    base.Event(
                        life.loaded_s,
                        "Pod",
                        self.name,
                        timeline.MODEL_LOADED,
                        "serving",
                        data={"load_s": self.load_s},
                    )
                )
            if life.ready_s is not None:
                out.append(base.Event(life.ready_s, "Pod", self.name, timeline.READY, "Ready"))
        if self.deleted_s is not None:
            out.append(base.Event(self.deleted_s, "Pod", self.name, timeline.DELETED, "Deleted"))
        return out


@dataclasses.dataclass
class Workload:
    """A Deployment and its Service, the pods it ever had, and when it was restarted."""

    deployment: str = "llm"
    service: str = "llm"
    replicas: int = 3
    labels: dict[str, str] = dataclasses.field(default_factory=lambda: {"app": "llm"})
    pods: list[Pod] = dataclasses.field(default_factory=list)
    restart_s: float | None = None

    def generation(self, t_s: float) -> int:
        return 2 if self.restart_s is not None and t_s >= self.restart_s else 1

    def objects_at(self, t_s: float) -> list[dict[str, Any]]:
        """The Deployment, its Pods and the Service's Endpoints as they are at ``t_s``."""
        gen = self.generation(t_s)
        live = [p for p in self.pods if p.exists(t_s)]
        ready = [p for p in live if p.ready(t_s)]
        status = {
            "observedGeneration": gen,
            "replicas": len(live),
            "updatedReplicas": sum(1 for p in live if p.revision == gen),
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
        }
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": self.deployment, "generation": gen},
            "spec": {"replicas": self.replicas, "selector": {"matchLabels": dict(self.labels)}},
            "status": status,
        }
        pods = [
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": p.name, "labels": dict(self.labels)},
                "status": {"conditions": [{"type": "Ready", "status": str(p.ready(t_s))}]},
            }
            for p in live
        ]
        addresses = [
            {"ip": f"10.0.0.{i + 1}", "targetRef": {"kind": "Pod", "name": p.name}}
            for i, p in enumerate(ready)
        ]
        endpoints = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": self.service},
            "subsets": [{"addresses": addresses}] if addresses else [],
        }
        return [deployment, *pods, endpoints]

    def change_times(self) -> list[float]:
        times = {e.time_s for e in self.events()}
        if self.restart_s is not None:
            times.add(self.restart_s)
        return sorted(times)

    def events(self) -> list[base.Event]:
        out = [e for p in self.pods for e in p.events(f"{self.deployment}-{p.revision}")]
        return sorted(out, key=lambda e: e.time_s)

    def backend(
        self,
        lab: lab_mod.Lab,
        scenario: scenario_mod.Scenario | None = None,
        *,
        requests: Iterable[Any] = (),
        seed: int = 1,
        **more: Any,
    ) -> fake.FakeBackend:
        """A FakeBackend that shows this workload through time, with the scripted ``requests``."""
        return fake.FakeBackend(
            lab,
            scenario,
            seed,
            objects=self.objects_at(float("-inf")),
            object_steps=[(t, self.objects_at(t)) for t in self.change_times()],
            events=self.events(),
            requests=requests,
            **more,
        )

    def restart_recorded(self, backend: fake.FakeBackend) -> list[float]:
        """When the grader restarted the Deployment (its RolloutRestart events), to compare with
        ``restart_s``."""
        return [
            e.time_s
            for e in backend.events
            if e.kind == timeline.GRADER_KIND and e.reason == timeline.ROLLOUT_RESTART
        ]
