"""The kopf handlers of the Lab resource (kopf 1.45, https://kopf.readthedocs.io/): what runs when.

:func:`register` puts them into a registry together with what they call (:class:`deps.Deps`:
config, Helm releases, API client), so tests can load a fresh registry per operator run. The
work of each lifecycle is in its own module:

- :mod:`~slolab_operator.reconcile` (create, update, resume, id ``reconcile``): namespace and
  RBAC, the Helm release, conditions Installed/FaultInjected/Ready, briefing, startedAt,
  deadline; a bumped reset generation re-installs the release;
- :mod:`~slolab_operator.grade` (create, update, resume, id ``grade``): one grading Job per
  ``spec.gradeRequest``, polled with ``kopf.TemporaryError`` until it finishes, then
  ``status.grade`` and condition Graded;
- :mod:`~slolab_operator.cleanup` (delete, through the finalizer, id ``cleanup``): uninstall,
  delete the namespace, wait for it;
- :mod:`~slolab_operator.chaos` (timer, only when ``spec.gameDay``, id ``chaos``): the
  game day: Chaos Mesh objects in the lab namespace, drain and node loss by the timer.

No handler sleeps: waiting is ``TemporaryError(delay=…)``, so kopf keeps the progress in the
Lab's annotations (keyed by the ids above, which must not change) and a restarted operator
picks up where the old one stopped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from slolab import paths
from slolab_operator import (
    FINALIZER,
    GROUP,
    KOPF_PREFIX,
    PLURAL,
    VERSION,
    chaos,
    cleanup,
    grade,
    kube,
    reconcile,
    releases,
)
from slolab_operator import config as config_mod
from slolab_operator import deps as deps_mod

LAB = (GROUP, VERSION, PLURAL)


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
) -> deps_mod.Deps:
    """Register the Lab handlers into ``registry``; returns the dependencies they share."""
    deps = deps_mod.Deps(cfg, helm, api)

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
    async def on_reconcile(
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
        await reconcile.reconcile(deps, name, spec, status, patch, meta.get("generation"), logger, was=was)

    @kopf.on.resume(*LAB, registry=registry, id="grade")
    @kopf.on.create(*LAB, registry=registry, id="grade")
    @kopf.on.update(*LAB, registry=registry, id="grade")
    async def on_grade(
        name: str, spec: Any, status: Any, patch: kopf.Patch, meta: Any, logger: logging.Logger, **_: Any
    ) -> None:
        await grade.grade(deps, name, spec, status, patch, meta.get("generation"), logger)

    @kopf.on.delete(*LAB, registry=registry, id="cleanup")
    async def on_delete(name: str, spec: Any, logger: logging.Logger, **_: Any) -> None:
        await cleanup.clean_up(deps, name, logger, spec)

    @kopf.timer(
        *LAB,
        registry=registry,
        id="chaos",
        interval=cfg.chaos_interval_s,
        when=lambda spec, status, **_: chaos.active(spec, status),
    )
    async def on_timer(
        name: str, spec: Any, status: Any, patch: kopf.Patch, logger: logging.Logger, **_: Any
    ) -> None:
        await chaos.inject(deps, name, spec, status, patch, logger)

    return deps
