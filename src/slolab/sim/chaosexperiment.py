"""What every Chaos Mesh experiment (PodChaos, NetworkChaos) shares: its phase, its records, its
conditions and events, and its pod selector.

Upstream: chaos-mesh v2.8.3, the three reconcilers every chaos kind runs in turn:
- controllers/common/desiredphase/controller.go ``CalcDesiredPhase``: Stop when the object is
  deleted, Run for a one-shot chaos (pod-kill, container-kill: ``IsOneShot``), Stop once
  ``spec.duration`` since creation has passed (``DurationExceeded``; event TimeUp), Stop while
  the annotation experiment.chaos-mesh.org/pause is "true" (Paused), else Run (Started);
- controllers/common/records/controller.go ``Reconcile``: the targets are selected once, when
  there are no records yet (no target: event Failed "Failed to select targets: no pod is
  selected", and nothing more until the object changes); each record is applied while the
  desired phase is Run and recovered while it is Stop (phases "Not Injected" / "Injected",
  injectedCount, recoveredCount, events Applied "Successfully apply chaos for ID" and Recovered);
  a failed apply or recover is an event Failed and a retry with controller-runtime's
  per-item exponential back-off (5 ms doubling, at most 1000 s);
- controllers/common/condition/controller.go ``diffConditions``: Selected (records exist),
  AllInjected, AllRecovered, Paused;
- controllers/utils/controller/finished.go ``IsChaosFinishedWithUntilStop`` (what a Schedule's
  Forbid policy and its history limit look at);
- pkg/selector/pod/selector.go ``SelectAndFilterPods`` (``pods`` names pods directly, else
  namespaces and labelSelectors, then podPhaseSelectors; none: "no pod is selected") and
  pkg/selector/generic/mode.go ``FilterObjectsByMode`` (one, all, fixed, fixed-percent rounding
  up, random-max-percent; its errors worded as upstream's), drawing from a seeded stream of the
  run instead of crypto/rand.
The events are Chaos Mesh's (controllers/utils/recorder); "Updated" events of each status write
are left out. Not modelled: the other selector fields (fieldSelectors, annotationSelectors,
expressionSelectors, nodes, nodeSelectors: refused when applied),
remoteCluster, the namespace filter of the controller manager.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any, ClassVar

from slolab.run import timeline
from slolab.sim import controller, objects, store

API_VERSION = "chaos-mesh.org/v1alpha1"
PAUSE_ANNOTATION = "experiment.chaos-mesh.org/pause"
MANAGED_BY = "managed-by"
RUN, STOP = "Run", "Stop"
INJECTED, NOT_INJECTED = "Injected", "Not Injected"
RETRY_BASE_S, RETRY_MAX_S = 0.005, 1000.0

SELECTOR_FIELDS = (
    "spec.mode",
    "spec.value",
    "spec.duration",
    "spec.selector.namespaces[*]",
    "spec.selector.labelSelectors.*",
    "spec.selector.pods.*[*]",
    "spec.selector.podPhaseSelectors[*]",
)

_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_s(text: str) -> float:
    """time.ParseDuration ("30s", "1m30s", "200ms"); ValueError when malformed."""
    s = str(text).strip()
    if s in ("0", ""):
        if s == "0":
            return 0.0
        raise ValueError('time: invalid duration ""')
    pos, total = 0, 0.0
    for m in _GO_DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if pos != len(s):
        raise ValueError(f'time: invalid duration "{s}"')
    return total


class SelectError(Exception):
    """SelectAndFilterPods failed (the message is upstream's)."""


def filter_by_mode(mode: str, value: str, count: int, rng: random.Random) -> list[int]:
    """FilterObjectsByMode: the indexes of the chosen objects among ``count``."""
    if count == 0:
        raise SelectError("cannot generate objects from empty list")
    if mode == "one":
        return [rng.randrange(count)]
    if mode == "all":
        return list(range(count))
    try:
        num = int(value)
    except ValueError as exc:
        raise SelectError(f'strconv.Atoi: parsing "{value}": invalid syntax') from exc
    if mode == "fixed":
        num = min(num, count)
        if num <= 0:
            raise SelectError("cannot select any object as value below or equal 0")
        return sorted(rng.sample(range(count), num))
    if mode in ("fixed-percent", "random-max-percent"):
        if num == 0:
            raise SelectError("cannot select any object as value below or equal 0")
        if num < 0 or num > 100:
            raise SelectError(f"fixed percentage value of {num} is invalid, Must be (0,100]")
        percent = num if mode == "fixed-percent" else rng.randrange(num + 1)
        return sorted(rng.sample(range(count), math.ceil(count * percent / 100)))
    raise SelectError(f"mode {mode} not supported")


def select_pods(
    st: store.Store, chaos: store.Generic, spec: dict[str, Any], rng: random.Random
) -> list[objects.Pod]:
    """SelectAndFilterPods for the PodSelector in ``spec`` (selector, mode, value)."""
    selector = spec.get("selector") or {}
    namespaces = selector.get("namespaces") or [chaos.meta.namespace]
    pods: list[objects.Pod] = []
    named = selector.get("pods") or {}
    if named:
        for ns, names in named.items():
            pods += [p for n in names if (p := st.get("v1", "Pod", n, ns)) is not None]
    else:
        labels = {str(k): str(v) for k, v in (selector.get("labelSelectors") or {}).items()}
        for ns in namespaces:
            pods += [p for p in st.list("v1", "Pod", ns) if objects.labels_match(labels, p.labels)]
    phases = selector.get("podPhaseSelectors") or []
    if phases:  # the phase selector (pkg/selector/pod: podPhaseSelectors)
        pods = [p for p in pods if p.phase in phases]
    if not pods:
        raise SelectError("no pod is selected")
    return [pods[i] for i in filter_by_mode(spec.get("mode", ""), str(spec.get("value", "")), len(pods), rng)]


def paused(chaos: store.Generic) -> bool:
    return chaos.meta.annotations.get(PAUSE_ANNOTATION) == "true"


def records(chaos: store.Generic) -> list[dict[str, Any]] | None:
    return (chaos.status.get("experiment") or {}).get("containerRecords")


def finished(chaos: store.Generic, one_shot: bool, now_s: float) -> tuple[bool, float]:
    """IsChaosFinishedWithUntilStop: (finished, seconds until the duration ends)."""
    recs = records(chaos) or []
    if one_shot:
        return bool(recs) and all(r["phase"] == INJECTED for r in recs), 1.0
    done = (chaos.status.get("experiment") or {}).get("desiredPhase") != RUN and all(
        r["phase"] == NOT_INJECTED for r in recs
    )
    duration = chaos.spec.get("duration")
    if duration is None:
        return False, 0.0
    stop_s = chaos.meta.creation_s + go_duration_s(duration)
    if stop_s < now_s:
        return done, 0.0
    return False, stop_s - now_s


class ExperimentController(controller.Controller):
    """The desiredphase, records and condition reconcilers of one chaos kind.

    A subclass sets ``kind`` and implements ``one_shot``, ``targets`` (record ids of the selected
    pods or containers), ``apply`` and ``recover`` (each returns the record's new phase or
    raises ``ApplyError``)."""

    kind: ClassVar[str] = ""

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self._failures: dict[tuple[str, str], int] = {}  # (uid, record id) -> failed tries
        self._select_failed: dict[str, int] = {}  # uid -> generation whose selection failed
        self._wakeups: set[tuple[str, float]] = set()  # (uid, time) requeues asked for

    # ---- what a chaos kind implements ----------------------------------------------------------
    def one_shot(self, chaos: store.Generic) -> bool:
        return False

    def targets(self, chaos: store.Generic, rng: random.Random) -> list[str]:
        raise NotImplementedError

    def apply(self, chaos: store.Generic, record_id: str) -> str:
        raise NotImplementedError

    def recover(self, chaos: store.Generic, record_id: str) -> str:
        raise NotImplementedError

    # ---- the reconcilers ---------------------------------------------------------------------
    def on_event(self, event: store.WatchEvent) -> None:
        obj = event.obj
        if event.type == store.DELETED and obj.kind == self.kind:
            self.on_deleted(obj)
            return
        self.api.enqueue(self)

    def on_deleted(self, chaos: store.Generic) -> None:
        """The finalizer: desiredPhase Stop, every injected record recovered."""
        self.event(chaos, timeline.CHAOS_DELETED, "Experiment has been deleted")
        for record in records(chaos) or []:
            if record["phase"] == INJECTED:
                self._operate(chaos, record, recover=True)

    def reconcile(self) -> bool:
        changed = False
        for chaos in self.api.store.list(API_VERSION, self.kind):
            changed |= self.sync(chaos)
        return changed

    def sync(self, chaos: store.Generic) -> bool:
        before = repr(chaos.status)
        status = chaos.status
        experiment = status.setdefault("experiment", {})
        desired = self.desired_phase(chaos)
        experiment["desiredPhase"] = desired
        if experiment.get("containerRecords") is None:
            ids: list[str] = []
            if self._select_failed.get(chaos.meta.uid) != chaos.meta.generation:
                try:  # upstream selects again only when the object changes
                    ids = self.targets(chaos, self.api.rng(f"chaos:{chaos.meta.uid}"))
                except SelectError as exc:
                    self._select_failed[chaos.meta.uid] = chaos.meta.generation
                    self.event(
                        chaos, timeline.CHAOS_FAILED, f"Failed to select targets: {exc}", timeline.WARNING
                    )
            if ids:
                experiment["containerRecords"] = [
                    {
                        "id": i,
                        "selectorKey": ".",
                        "phase": NOT_INJECTED,
                        "injectedCount": 0,
                        "recoveredCount": 0,
                    }
                    for i in ids
                ]
        for record in experiment.get("containerRecords") or []:
            if desired == RUN and record["phase"] != INJECTED:
                self._operate(chaos, record, recover=False)
            elif desired == STOP and record["phase"] != NOT_INJECTED:
                self._operate(chaos, record, recover=True)
        status["conditions"] = self.conditions(chaos)
        if repr(chaos.status) == before:
            return False
        self.api.store.update(chaos)
        return True

    def desired_phase(self, chaos: store.Generic) -> str:
        """CalcDesiredPhase, with its events when the phase changes."""
        old = (chaos.status.get("experiment") or {}).get("desiredPhase")
        if self.one_shot(chaos):
            if old != RUN:
                self.event(chaos, timeline.CHAOS_STARTED, "Experiment has started")
            return RUN
        duration = chaos.spec.get("duration")
        if duration is not None:
            stop_s = chaos.meta.creation_s + go_duration_s(duration)
            if stop_s <= self.api.now_s:
                if old != STOP:
                    self.event(chaos, timeline.CHAOS_TIME_UP, "Time up according to the duration")
                return STOP
            if (chaos.meta.uid, stop_s) not in self._wakeups:
                self._wakeups.add((chaos.meta.uid, stop_s))
                self.api.requeue_at(self, stop_s)
        if paused(chaos):
            if old != STOP:
                self.event(chaos, timeline.CHAOS_PAUSED, "Experiment has been paused")
            return STOP
        if old != RUN:
            self.event(chaos, timeline.CHAOS_STARTED, "Experiment has started")
        return RUN

    def conditions(self, chaos: store.Generic) -> list[dict[str, str]]:
        """diffConditions."""
        recs = records(chaos)

        def cond(kind: str, value: bool) -> dict[str, str]:
            return {"type": kind, "status": "True" if value else "False"}

        return [
            cond("Selected", recs is not None),
            cond("AllInjected", recs is not None and all(r["phase"] == INJECTED for r in recs)),
            cond("AllRecovered", recs is not None and all(r["phase"] == NOT_INJECTED for r in recs)),
            cond("Paused", paused(chaos)),
        ]

    def _operate(self, chaos: store.Generic, record: dict[str, Any], recover: bool) -> None:
        op = "Recover" if recover else "Apply"
        key = (chaos.meta.uid, record["id"])
        try:
            record["phase"] = (
                self.recover(chaos, record["id"]) if recover else self.apply(chaos, record["id"])
            )
        except ApplyError as exc:
            record["phase"] = exc.phase
            verb = "recover chaos" if recover else "apply chaos"
            self._record_event(record, "Failed", op, str(exc))
            self.event(chaos, timeline.CHAOS_FAILED, f"Failed to {verb}: {exc}", timeline.WARNING)
            tries = self._failures[key] = self._failures.get(key, 0) + 1
            self.api.requeue_at(self, self.api.now_s + min(RETRY_MAX_S, RETRY_BASE_S * 2 ** (tries - 1)))
            return
        self._failures.pop(key, None)
        if not recover and record["phase"] == INJECTED:
            record["injectedCount"] += 1
            self._record_event(record, "Succeeded", op, "")
            self.event(
                chaos,
                timeline.CHAOS_APPLIED,
                f"Successfully apply chaos for {record['id']}",
                target=record["id"],
            )
        if recover and record["phase"] == NOT_INJECTED:
            record["recoveredCount"] += 1
            self._record_event(record, "Succeeded", op, "")
            self.event(
                chaos,
                timeline.CHAOS_RECOVERED,
                f"Successfully recover chaos for {record['id']}",
                target=record["id"],
            )

    def _record_event(self, record: dict[str, Any], type_: str, op: str, message: str) -> None:
        events = record.setdefault("events", [])
        if len(events) >= 10:  # config.ControllerCfg.MaxEvents
            del events[0]
        event = {"type": type_, "operation": op, "timestamp": objects.timestamp(self.api.now_s)}
        if message:
            event["message"] = message
        events.append(event)

    def event(
        self, chaos: store.Generic, reason: str, message: str, type_: str = timeline.NORMAL, **data: Any
    ) -> None:
        self.api.record(self.kind, chaos.meta.name, reason, message, type_, **data)


class ApplyError(Exception):
    """Apply or Recover failed; ``phase`` is the record's phase after it."""

    def __init__(self, message: str, phase: str) -> None:
        super().__init__(message)
        self.phase = phase


def pod_of(st: store.Store, record_id: str) -> objects.Pod:
    """controller.ParseNamespacedName and Get: the pod of a record id ``ns/name[/container]``."""
    ns, name = record_id.split("/")[:2]
    pod = st.get("v1", "Pod", name, ns)
    if pod is None:
        raise ApplyError(f'pods "{name}" not found', NOT_INJECTED)
    return pod


def kind(name: str, fields: tuple[str, ...], validate: Any = None) -> controller.Kind:
    """A chaos kind: stored as it was applied, with the status its controller writes."""
    return controller.Kind(
        API_VERSION,
        name,
        fields=(*controller.META_FIELDS, *SELECTOR_FIELDS, *fields),
        new=lambda meta, spec: store.Generic(API_VERSION, name, meta, spec),
        validate=validate,
    )
