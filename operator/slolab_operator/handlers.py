"""The kopf handlers of the Lab resource (kopf 1.45, https://kopf.readthedocs.io/).

:func:`register` puts them into a registry together with what they call (config, Helm
releases, API client), so tests can load a fresh registry per operator run. Handlers:

- ``reconcile`` (create, update, resume): namespace and RBAC, the Helm release, conditions
  Installed/FaultInjected/Ready, briefing, startedAt, deadline; a bumped reset generation
  re-installs the release;
- ``grade`` (create, update, resume): one grading Job per ``spec.gradeRequest``, polled with
  ``kopf.TemporaryError`` until it finishes, then ``status.grade`` and condition Graded;
- ``cleanup`` (delete, through the finalizer): uninstall, delete the namespace, wait for it;
- ``chaos`` (timer, only when ``spec.gameDay``): the scenario's chaos schedule.

No handler sleeps: waiting is ``TemporaryError(delay=…)``, so kopf keeps the progress in the
Lab's annotations and a restarted operator picks up where the old one stopped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import json
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from slolab import paths
from slolab_operator import (
    FINALIZER,
    GROUP,
    KOPF_PREFIX,
    LAB_LABEL,
    MANAGED_BY,
    PLURAL,
    VERSION,
    briefing,
    conditions,
    gameday,
    grading,
    kube,
    namespace_for,
    releases,
    spec,
)
from slolab_operator import config as config_mod
from slolab_operator.conditions import FAULT_INJECTED, GRADED, INSTALLED, READY

LAB = (GROUP, VERSION, PLURAL)
OPERATOR_BINDING = "slolab-operator"
GRADER_BINDING = "slolab-grader"


@dataclasses.dataclass
class Deps:
    """What the handlers call; made at startup unless a test passed its own."""

    config: config_mod.Config
    releases: releases.Releases | None = None
    kube: kube.Kube | None = None

    def api(self) -> kube.Kube:
        if self.kube is None:
            self.kube = kube.Kube.from_config(self.config.kubeconfig)
        return self.kube

    def helm(self) -> releases.Releases:
        if self.releases is None:
            self.releases = releases.HelmReleases(
                self.config.helm,
                kubeconfig=self.config.kubeconfig,
                timeout_s=self.config.helm_timeout_s,
                openapi_validation=self.config.helm_openapi_validation,
            )
        return self.releases


def configure(settings: kopf.OperatorSettings) -> None:
    """kopf settings: slolab's finalizer name, bookkeeping in annotations, no CRD watching."""
    settings.persistence.finalizer = FINALIZER
    # Annotations, not status.kopf: the CRD's status schema holds only what slolab reports.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX)
    # The chart installs the CRD before the operator starts; watching CRDs for new ones would
    # need list/watch on customresourcedefinitions, which nothing else here needs.
    settings.scanning.disabled = True


def register(
    registry: kopf.OperatorRegistry,
    cfg: config_mod.Config,
    *,
    helm: releases.Releases | None = None,
    api: kube.Kube | None = None,
) -> Deps:
    """Register the Lab handlers into ``registry``; returns the dependencies they share."""
    deps = Deps(cfg, helm, api)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, logger: logging.Logger, **_: Any) -> None:
        configure(settings)
        await asyncio.to_thread(deps.api)
        await asyncio.to_thread(deps.helm)  # pyhelm3 runs `helm version` here, once
        logger.info("slolab operator: labs from %s, helm %s", paths.root(), cfg.helm)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return deps.api().connection_info(default_namespace=cfg.operator_namespace)

    @kopf.on.resume(*LAB, registry=registry, id="reconcile")
    @kopf.on.create(*LAB, registry=registry, id="reconcile")
    @kopf.on.update(*LAB, registry=registry, id="reconcile")
    async def reconcile(
        name: str,
        spec: Any,
        status: Any,
        patch: kopf.Patch,
        meta: Any,
        old: Any,
        logger: logging.Logger,
        **_: Any,
    ) -> None:
        was = ((old or {}).get("spec") or {}).get("lab")
        await _reconcile(deps, name, spec, status, patch, meta.get("generation"), logger, was=was)

    @kopf.on.resume(*LAB, registry=registry, id="grade")
    @kopf.on.create(*LAB, registry=registry, id="grade")
    @kopf.on.update(*LAB, registry=registry, id="grade")
    async def grade(
        name: str, spec: Any, status: Any, patch: kopf.Patch, meta: Any, logger: logging.Logger, **_: Any
    ) -> None:
        await _grade(deps, name, spec, status, patch, meta.get("generation"), logger)

    @kopf.on.delete(*LAB, registry=registry, id="cleanup")
    async def cleanup(name: str, logger: logging.Logger, **_: Any) -> None:
        await _cleanup(deps, name, logger)

    @kopf.timer(
        *LAB,
        registry=registry,
        id="chaos",
        interval=cfg.chaos_interval_s,
        when=lambda spec, **_: bool((spec or {}).get("gameDay")),
    )
    async def chaos(
        name: str, spec: Any, status: Any, patch: kopf.Patch, logger: logging.Logger, **_: Any
    ) -> None:
        await _chaos(deps, name, spec, status, patch, logger)

    return deps


# -- errors ------------------------------------------------------------------------------------


def _retry(
    exc: kube.KubeError | releases.ReleaseError, delay: float
) -> kopf.TemporaryError | kopf.PermanentError:
    if exc.transient:
        return kopf.TemporaryError(f"{exc}; retrying in {delay:g} s", delay=delay)
    return kopf.PermanentError(str(exc))


def _short(exc: Exception, limit: int = 600) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- reconcile -----------------------------------------------------------------------------------


async def _ensure_namespace(api: kube.Kube, name: str, namespace: str, labels: Mapping[str, str]) -> None:
    existing = await api.read_namespace(namespace)
    if existing is None:
        try:
            await api.create_namespace(namespace, labels)
        except kube.KubeError as exc:
            if exc.status != 409:
                raise
            existing = await api.read_namespace(namespace)
    if existing is None:
        return
    metadata = existing.get("metadata") or {}
    if (metadata.get("labels") or {}).get(LAB_LABEL) != name:
        raise spec.SpecError(
            "NamespaceConflict",
            f"namespace {namespace} already exists and was not created for Lab {name} (its label "
            f"{LAB_LABEL} is not {name!r}); the operator leaves it alone. Delete it "
            f"(kubectl delete namespace {namespace}) or create the Lab under another name.",
        )
    if metadata.get("deletionTimestamp"):
        raise kopf.TemporaryError(f"namespace {namespace} is still terminating", delay=5)


async def _rbac(deps: Deps, run: spec.LabRun, labels: Mapping[str, str]) -> None:
    cfg, api, ns = deps.config, deps.api(), run.namespace
    await api.ensure_service_account(ns, cfg.grader_service_account, labels)
    await api.ensure_role_binding(
        ns,
        OPERATOR_BINDING,
        cfg.lab_cluster_role,
        {"name": cfg.operator_service_account, "namespace": cfg.operator_namespace},
        labels,
    )
    await api.ensure_role_binding(
        ns,
        GRADER_BINDING,
        cfg.grader_cluster_role,
        {"name": cfg.grader_service_account, "namespace": ns},
        labels,
    )


def _json_values(values: Mapping[str, Any]) -> Any:
    return json.loads(json.dumps(values, default=str))


async def _install(
    deps: Deps, run: spec.LabRun, current: releases.Revision | None, logger: logging.Logger
) -> releases.Revision:
    """The release for ``run``'s reset generation: adopted when already there, else (re-)installed."""
    helm, ns, marker = deps.helm(), run.namespace, run.marker()
    if current is not None and not (current.deployed and current.description == marker):
        why = (
            f"left {current.status} by a helm that did not finish"
            if current.status in releases.STUCK or current.status == "failed"
            else f"revision {current.revision} is not the starting state of reset {run.reset_generation}"
        )
        logger.info("uninstalling release %s in %s: %s", spec.RELEASE, ns, why)
        await helm.uninstall(ns, spec.RELEASE)
        current = None
    if current is None:
        current = await helm.install(ns, spec.RELEASE, run.chart_dir, run.values(), marker)
        logger.info("installed release %s revision %d in %s (%s)", spec.RELEASE, current.revision, ns, marker)
    else:
        logger.info("adopted release %s revision %d in %s (%s)", spec.RELEASE, current.revision, ns, marker)
    return current


async def _ensure_release(
    deps: Deps,
    run: spec.LabRun,
    status: Any,
    patch: kopf.Patch,
    cond: conditions.Conditions,
    logger: logging.Logger,
) -> releases.Revision:
    """The lab's release: installed (or adopted) once per reset generation, then left to the learner.

    Sets FaultInjected after checking the installed revision's values; ReleaseError on helm failures.
    """
    helm, namespace, name = deps.helm(), run.namespace, run.name
    installed_for_this_reset = status.get("observedResetGeneration") == run.reset_generation and bool(
        status.get("release")
    )
    current = await helm.current(namespace, spec.RELEASE)
    if installed_for_this_reset:
        if current is None:
            message = (
                f"Helm release {spec.RELEASE} is gone from namespace {namespace}. Re-install the lab's "
                f"starting state: {spec.patch_hint(name, 'resetGeneration', run.reset_generation + 1)}"
            )
            cond.set(INSTALLED, "False", "ReleaseMissing", message)
            cond.set(FAULT_INJECTED, "False", "ReleaseMissing", message)
            cond.set(READY, "False", "ReleaseMissing", message)
            raise kopf.PermanentError(message)
        revision = current
    else:
        if cond.get(FAULT_INJECTED) is not None and status.get("observedResetGeneration") is not None:
            cond.set(
                FAULT_INJECTED,
                "False",
                "Resetting",
                f"Re-installing the starting state (reset generation {run.reset_generation}).",
            )
        revision = await _install(deps, run, current, logger)
        wanted = _json_values(run.values())
        got = await helm.values(namespace, spec.RELEASE, revision.revision)
        if got != wanted:
            message = (
                f"release {spec.RELEASE} revision {revision.revision} does not hold the values of "
                f"{run.values_source}; raise spec.resetGeneration to install it again: "
                f"{spec.patch_hint(name, 'resetGeneration', run.reset_generation + 1)}"
            )
            cond.set(FAULT_INJECTED, "False", "FaultMismatch", message)
            cond.set(READY, "False", "FaultMismatch", message)
            raise kopf.PermanentError(message)
        now = conditions.timestamp(conditions.now())
        patch.status["observedResetGeneration"] = run.reset_generation
        patch.status["release"] = {
            "name": spec.RELEASE,
            # The marker holds the chart's version, so an adopted revision has this chart.
            "chart": revision.chart or run.chart_version(),
            "revision": revision.revision,
            "installedAt": now,
        }
        cond.set(
            FAULT_INJECTED,
            "True",
            "FaultInjected",
            f"Starting state of lab {run.lab.name} (reset generation {run.reset_generation}): "
            f"{run.lab.fault.summary.strip()}",
        )
    return revision


async def _reconcile(
    deps: Deps,
    name: str,
    spec_: Any,
    status: Any,
    patch: kopf.Patch,
    generation: int | None,
    logger: logging.Logger,
    *,
    was: str | None = None,
) -> None:
    cfg = deps.config
    cond = conditions.Conditions(status, patch, generation)
    namespace = namespace_for(name)
    if status.get("namespace") != namespace:
        patch.status["namespace"] = namespace
    try:
        if was is not None and was != (spec_ or {}).get("lab"):
            # The CRD forbids this (a CEL transition rule); an API server without it does not.
            raise spec.SpecError(
                "InvalidSpec",
                f"spec.lab cannot change (it was {was!r}); set it back, or delete this Lab and create "
                f"another for the new lab.",
            )
        run = spec.parse(name, spec_, deps.config.lab_overlay())
    except spec.SpecError as exc:
        cond.set(READY, "False", exc.reason, exc.message)
        raise kopf.PermanentError(str(exc)) from None

    labels = {LAB_LABEL: name, **MANAGED_BY}
    try:
        await _ensure_namespace(deps.api(), name, namespace, labels)
        await _rbac(deps, run, labels)
    except spec.SpecError as exc:
        cond.set(READY, "False", exc.reason, exc.message)
        raise kopf.PermanentError(str(exc)) from None
    except kube.KubeError as exc:
        cond.set(
            INSTALLED,
            "False",
            "NamespaceNotReady",
            f"{_short(exc)}. The operator retries in {cfg.retry_s:g} s.",
        )
        cond.set(READY, "False", "NamespaceNotReady", f"Setting up namespace {namespace}: {_short(exc)}")
        raise _retry(exc, cfg.retry_s) from None

    try:
        revision = await _ensure_release(deps, run, status, patch, cond, logger)
    except releases.ReleaseError as exc:
        reason = "Installing" if exc.transient else "InstallFailed"
        cond.set(INSTALLED, "False", reason, _short(exc))
        cond.set(
            READY, "False", reason, f"Installing lab {run.lab.name} in {namespace} failed: {_short(exc)}"
        )
        raise _retry(exc, cfg.retry_s) from None

    chart = revision.chart or (status.get("release") or {}).get("chart") or run.chart
    cond.set(
        INSTALLED,
        "True",
        "Deployed" if revision.deployed else "ReleasePresent",
        f"Helm release {spec.RELEASE} ({chart}) revision {revision.revision} is {revision.status} in "
        f"namespace {namespace}. History: helm -n {namespace} history {spec.RELEASE}",
    )
    started = conditions.parse_time(status["startedAt"]) if status.get("startedAt") else conditions.now()
    deadline = started + datetime.timedelta(minutes=run.time_limit_minutes)
    fields = {
        "startedAt": conditions.timestamp(started),
        "deadline": conditions.timestamp(deadline),
        "briefing": briefing.text(run, deadline),
    }
    for key, value in fields.items():
        if status.get(key) != value:
            patch.status[key] = value
    cond.set(
        READY,
        "True",
        "LabReady",
        f"Lab {run.lab.name} is ready in namespace {namespace} until {fields['deadline']}. "
        f"Next: kubectl -n {namespace} get pods; when fixed, grade: "
        f"{spec.patch_hint(name, 'gradeRequest', run.grade_request + 1)}",
    )


# -- grade ---------------------------------------------------------------------------------------


async def _grade(
    deps: Deps,
    name: str,
    spec_: Any,
    status: Any,
    patch: kopf.Patch,
    generation: int | None,
    logger: logging.Logger,
) -> None:
    cfg = deps.config
    try:
        run = spec.parse(name, spec_, deps.config.lab_overlay())
    except spec.SpecError:
        return  # reconcile reports it
    request = run.grade_request
    if request <= int(status.get("observedGradeRequest") or 0):
        return
    cond = conditions.Conditions(status, patch, generation)
    ready = cond.get(READY)
    if ready is None:
        raise kopf.TemporaryError(
            f"grade request {request} waits for the lab to be installed", delay=cfg.grade_poll_s
        )
    if ready.get("status") != "True":
        cond.set(
            GRADED,
            "False",
            "LabNotReady",
            f"Grade request {request} needs a ready lab: {ready.get('reason')}: {ready.get('message')} "
            f"Once the lab is Ready, ask again: {spec.patch_hint(name, 'gradeRequest', request + 1)}",
        )
        raise kopf.PermanentError(f"grade request {request}: the lab is not ready ({ready.get('reason')})")

    ns, job = run.namespace, grading.job_name(request)
    api = deps.api()
    follow = f"kubectl -n {ns} logs -f job/{job}"
    try:
        existing = await api.read_job(ns, job)
        if existing is None:
            await api.create_job(ns, grading.job_manifest(run, request, cfg))
            logger.info("started grading Job %s/%s for grade request %d", ns, job, request)
            patch.status["grading"] = {
                "job": job,
                "request": request,
                "startedAt": conditions.timestamp(conditions.now()),
            }
            cond.set(
                GRADED,
                "Unknown",
                "Grading",
                f"Job {ns}/{job} runs `slolab grade {run.lab.name}`. Follow it: {follow}",
            )
            raise kopf.TemporaryError(f"grading Job {job} started", delay=cfg.grade_poll_s)
        state = grading.job_state(existing)
        if state == "running":
            cond.set(
                GRADED,
                "Unknown",
                "Grading",
                f"Job {ns}/{job} runs `slolab grade {run.lab.name}`. Follow it: {follow}",
            )
            raise kopf.TemporaryError(f"grading Job {job} is still running", delay=cfg.grade_poll_s)
        pods = await api.list_pods(ns, {LAB_LABEL: name, grading.REQUEST_LABEL: str(request)})
    except kube.KubeError as exc:
        raise _retry(exc, cfg.retry_s) from None

    again = spec.patch_hint(name, "gradeRequest", request + 1)
    patch.status["observedGradeRequest"] = request
    patch.status["grading"] = None
    messages = [
        m for m in (grading.termination_message(p) for p in grading.job_pods(pods, job)) if m is not None
    ]
    try:
        if not messages:
            raise grading.GradeError("its pod is gone or never terminated")
        result = grading.parse_grade(messages[0], run.lab.name, job=job, request=request)
    except grading.GradeError as exc:
        why = _job_failure(existing) if state == "failed" else ""
        cond.set(
            GRADED,
            "False",
            "GraderFailed",
            f"Job {ns}/{job} {state}{why}, and {exc}. "
            f"See kubectl -n {ns} logs job/{job}; then grade again: {again}",
        )
        logger.warning("grade request %d of %s: %s", request, name, exc)
        return
    patch.status["grade"] = result
    failed = [c["id"] for c in result["checks"] if c["status"] != "passed"]
    detail = f"; not passed: {', '.join(failed)}" if failed else ""
    cond.set(
        GRADED,
        "True",
        "Graded",
        f"{result['passed']}/{result['total']} checks passed (grade request {request}){detail}. "
        f"Report: kubectl -n {ns} logs job/{job}. Grade again: {again}",
    )


def _job_failure(job: Mapping[str, Any]) -> str:
    for condition in (job.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return f" ({condition.get('reason')}: {condition.get('message')})"
    return ""


# -- cleanup -------------------------------------------------------------------------------------


async def _cleanup(deps: Deps, name: str, logger: logging.Logger) -> None:
    cfg, api, namespace = deps.config, deps.api(), namespace_for(name)
    try:
        existing = await api.read_namespace(namespace)
        if existing is None:
            return
        metadata = existing.get("metadata") or {}
        if (metadata.get("labels") or {}).get(LAB_LABEL) != name:
            logger.warning("namespace %s was not created for Lab %s; leaving it alone", namespace, name)
            return
        if not metadata.get("deletionTimestamp"):
            await deps.helm().uninstall(namespace, spec.RELEASE)
            await api.delete_namespace(namespace)
            logger.info("uninstalled release %s and deleted namespace %s", spec.RELEASE, namespace)
        if await api.read_namespace(namespace) is not None:
            raise kopf.TemporaryError(f"waiting for namespace {namespace} to be deleted", delay=5)
    except (kube.KubeError, releases.ReleaseError) as exc:
        raise _retry(exc, cfg.retry_s) from None


# -- game day ------------------------------------------------------------------------------------


async def _chaos(
    deps: Deps, name: str, spec_: Any, status: Any, patch: kopf.Patch, logger: logging.Logger
) -> None:
    try:
        run = spec.parse(name, spec_, deps.config.lab_overlay())
    except spec.SpecError:
        return
    steps = run.scenario.chaos
    if not steps or not conditions.is_true(status.get("conditions"), READY) or not status.get("startedAt"):
        return
    started = conditions.parse_time(status["startedAt"])
    deadline = started + datetime.timedelta(minutes=run.time_limit_minutes)
    now = conditions.now()
    todo = gameday.due(
        steps,
        (now - started).total_seconds(),
        (deadline - started).total_seconds(),
        (status.get("gameDay") or {}).get("done"),
    )
    if not todo:
        return
    api, state = deps.api(), status.get("gameDay")
    try:
        for injection in todo:
            step = steps[injection.step]
            pods = await api.list_pods(run.namespace, step.selector)
            targets = gameday.pick(pods, step.count, run.seed, injection.step, injection.occurrence)
            killed = [t for t in targets if await api.delete_pod(run.namespace, t)]
            selector = ",".join(f"{k}={v}" for k, v in step.selector.items())
            message = (
                f"{step.action} {', '.join(killed)}"
                if killed
                else f"{step.action}: no running pod matches {selector}"
            )
            logger.info(
                "game day %s: step %d occurrence %d: %s", name, injection.step, injection.occurrence, message
            )
            event = {
                "step": injection.step,
                "action": step.action,
                "at": conditions.timestamp(now),
                "targets": killed,
                "message": message,
            }
            state = gameday.record(state, injection, event)
    except kube.KubeError as exc:
        raise _retry(exc, deps.config.retry_s) from None
    finally:
        if state is not None and state != status.get("gameDay"):
            patch.status["gameDay"] = state
