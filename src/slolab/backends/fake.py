"""A scripted backend for unit tests: canned objects, requests, events, series and PromQL answers.

It implements ``base.Backend`` without simulating anything. Time moves only when a grader
sleeps or waits (or a test sets ``clock.t_s``). A load returns the scripted requests whose
``arrival_s`` falls between its start and its stop, so a test writes the run's timeline in
absolute run seconds: ``steady(rate_rps=2, start_s=0, end_s=300, ttft_s=0.2)``. Objects may
change with time: ``at(t_s, objects)`` steps make the cluster show each set from its time on.
``lab.prom`` answers each scripted expression from its series (``FakeProm``); it evaluates no
PromQL, and an expression nobody scripted is an error that names it.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from slolab import errors
from slolab.backends import base
from slolab.catalog import lab as lab_mod
from slolab.catalog import scenario as scenario_mod
from slolab.load import requestlog
from slolab.run import request as request_mod
from slolab.run import timeline


def request(
    id: int,
    arrival_s: float,
    *,
    ttft_s: float | None = 0.2,
    e2e_s: float | None = None,
    status: int | None = 200,
    error: str | None = None,
    output_tokens: int = 64,
    prompt_tokens: int = 256,
    profile: str = "",
    pod: str | None = None,
) -> request_mod.Request:
    """One finished request: ok (200) with ``ttft_s`` by default, or failed with ``status``/``error``."""
    ok = status == 200
    first = arrival_s + ttft_s if ok and ttft_s is not None else None
    finish = None if status is None else arrival_s + (e2e_s if e2e_s is not None else (ttft_s or 0.0) + 1.0)
    return request_mod.Request(
        id=id,
        arrival_s=arrival_s,
        prompt_tokens=prompt_tokens,
        max_tokens=output_tokens,
        profile=profile,
        status=status,
        error=error if not ok else None,
        pod=pod,
        first_token_s=first,
        finish_s=finish,
        output_tokens=output_tokens if ok else 0,
    )


def steady(
    *,
    rate_rps: float,
    start_s: float,
    end_s: float,
    ttft_s: float = 0.2,
    fail: Callable[[float], bool] | None = None,
    first_id: int = 0,
    profile: str = "",
) -> list[request_mod.Request]:
    """Evenly spaced requests at ``rate_rps`` in ``[start_s, end_s)``; ``fail(t)`` marks 503s."""
    out = []
    n = round((end_s - start_s) * rate_rps)
    for i in range(n):
        t = start_s + i / rate_rps
        failed = fail is not None and fail(t)
        out.append(
            request(
                first_id + i,
                t,
                ttft_s=ttft_s,
                status=503 if failed else 200,
                error="HTTP 503" if failed else None,
                profile=profile,
            )
        )
    return out


class FakeClock:
    """Run seconds; ``sleep`` moves them forward. Set ``t_s`` directly to jump."""

    def __init__(self, t_s: float = 0.0) -> None:
        self.t_s = t_s

    def now_s(self) -> float:
        return self.t_s

    def sleep(self, seconds: float) -> None:
        self.t_s += max(0.0, seconds)


@dataclasses.dataclass
class FakeDrain:
    """A scripted ``kubectl drain``: it ends at ``end_s`` of the fake clock, done or (``ok``
    False) with "drain did not complete" as when its --timeout passed."""

    clock: FakeClock
    node: str
    end_s: float
    ok: bool = True

    @property
    def finished_s(self) -> float | None:
        return self.end_s if self.clock.now_s() >= self.end_s else None

    @property
    def done(self) -> bool:
        return self.finished_s is not None and self.ok

    @property
    def error(self) -> str | None:
        return None if self.ok or self.finished_s is None else "drain did not complete within the timeout"

    @property
    def output(self) -> list[str]:
        last = f"node/{self.node} drained" if self.ok else f"error: {self.error}"
        return [f"node/{self.node} cordoned", *([last] if self.finished_s is not None else [])]


#: drain script: (clock, node, timeout_s) -> the FakeDrain a grader's ``cluster.drain`` returns
DrainScript = Callable[[FakeClock, str, "float | None"], FakeDrain]


def _matches(obj: dict[str, Any], labels: dict[str, str] | None) -> bool:
    have = obj.get("metadata", {}).get("labels") or {}
    return all(have.get(k) == v for k, v in (labels or {}).items())


def _first(step: tuple[float, Any]) -> float:
    return step[0]


class FakeCluster:
    """Canned API-shaped objects, looked up by kind, namespace and name; ``steps`` replace the
    whole set at their times (``(t_s, objects)``), so a script can complete a rollout at 200 s."""

    def __init__(
        self,
        backend: FakeBackend,
        objects: Iterable[dict[str, Any]],
        namespace: str,
        steps: Iterable[tuple[float, Iterable[dict[str, Any]]]] = (),
    ) -> None:
        self._backend = backend
        self.namespace = namespace
        #: what ``apply`` (``delete``) was given, in order; ``drain_script`` makes ``drain``'s
        #: result (default: done at once); ``uncordoned``: the nodes ``uncordon`` was called for.
        self.applied: list[Any] = []
        self.deleted: list[Any] = []
        self.drain_script: DrainScript = lambda clock, node, timeout_s: FakeDrain(clock, node, clock.now_s())
        self.uncordoned: list[str] = []
        later = sorted(((float(t), [copy.deepcopy(o) for o in objs]) for t, objs in steps), key=_first)
        self._steps = [(-math.inf, [copy.deepcopy(o) for o in objects]), *later]

    @property
    def objects(self) -> list[dict[str, Any]]:
        """The objects of the latest step at or before now."""
        now = self._backend.clock.now_s()
        return [objs for t, objs in self._steps if t <= now][-1]

    def _ns(self, obj: dict[str, Any]) -> str:
        return obj.get("metadata", {}).get("namespace", self.namespace)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        ns = namespace or self.namespace
        for obj in self.objects:
            if obj.get("kind") == kind and obj["metadata"]["name"] == name and self._ns(obj) == ns:
                return copy.deepcopy(obj)
        return None

    def list(
        self, kind: str, namespace: str | None = None, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        ns = namespace or self.namespace
        return [
            copy.deepcopy(o)
            for o in self.objects
            if o.get("kind") == kind and (kind == "Node" or self._ns(o) == ns) and _matches(o, labels)
        ]

    def rollout_restart(self, kind: str, name: str, namespace: str | None = None) -> None:
        ns = namespace or self.namespace
        for obj in self.objects:
            if obj.get("kind") == kind and obj["metadata"]["name"] == name and self._ns(obj) == ns:
                template = obj.setdefault("spec", {}).setdefault("template", {}).setdefault("metadata", {})
                template.setdefault("annotations", {})["kubectl.kubernetes.io/restartedAt"] = (
                    f"run+{self._backend.clock.now_s():.0f}s"
                )
                self._backend.record(timeline.GRADER_KIND, name, timeline.ROLLOUT_RESTART, "rollout restart")
                return
        raise LookupError(f"{kind} {ns}/{name} not found")

    def set_image(
        self, kind: str, name: str, container: str, image: str, namespace: str | None = None
    ) -> None:
        ns = namespace or self.namespace
        for obj in self.objects:
            if obj.get("kind") == kind and obj["metadata"]["name"] == name and self._ns(obj) == ns:
                for c in obj["spec"]["template"]["spec"]["containers"]:
                    if c.get("name") == container:
                        c["image"] = image
                        self._backend.record(
                            timeline.GRADER_KIND, name, timeline.SET_IMAGE, f"set image {image}"
                        )
                        return
        raise LookupError(f"{kind} {ns}/{name} has no container {container}")

    def apply(self, docs: list[Any]) -> None:
        self.applied.extend(docs)
        for doc in docs:
            data = getattr(doc, "data", doc)
            name = str((data.get("metadata") or {}).get("name"))
            self._backend.record(
                timeline.GRADER_KIND, name, timeline.APPLIED, f"kubectl apply {data.get('kind')}"
            )

    def delete(self, docs: list[Any]) -> None:
        self.deleted.extend(docs)
        for doc in docs:
            data = getattr(doc, "data", doc)
            name = str((data.get("metadata") or {}).get("name"))
            self._backend.record(
                timeline.GRADER_KIND, name, timeline.DELETED, f"kubectl delete {data.get('kind')}"
            )

    def drain(self, node: str, timeout_s: float | None = None) -> FakeDrain:
        self._backend.record(timeline.GRADER_KIND, node, timeline.DRAIN_STARTED, f"kubectl drain {node}")
        return self.drain_script(self._backend.clock, node, timeout_s)

    def uncordon(self, node: str) -> None:
        self.uncordoned.append(node)
        self._backend.record("Node", node, timeline.NODE_SCHEDULABLE, f"kubectl uncordon {node}")

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, poll_s: float = 1.0) -> bool:
        deadline = self._backend.clock.now_s() + timeout_s
        while True:
            if condition():
                return True
            if self._backend.clock.now_s() >= deadline:
                return False
            self._backend.clock.sleep(poll_s)


@dataclasses.dataclass
class FakeHandle:
    profile: str
    started_s: float


class FakeLoad:
    """Loads that return the scripted requests of their time span."""

    def __init__(
        self,
        backend: FakeBackend,
        requests: Iterable[request_mod.Request],
        rate_rps: dict[str, float] | float | None,
    ) -> None:
        self._backend = backend
        self.requests = list(requests)
        self._rate_rps = rate_rps

    def rate_rps(self, profile: str) -> float | None:
        if isinstance(self._rate_rps, dict):
            return self._rate_rps.get(profile)
        if self._rate_rps is not None:
            return self._rate_rps
        scenario = self._backend.scenario
        return scenario.traffic[profile].rate_rps if scenario and profile in scenario.traffic else None

    def start(self, profile: str) -> FakeHandle:
        self._backend.record(timeline.LOAD_KIND, profile, timeline.LOAD_STARTED, f"load {profile} started")
        return FakeHandle(profile, self._backend.clock.now_s())

    def stop(self, handle: FakeHandle, drain_s: float | None = None) -> requestlog.RequestLog:
        stopped_s = self._backend.clock.now_s()
        self._backend.clock.sleep(drain_s or 0.0)
        picked = [
            r
            for r in self.requests
            if handle.started_s <= r.arrival_s < stopped_s and r.profile in ("", handle.profile)
        ]
        log = requestlog.RequestLog(
            picked,
            profile=handle.profile,
            rate_rps=self.rate_rps(handle.profile),
            started_s=handle.started_s,
            stopped_s=stopped_s,
        )
        self._backend.record(
            timeline.LOAD_KIND,
            handle.profile,
            timeline.LOAD_STOPPED,
            f"load {handle.profile} stopped: {len(log)} requests",
        )
        self._backend.request_logs.append(log)
        return log

    def so_far(self, handle: FakeHandle) -> list[request_mod.Request]:
        """The scripted requests of ``handle`` that arrived and finished by now."""
        now = self._backend.clock.now_s()
        return [
            r
            for r in self.requests
            if handle.started_s <= r.arrival_s < now
            and r.profile in ("", handle.profile)
            and r.finish_s is not None
            and r.finish_s <= now
        ]

    def run(self, profile: str, duration_s: float) -> requestlog.RequestLog:
        handle = self.start(profile)
        self._backend.clock.sleep(duration_s)
        return self.stop(handle)


@dataclasses.dataclass(frozen=True)
class PromSeries:
    """One series of a scripted PromQL answer: its labels and its (t_s, value) samples in time order."""

    metric: dict[str, str]
    samples: Sequence[tuple[float, float]]


def _prom_value(value: float) -> str:
    """A sample value as the Prometheus HTTP API writes it ("1", "0.25", "NaN", "+Inf")."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


class FakeProm:
    """``base.Prom`` from scripted answers: ``answers[expr]`` are the series that expression gives.

    A query at ``t`` gives, per series, its latest sample in ``(t - lookback_s, t]`` (Prometheus'
    lookback, 5 min by default) stamped ``t``; a series without one is absent at ``t``, as a
    series that went stale is. ``queries`` records every (expr, at_s or (start, end, step)).
    """

    def __init__(
        self,
        clock: FakeClock,
        answers: Mapping[str, Iterable[PromSeries]] | None = None,
        lookback_s: float = 300.0,
    ) -> None:
        self._clock = clock
        self.answers = {expr: list(series) for expr, series in (answers or {}).items()}
        self.lookback_s = lookback_s
        self.queries: list[tuple[str, Any]] = []

    def _series(self, expr: str) -> list[PromSeries]:
        if expr not in self.answers:
            raise errors.BackendError(
                f"the fake Prometheus has no answer scripted for {expr!r}; it has: "
                f"{', '.join(map(repr, self.answers)) or 'none'}",
                "Script it: FakeBackend(..., prom={expr: [fake.PromSeries(labels, samples)]}).",
            )
        return self.answers[expr]

    def _at(self, series: PromSeries, t_s: float) -> float | None:
        value = None
        for sample_t, sample_v in series.samples:
            if sample_t > t_s:
                break
            if sample_t > t_s - self.lookback_s:
                value = sample_v
        return value

    def query(self, expr: str, at_s: float | None = None) -> list[dict[str, Any]]:
        t = self._clock.now_s() if at_s is None else at_s
        self.queries.append((expr, t))
        out = []
        for series in self._series(expr):
            value = self._at(series, t)
            if value is not None:
                out.append({"metric": dict(series.metric), "value": [t, _prom_value(value)]})
        return out

    def query_range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[dict[str, Any]]:
        if step_s <= 0:
            raise ValueError(f"a range query needs a positive step (got {step_s!r})")
        self.queries.append((expr, (start_s, end_s, step_s)))
        steps = [start_s + i * step_s for i in range(int((end_s - start_s) // step_s) + 1)]
        out = []
        for series in self._series(expr):
            values = [[t, _prom_value(v)] for t in steps if (v := self._at(series, t)) is not None]
            if values:
                out.append({"metric": dict(series.metric), "values": values})
        return out


class FakeBackend:
    """``base.Backend`` from a script. ``scenario`` may be None when a test needs none."""

    name = "fake"

    def __init__(
        self,
        lab: lab_mod.Lab,
        scenario: scenario_mod.Scenario | None = None,
        seed: int = 1,
        *,
        objects: Iterable[dict[str, Any]] = (),
        object_steps: Iterable[tuple[float, Iterable[dict[str, Any]]]] = (),
        requests: Iterable[request_mod.Request] = (),
        rate_rps: dict[str, float] | float | None = None,
        events: Iterable[base.Event] = (),
        series: dict[str, list[tuple[float, float]]] | None = None,
        namespace: str | None = None,
        start_s: float = 0.0,
        prom: Mapping[str, Iterable[PromSeries]] | None = None,
    ) -> None:
        self.lab = lab
        self.scenario = scenario
        self.seed = seed
        self.clock = FakeClock(start_s)
        self._events = list(events)
        self._series = dict(series or {})
        self.request_logs: list[requestlog.RequestLog] = []
        self.cluster = FakeCluster(self, objects, namespace or f"lab-{lab.name}", object_steps)
        self.load = FakeLoad(self, requests, rate_rps)
        self.prom = FakeProm(self.clock, prom)
        self.closed = False

    def record(
        self, kind: str, name: str, reason: str, message: str = "", type: str = timeline.NORMAL
    ) -> base.Event:
        """Add an event at the current time."""
        event = base.Event(self.clock.now_s(), kind, name, reason, message, type)
        self._events.append(event)
        return event

    @property
    def events(self) -> list[base.Event]:
        """The scripted and recorded events up to now, in time order (a timeline has no future)."""
        now = self.clock.now_s()
        return sorted((e for e in self._events if e.time_s <= now), key=lambda e: e.time_s)

    def series(self) -> dict[str, list[tuple[float, float]]]:
        return {k: list(v) for k, v in self._series.items()}

    def logs(self) -> list[requestlog.RequestLog]:
        return list(self.request_logs)

    def close(self) -> None:
        self.closed = True
