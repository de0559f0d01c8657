"""Chaos Mesh Schedule: a PodChaos or NetworkChaos spawned on a cron schedule.

Upstream: chaos-mesh v2.8.3 api/v1alpha1/schedule_types.go (``schedule`` parsed by
``StandardCronParser``: robfig/cron with optional seconds, five or six fields, descriptors such as
@hourly and ``@every <duration>``; ``concurrencyPolicy`` Forbid (default) or Allow;
``historyLimit``; ``startingDeadlineSeconds``; status ``time`` (lastScheduleTime) and ``active``)
and controllers/schedule:
- cron/controller.go ``Reconcile`` with cron/utils.go ``getRecentUnmetScheduleTime``: from the
  last schedule time (or the creation time, or now - startingDeadlineSeconds if later), the most
  recent run time that has passed; none: requeue at the next one; more than 100 missed: event
  Failed; a run older than startingDeadlineSeconds: event MissSchedule; with Forbid, an owned
  chaos that has not finished (controllers/utils/controller/finished.go) stops the spawn (event
  Forbid "Forbid spawning new job because: NAME is still running"); otherwise a new object named
  ``<schedule>-<5 random characters>``, owned by the Schedule and labelled managed-by, is created
  (event Spawned "Create new object: NAME") and the last schedule time is set to now;
- active/controller.go: status.active lists the owned objects, sorted by name;
- gc/controller.go: beyond ``historyLimit`` (unset is 0), the oldest owned objects are deleted
  once finished; an unfinished one is looked at again when its duration ends;
- pause/controller.go: the experiment.chaos-mesh.org/pause annotation is copied onto the owned
  objects.
Docs: https://chaos-mesh.org/docs/define-scheduling-rules/ (v2.8). A consequence of
getRecentUnmetScheduleTime kept here: ``@every`` counts from the earliest time it looks from, so
with a startingDeadlineSeconds shorter than its period such a schedule never fires.
Simplification: upstream's cron reconciler runs when the Schedule changes and at the requeue it
asks for; here it also runs when an owned object changes (after a Forbid, upstream spawns at the
next change of the Schedule, typically its status.active). Not modelled: the other types
(StressChaos, Workflow, ...: refused when applied).
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from slolab import errors
from slolab.catalog import yamlfile
from slolab.run import timeline
from slolab.sim import chaosexperiment, controller, networkchaos, objects, podchaos, store

TYPES = {"PodChaos": ("podChaos", podchaos.KIND), "NetworkChaos": ("networkChaos", networkchaos.KIND)}
ONE_SHOT_ACTIONS = ("pod-kill", "container-kill")
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apiserver names.SimpleNameGenerator


class Cron:
    """robfig/cron's schedule of ``spec.schedule``: ``next(t)`` in run seconds."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.every_s: float | None = None
        if self.text.startswith("@every "):
            every = chaosexperiment.go_duration_s(self.text.removeprefix("@every ").strip())
            self.every_s = max(1.0, float(round(every)))  # cron.Every rounds to whole seconds, at least 1
            return
        from croniter import croniter  # a cron schedule only (about 10 ms to import)

        fields = self.text.split()
        self.seconds_first = len(fields) == 6
        if not (self.text.startswith("@") or len(fields) in (5, 6)) or not croniter.is_valid(
            self.text, second_at_beginning=self.seconds_first
        ):
            raise ValueError(f"unparseable schedule: {self.text}")

    def next_s(self, t_s: float) -> float:
        if self.every_s is not None:
            return math.floor(t_s) + self.every_s
        from croniter import croniter

        start = datetime.datetime.fromtimestamp(objects.EPOCH + t_s, tz=datetime.UTC)
        it = croniter(self.text, start, second_at_beginning=self.seconds_first)
        return it.get_next(float) - objects.EPOCH


def _validate(doc: yamlfile.Document) -> list[errors.Problem]:
    spec = doc.data.get("spec") or {}
    problems = []

    def bad(path: tuple[str, ...], message: str) -> None:
        problems.append(errors.Problem(doc.file, message, yamlfile.dotted(path), doc.line_of(path)))

    try:
        Cron(str(spec.get("schedule", "")))
    except ValueError as exc:
        bad(("spec", "schedule"), f"spec.schedule: {exc}")
    kind = spec.get("type")
    if kind not in TYPES:
        bad(("spec", "type"), f"spec.type {kind} is not modeled by the simulator (only {', '.join(TYPES)})")
        return problems
    key, inner = TYPES[kind]
    if key not in spec:
        bad(("spec", key), f"spec.{key} is required for type {kind}")
    elif inner.validate is not None:
        embedded = yamlfile.Document({"spec": spec[key]}, doc.file, {})
        for p in inner.validate(embedded):
            field = (p.field or "").replace("spec.", f"spec.{key}.", 1)
            problems.append(
                errors.Problem(doc.file, p.message.replace("spec.", f"spec.{key}.", 1), field, p.line)
            )
    return problems


def _fields() -> tuple[str, ...]:
    out = [
        "spec.schedule",
        "spec.type",
        "spec.concurrencyPolicy",
        "spec.historyLimit",
        "spec.startingDeadlineSeconds",
    ]
    for key, inner in TYPES.values():
        out += [f"spec.{key}.{f[5:]}" for f in inner.fields if f.startswith("spec.")]
    return tuple(out)


KIND = controller.Kind(
    chaosexperiment.API_VERSION,
    "Schedule",
    fields=(*controller.META_FIELDS, *_fields()),
    new=lambda meta, spec: store.Generic(chaosexperiment.API_VERSION, "Schedule", meta, spec),
    validate=_validate,
)


class Controller(controller.Controller):
    """The cron, active, gc and pause reconcilers of every Schedule."""

    name = "schedule"
    owns = (KIND,)
    watches = tuple((chaosexperiment.API_VERSION, k) for k in ("Schedule", *TYPES))

    def __init__(self, api: controller.API) -> None:
        super().__init__(api)
        self.rng_names = api.rng("chaos-names")
        self._wakeups: set[tuple[str, float]] = set()
        self._last_s: dict[str, float] = {}  # uid -> status.time in run seconds

    def reconcile(self) -> bool:
        changed = False
        for schedule in self.api.store.list(chaosexperiment.API_VERSION, "Schedule"):
            changed |= self.sync(schedule)
        return changed

    def sync(self, schedule: store.Generic) -> bool:
        before = repr(schedule.status)
        self.pause(schedule)
        self.cron(schedule)
        self.gc(schedule)
        self.active(schedule)
        if repr(schedule.status) == before:
            return False
        self.api.store.update(schedule)
        return True

    def owned(self, schedule: store.Generic) -> list[store.Generic]:
        """ListActiveJobs: the objects of the Schedule's type labelled managed-by it, oldest first."""
        kind = schedule.spec.get("type", "")
        items = [
            o
            for o in self.api.store.list(chaosexperiment.API_VERSION, kind, schedule.meta.namespace)
            if o.meta.labels.get(chaosexperiment.MANAGED_BY) == schedule.meta.name
        ]
        return sorted(items, key=lambda o: o.meta.creation_s)

    def finished(self, chaos: store.Generic) -> tuple[bool, float]:
        one_shot = chaos.kind == "PodChaos" and chaos.spec.get("action") in ONE_SHOT_ACTIONS
        return chaosexperiment.finished(chaos, one_shot, self.api.now_s)

    # ---- the reconcilers ---------------------------------------------------------------------
    def cron(self, schedule: store.Generic) -> None:
        if chaosexperiment.paused(schedule):
            return
        now = self.api.now_s
        try:
            missed, next_s = self.recent_unmet(schedule, now)
        except ValueError as exc:
            self.event(schedule, timeline.CHAOS_FAILED, f"Failed to get run time: {exc}", timeline.WARNING)
            return
        if missed is None:
            self._wake(schedule, next_s)
            return
        deadline = schedule.spec.get("startingDeadlineSeconds")
        if deadline is not None and missed + float(deadline) < now:
            self.event(
                schedule,
                timeline.SCHEDULE_MISSED,
                f"Missed scheduled time to start a job: {objects.timestamp(missed)}",
                timeline.WARNING,
            )
            return
        if schedule.spec.get("concurrencyPolicy", "Forbid") == "Forbid":
            for item in self.owned(schedule):
                if not self.finished(item)[0]:
                    self.event(
                        schedule,
                        timeline.SCHEDULE_FORBID,
                        f"Forbid spawning new job because: {item.meta.name} is still running",
                        timeline.WARNING,
                    )
                    return
        self.spawn(schedule)
        schedule.status["time"] = objects.timestamp(now)
        self._last_s[schedule.meta.uid] = now
        self._wake(schedule, self.recent_unmet(schedule, now)[1])

    def recent_unmet(self, schedule: store.Generic, now: float) -> tuple[float | None, float]:
        """getRecentUnmetScheduleTime: (the latest missed run or None, the next run)."""
        cron = Cron(str(schedule.spec.get("schedule", "")))
        earliest = self._last_s.get(schedule.meta.uid, schedule.meta.creation_s)
        deadline = schedule.spec.get("startingDeadlineSeconds")
        if deadline is not None:
            earliest = max(earliest, now - float(deadline))
        missed: float | None = None
        t = cron.next_s(earliest)
        count = 0
        while t <= now:
            missed = t
            t = cron.next_s(t)
            count += 1
            if count > 100:
                raise ValueError(
                    "too many missed start time (> 100). Set or decrease .spec.startingDeadlineSeconds "
                    "or check clock skew"
                )
        return missed, t

    def spawn(self, schedule: store.Generic) -> None:
        kind = schedule.spec["type"]
        key, _ = TYPES[kind]
        suffix = "".join(self.rng_names.choice(_NAME_ALPHABET) for _ in range(5))
        name = f"{schedule.meta.name}-{suffix}"
        annotations = {}
        if chaosexperiment.paused(schedule):
            annotations[chaosexperiment.PAUSE_ANNOTATION] = "true"
        meta = store.Meta(
            name=name,
            namespace=schedule.meta.namespace,
            labels={chaosexperiment.MANAGED_BY: schedule.meta.name},
            annotations=annotations,
            owner_references=[
                store.OwnerReference(
                    chaosexperiment.API_VERSION, "Schedule", schedule.meta.name, schedule.meta.uid
                )
            ],
        )
        self.api.store.create(
            store.Generic(chaosexperiment.API_VERSION, kind, meta, dict(schedule.spec[key]))
        )
        self.event(schedule, timeline.SCHEDULE_SPAWNED, f"Create new object: {name}", spawned=name)

    def gc(self, schedule: store.Generic) -> None:
        items = self.owned(schedule)
        exceeded = len(items) - int(schedule.spec.get("historyLimit", 0) or 0)
        for item in items[: max(0, exceeded)]:
            done, until_stop_s = self.finished(item)
            if not done:
                if until_stop_s:
                    self._wake(schedule, self.api.now_s + until_stop_s)
                continue
            self.api.store.delete(item)

    def active(self, schedule: store.Generic) -> None:
        refs = sorted(
            (
                {
                    "apiVersion": chaosexperiment.API_VERSION,
                    "kind": o.kind,
                    "name": o.meta.name,
                    "namespace": o.meta.namespace,
                    "uid": o.meta.uid,
                }
                for o in self.owned(schedule)
            ),
            key=lambda r: r["name"],
        )
        schedule.status["active"] = refs

    def pause(self, schedule: store.Generic) -> None:
        want = "true" if chaosexperiment.paused(schedule) else "false"
        for item in self.owned(schedule):
            if chaosexperiment.paused(item) != (want == "true"):
                item.meta.annotations = {**item.meta.annotations, chaosexperiment.PAUSE_ANNOTATION: want}
                self.api.store.update(item)

    def _wake(self, schedule: store.Generic, at_s: float) -> None:
        key = (schedule.meta.uid, at_s)
        if key not in self._wakeups:
            self._wakeups.add(key)
            self.api.requeue_at(self, at_s)

    def event(
        self, schedule: store.Generic, reason: str, message: str, type_: str = timeline.NORMAL, **data: Any
    ) -> None:
        self.api.record("Schedule", schedule.meta.name, reason, message, type_, **data)
