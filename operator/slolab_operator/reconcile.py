"""Reconcile a Lab (create, update, resume): its namespace, RBAC, Helm release and status.

A Lab ``<name>`` gets namespace ``lab-<name>`` (never one the operator did not create), the
grader's ServiceAccount and two RoleBindings there, and one Helm release ``llm`` holding the
scenario and the fault (its plain manifests included, as the chart's ``extraObjects``: spec.py
``LabRun.values``); raising ``spec.resetGeneration`` re-installs it. On kind
(``Config.kind_manifests``), a scenario's kind-only objects (``topology.kind_manifests``,
kindmanifests.py) are applied just before each install of that release. Conditions Installed,
FaultInjected and Ready, the briefing, ``startedAt`` and ``deadline`` report the result. The
release is read back (``helm get values``) before FaultInjected is set, and an existing
revision of this reset generation is adopted, so a restarted operator converges.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from slolab_operator import (
    LAB_LABEL,
    MANAGED_BY,
    briefing,
    conditions,
    kindmanifests,
    kube,
    namespace_for,
    releases,
    spec,
)
from slolab_operator import deps as deps_mod
from slolab_operator.conditions import FAULT_INJECTED, INSTALLED, READY

OPERATOR_BINDING = "slolab-operator"
GRADER_BINDING = "slolab-grader"


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


async def _rbac(deps: deps_mod.Deps, run: spec.LabRun, labels: Mapping[str, str]) -> None:
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
    deps: deps_mod.Deps, run: spec.LabRun, current: releases.Revision | None, logger: logging.Logger
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
        if deps.config.kind_manifests:
            await kindmanifests.apply(deps.api(), run, logger)
        current = await helm.install(ns, spec.RELEASE, run.chart_dir, run.values(), marker)
        logger.info("installed release %s revision %d in %s (%s)", spec.RELEASE, current.revision, ns, marker)
    else:
        logger.info("adopted release %s revision %d in %s (%s)", spec.RELEASE, current.revision, ns, marker)
    return current


async def _ensure_release(
    deps: deps_mod.Deps,
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


async def reconcile(
    deps: deps_mod.Deps,
    name: str,
    spec_: Any,
    status: Any,
    patch: kopf.Patch,
    generation: int | None,
    logger: logging.Logger,
    *,
    was: str | None = None,
) -> None:
    """Bring Lab ``name`` to its spec; ``was`` is the lab it ran before an update (None: unknown)."""
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
            f"{deps_mod.short(exc)}. The operator retries in {cfg.retry_s:g} s.",
        )
        cond.set(
            READY, "False", "NamespaceNotReady", f"Setting up namespace {namespace}: {deps_mod.short(exc)}"
        )
        raise deps_mod.retry(exc, cfg.retry_s) from None

    try:
        revision = await _ensure_release(deps, run, status, patch, cond, logger)
    except (releases.ReleaseError, kube.KubeError) as exc:  # KubeError: a kind-only object
        reason = "Installing" if exc.transient else "InstallFailed"
        cond.set(INSTALLED, "False", reason, deps_mod.short(exc))
        failure = f"Installing lab {run.lab.name} in {namespace} failed: {deps_mod.short(exc)}"
        cond.set(READY, "False", reason, failure)
        raise deps_mod.retry(exc, cfg.retry_s) from None

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
